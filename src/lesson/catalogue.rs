//! The lesson catalogue: the built-in lessons (embedded at compile time, so `cargo install` works),
//! or the `*.toml` files of a directory an author points at with `--lessons-dir`.

use std::fs;
use std::path::Path;

use anyhow::{Context, Result};

use super::model::Lesson;
use super::validate::validate;
use crate::error::UserError;

/// The built-in lesson files: (file name, contents).
pub const EMBEDDED: &[(&str, &str)] = &[
    ("01-what-is-redis.toml", include_str!("../../lessons/01-what-is-redis.toml")),
    ("02-cache-aside.toml", include_str!("../../lessons/02-cache-aside.toml")),
    ("03-klines.toml", include_str!("../../lessons/03-klines.toml")),
    ("04-locks.toml", include_str!("../../lessons/04-locks.toml")),
    ("05-pubsub.toml", include_str!("../../lessons/05-pubsub.toml")),
    ("06-data-structures.toml", include_str!("../../lessons/06-data-structures.toml")),
    ("07-sessions.toml", include_str!("../../lessons/07-sessions.toml")),
    ("08-service-discovery.toml", include_str!("../../lessons/08-service-discovery.toml")),
    ("09-http-cache.toml", include_str!("../../lessons/09-http-cache.toml")),
    ("10-redis-vs-sql.toml", include_str!("../../lessons/10-redis-vs-sql.toml")),
];

/// All lessons, sorted by number, validated.
#[derive(Debug, Clone)]
pub struct Catalogue {
    lessons: Vec<Lesson>,
    /// Files left out because they did not parse or validate: (file, first problem). `check` is
    /// the strict one; the other commands go on with the lessons that are good.
    skipped: Vec<(String, String)>,
}

impl Catalogue {
    /// The built-in lessons.
    pub fn embedded() -> Result<Catalogue> {
        let files = EMBEDDED.iter().map(|(name, text)| (name.to_string(), text.to_string())).collect();
        Catalogue::from_files(files)
    }

    /// The built-in lessons, or those in `dir` when given.
    pub fn load(dir: Option<&Path>) -> Result<Catalogue> {
        match dir {
            None => Catalogue::embedded(),
            Some(dir) => Catalogue::from_files(read_dir(dir)?),
        }
    }

    /// Parse and validate (file name, contents) pairs. A file with a problem is left out and
    /// listed in [`Catalogue::skipped`]; when no file is good, the first problem is the error.
    pub fn from_files(files: Vec<(String, String)>) -> Result<Catalogue> {
        let (parsed, parse_problems) = parse_all(&files);
        let mut skipped: Vec<(String, String)> = parse_problems
            .into_iter()
            .map(|p| match p {
                UserError::BadLessonFile { path, reason } => (path, summary(&reason)),
                other => (String::new(), other.to_string()),
            })
            .collect();
        let problems = validate(&parsed, &crate::demo::names());
        let mut lessons = Vec::new();
        for (path, mut lesson) in parsed {
            match problems.iter().find(|(p, _)| *p == path) {
                Some((_, reason)) => skipped.push((path, reason.clone())),
                None => {
                    lesson.fill_from_english();
                    lessons.push(lesson);
                }
            }
        }
        if lessons.is_empty()
            && let Some((path, reason)) = skipped.first()
        {
            return Err(UserError::BadLessonFile { path: path.clone(), reason: reason.clone() }.into());
        }
        lessons.sort_by_key(|l| l.number);
        Ok(Catalogue { lessons, skipped })
    }

    pub fn lessons(&self) -> &[Lesson] {
        &self.lessons
    }

    /// Files left out, with the first problem of each (first line only).
    pub fn skipped(&self) -> &[(String, String)] {
        &self.skipped
    }

    /// Show the lessons in the language `code` (one the code's own strings lack, such as `fr`) in
    /// place of English, word by word, English where a lesson has none. Returns whether any lesson
    /// has text in `code`.
    pub fn show_in(&mut self, code: &str) -> bool {
        let mut any = false;
        for lesson in &mut self.lessons {
            any |= lesson.show_in_place_of_english(code);
        }
        any
    }

    /// Find a lesson by number (`2`, `02`) or slug (`cache-aside`).
    pub fn find(&self, query: &str) -> Result<&Lesson, UserError> {
        let query = query.trim();
        let by_number = query.parse::<u32>().ok().and_then(|n| self.lessons.iter().find(|l| l.number == n));
        by_number.or_else(|| self.lessons.iter().find(|l| l.slug.eq_ignore_ascii_case(query))).ok_or_else(|| {
            let known = self.lessons.iter().map(|l| format!("{} ({})", l.number, l.slug)).collect::<Vec<_>>();
            UserError::LessonNotFound { query: query.to_string(), known: known.join(", ") }
        })
    }
}

/// A parser's report (several lines, with a caret) as one line: where, then what.
/// `TOML parse error at line 3, column 1 | … | unknown field `colour`` →
/// `TOML parse error at line 3, column 1: unknown field `colour``.
pub fn summary(report: &str) -> String {
    let lines: Vec<&str> = report.lines().map(str::trim).filter(|l| !l.is_empty()).collect();
    match (lines.first(), lines.last()) {
        (Some(first), Some(last)) if lines.len() > 1 => format!("{}: {last}", first.trim_end_matches(':')),
        _ => report.trim().to_string(),
    }
}

/// Parse every file; problems come back as errors naming the file.
pub fn parse_all(files: &[(String, String)]) -> (Vec<(String, Lesson)>, Vec<UserError>) {
    let mut lessons = Vec::new();
    let mut problems = Vec::new();
    for (path, text) in files {
        match Lesson::parse(text) {
            Ok(lesson) => lessons.push((path.clone(), lesson)),
            Err(reason) => problems.push(UserError::BadLessonFile { path: path.clone(), reason }),
        }
    }
    (lessons, problems)
}

/// The `*.toml` files of a directory, sorted by name.
pub fn read_dir(dir: &Path) -> Result<Vec<(String, String)>> {
    let entries = fs::read_dir(dir).with_context(|| format!("reading lessons from {}", dir.display()))?;
    let mut files = Vec::new();
    for entry in entries {
        let path = entry.with_context(|| format!("reading lessons from {}", dir.display()))?.path();
        // The notes and the interface's words sit beside the lessons but are not lessons.
        let not_a_lesson =
            path.file_name().is_some_and(|n| n == super::notes::FILE_NAME || n == crate::words::FILE_NAME);
        if path.extension().is_some_and(|e| e == "toml") && !not_a_lesson {
            let text = fs::read_to_string(&path).with_context(|| format!("reading {}", path.display()))?;
            files.push((path.display().to_string(), text));
        }
    }
    files.sort();
    if files.is_empty() {
        anyhow::bail!(UserError::BadLessonFile {
            path: dir.display().to_string(),
            reason: "no *.toml lesson files in this directory".into()
        });
    }
    Ok(files)
}
