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
/// A sentinel's config file, in its temp dir.
const SENTINEL_CONFIG: &str = "sentinel.conf";

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
    /// `--keep`: left running on purpose (a timer stops it); drop leaves it alone.
    kept: bool,
    /// A config file in `dir` given first on the command line (a sentinel's, which it rewrites).
    config: Option<PathBuf>,
}

/// How a [`PrivateServer::start_sentinel`] watches its primary (`sentinel monitor` and friends).
#[derive(Debug, Clone)]
pub struct SentinelSettings {
    /// The name clients ask for (`SENTINEL get-master-addr-by-name NAME`).
    pub name: String,
    /// Sentinels that must agree the primary is down before a failover.
    pub quorum: u32,
    /// Silence after which a sentinel thinks the primary is down (`down-after-milliseconds`).
    pub down_after: Duration,
    /// `failover-timeout`: also how long before a failed failover is tried again.
    pub failover_timeout: Duration,
}

impl PrivateServer {
    /// Start one with no persistence (`--save "" --appendonly no`), bound to 127.0.0.1 only.
    pub fn start() -> Result<PrivateServer, UserError> {
        PrivateServer::start_with(&[])
    }

    /// Start one with extra `redis-server` arguments (e.g. `["--appendonly", "yes"]`).
    pub fn start_with(extra_args: &[&str]) -> Result<PrivateServer, UserError> {
        PrivateServer::start_in_mode(None, extra_args, free_port)
    }

    /// A replica (`--replicaof 127.0.0.1 PORT`) of the primary on `primary_port` (or of a relay in
    /// front of it), ready once its first sync is done and its link to the primary is up.
    pub fn start_replica_of(primary_port: u16) -> Result<PrivateServer, UserError> {
        let port = primary_port.to_string();
        let replica = PrivateServer::start_with(&["--replicaof", "127.0.0.1", &port])?;
        replica.wait_until_synced().map_err(|reason| UserError::PrivateServerFailed { reason })?;
        Ok(replica)
    }

    /// A Sentinel (`redis-server sentinel.conf --sentinel`) watching `primary`, with its own config
    /// file in its temp dir (a sentinel rewrites it). It finds the primary's replicas and the other
    /// sentinels by itself; see [`PrivateServer::sentinel_sees`].
    pub fn start_sentinel(primary: &PrivateServer, settings: &SentinelSettings) -> Result<PrivateServer, UserError> {
        let name = &settings.name;
        let config = format!(
            "sentinel monitor {name} 127.0.0.1 {port} {quorum}\n\
             sentinel down-after-milliseconds {name} {down}\n\
             sentinel failover-timeout {name} {timeout}\n\
             sentinel parallel-syncs {name} 1\n",
            port = primary.port(),
            quorum = settings.quorum,
            down = settings.down_after.as_millis(),
            timeout = settings.failover_timeout.as_millis(),
        );
        PrivateServer::start_in_mode(Some(config), &[], free_port)
    }

    /// Start one on a port `pick` chooses (a cluster node also needs port + 10000 free).
    pub(super) fn start_on(
        extra_args: &[&str],
        pick: fn() -> std::io::Result<u16>,
    ) -> Result<PrivateServer, UserError> {
        PrivateServer::start_in_mode(None, extra_args, pick)
    }

    /// Start one on a port `pick` chooses; with `sentinel_config`, as a sentinel whose config file
    /// holds that text.
    fn start_in_mode(
        sentinel_config: Option<String>,
        extra_args: &[&str],
        pick: fn() -> std::io::Result<u16>,
    ) -> Result<PrivateServer, UserError> {
        let fail = |reason: String| UserError::PrivateServerFailed { reason };
        let binary = redis_server_path().ok_or(UserError::NoRedisAvailable)?;
        let mut last_error = String::new();
        for _ in 0..START_ATTEMPTS {
            let dir = tempfile::Builder::new()
                .prefix(&format!("{SERVER_DIR_PREFIX}{}-", std::process::id()))
                .tempdir()
                .map_err(|e| fail(format!("no temp dir: {e}")))?;
            let port = pick().map_err(|e| fail(format!("no free port: {e}")))?;
            let config = match &sentinel_config {
                Some(text) => {
                    let path = dir.path().join(SENTINEL_CONFIG);
                    fs::write(&path, text).map_err(|e| fail(format!("writing {}: {e}", path.display())))?;
                    Some(path)
                }
                None => None,
            };
            let child =
                spawn(&binary, config.as_deref(), port, dir.path(), extra_args).map_err(|e| fail(e.to_string()))?;
            crate::interrupt::register_private(child.id(), dir.path().to_path_buf());
            // For the sweep, if this process dies without stopping it (see `sweep_orphans`).
            fs::write(dir.path().join(SERVER_PID_FILE), child.id().to_string())
                .map_err(|e| fail(format!("writing {}: {e}", dir.path().display())))?;
            let stored = extra_args.iter().map(|a| a.to_string()).collect();
            let mut server = PrivateServer { child, port, dir, extra_args: stored, kept: false, config };
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
            self.child = spawn(&binary, self.config.as_deref(), self.port, self.dir.path(), &args)
                .map_err(|e| fail(e.to_string()))?;
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

    /// Wait until this replica finished its sync with its primary and the link is up.
    fn wait_until_synced(&self) -> Result<(), String> {
        let client = Client::open(self.url()).map_err(|e| e.to_string())?;
        let deadline = Instant::now() + START_TIMEOUT;
        loop {
            if let Ok(mut con) = client.get_connection_with_timeout(Duration::from_millis(200))
                && let Ok(info) = redis::cmd("INFO").arg("replication").query::<redis::InfoDict>(&mut con)
                && info.get::<String>("master_link_status").as_deref() == Some("up")
                && info.get::<u32>("master_sync_in_progress") == Some(0)
            {
                return Ok(());
            }
            if Instant::now() > deadline {
                return Err(format!("the replica did not sync with its primary within {}s", START_TIMEOUT.as_secs()));
            }
            thread::sleep(Duration::from_millis(20));
        }
    }

    /// Does this sentinel know the primary `name` with `replicas` replicas and `sentinels` sentinels
    /// (itself included)? Sentinels find each other through the primary every 2 s or so.
    pub fn sentinel_sees(&self, name: &str, replicas: usize, sentinels: usize) -> bool {
        let Ok(client) = Client::open(self.url()) else { return false };
        let Ok(mut con) = client.get_connection_with_timeout(Duration::from_millis(200)) else { return false };
        let _ = con.set_read_timeout(Some(Duration::from_millis(500)));
        let Ok(info) = redis::cmd("INFO").arg("sentinel").query::<redis::InfoDict>(&mut con) else { return false };
        // master0:name=m,status=ok,address=127.0.0.1:6379,slaves=1,sentinels=3
        let want = [format!("name={name}"), format!("slaves={replicas}"), format!("sentinels={sentinels}")];
        (0..16).filter_map(|i| info.get::<String>(&format!("master{i}"))).any(|line| {
            let fields: Vec<&str> = line.split(',').collect();
            want.iter().all(|w| fields.contains(&w.as_str()))
        })
    }

    /// Freeze the process (SIGSTOP), as a stalled VM or a cut network would: its sockets stay open
    /// and nothing answers. [`PrivateServer::resume`] thaws it; dropping it kills it either way.
    pub fn pause(&self) -> std::io::Result<()> {
        crate::process::signal(self.child.id(), "-STOP")
    }

    /// Thaw a [`PrivateServer::pause`]d process (SIGCONT).
    pub fn resume(&self) -> std::io::Result<()> {
        crate::process::signal(self.child.id(), "-CONT")
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

fn spawn(
    binary: &Path,
    sentinel_config: Option<&Path>,
    port: u16,
    dir: &Path,
    extra_args: &[&str],
) -> std::io::Result<Child> {
    let mut command = Command::new(binary);
    if let Some(config) = sentinel_config {
        command.arg(config).arg("--sentinel");
    }
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

impl PrivateServer {
    /// `--keep`: leave this server running after the run, for `ttl`. A detached timer (`sh`, in its
    /// own process group) stops it then and removes its directory, unless something stopped it
    /// sooner; the record, written to `state_dir`, lets a later run or `reset` stop it.
    pub fn keep_for(mut self, ttl: Duration, state_dir: Option<&Path>) -> std::io::Result<super::kept::Kept> {
        let pid = self.child.id();
        let dir = self.dir.path().to_path_buf();
        // Stop it only if that process is still our redis-server (not a reused pid).
        let script = format!(
            "sleep {secs}; if grep -q redis-server /proc/{pid}/cmdline 2>/dev/null; then kill {pid}; fi; sleep 2; rm -rf '{dir}'",
            secs = ttl.as_secs(),
            dir = dir.display(),
        );
        let mut timer = Command::new("sh");
        timer.args(["-c", &script]).stdin(Stdio::null()).stdout(Stdio::null()).stderr(Stdio::null());
        #[cfg(unix)]
        {
            use std::os::unix::process::CommandExt;
            timer.process_group(0);
        }
        let timer = timer.spawn()?;
        let kept = super::kept::Kept {
            pid,
            port: self.port,
            dir,
            timer_pid: timer.id(),
            until_unix: super::journal::now_unix() + ttl.as_secs(),
        };
        kept.record(state_dir)?;
        crate::interrupt::unregister_private(pid);
        // Its owner ends now, on purpose: the sweep leaves it to its timer.
        fs::write(self.dir.path().join(KEPT_MARKER), "")?;
        self.dir.disable_cleanup(true);
        self.kept = true;
        Ok(kept)
    }
}

/// A private server's directory: this, the pid of the redis-learn process that started it, `-`,
/// random characters (`redis-learn-srv-4242-a1B2c3`).
pub const SERVER_DIR_PREFIX: &str = "redis-learn-srv-";
/// The redis-server's own pid, written in its directory when it starts.
const SERVER_PID_FILE: &str = "server.pid";
/// In the directory of a server `--keep` leaves running: its owner ended on purpose.
const KEPT_MARKER: &str = "kept";

/// Stop the private servers whose redis-learn died without stopping them (`kill -9`, a power cut
/// leaves nothing to stop), and remove their directories; returns how many directories went.
/// A server is stopped only when `/proc/<pid>` shows a redis-server working in that very directory
/// (a reused pid is left alone); a live owner's servers and kept ones are not
/// touched. Cheap: one `read_dir` of the temp dir.
pub fn sweep_orphans(temp: &Path) -> usize {
    let Ok(entries) = fs::read_dir(temp) else { return 0 };
    let mut removed = 0;
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        let Some(owner) = name.strip_prefix(SERVER_DIR_PREFIX).and_then(|r| r.split_once('-')).map(|(pid, _)| pid)
        else {
            continue;
        };
        let dir = entry.path();
        let orphaned = owner.parse::<u32>().is_ok_and(|pid| pid != std::process::id() && !crate::process::alive(pid));
        if !orphaned || dir.join(KEPT_MARKER).exists() {
            continue;
        }
        if let Some(pid) = fs::read_to_string(dir.join(SERVER_PID_FILE)).ok().and_then(|t| t.trim().parse::<u32>().ok())
            // redis-server rewrites its title (`redis-server 127.0.0.1:PORT`), but works in its --dir.
            && crate::process::runs(pid, "redis-server")
            && fs::read_link(format!("/proc/{pid}/cwd")).is_ok_and(|cwd| dir.canonicalize().is_ok_and(|d| d == cwd))
        {
            let _ = crate::process::signal(pid, "-KILL");
            // Reaped by init (a zombie's command line is empty); wait for it before its directory goes.
            for _ in 0..50 {
                if !crate::process::runs(pid, "redis-server") {
                    break;
                }
                std::thread::sleep(Duration::from_millis(20));
            }
        }
        if fs::remove_dir_all(&dir).is_ok() {
            removed += 1;
        }
    }
    removed
}

impl Drop for PrivateServer {
    fn drop(&mut self) {
        if self.kept {
            return;
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
        crate::interrupt::unregister_private(self.child.id());
    }
}
