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
use crate::i18n::Lang;
use crate::measure::{Backend, Claim, format_count, format_duration, format_ratio};
use crate::sql::tokens::{self, TokenDb, TokenInfo, TokenRef};

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
    let mut report = DemoReport::new(
        "token-cache",
        ctx.tr("Cache hit, cache miss, and the query the cache protects", "缓存命中、未命中，以及缓存所保护的查询"),
    );
    let started = Instant::now();
    let db = token_db(ctx)?;
    let sql = db.connect()?;
    let mut con = ctx.connect()?;
    report.note(
        NoteKind::Info,
        match ctx.lang {
            Lang::En => format!(
                "Source of truth: SQLite with {} tokens and {} trades (synthetic, seeded), built in {}.",
                format_count(db.tokens.len() as u64),
                format_count((db.tokens.len() * tokens::TRADES_PER_TOKEN) as u64),
                format_duration(started.elapsed())
            ),
            Lang::Zh => format!(
                "数据源：SQLite，{} 个代币、{} 笔成交（合成数据，固定随机种子），生成耗时 {}。",
                format_count(db.tokens.len() as u64),
                format_count((db.tokens.len() * tokens::TRADES_PER_TOKEN) as u64),
                format_duration(started.elapsed())
            ),
        },
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
            .op(
                "source-query",
                ctx.tr("SQL source query (join + aggregates)", "SQL 源查询（join + 聚合）"),
                Backend::Sqlite,
                || {
                    let i = pick();
                    tokens::token_detail(&sql, &db.tokens[i])?.ok_or_else(|| anyhow!("no token"))?;
                    Ok(())
                },
            )
            .op("hit", ctx.tr("Redis GET hit + JSON decode", "Redis GET 命中 + JSON 解码"), Backend::Redis, || {
                let i = pick();
                let json: Option<String> = con.borrow_mut().get(&keys[i])?;
                let _: TokenInfo = serde_json::from_str(&json.ok_or_else(|| anyhow!("expected a hit"))?)?;
                Ok(())
            })
            .op(
                "miss",
                ctx.tr("miss: GET + SQL query + SET EX", "未命中：GET + SQL 查询 + SET EX"),
                Backend::App,
                || {
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
                },
            )
            .op(
                "sqlite-row-read",
                ctx.tr("SQLite unique-key row read (no aggregates)", "SQLite 唯一键单行读取（无聚合）"),
                Backend::Sqlite,
                || {
                    let i = pick();
                    tokens::token_row(&sql, &db.tokens[i])?.ok_or_else(|| anyhow!("no token"))?;
                    Ok(())
                },
            )
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
    report.finding(
        ctx.tr("TTL of the filled keys", "已填充键的 TTL"),
        &[
            ctx.tr("keys", "键数"),
            ctx.tr("shortest", "最短"),
            ctx.tr("longest", "最长"),
            ctx.tr("busiest hour of expiry", "过期最集中的一小时"),
        ],
        vec![vec![
            format_count(ttls.len() as u64),
            format!("{:.2} d", days(min_ttl)),
            format!("{:.2} d", days(max_ttl)),
            format!("{busiest_hour:.1}%"),
        ]],
    );

    let lo = (TTL_SECS as f64 * (1.0 - JITTER)) as i64 - 60;
    let hi = (TTL_SECS as f64 * (1.0 + JITTER)) as i64;
    let ttls_ok = min_ttl >= lo && max_ttl <= hi;
    let spread_ok = busiest_hour < 10.0;
    let (claim_hit, claim_ttl, claim_honest) = match ctx.lang {
        Lang::En => (
            format!(
                "A cache hit ({}) is {} faster than the source query it replaces ({})",
                format_duration(hit.p50()),
                format_ratio(speedup.ratio),
                format_duration(source.p50())
            ),
            format!(
                "Every filled key carries a 30-day TTL with ±10% jitter: {:.2}–{:.2} days, and no hour holds more than {busiest_hour:.1}% of the expiries (without jitter: 100%)",
                days(min_ttl),
                days(max_ttl)
            ),
            format!(
                "Honestly: an in-process SQLite row read by unique key ({}) beats the Redis round trip ({}) by {}. The cache pays off because the source query is expensive, and in the notes' system, remote",
                format_duration(row.p50()),
                format_duration(hit.p50()),
                format_ratio(honest.ratio)
            ),
        ),
        Lang::Zh => (
            format!(
                "一次缓存命中（{}）比它所替代的源查询（{}）快 {}",
                format_duration(hit.p50()),
                format_duration(source.p50()),
                format_ratio(speedup.ratio)
            ),
            format!(
                "每个填充的键都带 30 天 ±10% 抖动的 TTL：{:.2}–{:.2} 天，任何一小时内过期的键不超过 {busiest_hour:.1}%（不加抖动：100%）",
                days(min_ttl),
                days(max_ttl)
            ),
            format!(
                "实话实说：本进程内 SQLite 按唯一键读一行（{}）比 Redis 往返（{}）快 {}。缓存之所以划算，是因为源查询昂贵，而且在笔记的系统里它在远端",
                format_duration(row.p50()),
                format_duration(hit.p50()),
                format_ratio(honest.ratio)
            ),
        ),
    };
    report.claim(Claim::ratio_above("hit-beats-source-query", claim_hit, &speedup, HIT_VS_SOURCE_THRESHOLD));
    report.claim(Claim::new(
        "ttl-jitter-spreads-expiries",
        claim_ttl,
        format!("{busiest_hour:.1}%"),
        ttls_ok && spread_ok,
    ));
    report.claim(Claim::ratio_above("in-process-row-read-beats-round-trip", claim_honest, &honest, 1.0));
    Ok(report)
}

/// A skewed (Zipf) read workload through the cache: hit ratio, and SQL queries == misses.
pub fn skewed_reads(ctx: &Ctx) -> Result<DemoReport> {
    let mut report = DemoReport::new(
        "skewed-reads",
        ctx.tr("A skewed workload: a few hot tokens take most reads", "偏斜的负载：少数热门代币承担大部分读取"),
    );
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
            .op(
                "cache-aside-zipf",
                ctx.tr("cache-aside read, Zipf(s=1), warm", "旁路缓存读取，Zipf(s=1)，已预热"),
                Backend::App,
                || {
                    let i = zipf.sample(&mut cached_rng) as usize - 1;
                    read_through(&mut con, &sql, &keys[i], &db.tokens[i], &mut ttl_rng, &unused)?;
                    Ok(())
                },
            )
            .op(
                "sql-every-time-zipf",
                ctx.tr("SQL query every time, Zipf(s=1)", "每次都查 SQL，Zipf(s=1)"),
                Backend::Sqlite,
                || {
                    let i = zipf.sample(&mut direct_rng) as usize - 1;
                    tokens::token_detail(&sql, &db.tokens[i])?;
                    Ok(())
                },
            )
            .run()?,
    );
    report.compare("cache-aside-vs-sql-every-time", group.get("cache-aside-zipf"), group.get("sql-every-time-zipf"))?;
    let ratio = hits.get() as f64 / reads.max(1) as f64 * 100.0;
    report.finding(
        ctx.tr("Where the reads went", "读取去了哪里"),
        &[
            ctx.tr("reads", "读取次数"),
            ctx.tr("hits", "命中"),
            ctx.tr("misses", "未命中"),
            ctx.tr("SQL queries", "SQL 查询"),
            ctx.tr("hit ratio", "命中率"),
        ],
        vec![vec![
            format_count(reads as u64),
            format_count(hits.get() as u64),
            format_count(misses.get() as u64),
            format_count(queries.get() as u64),
            format!("{ratio:.1}%"),
        ]],
    );
    report.note(
        NoteKind::Info,
        ctx.tr(
            "Hits and misses are counted here, in the application: INFO's keyspace_hits counts every client of the server, so it is wrong on a shared Redis.",
            "命中和未命中在应用内计数：INFO 的 keyspace_hits 统计的是服务端所有客户端，在共享的 Redis 上并不准确。",
        ),
    );
    let holds = queries.get() == misses.get() && ratio >= 50.0;
    let text = match ctx.lang {
        Lang::En => format!(
            "{} reads sent only {} queries to SQL, exactly one per miss: hit ratio {ratio:.1}%",
            format_count(reads as u64),
            format_count(queries.get() as u64)
        ),
        Lang::Zh => format!(
            "{} 次读取只向 SQL 发出 {} 次查询，正好每次未命中一次：命中率 {ratio:.1}%",
            format_count(reads as u64),
            format_count(queries.get() as u64)
        ),
    };
    report.claim(Claim::new("one-query-per-miss", text, format!("{ratio:.1}%"), holds));
    Ok(report)
}

/// K readers hit one cold key at once: K source queries without single-flight, 1 with it.
pub fn stampede(ctx: &Ctx) -> Result<DemoReport> {
    let mut report =
        DemoReport::new("stampede", ctx.tr("Stampede: many readers, one cold key", "缓存击穿：许多读者同时读一个冷键"));
    let db = token_db(ctx)?;
    let readers = ctx.n(16, 8);
    let token = db.tokens[0].clone();
    report.note(
        NoteKind::Simulated,
        match ctx.lang {
            Lang::En => format!(
                "simulated: every source query also waits {} ms, standing in for the notes' busy remote MySQL",
                SIMULATED_DB_LATENCY.as_millis()
            ),
            Lang::Zh => format!(
                "模拟：每次源查询额外等待 {} 毫秒，代表笔记中繁忙的远程 MySQL",
                SIMULATED_DB_LATENCY.as_millis()
            ),
        },
    );
    let naive = run_stampede(ctx, &db, &token, readers, false)?;
    let guarded = run_stampede(ctx, &db, &token, readers, true)?;
    let label = |single_flight: bool| {
        if single_flight {
            ctx.tr("single-flight (SET NX PX lock)", "单飞（SET NX PX 锁）")
        } else {
            ctx.tr("plain cache-aside", "普通旁路缓存")
        }
    };
    report.finding(
        match ctx.lang {
            Lang::En => format!("{readers} readers released together on a cold key"),
            Lang::Zh => format!("{readers} 个读者同时读取一个冷键"),
        },
        &[
            ctx.tr("strategy", "策略"),
            ctx.tr("SQL queries", "SQL 查询"),
            ctx.tr("slowest reader", "最慢的读者"),
            ctx.tr("all got the token", "全部拿到数据"),
        ],
        [(false, &naive), (true, &guarded)]
            .iter()
            .map(|(sf, r)| {
                vec![
                    label(*sf).to_string(),
                    r.queries.to_string(),
                    format_duration(r.slowest),
                    r.all_served.to_string(),
                ]
            })
            .collect(),
    );
    let holds = naive.queries > 1 && guarded.queries == 1 && naive.all_served && guarded.all_served;
    let text = match ctx.lang {
        Lang::En => format!(
            "{readers} concurrent readers of a cold key sent {} queries to SQL without single-flight, and {} with it",
            naive.queries, guarded.queries
        ),
        Lang::Zh => format!(
            "{readers} 个并发读者读取冷键：没有单飞时向 SQL 发出 {} 次查询，有单飞时 {} 次",
            naive.queries, guarded.queries
        ),
    };
    report.claim(Claim::new(
        "single-flight-one-query",
        text,
        format!("{} → {}", naive.queries, guarded.queries),
        holds,
    ));
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
    let mut report = DemoReport::new(
        "negative-caching",
        ctx.tr("Negative caching: remember what does not exist", "空值缓存：记住\"不存在\""),
    );
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
    report.finding(
        match ctx.lang {
            Lang::En => format!("{} reads of {distinct} addresses that no token has", format_count(reads as u64)),
            Lang::Zh => format!("对 {distinct} 个不存在的地址读取 {} 次", format_count(reads as u64)),
        },
        &[ctx.tr("strategy", "策略"), ctx.tr("SQL queries", "SQL 查询")],
        vec![
            vec![ctx.tr("cache only what exists", "只缓存存在的数据").to_string(), format_count(counts[0] as u64)],
            vec![
                match ctx.lang {
                    Lang::En => format!("also cache \"not found\" ({NONE_MARKER}, EX {NEGATIVE_TTL_SECS})"),
                    Lang::Zh => format!("同时缓存\"不存在\"（{NONE_MARKER}，EX {NEGATIVE_TTL_SECS}）"),
                },
                format_count(counts[1] as u64),
            ],
        ],
    );
    report.note(
        NoteKind::Info,
        match ctx.lang {
            Lang::En => format!("The marker's TTL is short ({marker_ttl} s left): a token listed later shows up within minutes, not in 30 days."),
            Lang::Zh => format!("空值标记的 TTL 很短（还剩 {marker_ttl} 秒）：之后上架的代币几分钟内就能查到，而不是 30 天后。"),
        },
    );
    let holds = counts[0] == reads && counts[1] == distinct;
    let text = match ctx.lang {
        Lang::En => format!(
            "Without negative caching every read of a missing token reaches SQL ({}); with it, only the first read of each ({})",
            format_count(counts[0] as u64),
            counts[1]
        ),
        Lang::Zh => format!(
            "没有空值缓存时，每次读取不存在的代币都会打到 SQL（{} 次）；有了它，每个地址只查第一次（{} 次）",
            format_count(counts[0] as u64),
            counts[1]
        ),
    };
    report.claim(Claim::new(
        "negative-cache-one-query-per-address",
        text,
        format!("{} → {}", counts[0], counts[1]),
        holds,
    ));
    Ok(report)
}

/// A write to SQL without touching the cache leaves readers on stale data for the rest of the TTL;
/// update-then-DEL fixes it.
pub fn invalidation(ctx: &Ctx) -> Result<DemoReport> {
    let mut report = DemoReport::new(
        "invalidation",
        ctx.tr("Writes: update SQL, then delete the cache key", "写入：先更新 SQL，再删除缓存键"),
    );
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
            if invalidate {
                ctx.tr("UPDATE, then DEL key", "UPDATE 后 DEL 键")
            } else {
                ctx.tr("UPDATE only", "只 UPDATE")
            }
            .to_string(),
            seen,
            match outcome {
                Outcome::Hit => ctx.tr("hit (stale copy)", "命中（旧副本）").to_string(),
                Outcome::Miss => ctx.tr("miss → fresh fill", "未命中 → 重新填充").to_string(),
            },
            format!("{:.1} d", ttl as f64 / 86_400.0),
        ]);
    }
    tokens::rename(&sql, &token, &original)?;
    report.finding(
        ctx.tr(
            "The token is renamed in SQL; what does the next reader see?",
            "在 SQL 中给代币改名，下一个读者看到什么？",
        ),
        &[
            ctx.tr("write path", "写路径"),
            ctx.tr("name the reader got", "读者拿到的名字"),
            ctx.tr("read", "读取"),
            ctx.tr("cache TTL left", "缓存剩余 TTL"),
        ],
        rows,
    );
    report.note(
        NoteKind::Caveat,
        ctx.tr(
            "Delete, do not overwrite: a writer that SETs the cache can race a reader filling an older copy. Even DEL leaves a small window (a slow reader may fill the old value after the DEL); a short TTL or versioned fill bounds it.",
            "删除而不是覆盖：写方直接 SET 缓存，可能和正在回填旧数据的读者竞争。即使 DEL 也有小窗口（慢读者可能在 DEL 之后回填旧值）；较短的 TTL 或带版本号的回填可以限制它。",
        ),
    );
    let holds = stale_reads == [1, 0];
    let text = match ctx.lang {
        Lang::En => format!(
            "After a write, readers got stale data {} time(s) when the cache was not told, and {} time(s) after DEL of the key",
            stale_reads[0], stale_reads[1]
        ),
        Lang::Zh => format!(
            "写入之后：缓存没有被通知时，读者拿到旧数据 {} 次；删除键之后 {} 次",
            stale_reads[0], stale_reads[1]
        ),
    };
    report.claim(Claim::new(
        "del-after-write-no-stale-read",
        text,
        format!("{} → {}", stale_reads[0], stale_reads[1]),
        holds,
    ));
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
