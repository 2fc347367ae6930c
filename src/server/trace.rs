//! The command trace: every connection a demo opens records what it sends, so the lesson can show
//! the commands in redis-cli syntax (to replay them) and how many of each were sent.
//!
//! Recording is cheap enough for timed loops: a count per command name, and the first few examples
//! of each kept locally per connection and merged into the shared trace when the connection drops.
//!
//! Replayable on any server: a script sent as `EVALSHA <sha>` is shown as `EVAL "<body>"`, since
//! the learner's redis-cli may talk to a server that never loaded it (NOSCRIPT). The bodies come
//! from the `SCRIPT LOAD`s and `EVAL`s this process sent; an `EVALSHA` of a script this process has
//! not loaded yet is answered NOSCRIPT without being sent (the same answer a fresh server gives),
//! so redis-rs's `Script` loads it — where the trace learns the body — and sends it again.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use redis::cluster::ClusterConnection;
use redis::cluster_routing::{Route, RoutingInfo, SingleNodeRoutingInfo};
use redis::{ConnectionLike, RedisResult, Value};
use serde::Serialize;

/// Examples kept per command name.
const EXAMPLES_PER_COMMAND: usize = 2;
/// Example lines kept per trace.
const MAX_EXAMPLES: usize = 24;
/// Longer arguments are shortened in the example lines.
const MAX_ARG_CHARS: usize = 96;
/// Example lines show at most this many arguments (a 500-id XACK stays one readable line).
const MAX_ARGS: usize = 12;

/// How much of each command the example lines show.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum TraceDetail {
    /// Long arguments shortened, long commands cut after a dozen arguments.
    #[default]
    Short,
    /// Every argument in full (`--trace full`): long keys and values can be copied as they are.
    Full,
}

/// The shared trace of one demo.
#[derive(Debug, Clone, Default)]
pub struct Trace {
    log: Arc<Mutex<TraceLog>>,
    detail: TraceDetail,
}

#[derive(Debug, Default, Clone)]
struct TraceLog {
    examples: Vec<String>,
    /// (command name, count), in order of first use.
    counts: Vec<(String, u64)>,
    detail: TraceDetail,
}

/// Script bodies this process sent (`SCRIPT LOAD`, `EVAL`), by SHA1: shared by every trace, since
/// a script loaded by one demo is run by EVALSHA in another.
static SCRIPTS: Mutex<BTreeMap<String, String>> = Mutex::new(BTreeMap::new());

fn remember_script(body: &[u8]) {
    let body = String::from_utf8_lossy(body).into_owned();
    let sha = redis::Script::new(&body).get_hash().to_string();
    SCRIPTS.lock().unwrap_or_else(|p| p.into_inner()).insert(sha, body);
}

fn script_body(sha: &[u8]) -> Option<String> {
    let sha = std::str::from_utf8(sha).ok()?.to_ascii_lowercase();
    SCRIPTS.lock().unwrap_or_else(|p| p.into_inner()).get(&sha).cloned()
}

/// What a demo sent: example lines to replay, and totals per command.
#[derive(Debug, Clone, Default, Serialize, PartialEq)]
pub struct TraceReport {
    pub examples: Vec<String>,
    pub counts: Vec<(String, u64)>,
}

impl TraceReport {
    pub fn total(&self) -> u64 {
        self.counts.iter().map(|(_, n)| n).sum()
    }
}

impl Trace {
    pub fn new() -> Trace {
        Trace::default()
    }

    /// A trace whose example lines show this much of each command.
    pub fn with_detail(detail: TraceDetail) -> Trace {
        Trace { detail, ..Trace::default() }
    }

    fn local(&self) -> TraceLog {
        TraceLog { detail: self.detail, ..TraceLog::default() }
    }

    /// Record a command sent outside a traced connection (e.g. by a Pub/Sub subscriber).
    pub fn record(&self, args: &[&str]) {
        let mut local = self.local();
        let borrowed: Vec<&[u8]> = args.iter().map(|a| a.as_bytes()).collect();
        local.record(&borrowed);
        self.merge(local);
    }

    pub fn report(&self) -> TraceReport {
        let log = self.log.lock().unwrap_or_else(|p| p.into_inner());
        TraceReport { examples: log.examples.clone(), counts: log.counts.clone() }
    }

    fn merge(&self, local: TraceLog) {
        let mut log = self.log.lock().unwrap_or_else(|p| p.into_inner());
        for (name, n) in local.counts {
            match log.counts.iter_mut().find(|(have, _)| *have == name) {
                Some((_, count)) => *count += n,
                None => log.counts.push((name, n)),
            }
        }
        for line in local.examples {
            let name = line.split(' ').next().unwrap_or_default().to_string();
            let same = log.examples.iter().filter(|l| l.split(' ').next() == Some(name.as_str())).count();
            if log.examples.len() < MAX_EXAMPLES && same < EXAMPLES_PER_COMMAND {
                log.examples.push(line);
            }
        }
    }
}

impl TraceLog {
    /// Count one command and keep it as an example while few of its kind are kept.
    fn record(&mut self, args: &[&[u8]]) {
        let Some(name) = args.first() else { return };
        if name.eq_ignore_ascii_case(b"EVAL") && args.len() > 1 {
            remember_script(args[1]);
        }
        if name.eq_ignore_ascii_case(b"SCRIPT") && args.len() > 2 && args[1].eq_ignore_ascii_case(b"LOAD") {
            remember_script(args[2]);
        }
        let seen = match self.counts.iter_mut().find(|(have, _)| have.as_bytes().eq_ignore_ascii_case(name)) {
            Some((_, count)) => {
                *count += 1;
                *count
            }
            None => {
                self.counts.push((String::from_utf8_lossy(name).to_ascii_uppercase(), 1));
                1
            }
        };
        if seen as usize <= EXAMPLES_PER_COMMAND && self.examples.len() < MAX_EXAMPLES {
            self.examples.push(replayable_line(args, self.detail));
        }
    }

    fn record_packed(&mut self, packed: &[u8]) {
        let mut rest = packed;
        while let Some((args, next)) = decode_one(rest) {
            self.record(&args);
            rest = next;
        }
    }
}

/// A connection that records what it sends.
pub struct TracedConnection {
    inner: redis::Connection,
    /// On a Redis Cluster: the cluster connection every command goes through, routed to the slot
    /// of the run's namespace (`inner` is then a plain connection to the node that owns it, for
    /// Pub/Sub).
    cluster: Option<(ClusterConnection, Route)>,
    /// On a cluster, between WATCH or MULTI and EXEC, DISCARD or UNWATCH: commands go on `inner`
    /// (one connection, whose transaction state they share, and whose raw replies keep an error
    /// inside EXEC's array a value, as on one server).
    in_transaction: bool,
    local: TraceLog,
    sink: Trace,
    /// How to open it again when a server with `timeout N` closed it for being idle.
    reopen: Option<Box<dyn Fn() -> RedisResult<redis::Connection> + Send>>,
    last_used: Instant,
}

/// A connection idle at least this long may have been closed by the server's `timeout` setting
/// (whole seconds, at least 1): a command that finds it closed is sent once more on a new one.
const IDLE_BEFORE_RECONNECT: Duration = Duration::from_millis(900);

impl TracedConnection {
    pub fn new(inner: redis::Connection, trace: &Trace) -> TracedConnection {
        TracedConnection {
            inner,
            cluster: None,
            in_transaction: false,
            local: trace.local(),
            sink: trace.clone(),
            reopen: None,
            last_used: Instant::now(),
        }
    }

    /// A connection through the cluster client: every command is sent to the node serving `home`
    /// (the slot of the run's hash tag, where all its keys are), and redirections are followed;
    /// `node` is a plain connection to that node, for what the cluster client cannot carry (Pub/Sub).
    pub fn new_cluster(cluster: ClusterConnection, home: Route, node: redis::Connection, trace: &Trace) -> Self {
        let mut con = TracedConnection::new(node, trace);
        con.cluster = Some((cluster, home));
        con
    }

    /// Reconnect with `reopen` when the server closed the connection after it sat idle.
    pub fn reopening(mut self, reopen: impl Fn() -> RedisResult<redis::Connection> + Send + 'static) -> Self {
        self.reopen = Some(Box::new(reopen));
        self
    }

    /// Run `send` on the connection; when it finds the connection closed after an idle spell,
    /// reconnect and send once more (the server never saw the command: it had closed the socket).
    fn send<T>(&mut self, send: impl Fn(&mut redis::Connection) -> RedisResult<T>) -> RedisResult<T> {
        let idle = self.last_used.elapsed();
        let result = send(&mut self.inner);
        self.last_used = Instant::now();
        match (result, &self.reopen) {
            (Err(err), Some(reopen)) if idle >= IDLE_BEFORE_RECONNECT && err.is_connection_dropped() => {
                self.inner = reopen()?;
                let again = send(&mut self.inner);
                self.last_used = Instant::now();
                again
            }
            (result, _) => result,
        }
    }

    /// The plain connection, for what the trace cannot wrap (Pub/Sub mode). On a cluster: a
    /// connection to the node that serves the run's keys.
    pub fn inner_mut(&mut self) -> &mut redis::Connection {
        &mut self.inner
    }

    /// Is this connection going through the cluster client?
    pub fn is_cluster(&self) -> bool {
        self.cluster.is_some()
    }
}

impl Drop for TracedConnection {
    fn drop(&mut self) {
        let fresh = self.sink.local();
        self.sink.merge(std::mem::replace(&mut self.local, fresh));
    }
}

impl ConnectionLike for TracedConnection {
    fn req_packed_command(&mut self, cmd: &[u8]) -> RedisResult<Value> {
        // Cheap test first (this runs in timed loops): the name is within the first bytes.
        let head = &cmd[..cmd.len().min(24)];
        if head.windows(7).any(|w| w.eq_ignore_ascii_case(b"EVALSHA"))
            && let Some((args, _)) = decode_one(cmd)
            && args.len() > 1
            && args[0].eq_ignore_ascii_case(b"EVALSHA")
            && script_body(args[1]).is_none()
        {
            // See the module's header: let the caller load it, so the trace can show its body.
            return Err(redis::RedisError::from((
                redis::ErrorKind::Server(redis::ServerErrorKind::NoScript),
                "NOSCRIPT",
                "No matching script (redis-learn: not loaded by this run yet)".to_string(),
            )));
        }
        self.local.record_packed(cmd);
        if self.cluster.is_some() {
            let decoded = decode_one(cmd).map(|(args, _)| args).unwrap_or_default();
            let is = |name: &[u8]| decoded.first().is_some_and(|a| a.eq_ignore_ascii_case(name));
            let second = |name: &[u8]| decoded.get(1).is_some_and(|a| a.eq_ignore_ascii_case(name));
            if is(b"MULTI") || is(b"WATCH") {
                self.in_transaction = true;
            }
            // A transaction, and CLIENT ID (the id a demo hands out is the one of the connection it
            // subscribes on, `inner`): on the plain connection to the run's node.
            if self.in_transaction || (is(b"CLIENT") && second(b"ID")) {
                if is(b"EXEC") || is(b"DISCARD") || is(b"UNWATCH") {
                    self.in_transaction = false;
                }
                return self.send(|con| con.req_packed_command(cmd));
            }
            // Every other command to the run's slot: keyless ones too (INFO, SCRIPT LOAD), so they
            // reach the node that holds the keys, as on one server.
            if let Some((cluster, home)) = &mut self.cluster {
                return match decoded.split_first() {
                    Some((name, rest)) => {
                        let mut command = redis::cmd(&String::from_utf8_lossy(name));
                        for arg in rest {
                            command.arg(*arg);
                        }
                        let home = RoutingInfo::SingleNode(SingleNodeRoutingInfo::SpecificNode(*home));
                        cluster.route_command(&command, home)
                    }
                    None => cluster.req_packed_command(cmd),
                };
            }
        }
        self.send(|con| con.req_packed_command(cmd))
    }

    fn req_packed_commands(&mut self, cmd: &[u8], offset: usize, count: usize) -> RedisResult<Vec<Value>> {
        self.local.record_packed(cmd);
        if self.in_transaction {
            // After WATCH: the MULTI … EXEC pipeline goes where the WATCH went.
            self.in_transaction = false;
            return self.send(|con| con.req_packed_commands(cmd, offset, count));
        }
        if let Some((cluster, _)) = &mut self.cluster {
            // A pipeline goes where its first keyed command's slot is (the run's slot).
            return cluster.req_packed_commands(cmd, offset, count);
        }
        self.send(|con| con.req_packed_commands(cmd, offset, count))
    }

    fn get_db(&self) -> i64 {
        self.inner.get_db()
    }

    fn check_connection(&mut self) -> bool {
        match &mut self.cluster {
            Some((cluster, _)) => cluster.check_connection(),
            None => self.inner.check_connection(),
        }
    }

    fn is_open(&self) -> bool {
        match &self.cluster {
            Some((cluster, _)) => cluster.is_open(),
            None => self.inner.is_open(),
        }
    }
}

/// Split the first RESP-encoded command (`*N\r\n$len\r\narg\r\n...`) off `buf`: its arguments, and
/// what follows (pipelines send several). Anything malformed ends the decoding quietly: the trace
/// is only a view.
fn decode_one(buf: &[u8]) -> Option<(Vec<&[u8]>, &[u8])> {
    fn line(buf: &[u8]) -> Option<(&[u8], &[u8])> {
        let end = buf.windows(2).position(|w| w == b"\r\n")?;
        Some((&buf[..end], &buf[end + 2..]))
    }
    fn number(bytes: &[u8]) -> Option<usize> {
        std::str::from_utf8(bytes).ok()?.parse().ok()
    }
    let (header, mut rest) = line(buf)?;
    let count = header.strip_prefix(b"*").and_then(number)?;
    let mut args = Vec::with_capacity(count);
    for _ in 0..count {
        let (len_line, after) = line(rest)?;
        let len = len_line.strip_prefix(b"$").and_then(number)?;
        if after.len() < len + 2 {
            return None;
        }
        args.push(&after[..len]);
        rest = &after[len + 2..];
    }
    Some((args, rest))
}

#[cfg(test)]
fn decode_commands(mut buf: &[u8]) -> Vec<Vec<&[u8]>> {
    let mut commands = Vec::new();
    while let Some((args, rest)) = decode_one(buf) {
        commands.push(args);
        buf = rest;
    }
    commands
}

/// [`cli_line`], with an `EVALSHA` of a known script written as `EVAL "<body>"` (the body in full).
fn replayable_line(args: &[&[u8]], detail: TraceDetail) -> String {
    if args.len() > 1
        && args[0].eq_ignore_ascii_case(b"EVALSHA")
        && let Some(body) = script_body(args[1])
    {
        let first = cli_line(&[b"EVAL", body.as_bytes()], TraceDetail::Full);
        let rest = cli_line(&args[2..], detail);
        return if rest.is_empty() { first } else { format!("{first} {}", rest.trim_start()) };
    }
    cli_line(args, detail)
}

/// One command as you would type it into redis-cli: plain words bare, anything else double-quoted
/// with escapes; with [`TraceDetail::Short`], over-long arguments shortened (and marked).
fn cli_line(args: &[&[u8]], detail: TraceDetail) -> String {
    let (max_args, max_chars) = match detail {
        TraceDetail::Short => (MAX_ARGS, MAX_ARG_CHARS),
        TraceDetail::Full => (usize::MAX, usize::MAX),
    };
    let mut out = String::new();
    for (i, arg) in args.iter().enumerate() {
        if i == max_args {
            out.push_str(&format!(" …(+{} more arguments)", args.len() - max_args));
            break;
        }
        if i > 0 {
            out.push(' ');
        }
        let text = String::from_utf8_lossy(arg);
        let shown: String = text.chars().take(max_chars).collect();
        let plain = !shown.is_empty()
            && shown.chars().all(|c| c.is_ascii_graphic() && !matches!(c, '"' | '\'' | '\\' | '{' | '}'));
        if plain && i == 0 {
            out.push_str(&shown.to_ascii_uppercase());
        } else if plain {
            out.push_str(&shown);
        } else {
            out.push('"');
            for c in shown.chars() {
                match c {
                    '"' => out.push_str("\\\""),
                    '\\' => out.push_str("\\\\"),
                    '\n' => out.push_str("\\n"),
                    '\r' => out.push_str("\\r"),
                    c if c.is_control() => out.push_str(&format!("\\x{:02x}", c as u32)),
                    c => out.push(c),
                }
            }
            out.push('"');
        }
        if text.chars().count() > max_chars {
            out.push_str(&format!("…({} bytes)", arg.len()));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn packed(args: &[&str]) -> Vec<u8> {
        let mut cmd = redis::cmd(args[0]);
        for a in &args[1..] {
            cmd.arg(*a);
        }
        cmd.get_packed_command()
    }

    #[test]
    fn decodes_single_and_pipelined_commands() {
        let mut buf = packed(&["SET", "k", "hello world"]);
        buf.extend(packed(&["GET", "k"]));
        let cmds = decode_commands(&buf);
        assert_eq!(cmds.len(), 2);
        assert_eq!(cli_line(&cmds[0], TraceDetail::Short), "SET k \"hello world\"");
        assert_eq!(cli_line(&cmds[1], TraceDetail::Short), "GET k");
    }

    #[test]
    fn json_values_are_quoted_for_redis_cli() {
        let buf = packed(&["set", "t", r#"{"a":"b"}"#, "EX", "60"]);
        let cmds = decode_commands(&buf);
        assert_eq!(cli_line(&cmds[0], TraceDetail::Short), r#"SET t "{\"a\":\"b\"}" EX 60"#);
    }

    #[test]
    fn long_arguments_are_shortened_and_marked() {
        let long = "x".repeat(500);
        let buf = packed(&["SET", "k", &long]);
        let line = cli_line(&decode_commands(&buf)[0], TraceDetail::Short);
        assert!(line.ends_with("…(500 bytes)"), "{line}");
        assert!(line.len() < 200);
    }

    #[test]
    fn long_commands_are_cut_after_a_dozen_arguments() {
        let ids: Vec<String> = (0..500).map(|i| format!("1-{i}")).collect();
        let mut args = vec!["XACK", "stream", "group"];
        args.extend(ids.iter().map(String::as_str));
        let buf = packed(&args);
        let line = cli_line(&decode_commands(&buf)[0], TraceDetail::Short);
        assert!(line.ends_with("…(+491 more arguments)"), "{line}");
    }

    #[test]
    fn counts_everything_keeps_few_examples() {
        let trace = Trace::new();
        let mut log = TraceLog::default();
        for i in 0..1000 {
            log.record_packed(&packed(&["GET", &format!("k{i}")]));
        }
        log.record_packed(&packed(&["PING"]));
        trace.merge(log);
        let report = trace.report();
        assert_eq!(report.counts, vec![("GET".to_string(), 1000), ("PING".to_string(), 1)]);
        assert_eq!(report.examples, vec!["GET k0", "GET k1", "PING"]);
        assert_eq!(report.total(), 1001);
    }

    #[test]
    fn full_detail_keeps_every_argument_whole() {
        let long = "x".repeat(500);
        let buf = packed(&["SET", &long, "v"]);
        let line = cli_line(&decode_commands(&buf)[0], TraceDetail::Full);
        assert_eq!(line, format!("SET {long} v"));
    }

    #[test]
    fn evalsha_of_a_loaded_script_is_shown_as_eval_with_its_body() {
        let body = "return redis.call('GET', KEYS[1]) -- trace test";
        let sha = redis::Script::new(body).get_hash().to_string();
        let mut log = TraceLog::default();
        log.record_packed(&packed(&["SCRIPT", "LOAD", body]));
        log.record_packed(&packed(&["EVALSHA", &sha, "1", "redis-learn:x:k"]));
        assert_eq!(log.examples[1], format!("EVAL \"{body}\" 1 redis-learn:x:k"));
        assert_eq!(log.counts[1], ("EVALSHA".to_string(), 1));
    }

    #[test]
    fn malformed_input_decodes_to_nothing_without_panicking() {
        assert!(decode_commands(b"*2\r\n$3\r\nGET").is_empty());
        assert!(decode_commands(b"garbage").is_empty());
        assert!(decode_commands(b"").is_empty());
    }
}
