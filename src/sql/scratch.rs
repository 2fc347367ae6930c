//! A run's scratch directory (its SQLite files: `tokens.db` alone is tens of MB), named after the
//! process that owns it, `redis-learn-run-<pid>-XXXXXX` in the temp dir. It goes away on drop (the
//! end of a run, an error, Ctrl-C, SIGTERM) and, when cleanup is stuck on a frozen server and the
//! signal watchdog ends the process, the watchdog removes it (see [`crate::interrupt`]). What a
//! `kill -9` or a power cut leaves, the next run removes: [`Scratch::new`] first sweeps the
//! directories whose owner is gone. A live run's directory is never touched.

use std::path::Path;
use std::time::{Duration, SystemTime};

use anyhow::{Context, Result};

/// Every scratch directory's name starts with this, then `<pid>-`.
pub const PREFIX: &str = "redis-learn-run-";
/// Scratch directories from before they carried their owner's pid (`redis-learn-XXXXXX` holding a
/// `tokens.db`) are removed once nothing in them changed for this long: no lesson runs for a day.
const UNOWNED_AFTER: Duration = Duration::from_secs(24 * 3600);

/// The scratch directory of this run; removed on drop.
#[derive(Debug)]
pub struct Scratch {
    dir: tempfile::TempDir,
}

impl Scratch {
    /// Sweep what dead runs left in the temp dir, then make this run's directory.
    pub fn new() -> Result<Scratch> {
        let temp = std::env::temp_dir();
        sweep(&temp);
        let dir = tempfile::Builder::new()
            .prefix(&format!("{PREFIX}{}-", std::process::id()))
            .tempdir_in(&temp)
            .with_context(|| format!("creating a scratch directory in {}", temp.display()))?;
        crate::interrupt::register_scratch(dir.path().to_path_buf());
        Ok(Scratch { dir })
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        crate::interrupt::unregister_scratch(self.dir.path());
        // The TempDir field removes the directory right after this.
    }
}

/// Remove the scratch directories in `temp` whose owning process is gone; returns how many.
pub fn sweep(temp: &Path) -> usize {
    let Ok(entries) = std::fs::read_dir(temp) else { return 0 };
    let mut removed = 0;
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        let path = entry.path();
        let left = match owner(&name) {
            Some(pid) => pid != std::process::id() && !crate::process::alive(pid),
            None => unowned_and_old(&name, &path),
        };
        if left && entry.file_type().is_ok_and(|t| t.is_dir()) && std::fs::remove_dir_all(&path).is_ok() {
            removed += 1;
        }
    }
    removed
}

/// The pid in `redis-learn-run-<pid>-XXXXXX`.
fn owner(name: &str) -> Option<u32> {
    let (pid, _) = name.strip_prefix(PREFIX)?.split_once('-')?;
    pid.parse().ok()
}

/// An older version's scratch directory (`redis-learn-` and six characters, with a `tokens.db`,
/// which a private server's directory never has) that nothing touched for a day.
fn unowned_and_old(name: &str, path: &Path) -> bool {
    let Some(suffix) = name.strip_prefix("redis-learn-") else { return false };
    if suffix.len() != 6 || !suffix.chars().all(|c| c.is_ascii_alphanumeric()) || !path.join("tokens.db").exists() {
        return false;
    }
    let newest = std::fs::read_dir(path)
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| e.metadata().and_then(|m| m.modified()).ok())
        .chain(std::fs::metadata(path).and_then(|m| m.modified()).ok())
        .max();
    newest.and_then(|t| SystemTime::now().duration_since(t).ok()).is_some_and(|age| age > UNOWNED_AFTER)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The directory a run with this pid would have made.
    fn left_by(temp: &Path, pid: u32) -> std::path::PathBuf {
        temp.join(format!("{PREFIX}{pid}-abc123"))
    }

    #[test]
    fn the_owner_is_read_from_the_name() {
        assert_eq!(owner("redis-learn-run-4242-Xy12ab"), Some(4242));
        assert_eq!(owner("redis-learn-Xy12ab"), None);
        assert_eq!(owner("redis-learn-bench-Xy12ab"), None);
    }

    #[cfg(unix)]
    #[test]
    fn a_dead_runs_directory_is_swept_and_a_live_ones_is_not() {
        let temp = tempfile::tempdir().unwrap();
        // Above Linux's pid_max: never a live process.
        let dead = left_by(temp.path(), 999_999_999);
        let mine = left_by(temp.path(), std::process::id());
        // A live process that is not this one: our parent (the test harness or the shell).
        let parent = left_by(temp.path(), std::os::unix::process::parent_id());
        let private_server = temp.path().join("redis-learn-Ab12cd");
        let young_old_style = temp.path().join("redis-learn-Zz99zz");
        for dir in [&dead, &mine, &parent, &private_server, &young_old_style] {
            std::fs::create_dir(dir).unwrap();
        }
        std::fs::write(dead.join("tokens.db"), "x").unwrap();
        std::fs::write(young_old_style.join("tokens.db"), "x").unwrap();
        std::fs::write(private_server.join("redis.log"), "x").unwrap();
        assert_eq!(sweep(temp.path()), 1);
        assert!(!dead.exists());
        assert!(mine.exists() && parent.exists() && private_server.exists() && young_old_style.exists());
    }

    #[test]
    fn a_scratch_directory_is_removed_on_drop() {
        let scratch = Scratch::new().unwrap();
        let path = scratch.path().to_path_buf();
        assert_eq!(owner(&path.file_name().unwrap().to_string_lossy()), Some(std::process::id()));
        drop(scratch);
        assert!(!path.exists());
    }
}
