//! Finding the nodes without an index means `SCAN … MATCH svc:ws:node:*`, which walks every key in
//! the database, not only the matches. On a private server filled with N other keys (standing in
//! for the rest of the backend's data) we time full SCAN passes against the sorted-set index, then
//! one SCAN whose COUNT covers the whole keyspace: a single command that walks every key, as KEYS
//! does, and that every other client waits behind (a PING sent meanwhile shows it). KEYS itself is
//! never run: this course does not send it to any server.

use std::collections::BTreeSet;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::thread;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, anyhow, ensure};
use redis::ConnectionLike;

use super::REGIONS;
use super::registry::{KeyNames, Node, RedisRegistry, nonce};
use crate::demo::{Ctx, DemoReport, NoteKind};
use crate::measure::{Backend, Claim, ClaimStatus, Kind, Measurement, format_count, format_duration, new_group};
use crate::server::{PrivateServer, TracedConnection, Version};
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
/// The one-command walk must hold the server at least this many times longer than one batch (and
/// a PING sent meanwhile must wait at least half of the walk: it queues behind it).
const MIN_BLOCK_RATIO: f64 = 10.0;
/// The index must answer at least this many times faster than a full SCAN pass.
const MIN_INDEX_RATIO: f64 = 10.0;
/// Index reads timed in each round.
const INDEX_PER_ROUND: usize = 50;
/// Measured by the course's reference notes (redis-patterns.md §6) on Redis 7.0.15 with 1,000,000
/// keys: one KEYS took 70,041 µs in SLOWLOG. Cited, never measured here: we do not run KEYS.
const REFERENCE_KEYS_1M_US: u64 = 70_041;

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

/// SCAN's totals so far on the server: (calls, µs spent inside SCAN).
fn scan_stats(con: &mut impl ConnectionLike) -> Result<(u64, u64)> {
    let info: String = redis::cmd("INFO").arg("commandstats").query(con)?;
    Ok(parse_cmdstat(&info, "scan").unwrap_or((0, 0)))
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
        ctx.check_interrupt()?;
        let (next, keys): (u64, Vec<String>) = redis::cmd("SCAN")
            .arg(cursor)
            .arg("MATCH")
            .arg(pattern)
            .arg("COUNT")
            .arg(count)
            .query(con)
            .context("SCAN")?;
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
    walk: Pass,
    walk_window: (Instant, Instant),
    walk_usec: u64,
}

/// The same claim, failed: a condition besides its ratio did not hold.
fn failed(claim: Claim) -> Claim {
    Claim { status: ClaimStatus::Failed, holds: false, ..claim }
}

pub fn scan_not_keys(ctx: &Ctx) -> Result<DemoReport> {
    let mut report = DemoReport::new("scan-not-keys", Text::msg("title"));
    let server = PrivateServer::start()
        .map_err(anyhow::Error::from)
        .context("this demo fills a redis-server of its own with many keys, and could not start one")?;
    let filler = ctx.n(300_000, 100_000);
    let rounds = ctx.n(12, 8);
    let mut con = connect(ctx, &server)?;
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

    let walk_count = (dbsize as usize).saturating_mul(2).max(BATCH);

    // The index (one command, whatever the size of the database), a batched SCAN pass and one SCAN
    // whose COUNT covers every key (one command, one walk of the whole keyspace, as KEYS does) take
    // turns in rounds, in alternating order, while another client PINGs all along.
    let index_ids: BTreeSet<String> = registry.active_ids()?.into_iter().collect();
    for _ in 0..INDEX_PER_ROUND {
        ensure!(registry.active_ids()?.len() == NODES, "the index lost a node");
    }
    scan_pass(ctx, &mut con, &pattern, BATCH)?;
    let (runs, all_pings) = with_pinger(ctx, &server, || {
        let mut runs = Vec::with_capacity(rounds);
        for r in 0..rounds {
            let mut index = Vec::with_capacity(INDEX_PER_ROUND);
            let (mut pass, mut walk) = (None, None);
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
                        let before = scan_stats(&mut con)?;
                        let start = Instant::now();
                        let p = scan_pass(ctx, &mut con, &pattern, BATCH)?;
                        let window = (start, Instant::now());
                        let after = scan_stats(&mut con)?;
                        pass = Some((p, window, (after.0 - before.0, after.1 - before.1)));
                    }
                    _ => {
                        let before = scan_stats(&mut con)?;
                        let start = Instant::now();
                        let w = scan_pass(ctx, &mut con, &pattern, walk_count)?;
                        let window = (start, Instant::now());
                        let after = scan_stats(&mut con)?;
                        walk = Some((w, window, after.1 - before.1));
                    }
                }
            }
            let ((pass, pass_window, pass_server), (walk, walk_window, walk_usec)) =
                (pass.context("no SCAN pass ran")?, walk.context("no walk ran")?);
            runs.push(Round { index, pass, pass_window, pass_server, walk, walk_window, walk_usec });
        }
        Ok(runs)
    })?;
    let walk_windows: Vec<(Instant, Instant)> = runs.iter().map(|r| r.walk_window).collect();
    let pass_windows: Vec<(Instant, Instant)> = runs.iter().map(|r| r.pass_window).collect();
    let walk_pings: Vec<Duration> =
        all_pings.iter().filter(|p| overlaps(p, &walk_windows)).map(|&(_, wait)| wait).collect();
    let batch_pings: Vec<Duration> = all_pings
        .iter()
        .filter(|p| overlaps(p, &pass_windows) && !overlaps(p, &walk_windows))
        .map(|&(_, wait)| wait)
        .collect();
    let calls_per_pass = runs.first().map_or(0, |r| r.pass.calls);
    let duplicates: u64 = runs.iter().map(|r| r.pass.duplicates).sum();
    let walk_max_calls = runs.iter().map(|r| r.walk.calls).max().unwrap_or(0);

    let timed = new_group();
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
        &runs.iter().map(|r| vec![r.pass.elapsed]).collect::<Vec<_>>(),
    )?);
    let index_vs_pass = report.compare("index-vs-scan-pass", &index, &pass)?;
    // Server time (INFO commandstats) of one batched SCAN call and of the one-command walk, per round.
    let per_call = |r: &Round| Duration::from_nanos(r.pass_server.1 * 1_000 / r.pass_server.0.max(1));
    let batch_server = report.measured(Measurement::from_rounds(
        "scan-call-server-time",
        format!("SCAN … COUNT {BATCH}, server time"),
        Backend::Redis,
        Kind::Latency,
        timed,
        1,
        &runs.iter().map(|r| vec![per_call(r)]).collect::<Vec<_>>(),
    )?);
    let walk_server = report.measured(Measurement::from_rounds(
        "scan-walk-server-time",
        format!("SCAN … COUNT {walk_count}, server time"),
        Backend::Redis,
        Kind::Latency,
        timed,
        1,
        &runs.iter().map(|r| vec![Duration::from_micros(r.walk_usec)]).collect::<Vec<_>>(),
    )?);
    let call_vs_walk = report.compare("scan-call-vs-walk-server-time", &batch_server, &walk_server)?;
    // The figures the table, the notes and the claims quote: this run's p50s.
    let (per_batch_us, walk_us) = (batch_server.p50().as_secs_f64() * 1e6, walk_server.p50().as_micros() as u64);

    let found_all = runs.iter().all(|r| r.pass.found == all_keys && r.walk.found == all_keys) && index_ids == all_ids;
    let us = |v: f64| Duration::from_nanos((v * 1_000.0) as u64);
    report.table(
        Text::msg("ways")
            .fact("nodes", NODES)
            .fact("dbsize", dbsize)
            .fact("filler", filler)
            .fact("fill_time", fill_time),
        vec![
            Text::msg("ways.header-how"),
            Text::msg("ways.header-commands"),
            Text::msg("ways.header-server-time"),
            Text::msg("ways.header-wall-time"),
            Text::msg("ways.header-ping-wait"),
            Text::msg("ways.header-found"),
        ],
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
                Text::msg("p50").fact("value", us(per_batch_us)),
                Text::Plain(format_duration(pass.p50())),
                Text::Plain(format_duration(longest(&batch_pings))),
                Text::Plain(runs.first().map_or(0, |r| r.pass.found.len()).to_string()),
            ],
            vec![
                Text::msg("way.walk").fact("count", walk_count),
                Text::Plain(walk_max_calls.to_string()),
                Text::Plain(format_duration(us(walk_us as f64))),
                "—".into(),
                Text::Plain(format_duration(longest(&walk_pings))),
                Text::Plain(runs.first().map_or(0, |r| r.walk.found.len()).to_string()),
            ],
        ],
    );
    let per_million_us = walk_us as f64 * 1_000_000.0 / dbsize.max(1) as f64;
    report.note(
        NoteKind::Info,
        Text::msg("never-keys")
            .fact("reference", Duration::from_micros(REFERENCE_KEYS_1M_US))
            .fact("walk", us(walk_us as f64))
            .fact("dbsize", dbsize)
            .fact("per_million", us(per_million_us)),
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
    let block_ratio = call_vs_walk.ratio;
    let claim = Claim::ratio_above("one-command-walk-blocks-the-server", "", &call_vs_walk, MIN_BLOCK_RATIO)
        .fact("dbsize", dbsize)
        .fact("count", walk_count)
        .fact("walk", walk_server.p50())
        .fact("ratio", Fact::Ratio(block_ratio))
        .fact("batch", BATCH.to_string())
        .fact("call", batch_server.p50())
        .fact("walk_ping", longest(&walk_pings))
        .fact("batch_ping", longest(&batch_pings));
    // The ratio decides, once each walk was one command and a PING queued behind it.
    let blocked = walk_max_calls == 1 && longest(&walk_pings).as_secs_f64() * 1e6 >= walk_us as f64 / 2.0;
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
