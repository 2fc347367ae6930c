//! Finding the nodes without an index means `SCAN … MATCH svc:ws:node:*`, which walks every key in
//! the database, not only the matches. On a private server filled with N other keys (standing in
//! for the rest of the backend's data) we time full SCAN passes against the sorted-set index, and
//! KEYS itself on the same keyspace: one command that walks every key, which every other client
//! waits behind (a PING sent meanwhile shows it), against the longest single SCAN call of a pass
//! (SLOWLOG), between which the server serves everyone else. KEYS runs only here, on a server this
//! demo started ([`PrivateConnection`]); it is sent to no other server.

use std::collections::BTreeSet;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::thread;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, anyhow, ensure};
use redis::ConnectionLike;

use super::REGIONS;
use super::registry::{KeyNames, Node, RedisRegistry, nonce};
use crate::demo::support::scan_page;
use crate::demo::{Ctx, DemoReport, NoteKind};
use crate::measure::{Backend, Claim, ClaimStatus, Kind, Measurement, format_count, format_duration, new_group};
use crate::server::{PrivateConnection, PrivateServer, TracedConnection, Version};
use crate::text::{Fact, Text};

/// SCAN's COUNT in the batched passes (a common production value).
const BATCH: usize = 1_000;
/// Keys one fill script writes (one command of a few hundred ms, on our own server only).
const FILL_BATCH: usize = 50_000;
/// WebSocket nodes registered among the other keys.
const NODES: usize = 8;
/// Their registrations outlive the demo.
const LIVE_TTL: Duration = Duration::from_secs(60);
/// Connect and command timeouts on the private server (the one-command walk of the full-mode
/// keyspace takes under a second here; a slow machine gets plenty of room).
const CONNECT_TIMEOUT: Duration = Duration::from_secs(2);
const COMMAND_TIMEOUT: Duration = Duration::from_secs(30);
/// The pinger's pause between two PINGs.
const PING_PAUSE: Duration = Duration::from_micros(200);
/// KEYS must hold the server at least this many times longer than the longest single SCAN call of a
/// pass (and a PING sent meanwhile must wait at least half of KEYS: it queues behind it).
const MIN_BLOCK_RATIO: f64 = 5.0;
/// The index must answer at least this many times faster than a full SCAN pass.
const MIN_INDEX_RATIO: f64 = 10.0;
/// Index reads timed in each round.
const INDEX_PER_ROUND: usize = 50;
/// The private server logs every command slower than this (µs) in SLOWLOG, so that each SCAN call
/// of a pass is timed by the server (a batched call takes hundreds of µs; a PING a few).
const SLOWLOG_BELOW_US: &str = "50";
/// SLOWLOG entries kept: every SCAN call of a pass, with room to spare.
const SLOWLOG_LEN: &str = "4096";

/// The other data a backend keeps next to the registry, written on the server: keys
/// `{prefix}{family}{i}` for i in ARGV[2]..ARGV[3], the families cycling through the notes' shapes.
const FILL_LUA: &str = "local families = {'token:eth:', 'token:bsc:', 'kline:ETHUSDT:1m:', 'session:', 'user:clients:'}
local args, n = {}, 0
for i = tonumber(ARGV[2]), tonumber(ARGV[3]) - 1 do
  args[n + 1] = ARGV[1] .. families[i % 5 + 1] .. i
  args[n + 2] = '1'
  n = n + 2
  if n == 1000 then redis.call('MSET', unpack(args, 1, n)); n = 0 end
end
if n > 0 then redis.call('MSET', unpack(args, 1, n)) end
return tonumber(ARGV[3]) - tonumber(ARGV[2])";

fn connect(ctx: &Ctx, server: &PrivateServer) -> Result<TracedConnection> {
    let client = redis::Client::open(server.url())?;
    let con =
        client.get_connection_with_timeout(CONNECT_TIMEOUT).context("connecting to the demo's own redis-server")?;
    con.set_read_timeout(Some(COMMAND_TIMEOUT))?;
    con.set_write_timeout(Some(COMMAND_TIMEOUT))?;
    Ok(TracedConnection::new(con, &ctx.trace))
}

/// Fill our own server with `n` small keys under the run's prefix, [`FILL_BATCH`] per script call
/// (the script names no keys up front, which only a server of our own, not a cluster, allows).
fn fill(ctx: &Ctx, con: &mut impl ConnectionLike, n: usize) -> Result<()> {
    let script = redis::Script::new(FILL_LUA);
    let prefix = ctx.key("");
    let mut next = 0;
    while next < n {
        ctx.check_interrupt()?;
        let end = (next + FILL_BATCH).min(n);
        let written: usize = script.arg(&prefix).arg(next).arg(end).invoke(con).context("filling the demo server")?;
        ensure!(written == end - next, "the fill script wrote {written} keys, expected {}", end - next);
        next = end;
    }
    Ok(())
}

/// `cmdstat_<command>:calls=…,usec=…` from `INFO commandstats`: (calls, total µs).
fn parse_cmdstat(info: &str, command: &str) -> Option<(u64, u64)> {
    let prefix = format!("cmdstat_{command}:");
    let line = info.lines().find(|l| l.starts_with(&prefix))?;
    let (mut calls, mut usec) = (None, None);
    for field in line[prefix.len()..].trim_end().split(',') {
        let (name, value) = field.split_once('=')?;
        match name {
            "calls" => calls = value.parse().ok(),
            "usec" => usec = value.parse().ok(),
            _ => {}
        }
    }
    Some((calls?, usec?))
}

/// A command's totals so far on the server: (calls, µs spent inside it).
fn command_stats(con: &mut impl ConnectionLike, command: &str) -> Result<(u64, u64)> {
    let info: String = redis::cmd("INFO").arg("commandstats").query(con)?;
    Ok(parse_cmdstat(&info, command).unwrap_or((0, 0)))
}

/// The SLOWLOG entries newer than `after` (an entry id) for `command`: (newest id, the durations in
/// µs). An entry is `[id, timestamp, µs, [args…], …]`.
fn slowlog_since(con: &mut impl ConnectionLike, after: Option<u64>, command: &str) -> Result<(Option<u64>, Vec<u64>)> {
    let entries: Vec<redis::Value> = redis::cmd("SLOWLOG").arg("GET").arg(SLOWLOG_LEN).query(con)?;
    let mut newest = after;
    let mut durations = Vec::new();
    for entry in entries {
        let redis::Value::Array(fields) = entry else { continue };
        let (Some(id), Some(us), Some(args)) = (fields.first(), fields.get(2), fields.get(3)) else { continue };
        let (Ok(id), Ok(us), Ok(args)) = (
            redis::from_redis_value_ref::<u64>(id),
            redis::from_redis_value_ref::<u64>(us),
            redis::from_redis_value_ref::<Vec<String>>(args),
        ) else {
            continue;
        };
        newest = newest.max(Some(id));
        if after.is_none_or(|a| id > a) && args.first().is_some_and(|c| c.eq_ignore_ascii_case(command)) {
            durations.push(us);
        }
    }
    Ok((newest, durations))
}

/// One full SCAN iteration.
#[derive(Debug, Default)]
struct Pass {
    calls: u64,
    elapsed: Duration,
    found: BTreeSet<String>,
    duplicates: u64,
}

fn scan_pass(ctx: &Ctx, con: &mut impl ConnectionLike, pattern: &str, count: usize) -> Result<Pass> {
    let mut pass = Pass::default();
    let start = Instant::now();
    let mut cursor: u64 = 0;
    loop {
        let (next, keys) = scan_page(ctx, con, cursor, pattern, count)?;
        pass.calls += 1;
        for key in keys {
            if !pass.found.insert(key) {
                pass.duplicates += 1;
            }
        }
        cursor = next;
        if cursor == 0 {
            break;
        }
    }
    pass.elapsed = start.elapsed();
    Ok(pass)
}

/// One PING of the pinger: when it was sent, and how long its reply took.
type Ping = (Instant, Duration);

/// Run `work` while another client PINGs the same server in a loop; returns every PING.
fn with_pinger<T>(ctx: &Ctx, server: &PrivateServer, work: impl FnOnce() -> Result<T>) -> Result<(T, Vec<Ping>)> {
    let stop = AtomicBool::new(false);
    let pings = AtomicU64::new(0);
    thread::scope(|scope| {
        let pinger = scope.spawn(|| -> Result<Vec<Ping>> {
            let result = (|| {
                let mut con = connect(ctx, server)?;
                let mut waits = Vec::new();
                while !stop.load(Ordering::SeqCst) {
                    ctx.check_interrupt()?;
                    let sent = Instant::now();
                    redis::cmd("PING").exec(&mut con).context("PING")?;
                    waits.push((sent, sent.elapsed()));
                    pings.fetch_add(1, Ordering::SeqCst);
                    thread::sleep(PING_PAUSE);
                }
                Ok(waits)
            })();
            // Never leave the main thread waiting for pings that will not come.
            pings.store(u64::MAX, Ordering::SeqCst);
            result
        });
        let deadline = Instant::now() + CONNECT_TIMEOUT;
        while pings.load(Ordering::SeqCst) < 3 && Instant::now() < deadline {
            thread::sleep(Duration::from_millis(1));
        }
        let result = work();
        stop.store(true, Ordering::SeqCst);
        let waits = pinger.join().map_err(|_| anyhow!("the PING thread panicked"))??;
        Ok((result?, waits))
    })
}

fn longest(waits: &[Duration]) -> Duration {
    waits.iter().copied().max().unwrap_or_default()
}

/// Does this PING's wait overlap one of the windows (start, end)?
fn overlaps(ping: &Ping, windows: &[(Instant, Instant)]) -> bool {
    let (sent, wait) = *ping;
    windows.iter().any(|&(start, end)| sent <= end && sent + wait >= start)
}

/// What one round of the timed comparison saw.
struct Round {
    index: Vec<Duration>,
    pass: Pass,
    pass_window: (Instant, Instant),
    /// SCAN calls and server µs (INFO commandstats) of the batched pass.
    pass_server: (u64, u64),
    /// The longest single SCAN call of the pass, server time (SLOWLOG), µs.
    longest_call_us: u64,
    keys: BTreeSet<String>,
    keys_wall: Duration,
    keys_window: (Instant, Instant),
    /// Server µs of the one KEYS (INFO commandstats).
    keys_usec: u64,
}

/// The same claim, failed: a condition besides its ratio did not hold.
fn failed(claim: Claim) -> Claim {
    Claim { status: ClaimStatus::Failed, holds: false, timed: false, ..claim }
}

fn us(v: u64) -> Duration {
    Duration::from_micros(v)
}

pub fn scan_not_keys(ctx: &Ctx) -> Result<DemoReport> {
    let mut report = DemoReport::new("scan-not-keys", Text::msg("title"));
    let server =
        PrivateServer::start_with(&["--slowlog-log-slower-than", SLOWLOG_BELOW_US, "--slowlog-max-len", SLOWLOG_LEN])
            .map_err(anyhow::Error::from)
            .context("this demo fills a redis-server of its own with many keys, and could not start one")?;
    let filler = ctx.n(300_000, 100_000);
    let rounds = ctx.n(12, 8);
    let mut con = connect(ctx, &server)?;
    let mut keys_con: PrivateConnection =
        server.private_connection(COMMAND_TIMEOUT).context("connecting to the demo's own redis-server")?;
    let fill_start = Instant::now();
    fill(ctx, &mut con, filler)?;
    let fill_time = fill_start.elapsed();
    let nonce = nonce();
    let nodes: Vec<Node> =
        (0..NODES).map(|i| Node::new(i, nonce, REGIONS[i % REGIONS.len()], vec!["kline", "ticker"])).collect();
    let info: redis::InfoDict = redis::cmd("INFO").arg("server").query(&mut con)?;
    let version = info.get::<String>("redis_version").and_then(|v| Version::parse(&v)).unwrap_or(Version(7, 0, 0));
    let mut registry = RedisRegistry::new(connect(ctx, &server)?, KeyNames::new(ctx), LIVE_TTL, version);
    for node in &nodes {
        registry.beat_node(node)?;
    }
    let dbsize: u64 = redis::cmd("DBSIZE").query(&mut con)?;
    let all_ids: BTreeSet<String> = nodes.iter().map(|n| n.id.clone()).collect();
    let all_keys: BTreeSet<String> = nodes.iter().map(|n| registry.keys.node(&n.id)).collect();
    let pattern = format!("{}*", registry.keys.node_prefix);

    // The index (one command, whatever the size of the database), a batched SCAN pass and one KEYS
    // (one command, one walk of the whole keyspace) take turns in rounds, in alternating order,
    // while another client PINGs all along.
    let index_ids: BTreeSet<String> = registry.active_ids()?.into_iter().collect();
    for _ in 0..INDEX_PER_ROUND {
        ensure!(registry.active_ids()?.len() == NODES, "the index lost a node");
    }
    scan_pass(ctx, &mut con, &pattern, BATCH)?;
    let (mut seen_slowlog, _) = slowlog_since(&mut con, None, "scan")?;
    let (runs, all_pings) = with_pinger(ctx, &server, || {
        let mut runs = Vec::with_capacity(rounds);
        for r in 0..rounds {
            let mut index = Vec::with_capacity(INDEX_PER_ROUND);
            let (mut pass, mut keys) = (None, None);
            let steps: [u8; 3] = if r % 2 == 0 { [0, 1, 2] } else { [2, 1, 0] };
            for step in steps {
                match step {
                    0 => {
                        for _ in 0..INDEX_PER_ROUND {
                            ctx.check_interrupt()?;
                            let start = Instant::now();
                            let ids = registry.active_ids()?;
                            index.push(start.elapsed());
                            ensure!(ids.len() == NODES, "the index lost a node");
                        }
                    }
                    1 => {
                        let before = command_stats(&mut con, "scan")?;
                        let start = Instant::now();
                        let p = scan_pass(ctx, &mut con, &pattern, BATCH)?;
                        let window = (start, Instant::now());
                        let after = command_stats(&mut con, "scan")?;
                        let (newest, calls) = slowlog_since(&mut con, seen_slowlog, "scan")?;
                        seen_slowlog = newest;
                        let mean = (after.1 - before.1) / (after.0 - before.0).max(1);
                        // A call faster than the SLOWLOG threshold is not logged: the mean bounds it.
                        let longest = calls.iter().copied().max().unwrap_or(0).max(mean);
                        pass = Some((p, window, (after.0 - before.0, after.1 - before.1), longest));
                    }
                    _ => {
                        ctx.check_interrupt()?;
                        let before = command_stats(&mut con, "keys")?;
                        let start = Instant::now();
                        let found =
                            keys_con.keys(&pattern, &ctx.trace).context("KEYS on the demo's own redis-server")?;
                        let window = (start, Instant::now());
                        let after = command_stats(&mut con, "keys")?;
                        keys = Some((found.into_iter().collect(), window, after.1 - before.1));
                    }
                }
            }
            let ((pass, pass_window, pass_server, longest_call_us), (keys, keys_window, keys_usec)) =
                (pass.context("no SCAN pass ran")?, keys.context("KEYS did not run")?);
            let keys_wall = keys_window.1 - keys_window.0;
            runs.push(Round {
                index,
                pass,
                pass_window,
                pass_server,
                longest_call_us,
                keys,
                keys_wall,
                keys_window,
                keys_usec,
            });
        }
        Ok(runs)
    })?;
    let keys_windows: Vec<(Instant, Instant)> = runs.iter().map(|r| r.keys_window).collect();
    let pass_windows: Vec<(Instant, Instant)> = runs.iter().map(|r| r.pass_window).collect();
    let keys_pings: Vec<Duration> =
        all_pings.iter().filter(|p| overlaps(p, &keys_windows)).map(|&(_, wait)| wait).collect();
    let batch_pings: Vec<Duration> = all_pings
        .iter()
        .filter(|p| overlaps(p, &pass_windows) && !overlaps(p, &keys_windows))
        .map(|&(_, wait)| wait)
        .collect();
    let calls_per_pass = runs.first().map_or(0, |r| r.pass.calls);
    let duplicates: u64 = runs.iter().map(|r| r.pass.duplicates).sum();

    let timed = new_group();
    let per_round = |f: &dyn Fn(&Round) -> Duration| runs.iter().map(|r| vec![f(r)]).collect::<Vec<_>>();
    let index = report.measured(Measurement::from_rounds(
        "index-zrange",
        "ZRANGE svc:ws:nodes <now> +inf BYSCORE",
        Backend::Redis,
        Kind::Throughput,
        timed,
        1,
        &runs.iter().map(|r| r.index.clone()).collect::<Vec<_>>(),
    )?);
    let pass = report.measured(Measurement::from_rounds(
        "scan-pass",
        format!("SCAN 0 MATCH svc:ws:node:* COUNT {BATCH} …"),
        Backend::Redis,
        Kind::Throughput,
        timed,
        1,
        &per_round(&|r| r.pass.elapsed),
    )?);
    let index_vs_pass = report.compare("index-vs-scan-pass", &index, &pass)?;
    // Server time (INFO commandstats, SLOWLOG) of the SCAN calls and of KEYS, per round.
    let batch_server = report.measured(Measurement::from_rounds(
        "scan-call-server-time",
        format!("SCAN … COUNT {BATCH}, server time"),
        Backend::Redis,
        Kind::Latency,
        timed,
        1,
        &per_round(&|r| Duration::from_nanos(r.pass_server.1 * 1_000 / r.pass_server.0.max(1))),
    )?);
    let longest_call = report.measured(Measurement::from_rounds(
        "scan-longest-call-server-time",
        format!("SCAN … COUNT {BATCH}, longest call"),
        Backend::Redis,
        Kind::Latency,
        timed,
        1,
        &per_round(&|r| us(r.longest_call_us)),
    )?);
    let pass_server = report.measured(Measurement::from_rounds(
        "scan-pass-server-time",
        format!("SCAN … COUNT {BATCH}, whole pass"),
        Backend::Redis,
        Kind::Latency,
        timed,
        1,
        &per_round(&|r| us(r.pass_server.1)),
    )?);
    let keys_server = report.measured(Measurement::from_rounds(
        "keys-server-time",
        "KEYS svc:ws:node:*",
        Backend::Redis,
        Kind::Latency,
        timed,
        1,
        &per_round(&|r| us(r.keys_usec)),
    )?);
    let keys_wall = report.measured(Measurement::from_rounds(
        "keys",
        "KEYS svc:ws:node:*",
        Backend::Redis,
        Kind::Latency,
        timed,
        1,
        &per_round(&|r| r.keys_wall),
    )?);
    let call_vs_keys = report.compare("scan-longest-call-vs-keys", &longest_call, &keys_server)?;

    let found_all = runs.iter().all(|r| r.pass.found == all_keys && r.keys == all_keys) && index_ids == all_ids;
    report.table(
        Text::msg("ways")
            .fact("nodes", NODES)
            .fact("dbsize", dbsize)
            .fact("filler", filler)
            .fact("fill_time", fill_time),
        &["how", "commands", "server-time", "wall-time", "ping-wait", "found"],
        vec![
            vec![
                Text::msg("way.index"),
                "1".into(),
                "—".into(),
                Text::Plain(format_duration(index.p50())),
                "—".into(),
                Text::Plain(index_ids.len().to_string()),
            ],
            vec![
                Text::Plain(format!("SCAN … COUNT {BATCH}")),
                Text::Plain(format_count(calls_per_pass)),
                Text::msg("scan-call-times").fact("mean", batch_server.p50()).fact("longest", longest_call.p50()),
                Text::Plain(format_duration(pass.p50())),
                Text::Plain(format_duration(longest(&batch_pings))),
                Text::Plain(runs.first().map_or(0, |r| r.pass.found.len()).to_string()),
            ],
            vec![
                Text::Plain("KEYS svc:ws:node:*".to_string()),
                "1".into(),
                Text::msg("p50").fact("value", keys_server.p50()),
                Text::Plain(format_duration(keys_wall.p50())),
                Text::Plain(format_duration(longest(&keys_pings))),
                Text::Plain(runs.first().map_or(0, |r| r.keys.len()).to_string()),
            ],
        ],
    );
    let per_million =
        Duration::from_nanos((keys_server.p50().as_nanos() as f64 * 1_000_000.0 / dbsize.max(1) as f64).round() as u64);
    report.note(
        NoteKind::Info,
        Text::msg("keys-on-own-server")
            .fact("keys", keys_server.p50())
            .fact("dbsize", dbsize)
            .fact("per_million", per_million),
    );
    report.note(
        NoteKind::Info,
        Text::msg("pass-is-not-one-block")
            .fact("calls", calls_per_pass)
            .fact("longest", longest_call.p50())
            .fact("mean", batch_server.p50())
            .fact("batch_ping", longest(&batch_pings))
            .fact("keys_ping", longest(&keys_pings))
            .fact("pass_total", pass_server.p50())
            .fact("keys", keys_server.p50()),
    );
    report.note(NoteKind::Info, Text::msg("match-filters-after").fact("duplicates", duplicates));
    report.note(NoteKind::Caveat, Text::msg("own-server"));

    let index_speedup = index_vs_pass.ratio;
    let claim = Claim::ratio_above("index-beats-scan-pass", "", &index_vs_pass, MIN_INDEX_RATIO)
        .fact("nodes", NODES)
        .fact("dbsize", dbsize)
        .fact("calls", calls_per_pass)
        .fact("pass", pass.p50())
        .fact("ids", index_ids.len())
        .fact("index", index.p50())
        .fact("ratio", Fact::Ratio(index_speedup));
    // The ratio decides, once every way found every node and the pass took several calls.
    report.claim(if found_all && calls_per_pass >= 2 { claim } else { failed(claim) });
    let claim = Claim::ratio_above("keys-blocks-the-server", "", &call_vs_keys, MIN_BLOCK_RATIO)
        .fact("dbsize", dbsize)
        .fact("keys", keys_server.p50())
        .fact("ratio", Fact::Ratio(call_vs_keys.ratio))
        .fact("batch", BATCH.to_string())
        .fact("longest", longest_call.p50())
        .fact("keys_ping", longest(&keys_pings))
        .fact("batch_ping", longest(&batch_pings));
    // The ratio decides, once a PING queued behind KEYS.
    let blocked = longest(&keys_pings) * 2 >= keys_server.p50();
    report.claim(if blocked { claim } else { failed(claim) });
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cmdstat_lines_parse() {
        let info = "# Commandstats\r\ncmdstat_ping:calls=5,usec=3,usec_per_call=0.60,rejected_calls=0,failed_calls=0\r\ncmdstat_scan:calls=12,usec=4810,usec_per_call=400.83,rejected_calls=0,failed_calls=0\r\n";
        assert_eq!(parse_cmdstat(info, "scan"), Some((12, 4810)));
        assert_eq!(parse_cmdstat(info, "ping"), Some((5, 3)));
        assert_eq!(parse_cmdstat(info, "get"), None);
        assert_eq!(parse_cmdstat("cmdstat_scan:calls=x,usec=1", "scan"), None);
    }
}
