//! Pacing at a terminal: one dim line ("Enter: next demo · q: stop") and one key. Only called when
//! [`crate::settings::Settings::pause`] is set (a terminal, no `--json`, no `--no-pause`).

use std::io::Write;

use anyhow::Result;
use console::{Key, Term};

use crate::render::Styles;

/// What the learner pressed at a pause.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Choice {
    /// Enter (or space): go on.
    Go,
    /// `q`: stop here (Esc does nothing: it is too easy to hit by accident).
    Stop,
    /// Ctrl-C.
    Interrupt,
}

/// Show `prompt` (one line, cut to the terminal's width), wait for a key, then erase the line.
pub fn wait(prompt: &str, styles: Styles, out: &mut impl Write) -> Result<Choice> {
    let term = Term::stdout();
    let width = usize::from(term.size().1).saturating_sub(1).max(10);
    let line = console::truncate_str(prompt, width, "…");
    write!(out, "{}", styles.dim(&line))?;
    out.flush()?;
    let choice = loop {
        match term.read_key_raw() {
            Ok(Key::Enter | Key::Char(' ')) => break Choice::Go,
            Ok(Key::Char('q' | 'Q')) => break Choice::Stop,
            Ok(Key::CtrlC) => break Choice::Interrupt,
            Ok(_) => {}
            // The terminal went away (closed, hung up): do not wait for it.
            Err(_) => break Choice::Go,
        }
    };
    write!(out, "\r\x1b[2K")?;
    out.flush()?;
    Ok(choice)
}
