//! Private redis-servers left running on purpose (`lesson N --keep MINUTES` without `--redis`):
//! each stops itself after its time (a detached timer, see [`super::PrivateServer::keep_for`]);
//! a later run or `reset` stops them sooner ([`stop_all`]).
//!
//! File: `kept-servers.json` in the state directory, `{"version": 1, "servers": [{"pid", "port",
//! "dir", "timer_pid", "until_unix"}]}`, replaced atomically (temp file + rename) on every change,
//! under the lock `kept-servers.json.lock` ([`crate::progress::StateLock`]).

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

pub const FILE_NAME: &str = "kept-servers.json";
const VERSION: u32 = 1;

/// One kept server.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Kept {
    pub pid: u32,
    pub port: u16,
    /// Its working directory (log, files), removed when it stops.
    pub dir: PathBuf,
    /// The `sh` that stops it at `until_unix`.
    pub timer_pid: u32,
    pub until_unix: u64,
}

#[derive(Debug, Default, Serialize, Deserialize)]
struct File {
    version: u32,
    servers: Vec<Kept>,
}

impl Kept {
    /// Add this server to the file in `state_dir` (nothing without one: the timer still stops it).
    pub fn record(&self, state_dir: Option<&Path>) -> std::io::Result<()> {
        let Some(dir) = state_dir else { return Ok(()) };
        let _lock = lock(dir)?;
        let mut file = read(dir);
        file.servers.push(self.clone());
        write(dir, &file)
    }
}

/// Stop every kept server recorded in `state_dir` that still runs (and its timer), remove their
/// directories and forget them. Returns the ports of those stopped.
pub fn stop_all(state_dir: Option<&Path>) -> Vec<u16> {
    let Some(dir) = state_dir else { return Vec::new() };
    if read(dir).servers.is_empty() {
        return Vec::new();
    }
    let Ok(_lock) = lock(dir) else { return Vec::new() };
    let file = read(dir);
    if file.servers.is_empty() {
        return Vec::new();
    }
    let mut stopped = Vec::new();
    for kept in &file.servers {
        if crate::process::runs(kept.pid, "redis-server") {
            let _ = crate::process::signal(kept.pid, "-TERM");
            stopped.push(kept.port);
        }
        if crate::process::runs(kept.timer_pid, "sleep") || crate::process::runs(kept.timer_pid, "sh") {
            signal_group(kept.timer_pid);
        }
        let _ = std::fs::remove_dir_all(&kept.dir);
    }
    let _ = write(dir, &File::default());
    stopped
}

/// The timer runs in its own process group (its `sh` and its `sleep`): end them both.
fn signal_group(pgid: u32) {
    let _ = std::process::Command::new("kill")
        .args(["-TERM", "--", &format!("-{pgid}")])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status();
}

fn lock(dir: &Path) -> std::io::Result<crate::progress::StateLock> {
    crate::progress::StateLock::acquire(&dir.join(FILE_NAME)).map_err(std::io::Error::other)
}

fn read(dir: &Path) -> File {
    std::fs::read(dir.join(FILE_NAME)).ok().and_then(|b| serde_json::from_slice(&b).ok()).unwrap_or_default()
}

fn write(dir: &Path, file: &File) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)?;
    let mut tmp = tempfile::NamedTempFile::new_in(dir)?;
    let file = File { version: VERSION, servers: file.servers.clone() };
    serde_json::to_writer_pretty(&mut tmp, &file)?;
    tmp.persist(dir.join(FILE_NAME)).map_err(|e| e.error)?;
    Ok(())
}
