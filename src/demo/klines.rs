//! Lesson 3 (notes: `model/redismodel/kline.go`): K-lines (candles) in a sorted set, the open time
//! in ms as the score, time windows with `ZRANGE … BYSCORE`, a compact member encoding, and the two
//! ways a sorted set surprises: members are unique by value (the open candle piles up; flat candles
//! collapse) and the encoding flips from listpack to skiplist past 128 members or 64-byte members.
//! The SQL side is the same candles in an indexed SQLite table.

pub mod codec;
pub mod series;
mod table;

use std::cell::{Cell, RefCell};

use anyhow::{Context, Result, anyhow, bail, ensure};
use rand::rngs::Xoshiro256PlusPlus;
use rand::{RngExt, SeedableRng};
use redis::ConnectionLike;

use self::codec::Candle;
use self::series::{MARKETS, MINUTE_MS};
use super::{Ctx, DemoReport, NoteKind};
use crate::i18n::Lang;
use crate::measure::{Backend, Claim, Verdict, format_count, format_duration, format_ratio};
use crate::server::Version;

/// The notes' interval.
pub const INTERVAL: &str = "1m";
/// Candles in one day of 1-minute candles.
pub const DAY: usize = 1_440;
/// Candles per bucket key: 2 hours, under the default `zset-max-listpack-entries` (128).
pub const BUCKET_CANDLES: u64 = 120;
/// Windows the range demo queries: an hour and a day.
const WINDOWS: [usize; 2] = [60, DAY];
/// Trades that update the still-open candle in the update demo.
const OPEN_CANDLE_TRADES: usize = 60;
/// Flat candles of an illiquid token.
const FLAT_CANDLES: usize = 50;
/// Defaults of Redis 7.0 when `CONFIG GET` is not allowed.
const DEFAULT_LISTPACK_ENTRIES: u64 = 128;
const DEFAULT_LISTPACK_VALUE: u64 = 64;
/// Past this `zset-max-listpack-entries`, the threshold experiment is skipped (too many members).
const MAX_THRESHOLD_EXPERIMENT: u64 = 10_000;

/// Replace the candle at ARGV[1] (a score) with member ARGV[2], atomically, on the server.
const REPLACE_CANDLE_LUA: &str = "redis.call('ZREMRANGEBYSCORE', KEYS[1], ARGV[1], ARGV[1])
return redis.call('ZADD', KEYS[1], ARGV[1], ARGV[2])";

/// `{ns}:kline:{symbol}:1m{suffix}`: the notes' key shape, with a suffix for the demo's variants.
fn kline_key(ctx: &Ctx, symbol: &str, suffix: &str) -> String {
    ctx.key(&format!("kline:{symbol}:{INTERVAL}{suffix}"))
}

/// The bucket key holding the candle that opens at `open_ms`: `{ns}:kline:{symbol}:1m:{open_ms / bucket_ms}`.
fn bucket_key(ctx: &Ctx, symbol: &str, bucket: u64, open_ms: u64) -> String {
    kline_key(ctx, symbol, &format!(":{}", open_ms / (bucket * MINUTE_MS)))
}

/// Candles per bucket: 120 (2 h), or less when the server's listpack limit is lower.
pub fn bucket_candles(entries_limit: u64) -> u64 {
    [BUCKET_CANDLES, 60, 30, 15, 10, 5, 1].into_iter().find(|&n| n <= entries_limit).unwrap_or(1)
}

/// The server's zset listpack thresholds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ListpackLimits {
    /// `zset-max-listpack-entries`: more members than this → skiplist.
    pub entries: u64,
    /// `zset-max-listpack-value`: a member longer than this (bytes) → skiplist.
    pub value: u64,
    /// False when `CONFIG GET` was refused and the 7.0 defaults are assumed.
    pub from_server: bool,
}

impl ListpackLimits {
    /// Would a fresh zset of `count` members, the longest `longest` bytes, be a listpack?
    pub fn fits(&self, count: u64, longest: u64) -> bool {
        count <= self.entries && longest <= self.value
    }
}

/// What `OBJECT ENCODING` calls the compact zset layout on this server (`ziplist` before 7.0).
fn compact_encoding(version: Version) -> &'static str {
    if version.at_least(7, 0) { "listpack" } else { "ziplist" }
}

fn predicted_encoding(limits: &ListpackLimits, version: Version, count: u64, longest: u64) -> &'static str {
    if limits.fits(count, longest) { compact_encoding(version) } else { "skiplist" }
}

/// Read the listpack thresholds with `CONFIG GET` (a read; never CONFIG SET); fall back to the
/// 7.0 defaults when the server refuses (managed services often rename or block CONFIG).
fn listpack_limits(con: &mut impl ConnectionLike, version: Version) -> ListpackLimits {
    let word = if version.at_least(7, 0) { "listpack" } else { "ziplist" };
    let mut get = |name: &str| -> Option<u64> {
        let reply: Vec<String> = redis::cmd("CONFIG").arg("GET").arg(name).query(con).ok()?;
        reply.get(1)?.parse().ok()
    };
    let entries = get(&format!("zset-max-{word}-entries"));
    let value = get(&format!("zset-max-{word}-value"));
    match (entries, value) {
        (Some(entries), Some(value)) => ListpackLimits { entries, value, from_server: true },
        _ => ListpackLimits {
            entries: entries.unwrap_or(DEFAULT_LISTPACK_ENTRIES),
            value: value.unwrap_or(DEFAULT_LISTPACK_VALUE),
            from_server: false,
        },
    }
}

/// `(score, member)` pairs for `candles`, encoded by `encode`.
fn members(candles: &[Candle], encode: fn(&Candle) -> String) -> Vec<(u64, String)> {
    candles.iter().map(|c| (c.open_ms, encode(c))).collect()
}

/// DEL `key`, then one `ZADD key score member` per candle, as a live writer sends them, all in one
/// pipeline (one round trip).
fn load(con: &mut impl ConnectionLike, key: &str, pairs: &[(u64, String)]) -> Result<()> {
    let mut pipe = redis::pipe();
    pipe.cmd("DEL").arg(key).ignore();
    for (score, member) in pairs {
        pipe.cmd("ZADD").arg(key).arg(*score).arg(member).ignore();
    }
    pipe.exec(con).with_context(|| format!("loading {key}"))?;
    Ok(())
}

/// `MEMORY USAGE key SAMPLES 0`: every member counted, not a sample of 5.
fn memory_usage(con: &mut impl ConnectionLike, key: &str) -> Result<u64> {
    let bytes: Option<u64> = redis::cmd("MEMORY").arg("USAGE").arg(key).arg("SAMPLES").arg(0).query(con)?;
    bytes.ok_or_else(|| anyhow!("MEMORY USAGE found no key {key}"))
}

fn encoding(con: &mut impl ConnectionLike, key: &str) -> Result<String> {
    Ok(redis::cmd("OBJECT").arg("ENCODING").arg(key).query(con)?)
}

fn zcard(con: &mut impl ConnectionLike, key: &str) -> Result<u64> {
    Ok(redis::cmd("ZCARD").arg(key).query(con)?)
}

/// `ZCOUNT key ts ts`: members whose score is exactly `ts`.
fn zcount_at(con: &mut impl ConnectionLike, key: &str, ts: u64) -> Result<u64> {
    Ok(redis::cmd("ZCOUNT").arg(key).arg(ts).arg(ts).query(con)?)
}

/// The members with `from <= score < to`: `ZRANGE key from (to BYSCORE` (6.2+), or the older
/// `ZRANGEBYSCORE key from (to` the notes use on servers before 6.2.
fn range_cmd(key: &str, from: u64, to: u64, modern: bool) -> redis::Cmd {
    let mut cmd = if modern { redis::cmd("ZRANGE") } else { redis::cmd("ZRANGEBYSCORE") };
    cmd.arg(key).arg(from).arg(format!("({to}"));
    if modern {
        cmd.arg("BYSCORE");
    }
    cmd
}

fn decode_all(members: &[String]) -> Result<Vec<Candle>> {
    members.iter().map(|m| codec::decode(m).with_context(|| format!("decoding member {m:?}"))).collect()
}

/// A window read from one key.
fn redis_range(con: &mut impl ConnectionLike, key: &str, from: u64, to: u64, modern: bool) -> Result<Vec<Candle>> {
    let members: Vec<String> = range_cmd(key, from, to, modern).query(con)?;
    decode_all(&members)
}

/// A window read from the bucket keys it spans, all in one pipeline (one round trip).
fn bucketed_range(
    ctx: &Ctx,
    con: &mut impl ConnectionLike,
    bucket: u64,
    from: u64,
    to: u64,
    modern: bool,
) -> Result<Vec<Candle>> {
    let bucket_ms = bucket * MINUTE_MS;
    let mut pipe = redis::pipe();
    for b in from / bucket_ms..=(to - 1) / bucket_ms {
        pipe.add_command(range_cmd(&bucket_key(ctx, MARKETS[0].symbol, bucket, b * bucket_ms), from, to, modern));
    }
    let replies: Vec<Vec<String>> = pipe.query(con)?;
    decode_all(&replies.concat())
}

fn label_window(ctx: &Ctx, n: usize) -> String {
    match (ctx.lang, n) {
        (Lang::En, DAY) => format!("{} candles (1 day)", format_count(n as u64)),
        (Lang::En, 60) => "60 candles (1 hour)".to_string(),
        (Lang::En, _) => format!("{n} candles"),
        (Lang::Zh, DAY) => format!("{} 根 K 线（1 天）", format_count(n as u64)),
        (Lang::Zh, 60) => "60 根 K 线（1 小时）".to_string(),
        (Lang::Zh, _) => format!("{n} 根 K 线"),
    }
}

/// Load the candles, then query the same time windows from the sorted set and from SQLite.
pub fn kline_ranges(ctx: &Ctx) -> Result<DemoReport> {
    let mut report = DemoReport::new(
        "kline-ranges",
        ctx.tr(
            "Time windows: ZRANGE … BYSCORE against an indexed SQL table",
            "时间窗口查询：ZRANGE … BYSCORE 对比带索引的 SQL 表",
        ),
    );
    let mut con = ctx.connect()?;
    let version = ctx.version();
    let modern = version.at_least(6, 2);
    let limits = listpack_limits(&mut con, version);
    let bucket = bucket_candles(limits.entries);
    let days = ctx.n(3, 2);
    let market = MARKETS[0];
    let candles = series::random_walk(&market, days * DAY);

    // Redis: one key for the whole series, and the same candles in bucket keys.
    let key = kline_key(ctx, market.symbol, "");
    load(&mut con, &key, &members(&candles, codec::encode))?;
    let mut buckets = 0;
    for chunk in candles.chunks(bucket as usize) {
        ctx.check_interrupt()?;
        load(&mut con, &bucket_key(ctx, market.symbol, bucket, chunk[0].open_ms), &members(chunk, codec::encode))?;
        buckets += 1;
    }
    // SQLite: every market's candles in one table, as a shared candle store would hold them.
    let mut db = table::open(&ctx.scratch.join("klines.db"))?;
    for m in &MARKETS {
        ctx.check_interrupt()?;
        table::insert_all(&mut db, m.symbol, INTERVAL, &series::random_walk(m, days * DAY))?;
    }
    report.note(
        NoteKind::Info,
        match ctx.lang {
            Lang::En => format!(
                "Synthetic data (seeded random walk, the same every run): {} one-minute candles of {} over {days} days. Redis: one zset {} plus {buckets} bucket keys of {bucket}; SQLite: a table of {} symbols keyed (symbol, interval, ts), WITHOUT ROWID.",
                format_count(candles.len() as u64),
                market.symbol,
                short(&key),
                MARKETS.len()
            ),
            Lang::Zh => format!(
                "合成数据（固定种子的随机游走，每次运行都相同）：{} 的 {} 根 1 分钟 K 线，共 {days} 天。Redis：一个有序集合 {}，外加 {buckets} 个各 {bucket} 根的分桶键；SQLite：一张存 {} 个交易对的表，主键 (symbol, interval, ts)，WITHOUT ROWID。",
                market.symbol,
                format_count(candles.len() as u64),
                short(&key),
                MARKETS.len()
            ),
        },
    );

    // Correctness first, outside any timing: the same windows from every store.
    let mut checked = 0;
    let mut mismatches = Vec::new();
    for size in WINDOWS {
        let last = candles.len() - size;
        for start in [0, last / 2, last] {
            let (from, to) = (candles[start].open_ms, candles[start].open_ms + size as u64 * MINUTE_MS);
            let expected = &candles[start..start + size];
            let got = [
                ("ZRANGE", redis_range(&mut con, &key, from, to, modern)?),
                ("buckets", bucketed_range(ctx, &mut con, bucket, from, to, modern)?),
                ("SQLite", table::range(&db, market.symbol, INTERVAL, from, to)?),
            ];
            for (source, candles) in got {
                checked += 1;
                if candles != expected {
                    mismatches.push(format!("{source} {from}..{to}"));
                }
            }
        }
    }
    let sample_from = candles[0].open_ms;
    let sample: Vec<String> = range_cmd(&key, sample_from, sample_from + 3 * MINUTE_MS, modern).query(&mut con)?;
    let to3 = sample_from + 3 * MINUTE_MS;
    let shown = if modern {
        format!("ZRANGE {} {sample_from} ({to3} BYSCORE", short(&key))
    } else {
        format!("ZRANGEBYSCORE {} {sample_from} ({to3}", short(&key))
    };
    report.finding(
        match ctx.lang {
            Lang::En => format!("{shown}: the first 3 minutes"),
            Lang::Zh => format!("{shown}：前 3 分钟"),
        },
        &[
            ctx.tr("member: open_ms|open|high|low|close|volume", "成员：open_ms|open|high|low|close|volume"),
            ctx.tr("opens (UTC)", "开盘（UTC）"),
            ctx.tr("close (USDT)", "收盘价（USDT）"),
        ],
        sample
            .iter()
            .map(|m| match codec::decode(m) {
                Ok(c) => vec![m.clone(), utc_minute(c.open_ms), codec::format_fixed(c.close, codec::PRICE_DECIMALS)],
                Err(e) => vec![m.clone(), e.to_string(), String::new()],
            })
            .collect(),
    );

    // Timings: random windows, the same sequence for every store. For each window size the stores
    // take turns in rounds, so a busy moment of the machine hits all of them alike.
    let con = RefCell::new(con);
    let zrange_name = if modern { "ZRANGE … BYSCORE" } else { "ZRANGEBYSCORE" };
    let mut timed = Vec::new();
    for size in WINDOWS {
        let span = size as u64 * MINUTE_MS;
        let last = candles.len() - size;
        let windows = |seed: u64| {
            let mut rng = Xoshiro256PlusPlus::seed_from_u64(seed);
            let candles = &candles;
            move || {
                let from = candles[rng.random_range(0..=last)].open_ms;
                (from, from + span)
            }
        };
        let expect = |got: usize| -> Result<()> {
            ensure!(got == size, "a {size}-candle window returned {got} candles");
            Ok(())
        };
        let window = label_window(ctx, size);
        let (zrange_id, sqlite_id, buckets_id) =
            (format!("zrange-{size}"), format!("sqlite-range-{size}"), format!("buckets-{size}"));
        let (mut next_one, mut next_sqlite, mut next_buckets) =
            (windows(size as u64), windows(size as u64), windows(size as u64));
        let mut group = ctx
            .sampler
            .group()
            .op(&zrange_id, format!("{zrange_name} {window}"), Backend::Redis, || {
                let (from, to) = next_one();
                expect(redis_range(&mut *con.borrow_mut(), &key, from, to, modern)?.len())
            })
            .op(
                &sqlite_id,
                match ctx.lang {
                    Lang::En => format!("SQLite index range scan, {window}"),
                    Lang::Zh => format!("SQLite 索引范围扫描，{window}"),
                },
                Backend::Sqlite,
                || {
                    let (from, to) = next_sqlite();
                    expect(table::range(&db, market.symbol, INTERVAL, from, to)?.len())
                },
            );
        let with_buckets = size > bucket as usize;
        if with_buckets {
            group = group.op(
                &buckets_id,
                match ctx.lang {
                    Lang::En => format!("bucket keys in one pipeline, {window}"),
                    Lang::Zh => format!("分桶键，一条流水线，{window}"),
                },
                Backend::Redis,
                || {
                    let (from, to) = next_buckets();
                    expect(bucketed_range(ctx, &mut *con.borrow_mut(), bucket, from, to, modern)?.len())
                },
            );
        }
        let group = report.measured_group(group.run()?);
        let vs_redis =
            report.compare(&format!("sqlite-vs-zrange-{size}"), group.get(&sqlite_id), group.get(&zrange_id))?;
        let vs_one_key = if with_buckets {
            Some(report.compare(&format!("buckets-vs-zrange-{size}"), group.get(&buckets_id), group.get(&zrange_id))?)
        } else {
            None
        };
        let redis_p50 = group.get(&zrange_id).p50();
        let sqlite_p50 = group.get(&sqlite_id).p50();
        let buckets_p50 = with_buckets.then(|| group.get(&buckets_id).p50());
        timed.push((size, redis_p50, sqlite_p50, vs_redis, buckets_p50, vs_one_key));
    }

    let same = mismatches.is_empty();
    report.claim(Claim::new(
        "same-candles-from-every-store",
        match ctx.lang {
            Lang::En => format!(
                "Fair comparison: the one key, the bucket keys and SQLite returned the same candles for every window checked ({checked} checks, {} mismatches)",
                mismatches.len()
            ),
            Lang::Zh => format!(
                "比较是公平的：单键、分桶键和 SQLite 对每个校验的窗口都返回了完全相同的 K 线（校验 {checked} 次，不一致 {} 次）",
                mismatches.len()
            ),
        },
        format!("{}/{checked}", checked - mismatches.len()),
        same,
    ));
    if !same {
        report.note(NoteKind::Caveat, format!("mismatched windows: {}", mismatches.join(", ")));
    }
    for (size, redis_p50, sqlite_p50, vs_redis, buckets_p50, vs_one_key) in &timed {
        let window = label_window(ctx, *size);
        // SQLite against the Redis round trip: a note, not a claim (the gap is small and depends on
        // the machine; the lesson asks the learner to predict it), worded by the measured direction.
        let r = format_ratio(if vs_redis.ratio >= 1.0 { vs_redis.ratio } else { 1.0 / vs_redis.ratio });
        let (sqlite_p50, redis_p50) = (format_duration(*sqlite_p50), format_duration(*redis_p50));
        let text = match (ctx.lang, vs_redis.status, vs_redis.ratio >= 1.0) {
            (Lang::En, Verdict::NoClearDifference, _) => format!(
                "{window}: SQLite in this process ({sqlite_p50}) and one Redis round trip ({redis_p50}) at p50: no clear difference in this run ({})",
                vs_redis.measured()
            ),
            (Lang::En, _, true) => format!(
                "{window}: SQLite in this process ({sqlite_p50}) was {r} faster than one Redis round trip ({redis_p50}) at p50 in this run ({}): no network, no reply to parse",
                vs_redis.measured()
            ),
            (Lang::En, _, false) => format!(
                "{window}: SQLite in this process ({sqlite_p50}) was {r} slower than one Redis round trip ({redis_p50}) at p50 in this run"
            ),
            (Lang::Zh, Verdict::NoClearDifference, _) => format!(
                "{window}：本进程内的 SQLite（{sqlite_p50}）与一次 Redis 往返（{redis_p50}）在 p50 上本次运行无明显差别（{}）",
                vs_redis.measured()
            ),
            (Lang::Zh, _, true) => format!(
                "{window}：本次运行中，本进程内的 SQLite（{sqlite_p50}）比一次 Redis 往返（{redis_p50}）快 {r}（p50，{}）：没有网络，也不用解析回复",
                vs_redis.measured()
            ),
            (Lang::Zh, _, false) => format!(
                "{window}：本次运行中，本进程内的 SQLite（{sqlite_p50}）比一次 Redis 往返（{redis_p50}）慢 {r}（p50）"
            ),
        };
        report.note(NoteKind::Info, text);
        if let (Some(buckets_p50), Some(vs_one_key)) = (buckets_p50, vs_one_key) {
            let keys = size.div_ceil(bucket as usize) + 1;
            report.claim(Claim::ratio_above(
                format!("buckets-cost-under-twice-one-key-{size}"),
                match ctx.lang {
                    Lang::En => format!(
                        "{window} from up to {keys} bucket keys in one pipeline takes {} against {} from one key: less than twice the cost, so bucketing for memory and EXPIRE is cheap to read",
                        format_duration(*buckets_p50),
                        redis_p50
                    ),
                    Lang::Zh => format!(
                        "{window} 从最多 {keys} 个分桶键用一条流水线读取耗时 {}，从一个键读取耗时 {}：不到两倍，为了省内存和设置 EXPIRE 而分桶，读起来并不贵",
                        format_duration(*buckets_p50),
                        redis_p50
                    ),
                },
                vs_one_key,
                0.5,
            ));
        }
    }
    report.note(
        NoteKind::Info,
        ctx.tr(
            "Honestly: SQLite runs inside this process, so a query pays no network round trip and no reply parsing; Redis pays a network round trip plus ~50 bytes per candle to send, parse and decode. Both walk an ordered index (a B-tree; a skiplist or listpack), so both cost O(log N + M) for M candles. Against the notes' MySQL on another machine, SQL pays the round trip too, and Redis is the one that spares the database.",
            "实话实说：SQLite 就在本进程里，查询没有网络往返，也不用解析回复；Redis 要付一次网络往返，外加每根 K 线约 50 字节的传输、解析和解码。两边走的都是有序索引（B 树；跳表或 listpack），M 根 K 线的代价都是 O(log N + M)。换成笔记里部署在另一台机器上的 MySQL，SQL 也要付网络往返，而 Redis 的作用是替数据库分担这些读取。",
        ),
    );
    report.note(
        NoteKind::Info,
        ctx.tr(
            "\"(to\" makes the upper bound exclusive, so [from, to) windows never overlap. ZRANGEBYSCORE, the form the notes use, still works but is deprecated since 6.2 in favour of ZRANGE … BYSCORE.",
            "\"(to\" 表示上界不包含，这样 [from, to) 窗口不会互相重叠。笔记里用的 ZRANGEBYSCORE 仍然可用，但从 6.2 起已被 ZRANGE … BYSCORE 取代。",
        ),
    );
    Ok(report)
}

/// One storage layout measured: keys, members, what OBJECT ENCODING says, and MEMORY USAGE.
struct Stored {
    keys: usize,
    candles: usize,
    longest: usize,
    encodings: Vec<String>,
    bytes: u64,
    as_predicted: bool,
}

/// Load each (key, pairs), then read back encodings and exact memory.
fn store(
    ctx: &Ctx,
    con: &mut impl ConnectionLike,
    limits: &ListpackLimits,
    layout: &[(String, Vec<(u64, String)>)],
) -> Result<Stored> {
    let mut stored = Stored { keys: 0, candles: 0, longest: 0, encodings: Vec::new(), bytes: 0, as_predicted: true };
    for (key, pairs) in layout {
        ctx.check_interrupt()?;
        load(con, key, pairs)?;
        let longest = pairs.iter().map(|(_, m)| m.len()).max().unwrap_or(0);
        let observed = encoding(con, key)?;
        stored.as_predicted &=
            observed == predicted_encoding(limits, ctx.version(), pairs.len() as u64, longest as u64);
        if !stored.encodings.contains(&observed) {
            stored.encodings.push(observed);
        }
        stored.bytes += memory_usage(con, key)?;
        stored.keys += 1;
        stored.candles += pairs.len();
        stored.longest = stored.longest.max(longest);
    }
    Ok(stored)
}

fn percent(part: u64, whole: u64) -> f64 {
    if whole == 0 { f64::NAN } else { part as f64 / whole as f64 * 100.0 }
}

/// The same candles as JSON members and as compact members, in one key and in bucket keys:
/// OBJECT ENCODING and MEMORY USAGE … SAMPLES 0 for each, and the 128-member threshold live.
pub fn kline_memory(ctx: &Ctx) -> Result<DemoReport> {
    let mut report = DemoReport::new(
        "kline-memory",
        ctx.tr(
            "Compact members and listpack: what a day of candles costs in RAM",
            "紧凑成员与 listpack：一天的 K 线占多少内存",
        ),
    );
    let mut con = ctx.connect()?;
    let version = ctx.version();
    let limits = listpack_limits(&mut con, version);
    let bucket = bucket_candles(limits.entries);
    let market = MARKETS[0];
    let day = series::random_walk(&market, DAY);
    let small = &day[..bucket as usize];
    let sym = market.symbol;
    let one = |suffix: &str, candles: &[Candle], encode: fn(&Candle) -> String| {
        vec![(kline_key(ctx, sym, suffix), members(candles, encode))]
    };
    let json_small = store(ctx, &mut con, &limits, &one(":json-bucket", small, codec::encode_json))?;
    let compact_small = store(ctx, &mut con, &limits, &one(":compact-bucket", small, codec::encode))?;
    let json_day = store(ctx, &mut con, &limits, &one(":json-day", &day, codec::encode_json))?;
    let compact_day = store(ctx, &mut con, &limits, &one(":compact-day", &day, codec::encode))?;
    let bucketed: Vec<(String, Vec<(u64, String)>)> = day
        .chunks(bucket as usize)
        .map(|chunk| (bucket_key(ctx, sym, bucket, chunk[0].open_ms), members(chunk, codec::encode)))
        .collect();
    let compact_buckets = store(ctx, &mut con, &limits, &bucketed)?;

    // The SQL side, for scale: the same day's rows, and the pages they take.
    let mut db = table::open(&ctx.scratch.join("klines-size.db"))?;
    table::insert_all(&mut db, sym, INTERVAL, &day)?;
    let sqlite_bytes = table::size_bytes(&db)?;

    let tr = |en: &str, zh: &str| ctx.tr(en, zh).to_string();
    let row = |label: String, s: &Stored, json: &Stored| {
        vec![
            label,
            s.keys.to_string(),
            format_count(s.candles as u64),
            format!("{} B", s.longest),
            s.encodings.join(", "),
            format_count(s.bytes),
            format!("{:.1}", s.bytes as f64 / s.candles.max(1) as f64),
            format!("{:.0}%", percent(s.bytes, json.bytes)),
        ]
    };
    let bucket_label = |what: &str| match ctx.lang {
        Lang::En => format!("{what}, 1 key of {bucket}"),
        Lang::Zh => format!("{what}，1 个键存 {bucket} 根"),
    };
    let mut rows = vec![
        row(bucket_label(ctx.tr("JSON members", "JSON 成员")), &json_small, &json_small),
        row(bucket_label(ctx.tr("compact members", "紧凑成员")), &compact_small, &json_small),
        row(tr("JSON members, 1 key for the day", "JSON 成员，一天 1 个键"), &json_day, &json_day),
        row(tr("compact members, 1 key for the day", "紧凑成员，一天 1 个键"), &compact_day, &json_day),
        row(
            match ctx.lang {
                Lang::En => format!("compact members, {} bucket keys of {bucket}", compact_buckets.keys),
                Lang::Zh => format!("紧凑成员，{} 个分桶键，每个 {bucket} 根", compact_buckets.keys),
            },
            &compact_buckets,
            &json_day,
        ),
    ];
    rows.push(vec![
        tr("SQLite table pages, the same day (disk, cached)", "SQLite 表页，同一天（磁盘，带缓存）"),
        "—".into(),
        format_count(DAY as u64),
        "—".into(),
        "B-tree".into(),
        format_count(sqlite_bytes),
        format!("{:.1}", sqlite_bytes as f64 / DAY as f64),
        format!("{:.0}%", percent(sqlite_bytes, json_day.bytes)),
    ]);
    report.finding(
        ctx.tr(
            "The same day of candles, stored six ways (MEMORY USAGE key SAMPLES 0)",
            "同样一天的 K 线，六种存法（MEMORY USAGE key SAMPLES 0）",
        ),
        &[
            ctx.tr("layout", "存法"),
            ctx.tr("keys", "键数"),
            ctx.tr("candles", "K 线数"),
            ctx.tr("longest member", "最长成员"),
            "OBJECT ENCODING",
            ctx.tr("bytes", "字节"),
            ctx.tr("bytes/candle", "字节/根"),
            ctx.tr("vs JSON", "相对 JSON"),
        ],
        rows,
    );
    let c = day[0];
    report.finding(
        ctx.tr("One candle, two members", "同一根 K 线的两种成员"),
        &[ctx.tr("encoding", "编码"), ctx.tr("bytes", "字节"), ctx.tr("member", "成员")],
        vec![
            vec!["JSON".into(), codec::encode_json(&c).len().to_string(), codec::encode_json(&c)],
            vec![ctx.tr("compact", "紧凑").into(), codec::encode(&c).len().to_string(), codec::encode(&c)],
        ],
    );

    // The threshold, live: fill a key to the limit, add one, remove it again.
    let compact = compact_encoding(version);
    let mut threshold_rows = Vec::new();
    let mut flipped = true;
    if limits.entries >= 1 && limits.entries <= MAX_THRESHOLD_EXPERIMENT {
        let key = kline_key(ctx, sym, ":threshold");
        let candles = series::random_walk(&market, limits.entries as usize + 1);
        let (fill, extra) = candles.split_at(limits.entries as usize);
        load(&mut con, &key, &members(fill, codec::encode))?;
        let at_limit = encoding(&mut con, &key)?;
        threshold_rows.push(vec![
            match ctx.lang {
                Lang::En => format!("ZADD {} candles", limits.entries),
                Lang::Zh => format!("ZADD {} 根 K 线", limits.entries),
            },
            zcard(&mut con, &key)?.to_string(),
            at_limit.clone(),
        ]);
        let member = codec::encode(&extra[0]);
        redis::cmd("ZADD").arg(&key).arg(extra[0].open_ms).arg(&member).exec(&mut con)?;
        let past = encoding(&mut con, &key)?;
        threshold_rows.push(vec![
            tr("ZADD one more", "再 ZADD 一根"),
            zcard(&mut con, &key)?.to_string(),
            past.clone(),
        ]);
        redis::cmd("ZREM").arg(&key).arg(&member).exec(&mut con)?;
        let back = encoding(&mut con, &key)?;
        threshold_rows.push(vec![
            tr("ZREM it again", "再把它 ZREM 掉"),
            zcard(&mut con, &key)?.to_string(),
            back.clone(),
        ]);
        let fits = codec::encode(&extra[0]).len() as u64 <= limits.value
            && fill.iter().all(|c| codec::encode(c).len() as u64 <= limits.value);
        flipped = !fits || (at_limit == compact && past == "skiplist");
        report.finding(
            match ctx.lang {
                Lang::En => format!("Crossing zset-max-listpack-entries ({})", limits.entries),
                Lang::Zh => format!("越过 zset-max-listpack-entries（{}）", limits.entries),
            },
            &[ctx.tr("step", "步骤"), "ZCARD", "OBJECT ENCODING"],
            threshold_rows.clone(),
        );
        report.note(
            NoteKind::Info,
            match ctx.lang {
                Lang::En => format!("After the ZREM the key is back to {} members but still {back}: Redis converts a zset to skiplist when it grows and does not convert it back when it shrinks (the key is rebuilt compact only when it is rewritten, e.g. loaded from an RDB file).", limits.entries),
                Lang::Zh => format!("ZREM 之后成员数回到 {}，编码仍是 {back}：有序集合变大时 Redis 会把它转成跳表，缩小时不会转回去（只有键被重写时才会重新紧凑编码，例如从 RDB 文件加载）。", limits.entries),
            },
        );
    }
    report.note(
        NoteKind::Info,
        match (ctx.lang, limits.from_server) {
            (Lang::En, true) => format!("This server's thresholds (CONFIG GET): zset-max-listpack-entries {}, zset-max-listpack-value {} bytes. A zset stays a listpack only while both hold.", limits.entries, limits.value),
            (Lang::En, false) => format!("CONFIG GET was refused here, so the Redis 7.0 defaults are assumed: zset-max-listpack-entries {}, zset-max-listpack-value {} bytes.", limits.entries, limits.value),
            (Lang::Zh, true) => format!("本服务端的阈值（CONFIG GET）：zset-max-listpack-entries {}，zset-max-listpack-value {} 字节。两个条件都满足时有序集合才保持 listpack。", limits.entries, limits.value),
            (Lang::Zh, false) => format!("这里不允许 CONFIG GET，因此按 Redis 7.0 默认值计算：zset-max-listpack-entries {}，zset-max-listpack-value {} 字节。", limits.entries, limits.value),
        },
    );
    report.note(
        NoteKind::Info,
        ctx.tr(
            "SQLite's row is not RAM: its pages live on disk and only the hot ones are cached. Redis keeps every byte of every key in memory, which is why the member encoding matters there.",
            "SQLite 那一行不是内存占用：它的页在磁盘上，只有热页会被缓存。Redis 把每个键的每个字节都放在内存里，所以成员编码在这里很重要。",
        ),
    );

    // Claims.
    let small_pct = percent(compact_small.bytes, json_small.bytes);
    let default_shape = json_small.encodings == ["skiplist"] && compact_small.encodings == [compact];
    let small_holds = compact_small.bytes < json_small.bytes && (!default_shape || small_pct <= 50.0);
    let clen = codec::encode(&c).len();
    let jlen = codec::encode_json(&c).len();
    report.claim(Claim::new(
        "compact-members-save-memory",
        match ctx.lang {
            Lang::En => format!(
                "For one key of {bucket} candles, compact members (~{clen} B, {}) use {small_pct:.0}% of the memory of JSON members (~{jlen} B, {}): {} vs {} bytes",
                compact_small.encodings.join(","),
                json_small.encodings.join(","),
                format_count(compact_small.bytes),
                format_count(json_small.bytes)
            ),
            Lang::Zh => format!(
                "一个存 {bucket} 根 K 线的键：紧凑成员（约 {clen} 字节，{}）占用的内存是 JSON 成员（约 {jlen} 字节，{}）的 {small_pct:.0}%：{} 对 {} 字节",
                compact_small.encodings.join(","),
                json_small.encodings.join(","),
                format_count(compact_small.bytes),
                format_count(json_small.bytes)
            ),
        },
        format!("{small_pct:.0}%"),
        small_holds,
    ));
    let day_pct = percent(compact_day.bytes, json_day.bytes);
    let buckets_pct = percent(compact_buckets.bytes, json_day.bytes);
    let buckets_can_be_compact = limits.fits(bucket, compact_buckets.longest as u64);
    let day_holds =
        compact_day.bytes < json_day.bytes && (!buckets_can_be_compact || compact_buckets.bytes < compact_day.bytes);
    report.claim(Claim::new(
        "listpack-buckets-save-most",
        match ctx.lang {
            Lang::En => format!(
                "A day of {} candles: in one compact key ({}) it takes {day_pct:.0}% of the JSON key; in {} bucket keys of {bucket} ({}) only {buckets_pct:.0}%. Staying in listpack is most of the win",
                format_count(DAY as u64),
                compact_day.encodings.join(","),
                compact_buckets.keys,
                compact_buckets.encodings.join(",")
            ),
            Lang::Zh => format!(
                "一天 {} 根 K 线：放在一个紧凑键里（{}）占 JSON 键的 {day_pct:.0}%；分成 {} 个各 {bucket} 根的分桶键（{}）只占 {buckets_pct:.0}%。省内存主要靠保持 listpack",
                format_count(DAY as u64),
                compact_day.encodings.join(","),
                compact_buckets.keys,
                compact_buckets.encodings.join(",")
            ),
        },
        format!("{day_pct:.0}% → {buckets_pct:.0}%"),
        day_holds,
    ));
    let all = [&json_small, &compact_small, &json_day, &compact_day, &compact_buckets];
    let keys: usize = all.iter().map(|s| s.keys).sum();
    let rule_holds = all.iter().all(|s| s.as_predicted) && flipped;
    let threshold_text = match (ctx.lang, threshold_rows.len()) {
        (Lang::En, 0) => String::new(),
        (Lang::En, _) => format!("; member {} turned a {compact} key into skiplist", limits.entries + 1),
        (Lang::Zh, 0) => String::new(),
        (Lang::Zh, _) => format!("；第 {} 个成员把一个 {compact} 键变成了 skiplist", limits.entries + 1),
    };
    report.claim(Claim::new(
        "encoding-follows-the-rule",
        match ctx.lang {
            Lang::En => format!(
                "OBJECT ENCODING followed the rule on all {keys} keys: {compact} only while ≤ {} members and every member ≤ {} bytes, otherwise skiplist (JSON members are {jlen} B){threshold_text}",
                limits.entries, limits.value
            ),
            Lang::Zh => format!(
                "全部 {keys} 个键的 OBJECT ENCODING 都符合规则：成员数 ≤ {} 且每个成员 ≤ {} 字节时是 {compact}，否则是 skiplist（JSON 成员有 {jlen} 字节）{threshold_text}",
                limits.entries, limits.value
            ),
        },
        format!("{keys}/{keys}"),
        rule_holds,
    ));
    Ok(report)
}

/// Two ways members-are-unique bites: the open candle updated with plain ZADD piles up members at
/// one score; flat candles without the timestamp collapse into one member.
pub fn kline_updates(ctx: &Ctx) -> Result<DemoReport> {
    let mut report = DemoReport::new(
        "kline-updates",
        ctx.tr(
            "Members are unique by value: updating the open candle, and flat candles",
            "成员按值去重：更新未收盘的 K 线，以及横盘 K 线",
        ),
    );
    let mut con = ctx.connect()?;
    let version = ctx.version();
    let modern = version.at_least(6, 2);
    let market = MARKETS[0];
    let sym = market.symbol;
    let closed = series::random_walk(&market, 30);
    let last = closed.last().copied().ok_or_else(|| anyhow!("no candles"))?;
    let open_ms = last.open_ms + MINUTE_MS;
    let updates = series::open_candle_updates(open_ms, last.close, OPEN_CANDLE_TRADES, 0x6b6c_00ff);
    let latest = updates.last().copied().ok_or_else(|| anyhow!("no updates"))?;
    let closed_members = members(&closed, codec::encode);
    let replace = redis::Script::new(REPLACE_CANDLE_LUA);

    let naive = kline_key(ctx, sym, ":naive");
    let multi = kline_key(ctx, sym, ":multi");
    let lua = kline_key(ctx, sym, ":lua");
    for key in [&naive, &multi, &lua] {
        load(&mut con, key, &closed_members)?;
    }
    let atomic_replace = |con: &mut dyn ConnectionLike, key: &str, c: &Candle| -> Result<()> {
        redis::pipe()
            .atomic()
            .cmd("ZREMRANGEBYSCORE")
            .arg(key)
            .arg(c.open_ms)
            .arg(c.open_ms)
            .ignore()
            .cmd("ZADD")
            .arg(key)
            .arg(c.open_ms)
            .arg(codec::encode(c))
            .ignore()
            .exec(con)?;
        Ok(())
    };
    let lua_replace = |con: &mut dyn ConnectionLike, key: &str, c: &Candle| -> Result<()> {
        let _: i64 = replace.key(key).arg(c.open_ms).arg(codec::encode(c)).invoke(con)?;
        Ok(())
    };
    let mut naive_added = 0_u64;
    for c in &updates {
        ctx.check_interrupt()?;
        let added: u64 = redis::cmd("ZADD").arg(&naive).arg(c.open_ms).arg(codec::encode(c)).query(&mut con)?;
        naive_added += added;
        atomic_replace(&mut con, &multi, c)?;
        lua_replace(&mut con, &lua, c)?;
    }
    let mut db = table::open(&ctx.scratch.join("klines-updates.db"))?;
    table::insert_all(&mut db, sym, INTERVAL, &closed)?;
    for c in &updates {
        table::upsert(&db, sym, INTERVAL, c)?;
    }

    // What a reader of the last five minutes gets from each.
    let window_from = open_ms - 4 * MINUTE_MS;
    let window_to = open_ms + MINUTE_MS;
    let mut counts = Vec::new();
    let mut rows = Vec::new();
    for (key, how) in [
        (&naive, ctx.tr("plain ZADD per trade", "每笔成交直接 ZADD")),
        (&multi, ctx.tr("MULTI: ZREMRANGEBYSCORE ts ts + ZADD, EXEC", "MULTI：ZREMRANGEBYSCORE ts ts + ZADD，EXEC")),
        (&lua, ctx.tr("Lua script: the same two commands", "Lua 脚本：同样两条命令")),
    ] {
        let at = zcount_at(&mut con, key, open_ms)?;
        let window = redis_range(&mut con, key, window_from, window_to, modern)?;
        let newest = window.iter().rev().find(|c| c.open_ms == open_ms).copied();
        counts.push((at, window.len(), newest == Some(latest) && at == 1));
        rows.push(vec![
            how.to_string(),
            at.to_string(),
            window.len().to_string(),
            if at == 1 && newest == Some(latest) {
                ctx.tr("yes", "是")
            } else {
                ctx.tr("no: which one?", "否：该信哪一个？")
            }
            .to_string(),
        ]);
    }
    let sql_at = table::count_at(&db, sym, INTERVAL, open_ms)?;
    let sql_window = table::range(&db, sym, INTERVAL, window_from, window_to)?;
    let sql_ok = sql_at == 1 && sql_window.last() == Some(&latest);
    rows.push(vec![
        ctx.tr(
            "SQLite upsert: INSERT … ON CONFLICT (symbol, interval, ts) DO UPDATE",
            "SQLite upsert：INSERT … ON CONFLICT (symbol, interval, ts) DO UPDATE",
        )
        .into(),
        sql_at.to_string(),
        sql_window.len().to_string(),
        if sql_ok { ctx.tr("yes", "是") } else { ctx.tr("no", "否") }.into(),
    ]);
    report.finding(
        match ctx.lang {
            Lang::En => format!("The open candle after {OPEN_CANDLE_TRADES} trades in its minute"),
            Lang::Zh => format!("这一分钟内成交 {OPEN_CANDLE_TRADES} 笔之后的未收盘 K 线"),
        },
        &[
            ctx.tr("how each trade updates it", "每笔成交如何更新"),
            ctx.tr("members at its open time (ZCOUNT ts ts)", "开盘时间上的成员数（ZCOUNT ts ts）"),
            ctx.tr("candles a 5-minute window returns", "5 分钟窗口返回的 K 线数"),
            ctx.tr("latest state, once?", "只有最新状态一份？"),
        ],
        rows,
    );

    // Timings per update: correctness costs no extra round trip. The four writers take turns in
    // rounds on one connection (and SQLite), so a busy moment hits all of them alike.
    let i = Cell::new(0_usize);
    let next = || {
        let n = i.get();
        i.set(n + 1);
        let mut c = updates[n % updates.len()];
        c.volume += n as u64 * 1_000_000; // a new state every time
        c
    };
    let con = RefCell::new(con);
    let group = report.measured_group(
        ctx.sampler
            .group()
            .op(
                "plain-zadd",
                ctx.tr("plain ZADD (wrong: adds a member)", "直接 ZADD（错误：新增成员）"),
                Backend::Redis,
                || {
                    let c = next();
                    redis::cmd("ZADD")
                        .arg(&naive)
                        .arg(c.open_ms)
                        .arg(codec::encode(&c))
                        .exec(&mut *con.borrow_mut())?;
                    Ok(())
                },
            )
            .op(
                "multi-replace",
                ctx.tr("MULTI/EXEC replace (1 round trip)", "MULTI/EXEC 替换（1 次往返）"),
                Backend::Redis,
                || atomic_replace(&mut *con.borrow_mut(), &multi, &next()),
            )
            .op("lua-replace", ctx.tr("Lua replace (EVALSHA)", "Lua 替换（EVALSHA）"), Backend::Redis, || {
                lua_replace(&mut *con.borrow_mut(), &lua, &next())
            })
            .op(
                "sqlite-upsert",
                ctx.tr("SQLite upsert (autocommit, synchronous=OFF)", "SQLite upsert（自动提交，synchronous=OFF）"),
                Backend::Sqlite,
                || table::upsert(&db, sym, INTERVAL, &next()),
            )
            .run()?,
    );
    let mut con = con.into_inner();
    let (plain, multi_m, lua_m, sql_m) =
        (group.get("plain-zadd"), group.get("multi-replace"), group.get("lua-replace"), group.get("sqlite-upsert"));
    let replace_cost = report.compare("multi-vs-plain-zadd", multi_m, plain)?;
    report.compare("multi-vs-lua", multi_m, lua_m)?;
    report.compare("sqlite-upsert-vs-multi", sql_m, multi_m)?;
    report.claim(Claim::ratio_above(
        "replace-costs-one-round-trip",
        match ctx.lang {
            Lang::En => format!(
                "Correctness costs no extra round trip: replacing the candle in MULTI/EXEC takes {} against {} for the wrong plain ZADD, less than twice as long",
                format_duration(multi_m.p50()),
                format_duration(plain.p50())
            ),
            Lang::Zh => format!(
                "正确性不需要多一次往返：用 MULTI/EXEC 替换 K 线耗时 {}，错误的直接 ZADD 耗时 {}，不到两倍",
                format_duration(multi_m.p50()),
                format_duration(plain.p50())
            ),
        },
        &replace_cost,
        0.5,
    ));
    let timed = plain.stats.samples + multi_m.stats.samples + lua_m.stats.samples + sql_m.stats.samples;
    let after = [zcount_at(&mut con, &multi, open_ms)?, zcount_at(&mut con, &lua, open_ms)?];
    let sql_after = table::count_at(&db, sym, INTERVAL, open_ms)?;

    let [(naive_at, naive_window, _), (multi_at, _, multi_ok), (lua_at, _, lua_ok)] = counts[..] else {
        bail!("expected three update strategies");
    };
    let update_holds = naive_at == OPEN_CANDLE_TRADES as u64
        && naive_added == OPEN_CANDLE_TRADES as u64
        && multi_ok
        && lua_ok
        && sql_ok
        && after == [1, 1]
        && sql_after == 1;
    report.claim(Claim::new(
        "replace-keeps-one-candle",
        match ctx.lang {
            Lang::En => format!(
                "{OPEN_CANDLE_TRADES} updates of the open candle with plain ZADD left {naive_at} members at its open time (each ZADD added one; a 5-minute window returned {naive_window} \"candles\"); replacing it in MULTI/EXEC left {multi_at}, the Lua script {lua_at}, SQLite's primary key {sql_at} row — and still {}, {} and {sql_after} after {} more timed updates",
                after[0],
                after[1],
                format_count(timed as u64)
            ),
            Lang::Zh => format!(
                "用直接 ZADD 更新未收盘 K 线 {OPEN_CANDLE_TRADES} 次，开盘时间上留下 {naive_at} 个成员（每次 ZADD 都新增一个；5 分钟窗口返回 {naive_window} 根\"K 线\"）；用 MULTI/EXEC 替换只剩 {multi_at} 个，Lua 脚本 {lua_at} 个，SQLite 主键下 {sql_at} 行——又计时更新 {} 次之后仍是 {}、{} 和 {sql_after}",
                format_count(timed as u64),
                after[0],
                after[1]
            ),
        },
        format!("{naive_at} → {multi_at}"),
        update_holds,
    ));
    report.note(
        NoteKind::Info,
        ctx.tr(
            "ZADD looks a member up by its bytes, not by its score. A changed candle is a new member, so ZADD adds it next to the old one; an identical member only gets its score updated (ZADD replies 0). The fix removes whatever sits at that timestamp and adds the new state in one atomic step, so no reader sees zero or two candles. MULTI/EXEC sends both commands in one round trip; a Lua script does the same on the server.",
            "ZADD 按成员的字节内容查找成员，而不是按分数。K 线一变就是一个新成员，ZADD 会把它加在旧成员旁边；完全相同的成员才只是更新分数（ZADD 返回 0）。正确做法是在一个原子步骤里删掉该时间戳上的成员、再加入新状态，这样读者永远不会看到 0 根或 2 根 K 线。MULTI/EXEC 在一次往返里发出两条命令；Lua 脚本在服务端做同样的事。",
        ),
    );

    // Flat candles: an illiquid token, nobody trades for FLAT_CANDLES minutes.
    let flat_sym = "DUST-USDT";
    let flat = series::flat(series::START_MS, FLAT_CANDLES, 4_200);
    let without = kline_key(ctx, flat_sym, ":no-ts");
    let with = kline_key(ctx, flat_sym, "");
    let mut pipe = redis::pipe();
    pipe.cmd("DEL").arg(&without).arg(&with).ignore();
    for c in &flat {
        // One ZADD per minute, as a live writer would send them.
        pipe.cmd("ZADD").arg(&without).arg(c.open_ms).arg(codec::encode_without_time(c)).ignore();
        pipe.cmd("ZADD").arg(&with).arg(c.open_ms).arg(codec::encode(c)).ignore();
    }
    pipe.exec(&mut con).context("writing flat candles")?;
    let (card_without, card_with) = (zcard(&mut con, &without)?, zcard(&mut con, &with)?);
    let lone = codec::encode_without_time(&flat[0]);
    let lone_score: Option<u64> = redis::cmd("ZSCORE").arg(&without).arg(&lone).query(&mut con)?;
    let last_flat = flat.last().map(|c| c.open_ms).unwrap_or_default();
    report.finding(
        match ctx.lang {
            Lang::En => {
                format!("{FLAT_CANDLES} flat one-minute candles of {flat_sym} (no trades: o = h = l = c, volume 0)")
            }
            Lang::Zh => format!("{flat_sym} 的 {FLAT_CANDLES} 根横盘 1 分钟 K 线（无成交：开高低收相同，成交量 0）"),
        },
        &[ctx.tr("member", "成员"), "ZCARD", ctx.tr("score of the first candle's member", "第一根 K 线成员的分数")],
        vec![
            vec![
                format!("{lone} ({})", ctx.tr("no timestamp", "不含时间戳")),
                card_without.to_string(),
                match ctx.lang {
                    Lang::En => format!("{} (the last minute: ZADD moved it)", lone_score.unwrap_or_default()),
                    Lang::Zh => format!("{}（最后一分钟：被 ZADD 挪过去了）", lone_score.unwrap_or_default()),
                },
            ],
            vec![
                format!("{} ({})", codec::encode(&flat[0]), ctx.tr("timestamp first", "时间戳在前")),
                card_with.to_string(),
                flat[0].open_ms.to_string(),
            ],
        ],
    );
    let flat_holds = card_without == 1 && card_with == FLAT_CANDLES as u64 && lone_score == Some(last_flat);
    report.claim(Claim::new(
        "timestamp-keeps-flat-candles-apart",
        match ctx.lang {
            Lang::En => format!(
                "{FLAT_CANDLES} flat candles written with members that lack the timestamp collapse to ZCARD {card_without} (ZADD only moved the one member's score); with the timestamp in the member, ZCARD {card_with}"
            ),
            Lang::Zh => format!(
                "{FLAT_CANDLES} 根横盘 K 线，成员不含时间戳时塌缩成 ZCARD {card_without}（ZADD 只是挪动了那一个成员的分数）；成员含时间戳时 ZCARD {card_with}"
            ),
        },
        format!("{card_without} → {card_with}"),
        flat_holds,
    ));
    Ok(report)
}

/// Epoch milliseconds as `2024-11-26 00:01` (UTC), without a date library: days to a civil date
/// by Howard Hinnant's algorithm.
fn utc_minute(ms: u64) -> String {
    let secs = ms / 1_000;
    let (days, rem) = ((secs / 86_400) as i64, secs % 86_400);
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!("{year:04}-{month:02}-{day:02} {:02}:{:02}", rem / 3_600, rem % 3_600 / 60)
}

/// `redis-learn:3fa2b1c0:kline:…` is long; show the part after the run prefix.
fn short(key: &str) -> String {
    let tail = key.splitn(3, ':').nth(2).unwrap_or(key);
    format!("…:{tail}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn utc_minutes() {
        assert_eq!(utc_minute(0), "1970-01-01 00:00");
        assert_eq!(utc_minute(series::START_MS), "2024-11-26 00:00");
        assert_eq!(utc_minute(series::START_MS + 61 * MINUTE_MS), "2024-11-26 01:01");
        assert_eq!(utc_minute(951_782_400_000), "2000-02-29 00:00");
        assert_eq!(utc_minute(1_735_689_540_000), "2024-12-31 23:59");
    }

    #[test]
    fn buckets_fit_the_listpack_limit() {
        assert_eq!(bucket_candles(128), 120);
        assert_eq!(bucket_candles(1_000), 120);
        assert_eq!(bucket_candles(100), 60);
        assert_eq!(bucket_candles(7), 5);
        assert_eq!(bucket_candles(0), 1);
        assert_eq!(DAY as u64 % BUCKET_CANDLES, 0, "a day is whole buckets");
    }

    #[test]
    fn listpack_needs_few_members_and_short_ones() {
        let limits = ListpackLimits { entries: 128, value: 64, from_server: true };
        let v7 = Version(7, 0, 15);
        assert_eq!(predicted_encoding(&limits, v7, 128, 64), "listpack");
        assert_eq!(predicted_encoding(&limits, v7, 129, 50), "skiplist");
        assert_eq!(predicted_encoding(&limits, v7, 10, 65), "skiplist");
        assert_eq!(predicted_encoding(&limits, Version(6, 2, 0), 10, 50), "ziplist");
    }

    #[test]
    fn ranges_use_byscore_with_an_exclusive_end() {
        let args = |cmd: redis::Cmd| -> Vec<String> {
            cmd.args_iter()
                .map(|a| match a {
                    redis::Arg::Simple(b) => String::from_utf8_lossy(b).into_owned(),
                    redis::Arg::Cursor => "<cursor>".into(),
                    _ => "<other>".into(),
                })
                .collect()
        };
        assert_eq!(args(range_cmd("k", 10, 20, true)), ["ZRANGE", "k", "10", "(20", "BYSCORE"]);
        assert_eq!(args(range_cmd("k", 10, 20, false)), ["ZRANGEBYSCORE", "k", "10", "(20"]);
    }
}
