//! Lesson 2 (notes: `model/redismodel/token.go`): the token cache. Cache-aside — read Redis, on a
//! miss run the SQL query and fill with a 30-day TTL (with jitter) — and the classic failures:
//! stampedes, repeated misses for tokens that do not exist, and stale data after a write.

use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::thread;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, anyhow};
use rand::rngs::Xoshiro256PlusPlus;
use rand::{RngExt, SeedableRng};
use rand_distr::{Distribution, Zipf};
use redis::{Commands, ConnectionLike};
use rusqlite::Connection;

use super::{Ctx, DemoReport, NoteKind, run_together};
use crate::measure::{Backend, Claim, format_count, format_duration};
use crate::sql::tokens::{self, TokenDb, TokenInfo, TokenRef};
use crate::text::{Fact, Text};

/// The notes' TTL: 30 days.
pub const TTL_SECS: u64 = 30 * 86_400;
/// ±10% jitter, so keys filled together do not all expire together.
pub const JITTER: f64 = 0.10;
/// Short TTL for "this token does not exist" markers.
pub const NEGATIVE_TTL_SECS: u64 = 120;
/// What a negative-cache entry holds.
pub const NONE_MARKER: &str = "__none__";
/// The simulated extra latency of the notes' remote MySQL in the stampede demo.
const SIMULATED_DB_LATENCY: Duration = Duration::from_millis(50);
/// A hit must beat the source query by more than this (whole 95% interval). The aggregate query
/// over 1,500 trades typically costs several times a loopback round trip; 2× leaves room for a
/// busy machine.
const HIT_VS_SOURCE_THRESHOLD: f64 = 2.0;

fn token_key(ctx: &Ctx, token: &TokenRef) -> String {
    ctx.key(&format!("token:{}:{}", token.chain, token.address.to_ascii_lowercase()))
}

/// 30 days ± 10%, never below one second (`SET ... EX 0` is an error).
pub fn jittered_ttl(rng: &mut impl rand::Rng) -> u64 {
    let factor = 1.0 + rng.random_range(-JITTER..JITTER);
    ((TTL_SECS as f64 * factor).round() as u64).max(1)
}

/// What a cache-aside read found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Outcome {
    Hit,
    Miss,
}

/// Cache-aside read: GET; on a miss run the source query and SET ... EX with a jittered TTL.
fn read_through(
    con: &mut impl ConnectionLike,
    db: &Connection,
    key: &str,
    token: &TokenRef,
    rng: &mut impl rand::Rng,
    source_queries: &Cell<usize>,
) -> Result<(Option<TokenInfo>, Outcome)> {
    if let Some(json) = redis::cmd("GET").arg(key).query::<Option<String>>(con)? {
        return Ok((Some(serde_json::from_str(&json)?), Outcome::Hit));
    }
    source_queries.set(source_queries.get() + 1);
    let info = tokens::token_detail(db, token)?;
    if let Some(info) = &info {
        set_ex(con, key, &serde_json::to_string(info)?, jittered_ttl(rng))?;
    }
    Ok((info, Outcome::Miss))
}

/// `SET key value EX seconds` (SETEX is deprecated since 2.6.12 in favour of this form).
fn set_ex(con: &mut impl ConnectionLike, key: &str, value: &str, seconds: u64) -> Result<()> {
    redis::cmd("SET").arg(key).arg(value).arg("EX").arg(seconds).exec(con)?;
    Ok(())
}

fn token_db(ctx: &Ctx) -> Result<TokenDb> {
    TokenDb::open_or_generate(&ctx.scratch.join("tokens.db"), ctx.n(400, 120), &ctx.interrupt)
}

/// Hit vs miss vs the source query, the honest PK read, and what the TTLs look like.
pub fn token_cache(ctx: &Ctx) -> Result<DemoReport> {
    let mut report = DemoReport::new("token-cache", Text::msg("title"));
    let started = Instant::now();
    let db = token_db(ctx)?;
    let sql = db.connect()?;
    let mut con = ctx.connect()?;
    report.note(
        NoteKind::Info,
        Text::msg("source")
            .fact("tokens", db.tokens.len())
            .fact("trades", db.tokens.len() * tokens::TRADES_PER_TOKEN)
            .fact("took", started.elapsed()),
    );

    // Fill the cache for every token, in one pipeline, with jittered TTLs.
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(2);
    let mut fill = redis::pipe();
    for token in &db.tokens {
        ctx.check_interrupt()?;
        let info = tokens::token_detail(&sql, token)?.ok_or_else(|| anyhow!("token {} vanished", token.address))?;
        fill.cmd("SET")
            .arg(token_key(ctx, token))
            .arg(serde_json::to_string(&info)?)
            .arg("EX")
            .arg(jittered_ttl(&mut rng))
            .ignore();
    }
    fill.exec(&mut con).context("filling the cache")?;

    let keys: Vec<String> = db.tokens.iter().map(|t| token_key(ctx, t)).collect();
    let next = Cell::new(0_usize);
    let pick = || {
        let i = next.get();
        next.set((i + 1) % db.tokens.len());
        i
    };
    let misses = Cell::new(0_usize);
    let queries = Cell::new(0_usize);
    // The four take turns in rounds, so a busy moment slows each of them alike.
    let con = RefCell::new(con);
    let group = report.measured_group(
        ctx.sampler
            .group()
            .op("source-query", "SQL", Backend::Sqlite, || {
                let i = pick();
                tokens::token_detail(&sql, &db.tokens[i])?.ok_or_else(|| anyhow!("no token"))?;
                Ok(())
            })
            .op("hit", "GET", Backend::Redis, || {
                let i = pick();
                let json: Option<String> = con.borrow_mut().get(&keys[i])?;
                let _: TokenInfo = serde_json::from_str(&json.ok_or_else(|| anyhow!("expected a hit"))?)?;
                Ok(())
            })
            .op("miss", "GET + SQL + SET EX", Backend::App, || {
                // A key no sample used before, so every sample is a real miss.
                let n = misses.get();
                misses.set(n + 1);
                let key = ctx.key(&format!("token-miss-demo:{n}"));
                let (info, outcome) = read_through(
                    &mut *con.borrow_mut(),
                    &sql,
                    &key,
                    &db.tokens[n % db.tokens.len()],
                    &mut rng,
                    &queries,
                )?;
                anyhow::ensure!(info.is_some() && outcome == Outcome::Miss, "expected a miss that fills");
                Ok(())
            })
            .op("sqlite-row-read", "SQLite row", Backend::Sqlite, || {
                let i = pick();
                tokens::token_row(&sql, &db.tokens[i])?.ok_or_else(|| anyhow!("no token"))?;
                Ok(())
            })
            .run()?,
    );
    let mut con = con.into_inner();
    let (source, hit, row) = (group.get("source-query"), group.get("hit"), group.get("sqlite-row-read"));
    let speedup = report.compare("hit-vs-source-query", hit, source)?;
    let honest = report.compare("sqlite-row-read-vs-hit", row, hit)?;
    report.compare("hit-vs-miss", hit, group.get("miss"))?;

    // TTLs: where do the filled keys' expiries fall?
    let mut ttl_pipe = redis::pipe();
    for key in &keys {
        ttl_pipe.ttl(key);
    }
    let ttls: Vec<i64> = ttl_pipe.query(&mut con)?;
    let (min_ttl, max_ttl) = (ttls.iter().copied().min().unwrap_or(0), ttls.iter().copied().max().unwrap_or(0));
    let mut buckets: HashMap<i64, usize> = HashMap::new();
    for ttl in &ttls {
        *buckets.entry(ttl / 3_600).or_default() += 1;
    }
    let busiest_hour = buckets.values().copied().max().unwrap_or(0) as f64 / ttls.len().max(1) as f64 * 100.0;
    let days = |s: i64| s as f64 / 86_400.0;
    report.table(
        Text::msg("ttls"),
        vec![
            Text::msg("ttls.header-keys"),
            Text::msg("ttls.header-shortest"),
            Text::msg("ttls.header-longest"),
            Text::msg("ttls.header-busiest-hour"),
        ],
        vec![vec![
            Text::Plain(format_count(ttls.len() as u64)),
            Text::Plain(format!("{:.2} d", days(min_ttl))),
            Text::Plain(format!("{:.2} d", days(max_ttl))),
            Text::Plain(format!("{busiest_hour:.1}%")),
        ]],
    );

    let lo = (TTL_SECS as f64 * (1.0 - JITTER)) as i64 - 60;
    let hi = (TTL_SECS as f64 * (1.0 + JITTER)) as i64;
    let ttls_ok = min_ttl >= lo && max_ttl <= hi;
    let spread_ok = busiest_hour < 10.0;
    report.claim(
        Claim::ratio_above("hit-beats-source-query", "", &speedup, HIT_VS_SOURCE_THRESHOLD)
            .fact("hit", hit.p50())
            .fact("ratio", Fact::Ratio(speedup.ratio))
            .fact("source", source.p50()),
    );
    report.claim(
        Claim::new("ttl-jitter-spreads-expiries", "", format!("{busiest_hour:.1}%"), ttls_ok && spread_ok)
            .fact("shortest", Fact::Number(days(min_ttl)))
            .fact("longest", Fact::Number(days(max_ttl)))
            .fact("busiest", Fact::Percent(busiest_hour / 100.0)),
    );
    report.claim(
        Claim::ratio_above("in-process-row-read-beats-round-trip", "", &honest, 1.0)
            .fact("row", row.p50())
            .fact("hit", hit.p50())
            .fact("ratio", Fact::Ratio(honest.ratio)),
    );
    Ok(report)
}

/// A skewed (Zipf) read workload through the cache: hit ratio, and SQL queries == misses.
pub fn skewed_reads(ctx: &Ctx) -> Result<DemoReport> {
    let mut report = DemoReport::new("skewed-reads", Text::msg("title"));
    let db = token_db(ctx)?;
    let sql = db.connect()?;
    let mut con = ctx.connect()?;
    let keys: Vec<String> =
        db.tokens.iter().map(|t| ctx.key(&format!("token-zipf:{}:{}", t.chain, t.address))).collect();
    let zipf = Zipf::new(db.tokens.len() as f64, 1.0).map_err(|e| anyhow!("zipf: {e}"))?;
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(7);
    let mut ttl_rng = Xoshiro256PlusPlus::seed_from_u64(8);
    // Counting: a fixed number of reads from a cold cache, every hit and miss counted here.
    let reads = ctx.n(20_000, 3_000);
    let queries = Cell::new(0_usize);
    let (hits, misses) = (Cell::new(0_usize), Cell::new(0_usize));
    for _ in 0..reads {
        ctx.check_interrupt()?;
        let i = zipf.sample(&mut rng) as usize - 1;
        let (_, outcome) = read_through(&mut con, &sql, &keys[i], &db.tokens[i], &mut ttl_rng, &queries)?;
        match outcome {
            Outcome::Hit => hits.set(hits.get() + 1),
            Outcome::Miss => misses.set(misses.get() + 1),
        }
    }
    // Timing: the same workload, cache now warm, against querying SQL every time, in turns. Each
    // side draws its own Zipf sequence from its own seed.
    let unused = Cell::new(0_usize);
    let mut cached_rng = Xoshiro256PlusPlus::seed_from_u64(9);
    let mut direct_rng = Xoshiro256PlusPlus::seed_from_u64(10);
    let group = report.measured_group(
        ctx.sampler
            .group()
            .op("cache-aside-zipf", "cache-aside", Backend::App, || {
                let i = zipf.sample(&mut cached_rng) as usize - 1;
                read_through(&mut con, &sql, &keys[i], &db.tokens[i], &mut ttl_rng, &unused)?;
                Ok(())
            })
            .op("sql-every-time-zipf", "SQL", Backend::Sqlite, || {
                let i = zipf.sample(&mut direct_rng) as usize - 1;
                tokens::token_detail(&sql, &db.tokens[i])?;
                Ok(())
            })
            .run()?,
    );
    report.compare("cache-aside-vs-sql-every-time", group.get("cache-aside-zipf"), group.get("sql-every-time-zipf"))?;
    let ratio = hits.get() as f64 / reads.max(1) as f64 * 100.0;
    report.table(
        Text::msg("reads"),
        vec![
            Text::msg("reads.header-reads"),
            Text::msg("reads.header-hits"),
            Text::msg("reads.header-misses"),
            Text::msg("reads.header-queries"),
            Text::msg("reads.header-hit-ratio"),
        ],
        vec![vec![
            Text::Plain(format_count(reads as u64)),
            Text::Plain(format_count(hits.get() as u64)),
            Text::Plain(format_count(misses.get() as u64)),
            Text::Plain(format_count(queries.get() as u64)),
            Text::Plain(format!("{ratio:.1}%")),
        ]],
    );
    report.note(NoteKind::Info, Text::msg("counted-in-app"));
    let holds = queries.get() == misses.get() && ratio >= 50.0;
    report.claim(
        Claim::new("one-query-per-miss", "", format!("{ratio:.1}%"), holds)
            .fact("reads", reads)
            .fact("queries", queries.get())
            .fact("hit_ratio", Fact::Percent(ratio / 100.0)),
    );
    Ok(report)
}

/// K readers hit one cold key at once: K source queries without single-flight, 1 with it.
pub fn stampede(ctx: &Ctx) -> Result<DemoReport> {
    let mut report = DemoReport::new("stampede", Text::msg("title"));
    let db = token_db(ctx)?;
    let readers = ctx.n(16, 8);
    let token = db.tokens[0].clone();
    report.note(NoteKind::Simulated, Text::msg("simulated").fact("latency", SIMULATED_DB_LATENCY));
    let naive = run_stampede(ctx, &db, &token, readers, false)?;
    let guarded = run_stampede(ctx, &db, &token, readers, true)?;
    let label = |single_flight: bool| Text::msg(if single_flight { "single-flight" } else { "plain" });
    report.table(
        Text::msg("readers").fact("readers", readers),
        vec![
            Text::msg("readers.header-strategy"),
            Text::msg("readers.header-queries"),
            Text::msg("readers.header-slowest"),
            Text::msg("readers.header-all-served"),
        ],
        [(false, &naive), (true, &guarded)]
            .iter()
            .map(|(sf, r)| {
                vec![
                    label(*sf),
                    Text::Plain(r.queries.to_string()),
                    Text::Plain(format_duration(r.slowest)),
                    Text::msg(if r.all_served { "yes" } else { "no" }),
                ]
            })
            .collect(),
    );
    let holds = naive.queries > 1 && guarded.queries == 1 && naive.all_served && guarded.all_served;
    report.claim(
        Claim::new("single-flight-one-query", "", format!("{} → {}", naive.queries, guarded.queries), holds)
            .fact("readers", readers)
            .fact("without", naive.queries)
            .fact("with", guarded.queries),
    );
    Ok(report)
}

struct StampedeResult {
    queries: usize,
    slowest: Duration,
    all_served: bool,
}

/// Compare-and-delete: release the lock only if it is still ours.
const RELEASE_LOCK: &str =
    "if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) else return 0 end";

fn run_stampede(
    ctx: &Ctx,
    db: &TokenDb,
    token: &TokenRef,
    readers: usize,
    single_flight: bool,
) -> Result<StampedeResult> {
    let tag = if single_flight { "sf" } else { "plain" };
    let key = ctx.key(&format!("token-stampede-{tag}:{}:{}", token.chain, token.address));
    let lock = ctx.key(&format!("lock:token-stampede-{tag}:{}", token.address));
    let queries = AtomicUsize::new(0);
    let release = redis::Script::new(RELEASE_LOCK);
    let source = |sql: &Connection| -> Result<Option<TokenInfo>> {
        queries.fetch_add(1, Ordering::SeqCst);
        thread::sleep(SIMULATED_DB_LATENCY);
        tokens::token_detail(sql, token)
    };
    let (results, _) = run_together(
        readers,
        |_| Ok((ctx.connect()?, db.connect()?)),
        |reader, (mut con, sql)| {
            let mut rng = Xoshiro256PlusPlus::seed_from_u64(reader as u64);
            let start = Instant::now();
            let found = loop {
                ctx.check_interrupt()?;
                if let Some(json) = con.get::<_, Option<String>>(&key)? {
                    break Some(serde_json::from_str::<TokenInfo>(&json)?);
                }
                if !single_flight {
                    let info = source(&sql)?;
                    if let Some(info) = &info {
                        set_ex(&mut con, &key, &serde_json::to_string(info)?, jittered_ttl(&mut rng))?;
                    }
                    break info;
                }
                let me = format!("{reader}-{:016x}", rng.random::<u64>());
                let opts = redis::SetOptions::default()
                    .conditional_set(redis::ExistenceCheck::NX)
                    .with_expiration(redis::SetExpiry::PX(5_000));
                let won: bool = con.set_options(&lock, &me, opts)?;
                if won {
                    let info = source(&sql)?;
                    if let Some(info) = &info {
                        set_ex(&mut con, &key, &serde_json::to_string(info)?, jittered_ttl(&mut rng))?;
                    }
                    let _: i64 = release.key(&lock).arg(&me).invoke(&mut con)?;
                    break info;
                }
                // Someone else is loading: wait a little and look again.
                thread::sleep(Duration::from_millis(5));
                if start.elapsed() > Duration::from_secs(10) {
                    return Err(anyhow!("a reader waited 10 s for the cache to fill"));
                }
            };
            Ok((start.elapsed(), found.is_some()))
        },
    )?;
    let mut slowest = Duration::ZERO;
    let mut all_served = true;
    for (took, served) in results {
        slowest = slowest.max(took);
        all_served &= served;
    }
    Ok(StampedeResult { queries: queries.load(Ordering::SeqCst), slowest, all_served })
}

/// Reads of tokens that do not exist: every one reaches SQL, unless "not found" is cached too.
pub fn negative_caching(ctx: &Ctx) -> Result<DemoReport> {
    let mut report = DemoReport::new("negative-caching", Text::msg("title"));
    let db = token_db(ctx)?;
    let sql = db.connect()?;
    let mut con = ctx.connect()?;
    let distinct = 20;
    let reads = ctx.n(2_000, 400);
    let missing: Vec<TokenRef> = (0..distinct).map(tokens::missing_token).collect();
    let mut counts = Vec::new();
    for cache_none in [false, true] {
        let mut queries = 0;
        for i in 0..reads {
            ctx.check_interrupt()?;
            let token = &missing[i % distinct];
            let key = ctx.key(&format!("token-neg-{cache_none}:{}:{}", token.chain, token.address));
            let cached: Option<String> = con.get(&key)?;
            if cached.is_some() {
                continue; // the marker: we know it does not exist
            }
            queries += 1;
            if tokens::token_detail(&sql, token)?.is_none() && cache_none {
                set_ex(&mut con, &key, NONE_MARKER, NEGATIVE_TTL_SECS)?;
            }
        }
        counts.push(queries);
    }
    let sample_key = ctx.key(&format!("token-neg-true:{}:{}", missing[0].chain, missing[0].address));
    let marker_ttl: i64 = con.ttl(&sample_key)?;
    report.table(
        Text::msg("reads").fact("reads", reads).fact("distinct", distinct),
        vec![Text::msg("reads.header-strategy"), Text::msg("reads.header-queries")],
        vec![
            vec![Text::msg("exists-only"), Text::Plain(format_count(counts[0] as u64))],
            vec![
                Text::msg("also-not-found").fact("marker", NONE_MARKER).fact("ttl", NEGATIVE_TTL_SECS),
                Text::Plain(format_count(counts[1] as u64)),
            ],
        ],
    );
    report.note(NoteKind::Info, Text::msg("marker-ttl").fact("ttl", marker_ttl));
    let holds = counts[0] == reads && counts[1] == distinct;
    report.claim(
        Claim::new("negative-cache-one-query-per-address", "", format!("{} → {}", counts[0], counts[1]), holds)
            .fact("without", counts[0])
            .fact("with", counts[1]),
    );
    Ok(report)
}

/// A write to SQL without touching the cache leaves readers on stale data for the rest of the TTL;
/// update-then-DEL fixes it.
pub fn invalidation(ctx: &Ctx) -> Result<DemoReport> {
    let mut report = DemoReport::new("invalidation", Text::msg("title"));
    let db = token_db(ctx)?;
    let sql = db.connect()?;
    let mut con = ctx.connect()?;
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(11);
    let queries = Cell::new(0);
    let token = db.tokens[db.tokens.len() / 2].clone();
    let original = tokens::token_row(&sql, &token)?.ok_or_else(|| anyhow!("no token"))?.1;
    let mut rows = Vec::new();
    let mut stale_reads = Vec::new();
    for invalidate in [false, true] {
        let key = ctx.key(&format!("token-inval-{invalidate}:{}:{}", token.chain, token.address));
        tokens::rename(&sql, &token, &original)?;
        read_through(&mut con, &sql, &key, &token, &mut rng, &queries)?; // fill
        let new_name = format!("{original} v2");
        tokens::rename(&sql, &token, &new_name)?; // the write
        if invalidate {
            let _: i64 = con.del(&key)?;
        }
        let (info, outcome) = read_through(&mut con, &sql, &key, &token, &mut rng, &queries)?;
        let seen = info.map(|i| i.name).unwrap_or_default();
        let stale = usize::from(seen != new_name);
        let ttl: i64 = con.ttl(&key)?;
        stale_reads.push(stale);
        rows.push(vec![
            Text::msg(if invalidate { "update-then-del" } else { "update-only" }),
            Text::Plain(seen),
            Text::msg(match outcome {
                Outcome::Hit => "hit-stale",
                Outcome::Miss => "miss-fresh-fill",
            }),
            Text::Plain(format!("{:.1} d", ttl as f64 / 86_400.0)),
        ]);
    }
    tokens::rename(&sql, &token, &original)?;
    report.table(
        Text::msg("renamed"),
        vec![
            Text::msg("renamed.header-write-path"),
            Text::msg("renamed.header-name-seen"),
            Text::msg("renamed.header-read"),
            Text::msg("renamed.header-ttl-left"),
        ],
        rows,
    );
    report.note(NoteKind::Caveat, Text::msg("delete-not-overwrite"));
    let holds = stale_reads == [1, 0];
    report.claim(
        Claim::new("del-after-write-no-stale-read", "", format!("{} → {}", stale_reads[0], stale_reads[1]), holds)
            .fact("without", stale_reads[0])
            .fact("with", stale_reads[1]),
    );
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jittered_ttls_stay_within_ten_percent_and_spread() {
        let mut rng = Xoshiro256PlusPlus::seed_from_u64(1);
        let ttls: Vec<u64> = (0..1_000).map(|_| jittered_ttl(&mut rng)).collect();
        let lo = (TTL_SECS as f64 * 0.9) as u64;
        let hi = (TTL_SECS as f64 * 1.1) as u64;
        assert!(ttls.iter().all(|t| (lo..=hi).contains(t)));
        let mut hours: Vec<u64> = ttls.iter().map(|t| t / 3600).collect();
        hours.sort_unstable();
        hours.dedup();
        assert!(hours.len() > 100, "{} distinct hours", hours.len());
    }
}
