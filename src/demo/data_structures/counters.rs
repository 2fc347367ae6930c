//! Counters (计数器): K workers × M increments on one key. INCR adds on the server, so the total is
//! exact; GET then SET from the client loses updates; SQL's `UPDATE … SET value = value + 1` is exact
//! too, but every increment is a transaction on a file that one writer at a time may hold.

use std::path::Path;
use std::time::Duration;

use anyhow::{Context, Result};
use redis::ConnectionLike;
use rusqlite::Connection;

use crate::demo::support::short;
use crate::demo::support::{SQL_WAIT, who_wins};
use crate::demo::{Ctx, DemoReport, NoteKind, run_together};
use crate::measure::{Backend, Claim, format_count, format_duration};
use crate::sql::{self, Durability};
use crate::text::Text;

/// The counter the workers share: trades executed today, as a stats endpoint would show it.
const COUNTER: &str = "counter:trades:2026-11-26";
/// Its row in the SQL table.
const SQL_NAME: &str = "trades:2026-11-26";

/// How the workers add one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Way {
    /// GET, then SET value+1 from the client: two commands, nothing between them is protected.
    GetSet,
    /// INCR: the server reads, adds and writes in one command.
    Incr,
    /// `UPDATE counters SET value = value + 1`, one autocommit transaction each, on a SQLite file.
    SqlUpdate,
}

impl Way {
    fn tag(self) -> &'static str {
        match self {
            Way::GetSet => "getset",
            Way::Incr => "incr",
            Way::SqlUpdate => "sql",
        }
    }
}

/// Operations per second over a wall time.
fn per_sec(ops: u64, elapsed: Duration) -> u64 {
    let s = elapsed.as_secs_f64();
    if s > 0.0 { (ops as f64 / s).round() as u64 } else { 0 }
}

/// A worker's own connection to the SQLite file.
fn open_sql_worker(path: &Path) -> Result<Connection> {
    sql::open_worker(path, SQL_WAIT)
}

/// What K workers × M increments left behind.
#[derive(Debug, Clone, Copy)]
struct Race {
    expected: u64,
    final_count: u64,
    elapsed: Duration,
}

impl Race {
    fn lost(&self) -> u64 {
        self.expected.saturating_sub(self.final_count)
    }
}

fn redis_count(con: &mut impl ConnectionLike, key: &str) -> Result<u64> {
    let n: Option<i64> = redis::cmd("GET").arg(key).query(con)?;
    u64::try_from(n.unwrap_or(0)).context("the counter went negative")
}

/// K workers, each on its own connection (as K app servers would be), released together, each adding
/// 1 to one Redis key M times.
fn redis_race(ctx: &Ctx, way: Way, workers: usize, per_worker: usize) -> Result<Race> {
    let key = ctx.key(&format!("{COUNTER}:{}", way.tag()));
    let mut con = ctx.connect()?;
    redis::cmd("SET").arg(&key).arg(0).exec(&mut con)?;
    let (_, elapsed) = run_together(
        workers,
        |_| ctx.connect(),
        |_, mut con| {
            for _ in 0..per_worker {
                ctx.check_interrupt()?;
                if way == Way::Incr {
                    redis::cmd("INCR").arg(&key).exec(&mut con)?;
                } else {
                    let n = redis_count(&mut con, &key)?;
                    redis::cmd("SET").arg(&key).arg(n + 1).exec(&mut con)?;
                }
            }
            Ok(())
        },
    )?;
    Ok(Race { expected: (workers * per_worker) as u64, final_count: redis_count(&mut con, &key)?, elapsed })
}

fn sql_count(con: &Connection) -> Result<u64> {
    let n: i64 = con.query_row("SELECT value FROM counters WHERE name = ?1", [SQL_NAME], |r| r.get(0))?;
    u64::try_from(n).context("the counter went negative")
}

/// One increment, one autocommit transaction.
fn sql_increment(con: &Connection) -> Result<()> {
    let changed = con.prepare_cached("UPDATE counters SET value = value + 1 WHERE name = ?1")?.execute([SQL_NAME])?;
    anyhow::ensure!(changed == 1, "the counter row is missing");
    Ok(())
}

/// The same race on one row of a SQLite file: K threads, each with its own connection.
fn sql_race(ctx: &Ctx, path: &Path, workers: usize, per_worker: usize) -> Result<Race> {
    let con = open_sql_worker(path)?;
    con.execute("INSERT OR REPLACE INTO counters (name, value) VALUES (?1, 0)", [SQL_NAME])?;
    let (_, elapsed) = run_together(
        workers,
        |_| open_sql_worker(path),
        |_, con| {
            for _ in 0..per_worker {
                ctx.check_interrupt()?;
                sql_increment(&con)?;
            }
            Ok(())
        },
    )?;
    Ok(Race { expected: (workers * per_worker) as u64, final_count: sql_count(&con)?, elapsed })
}

const SCHEMA: &str = "CREATE TABLE IF NOT EXISTS counters (name TEXT PRIMARY KEY, value INTEGER NOT NULL)";

/// K workers × M increments on one counter: GET+SET, INCR, and SQL's UPDATE; then one increment
/// timed on each side.
pub fn counters(ctx: &Ctx) -> Result<DemoReport> {
    let mut report = DemoReport::new("counters", Text::msg("title"));
    let workers = ctx.n(8, 4);
    let (incr_m, getset_m, sql_m) = (ctx.n(10_000, 500), ctx.n(1_000, 200), ctx.n(1_000, 150));
    let getset = redis_race(ctx, Way::GetSet, workers, getset_m)?;
    let incr = redis_race(ctx, Way::Incr, workers, incr_m)?;
    let path = ctx.scratch.join("structures-counters.db");
    sql::open_file(&path, Durability::Off)?.execute_batch(SCHEMA)?;
    let sql_r = sql_race(ctx, &path, workers, sql_m)?;

    let rows = [(Way::GetSet, getset), (Way::Incr, incr), (Way::SqlUpdate, sql_r)]
        .iter()
        .map(|(way, r)| {
            vec![
                Text::msg(&format!("way.{}", way.tag())),
                Text::Plain(format!("{workers} × {}", format_count(r.expected / workers as u64))),
                Text::Plain(format_count(r.final_count)),
                Text::Plain(format_count(r.lost())),
                Text::Plain(format_duration(r.elapsed)),
                Text::Plain(format_count(per_sec(r.expected, r.elapsed))),
            ]
        })
        .collect();
    report.table(
        Text::msg("race").fact("workers", workers).fact("key", short(&ctx.key(COUNTER))),
        &["way", "increments", "final", "lost", "wall-time", "rate"],
        rows,
    );

    // One increment, uncontended: what each side costs per call.
    let mut con = ctx.connect()?;
    let key = ctx.key(&format!("{COUNTER}:timed"));
    let off = open_sql_worker(&path)?;
    let full = open_sql_worker(&path)?;
    full.pragma_update(None, "synchronous", "FULL").context("setting synchronous=FULL")?;
    // The three take turns in rounds, each on its own connection.
    let group = report.measured_group(
        ctx.sampler
            .group()
            .op("incr", "INCR", Backend::Redis, || {
                redis::cmd("INCR").arg(&key).exec(&mut con)?;
                Ok(())
            })
            .one_round_trip()
            .op("sqlite-update-no-sync", "SQLite UPDATE, synchronous=OFF", Backend::Sqlite, || sql_increment(&off))
            .op("sqlite-update-durable", "SQLite UPDATE, synchronous=FULL", Backend::Sqlite, || sql_increment(&full))
            .one_disk_sync()
            .run()?,
    );
    let (incr_one, sql_off, sql_full) =
        (group.get("incr"), group.get("sqlite-update-no-sync"), group.get("sqlite-update-durable"));
    let vs_off = report.compare("incr-vs-sqlite-update-no-sync", incr_one, sql_off)?;
    report.compare("incr-vs-sqlite-update-durable", incr_one, sql_full)?;

    let fs_type = sql::filesystem_type(ctx.scratch).unwrap_or_else(|| "unknown".to_string());
    report.note(NoteKind::Info, who_wins("one-call", &vs_off, incr_one, sql_off));
    report.note(NoteKind::Info, Text::msg("in-process").fact("fs", fs_type.as_str()));
    if sql::is_memory_filesystem(&fs_type) {
        report.note(NoteKind::Caveat, Text::msg("tmpfs"));
    }
    let (sql_rate, incr_rate) = (per_sec(sql_r.expected, sql_r.elapsed), per_sec(incr.expected, incr.elapsed));
    report.note(
        NoteKind::Info,
        Text::msg(if sql_rate >= incr_rate { "contention.sqlite-kept-up" } else { "contention.sqlite-queued" })
            .fact("sql_rate", sql_rate)
            .fact("incr_rate", incr_rate)
            .fact("workers", workers),
    );

    let holds = incr.lost() == 0 && incr.final_count == incr.expected && getset.lost() > 0;
    report.claim(
        Claim::new("incr-loses-nothing", "", format!("{} → {}", getset.lost(), incr.lost()), holds)
            .fact("workers", workers)
            .fact("per_worker", incr_m)
            .fact("incr_final", incr.final_count)
            .fact("incr_lost", incr.lost())
            .fact("getset_lost", getset.lost())
            .fact("getset_expected", getset.expected),
    );

    report.claim(
        Claim::new(
            "sql-update-is-atomic",
            "",
            format!("{} / {}", format_count(sql_r.final_count), format_count(sql_r.expected)),
            sql_r.lost() == 0 && sql_r.final_count == sql_r.expected,
        )
        .fact("workers", workers)
        .fact("per_worker", sql_m)
        .fact("sql_final", sql_r.final_count)
        .fact("sql_lost", sql_r.lost())
        .fact("durable", sql_full.p50())
        .fact("incr", incr_one.p50()),
    );
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sql_increments_add_up_across_connections() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("c.db");
        sql::open_file(&path, Durability::Off).unwrap().execute_batch(SCHEMA).unwrap();
        open_sql_worker(&path)
            .unwrap()
            .execute("INSERT INTO counters (name, value) VALUES (?1, 0)", [SQL_NAME])
            .unwrap();
        std::thread::scope(|s| {
            for _ in 0..4 {
                s.spawn(|| {
                    let con = open_sql_worker(&path).unwrap();
                    for _ in 0..50 {
                        sql_increment(&con).unwrap();
                    }
                });
            }
        });
        assert_eq!(sql_count(&open_sql_worker(&path).unwrap()).unwrap(), 200);
    }

    #[test]
    fn rates_survive_a_zero_wall_time() {
        assert_eq!(per_sec(1_000, Duration::from_millis(500)), 2_000);
        assert_eq!(per_sec(1_000, Duration::ZERO), 0);
    }

    #[test]
    fn lost_is_what_the_count_misses() {
        let r = Race { expected: 800, final_count: 310, elapsed: Duration::from_millis(5) };
        assert_eq!(r.lost(), 490);
        assert_eq!(Race { final_count: 800, ..r }.lost(), 0);
    }
}
