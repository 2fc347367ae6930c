//! Facts, not words: what a demo says to the learner is either a message of its lesson file (a key,
//! filled with typed facts when the lesson is shown) or plain text that needs no translation (a
//! command line, a key name, a number). The sentences themselves live in the lesson files
//! (`[text.<lang>.messages]`, see `lessons/README.md`), so an instructor can reword them, and
//! JSON/CSV key on ids, never on translated words.
//!
//! Message keys are scoped to their demo: `Text::msg("title")` in demo `round-trip` is looked up as
//! `round-trip.title`.

use std::fmt;
use std::time::Duration;

use serde::{Serialize, Serializer};

use crate::measure::{format_count, format_duration, format_ratio};

/// A typed value a message can show. Each kind has one formatter, the same in every language.
#[derive(Debug, Clone, PartialEq)]
pub enum Fact {
    /// `1,234`.
    Count(u64),
    /// `-5`, `42`.
    Int(i64),
    /// Three significant figures: `0.123`, `12.3`, `123`.
    Number(f64),
    /// A fraction shown as a percentage: 0.981 → `98.1%`.
    Percent(f64),
    /// `48.2 µs`, `1.25 ms`.
    Duration(Duration),
    /// `4.20×`.
    Ratio(f64),
    /// `512 B`, `1.50 KiB`, `3.25 MiB`.
    Bytes(u64),
    /// Shown as it is: a key, a command, a policy name.
    Text(String),
}

impl Fact {
    /// The value as the learner reads it.
    pub fn format(&self) -> String {
        match self {
            Fact::Count(n) => format_count(*n),
            Fact::Int(n) if *n < 0 => format!("-{}", format_count(n.unsigned_abs())),
            Fact::Int(n) => format_count(*n as u64),
            Fact::Number(v) => three_figures(*v),
            Fact::Percent(v) => format!("{:.1}%", v * 100.0),
            Fact::Duration(d) => format_duration(*d),
            Fact::Ratio(r) => format_ratio(*r),
            Fact::Bytes(n) => bytes(*n),
            Fact::Text(s) => s.clone(),
        }
    }

    /// Is this the number one (for `{n|one|other}` plural choices)?
    pub fn is_one(&self) -> bool {
        match self {
            Fact::Count(n) | Fact::Bytes(n) => *n == 1,
            Fact::Int(n) => *n == 1,
            Fact::Number(v) => *v == 1.0,
            _ => false,
        }
    }
}

fn three_figures(v: f64) -> String {
    let a = v.abs();
    if a >= 100.0 {
        format!("{v:.0}")
    } else if a >= 10.0 {
        format!("{v:.1}")
    } else {
        format!("{v:.2}")
    }
}

fn bytes(n: u64) -> String {
    let n = n as f64;
    if n < 1024.0 {
        format!("{n} B")
    } else if n < 1024.0 * 1024.0 {
        format!("{:.2} KiB", n / 1024.0)
    } else {
        format!("{:.2} MiB", n / (1024.0 * 1024.0))
    }
}

impl From<u64> for Fact {
    fn from(n: u64) -> Fact {
        Fact::Count(n)
    }
}

impl From<usize> for Fact {
    fn from(n: usize) -> Fact {
        Fact::Count(n as u64)
    }
}

impl From<u32> for Fact {
    fn from(n: u32) -> Fact {
        Fact::Count(u64::from(n))
    }
}

impl From<i64> for Fact {
    fn from(n: i64) -> Fact {
        Fact::Int(n)
    }
}

impl From<Duration> for Fact {
    fn from(d: Duration) -> Fact {
        Fact::Duration(d)
    }
}

impl From<&str> for Fact {
    fn from(s: &str) -> Fact {
        Fact::Text(s.to_string())
    }
}

impl From<&String> for Fact {
    fn from(s: &String) -> Fact {
        Fact::Text(s.clone())
    }
}

impl From<String> for Fact {
    fn from(s: String) -> Fact {
        Fact::Text(s)
    }
}

/// Named facts, in the order they were given.
pub type Facts = Vec<(String, Fact)>;

/// Words for the learner: a message of the lesson file, or plain text.
#[derive(Debug, Clone, PartialEq)]
pub enum Text {
    /// Needs no translation (a command line, a key, a figure), or already filled in.
    Plain(String),
    /// The message `<demo>.<key>` of the lesson file, to be filled with `facts`.
    Message { key: String, facts: Facts },
}

impl Text {
    /// The lesson file's message `<demo>.<key>`.
    pub fn msg(key: &str) -> Text {
        Text::Message { key: key.to_string(), facts: Vec::new() }
    }

    /// Add a fact for the message's `{name}` placeholder (plain text ignores it).
    pub fn fact(mut self, name: &str, value: impl Into<Fact>) -> Text {
        if let Text::Message { facts, .. } = &mut self {
            facts.push((name.to_string(), value.into()));
        }
        self
    }

    /// The text as it stands: plain text, or `{key}` for a message not filled in yet.
    pub fn as_str(&self) -> &str {
        match self {
            Text::Plain(s) => s,
            Text::Message { key, .. } => key,
        }
    }

    /// Fill a message with `lookup(key)` (the template in the learner's language); plain text
    /// stays. Errors name the key: a message the lesson file lacks, or a placeholder with no fact.
    pub fn resolve(&mut self, lookup: &dyn Fn(&str) -> Option<String>) -> Result<(), String> {
        if let Text::Message { key, facts } = self {
            let template = lookup(key).ok_or_else(|| format!("the lesson file has no message {key:?}"))?;
            let filled = crate::render::message::fill(&template, facts).map_err(|e| format!("message {key:?}: {e}"))?;
            *self = Text::Plain(filled);
        }
        Ok(())
    }
}

impl fmt::Display for Text {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl From<String> for Text {
    fn from(s: String) -> Text {
        Text::Plain(s)
    }
}

impl From<&str> for Text {
    fn from(s: &str) -> Text {
        Text::Plain(s.to_string())
    }
}

impl From<&String> for Text {
    fn from(s: &String) -> Text {
        Text::Plain(s.clone())
    }
}

impl Serialize for Text {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn facts_have_one_format_each() {
        assert_eq!(Fact::Count(1_234_567).format(), "1,234,567");
        assert_eq!(Fact::Int(-1_500).format(), "-1,500");
        assert_eq!(Fact::Percent(0.981).format(), "98.1%");
        assert_eq!(Fact::Duration(Duration::from_micros(48)).format(), "48.0 µs");
        assert_eq!(Fact::Ratio(4.2).format(), "4.20×");
        assert_eq!(Fact::Bytes(512).format(), "512 B");
        assert_eq!(Fact::Bytes(3 * 1024 * 1024 + 256 * 1024).format(), "3.25 MiB");
        assert_eq!(Fact::Number(0.1234).format(), "0.12");
    }

    #[test]
    fn messages_are_filled_from_the_lesson_file() {
        let mut text = Text::msg("hit-faster").fact("ratio", Fact::Ratio(58.1)).fact("n", 1_usize);
        let lookup =
            |key: &str| (key == "hit-faster").then(|| "A hit is {ratio} faster ({n} {n|run|runs})".to_string());
        text.resolve(&lookup).unwrap();
        assert_eq!(text, Text::Plain("A hit is 58.1× faster (1 run)".to_string()));
        let mut missing = Text::msg("nope");
        assert!(missing.resolve(&lookup).unwrap_err().contains("no message \"nope\""));
        let mut plain = Text::from("GET k");
        plain.resolve(&lookup).unwrap();
        assert_eq!(plain.as_str(), "GET k");
    }
}
