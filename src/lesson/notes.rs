//! The study notes the course teaches (`lessons/notes.toml`): the Chinese original, verbatim, cut
//! into passages, each with an English rendering and the lessons it serves. Embedded in the binary;
//! `--lessons-dir DIR` reads `DIR/notes.toml` instead when there is one.

use std::path::Path;

use anyhow::{Context, Result};
use serde::Deserialize;

use crate::i18n::Lang;

/// The file name, in `lessons/` and in a `--lessons-dir`.
pub const FILE_NAME: &str = "notes.toml";
const EMBEDDED: &str = include_str!("../../lessons/notes.toml");

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Notes {
    pub format_version: u32,
    #[serde(rename = "passage")]
    pub passages: Vec<Passage>,
}

/// One passage of the notes.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Passage {
    /// The lesson numbers that teach it.
    pub lessons: Vec<u32>,
    /// Where it stands in the notes, as the notes head it (`Q2 · 通用作用`,
    /// `Q2 · 1) model/redismodel/token.go`).
    pub source: String,
    /// The same in English (`Q2 · General roles`), when `source` is Chinese.
    #[serde(default)]
    pub source_en: Option<String>,
    /// The original, verbatim.
    pub zh: String,
    /// An English rendering.
    pub en: String,
}

impl Passage {
    /// Where it stands in the notes, in `lang`: the notes' own heading in Chinese, its English
    /// rendering (when it has words to render) in English.
    pub fn source(&self, lang: Lang) -> &str {
        match (lang, &self.source_en) {
            (Lang::En, Some(en)) => en,
            _ => &self.source,
        }
    }

    /// The passage in `lang`: the rendering in English, the original in Chinese.
    pub fn text(&self, lang: Lang) -> &str {
        match lang {
            Lang::En => &self.en,
            Lang::Zh => &self.zh,
        }
    }
}

impl Notes {
    /// The built-in notes, or `DIR/notes.toml` when a lessons directory has one.
    pub fn load(dir: Option<&Path>) -> Result<Notes> {
        let from_dir = dir.map(|d| d.join(FILE_NAME)).filter(|p| p.exists());
        let (name, text) = match &from_dir {
            Some(path) => (
                path.display().to_string(),
                std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?,
            ),
            None => (FILE_NAME.to_string(), EMBEDDED.to_string()),
        };
        toml::from_str(&text).map_err(|e| {
            crate::error::UserError::BadLessonFile { path: name, reason: e.to_string().trim_end().replace('\n', " ") }
                .into()
        })
    }

    /// The passages lesson `number` teaches, in the notes' order.
    pub fn for_lesson(&self, number: u32) -> Vec<&Passage> {
        self.passages.iter().filter(|p| p.lessons.contains(&number)).collect()
    }

    /// Problems: a lesson with no passage, a passage for no known lesson, an empty text.
    pub fn problems(&self, lesson_numbers: &[u32]) -> Vec<String> {
        let mut problems = Vec::new();
        for n in lesson_numbers {
            if self.for_lesson(*n).is_empty() {
                problems.push(format!("{FILE_NAME}: lesson {n} has no passage of the notes"));
            }
        }
        for (i, p) in self.passages.iter().enumerate() {
            if p.lessons.is_empty() || p.lessons.iter().any(|n| !lesson_numbers.contains(n)) {
                problems.push(format!("{FILE_NAME}: passage {} names lessons {:?}", i + 1, p.lessons));
            }
            let is_cjk = |c: char| ('\u{4e00}'..='\u{9fff}').contains(&c);
            if p.source(Lang::En).chars().any(is_cjk) {
                problems.push(format!("{FILE_NAME}: passage {} needs a source_en in English", i + 1));
            }
            if p.zh.trim().is_empty() || p.en.trim().is_empty() {
                problems.push(format!("{FILE_NAME}: passage {} needs both zh and en", i + 1));
            }
        }
        problems
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_lesson_has_its_passage_of_the_notes() {
        let notes = Notes::load(None).unwrap();
        let lessons: Vec<u32> = (1..=11).collect();
        assert_eq!(notes.problems(&lessons), Vec::<String>::new());
        assert!(notes.for_lesson(2)[1].zh.contains("token.go"));
        assert!(notes.for_lesson(4).iter().any(|p| p.en.contains("SETNX + EXPIRE")));
        assert_eq!(notes.passages[0].source(Lang::En), "Learning goal · Q1");
        assert_eq!(notes.passages[1].source(Lang::Zh), "Q2 · 通用作用");
        assert_eq!(notes.passages[2].source(Lang::En), notes.passages[2].source(Lang::Zh));
    }
}
