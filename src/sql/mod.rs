//! The SQL side of every comparison: SQLite connections (in memory, or a file with a chosen
//! durability), the filesystem a file lives on (fsync is free on tmpfs, so we say which), and the
//! deterministic token/trade data set the cache lesson queries, and the scratch directory a run keeps
//! its SQLite files in.

pub mod remote;
pub mod scratch;
pub mod tokens;

use std::path::Path;

use anyhow::{Context, Result};
use rusqlite::Connection;

/// How hard a file database works to survive a power cut.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Durability {
    /// `synchronous=FULL`: every commit waits for the disk (fsync).
    Full,
    /// `synchronous=OFF`: commits go to the OS and return; a power cut may lose them.
    Off,
}

/// The SQLite library version this binary carries (bundled).
pub fn sqlite_version() -> &'static str {
    rusqlite::version()
}

pub fn open_memory() -> Result<Connection> {
    Connection::open_in_memory().context("opening an in-memory SQLite database")
}

/// A file database in WAL mode with the given durability.
pub fn open_file(path: &Path, durability: Durability) -> Result<Connection> {
    let con = Connection::open(path).with_context(|| format!("opening SQLite file {}", path.display()))?;
    con.pragma_update_and_check(None, "journal_mode", "WAL", |r| r.get::<_, String>(0))
        .context("setting journal_mode=WAL")?;
    let level = match durability {
        Durability::Full => "FULL",
        Durability::Off => "OFF",
    };
    con.pragma_update(None, "synchronous", level).context("setting synchronous")?;
    Ok(con)
}

/// The type of the filesystem holding `path` (`ext4`, `tmpfs`, `overlay`, ...), from
/// `/proc/self/mounts` (Linux); `None` where that cannot be read.
/// A worker thread's own connection to a shared SQLite file: it waits up to `busy` for a lock, and
/// commits without fsync (as Redis without AOF fsync does not wait for the disk either).
pub fn open_worker(path: &Path, busy: std::time::Duration) -> Result<Connection> {
    let con = Connection::open(path).with_context(|| format!("opening SQLite file {}", path.display()))?;
    con.busy_timeout(busy).context("setting busy_timeout")?;
    con.pragma_update(None, "synchronous", "OFF").context("setting synchronous")?;
    Ok(con)
}

pub fn filesystem_type(path: &Path) -> Option<String> {
    let path = path.canonicalize().ok()?;
    let mounts = std::fs::read_to_string("/proc/self/mounts").ok()?;
    mounts
        .lines()
        .filter_map(|line| {
            let mut fields = line.split_whitespace();
            let _device = fields.next()?;
            let mount_point = fields.next()?.replace("\\040", " ");
            let fs_type = fields.next()?;
            path.starts_with(&mount_point).then(|| (mount_point.len(), fs_type.to_string()))
        })
        .max_by_key(|(len, _)| *len)
        .map(|(_, fs_type)| fs_type)
}

/// Filesystems on which fsync costs (almost) nothing: a durability comparison there means little.
pub fn is_memory_filesystem(fs_type: &str) -> bool {
    matches!(fs_type, "tmpfs" | "ramfs")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_databases_use_wal_and_the_chosen_sync() {
        let dir = tempfile::tempdir().unwrap();
        let con = open_file(&dir.path().join("t.db"), Durability::Off).unwrap();
        let mode: String = con.pragma_query_value(None, "journal_mode", |r| r.get(0)).unwrap();
        let sync: i64 = con.pragma_query_value(None, "synchronous", |r| r.get(0)).unwrap();
        assert_eq!(mode, "wal");
        assert_eq!(sync, 0);
    }

    #[test]
    fn the_bundled_sqlite_is_new_enough() {
        let parts: Vec<u32> = sqlite_version().split('.').map(|p| p.parse().unwrap()).collect();
        assert!(parts[0] == 3 && parts[1] >= 45, "{}", sqlite_version());
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn the_root_filesystem_has_a_type() {
        assert!(filesystem_type(Path::new("/")).is_some());
    }
}
