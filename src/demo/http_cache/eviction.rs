//! Eviction: a cache with `maxmemory 4mb` that is written far past its limit, then read with a
//! skewed workload, under allkeys-lru, allkeys-random, allkeys-lfu and noeviction — each on a private
//! redis-server of its own, never the learner's.

use std::thread;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::{Context, Result, anyhow, bail};
use rand::SeedableRng;
use rand::rngs::Xoshiro256PlusPlus;
use rand_distr::{Distribution, Zipf};
use redis::ConnectionLike;

use crate::demo::{Ctx, DemoReport, NoteKind, run_together};
use crate::measure::{Claim, format_count};
use crate::server::{PrivateServer, TracedConnection};
use crate::text::{Fact, Text};

/// The memory limit of every private server here.
const MAXMEMORY: &str = "4mb";
const MAXMEMORY_BYTES: u64 = 4 * 1024 * 1024;
/// A cached explorer response: about 1 KB of JSON.
const VALUE_BYTES: usize = 1_024;
/// SETs per pipeline while flooding; INFO memory is read after each batch.
const FLOOD_BATCH: usize = 200;
/// Reads per MGET in the skewed phase.
const READ_BATCH: usize = 100;
/// The server refreshes its LRU clock every 100 ms (hz 10): wait this long past a wall-clock second.
const LRU_TICK_SLACK_MS: u64 = 120;
/// Reads a second per server in the skewed phase.
const READ_RATE: usize = 10_000;
/// Every entry carries a TTL, as a cache's entries should.
const ENTRY_TTL_SECS: u64 = 3_600;
/// The policies compared, each on its own server.
const POLICIES: [&str; 4] = ["allkeys-lru", "allkeys-random", "allkeys-lfu", "noeviction"];

/// What one private server did under one policy.
#[derive(Debug, Clone, Default)]
struct PolicyRun {
    policy: &'static str,
    written_bytes: u64,
    /// The largest `used_memory` seen (INFO memory after each flood batch and at the end).
    peak_used: u64,
    maxmemory: u64,
    /// The server's own `used_memory_peak`: it also saw transient buffers between our readings.
    server_peak: u64,
    /// The process's resident size at the end.
    rss: u64,
    samples: String,
    keys_kept: u64,
    evicted: u64,
    flood_oom: usize,
    reads: usize,
    hits: usize,
    read_oom: usize,
    read_time: Duration,
}

impl PolicyRun {
    fn hit_ratio(&self) -> f64 {
        self.hits as f64 / self.reads.max(1) as f64 * 100.0
    }

    fn oom(&self) -> usize {
        self.flood_oom + self.read_oom
    }
}

fn connect(ctx: &Ctx, server: &PrivateServer) -> Result<TracedConnection> {
    let client = redis::Client::open(server.url()).context("opening the private server's URL")?;
    let con = client.get_connection_with_timeout(Duration::from_secs(2)).context("connecting to the private server")?;
    con.set_read_timeout(Some(Duration::from_secs(10)))?;
    con.set_write_timeout(Some(Duration::from_secs(10)))?;
    Ok(TracedConnection::new(con, &ctx.trace))
}

fn info(con: &mut impl ConnectionLike, section: &str) -> Result<redis::InfoDict> {
    redis::cmd("INFO").arg(section).query(con).with_context(|| format!("INFO {section}"))
}

fn info_u64(dict: &redis::InfoDict, field: &str) -> Result<u64> {
    dict.get::<u64>(field).ok_or_else(|| anyhow!("INFO has no {field}"))
}

/// Run a pipeline whose commands may fail with OOM: the number of OOM replies (any other error is
/// an error).
fn run_counting_oom(con: &mut impl ConnectionLike, pipe: &mut redis::Pipeline) -> Result<usize> {
    let replies: Vec<redis::RedisResult<redis::Value>> = pipe.ignore_errors().query(con)?;
    let mut oom = 0;
    for reply in replies {
        if let Err(e) = reply {
            if e.code() == Some("OOM") {
                oom += 1;
            } else {
                return Err(e.into());
            }
        }
    }
    Ok(oom)
}

/// A private server under `policy`, flooded far past its limit: ready for the read phase.
struct Flooded {
    _server: PrivateServer,
    con: TracedConnection,
    run: PolicyRun,
    value: String,
}

/// Start a private server with `policy` and flood it with `flood` values of 1 KB: a crawler caching
/// every transaction it sees. INFO memory after every batch.
fn start_and_flood(ctx: &Ctx, policy: &'static str, flood: usize) -> Result<Flooded> {
    // The UserError stays in the chain: with no redis-server on PATH the runner skips this demo.
    let server = PrivateServer::start_with(&["--maxmemory", MAXMEMORY, "--maxmemory-policy", policy])
        .map_err(anyhow::Error::from)
        .context(
            "the eviction demo starts its own redis-servers with maxmemory 4mb (it never reconfigures yours) and could not",
        )?;
    let mut con = connect(ctx, &server)?;
    let samples: Vec<String> = redis::cmd("CONFIG").arg("GET").arg("maxmemory-samples").query(&mut con)?;
    let mut run = PolicyRun { policy, samples: samples.get(1).cloned().unwrap_or_default(), ..PolicyRun::default() };
    let value = format!("{{\"code\":\"0\",\"data\":[{{\"pad\":\"{}\"}}]}}", "x".repeat(VALUE_BYTES - 30));
    let mut i = 0;
    while i < flood {
        ctx.check_interrupt()?;
        let end = (i + FLOOD_BATCH).min(flood);
        let mut pipe = redis::pipe();
        for n in i..end {
            pipe.cmd("SET").arg(ctx.key(&format!("http:tx:{n}"))).arg(&value).arg("EX").arg(ENTRY_TTL_SECS);
        }
        run.flood_oom += run_counting_oom(&mut con, &mut pipe)?;
        run.written_bytes += ((end - i) * value.len()) as u64;
        run.peak_used = run.peak_used.max(info_u64(&info(&mut con, "memory")?, "used_memory")?);
        i = end;
    }
    Ok(Flooded { _server: server, con, run, value })
}

/// `reads` skewed reads with fill on miss, at most `rate` a second: MGET a batch, then SET ... EX
/// the misses. The pace matters: Redis's LRU clock ticks once a second, so within one
/// second every key looks equally recent.
fn read_skewed(ctx: &Ctx, flooded: Flooded, universe: usize, reads: usize, rate: usize) -> Result<PolicyRun> {
    let Flooded { _server, mut con, mut run, value } = flooded;
    let zipf = Zipf::new(universe as f64, 1.0).map_err(|e| anyhow!("zipf: {e}"))?;
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(21);
    let keys: Vec<String> = (0..universe).map(|i| ctx.key(&format!("http:address:{i}"))).collect();
    let interval = Duration::from_secs_f64(READ_BATCH as f64 / rate as f64);
    // Start just after the LRU clock's next tick (it follows the wall clock's seconds, refreshed by
    // the server's 100 ms cron): from then on the flood's keys are a second older than any read.
    let into_second = SystemTime::now().duration_since(UNIX_EPOCH).context("the clock is before 1970")?.subsec_millis();
    thread::sleep(Duration::from_millis(u64::from(1_000 - into_second) + LRU_TICK_SLACK_MS));
    let start = Instant::now();
    let mut batch_no = 0_u32;
    while run.reads < reads {
        ctx.check_interrupt()?;
        let batch: Vec<&str> = (0..READ_BATCH).map(|_| keys[zipf.sample(&mut rng) as usize - 1].as_str()).collect();
        let found: Vec<Option<Vec<u8>>> = redis::cmd("MGET").arg(&batch).query(&mut con)?;
        let mut fill = redis::pipe();
        let mut misses = 0;
        for (key, got) in batch.iter().zip(&found) {
            if got.is_some() {
                run.hits += 1;
            } else {
                misses += 1;
                fill.cmd("SET").arg(*key).arg(&value).arg("EX").arg(ENTRY_TTL_SECS);
            }
        }
        if misses > 0 {
            run.read_oom += run_counting_oom(&mut con, &mut fill)?;
        }
        run.reads += batch.len();
        batch_no += 1;
        if let Some(wait) = (interval * batch_no).checked_sub(start.elapsed()) {
            thread::sleep(wait);
        }
    }
    run.read_time = start.elapsed();

    let memory = info(&mut con, "memory")?;
    let stats = info(&mut con, "stats")?;
    run.peak_used = run.peak_used.max(info_u64(&memory, "used_memory")?);
    run.server_peak = info_u64(&memory, "used_memory_peak")?;
    run.rss = info_u64(&memory, "used_memory_rss")?;
    run.maxmemory = info_u64(&memory, "maxmemory")?;
    run.evicted = info_u64(&stats, "evicted_keys")?;
    run.keys_kept = redis::cmd("DBSIZE").query(&mut con)?;
    if run.maxmemory != MAXMEMORY_BYTES {
        bail!("the private server reports maxmemory {} instead of {MAXMEMORY_BYTES}", run.maxmemory);
    }
    Ok(run)
}

fn mb(bytes: u64) -> String {
    format!("{:.2} MB", bytes as f64 / (1024.0 * 1024.0))
}

/// Write far more than fits, then read a skewed workload: memory stays under the limit and the hit
/// ratio depends on what the policy throws away.
pub fn eviction_policies(ctx: &Ctx) -> Result<DemoReport> {
    let mut report = DemoReport::new("eviction-policies", Text::msg("title"));
    let flood = ctx.n(20_000, 9_000);
    let universe = 10_000;
    // At most READ_RATE a second, so the read phase spans at least 1 s (4 s in a full run) of the
    // LRU clock; the same sequence of reads on every server.
    let reads = ctx.n(40_000, 10_000);
    let span_secs = reads / READ_RATE;
    // All four servers at once.
    let (runs, _) = run_together(
        POLICIES.len(),
        |i| start_and_flood(ctx, POLICIES[i], flood),
        |_, flooded| read_skewed(ctx, flooded, universe, reads, READ_RATE),
    )?;
    let by = |policy: &str| runs.iter().find(|r| r.policy == policy).cloned().unwrap_or_default();
    let (lru, random, lfu, noeviction) = (by("allkeys-lru"), by("allkeys-random"), by("allkeys-lfu"), by("noeviction"));

    report.table_with_headers(
        Text::msg("servers")
            .fact("maxmemory", MAXMEMORY)
            .fact("flood", flood)
            .fact("reads", reads)
            .fact("universe", universe)
            .fact("rate", READ_RATE),
        vec![
            "maxmemory-policy".into(),
            Text::msg("servers.header-written"),
            Text::msg("servers.header-peak"),
            Text::msg("servers.header-keys-kept"),
            "evicted_keys".into(),
            Text::msg("servers.header-oom"),
            Text::msg("servers.header-reads"),
            Text::msg("servers.header-hit-ratio"),
        ],
        runs.iter()
            .map(|r| {
                vec![
                    Text::from(r.policy),
                    Text::Plain(mb(r.written_bytes)),
                    Text::Plain(format!("{} / {}", mb(r.peak_used), mb(r.maxmemory))),
                    Text::Plain(format_count(r.keys_kept)),
                    Text::Plain(format_count(r.evicted)),
                    Text::Plain(format_count(r.oom() as u64)),
                    Text::Plain(format_count(r.reads as u64)),
                    Text::Plain(format!("{:.1}%", r.hit_ratio())),
                ]
            })
            .collect(),
    );
    report.note(
        NoteKind::Info,
        Text::msg("approximate-lru").fact("samples", lru.samples.as_str()).fact("span", span_secs),
    );
    report.note(
        NoteKind::Caveat,
        Text::msg("maxmemory-bounds-used-memory")
            .fact("server_peak", Fact::Bytes(lru.server_peak))
            .fact("rss", Fact::Bytes(lru.rss)),
    );
    report.note(NoteKind::Info, Text::msg("counted-in-app"));

    let over = lru.peak_used.saturating_sub(lru.maxmemory);
    let limit_hold = lru.written_bytes >= 2 * lru.maxmemory
        && lru.peak_used <= lru.maxmemory + VALUE_BYTES as u64
        && lru.evicted > 0
        && lru.oom() == 0;
    let ratio_hold = lru.hit_ratio() >= random.hit_ratio() + 2.0 && lru.hit_ratio() >= 50.0;
    let oom_hold = noeviction.oom() > 0 && noeviction.evicted == 0 && noeviction.hit_ratio() < random.hit_ratio();
    let peak = format_count(lru.peak_used);
    let limit = format_count(lru.maxmemory);
    report.claim(
        Claim::new("lru-stays-under-maxmemory", "", format!("{peak} / {limit}"), limit_hold)
            .fact("written", Fact::Bytes(lru.written_bytes))
            .fact("maxmemory", MAXMEMORY)
            .fact("batch", FLOOD_BATCH)
            .fact("peak", lru.peak_used)
            .fact("limit", lru.maxmemory)
            .fact("over", over)
            .fact("evicted", lru.evicted)
            .fact("refused", lru.oom()),
    );
    report.claim(
        Claim::new(
            "lru-keeps-hot-keys",
            "",
            format!("{:.1}% > {:.1}%", lru.hit_ratio(), random.hit_ratio()),
            ratio_hold,
        )
        .fact("lru", Fact::Percent(lru.hit_ratio() / 100.0))
        .fact("random", Fact::Percent(random.hit_ratio() / 100.0))
        .fact("lfu", Fact::Percent(lfu.hit_ratio() / 100.0)),
    );
    report.claim(
        Claim::new("noeviction-refuses-writes", "", format!("{} OOM", format_count(noeviction.oom() as u64)), oom_hold)
            .fact("refused", noeviction.oom())
            .fact("hit_ratio", Fact::Percent(noeviction.hit_ratio() / 100.0)),
    );
    Ok(report)
}
