//! The progress store: what a learner has done, kept between runs.
//!
//! File: `progress.json` in the state directory (`--state-dir`, else `REDIS_LEARN_STATE_DIR`, else
//! the XDG data dir, e.g. `~/.local/share/redis-learn/`). Format (version 1):
//!
//! ```json
//! {"format_version": 1,
//!  "lessons": {"2": {"completed": true, "runs": 3, "last_run_unix": 1795651200,
//!                    "quiz_attempts": 2, "best_quiz": {"score": 5, "total": 6},
//!                    "headline": [{"id": "...", "text": "...", "measured": "4.2×",
//!                                  "status": "held", "holds": true}],
//!                    "quiz_partial": {"seed": 7, "answers": [2, 0]},
//!                    "demo_seconds": {"cache-aside/quick": 3.2}}}}
//! ```
//!
//! A lesson is *done* when its demos ran with every claim holding (`completed`) and its quiz is
//! passed (`best_quiz` at or above the pass mark). `quiz_partial` keeps the answers of a quiz that
//! was stopped (Ctrl-C) so that the next `quiz N` continues it; `demo_seconds` is how long each demo
//! took last time, for the spinner's estimate.
//!
//! It is saved after each lesson and each quiz by writing a temp file in the same directory and
//! renaming it over the old one, so a crash never leaves half a file. A file that does not parse,
//! or that a newer redis-learn wrote, is never overwritten silently: it is kept as a backup, one
//! line says so, and progress starts fresh. A directory we cannot write to costs one warning.

use std::collections::BTreeMap;
use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use anyhow::{Context, Result};
use serde::{Deserialize, Serialize};

use crate::measure::Claim;

pub const FORMAT_VERSION: u32 = 1;
pub const FILE_NAME: &str = "progress.json";
/// Claims kept per lesson as its headline figures.
const HEADLINE_CLAIMS: usize = 8;

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ProgressFile {
    pub format_version: u32,
    #[serde(default)]
    pub lessons: BTreeMap<u32, LessonProgress>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct LessonProgress {
    /// The lesson's demos ran and every claim held, at least once.
    #[serde(default)]
    pub completed: bool,
    #[serde(default)]
    pub runs: u32,
    #[serde(default)]
    pub last_run_unix: Option<u64>,
    #[serde(default)]
    pub quiz_attempts: u32,
    #[serde(default)]
    pub best_quiz: Option<QuizScore>,
    /// The claims of the last run, with their measured figures.
    #[serde(default)]
    pub headline: Vec<Claim>,
    /// Practice tasks passed (`redis-learn practice N`), by task id: the fewest hints used to pass.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub practice: BTreeMap<String, usize>,
    /// A quiz stopped before its end: its shuffle and the answers given so far.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub quiz_partial: Option<PartialQuiz>,
    /// Seconds each demo took on its last run, keyed `<demo>/<full|quick>`.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub demo_seconds: BTreeMap<String, f64>,
}

impl LessonProgress {
    /// The best quiz score reached the pass mark.
    pub fn quiz_passed(&self) -> bool {
        self.best_quiz.is_some_and(QuizScore::passes)
    }

    /// Done: every claim held in a run, and the quiz (if the lesson has one) is passed.
    pub fn done(&self, has_quiz: bool) -> bool {
        self.completed && (!has_quiz || self.quiz_passed())
    }
}

/// The answers given so far in a quiz that was stopped; `seed` is its shuffle (`None`: file order).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PartialQuiz {
    pub seed: Option<u64>,
    pub answers: Vec<usize>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct QuizScore {
    pub score: usize,
    pub total: usize,
}

impl QuizScore {
    /// At or above the pass mark.
    pub fn passes(self) -> bool {
        self.score * 100 >= self.total * crate::quiz::PASS_PERCENT
    }

    fn better_than(self, other: QuizScore) -> bool {
        self.score * other.total > other.score * self.total
    }
}

/// The store: the data, where it lives, and warnings to show once.
#[derive(Debug)]
pub struct Progress {
    pub data: ProgressFile,
    path: Option<PathBuf>,
    /// One-line warnings for the learner (corrupt file kept as backup, read-only dir).
    pub warnings: Vec<String>,
    write_failed: bool,
}

impl Progress {
    /// Load from `dir` (None: keep progress in memory only).
    pub fn load(dir: Option<&Path>) -> Progress {
        let Some(dir) = dir else {
            return Progress::in_memory();
        };
        let path = dir.join(FILE_NAME);
        let mut warnings = Vec::new();
        let data = match fs::read_to_string(&path) {
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => ProgressFile::fresh(),
            Err(e) => {
                warnings.push(format!("could not read {} ({e}); progress is not saved this time", path.display()));
                return Progress { data: ProgressFile::fresh(), path: None, warnings, write_failed: true };
            }
            Ok(text) => match parse(&text) {
                Ok(data) => data,
                Err(problem) => {
                    let backup = backup_path(&path);
                    match fs::rename(&path, &backup) {
                        Ok(()) => warnings.push(format!(
                            "{} {problem}; kept it as {} and started fresh",
                            path.display(),
                            backup.display()
                        )),
                        Err(e) => {
                            warnings.push(format!(
                                "{} {problem} and could not be moved aside ({e}); progress is not saved this time",
                                path.display()
                            ));
                            return Progress { data: ProgressFile::fresh(), path: None, warnings, write_failed: true };
                        }
                    }
                    ProgressFile::fresh()
                }
            },
        };
        Progress { data, path: Some(path), warnings, write_failed: false }
    }

    pub fn in_memory() -> Progress {
        Progress { data: ProgressFile::fresh(), path: None, warnings: Vec::new(), write_failed: false }
    }

    pub fn path(&self) -> Option<&Path> {
        self.path.as_deref()
    }

    pub fn lesson(&self, number: u32) -> Option<&LessonProgress> {
        self.data.lessons.get(&number)
    }

    /// Record a lesson run.
    pub fn record_run(&mut self, number: u32, passed: bool, claims: &[Claim]) {
        let entry = self.data.lessons.entry(number).or_default();
        entry.runs += 1;
        entry.completed |= passed;
        entry.last_run_unix = Some(now_unix());
        entry.headline = claims.iter().take(HEADLINE_CLAIMS).cloned().collect();
    }

    /// Record a quiz attempt (it ends any stopped one); returns true if it is the best so far.
    pub fn record_quiz(&mut self, number: u32, score: usize, total: usize) -> bool {
        let entry = self.data.lessons.entry(number).or_default();
        entry.quiz_attempts += 1;
        entry.quiz_partial = None;
        let this = QuizScore { score, total };
        let best = entry.best_quiz.is_none_or(|old| this.better_than(old));
        if best {
            entry.best_quiz = Some(this);
        }
        best
    }

    /// Record the practice tasks passed in one run, with the hints each used (the fewest is kept).
    pub fn record_practice(&mut self, number: u32, done: &[(String, usize)]) {
        if done.is_empty() {
            return;
        }
        let entry = self.data.lessons.entry(number).or_default();
        for (id, hints) in done {
            let kept = entry.practice.entry(id.clone()).or_insert(*hints);
            *kept = (*kept).min(*hints);
        }
    }

    /// Keep the answers of a quiz in progress (saved after each answer, so Ctrl-C loses none).
    pub fn record_partial_quiz(&mut self, number: u32, partial: PartialQuiz) {
        self.data.lessons.entry(number).or_default().quiz_partial = Some(partial);
    }

    /// How long a demo took last time, for the spinner's estimate.
    pub fn demo_seconds(&self, number: u32, key: &str) -> Option<f64> {
        self.lesson(number).and_then(|l| l.demo_seconds.get(key)).copied()
    }

    pub fn record_demo_seconds(&mut self, number: u32, key: String, seconds: f64) {
        self.data.lessons.entry(number).or_default().demo_seconds.insert(key, seconds);
    }

    /// Whether there is anything to forget: about one lesson, or about any.
    pub fn has_progress(&self, lesson: Option<u32>) -> bool {
        match lesson {
            Some(n) => self.data.lessons.contains_key(&n),
            None => !self.data.lessons.is_empty(),
        }
    }

    /// Forget one lesson, or everything.
    pub fn reset(&mut self, lesson: Option<u32>) {
        match lesson {
            Some(n) => {
                self.data.lessons.remove(&n);
            }
            None => self.data.lessons.clear(),
        }
    }

    /// Write atomically; a failure becomes one warning (once), never an error: learning goes on.
    pub fn save(&mut self) {
        let Some(path) = self.path.clone() else { return };
        if let Err(e) = write_atomically(&path, &self.data) {
            if !self.write_failed {
                self.warnings.push(format!("could not save progress to {}: {e:#}", path.display()));
            }
            self.write_failed = true;
        }
    }

    /// Warnings not yet shown; each is shown once.
    pub fn take_warnings(&mut self) -> Vec<String> {
        std::mem::take(&mut self.warnings)
    }
}

impl ProgressFile {
    pub fn fresh() -> ProgressFile {
        ProgressFile { format_version: FORMAT_VERSION, lessons: BTreeMap::new() }
    }
}

fn parse(text: &str) -> Result<ProgressFile, String> {
    #[derive(Deserialize)]
    struct VersionOnly {
        format_version: u32,
    }
    let version: VersionOnly = serde_json::from_str(text).map_err(|e| format!("is not a progress file ({e})"))?;
    if version.format_version > FORMAT_VERSION {
        return Err(format!(
            "was written by a newer redis-learn (format {}; this one reads {FORMAT_VERSION})",
            version.format_version
        ));
    }
    serde_json::from_str(text).map_err(|e| format!("is damaged ({e})"))
}

fn write_atomically(path: &Path, data: &ProgressFile) -> Result<()> {
    let dir = path.parent().context("the progress file has no directory")?;
    fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let mut temp = tempfile::NamedTempFile::new_in(dir).context("creating a temp file")?;
    serde_json::to_writer_pretty(&mut temp, data)?;
    temp.write_all(b"\n")?;
    temp.as_file().sync_all()?;
    temp.persist(path).context("replacing the progress file")?;
    Ok(())
}

fn backup_path(path: &Path) -> PathBuf {
    let mut name = path.file_name().unwrap_or_default().to_os_string();
    name.push(format!(".backup-{}", now_unix()));
    path.with_file_name(name)
}

fn now_unix() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

/// `██████░░░░ 6/10`
pub fn bar(done: usize, total: usize, width: usize) -> String {
    let filled = if total == 0 { 0 } else { (done * width).div_ceil(total).min(width) };
    format!("{}{} {done}/{total}", "█".repeat(filled), "░".repeat(width - filled))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn claim() -> Claim {
        Claim::new("hit-faster", "a hit is faster", "4.2×", true)
    }

    #[test]
    fn progress_round_trips_through_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let mut p = Progress::load(Some(dir.path()));
        p.record_run(2, true, &[claim()]);
        assert!(p.record_quiz(2, 4, 5));
        assert!(!p.record_quiz(2, 3, 5));
        p.save();
        let again = Progress::load(Some(dir.path()));
        let lesson = again.lesson(2).unwrap();
        assert!(lesson.completed);
        assert_eq!(lesson.quiz_attempts, 2);
        assert_eq!(lesson.best_quiz, Some(QuizScore { score: 4, total: 5 }));
        assert_eq!(lesson.headline[0].measured, "4.2×");
        assert!(again.warnings.is_empty());
    }

    #[test]
    fn a_corrupt_file_is_kept_as_a_backup_and_progress_starts_fresh() {
        let dir = tempfile::tempdir().unwrap();
        fs::write(dir.path().join(FILE_NAME), "{ not json").unwrap();
        let p = Progress::load(Some(dir.path()));
        assert!(p.data.lessons.is_empty());
        assert_eq!(p.warnings.len(), 1);
        assert!(p.warnings[0].contains("kept it as"), "{}", p.warnings[0]);
        let backups = fs::read_dir(dir.path())
            .unwrap()
            .filter(|e| e.as_ref().unwrap().file_name().to_string_lossy().starts_with("progress.json.backup-"));
        assert_eq!(backups.count(), 1);
    }

    #[test]
    fn a_newer_format_is_not_overwritten() {
        let dir = tempfile::tempdir().unwrap();
        fs::write(dir.path().join(FILE_NAME), r#"{"format_version": 99, "lessons": {}}"#).unwrap();
        let p = Progress::load(Some(dir.path()));
        assert!(p.warnings[0].contains("newer redis-learn"), "{}", p.warnings[0]);
        assert!(!dir.path().join(FILE_NAME).exists(), "the newer file must be moved aside, not reused");
    }

    #[test]
    fn a_lesson_is_done_only_once_its_quiz_is_passed() {
        let mut p = Progress::in_memory();
        p.record_run(1, true, &[]);
        p.record_partial_quiz(1, PartialQuiz { seed: Some(3), answers: vec![1] });
        p.record_quiz(1, 4, 7);
        let lesson = p.lesson(1).unwrap();
        assert!(lesson.completed && !lesson.quiz_passed() && !lesson.done(true));
        assert!(lesson.done(false), "a lesson without a quiz is done when its claims held");
        assert_eq!(lesson.quiz_partial, None, "a finished quiz ends the stopped one");
        p.record_quiz(1, 6, 7);
        assert!(p.lesson(1).unwrap().done(true));
    }

    #[test]
    fn reset_forgets_one_lesson_or_all() {
        let mut p = Progress::in_memory();
        p.record_run(1, true, &[]);
        p.record_run(2, false, &[]);
        p.reset(Some(1));
        assert!(p.lesson(1).is_none() && p.lesson(2).is_some());
        p.reset(None);
        assert!(p.data.lessons.is_empty());
    }

    #[cfg(unix)]
    #[test]
    fn an_unwritable_directory_warns_once() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let locked = dir.path().join("locked");
        fs::create_dir(&locked).unwrap();
        fs::set_permissions(&locked, fs::Permissions::from_mode(0o500)).unwrap();
        if fs::write(locked.join("probe"), "x").is_ok() {
            return; // running as root: permissions do not stop us, nothing to test
        }
        let mut p = Progress::load(Some(&locked));
        p.record_run(1, true, &[]);
        p.save();
        p.save();
        assert_eq!(p.take_warnings().len(), 1);
    }

    #[test]
    fn the_bar_fills_in_proportion() {
        assert_eq!(bar(0, 10, 10), "░░░░░░░░░░ 0/10");
        assert_eq!(bar(5, 10, 10), "█████░░░░░ 5/10");
        assert_eq!(bar(3, 3, 6), "██████ 3/3");
    }
}
