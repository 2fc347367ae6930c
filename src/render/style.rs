//! Styles by role. Color is decided once (in settings) and applied through `colored`'s override, so
//! every role below is plain text when color is off.

use colored::{ColoredString, Colorize};

/// The roles text can play on screen.
#[derive(Debug, Clone, Copy)]
pub struct Styles {
    pub color: bool,
}

impl Styles {
    pub fn new(color: bool) -> Styles {
        colored::control::set_override(color);
        Styles { color }
    }

    pub fn heading(&self, s: &str) -> ColoredString {
        s.bold()
    }
    pub fn redis(&self, s: &str) -> ColoredString {
        s.red()
    }
    pub fn sql(&self, s: &str) -> ColoredString {
        s.blue()
    }
    pub fn pass(&self, s: &str) -> ColoredString {
        s.green().bold()
    }
    pub fn fail(&self, s: &str) -> ColoredString {
        s.red().bold()
    }
    pub fn simulated(&self, s: &str) -> ColoredString {
        s.yellow()
    }
    pub fn dim(&self, s: &str) -> ColoredString {
        s.dimmed()
    }
    pub fn code(&self, s: &str) -> ColoredString {
        s.cyan()
    }
}
