//! A private `redis-server` that this process starts on a free loopback port in a temp dir, and
//! stops when dropped. The only place where server-changing commands may run: the server is ours.

use std::fs;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use redis::Client;

use crate::error::UserError;

/// How long a fresh server may take to accept connections.
const START_TIMEOUT: Duration = Duration::from_secs(10);
/// Port races (someone takes our free port before the server binds it) are retried this often.
const START_ATTEMPTS: usize = 3;

/// `redis-server` on PATH, if any.
pub fn redis_server_path() -> Option<PathBuf> {
    which::which("redis-server").ok()
}

/// A free TCP port on 127.0.0.1 (free when asked: another process may take it before we bind it).
pub fn free_port() -> std::io::Result<u16> {
    Ok(TcpListener::bind(("127.0.0.1", 0))?.local_addr()?.port())
}

/// A redis-server we started; killed and its temp dir removed on drop.
pub struct PrivateServer {
    child: Child,
    port: u16,
    dir: tempfile::TempDir,
    /// The extra arguments it was started with, to restart it the same way.
    extra_args: Vec<String>,
}

impl PrivateServer {
    /// Start one with no persistence (`--save "" --appendonly no`), bound to 127.0.0.1 only.
    pub fn start() -> Result<PrivateServer, UserError> {
        PrivateServer::start_with(&[])
    }

    /// Start one with extra `redis-server` arguments (e.g. `["--appendonly", "yes"]`).
    pub fn start_with(extra_args: &[&str]) -> Result<PrivateServer, UserError> {
        PrivateServer::start_on(extra_args, free_port)
    }

    /// Start one on a port `pick` chooses (a cluster node also needs port + 10000 free).
    pub(super) fn start_on(
        extra_args: &[&str],
        pick: fn() -> std::io::Result<u16>,
    ) -> Result<PrivateServer, UserError> {
        let fail = |reason: String| UserError::PrivateServerFailed { reason };
        let binary = redis_server_path().ok_or(UserError::NoRedisAvailable)?;
        let mut last_error = String::new();
        for _ in 0..START_ATTEMPTS {
            let dir = tempfile::Builder::new()
                .prefix("redis-learn-")
                .tempdir()
                .map_err(|e| fail(format!("no temp dir: {e}")))?;
            let port = pick().map_err(|e| fail(format!("no free port: {e}")))?;
            let child = spawn(&binary, port, dir.path(), extra_args).map_err(|e| fail(e.to_string()))?;
            crate::interrupt::register_private(child.id(), dir.path().to_path_buf());
            let stored = extra_args.iter().map(|a| a.to_string()).collect();
            let mut server = PrivateServer { child, port, dir, extra_args: stored };
            let password = extra_args.iter().position(|a| *a == "--requirepass").and_then(|i| extra_args.get(i + 1));
            match server.wait_until_ready(password.copied()) {
                Ok(()) => return Ok(server),
                Err(e) => last_error = e,
            }
        }
        Err(fail(last_error))
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    /// The URL with a password in it, percent-encoded (`@`, `/`, `#`, `%` … are URL syntax).
    fn url_with(&self, password: Option<&str>) -> String {
        match password {
            Some(password) => {
                let encoded: String = password
                    .bytes()
                    .map(|b| match b {
                        b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => (b as char).to_string(),
                        _ => format!("%{b:02X}"),
                    })
                    .collect();
                format!("redis://:{encoded}@127.0.0.1:{}", self.port)
            }
            None => self.url(),
        }
    }

    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// The server's process id (for a crash demo that kills it).
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Run a command that changes the server (CONFIG SET, DEBUG, FLUSHALL): allowed only here,
    /// because this server is ours.
    pub fn admin(&self, args: &[&str]) -> redis::RedisResult<redis::Value> {
        let client = Client::open(self.url())?;
        let mut con = client.get_connection_with_timeout(Duration::from_secs(2))?;
        let mut cmd = redis::cmd(args[0]);
        for arg in &args[1..] {
            cmd.arg(*arg);
        }
        cmd.query(&mut con)
    }

    /// A connection to this server whose commands are recorded in `trace`, with `timeout` for
    /// connecting, reading and writing.
    pub fn traced_connection(
        &self,
        trace: &super::Trace,
        timeout: Duration,
    ) -> redis::RedisResult<super::TracedConnection> {
        let client = Client::open(self.url())?;
        let con = client.get_connection_with_timeout(timeout)?;
        con.set_read_timeout(Some(timeout))?;
        con.set_write_timeout(Some(timeout))?;
        Ok(super::TracedConnection::new(con, trace))
    }

    /// A connection of its own to this server, with these time limits: the only way to send KEYS.
    pub fn private_connection(&self, timeout: Duration) -> redis::RedisResult<PrivateConnection> {
        let client = Client::open(self.url())?;
        let con = client.get_connection_with_timeout(timeout)?;
        con.set_read_timeout(Some(timeout))?;
        con.set_write_timeout(Some(timeout))?;
        Ok(PrivateConnection(con))
    }

    /// `kill -9` it: SIGKILL, no chance to save anything (a crash demo). The directory stays.
    pub fn kill9(&mut self) -> std::io::Result<()> {
        self.child.kill()
    }

    /// Start a new process with the same arguments in the same directory, on the same port if it is
    /// still free (else a fresh one), after
    /// the old one stopped (a crash demo killed it; it is killed here if it still runs): it loads
    /// whatever the old one left on disk (RDB snapshot, AOF). Ready means it answers and finished
    /// loading. The directory is still removed when this guard drops.
    pub fn restart(&mut self) -> Result<(), UserError> {
        let fail = |reason: String| UserError::PrivateServerFailed { reason };
        let _ = self.child.kill();
        let _ = self.child.wait();
        crate::interrupt::unregister_private(self.child.id());
        let binary = redis_server_path().ok_or(UserError::NoRedisAvailable)?;
        let owned = self.extra_args.clone();
        let args: Vec<&str> = owned.iter().map(String::as_str).collect();
        let password = args.iter().position(|a| *a == "--requirepass").and_then(|i| args.get(i + 1)).copied();
        let mut last_error = String::new();
        for attempt in 0..START_ATTEMPTS {
            // The same address first (clients and the run journal know it); a fresh port if it
            // was taken meanwhile.
            if attempt > 0 {
                self.port = free_port().map_err(|e| fail(format!("no free port: {e}")))?;
            }
            self.child = spawn(&binary, self.port, self.dir.path(), &args).map_err(|e| fail(e.to_string()))?;
            crate::interrupt::register_private(self.child.id(), self.dir.path().to_path_buf());
            match self.wait_until_ready(password).and_then(|()| self.wait_until_loaded(password)) {
                Ok(()) => return Ok(()),
                Err(e) => {
                    last_error = e;
                    let _ = self.child.kill();
                    let _ = self.child.wait();
                    crate::interrupt::unregister_private(self.child.id());
                }
            }
        }
        Err(fail(last_error))
    }

    /// Wait until INFO says `loading:0` (a restarted server replays its files first).
    fn wait_until_loaded(&self, password: Option<&str>) -> Result<(), String> {
        let url = self.url_with(password);
        let client = Client::open(url).map_err(|e| e.to_string())?;
        let deadline = Instant::now() + START_TIMEOUT;
        loop {
            if let Ok(mut con) = client.get_connection_with_timeout(Duration::from_millis(200))
                && let Ok(info) = redis::cmd("INFO").arg("persistence").query::<redis::InfoDict>(&mut con)
                && info.get::<u32>("loading") == Some(0)
            {
                return Ok(());
            }
            if Instant::now() > deadline {
                return Err(format!("redis-server did not finish loading within {}s", START_TIMEOUT.as_secs()));
            }
            thread::sleep(Duration::from_millis(20));
        }
    }

    /// Has the server exited (e.g. after a crash demo)?
    pub fn has_exited(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(Some(_)))
    }

    /// Wait until *our* process answers on the port. Another server that grabbed the port first
    /// also answers PING, so the process id it reports must be our child's.
    fn wait_until_ready(&mut self, password: Option<&str>) -> Result<(), String> {
        let url = self.url_with(password);
        let client = Client::open(url).map_err(|e| e.to_string())?;
        let deadline = Instant::now() + START_TIMEOUT;
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                let log = fs::read_to_string(self.dir.path().join("redis.log")).unwrap_or_default();
                let last = log.lines().rev().find(|l| !l.trim().is_empty()).unwrap_or("no log");
                return Err(format!("redis-server exited ({status}): {last}"));
            }
            // Someone else's server may hold the port (then ours fails to bind and exits): only our
            // own process id counts as ready.
            if let Ok(mut con) = client.get_connection_with_timeout(Duration::from_millis(200))
                && let Ok(info) = redis::cmd("INFO").arg("server").query::<redis::InfoDict>(&mut con)
                && info.get::<u32>("process_id") == Some(self.child.id())
            {
                return Ok(());
            }
            if Instant::now() > deadline {
                return Err(format!("redis-server did not answer within {}s", START_TIMEOUT.as_secs()));
            }
            thread::sleep(Duration::from_millis(20));
        }
    }
}

/// A connection to a [`PrivateServer`], which only the server hands out. KEYS walks every key in
/// one command and every other client waits meanwhile, so it is sent on no server but one of ours,
/// where a demo times it side by side with SCAN.
pub struct PrivateConnection(redis::Connection);

impl PrivateConnection {
    /// `KEYS pattern`: every matching key, in one command (recorded in `trace`, like every command
    /// a demo sends).
    pub fn keys(&mut self, pattern: &str, trace: &super::Trace) -> redis::RedisResult<Vec<String>> {
        trace.record(&["KEYS", pattern]);
        redis::cmd("KEYS").arg(pattern).query(&mut self.0)
    }
}

fn spawn(binary: &Path, port: u16, dir: &Path, extra_args: &[&str]) -> std::io::Result<Child> {
    let mut command = Command::new(binary);
    command
        .args(["--port", &port.to_string(), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"])
        .args(["--daemonize", "no", "--protected-mode", "yes"])
        .arg("--dir")
        .arg(dir)
        .arg("--logfile")
        .arg(dir.join("redis.log"))
        .args(extra_args)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    // Its own process group: Ctrl-C in the terminal reaches us, and we stop the server ourselves
    // after cleaning up, instead of the server vanishing under a running demo.
    #[cfg(unix)]
    {
        use std::os::unix::process::CommandExt;
        command.process_group(0);
    }
    command.spawn()
}

impl Drop for PrivateServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        crate::interrupt::unregister_private(self.child.id());
    }
}
