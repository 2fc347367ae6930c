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
    /// `--keep`: keys left on purpose, each with the keep TTL (absent without `--keep`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub keys_kept: Option<usize>,
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
    /// Done: a run's claims all held and the quiz is passed.
    pub completed: bool,
    /// A run's claims all held (the demos' half of `completed`).
    pub claims_held: bool,
    /// The best quiz score reached the pass mark (the quiz's half of `completed`).
    pub quiz_passed: bool,
    pub best_quiz: Option<crate::progress::QuizScore>,
    /// Answers kept from a quiz stopped with Ctrl-C (`quiz N` goes on from there); `null` when none
    /// is in progress.
    pub quiz_answered: Option<usize>,
    /// Practice tasks in the lesson (`redis-learn practice N`), and how many were passed.
    pub tasks: usize,
    pub tasks_passed: usize,
}

/// `redis-learn quiz N --print --json`: the questions with lettered options, in the order
/// `--answers` grades (the lesson file's order, or the `--seed` shuffle); no answers.
#[derive(Debug, Serialize)]
pub struct QuizSheet {
    pub lesson: LessonRef,
    /// `null`: the options are in the lesson file's order.
    pub seed: Option<u64>,
    pub questions: Vec<SheetQuestion>,
}

#[derive(Debug, Serialize)]
pub struct SheetQuestion {
    pub number: usize,
    pub question: String,
    pub options: Vec<SheetOption>,
}

#[derive(Debug, Serialize)]
pub struct SheetOption {
    pub letter: char,
    pub text: String,
}

/// Print any document as one line of JSON.
pub fn print<T: Serialize>(out: &mut impl std::io::Write, doc: &T) -> anyhow::Result<()> {
    serde_json::to_writer_pretty(&mut *out, doc)?;
    writeln!(out)?;
    Ok(())
}
