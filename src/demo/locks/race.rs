//! The race the first two demos run: K workers, each on its own connection, released together,
//! each adding 1 to one balance M times under a [`Guard`]; and the table rows that show it.

use std::sync::atomic::{AtomicU64, Ordering};
use std::thread;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use redis::ConnectionLike;
use rusqlite::{Connection, TransactionBehavior, params};

use super::lock::RedisLock;
use super::{LONG_TTL, USER_ID, WAIT_LIMIT, WATCH_RETRY_LIMIT, WORK_PAUSE};
use crate::demo::{Ctx, DemoReport, NoteKind, run_together};
use crate::measure::{format_count, format_duration};
use crate::sql;
use crate::text::Text;

/// How the workers protect their read-modify-write.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Guard {
    /// Redis GET, pause, SET: nothing stops two workers reading the same balance.
    RedisNone,
    /// The same inside `SET lock token NX PX` … compare-and-delete.
    RedisLock,
    /// No read at all: `INCRBY` adds on the server, atomically.
    RedisIncrby,
    /// `WATCH`, GET, pause, `MULTI` SET `EXEC`, again from the top when EXEC replies nil.
    RedisWatch,
    /// SQLite SELECT, pause, UPDATE as two autocommit statements.
    SqlAutocommit,
    /// The same inside `BEGIN IMMEDIATE` … `COMMIT`, with a busy timeout.
    SqlImmediate,
}

impl Guard {
    fn tag(self) -> &'static str {
        match self {
            Guard::RedisNone => "none",
            Guard::RedisLock => "lock",
            Guard::RedisIncrby => "incrby",
            Guard::RedisWatch => "watch",
            Guard::SqlAutocommit => "autocommit",
            Guard::SqlImmediate => "immediate",
        }
    }

    /// The strategy's name: the message `<demo>.strategy.<tag>`.
    fn label(self) -> Text {
        Text::msg(&format!("strategy.{}", self.tag()))
    }
}

/// What K workers doing M increments each left behind.
#[derive(Debug, Clone, Copy)]
pub(super) struct RaceResult {
    pub(super) expected: u64,
    pub(super) final_balance: u64,
    pub(super) elapsed: Duration,
    /// Failed lock tries (Redis lock), or EXECs that replied nil and were retried (WATCH).
    pub(super) retries: u64,
    /// Releases that found the lock already expired (Redis lock only).
    pub(super) expired: u64,
}

impl RaceResult {
    /// Increments that a concurrent writer overwrote.
    pub(super) fn lost(&self) -> u64 {
        self.expected.saturating_sub(self.final_balance)
    }

    fn per_sec(&self) -> f64 {
        let s = self.elapsed.as_secs_f64();
        if s > 0.0 { self.expected as f64 / s } else { f64::INFINITY }
    }
}

/// One table row per race.
pub(super) fn race_row(guard: Guard, r: &RaceResult) -> Vec<Text> {
    let retries = match guard {
        Guard::RedisLock | Guard::RedisWatch => format_count(r.retries),
        _ => "—".to_string(),
    };
    vec![
        guard.label(),
        Text::Plain(format_count(r.final_balance)),
        Text::Plain(format_count(r.lost())),
        Text::Plain(format_duration(r.elapsed)),
        Text::Plain(format_count(r.per_sec().round() as u64)),
        Text::Plain(retries),
    ]
}

/// The race tables' headers: the messages `<demo>.race.header-*`.
/// The race run once per guard (K workers, M steps each, a fresh balance each time), after the
/// note that the pause is simulated; the outcomes go into the demo's `race` table.
pub(super) fn race_each<const N: usize>(
    ctx: &Ctx,
    report: &mut DemoReport,
    guards: [Guard; N],
    workers: usize,
    steps: usize,
) -> Result<[RaceResult; N]> {
    report.note(NoteKind::Simulated, pause_note());
    let mut results = Vec::new();
    for guard in guards {
        results.push(redis_race(ctx, guard, workers, steps)?);
    }
    report.table(
        Text::msg("race")
            .fact("workers", workers)
            .fact("steps", steps)
            .fact("total", (workers * steps) as u64)
            .fact("key", balance_key()),
        race_columns(),
        guards.iter().zip(&results).map(|(g, r)| race_row(*g, r)).collect(),
    );
    Ok(results.try_into().unwrap_or_else(|_| unreachable!("one result per guard")))
}

pub(super) fn race_columns() -> &'static [&'static str] {
    &["strategy", "final-balance", "lost", "wall-time", "per-sec", "failed-tries"]
}

/// The simulated work between read and write, and how long it lasts.
pub(super) fn pause_note() -> Text {
    Text::msg("pause").fact("pause", WORK_PAUSE)
}

/// The balance key as the notes' backend would name it (a key, shown as it is).
pub(super) fn balance_key() -> String {
    format!("balance:user:{USER_ID}")
}

/// Redis GET, pause, SET: the read-modify-write application code does.
pub(super) fn redis_read_modify_write(con: &mut impl ConnectionLike, key: &str, pause: Duration) -> Result<()> {
    let balance: i64 = redis::cmd("GET").arg(key).query::<Option<i64>>(con)?.unwrap_or(0);
    if !pause.is_zero() {
        thread::sleep(pause);
    }
    redis::cmd("SET").arg(key).arg(balance + 1).exec(con)?;
    Ok(())
}

/// Optimistic read-modify-write: `WATCH key`, GET, pause, then `MULTI` SET `EXEC` in one pipeline.
/// EXEC replies nil when another client wrote the key after the WATCH, and nothing was applied:
/// read again and retry. Returns how many times it retried.
pub(super) fn watch_increment(
    con: &mut impl ConnectionLike,
    key: &str,
    pause: Duration,
    check: impl Fn() -> Result<()>,
) -> Result<u64> {
    let mut retried = 0;
    loop {
        redis::cmd("WATCH").arg(key).exec(con)?;
        let balance: i64 = redis::cmd("GET").arg(key).query::<Option<i64>>(con)?.unwrap_or(0);
        if !pause.is_zero() {
            thread::sleep(pause);
        }
        let committed: Option<redis::Value> = redis::pipe().atomic().cmd("SET").arg(key).arg(balance + 1).query(con)?;
        if committed.is_some() {
            return Ok(retried);
        }
        retried += 1;
        check()?;
        if retried >= WATCH_RETRY_LIMIT {
            bail!("EXEC replied nil {retried} times in a row: another client keeps writing {key}");
        }
    }
}

/// K workers, each on its own connection (as separate processes would be), released together by a
/// barrier, each adding 1 to one Redis balance M times under `guard`.
pub(super) fn redis_race(ctx: &Ctx, guard: Guard, workers: usize, steps: usize) -> Result<RaceResult> {
    let key = ctx.key(&format!("balance:{}:user:{USER_ID}", guard.tag()));
    let lock = RedisLock::new(ctx.key(&format!("lock:balance:{}:user:{USER_ID}", guard.tag())), LONG_TTL);
    let mut con = ctx.connect()?;
    redis::cmd("SET").arg(&key).arg(0).exec(&mut con)?;
    let retries = AtomicU64::new(0);
    let expired = AtomicU64::new(0);
    let (_, elapsed) = run_together(
        workers,
        |_| ctx.connect(),
        |_, mut con| {
            for _ in 0..steps {
                ctx.check_interrupt()?;
                match guard {
                    Guard::RedisLock => {
                        let (lease, failed) = lock.acquire(&mut con, WAIT_LIMIT, || ctx.check_interrupt())?;
                        retries.fetch_add(failed, Ordering::Relaxed);
                        redis_read_modify_write(&mut con, &key, WORK_PAUSE)?;
                        if !lock.release(&mut con, &lease)? {
                            expired.fetch_add(1, Ordering::Relaxed);
                        }
                    }
                    Guard::RedisIncrby => redis::cmd("INCRBY").arg(&key).arg(1).exec(&mut con)?,
                    Guard::RedisWatch => {
                        let retried = watch_increment(&mut con, &key, WORK_PAUSE, || ctx.check_interrupt())?;
                        retries.fetch_add(retried, Ordering::Relaxed);
                    }
                    _ => redis_read_modify_write(&mut con, &key, WORK_PAUSE)?,
                }
            }
            Ok(())
        },
    )?;
    let final_balance: i64 = redis::cmd("GET").arg(&key).query::<Option<i64>>(&mut con)?.unwrap_or(0);
    Ok(RaceResult {
        expected: (workers * steps) as u64,
        final_balance: u64::try_from(final_balance).context("the balance went negative")?,
        elapsed,
        retries: retries.load(Ordering::Relaxed),
        expired: expired.load(Ordering::Relaxed),
    })
}

pub(super) fn sql_balance(con: &Connection) -> Result<i64> {
    Ok(con.query_row("SELECT balance FROM balances WHERE user_id = ?1", [USER_ID], |r| r.get(0))?)
}

pub(super) fn sql_set_balance(con: &Connection, balance: i64) -> Result<()> {
    con.execute("UPDATE balances SET balance = ?1 WHERE user_id = ?2", params![balance, USER_ID])?;
    Ok(())
}

/// One increment: SELECT, pause, UPDATE, either as two autocommit statements or in one IMMEDIATE
/// transaction (which takes SQLite's write lock at BEGIN, so a second one waits there).
pub(super) fn sql_increment(con: &mut Connection, guard: Guard, pause: Duration) -> Result<()> {
    let step = |con: &Connection| -> Result<()> {
        let balance = sql_balance(con)?;
        if !pause.is_zero() {
            thread::sleep(pause);
        }
        sql_set_balance(con, balance + 1)
    };
    if guard == Guard::SqlImmediate {
        let tx = con.transaction_with_behavior(TransactionBehavior::Immediate)?;
        step(&tx)?;
        tx.commit()?;
        Ok(())
    } else {
        step(con)
    }
}

pub(super) fn sql_race(
    ctx: &Ctx,
    path: &std::path::Path,
    guard: Guard,
    workers: usize,
    steps: usize,
) -> Result<RaceResult> {
    let con = sql::open_worker(path, WAIT_LIMIT)?;
    con.execute("INSERT OR REPLACE INTO balances (user_id, balance) VALUES (?1, 0)", [USER_ID])?;
    let (_, elapsed) = run_together(
        workers,
        |_| sql::open_worker(path, WAIT_LIMIT),
        |_, mut con| {
            for _ in 0..steps {
                ctx.check_interrupt()?;
                sql_increment(&mut con, guard, WORK_PAUSE)?;
            }
            Ok(())
        },
    )?;
    let final_balance = sql_balance(&con)?;
    Ok(RaceResult {
        expected: (workers * steps) as u64,
        final_balance: u64::try_from(final_balance).context("the balance went negative")?,
        elapsed,
        retries: 0,
        expired: 0,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sql::Durability;

    #[test]
    fn lost_updates_are_what_the_final_balance_misses() {
        let r =
            RaceResult { expected: 160, final_balance: 41, elapsed: Duration::from_millis(20), retries: 0, expired: 0 };
        assert_eq!(r.lost(), 119);
        assert!((r.per_sec() - 8_000.0).abs() < 1e-6);
        assert_eq!(RaceResult { final_balance: 160, ..r }.lost(), 0);
    }

    #[test]
    fn sql_increments_under_immediate_add_up_across_connections() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("b.db");
        sql::open_file(&path, Durability::Off)
            .unwrap()
            .execute_batch(
                "CREATE TABLE balances (user_id INTEGER PRIMARY KEY, balance INTEGER NOT NULL);
                 INSERT INTO balances VALUES (1001, 0);",
            )
            .unwrap();
        thread::scope(|s| {
            for _ in 0..4 {
                s.spawn(|| {
                    let mut con = sql::open_worker(&path, WAIT_LIMIT).unwrap();
                    for _ in 0..25 {
                        sql_increment(&mut con, Guard::SqlImmediate, Duration::ZERO).unwrap();
                    }
                });
            }
        });
        assert_eq!(sql_balance(&sql::open_worker(&path, WAIT_LIMIT).unwrap()).unwrap(), 100);
    }
}
