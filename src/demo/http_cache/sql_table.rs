//! The same response cache as a SQLite table `(key, body, expires_at)`: every read must filter out
//! expired rows, a sweep must delete them, and a size limit means hand-made LRU bookkeeping. Redis
//! expires keys by itself.

use std::cell::RefCell;
use std::thread;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, anyhow, bail};
use rusqlite::{Connection, OptionalExtension, params};

use super::upstream::{CacheControl, Response, hex_id};
use crate::demo::support::now_ms;
use crate::demo::{Ctx, DemoReport, NoteKind};
use crate::measure::{Backend, Claim, format_count};
use crate::sql::{self, Durability};
use crate::text::{Fact, Text};

/// Short-lived entries (prices): gone after this.
const SHORT_TTL: Duration = Duration::from_millis(200);
/// Long-lived entries.
const LONG_TTL_SECS: u64 = 3_600;
/// How long to wait for the short entries to expire before giving up.
const EXPIRY_DEADLINE: Duration = Duration::from_secs(5);

const SCHEMA: &str = "
CREATE TABLE http_cache (
    key        TEXT PRIMARY KEY,
    body       TEXT NOT NULL,
    expires_at INTEGER NOT NULL,  -- unix ms
    last_used  INTEGER NOT NULL   -- unix ms, only for a hand-made LRU
) WITHOUT ROWID;
CREATE INDEX http_cache_expires_at ON http_cache (expires_at);
";
const SELECT_FRESH: &str = "SELECT body FROM http_cache WHERE key = ?1 AND expires_at > ?2";
const UPSERT: &str = "INSERT INTO http_cache (key, body, expires_at, last_used) VALUES (?1, ?2, ?3, ?4)
    ON CONFLICT (key) DO UPDATE SET body = excluded.body, expires_at = excluded.expires_at, last_used = excluded.last_used";
const TOUCH: &str = "UPDATE http_cache SET last_used = ?2 WHERE key = ?1";
const SWEEP: &str = "DELETE FROM http_cache WHERE expires_at <= ?1";

fn open(ctx: &Ctx) -> Result<Connection> {
    let path = ctx.scratch.join("http_cache.db");
    if path.exists() {
        std::fs::remove_file(&path).with_context(|| format!("removing an old {}", path.display()))?;
    }
    // A cache may lose its contents on a power cut: no fsync per commit.
    let db = sql::open_file(&path, Durability::Off)?;
    db.execute_batch(SCHEMA).context("creating the cache table")?;
    Ok(db)
}

/// M entries in both stores, half of them short-lived; after the short TTL: what each still holds,
/// the sweep SQL needs, and reads and writes side by side.
pub fn sql_cache_table(ctx: &Ctx) -> Result<DemoReport> {
    let mut report = DemoReport::new("sql-cache-table", Text::msg("title"));
    let entries = ctx.n(10_000, 2_000);
    let short = entries / 2;
    let db = open(ctx)?;
    let mut con = ctx.connect()?;
    let body = serde_json::to_string(&Response {
        status: 200,
        cache_control: CacheControl::MaxAge(30),
        body: format!(r#"{{"code":"0","data":[{{"address":"{}","balance":"1024.25"}}]}}"#, hex_id("sql", 40)),
    })?;
    let sql_key = |i: usize| format!("http:price:{i}");
    let redis_keys: Vec<String> = (0..entries).map(|i| ctx.key(&format!("sqlcache:{}", sql_key(i)))).collect();

    // Fill both: entries [0, short) expire after SHORT_TTL, the rest after an hour.
    let start = now_ms()?;
    {
        let tx = db.unchecked_transaction()?;
        let mut upsert = tx.prepare_cached(UPSERT)?;
        for i in 0..entries {
            let ttl_ms = if i < short { SHORT_TTL.as_millis() as i64 } else { LONG_TTL_SECS as i64 * 1_000 };
            upsert.execute(params![sql_key(i), body, start + ttl_ms, start])?;
        }
        drop(upsert);
        tx.commit()?;
    }
    for chunk in (0..entries).collect::<Vec<_>>().chunks(500) {
        ctx.check_interrupt()?;
        let mut pipe = redis::pipe();
        for &i in chunk {
            let cmd = pipe.cmd("SET").arg(&redis_keys[i]).arg(&body);
            if i < short {
                cmd.arg("PX").arg(SHORT_TTL.as_millis() as u64).ignore();
            } else {
                cmd.arg("EX").arg(LONG_TTL_SECS).ignore();
            }
        }
        pipe.exec(&mut con).context("filling Redis")?;
    }

    // Wait until Redis has expired the last short entry written (PTTL polled, not a blind sleep),
    // and until the SQL rows' expires_at has passed too.
    let waited = Instant::now();
    loop {
        ctx.check_interrupt()?;
        let left: i64 = redis::cmd("PTTL").arg(&redis_keys[short - 1]).query(&mut con)?;
        if left == -2 && now_ms()? > start + SHORT_TTL.as_millis() as i64 {
            break;
        }
        if waited.elapsed() > EXPIRY_DEADLINE {
            bail!("the short entries had not expired after {} s", EXPIRY_DEADLINE.as_secs());
        }
        thread::sleep(Duration::from_millis(10));
    }

    // What each store holds now.
    let now = now_ms()?;
    let rows: i64 = db.query_row("SELECT count(*) FROM http_cache", [], |r| r.get(0))?;
    let fresh_rows: i64 = db.query_row("SELECT count(*) FROM http_cache WHERE expires_at > ?1", [now], |r| r.get(0))?;
    let mut redis_left = 0_i64;
    for chunk in redis_keys[..short].chunks(500) {
        redis_left += redis::cmd("EXISTS").arg(chunk).query::<i64>(&mut con)?;
    }
    let redis_long: i64 = redis::cmd("EXISTS").arg(&redis_keys[short..]).query(&mut con)?;
    let sweep_start = Instant::now();
    let swept = db.execute(SWEEP, [now_ms()?])?;
    let sweep_took = sweep_start.elapsed();
    let rows_after: i64 = db.query_row("SELECT count(*) FROM http_cache", [], |r| r.get(0))?;

    report.table(
        Text::msg("stores").fact("entries", entries).fact("short", short).fact("ttl", SHORT_TTL),
        &["store", "stored", "expired", "cleanup", "after"],
        vec![
            vec![
                Text::msg("sqlite-table"),
                Text::Plain(format_count(rows as u64)),
                Text::Plain(format_count((rows - fresh_rows) as u64)),
                Text::msg("sweep").fact("rows", swept).fact("took", sweep_took),
                Text::Plain(format_count(rows_after as u64)),
            ],
            vec![
                Text::msg("redis-store-kind"),
                Text::Plain(format_count((redis_left + redis_long) as u64)),
                Text::Plain(format_count(redis_left as u64)),
                Text::msg("no-cleanup"),
                Text::Plain(format_count((redis_left + redis_long) as u64)),
            ],
        ],
    );

    // Side by side: a hit, a store, and the hit a hand-made LRU needs.
    let hot = short; // a long-lived entry
    let hot_sql = sql_key(hot);
    let hot_redis = &redis_keys[hot];
    let mut n = 0_usize;
    let mut m = 0_usize;
    // All five take turns in rounds: a busy moment slows each of them alike.
    let con = RefCell::new(con);
    let group = report.measured_group(
        ctx.sampler
            .group()
            .op("sqlite-hit", "SQLite SELECT", Backend::Sqlite, || {
                let mut stmt = db.prepare_cached(SELECT_FRESH)?;
                let found: Option<String> = stmt.query_row(params![hot_sql, now_ms()?], |r| r.get(0)).optional()?;
                found.ok_or_else(|| anyhow!("expected a fresh row"))?;
                Ok(())
            })
            .op("redis-hit", "GET", Backend::Redis, || {
                redis::cmd("GET")
                    .arg(hot_redis)
                    .query::<Option<String>>(&mut *con.borrow_mut())?
                    .ok_or_else(|| anyhow!("expected a hit"))?;
                Ok(())
            })
            .one_round_trip()
            .op("sqlite-lru-hit", "SQLite SELECT + UPDATE", Backend::Sqlite, || {
                let now = now_ms()?;
                let mut stmt = db.prepare_cached(SELECT_FRESH)?;
                let found: Option<String> = stmt.query_row(params![hot_sql, now], |r| r.get(0)).optional()?;
                found.ok_or_else(|| anyhow!("expected a fresh row"))?;
                db.prepare_cached(TOUCH)?.execute(params![hot_sql, now])?;
                Ok(())
            })
            .op("sqlite-store", "SQLite UPSERT", Backend::Sqlite, || {
                n += 1;
                let now = now_ms()?;
                db.prepare_cached(UPSERT)?.execute(params![
                    format!("http:address:{}", n % 1_000),
                    body,
                    now + 60_000,
                    now
                ])?;
                Ok(())
            })
            .op("redis-store", "SET EX", Backend::Redis, || {
                m += 1;
                let key = ctx.key(&format!("sqlcache:http:address:{}", m % 1_000));
                redis::cmd("SET").arg(&key).arg(&body).arg("EX").arg(60).exec(&mut *con.borrow_mut())?;
                Ok(())
            })
            .one_round_trip()
            .run()?,
    );
    let (sql_hit, redis_hit) = (group.get("sqlite-hit"), group.get("redis-hit"));
    let honest = report.compare("sqlite-hit-vs-redis-get", sql_hit, redis_hit)?;
    report.compare("sqlite-hit-vs-lru-hit", sql_hit, group.get("sqlite-lru-hit"))?;
    report.compare("sqlite-store-vs-redis-store", group.get("sqlite-store"), group.get("redis-store"))?;

    report.note(NoteKind::Caveat, Text::msg("what-the-table-lacks"));
    report.note(NoteKind::Info, Text::msg("redis-expires-lazily"));

    let counts_hold = rows == entries as i64
        && fresh_rows == (entries - short) as i64
        && swept == short
        && redis_left == 0
        && redis_long == (entries - short) as i64;
    report.claim(
        Claim::new(
            "table-keeps-expired-rows",
            "",
            format!("{} / 0", format_count((rows - fresh_rows) as u64)),
            counts_hold,
        )
        .fact("ttl", SHORT_TTL)
        .fact("rows", rows)
        .fact("expired", rows - fresh_rows)
        .fact("swept", swept)
        .fact("short", short),
    );
    report.claim(
        Claim::ratio_above("in-process-hit-beats-round-trip", "", &honest, 1.0)
            .fact("sqlite", sql_hit.p50())
            .fact("redis", redis_hit.p50())
            .fact("ratio", Fact::Ratio(honest.ratio)),
    );
    Ok(report)
}
