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

use super::{KeyNames, Node, REGIONS, RedisRegistry, nonce};
use crate::demo::{Ctx, DemoReport, NoteKind};
use crate::i18n::Lang;
use crate::measure::{
    Backend, Claim, ClaimStatus, Kind, Measurement, format_count, format_duration, format_ratio, new_group,
};
use crate::server::{PrivateServer, TracedConnection, Version};

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
    Claim::with_status(claim.id, claim.text, claim.measured, ClaimStatus::Failed)
}

pub fn scan_not_keys(ctx: &Ctx) -> Result<DemoReport> {
    let mut report = DemoReport::new(
        "scan-not-keys",
        ctx.tr(
            "Listing nodes: SCAN walks the whole keyspace, the index does not — and never KEYS",
            "列出节点：SCAN 要走遍整个键空间，索引不用——KEYS 则绝不能用",
        ),
    );
    let server = PrivateServer::start().map_err(anyhow::Error::from).context(ctx.tr(
        "this demo fills a redis-server of its own with many keys, and could not start one",
        "这个演示要往自己启动的 redis-server 里写入大量键，但无法启动它",
    ))?;
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
        ctx.tr("index: ZRANGE svc:ws:nodes <now> +inf BYSCORE", "索引：ZRANGE svc:ws:nodes <now> +inf BYSCORE"),
        Backend::Redis,
        Kind::Throughput,
        timed,
        1,
        &runs.iter().map(|r| r.index.clone()).collect::<Vec<_>>(),
    )?);
    let pass = report.measured(Measurement::from_rounds(
        "scan-pass",
        match ctx.lang {
            Lang::En => format!(
                "SCAN 0 MATCH svc:ws:node:* COUNT {BATCH} … to cursor 0 ({} calls; one pass a round)",
                format_count(calls_per_pass)
            ),
            Lang::Zh => format!(
                "SCAN 0 MATCH svc:ws:node:* COUNT {BATCH} … 直到游标为 0（{} 次调用；每轮一遍）",
                format_count(calls_per_pass)
            ),
        },
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
        match ctx.lang {
            Lang::En => format!("server time of one SCAN … COUNT {BATCH} call (INFO commandstats, mean of a pass)"),
            Lang::Zh => format!("一次 SCAN … COUNT {BATCH} 调用占用服务器的时间（INFO commandstats，一遍的平均）"),
        },
        Backend::Redis,
        Kind::Latency,
        timed,
        1,
        &runs.iter().map(|r| vec![per_call(r)]).collect::<Vec<_>>(),
    )?);
    let walk_server = report.measured(Measurement::from_rounds(
        "scan-walk-server-time",
        match ctx.lang {
            Lang::En => format!(
                "server time of one SCAN … COUNT {} (one walk, like KEYS; INFO commandstats)",
                format_count(walk_count as u64)
            ),
            Lang::Zh => format!(
                "一次 SCAN … COUNT {}（一次走完，和 KEYS 一样）占用服务器的时间（INFO commandstats）",
                format_count(walk_count as u64)
            ),
        },
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
    let us = |v: f64| format_duration(Duration::from_nanos((v * 1_000.0) as u64));
    report.finding(
        match ctx.lang {
            Lang::En => format!(
                "Finding {NODES} node keys among {} keys (DBSIZE; {} filler keys written in {}) on a redis-server this demo started",
                format_count(dbsize),
                format_count(filler as u64),
                format_duration(fill_time)
            ),
            Lang::Zh => format!(
                "在 {} 个键中找出 {NODES} 个节点键（DBSIZE；{} 个填充键，写入用时 {}），服务器是本演示自己启动的 redis-server",
                format_count(dbsize),
                format_count(filler as u64),
                format_duration(fill_time)
            ),
        },
        &[
            ctx.tr("how", "方式"),
            ctx.tr("commands", "命令数"),
            ctx.tr("server time per command", "每条命令占用服务器的时间"),
            ctx.tr("wall time (p50)", "总耗时（p50）"),
            ctx.tr("longest PING wait meanwhile", "期间 PING 的最长等待"),
            ctx.tr("nodes found", "找到的节点"),
        ],
        vec![
            vec![
                ctx.tr("sorted-set index", "有序集合索引").to_string(),
                "1".to_string(),
                "—".to_string(),
                format_duration(index.p50()),
                "—".to_string(),
                index_ids.len().to_string(),
            ],
            vec![
                format!("SCAN … COUNT {BATCH}"),
                format_count(calls_per_pass),
                match ctx.lang {
                    Lang::En => format!("{} (p50)", us(per_batch_us)),
                    Lang::Zh => format!("{}（p50）", us(per_batch_us)),
                },
                format_duration(pass.p50()),
                format_duration(longest(&batch_pings)),
                runs.first().map_or(0, |r| r.pass.found.len()).to_string(),
            ],
            vec![
                match ctx.lang {
                    Lang::En => format!("SCAN … COUNT {} (one walk, like KEYS)", format_count(walk_count as u64)),
                    Lang::Zh => format!("SCAN … COUNT {}（一次走完，和 KEYS 一样）", format_count(walk_count as u64)),
                },
                walk_max_calls.to_string(),
                us(walk_us as f64),
                "—".to_string(),
                format_duration(longest(&walk_pings)),
                runs.first().map_or(0, |r| r.walk.found.len()).to_string(),
            ],
        ],
    );
    let per_million_us = walk_us as f64 * 1_000_000.0 / dbsize.max(1) as f64;
    report.note(
        NoteKind::Info,
        match ctx.lang {
            Lang::En => format!(
                "KEYS is never sent by this course. The reference notes measured it on Redis 7.0.15 with 1,000,000 keys: one KEYS took {} in SLOWLOG (cited, not measured in this run). Our one-command SCAN walk took {} for {} keys, about {} per million: SCAN copies every key it visits into a list before filtering, while KEYS matches in place, so SCAN pays more per key. Both grow with the whole keyspace, and while such a command runs Redis serves no one else — one thread executes commands one at a time — so every client of the notes' backend (token cache reads, K-line queries, locks, the Pub/Sub broadcast) waits, as the PING did.",
                format_duration(Duration::from_micros(REFERENCE_KEYS_1M_US)),
                us(walk_us as f64),
                format_count(dbsize),
                us(per_million_us)
            ),
            Lang::Zh => format!(
                "本课程从不发送 KEYS。参考资料在 Redis 7.0.15、1,000,000 个键的服务器上测过：一次 KEYS 在 SLOWLOG 中耗时 {}（引用数据，不是本次运行测得）。我们这次用一条 SCAN 命令走完全部 {} 个键，耗时 {}，约合每百万键 {}：SCAN 会先把访问到的每个键复制进一个列表再过滤，而 KEYS 就地匹配，所以 SCAN 每个键的开销更大。两者都随整个键空间增长；这样的命令执行期间，Redis 不为任何其他客户端服务——命令由单线程逐条执行——所以笔记中后端的所有客户端（Token 缓存读取、K线查询、锁、发布订阅广播）都要等，就像那个 PING 一样。",
                format_duration(Duration::from_micros(REFERENCE_KEYS_1M_US)),
                format_count(dbsize),
                us(walk_us as f64),
                us(per_million_us)
            ),
        },
    );
    report.note(
        NoteKind::Info,
        match ctx.lang {
            Lang::En => format!(
                "MATCH filters after the keys are visited, so a SCAN pass costs the size of the whole database, not the number of matches. SCAN guarantees only that keys present for the whole iteration are returned, possibly more than once (duplicates seen here: {duplicates}), and COUNT is a hint of how much work one call does — a COUNT as large as the keyspace turns SCAN back into KEYS."
            ),
            Lang::Zh => format!(
                "MATCH 是在访问过键之后才过滤的，所以一遍 SCAN 的代价取决于整个数据库的大小，而不是匹配的个数。SCAN 只保证在整个迭代期间一直存在的键会被返回，而且可能返回多次（这次看到的重复：{duplicates} 个）；COUNT 只是提示每次调用做多少工作——COUNT 大到覆盖整个键空间，SCAN 就又变回了 KEYS。"
            ),
        },
    );
    report.note(
        NoteKind::Caveat,
        ctx.tr(
            "This server was started by the demo and holds nothing but the demo's keys; it is stopped when the demo ends. On a shared server even a correct SCAN pass is work proportional to everyone's keys, which is why discovery keeps its own index.",
            "这台服务器由演示自己启动，里面只有演示的键；演示结束时它就会被关闭。在共享的服务器上，即使是正确的 SCAN 遍历，工作量也和所有人的键数成正比，所以服务发现要维护自己的索引。",
        ),
    );

    let index_speedup = index_vs_pass.ratio;
    let claim = Claim::ratio_above(
        "index-beats-scan-pass",
        match ctx.lang {
            Lang::En => format!(
                "Without the index, finding the {NODES} nodes took a full SCAN MATCH pass over {} keys: {} calls and {} (p50); the sorted-set index returned the same {} ids in 1 command in {} — {} faster",
                format_count(dbsize),
                format_count(calls_per_pass),
                format_duration(pass.p50()),
                index_ids.len(),
                format_duration(index.p50()),
                format_ratio(index_speedup)
            ),
            Lang::Zh => format!(
                "没有索引时，要找出这 {NODES} 个节点得对 {} 个键做一整遍 SCAN MATCH：{} 次调用，耗时 {}（p50）；有序集合索引 1 条命令就返回了同样的 {} 个 id，耗时 {}——快 {}",
                format_count(dbsize),
                format_count(calls_per_pass),
                format_duration(pass.p50()),
                index_ids.len(),
                format_duration(index.p50()),
                format_ratio(index_speedup)
            ),
        },
        &index_vs_pass,
        MIN_INDEX_RATIO,
    );
    // The ratio decides, once every way found every node and the pass took several calls.
    report.claim(if found_all && calls_per_pass >= 2 { claim } else { failed(claim) });
    let block_ratio = call_vs_walk.ratio;
    let claim = Claim::ratio_above(
        "one-command-walk-blocks-the-server",
        match ctx.lang {
            Lang::En => format!(
                "One command walking all {} keys (SCAN with COUNT {}, what KEYS does) held the server for {} (INFO commandstats), {} as long as one SCAN COUNT {BATCH} call ({}); a PING sent meanwhile waited up to {}, against {} during the batched passes",
                format_count(dbsize),
                format_count(walk_count as u64),
                format_duration(walk_server.p50()),
                format_ratio(block_ratio),
                format_duration(batch_server.p50()),
                format_duration(longest(&walk_pings)),
                format_duration(longest(&batch_pings))
            ),
            Lang::Zh => format!(
                "一条命令走遍全部 {} 个键（COUNT 为 {} 的 SCAN，也就是 KEYS 的做法）占用服务器 {}（INFO commandstats），是一次 SCAN COUNT {BATCH} 调用（{}）的 {}；期间发出的 PING 最多等了 {}，而分批遍历期间最多只等了 {}",
                format_count(dbsize),
                format_count(walk_count as u64),
                format_duration(walk_server.p50()),
                format_duration(batch_server.p50()),
                format_ratio(block_ratio),
                format_duration(longest(&walk_pings)),
                format_duration(longest(&batch_pings))
            ),
        },
        &call_vs_walk,
        MIN_BLOCK_RATIO,
    );
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
