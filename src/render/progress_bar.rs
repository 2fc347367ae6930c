//! Where progress bars and spinners draw: stderr, leaving the last columns free, and gone from the
//! screen however the run ends.
//!
//! indicatif pads a bar's line to the terminal's width, so the cursor waits at the right edge. When
//! Ctrl-C is pressed the terminal echoes `^C` there, which wraps to a new line, and clearing the
//! bar then clears that new line and leaves the bar's line on screen above the error. Drawing two
//! columns narrower leaves room for the echo, so clearing the bar wipes both. A bar that is on
//! screen when the signal watchdog ends the process (a frozen server) is cleared by the watchdog
//! before it prints its line (`crate::interrupt::progress_on_screen`).

use std::io;

use console::Term;
use indicatif::{ProgressBar, ProgressDrawTarget, TermLike};

/// Columns left free at the right of a bar: room for the `^C` a terminal echoes.
const ECHO_ROOM: u16 = 2;

/// The draw target for a bar or spinner: stderr, `ECHO_ROOM` columns narrower than the terminal
/// (nowhere when stderr is not a terminal).
pub fn stderr() -> ProgressDrawTarget {
    let term = Term::stderr();
    if !term.is_term() {
        return ProgressDrawTarget::hidden();
    }
    ProgressDrawTarget::term_like_with_hz(Box::new(Narrower(term)), 20)
}

/// `bar` is drawn now (`None`: no bar is): the signal watchdog clears it before it speaks.
pub fn on_screen(bar: Option<&ProgressBar>) {
    crate::interrupt::progress_on_screen(bar.cloned());
}

/// A terminal that says it is a little narrower than it is.
#[derive(Debug)]
struct Narrower(Term);

impl TermLike for Narrower {
    fn width(&self) -> u16 {
        self.0.size().1.saturating_sub(ECHO_ROOM).max(1)
    }

    fn height(&self) -> u16 {
        self.0.size().0
    }

    fn move_cursor_up(&self, n: usize) -> io::Result<()> {
        self.0.move_cursor_up(n)
    }

    fn move_cursor_down(&self, n: usize) -> io::Result<()> {
        self.0.move_cursor_down(n)
    }

    fn move_cursor_right(&self, n: usize) -> io::Result<()> {
        self.0.move_cursor_right(n)
    }

    fn move_cursor_left(&self, n: usize) -> io::Result<()> {
        self.0.move_cursor_left(n)
    }

    fn write_line(&self, s: &str) -> io::Result<()> {
        self.0.write_line(s)
    }

    fn write_str(&self, s: &str) -> io::Result<()> {
        self.0.write_str(s)
    }

    fn clear_line(&self) -> io::Result<()> {
        self.0.clear_line()
    }

    fn flush(&self) -> io::Result<()> {
        self.0.flush()
    }
}
