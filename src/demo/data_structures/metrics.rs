//! Monitoring metrics as time series (监控指标): every API request adds to a per-minute hash
//! (`HINCRBY` on count, errors, latency sum and slow requests) and to its hour's hash, the
//! downsampled copy; each bucket gets `EXPIREAT` its end plus a retention, so old buckets remove
//! themselves. A dashboard reads the last N minutes with one pipeline of `HGETALL`. The SQL side
//! stores one row per request and answers with `GROUP BY` a time bucket. Both sides must give the
//! same numbers; then one recorded request and one range read are timed on each side, interleaved.
//! `TS.*` (RedisTimeSeries: Redis 8, Redis Stack) is checked for and named, not required.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use anyhow::Result;
use rand::rngs::Xoshiro256PlusPlus;
use rand::{RngExt, SeedableRng};
use redis::ConnectionLike;
use rusqlite::{Connection, params};

use crate::demo::support::who_wins;
use crate::demo::support::{now_ms, short};
use crate::demo::{Ctx, DemoReport, NoteKind};
use crate::measure::{Backend, Claim, format_count};
use crate::sql::{self, Durability};
use crate::text::{Fact, Text};

/// The endpoints the API gateway reports on; the dashboard reads the first.
const ENDPOINTS: [&str; 3] = ["api:v1:price", "api:v1:orders", "api:v1:kline"];
/// Minute buckets are kept this long after their minute ends.
const MINUTE_RETENTION_S: i64 = 2 * 3_600;
/// Hour buckets (the downsampled series) are kept this long after their hour ends.
const HOUR_RETENTION_S: i64 = 30 * 86_400;
/// A request slower than this counts as slow.
const SLOW_MS: i64 = 250;
/// Requests per pipeline while loading.
const LOAD_BATCH: usize = 200;
/// Minute buckets shown in the table (the newest ones).
const SHOWN: usize = 5;

const MINUTE_MS: i64 = 60_000;
const HOUR_MS: i64 = 3_600_000;

/// One API request, as the gateway reports it.
#[derive(Debug, Clone, Copy)]
struct Event {
    ts_ms: i64,
    endpoint: usize,
    latency_ms: i64,
    error: bool,
}

/// What a bucket holds (the same four figures on both sides).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct Bucket {
    count: i64,
    errors: i64,
    latency_ms_sum: i64,
    slow: i64,
}

impl Bucket {
    fn add(&mut self, other: Bucket) {
        self.count += other.count;
        self.errors += other.errors;
        self.latency_ms_sum += other.latency_ms_sum;
        self.slow += other.slow;
    }

    fn from_hash(h: &HashMap<String, i64>) -> Bucket {
        let f = |name: &str| h.get(name).copied().unwrap_or(0);
        Bucket { count: f("count"), errors: f("errors"), latency_ms_sum: f("latency_ms_sum"), slow: f("slow") }
    }
}

fn minute_key(ctx: &Ctx, endpoint: usize, minute: i64) -> String {
    ctx.key(&format!("metrics:{}:m:{minute}", ENDPOINTS[endpoint]))
}

fn hour_key(ctx: &Ctx, endpoint: usize, hour: i64) -> String {
    ctx.key(&format!("metrics:{}:h:{hour}", ENDPOINTS[endpoint]))
}

/// `minutes` minutes of requests ending at `end_ms` (a minute boundary), `per_minute` on average,
/// with seeded latencies and errors.
fn events(end_ms: i64, minutes: usize, per_minute: usize) -> Vec<Event> {
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(66);
    let start = end_ms - minutes as i64 * MINUTE_MS;
    let total = minutes * per_minute;
    let mut out: Vec<Event> = (0..total)
        .map(|_| {
            let base = rng.random_range(5..=60_i64);
            let tail = if rng.random_range(0..100) < 4 { rng.random_range(200..=900_i64) } else { 0 };
            Event {
                ts_ms: start + rng.random_range(0..minutes as i64 * MINUTE_MS),
                endpoint: rng.random_range(0..ENDPOINTS.len()),
                latency_ms: base + tail,
                error: rng.random_range(0..100) < 2,
            }
        })
        .collect();
    out.sort_by_key(|e| e.ts_ms);
    out
}

/// The commands that record one request: its minute and its hour, each with its expiry.
fn record(ctx: &Ctx, pipe: &mut redis::Pipeline, e: &Event) {
    let minute = e.ts_ms.div_euclid(MINUTE_MS);
    let hour = e.ts_ms.div_euclid(HOUR_MS);
    let buckets = [
        (minute_key(ctx, e.endpoint, minute), (minute + 1) * MINUTE_MS / 1_000 + MINUTE_RETENTION_S),
        (hour_key(ctx, e.endpoint, hour), (hour + 1) * HOUR_MS / 1_000 + HOUR_RETENTION_S),
    ];
    for (key, expire_at) in buckets {
        pipe.cmd("HINCRBY").arg(&key).arg("count").arg(1).ignore();
        pipe.cmd("HINCRBY").arg(&key).arg("latency_ms_sum").arg(e.latency_ms).ignore();
        if e.error {
            pipe.cmd("HINCRBY").arg(&key).arg("errors").arg(1).ignore();
        }
        if e.latency_ms > SLOW_MS {
            pipe.cmd("HINCRBY").arg(&key).arg("slow").arg(1).ignore();
        }
        pipe.cmd("EXPIREAT").arg(&key).arg(expire_at).ignore();
    }
}

/// The dashboard's read: the buckets of `minutes` (one pipeline of HGETALL).
fn read_minutes(ctx: &Ctx, con: &mut impl ConnectionLike, endpoint: usize, minutes: &[i64]) -> Result<Vec<Bucket>> {
    let mut pipe = redis::pipe();
    for &m in minutes {
        pipe.cmd("HGETALL").arg(minute_key(ctx, endpoint, m));
    }
    let hashes: Vec<HashMap<String, i64>> = pipe.query(con)?;
    Ok(hashes.iter().map(Bucket::from_hash).collect())
}

const SCHEMA: &str = "CREATE TABLE IF NOT EXISTS requests (
    ts_ms INTEGER NOT NULL, endpoint TEXT NOT NULL, latency_ms INTEGER NOT NULL, error INTEGER NOT NULL);
CREATE INDEX IF NOT EXISTS requests_endpoint_ts ON requests (endpoint, ts_ms);";

const INSERT: &str = "INSERT INTO requests (ts_ms, endpoint, latency_ms, error) VALUES (?1, ?2, ?3, ?4)";

/// The same read in SQL: every row of the range, grouped by minute. Minutes with no row are absent.
const SQL_RANGE: &str = "SELECT ts_ms / 60000 AS minute, COUNT(*), SUM(error), SUM(latency_ms),
    SUM(latency_ms > ?4) FROM requests WHERE endpoint = ?1 AND ts_ms >= ?2 AND ts_ms < ?3
    GROUP BY minute ORDER BY minute";

fn sql_insert(con: &Connection, e: &Event) -> Result<()> {
    con.prepare_cached(INSERT)?.execute(params![e.ts_ms, ENDPOINTS[e.endpoint], e.latency_ms, e.error])?;
    Ok(())
}

fn sql_minutes(con: &Connection, endpoint: usize, from_ms: i64, to_ms: i64) -> Result<BTreeMap<i64, Bucket>> {
    let mut stmt = con.prepare_cached(SQL_RANGE)?;
    let rows = stmt.query_map(params![ENDPOINTS[endpoint], from_ms, to_ms, SLOW_MS], |r| {
        Ok((
            r.get::<_, i64>(0)?,
            Bucket { count: r.get(1)?, errors: r.get(2)?, latency_ms_sum: r.get(3)?, slow: r.get(4)? },
        ))
    })?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

/// `HH:MM` (UTC) of a minute number.
fn clock(minute: i64) -> String {
    let of_day = minute.rem_euclid(1_440);
    format!("{:02}:{:02}", of_day / 60, of_day % 60)
}

/// Does this server know `TS.ADD` (RedisTimeSeries)? `COMMAND INFO` answers nil for an unknown one.
fn has_time_series(con: &mut impl ConnectionLike) -> Result<bool> {
    let info: Vec<redis::Value> = redis::cmd("COMMAND").arg("INFO").arg("TS.ADD").query(con)?;
    Ok(info.first().is_some_and(|v| !matches!(v, redis::Value::Nil)))
}

pub fn metrics(ctx: &Ctx) -> Result<DemoReport> {
    let mut report = DemoReport::new("metrics", Text::msg("title"));
    let minutes = ctx.n(90, 30);
    let per_minute = ctx.n(300, 60);
    let range = ctx.n(60, 15);
    let end_ms = now_ms()?.div_euclid(MINUTE_MS) * MINUTE_MS;
    let events = events(end_ms, minutes, per_minute);

    // Load both sides.
    let mut con = ctx.connect()?;
    for chunk in events.chunks(LOAD_BATCH) {
        ctx.check_interrupt()?;
        let mut pipe = redis::pipe();
        for e in chunk {
            record(ctx, &mut pipe, e);
        }
        pipe.exec(&mut con)?;
    }
    let path = ctx.scratch.join("structures-metrics.db");
    let mut sqlc = sql::open_file(&path, Durability::Off)?;
    sqlc.execute_batch(SCHEMA)?;
    let tx = sqlc.transaction()?;
    for e in &events {
        sql_insert(&tx, e)?;
    }
    tx.commit()?;

    // Same numbers on both sides: the dashboard's range, minute by minute.
    let first_minute = end_ms / MINUTE_MS - range as i64;
    let wanted: Vec<i64> = (first_minute..end_ms / MINUTE_MS).collect();
    let from_redis = read_minutes(ctx, &mut con, 0, &wanted)?;
    let from_sql = sql_minutes(&sqlc, 0, first_minute * MINUTE_MS, end_ms)?;
    let mut mismatches = 0_usize;
    for (m, b) in wanted.iter().zip(&from_redis) {
        mismatches += usize::from(from_sql.get(m).copied().unwrap_or_default() != *b);
    }
    // Downsampling: every hour bucket equals the sum of its minutes, on every endpoint.
    let mut keys = BTreeSet::new();
    let mut hours_checked = 0_usize;
    let mut hour_mismatches = 0_usize;
    for endpoint in 0..ENDPOINTS.len() {
        let mut by_hour: BTreeMap<i64, Vec<i64>> = BTreeMap::new();
        for e in events.iter().filter(|e| e.endpoint == endpoint) {
            let minute = e.ts_ms.div_euclid(MINUTE_MS);
            by_hour.entry(minute.div_euclid(60)).or_default().push(minute);
        }
        for (hour, mut mins) in by_hour {
            mins.dedup();
            let mut sum = Bucket::default();
            for b in read_minutes(ctx, &mut con, endpoint, &mins)? {
                sum.add(b);
            }
            let h: HashMap<String, i64> = redis::cmd("HGETALL").arg(hour_key(ctx, endpoint, hour)).query(&mut con)?;
            hour_mismatches += usize::from(Bucket::from_hash(&h) != sum);
            hours_checked += 1;
            keys.insert(hour_key(ctx, endpoint, hour));
            keys.extend(mins.iter().map(|&m| minute_key(ctx, endpoint, m)));
        }
    }
    // Retention: every bucket carries its expiry.
    let mut pipe = redis::pipe();
    for k in &keys {
        pipe.cmd("PTTL").arg(k);
    }
    let pttls: Vec<i64> = pipe.query(&mut con)?;
    let without_expiry = pttls.iter().filter(|&&t| t < 0).count();
    let mut memory = 0_u64;
    for chunk in keys.iter().collect::<Vec<_>>().chunks(LOAD_BATCH) {
        let mut pipe = redis::pipe();
        for k in chunk {
            pipe.cmd("MEMORY").arg("USAGE").arg(*k);
        }
        let sizes: Vec<Option<u64>> = pipe.query(&mut con)?;
        memory += sizes.into_iter().flatten().sum::<u64>();
    }
    let sql_bytes: i64 =
        sqlc.query_row("SELECT page_count * page_size FROM pragma_page_count(), pragma_page_size()", [], |r| r.get(0))?;

    let shown: Vec<Vec<Text>> = wanted
        .iter()
        .zip(&from_redis)
        .skip(wanted.len().saturating_sub(SHOWN))
        .map(|(m, b)| {
            vec![
                Text::Plain(clock(*m)),
                Text::Plain(format_count(b.count as u64)),
                Text::Plain(format_count(b.errors as u64)),
                Text::Plain(if b.count > 0 { format!("{} ms", b.latency_ms_sum / b.count) } else { "–".into() }),
                Text::Plain(format_count(b.slow as u64)),
            ]
        })
        .collect();
    report.table(
        Text::msg("dashboard").fact("key", short(&minute_key(ctx, 0, *wanted.last().unwrap_or(&0)))),
        &["minute", "requests", "errors", "mean", "slow"],
        shown,
    );
    report.table(
        Text::msg("storage").fact("events", events.len()).fact("minutes", minutes),
        &["side", "holds", "size"],
        vec![
            vec![
                Text::msg("storage.redis"),
                Text::msg("storage.redis-holds").fact("keys", keys.len()),
                Text::msg("storage.redis-size").fact("bytes", Fact::Bytes(memory)),
            ],
            vec![
                Text::msg("storage.sql"),
                Text::msg("storage.sql-holds").fact("rows", events.len()),
                Text::msg("storage.sql-size").fact("bytes", Fact::Bytes(sql_bytes.max(0) as u64)),
            ],
        ],
    );

    // Timed, interleaved: recording one request, and the dashboard's range read.
    let now_event = Event { ts_ms: end_ms + 1, endpoint: 1, latency_ms: 42, error: false };
    let sql_writer = sql::open_worker(&path, crate::demo::support::SQL_WAIT)?;
    let sql_reader = sql::open_worker(&path, crate::demo::support::SQL_WAIT)?;
    let mut dashboard = ctx.connect()?; // the dashboard is another client than the gateway
    let group = report.measured_group(
        ctx.sampler
            .group()
            .op("redis-record", "record one request (pipeline)", Backend::Redis, || {
                let mut pipe = redis::pipe();
                record(ctx, &mut pipe, &now_event);
                pipe.exec(&mut con)?;
                Ok(())
            })
            .op("sqlite-insert", "SQLite INSERT one row", Backend::Sqlite, || sql_insert(&sql_writer, &now_event))
            .op("redis-range", "range read (pipeline of HGETALL)", Backend::Redis, || {
                read_minutes(ctx, &mut dashboard, 0, &wanted).map(|_| ())
            })
            .op("sqlite-range", "SQLite GROUP BY minute", Backend::Sqlite, || {
                sql_minutes(&sql_reader, 0, first_minute * MINUTE_MS, end_ms).map(|_| ())
            })
            .run()?,
    );
    let (rr, si, rg, sg) =
        (group.get("redis-record"), group.get("sqlite-insert"), group.get("redis-range"), group.get("sqlite-range"));
    let write_cmp = report.compare("record-vs-insert", rr, si)?;
    let read_cmp = report.compare("range-vs-group-by", rg, sg)?;
    report.note(NoteKind::Info, who_wins("write", &write_cmp, rr, si));
    let rows_in_range: i64 = from_redis.iter().map(|b| b.count).sum();
    report.note(
        NoteKind::Info,
        who_wins("read", &read_cmp, rg, sg).fact("range", range).fact("rows", rows_in_range.max(0) as u64),
    );
    report.note(NoteKind::Info, Text::msg("trade-off").fact("slow_ms", SLOW_MS as u64));
    report.note(NoteKind::Info, Text::msg(if has_time_series(&mut con)? { "ts-available" } else { "ts-missing" }));

    report.claim(
        Claim::new(
            "buckets-match-rows",
            "",
            format!("{mismatches} + {hour_mismatches}"),
            mismatches == 0 && hour_mismatches == 0,
        )
        .fact("range", range)
        .fact("mismatches", mismatches)
        .fact("hours", hours_checked)
        .fact("hour_mismatches", hour_mismatches),
    );
    report.claim(
        Claim::new(
            "buckets-expire",
            "",
            format!("{without_expiry} / {}", keys.len()),
            without_expiry == 0 && !keys.is_empty(),
        )
        .fact("keys", keys.len())
        .fact("without", without_expiry)
        .fact("minute_h", (MINUTE_RETENTION_S / 3_600) as u64)
        .fact("hour_d", (HOUR_RETENTION_S / 86_400) as u64),
    );
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_fall_inside_their_minutes_and_are_sorted() {
        let end = 1_764_000_000_000 / MINUTE_MS * MINUTE_MS;
        let ev = events(end, 10, 20);
        assert_eq!(ev.len(), 200);
        assert!(ev.iter().all(|e| e.ts_ms >= end - 10 * MINUTE_MS && e.ts_ms < end));
        assert!(ev.windows(2).all(|w| w[0].ts_ms <= w[1].ts_ms));
    }

    #[test]
    fn clock_is_utc_hours_and_minutes() {
        assert_eq!(clock(0), "00:00");
        assert_eq!(clock(1_440 + 61), "01:01");
    }

    #[test]
    fn sql_groups_what_was_inserted() {
        let con = sql::open_memory().unwrap();
        con.execute_batch(SCHEMA).unwrap();
        for (ts, lat, err) in [(60_000, 10, false), (60_500, 300, true), (120_000, 20, false)] {
            sql_insert(&con, &Event { ts_ms: ts, endpoint: 0, latency_ms: lat, error: err }).unwrap();
        }
        let got = sql_minutes(&con, 0, 0, 180_000).unwrap();
        assert_eq!(got[&1], Bucket { count: 2, errors: 1, latency_ms_sum: 310, slow: 1 });
        assert_eq!(got[&2], Bucket { count: 1, errors: 0, latency_ms_sum: 20, slow: 0 });
    }
}
