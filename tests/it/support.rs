//! The integration-test harness: a private `redis-server` per test (free loopback port, stopped on
//! drop), and a fluent runner for the real binary with a clean environment:
//! `Test::new().args(["lesson", "1"]).redis(&server).run().success().stdout_contains("p50")`.

#![allow(dead_code)]

use std::io::Write;
use std::path::PathBuf;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{RwLock, RwLockReadGuard, RwLockWriteGuard};
use std::time::{Duration, Instant};

use redis_learn::server::{PrivateServer, free_port};
use serde_json::Value;

const BIN: &str = env!("CARGO_BIN_EXE_redis-learn");

/// Lesson runs: a timed one runs alone ([`heavy`]); runs on the fake clock ([`fake_clock_run`]) may
/// run beside each other, never beside a timed one.
static LESSON_RUNS: RwLock<()> = RwLock::new(());

/// Lesson runs are timed: run them one at a time so they do not skew each other's numbers.
pub fn heavy() -> RwLockWriteGuard<'static, ()> {
    LESSON_RUNS.write().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// A run on the fake clock (`REDIS_LEARN_TEST_FAKE_CLOCK=1`): its figures and the words chosen from
/// them do not depend on the machine's load, so such runs share the machine with each other; they
/// still wait for a timed run to finish (their work would skew its numbers).
pub fn fake_clock_run() -> RwLockReadGuard<'static, ()> {
    LESSON_RUNS.read().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// A URL where nothing listens.
pub fn dead_url() -> String {
    format!("redis://127.0.0.1:{}", free_port().unwrap())
}

/// A redis-server started for one test.
pub struct Server {
    inner: PrivateServer,
}

impl Server {
    pub fn start(extra_args: &[&str]) -> Server {
        match PrivateServer::start_with(extra_args) {
            Ok(inner) => Server { inner },
            Err(err) => panic!("the tests need redis-server on PATH (Debian: apt install redis-server): {err}"),
        }
    }

    pub fn url(&self) -> String {
        self.inner.url()
    }

    pub fn port(&self) -> u16 {
        self.inner.port()
    }

    pub fn dir(&self) -> &std::path::Path {
        self.inner.dir()
    }

    pub fn pid(&self) -> u32 {
        self.inner.pid()
    }

    /// Start it again after it died: same arguments, directory and (if free) port.
    pub fn restart(&mut self) {
        self.inner.restart().unwrap();
    }

    /// SIGSTOP: the process stays, its sockets accept, nothing answers (a stalled VM).
    pub fn freeze(&self) {
        signal(self.inner.pid(), "-STOP");
    }

    pub fn thaw(&self) {
        signal(self.inner.pid(), "-CONT");
    }

    /// A connection of the test's own.
    pub fn client(&self) -> redis::Connection {
        self.connection()
    }

    /// Keys any run of redis-learn wrote and did not remove.
    pub fn our_keys(&self) -> usize {
        let mut con = self.connection();
        let keys: Vec<String> = redis::cmd("SCAN")
            .arg(0)
            .arg("MATCH")
            .arg("redis-learn:*")
            .arg("COUNT")
            .arg(100_000)
            .query::<(u64, Vec<String>)>(&mut con)
            .unwrap()
            .1;
        keys.len()
    }

    fn connection(&self) -> redis::Connection {
        redis::Client::open(self.url()).unwrap().get_connection().unwrap()
    }

    pub fn dbsize(&self) -> i64 {
        redis::cmd("DBSIZE").query(&mut self.connection()).unwrap()
    }

    /// Key count and DEBUG DIGEST (a hash of the whole data set; needs --enable-debug-command yes).
    pub fn fingerprint(&self) -> (i64, String) {
        let digest: String = redis::cmd("DEBUG").arg("DIGEST").query(&mut self.connection()).unwrap();
        (self.dbsize(), digest)
    }

    /// Data of every type, some with TTLs, as if another application used this server.
    pub fn fill_with_someone_elses_data(&self) {
        let mut con = self.connection();
        let mut pipe = redis::pipe();
        for i in 0..200 {
            pipe.cmd("SET").arg(format!("user:{i}:name")).arg(format!("name-{i}")).ignore();
            pipe.cmd("HSET").arg(format!("profile:{i}")).arg("email").arg(format!("u{i}@example.com")).ignore();
            pipe.cmd("RPUSH").arg("queue:jobs").arg(format!("job-{i}")).ignore();
            pipe.cmd("SADD").arg("online").arg(format!("u{i}")).ignore();
            pipe.cmd("ZADD").arg("scores").arg(i).arg(format!("player-{i}")).ignore();
        }
        pipe.cmd("SET").arg("session:keep").arg("abc").arg("EX").arg(100_000).ignore();
        pipe.exec(&mut con).unwrap();
    }
}

/// One run of the binary.
pub struct Test {
    command: Command,
    home: tempfile::TempDir,
    stdin: Option<String>,
}

impl Test {
    pub fn new() -> Test {
        let home = tempfile::tempdir().unwrap();
        let mut command = Command::new(BIN);
        command
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("HOME", home.path())
            .env("XDG_DATA_HOME", home.path().join("data"))
            .env("XDG_CONFIG_HOME", home.path().join("config"))
            .env("REDIS_LEARN_STATE_DIR", home.path().join("state"))
            .env("LANG", "C.UTF-8")
            .env("NO_COLOR", "1")
            .env("RUST_BACKTRACE", "0")
            // Never the server on 6379: without a URL, the default probe goes nowhere.
            .env("REDIS_LEARN_DEFAULT_URL", dead_url());
        if let Some(tmp) = std::env::var_os("TMPDIR") {
            command.env("TMPDIR", tmp);
        }
        Test { command, home, stdin: None }
    }

    pub fn args<I, S>(mut self, args: I) -> Test
    where
        I: IntoIterator<Item = S>,
        S: AsRef<std::ffi::OsStr>,
    {
        self.command.args(args);
        self
    }

    pub fn env(mut self, key: &str, value: &str) -> Test {
        self.command.env(key, value);
        self
    }

    pub fn redis(self, server: &Server) -> Test {
        self.env("REDIS_URL", &server.url())
    }

    pub fn stdin(mut self, text: &str) -> Test {
        self.stdin = Some(text.to_string());
        self
    }

    /// No redis-server to start: PATH points at an empty directory.
    pub fn without_redis_server_on_path(mut self) -> Test {
        let empty: PathBuf = self.home.path().join("empty-bin");
        std::fs::create_dir_all(&empty).unwrap();
        self.command.env("PATH", empty);
        self
    }

    pub fn run(mut self) -> Output {
        self.command.stdout(Stdio::piped()).stderr(Stdio::piped()).stdin(Stdio::piped());
        let mut child = self.command.spawn().unwrap();
        let input = self.stdin.take().unwrap_or_default();
        let mut stdin = child.stdin.take().unwrap();
        stdin.write_all(input.as_bytes()).unwrap();
        drop(stdin);
        let out = child.wait_with_output().unwrap();
        Output {
            status: out.status,
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    }

    /// Start without waiting (for the Ctrl-C test); the child keeps the temp HOME alive. Its
    /// stderr is piped: read it after it ends with [`stderr_of`].
    pub fn spawn(mut self) -> Child {
        self.command.stdout(Stdio::null()).stderr(Stdio::piped()).stdin(Stdio::null());
        let child = self.command.spawn().unwrap();
        std::mem::forget(self.home);
        child
    }

    /// Start without waiting, stdout and stderr piped (to read, or to close early like `| head`).
    pub fn spawn_piped(mut self) -> Child {
        self.command.stdout(Stdio::piped()).stderr(Stdio::piped()).stdin(Stdio::null());
        let child = self.command.spawn().unwrap();
        std::mem::forget(self.home);
        child
    }
}

#[derive(Debug, Clone)]
pub struct Output {
    pub status: ExitStatus,
    pub stdout: String,
    pub stderr: String,
}

impl Output {
    pub fn success(self) -> Output {
        self.code(0)
    }

    pub fn code(self, expected: i32) -> Output {
        assert_eq!(
            self.status.code(),
            Some(expected),
            "exit status\n{}--- stdout ---\n{}\n--- stderr ---\n{}",
            self.failed_claims(),
            self.stdout,
            self.stderr
        );
        self
    }

    /// The claims a JSON run did not hold, one line each, so that a failure's first lines say
    /// which (a CI log may keep only the head of a long JSON document).
    fn failed_claims(&self) -> String {
        let Ok(doc) = serde_json::from_str::<Value>(&self.stdout) else { return String::new() };
        let mut lines = String::new();
        for demo in doc["demos"].as_array().into_iter().flatten() {
            if let Some(error) = demo["error"].as_str() {
                lines += &format!("demo {} error: {error}\n", demo["name"]);
            }
            for claim in demo["claims"].as_array().into_iter().flatten().filter(|c| c["status"] != "held") {
                lines += &format!(
                    "demo {} claim {} {}: {} ({})\n",
                    demo["name"], claim["id"], claim["status"], claim["measured"], claim["text"]
                );
            }
        }
        lines
    }

    pub fn stdout_contains(&self, needle: &str) -> &Output {
        assert!(
            self.stdout.contains(needle),
            "stdout lacks {needle:?}:\n{}\n--- stderr ---\n{}",
            self.stdout,
            self.stderr
        );
        self
    }

    pub fn stderr_contains(&self, needle: &str) -> &Output {
        assert!(self.stderr.contains(needle), "stderr lacks {needle:?}:\n{}", self.stderr);
        self
    }

    pub fn stdout_lacks(&self, needle: &str) -> &Output {
        assert!(!self.stdout.contains(needle), "stdout has {needle:?}:\n{}", self.stdout);
        self
    }

    pub fn stderr_lacks(&self, needle: &str) -> &Output {
        assert!(!self.stderr.contains(needle), "stderr has {needle:?}:\n{}", self.stderr);
        self
    }

    pub fn no_panic(&self) -> &Output {
        for text in [&self.stdout, &self.stderr] {
            assert!(!text.contains("panicked") && !text.contains("RUST_BACKTRACE"), "a panic:\n{text}");
        }
        self
    }

    pub fn json(&self) -> Value {
        serde_json::from_str(&self.stdout).unwrap_or_else(|e| panic!("not one JSON document ({e}):\n{}", self.stdout))
    }
}

/// Ctrl-C, as a terminal would send it.
pub fn interrupt(child: &Child) {
    signal(child.id(), "-INT");
}

/// `kill SIGNAL pid`.
pub fn signal(pid: u32, signal: &str) {
    let status = Command::new("kill").args([signal, &pid.to_string()]).status().unwrap();
    assert!(status.success(), "kill {signal} {pid}");
}

/// Wait until the server holds a key of ours (the lesson is writing), at most a minute.
pub fn wait_for_our_keys(server: &Server) {
    let started = Instant::now();
    while server.our_keys() == 0 && started.elapsed() < Duration::from_secs(60) {
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(server.our_keys() > 0, "the lesson wrote nothing within a minute");
}

/// What a spawned child wrote to stderr (after it ended).
pub fn stderr_of(child: &mut Child) -> String {
    let mut text = String::new();
    if let Some(mut err) = child.stderr.take() {
        let _ = std::io::Read::read_to_string(&mut err, &mut text);
    }
    text
}

pub fn wait_with_timeout(child: &mut Child, timeout: Duration) -> ExitStatus {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("the process did not stop within {timeout:?} of Ctrl-C");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Run `lesson` (quick, JSON) on a server of its own with no `redis-server` on PATH: the run must
/// succeed, leave no key and fail no demo it ran; returns the document and the names of the demos
/// it skipped.
pub fn lesson_without_redis_server(lesson: &str) -> (Value, Vec<String>) {
    let server = Server::start(&[]);
    let _serial = heavy();
    let doc = Test::new()
        .args(["lesson", lesson, "--quick", "--json", "--no-quiz"])
        .redis(&server)
        .without_redis_server_on_path()
        .run()
        .success()
        .json();
    let demos = doc["demos"].as_array().unwrap();
    let skipped =
        demos.iter().filter(|d| !d["skipped"].is_null()).map(|d| d["name"].as_str().unwrap().to_string()).collect();
    assert!(demos.iter().filter(|d| d["skipped"].is_null()).all(|d| d["error"].is_null()), "{doc}");
    assert_eq!(doc["keys_left"], 0, "{doc}");
    (doc, skipped)
}
