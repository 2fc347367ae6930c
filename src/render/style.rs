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
        if self.color { s.bold() } else { s.normal() }
    }
    pub fn redis(&self, s: &str) -> ColoredString {
        if self.color { s.red() } else { s.normal() }
    }
    pub fn sql(&self, s: &str) -> ColoredString {
        if self.color { s.blue() } else { s.normal() }
    }
    pub fn pass(&self, s: &str) -> ColoredString {
        if self.color { s.green().bold() } else { s.normal() }
    }
    pub fn fail(&self, s: &str) -> ColoredString {
        if self.color { s.red().bold() } else { s.normal() }
    }
    /// A claim this run could not decide, a noisy run.
    pub fn uncertain(&self, s: &str) -> ColoredString {
        if self.color { s.yellow().bold() } else { s.normal() }
    }
    pub fn simulated(&self, s: &str) -> ColoredString {
        if self.color { s.yellow() } else { s.normal() }
    }
    pub fn dim(&self, s: &str) -> ColoredString {
        if self.color { s.dimmed() } else { s.normal() }
    }
    pub fn code(&self, s: &str) -> ColoredString {
        if self.color { s.cyan() } else { s.normal() }
    }
}
