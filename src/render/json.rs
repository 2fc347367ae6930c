//! The JSON documents `--json` prints. Field names are a contract with grading scripts: add fields
//! freely, never rename or remove one.

use serde::Serialize;

use crate::demo::DemoReport;
use crate::lesson::Lesson;
use crate::server::ServerInfo;

#[derive(Debug, Serialize)]
pub struct LessonRef {
    pub number: u32,
    pub slug: String,
    pub title: String,
}

impl LessonRef {
    pub fn of(lesson: &Lesson, lang: crate::i18n::Lang) -> LessonRef {
        LessonRef { number: lesson.number, slug: lesson.slug.clone(), title: lesson.text(lang).title.clone() }
    }
}

/// `redis-learn lesson N --json`.
#[derive(Debug, Serialize)]
pub struct LessonRun {
    pub lesson: LessonRef,
    pub lang: crate::i18n::Lang,
    /// `null` when no Redis could be reached (the demos were skipped).
    pub redis: Option<ServerInfo>,
    pub sqlite_version: String,
    pub namespace: Option<String>,
    pub quick: bool,
    /// Where this run measured (`{"pin": "none", "cpus": 2}` or `{"pin": "same-cpu", "cpu": 1}`).
    pub placement: crate::measure::Placement,
    /// The round-trip floor: `{"start_p50_us", "end_p50_us", "points": [{"at", "p50_us"}]}`;
    /// `null` when no demo ran.
    pub floor: Option<crate::measure::Floor>,
    /// The machine was too busy for this run's ratios to be taken as facts (see `warnings`).
    pub noisy: bool,
    pub warnings: Vec<crate::measure::Warning>,
    pub demos: Vec<DemoReport>,
    pub claims: crate::demo::ClaimTotals,
    /// Keys that earlier runs had left on this server (the run journal), removed before this run.
    pub swept: crate::server::Swept,
    /// Keys left under the run's namespace after cleanup: always 0 unless something went wrong.
    pub keys_left: usize,
    pub passed: bool,
}

/// One row of `redis-learn list --json`.
#[derive(Debug, Serialize)]
pub struct ListEntry {
    pub number: u32,
    pub slug: String,
    pub title: String,
    pub summary: String,
    pub source: String,
    pub demos: Vec<String>,
    pub questions: usize,
    pub completed: bool,
    pub best_quiz: Option<crate::progress::QuizScore>,
    /// Practice tasks in the lesson (`redis-learn practice N`), and how many were passed.
    pub tasks: usize,
    pub tasks_passed: usize,
}

/// Print any document as one line of JSON.
pub fn print<T: Serialize>(out: &mut impl std::io::Write, doc: &T) -> anyhow::Result<()> {
    serde_json::to_writer_pretty(&mut *out, doc)?;
    writeln!(out)?;
    Ok(())
}
