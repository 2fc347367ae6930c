//! The interactive quiz at a terminal: numbered options (digits 1–9 or the letters `--answers` uses
//! pick one, arrow keys move, Enter answers), a key line, the verdict and explanation after each
//! answer, wrapped at the terminal's width. The only place that reads keys for the quiz.
//!
//! The menu is redrawn in place: every line we draw is wrapped to fit the width, so the number of
//! lines to clear is exact (no stale lines on a narrow screen). The cursor is hidden while the menu
//! is up and shown again on every way out (answer, Ctrl-C, error, panic). Ctrl-C stops the quiz
//! with the answers so far kept (the caller saves them after each answer); Esc is ignored.

use std::io::Write;

use anyhow::Result;
use console::{Key, Term};

use super::{Attempt, QuizResult, letter};
use crate::error::UserError;
use crate::i18n::Lang;
use crate::render::Styles;
use crate::text::Text;

/// Ask the questions from `first` on (the earlier ones are in `given`), at the terminal; after each
/// answer, `keep` sees every answer so far (to save them). Ctrl-C: `UserError::QuizStopped`.
pub fn ask(
    attempt: &Attempt,
    lang: Lang,
    styles: Styles,
    given: &[usize],
    mut keep: impl FnMut(&[usize]),
    out: &mut impl Write,
) -> Result<QuizResult> {
    let term = Term::stdout();
    let mut chosen: Vec<usize> = given.to_vec();
    let total = attempt.questions.len();
    for (i, q) in attempt.questions.iter().enumerate().skip(chosen.len()) {
        let width = width(&term);
        writeln!(out)?;
        let number = format!("{}/{total} ", i + 1);
        for line in wrap(&q.question, width, &number, &" ".repeat(number.len())) {
            writeln!(out, "{}", styles.heading(&line))?;
        }
        let choice = {
            let _cursor = HiddenCursor::new(out)?;
            match menu(&term, &q.options, lang, styles, out)? {
                Some(choice) => choice,
                None => {
                    return Err(UserError::QuizStopped { lesson: attempt.lesson, answered: i, next: i + 1 }.into());
                }
            }
        };
        let picked = format!("{}) {}", letter(choice), q.options[choice]);
        if choice == q.correct {
            let head = format!("{} ", lang.word("quiz.right"));
            for (k, line) in wrap(&picked, width, &head, "    ").into_iter().enumerate() {
                let line = if k == 0 { line.replacen(&head, &styles.pass(&head).to_string(), 1) } else { line };
                writeln!(out, "  {line}")?;
            }
        } else {
            let head = format!("{} ", lang.word("quiz.wrong"));
            for (k, line) in wrap(&picked, width, &head, "    ").into_iter().enumerate() {
                let line = if k == 0 { line.replacen(&head, &styles.fail(&head).to_string(), 1) } else { line };
                writeln!(out, "  {line}")?;
            }
            let right = format!("{}) {}", letter(q.correct), q.options[q.correct]);
            let head = format!("{} ", lang.word("quiz.answer-is"));
            for line in wrap(&right, width, &head, "    ") {
                writeln!(out, "    {line}")?;
            }
        }
        for line in wrap(&q.explanation, width, "  ", "  ") {
            writeln!(out, "{}", styles.dim(&line))?;
        }
        out.flush()?;
        chosen.push(choice);
        keep(&chosen);
    }
    Ok(attempt.grade(&chosen))
}

/// The options and the key line, redrawn in place until Enter (`Some(index)`) or Ctrl-C (`None`).
fn menu(term: &Term, options: &[String], lang: Lang, styles: Styles, out: &mut impl Write) -> Result<Option<usize>> {
    let mut selected = 0;
    let mut drawn = 0;
    loop {
        let width = width(term);
        let lines = menu_lines(options, selected, width, lang, styles);
        clear(out, drawn)?;
        for line in &lines {
            writeln!(out, "{line}")?;
        }
        out.flush()?;
        drawn = lines.len();
        let key = term.read_key_raw().map_err(|_| UserError::NoTerminal)?;
        match key {
            Key::Enter => {
                clear(out, drawn)?;
                return Ok(Some(selected));
            }
            Key::CtrlC => {
                clear(out, drawn)?;
                return Ok(None);
            }
            Key::ArrowUp | Key::BackTab => selected = (selected + options.len() - 1) % options.len(),
            Key::ArrowDown | Key::Tab => selected = (selected + 1) % options.len(),
            Key::Home => selected = 0,
            Key::End => selected = options.len() - 1,
            Key::Char(c) => {
                if let Some(k) = pick(c, options.len()) {
                    selected = k;
                } else if c == 'k' {
                    selected = (selected + options.len() - 1) % options.len();
                } else if c == 'j' {
                    selected = (selected + 1) % options.len();
                }
            }
            // Esc (and anything else) does not quit: only Ctrl-C stops, and the key line says so.
            _ => {}
        }
    }
}

/// `2` or `b` → option index 1 (when there is such an option).
pub fn pick(c: char, options: usize) -> Option<usize> {
    let index = match c.to_ascii_lowercase() {
        d @ '1'..='9' => d as usize - '1' as usize,
        l @ 'a'..='i' => l as usize - 'a' as usize,
        _ => return None,
    };
    (index < options).then_some(index)
}

/// The menu as lines that each fit in `width` columns.
pub fn menu_lines(options: &[String], selected: usize, width: usize, lang: Lang, styles: Styles) -> Vec<String> {
    let mut lines = Vec::new();
    for (k, option) in options.iter().enumerate() {
        let marker = if k == selected { "❯" } else { " " };
        let first = format!("  {marker} {}) {}) ", k + 1, letter(k));
        let rest = " ".repeat(console::measure_text_width(&first));
        for line in wrap(option, width, &first, &rest) {
            lines.push(if k == selected { styles.code(&line).to_string() } else { line });
        }
    }
    let keys =
        lang.say(Text::msg("quiz.menu-keys").fact("n", options.len()).fact("l", letter(options.len() - 1).to_string()));
    for line in wrap(&keys, width, "  ", "  ") {
        lines.push(styles.dim(&line).to_string());
    }
    lines
}

/// Wrap at `width` with a first-line and a hanging indent; never mid-word, never inside a number.
fn wrap(text: &str, width: usize, first: &str, rest: &str) -> Vec<String> {
    crate::render::text::wrap(text, width.max(20), first, rest)
}

/// One column less than the terminal, so that no line ever reaches its last column (some terminals
/// wrap there, which would make the count of lines to clear wrong).
fn width(term: &Term) -> usize {
    let (_, cols) = term.size();
    usize::from(cols).saturating_sub(1).clamp(20, 110)
}

/// Move up over the last `n` lines and erase from there to the end of the screen.
fn clear(out: &mut impl Write, n: usize) -> Result<()> {
    if n > 0 {
        write!(out, "\x1b[{n}A\r\x1b[J")?;
    }
    Ok(())
}

/// The cursor is hidden while this lives, and shown again when it drops (on every way out).
struct HiddenCursor;

impl HiddenCursor {
    fn new(out: &mut impl Write) -> Result<HiddenCursor> {
        write!(out, "\x1b[?25l")?;
        out.flush()?;
        Ok(HiddenCursor)
    }
}

impl Drop for HiddenCursor {
    fn drop(&mut self) {
        // `out` is borrowed elsewhere by then: write to the terminal directly.
        let _ = Term::stdout().show_cursor();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digits_and_letters_pick_options_that_exist() {
        assert_eq!(pick('1', 4), Some(0));
        assert_eq!(pick('4', 4), Some(3));
        assert_eq!(pick('5', 4), None);
        assert_eq!(pick('b', 4), Some(1));
        assert_eq!(pick('D', 4), Some(3));
        assert_eq!(pick('e', 4), None);
        assert_eq!(pick('0', 4), None);
    }

    #[test]
    fn menu_lines_fit_a_narrow_screen_and_number_every_option() {
        let options = vec![
            "A rather long option that certainly will not fit on one line of a sixty column terminal".to_string(),
            "short".to_string(),
        ];
        let lines = menu_lines(&options, 0, 59, Lang::En, Styles { color: false });
        assert!(lines.iter().all(|l| console::measure_text_width(l) <= 59), "{lines:#?}");
        assert!(lines[0].starts_with("  ❯ 1) a) A rather"), "{lines:#?}");
        assert!(lines.iter().any(|l| l.starts_with("    2) b) short")), "{lines:#?}");
        assert!(lines.iter().any(|l| l.contains("Ctrl-C")), "{lines:#?}");
    }
}
