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
//! renaming it over the old one, so a crash never leaves half a file. Several runs may share the
//! file (a quiz in one terminal, a lesson in another): a run keeps the changes it made, and saving
//! takes the lock `progress.json.lock` beside the file ([`StateLock`]), reads the file again, applies
//! this run's changes to what is there now, writes, and lets go, so no run's changes are lost. A
//! file that does not parse, or that a newer redis-learn wrote, is never overwritten silently: it
//! is kept as a backup (`progress.json.backup-<time>`, then `-2`, `-3`, … within one second), one
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

/// The store: the data, where it lives, this run's changes not saved yet, and warnings to show once.
#[derive(Debug)]
pub struct Progress {
    /// As loaded (or last saved), with this run's changes applied.
    data: ProgressFile,
    path: Option<PathBuf>,
    /// This run's changes since the last save, replayed on the file as it is when saving.
    pending: Vec<Change>,
    /// One-line warnings for the learner (corrupt file kept as backup, read-only dir).
    pub warnings: Vec<String>,
    write_failed: bool,
}

/// One change a run makes to the progress, kept so that it can be applied again to the file as
/// another run may have left it.
#[derive(Debug, Clone)]
enum Change {
    Run { number: u32, passed: bool, headline: Vec<Claim>, unix: u64 },
    Quiz { number: u32, score: QuizScore },
    Practice { number: u32, done: Vec<(String, usize)> },
    PartialQuiz { number: u32, partial: PartialQuiz },
    DemoSeconds { number: u32, key: String, seconds: f64 },
    Reset(Option<u32>),
}

impl Change {
    fn apply(&self, data: &mut ProgressFile) {
        match self {
            Change::Run { number, passed, headline, unix } => {
                let entry = data.lessons.entry(*number).or_default();
                entry.runs += 1;
                entry.completed |= passed;
                entry.last_run_unix = Some(*unix);
                entry.headline.clone_from(headline);
            }
            Change::Quiz { number, score } => {
                let entry = data.lessons.entry(*number).or_default();
                entry.quiz_attempts += 1;
                entry.quiz_partial = None;
                if entry.best_quiz.is_none_or(|old| score.better_than(old)) {
                    entry.best_quiz = Some(*score);
                }
            }
            Change::Practice { number, done } => {
                let entry = data.lessons.entry(*number).or_default();
                for (id, hints) in done {
                    let kept = entry.practice.entry(id.clone()).or_insert(*hints);
                    *kept = (*kept).min(*hints);
                }
            }
            Change::PartialQuiz { number, partial } => {
                data.lessons.entry(*number).or_default().quiz_partial = Some(partial.clone());
            }
            Change::DemoSeconds { number, key, seconds } => {
                data.lessons.entry(*number).or_default().demo_seconds.insert(key.clone(), *seconds);
            }
            Change::Reset(Some(number)) => {
                data.lessons.remove(number);
            }
            Change::Reset(None) => data.lessons.clear(),
        }
    }
}

impl Progress {
    /// Load from `dir` (None: keep progress in memory only).
    pub fn load(dir: Option<&Path>) -> Progress {
        let Some(dir) = dir else {
            return Progress::in_memory();
        };
        let path = dir.join(FILE_NAME);
        let mut warnings = Vec::new();
        let data = match read(&path) {
            Ok(data) => data,
            // Damaged, or from a newer version: move it aside under the lock (another run may be
            // doing the same, or may have just replaced it with a good file).
            Err(ReadError::Unusable(_)) => {
                let outcome = StateLock::acquire(&path).and_then(|_lock| read_or_set_aside(&path));
                match outcome {
                    Ok((data, warning)) => {
                        warnings.extend(warning);
                        data
                    }
                    Err(e) => {
                        warnings.push(format!("{e:#}; progress is not saved this time"));
                        return Progress::failed(warnings);
                    }
                }
            }
            Err(ReadError::Io(e)) => {
                warnings.push(format!("could not read {} ({e}); progress is not saved this time", path.display()));
                return Progress::failed(warnings);
            }
        };
        Progress { data, path: Some(path), pending: Vec::new(), warnings, write_failed: false }
    }

    pub fn in_memory() -> Progress {
        Progress {
            data: ProgressFile::fresh(),
            path: None,
            pending: Vec::new(),
            warnings: Vec::new(),
            write_failed: false,
        }
    }

    /// Progress that cannot be saved this time (the warnings say why).
    fn failed(warnings: Vec<String>) -> Progress {
        Progress { warnings, write_failed: true, ..Progress::in_memory() }
    }

    pub fn path(&self) -> Option<&Path> {
        self.path.as_deref()
    }

    pub fn lesson(&self, number: u32) -> Option<&LessonProgress> {
        self.data.lessons.get(&number)
    }

    /// Apply a change now, and keep it to apply again to the file when saving.
    fn change(&mut self, change: Change) {
        change.apply(&mut self.data);
        self.pending.push(change);
    }

    /// Record a lesson run.
    pub fn record_run(&mut self, number: u32, passed: bool, claims: &[Claim]) {
        let headline = claims.iter().take(HEADLINE_CLAIMS).cloned().collect();
        self.change(Change::Run { number, passed, headline, unix: now_unix() });
    }

    /// Record a quiz attempt (it ends any stopped one); returns true if it is the best so far.
    pub fn record_quiz(&mut self, number: u32, score: usize, total: usize) -> bool {
        let this = QuizScore { score, total };
        let best = self.lesson(number).and_then(|l| l.best_quiz).is_none_or(|old| this.better_than(old));
        self.change(Change::Quiz { number, score: this });
        best
    }

    /// Record the practice tasks passed in one run, with the hints each used (the fewest is kept).
    pub fn record_practice(&mut self, number: u32, done: &[(String, usize)]) {
        if done.is_empty() {
            return;
        }
        self.change(Change::Practice { number, done: done.to_vec() });
    }

    /// Keep the answers of a quiz in progress (saved after each answer, so Ctrl-C loses none).
    pub fn record_partial_quiz(&mut self, number: u32, partial: PartialQuiz) {
        self.change(Change::PartialQuiz { number, partial });
    }

    /// How long a demo took last time, for the spinner's estimate.
    pub fn demo_seconds(&self, number: u32, key: &str) -> Option<f64> {
        self.lesson(number).and_then(|l| l.demo_seconds.get(key)).copied()
    }

    pub fn record_demo_seconds(&mut self, number: u32, key: String, seconds: f64) {
        self.change(Change::DemoSeconds { number, key, seconds });
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
        self.change(Change::Reset(lesson));
    }

    /// Save this run's changes: under the lock, read the file as it is now (another run may have
    /// saved since we loaded it), apply them, write atomically. A failure becomes one warning
    /// (once), never an error: learning goes on.
    pub fn save(&mut self) {
        let Some(path) = self.path.clone() else { return };
        if self.pending.is_empty() {
            return;
        }
        let saved = (|| -> Result<ProgressFile> {
            let _lock = StateLock::acquire(&path)?;
            let (mut data, warning) = read_or_set_aside(&path)?;
            self.warnings.extend(warning);
            for change in &self.pending {
                change.apply(&mut data);
            }
            write_atomically(&path, &data)?;
            Ok(data)
        })();
        match saved {
            Ok(data) => {
                self.data = data;
                self.pending.clear();
            }
            Err(e) => {
                if !self.write_failed {
                    self.warnings.push(format!("could not save progress to {}: {e:#}", path.display()));
                }
                self.write_failed = true;
            }
        }
    }

    /// Warnings not yet shown; each is shown once.
    pub fn take_warnings(&mut self) -> Vec<String> {
        std::mem::take(&mut self.warnings)
    }
}

/// The lock every read-modify-write of a state file holds (progress, the run journal, kept
/// servers): an exclusive lock on `<file>.lock` beside the file, let go on drop (or when the process
/// ends, however it ends). The lock file itself stays: removing it would let two runs lock two
/// different files.
#[derive(Debug)]
pub struct StateLock {
    _file: fs::File,
}

impl StateLock {
    /// Wait for, and take, the lock of the state file at `path` (its directory is created).
    pub fn acquire(path: &Path) -> Result<StateLock> {
        let dir = path.parent().context("a state file has no directory")?;
        fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
        let mut name = path.file_name().unwrap_or_default().to_os_string();
        name.push(".lock");
        let lock_path = path.with_file_name(name);
        let file = fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&lock_path)
            .with_context(|| format!("opening {}", lock_path.display()))?;
        file.lock().with_context(|| format!("locking {}", lock_path.display()))?;
        Ok(StateLock { _file: file })
    }
}

enum ReadError {
    Io(std::io::Error),
    /// Damaged, or from a newer redis-learn: what is wrong with it.
    Unusable(String),
}

/// The file as it is (a fresh one when there is none).
fn read(path: &Path) -> Result<ProgressFile, ReadError> {
    match fs::read_to_string(path) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(ProgressFile::fresh()),
        Err(e) => Err(ReadError::Io(e)),
        Ok(text) => parse(&text).map_err(ReadError::Unusable),
    }
}

/// With the lock held: the file as it is, or, when it is damaged or newer, a fresh start after
/// moving it aside to a backup of its own (with the warning that says so).
fn read_or_set_aside(path: &Path) -> Result<(ProgressFile, Option<String>)> {
    match read(path) {
        Ok(data) => Ok((data, None)),
        Err(ReadError::Io(e)) => Err(e).with_context(|| format!("could not read {}", path.display())),
        Err(ReadError::Unusable(problem)) => {
            let backup = backup_path(path);
            fs::rename(path, &backup)
                .with_context(|| format!("{} {problem} and could not be moved aside", path.display()))?;
            let warning = format!("{} {problem}; kept it as {} and started fresh", path.display(), backup.display());
            Ok((ProgressFile::fresh(), Some(warning)))
        }
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

/// `progress.json.backup-<time>`, or `…-<time>-2`, `-3`, … when that second already has one (the
/// caller holds the lock, so no other run picks the same name meanwhile).
fn backup_path(path: &Path) -> PathBuf {
    let stem = format!("{}.backup-{}", path.file_name().unwrap_or_default().to_string_lossy(), now_unix());
    (1..)
        .map(|n| path.with_file_name(if n == 1 { stem.clone() } else { format!("{stem}-{n}") }))
        .find(|candidate| !candidate.exists())
        .unwrap_or_else(|| path.with_file_name(stem))
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
    fn runs_sharing_the_file_keep_each_others_changes() {
        let dir = tempfile::tempdir().unwrap();
        // A lesson loads the file, and a quiz in another terminal saves before the lesson does.
        let mut lesson = Progress::load(Some(dir.path()));
        let mut quiz = Progress::load(Some(dir.path()));
        quiz.record_quiz(3, 5, 7);
        quiz.save();
        lesson.record_run(6, true, &[claim()]);
        lesson.save();
        let again = Progress::load(Some(dir.path()));
        assert_eq!(again.lesson(3).map(|l| l.quiz_attempts), Some(1), "the quiz was lost: {:?}", again.data);
        assert_eq!(again.lesson(6).map(|l| l.runs), Some(1));
        // The saving run now sees the other's change too.
        assert_eq!(lesson.lesson(3).map(|l| l.quiz_attempts), Some(1));
    }

    #[test]
    fn concurrent_saves_lose_no_attempt() {
        let dir = tempfile::tempdir().unwrap();
        std::thread::scope(|scope| {
            for lesson in 1..=4 {
                let dir = dir.path();
                scope.spawn(move || {
                    for _ in 0..25 {
                        let mut p = Progress::load(Some(dir));
                        p.record_quiz(lesson, 1, 2);
                        p.save();
                        assert!(p.take_warnings().is_empty());
                    }
                });
            }
        });
        let p = Progress::load(Some(dir.path()));
        for lesson in 1..=4 {
            assert_eq!(p.lesson(lesson).unwrap().quiz_attempts, 25, "lesson {lesson}");
        }
    }

    #[test]
    fn a_reset_is_applied_to_the_file_as_it_is_when_saving() {
        let dir = tempfile::tempdir().unwrap();
        let mut other = Progress::load(Some(dir.path()));
        other.record_run(1, true, &[]);
        other.record_run(2, true, &[]);
        other.save();
        let mut reset = Progress::load(Some(dir.path()));
        let mut late = Progress::load(Some(dir.path()));
        late.record_quiz(3, 1, 1);
        late.save();
        reset.reset(Some(1));
        reset.save();
        let again = Progress::load(Some(dir.path()));
        assert!(again.lesson(1).is_none() && again.lesson(2).is_some() && again.lesson(3).is_some());
    }

    #[test]
    fn damaged_files_in_the_same_second_get_backups_of_their_own() {
        let dir = tempfile::tempdir().unwrap();
        // Backups already named for this second and the next few: the new ones must not replace them.
        let now = now_unix();
        for second in now..now + 5 {
            fs::write(dir.path().join(format!("{FILE_NAME}.backup-{second}")), "earlier").unwrap();
        }
        for damage in ["{ first", "{ second"] {
            fs::write(dir.path().join(FILE_NAME), damage).unwrap();
            let p = Progress::load(Some(dir.path()));
            assert_eq!(p.warnings.len(), 1, "{:?}", p.warnings);
        }
        let mut kept: Vec<String> = fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.file_name().unwrap().to_string_lossy().starts_with("progress.json.backup-"))
            .map(|p| fs::read_to_string(p).unwrap())
            .collect();
        kept.sort();
        assert_eq!(kept, ["earlier", "earlier", "earlier", "earlier", "earlier", "{ first", "{ second"]);
    }

    #[test]
    fn a_file_damaged_after_loading_is_kept_when_saving() {
        let dir = tempfile::tempdir().unwrap();
        let mut p = Progress::load(Some(dir.path()));
        fs::write(dir.path().join(FILE_NAME), "{ damaged meanwhile").unwrap();
        p.record_run(1, true, &[]);
        p.save();
        let warnings = p.take_warnings();
        assert_eq!(warnings.len(), 1, "{warnings:?}");
        assert!(warnings[0].contains("kept it as"), "{}", warnings[0]);
        assert_eq!(Progress::load(Some(dir.path())).lesson(1).map(|l| l.runs), Some(1));
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
