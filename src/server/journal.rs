//! The run journal: which key namespaces runs on this machine opened on which (non-private) server.
//! A run adds its namespace before writing a key and removes it once cleanup found nothing left.
//! What a killed or crashed run (kill -9, a frozen server, a power cut) leaves behind stays listed,
//! and the next run against the same server — or `redis-learn doctor --clean` — removes those keys.
//! Keys carry no backstop TTL: several demos need keys without one (that is what they teach).
//!
//! File: `runs.json` in the state directory, `{"version": 1, "runs": [{"run_id", "server",
//! "pid", "started_unix", "keep_until_unix"?}]}`, where `server` is the URL with any password
//! replaced by `***`. A run with `--keep` leaves its keys with a TTL and its entry with
//! `keep_until_unix`: no sweep touches them before then, and the first sweep after removes any
//! that are still there (none, unless someone took the TTL off).
//! Replaced atomically (temp file + rename) on every change, under the lock `runs.json.lock`
//! ([`crate::progress::StateLock`]): the change is applied to the file as it is then, so runs that
//! start and end at the same time keep each other's entries.

use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use anyhow::{Context, Result};
use redis::Client;
use serde::{Deserialize, Serialize};

use super::namespace::{Namespace, NamespaceGuard};

pub const FILE_NAME: &str = "runs.json";
const VERSION: u32 = 1;
/// Without /proc to ask whether a run's process still lives, an entry this old counts as left.
const STALE_AFTER_SECS: u64 = 24 * 3600;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Entry {
    pub run_id: String,
    pub server: String,
    pub pid: u32,
    pub started_unix: u64,
    /// `--keep`: the keys were left on purpose until then.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub keep_until_unix: Option<u64>,
    /// The run id is a hash tag (`redis-learn:{id}:`, a run on a Redis Cluster).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub tagged: bool,
}

impl Entry {
    /// The namespace the run wrote under.
    fn namespace(&self) -> Namespace {
        if self.tagged { Namespace::tagged(&self.run_id) } else { Namespace::with_run_id(&self.run_id) }
    }
}

#[derive(Debug, Default, Serialize, Deserialize)]
struct File {
    version: u32,
    runs: Vec<Entry>,
}

/// Runs and their keys: what a sweep removed, or what is still left.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Swept {
    /// Earlier runs whose keys were looked for.
    pub runs: usize,
    /// Their keys.
    pub keys: usize,
}

/// The journal in a state directory (`None`: no state directory, nothing is kept).
#[derive(Debug, Clone)]
pub struct Journal {
    path: Option<PathBuf>,
}

impl Journal {
    pub fn new(state_dir: Option<&Path>) -> Journal {
        Journal { path: state_dir.map(|d| d.join(FILE_NAME)) }
    }

    /// Note that this process is about to write keys under `namespace` on `server` (redacted URL).
    pub fn open_run(&self, namespace: &Namespace, server: &str) -> Result<()> {
        crate::interrupt::note_shared_writes();
        let entry = Entry {
            run_id: namespace.run_id().to_string(),
            server: server.to_string(),
            pid: std::process::id(),
            started_unix: now_unix(),
            keep_until_unix: None,
            tagged: namespace.is_tagged(),
        };
        self.update(|runs| runs.push(entry))
    }

    /// The run's keys are gone: forget it.
    pub fn close_run(&self, namespace: &Namespace) -> Result<()> {
        let id = namespace.run_id().to_string();
        self.update(|runs| runs.retain(|e| e.run_id != id))
    }

    /// Runs on `server` whose process is gone (and whose keep time, if any, is over).
    pub fn left_on(&self, server: &str) -> Vec<Entry> {
        let now = now_unix();
        self.read()
            .runs
            .into_iter()
            .filter(|e| e.server == server && !alive(e) && e.keep_until_unix.is_none_or(|until| now >= until))
            .collect()
    }

    /// The run keeps its keys (`--keep`) until `until_unix`: sweeps leave them alone until then.
    pub fn keep_run(&self, namespace: &Namespace, until_unix: u64) -> Result<()> {
        let run_id = namespace.run_id().to_string();
        self.update(|runs| {
            for entry in runs.iter_mut().filter(|e| e.run_id == run_id) {
                entry.keep_until_unix = Some(until_unix);
            }
        })
    }

    /// What earlier runs really left on `server`: the runs whose keys are still there, and how many
    /// keys (read only; an entry whose keys are all gone is not counted, and the next sweep forgets
    /// it).
    pub fn keys_left_on(&self, client: &Client, server: &str) -> Result<Swept> {
        let mut left = Swept::default();
        for entry in self.left_on(server) {
            let keys = super::namespace::keys_on(client, &entry.namespace())?;
            if keys > 0 {
                left.runs += 1;
                left.keys += keys;
            }
        }
        Ok(left)
    }

    /// Remove what earlier runs left on `server` and forget the runs that are clean now.
    pub fn sweep(&self, client: &Client, server: &str) -> Result<Swept> {
        let mut swept = Swept::default();
        for entry in self.left_on(server) {
            let namespace = entry.namespace();
            let cleanup = NamespaceGuard::new(client.clone(), namespace.clone()).clean()?;
            swept.runs += 1;
            swept.keys += cleanup.removed;
            if cleanup.left == 0 {
                self.close_run(&namespace)?;
            }
        }
        Ok(swept)
    }

    fn read(&self) -> File {
        let Some(path) = &self.path else { return File::default() };
        std::fs::read(path).ok().and_then(|bytes| serde_json::from_slice(&bytes).ok()).unwrap_or_default()
    }

    fn update(&self, change: impl FnOnce(&mut Vec<Entry>)) -> Result<()> {
        let Some(path) = &self.path else { return Ok(()) };
        let _lock = crate::progress::StateLock::acquire(path).context("locking the run journal")?;
        let mut file = self.read();
        file.version = VERSION;
        change(&mut file.runs);
        let dir = path.parent().context("the journal has no directory")?;
        let mut tmp = tempfile::NamedTempFile::new_in(dir).context("writing the run journal")?;
        serde_json::to_writer_pretty(&mut tmp, &file)?;
        tmp.persist(path).with_context(|| format!("replacing {}", path.display()))?;
        Ok(())
    }
}

pub(crate) fn now_unix() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

/// Is the run's process still running? (Asks /proc; elsewhere, young entries count as alive.)
fn alive(entry: &Entry) -> bool {
    if entry.pid == std::process::id() {
        return true;
    }
    if Path::new("/proc/self").exists() {
        return Path::new(&format!("/proc/{}", entry.pid)).exists();
    }
    now_unix().saturating_sub(entry.started_unix) < STALE_AFTER_SECS
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn runs_are_added_and_removed_atomically() {
        let dir = tempfile::tempdir().unwrap();
        let journal = Journal::new(Some(dir.path()));
        let ns = Namespace::with_run_id("abc123");
        journal.open_run(&ns, "redis://127.0.0.1:6379").unwrap();
        let file = journal.read();
        assert_eq!(file.version, 1);
        assert_eq!(file.runs.len(), 1);
        assert_eq!(file.runs[0].run_id, "abc123");
        // Our own process is alive: its run is not "left" yet.
        assert!(journal.left_on("redis://127.0.0.1:6379").is_empty());
        journal.close_run(&ns).unwrap();
        assert!(journal.read().runs.is_empty());
    }

    #[test]
    fn a_dead_process_leaves_its_run_for_the_same_server_only() {
        let dir = tempfile::tempdir().unwrap();
        let journal = Journal::new(Some(dir.path()));
        // A pid far above pid_max on Linux: never alive.
        let dead = Entry {
            run_id: "dead01".into(),
            server: "redis://127.0.0.1:7000".into(),
            pid: 999_999_999,
            started_unix: 0,
            keep_until_unix: None,
            tagged: false,
        };
        journal.update(|runs| runs.push(dead.clone())).unwrap();
        assert_eq!(journal.left_on("redis://127.0.0.1:7000"), vec![dead]);
        assert!(journal.left_on("redis://127.0.0.1:7001").is_empty());
    }

    #[test]
    fn kept_keys_are_swept_only_after_their_keep_time() {
        let dir = tempfile::tempdir().unwrap();
        let journal = Journal::new(Some(dir.path()));
        let server = "redis://127.0.0.1:7000";
        let kept = Entry {
            run_id: "kept01".into(),
            server: server.into(),
            pid: 999_999_999,
            started_unix: 0,
            keep_until_unix: None,
            tagged: false,
        };
        journal.update(|runs| runs.push(kept)).unwrap();
        let namespace = Namespace::with_run_id("kept01");
        journal.keep_run(&namespace, now_unix() + 600).unwrap();
        assert!(journal.left_on(server).is_empty(), "swept while kept");
        journal.keep_run(&namespace, now_unix().saturating_sub(1)).unwrap();
        assert_eq!(journal.left_on(server).len(), 1, "not swept after the keep time");
    }

    #[test]
    fn runs_opened_and_closed_at_the_same_time_keep_each_others_entries() {
        let dir = tempfile::tempdir().unwrap();
        std::thread::scope(|scope| {
            for t in 0..4 {
                let journal = Journal::new(Some(dir.path()));
                scope.spawn(move || {
                    for i in 0..25 {
                        let ns = Namespace::with_run_id(&format!("t{t}r{i}"));
                        journal.open_run(&ns, "redis://127.0.0.1:7000").unwrap();
                        if i % 2 == 0 {
                            journal.close_run(&ns).unwrap();
                        }
                    }
                });
            }
        });
        // Every odd run is still open: 4 threads × 12.
        assert_eq!(Journal::new(Some(dir.path())).read().runs.len(), 48);
    }

    #[test]
    fn no_state_dir_keeps_nothing() {
        let journal = Journal::new(None);
        journal.open_run(&Namespace::with_run_id("x1"), "redis://127.0.0.1:6379").unwrap();
        assert!(journal.read().runs.is_empty());
    }
}
