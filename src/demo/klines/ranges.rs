//! Demo `kline-ranges`: the same time windows from one sorted set, from bucket keys in one
//! pipeline, and from an indexed SQLite table, checked equal, then timed side by side.

use std::cell::RefCell;

use anyhow::{Result, ensure};
use rand::rngs::Xoshiro256PlusPlus;
use rand::{RngExt, SeedableRng};

use super::series::{self, MINUTE_MS, markets};
use super::zset::{
    bucket_candles, bucket_key, bucketed_range, kline_key, listpack_limits, load, members, range_cmd, redis_range,
};
use super::{DAY, INTERVAL, codec, table};
use crate::demo::support::short;
use crate::demo::{Ctx, DemoReport, NoteKind};
use crate::measure::{Backend, Claim, Verdict};
use crate::text::{Fact, Text};

/// Windows the range demo queries: an hour and a day.
const WINDOWS: [usize; 2] = [60, DAY];

/// Load the candles, then query the same time windows from the sorted set and from SQLite.
pub fn kline_ranges(ctx: &Ctx) -> Result<DemoReport> {
    let mut report = DemoReport::new("kline-ranges", Text::msg("title"));
    let mut con = ctx.connect()?;
    let version = ctx.version();
    let modern = version.at_least(6, 2);
    let limits = listpack_limits(&mut con, version);
    let bucket = bucket_candles(limits.entries);
    let days = ctx.n(3, 2);
    let market = markets()[0];
    let candles = series::random_walk(&market, days * DAY);

    // Redis: one key for the whole series, and the same candles in bucket keys.
    let key = kline_key(ctx, market.symbol, "");
    load(&mut con, &key, &members(&candles, codec::encode))?;
    let mut buckets = 0_usize;
    for chunk in candles.chunks(bucket as usize) {
        ctx.check_interrupt()?;
        load(&mut con, &bucket_key(ctx, market.symbol, bucket, chunk[0].open_ms), &members(chunk, codec::encode))?;
        buckets += 1;
    }
    // SQLite: every market's candles in one table, as a shared candle store would hold them.
    let mut db = table::open(&ctx.scratch.join("klines.db"))?;
    for m in markets() {
        ctx.check_interrupt()?;
        table::insert_all(&mut db, m.symbol, INTERVAL, &series::random_walk(m, days * DAY))?;
    }
    report.note(
        NoteKind::Info,
        Text::msg("data")
            .fact("candles", candles.len())
            .fact("symbol", market.symbol)
            .fact("days", days)
            .fact("key", short(&key))
            .fact("buckets", buckets)
            .fact("bucket", bucket)
            .fact("symbols", markets().len()),
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
    report.table(
        Text::msg("sample").fact("command", shown),
        &["member", "opens", "close"],
        sample
            .iter()
            .map(|m| match codec::decode(m) {
                Ok(c) => vec![m.clone(), utc_minute(c.open_ms), codec::format_fixed(c.close, codec::PRICE_DECIMALS)],
                Err(e) => vec![m.clone(), e.to_string(), String::new()],
            })
            .map(|row| row.into_iter().map(Text::Plain).collect())
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
        let (zrange_id, sqlite_id, buckets_id) =
            (format!("zrange-{size}"), format!("sqlite-range-{size}"), format!("buckets-{size}"));
        let (mut next_one, mut next_sqlite, mut next_buckets) =
            (windows(size as u64), windows(size as u64), windows(size as u64));
        let mut group = ctx
            .sampler
            .group()
            .op(&zrange_id, format!("{zrange_name} {size}"), Backend::Redis, || {
                let (from, to) = next_one();
                expect(redis_range(&mut *con.borrow_mut(), &key, from, to, modern)?.len())
            })
            .op(&sqlite_id, format!("SQLite {size}"), Backend::Sqlite, || {
                let (from, to) = next_sqlite();
                expect(table::range(&db, market.symbol, INTERVAL, from, to)?.len())
            });
        let with_buckets = size > bucket as usize;
        if with_buckets {
            group = group.op(&buckets_id, format!("buckets {size}"), Backend::Redis, || {
                let (from, to) = next_buckets();
                expect(bucketed_range(ctx, &mut *con.borrow_mut(), bucket, from, to, modern)?.len())
            });
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
    report.claim(
        Claim::new("same-candles-from-every-store", "", format!("{}/{checked}", checked - mismatches.len()), same)
            .fact("checked", checked)
            .fact("mismatches", mismatches.len()),
    );
    if !same {
        report.note(NoteKind::Caveat, Text::msg("mismatched").fact("windows", mismatches.join(", ")));
    }
    for (size, redis_p50, sqlite_p50, vs_redis, buckets_p50, vs_one_key) in &timed {
        let hours = size / 60;
        // SQLite against the Redis round trip: a note, not a claim (the gap is small and depends on
        // the machine; the lesson asks the learner to predict it), worded by the measured direction.
        let r = if vs_redis.ratio >= 1.0 { vs_redis.ratio } else { 1.0 / vs_redis.ratio };
        let direction = match (vs_redis.status, vs_redis.ratio >= 1.0) {
            (Verdict::NoClearDifference, _) => "sqlite-vs-round-trip.no-clear-difference",
            (_, true) => "sqlite-vs-round-trip.faster",
            (_, false) => "sqlite-vs-round-trip.slower",
        };
        report.note(
            NoteKind::Info,
            Text::msg(direction)
                .fact("candles", *size)
                .fact("hours", hours)
                .fact("sqlite", *sqlite_p50)
                .fact("redis", *redis_p50)
                .fact("ratio", Fact::Ratio(r))
                .fact("measured", vs_redis.measured()),
        );
        if let (Some(buckets_p50), Some(vs_one_key)) = (buckets_p50, vs_one_key) {
            let keys = size.div_ceil(bucket as usize) + 1;
            report.claim(
                Claim::ratio_below(format!("buckets-cost-under-twice-one-key-{size}"), "", &vs_one_key.inverted(), 2.0)
                    .fact("candles", *size)
                    .fact("hours", hours)
                    .fact("keys", keys)
                    .fact("buckets", *buckets_p50)
                    .fact("one_key", *redis_p50),
            );
        }
    }
    report.note(NoteKind::Info, Text::msg("in-process"));
    report.note(NoteKind::Info, Text::msg("exclusive-bound"));
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
}
