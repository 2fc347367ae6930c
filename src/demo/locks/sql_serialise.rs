//! The SQL way: the same read-modify-write serialised by a SQLite transaction that takes the write
//! lock up front, and one guarded increment timed against the Redis lock cycle.

use std::time::Duration;

use anyhow::{Result, anyhow, ensure};

use super::lock::RedisLock;
use super::race::{
    Guard, pause_note, race_columns, race_row, redis_race, redis_read_modify_write, sql_increment, sql_race,
};
use super::{LONG_TTL, USER_ID, WAIT_LIMIT};
use crate::demo::{Ctx, DemoReport, NoteKind};
use crate::measure::{Backend, Claim};
use crate::sql::{self, Durability};
use crate::text::{Fact, Text};

/// The SQL way to serialise the same read-modify-write: K threads on one SQLite file, with and
/// without `BEGIN IMMEDIATE`; then one guarded increment timed on each side.
pub fn sql_serialise(ctx: &Ctx) -> Result<DemoReport> {
    let mut report = DemoReport::new("sql-serialise", Text::msg("title"));
    let path = ctx.scratch.join("locks-balances.db");
    let setup = sql::open_file(&path, Durability::Off)?;
    setup.execute_batch(
        "CREATE TABLE IF NOT EXISTS balances (user_id INTEGER PRIMARY KEY, balance INTEGER NOT NULL);",
    )?;
    let (workers, steps) = (ctx.n(8, 4), ctx.n(100, 40));
    report.note(NoteKind::Simulated, pause_note());
    let guards = [Guard::SqlAutocommit, Guard::SqlImmediate];
    let mut results = Vec::new();
    for guard in guards {
        results.push(sql_race(ctx, &path, guard, workers, steps)?);
    }
    let redis_locked = redis_race(ctx, Guard::RedisLock, workers, steps)?;
    let [auto, immediate] = [results[0], results[1]];
    let mut rows: Vec<Vec<Text>> = guards.iter().zip(&results).map(|(g, r)| race_row(*g, r)).collect();
    rows.push(race_row(Guard::RedisLock, &redis_locked));
    report.table(
        Text::msg("race")
            .fact("workers", workers)
            .fact("steps", steps)
            .fact("total", auto.expected)
            .fact("busy_s", WAIT_LIMIT.as_secs()),
        race_columns(),
        rows,
    );

    // One guarded increment, uncontended, no pause: what the serialisation itself costs.
    let mut con = ctx.connect()?;
    let key = ctx.key(&format!("balance:timed:user:{USER_ID}"));
    let lock = RedisLock::new(ctx.key(&format!("lock:balance:timed:user:{USER_ID}")), LONG_TTL);
    let mut db = sql::open_worker(&path, WAIT_LIMIT)?;
    // The two cycles take turns in rounds, each on its own connection.
    let group = report.measured_group(
        ctx.sampler
            .group()
            .op("redis-lock-cycle", "Redis lock cycle", Backend::Redis, || {
                let lease = lock.try_acquire(&mut con)?.ok_or_else(|| anyhow!("an uncontended lock was busy"))?;
                redis_read_modify_write(&mut con, &key, Duration::ZERO)?;
                ensure!(lock.release(&mut con, &lease)?, "the lock expired during one increment");
                Ok(())
            })
            .op("sqlite-immediate-tx", "SQLite BEGIN IMMEDIATE", Backend::Sqlite, || {
                sql_increment(&mut db, Guard::SqlImmediate, Duration::ZERO)
            })
            .run()?,
    );
    let (redis_cycle, sql_tx) = (group.get("redis-lock-cycle"), group.get("sqlite-immediate-tx"));
    let cmp = report.compare("sqlite-tx-vs-redis-lock-cycle", sql_tx, redis_cycle)?;
    // Four round trips against an in-process transaction without fsync: SQLite should win clearly;
    // the interval decides, and the text follows the measured direction: `{sqlite_won|…|…}` picks
    // the words (a claim has one message, so the direction is a choice inside it), and `faster` /
    // `slower` are the winner's and the loser's times.
    let sqlite_won = cmp.ratio >= 1.0;
    let (faster, slower, by) = if sqlite_won {
        (sql_tx.p50(), redis_cycle.p50(), cmp.ratio)
    } else {
        (redis_cycle.p50(), sql_tx.p50(), 1.0 / cmp.ratio)
    };
    report.claim(
        Claim::ratio_above("in-process-sqlite-tx-beats-lock-cycle", "", &cmp, 1.0)
            .fact("sqlite_won", u64::from(sqlite_won))
            .fact("faster", faster)
            .fact("slower", slower)
            .fact("ratio", Fact::Ratio(by)),
    );
    report.note(NoteKind::Info, Text::msg("which-fits"));
    report.note(NoteKind::Caveat, Text::msg("deferred-busy"));
    let holds = auto.lost() > 0 && immediate.lost() == 0;
    report.claim(
        Claim::new("immediate-tx-prevents-lost-updates", "", format!("{} → {}", auto.lost(), immediate.lost()), holds)
            .fact("lost_auto", auto.lost())
            .fact("total", auto.expected)
            .fact("lost_immediate", immediate.lost()),
    );
    Ok(report)
}
