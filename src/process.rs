//! Other processes, by pid: is one running, what does it run, and signalling it (through `kill(1)`:
//! the crate forbids `unsafe`, and `kill` is on every Unix). Callers check that a process is one of
//! ours before they signal it.

use std::path::Path;
use std::process::{Command, Stdio};

/// Is process `pid` running? (/proc where there is one, else `kill -0`; when neither can tell, it
/// counts as running, so whatever it owns is left alone.)
pub fn alive(pid: u32) -> bool {
    if Path::new("/proc/self").exists() {
        return Path::new(&format!("/proc/{pid}")).exists();
    }
    Command::new("kill")
        .args(["-0", &pid.to_string()])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .map_or(true, |s| s.success())
}

/// Is `pid` a process whose command line mentions `name`? (Linux; elsewhere: no.)
pub fn runs(pid: u32, name: &str) -> bool {
    std::fs::read(format!("/proc/{pid}/cmdline")).is_ok_and(|cmd| String::from_utf8_lossy(&cmd).contains(name))
}

/// `kill -STOP pid` and the like (`signal` is `-STOP`, `-KILL`, `-TERM` …).
pub fn signal(pid: u32, signal: &str) -> std::io::Result<()> {
    let status =
        Command::new("kill").arg(signal).arg(pid.to_string()).stdout(Stdio::null()).stderr(Stdio::null()).status()?;
    if status.success() { Ok(()) } else { Err(std::io::Error::other(format!("kill {signal} {pid}: {status}"))) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn this_process_is_alive_and_an_unused_pid_is_not() {
        assert!(alive(std::process::id()));
        // Above the kernel's pid_max (4,194,304 at most on Linux).
        assert!(!alive(4_194_305 + 1_000));
        assert!(signal(4_194_305 + 1_000, "-0").is_err());
    }
}
