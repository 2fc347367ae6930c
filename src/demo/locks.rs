//! Lesson 4 (notes: `pkg/xredis/lock.go`, "SETNX + EXPIRE"): distributed locks. Lost updates
//! without a lock and none with `SET NX PX`; the same read-modify-write serialised by SQLite; the
//! crash gap between SETNX and EXPIRE; a release that deletes someone else's lock; and expiry during
//! a pause, which only fencing tokens at the resource can make safe.

mod lock;

use super::run_together;
use std::sync::atomic::{AtomicU64, Ordering};
use std::thread;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, anyhow, ensure};
use redis::ConnectionLike;
use rusqlite::{Connection, TransactionBehavior, params};

use self::lock::{Lease, RedisLock};
use super::support::{millis, new_id, pttl, wait_until_gone};
use super::{Ctx, DemoReport, NoteKind};
use crate::measure::{Backend, Claim, format_count, format_duration};
use crate::sql::{self, Durability};
use crate::text::{Fact, Text};

/// Between its read and its write a worker "does its work": this pause makes the race window real.
const WORK_PAUSE: Duration = Duration::from_micros(200);
/// Lock TTL in the contended runs: far longer than one critical section, so it never expires there.
const LONG_TTL: Duration = Duration::from_secs(5);
/// Lock TTL in the expiry demos: short, and watched with PTTL rather than slept through blindly.
const SHORT_TTL: Duration = Duration::from_millis(200);
/// How long a worker waits for a busy lock (Redis) or a busy database (SQLite) before giving up.
const WAIT_LIMIT: Duration = Duration::from_secs(10);
/// The balance the workers fight over, as the notes' backend would key it.
const USER_ID: i64 = 1001;
/// The scheduled job of the crash-gap demo (the notes: "防止定时任务重复执行").
const JOB: &str = "kline-aggregate";

/// How the workers protect their read-modify-write.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Guard {
    /// Redis GET, pause, SET: nothing stops two workers reading the same balance.
    RedisNone,
    /// The same inside `SET lock token NX PX` … compare-and-delete.
    RedisLock,
    /// No read at all: `INCRBY` adds on the server, atomically.
    RedisIncrby,
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
struct RaceResult {
    expected: u64,
    final_balance: u64,
    elapsed: Duration,
    /// Failed lock tries (Redis lock only).
    retries: u64,
    /// Releases that found the lock already expired (Redis lock only).
    expired: u64,
}

impl RaceResult {
    /// Increments that a concurrent writer overwrote.
    fn lost(&self) -> u64 {
        self.expected.saturating_sub(self.final_balance)
    }

    fn per_sec(&self) -> f64 {
        let s = self.elapsed.as_secs_f64();
        if s > 0.0 { self.expected as f64 / s } else { f64::INFINITY }
    }
}

/// One table row per race.
fn race_row(guard: Guard, r: &RaceResult) -> Vec<Text> {
    let retries = match guard {
        Guard::RedisLock => format_count(r.retries),
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
fn race_headers() -> Vec<Text> {
    ["strategy", "final-balance", "lost", "wall-time", "per-sec", "failed-tries"]
        .iter()
        .map(|h| Text::msg(&format!("race.header-{h}")))
        .collect()
}

/// The simulated work between read and write, and how long it lasts.
fn pause_note() -> Text {
    Text::msg("pause").fact("pause", WORK_PAUSE)
}

/// The balance key as the notes' backend would name it (a key, shown as it is).
fn balance_key() -> String {
    format!("balance:user:{USER_ID}")
}

/// Redis GET, pause, SET: the read-modify-write application code does.
fn redis_read_modify_write(con: &mut impl ConnectionLike, key: &str, pause: Duration) -> Result<()> {
    let balance: i64 = redis::cmd("GET").arg(key).query::<Option<i64>>(con)?.unwrap_or(0);
    if !pause.is_zero() {
        thread::sleep(pause);
    }
    redis::cmd("SET").arg(key).arg(balance + 1).exec(con)?;
    Ok(())
}

/// K workers, each on its own connection (as separate processes would be), released together by a
/// barrier, each adding 1 to one Redis balance M times under `guard`.
fn redis_race(ctx: &Ctx, guard: Guard, workers: usize, steps: usize) -> Result<RaceResult> {
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

/// K workers, M read-modify-write steps each, on one Redis balance: without a lock, with the lock,
/// and with INCRBY.
pub fn lost_updates(ctx: &Ctx) -> Result<DemoReport> {
    let mut report = DemoReport::new("lost-updates", Text::msg("title"));
    let (workers, steps) = (ctx.n(8, 4), ctx.n(250, 40));
    report.note(NoteKind::Simulated, pause_note());
    let guards = [Guard::RedisNone, Guard::RedisLock, Guard::RedisIncrby];
    let mut results = Vec::new();
    for guard in guards {
        results.push(redis_race(ctx, guard, workers, steps)?);
    }
    let [none, locked, incrby] = [results[0], results[1], results[2]];
    report.table(
        Text::msg("race")
            .fact("workers", workers)
            .fact("steps", steps)
            .fact("total", none.expected)
            .fact("key", balance_key()),
        race_headers(),
        guards.iter().zip(&results).map(|(g, r)| race_row(*g, r)).collect(),
    );
    if locked.expired > 0 {
        report.note(
            NoteKind::Caveat,
            Text::msg("lock-expired").fact("n", locked.expired).fact("ttl_s", LONG_TTL.as_secs()),
        );
    }
    report.note(NoteKind::Info, Text::msg("lock-costs-throughput"));
    let holds = none.lost() > 0 && locked.lost() == 0 && incrby.lost() == 0;
    report.claim(
        Claim::new("lock-prevents-lost-updates", "", format!("{} → {}", none.lost(), locked.lost()), holds)
            .fact("workers", workers)
            .fact("lost_none", none.lost())
            .fact("total", none.expected)
            .fact("lost_lock", locked.lost())
            .fact("lost_incrby", incrby.lost()),
    );
    Ok(report)
}

fn sql_balance(con: &Connection) -> Result<i64> {
    Ok(con.query_row("SELECT balance FROM balances WHERE user_id = ?1", [USER_ID], |r| r.get(0))?)
}

fn sql_set_balance(con: &Connection, balance: i64) -> Result<()> {
    con.execute("UPDATE balances SET balance = ?1 WHERE user_id = ?2", params![balance, USER_ID])?;
    Ok(())
}

/// One increment: SELECT, pause, UPDATE, either as two autocommit statements or in one IMMEDIATE
/// transaction (which takes SQLite's write lock at BEGIN, so a second one waits there).
fn sql_increment(con: &mut Connection, guard: Guard, pause: Duration) -> Result<()> {
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

fn sql_race(ctx: &Ctx, path: &std::path::Path, guard: Guard, workers: usize, steps: usize) -> Result<RaceResult> {
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
        race_headers(),
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

/// Poll PTTL until `key` is gone (its lock expired); how long that took.
fn wait_until_expired(ctx: &Ctx, con: &mut impl ConnectionLike, key: &str) -> Result<Duration> {
    wait_until_gone(ctx, con, key, |_| Ok(()))
}

/// The notes' SETNX-then-EXPIRE: a crash between the two leaves a lock that never expires.
/// `SET NX PX` sets both in one command.
pub fn crash_gap(ctx: &Ctx) -> Result<DemoReport> {
    let mut report = DemoReport::new("crash-gap", Text::msg("title"));
    let ttl_ms = millis(SHORT_TTL);
    let window = SHORT_TTL * 2;

    // The notes' way. Client A wins SETNX and dies before it can send EXPIRE.
    let naive_key = ctx.key(&format!("lock:job:{JOB}:setnx"));
    {
        let mut a = ctx.connect()?;
        let won: i64 = redis::cmd("SETNX").arg(&naive_key).arg(new_id()).query(&mut a)?;
        ensure!(won == 1, "the first SETNX on a fresh key did not win");
        // A crashes here: its connection closes and `EXPIRE key ...` is never sent.
    }
    let mut b = ctx.connect()?;
    let naive_ttl: i64 = redis::cmd("TTL").arg(&naive_key).query(&mut b)?;
    let start = Instant::now();
    let (mut tries, mut naive_wins) = (0_u64, 0_u64);
    while start.elapsed() < window {
        ctx.check_interrupt()?;
        tries += 1;
        let won: i64 = redis::cmd("SETNX").arg(&naive_key).arg(new_id()).query(&mut b)?;
        if won == 1 {
            naive_wins += 1;
            break;
        }
        thread::sleep(Duration::from_millis(5));
    }
    let naive_ttl_after: i64 = redis::cmd("TTL").arg(&naive_key).query(&mut b)?;

    // The fix: one command sets the value and the expiry. A crashes right after it.
    let safe = RedisLock::new(ctx.key(&format!("lock:job:{JOB}")), SHORT_TTL);
    let first = {
        let mut a = ctx.connect()?;
        safe.try_acquire(&mut a)?.ok_or_else(|| anyhow!("the first SET NX PX on a fresh key did not win"))?
    };
    // Normally about 200 ms; -2 only if this machine stalled past the TTL before B looked.
    let pttl = pttl(&mut b, safe.key())?;
    let refused_while_held = safe.try_acquire(&mut b)?.is_none();
    let mut safe_tries = 1_u64;
    let second = loop {
        ctx.check_interrupt()?;
        if let Some(lease) = safe.try_acquire(&mut b)? {
            break Some(lease);
        }
        safe_tries += 1;
        if first.acquired_at.elapsed() > WAIT_LIMIT {
            break None;
        }
        thread::sleep(Duration::from_millis(5));
    };
    let reacquired_after = second.as_ref().map(|l| l.acquired_at.duration_since(first.acquired_at));
    if let Some(lease) = &second {
        safe.release(&mut b, lease)?;
    }

    // PTTL as Redis replies it: milliseconds left, or -2 once the key is gone.
    let pttl_shown = if pttl == -2 { "-2".to_string() } else { format!("{pttl} ms") };
    let safe_try = match reacquired_after {
        Some(after) => Text::msg(if refused_while_held { "steps.won-after-nil" } else { "steps.won-after" })
            .fact("after", after)
            .fact("tries", safe_tries),
        None => Text::msg("steps.never-won"),
    };
    report.table(
        Text::msg("steps"),
        vec![Text::msg("steps.header-step"), Text::msg("steps.header-notes"), "SET key token NX PX".into()],
        vec![
            vec![Text::msg("steps.a-acquires"), "SETNX → 1".into(), Text::Plain(format!("SET … NX PX {ttl_ms} → OK"))],
            vec![Text::msg("steps.a-crashes"), Text::msg("steps.expire-never-sent"), Text::msg("steps.nothing-left")],
            vec![
                Text::msg("steps.b-reads-ttl"),
                Text::Plain(format!("TTL → {naive_ttl}")),
                Text::msg(if pttl == -2 { "steps.pttl-expired" } else { "steps.pttl" }).fact("pttl", pttl),
            ],
            vec![
                Text::msg("steps.b-tries"),
                Text::msg("steps.naive-tries").fact("wins", naive_wins).fact("tries", tries).fact("window", window),
                safe_try,
            ],
            vec![Text::msg("steps.ttl-afterwards"), Text::Plain(format!("TTL → {naive_ttl_after}")), "—".into()],
        ],
    );
    report.note(NoteKind::Info, Text::msg("setnx-deprecated"));
    let naive_holds = naive_ttl == -1 && naive_ttl_after == -1 && naive_wins == 0 && tries > 0;
    report.claim(
        Claim::new(
            "setnx-crash-leaves-lock-forever",
            "",
            format!("TTL {naive_ttl}, {naive_wins}/{tries}"),
            naive_holds,
        )
        .fact("ttl", naive_ttl)
        .fact("wins", naive_wins)
        .fact("tries", tries)
        .fact("window", window),
    );
    // The point is that the lock carries an expiry (not -1) and frees itself; the nil reply while it
    // is held is shown in the table but not required, since a stalled machine could miss the window.
    let safe_holds = pttl != -1 && pttl <= ttl_ms && reacquired_after.is_some();
    let after = reacquired_after.map(format_duration).unwrap_or_else(|| "—".to_string());
    report.claim(
        Claim::new("set-nx-px-lock-expires", "", format!("PTTL {pttl_shown}, {after}"), safe_holds)
            .fact("ttl_ms", ttl_ms)
            .fact("pttl", pttl_shown.as_str())
            .fact("after", reacquired_after.map_or_else(|| Fact::from("—"), Fact::from)),
    );
    Ok(report)
}

/// What one release scenario observed.
struct ReleaseOutcome {
    /// How long A's slow work ran until its lock expired.
    a_worked: Duration,
    /// The reply to A's release (`DEL`: keys deleted; compare-and-delete: 1 or 0).
    reply: i64,
    /// Did B's lock survive A's release?
    b_survived: bool,
    /// Could a third worker C then acquire while B was still working?
    c_acquired: bool,
}

/// A holds the lock (PX 200) and works past its TTL; B acquires; A "releases"; C tries.
fn release_scenario(ctx: &Ctx, tx_hash: &str, compare: bool) -> Result<ReleaseOutcome> {
    let tag = if compare { "cad" } else { "del" };
    let key = ctx.key(&format!("lock:tx-check:{tx_hash}:{tag}"));
    let short = RedisLock::new(key.clone(), SHORT_TTL);
    let long = RedisLock::new(key.clone(), LONG_TTL);
    let (mut a, mut b, mut c) = (ctx.connect()?, ctx.connect()?, ctx.connect()?);
    let lease_a = short.try_acquire(&mut a)?.ok_or_else(|| anyhow!("A could not take a fresh lock"))?;
    let a_worked = wait_until_expired(ctx, &mut a, &key)?;
    let lease_b = long.try_acquire(&mut b)?.ok_or_else(|| anyhow!("B could not take the expired lock"))?;
    let reply = if compare {
        i64::from(short.release(&mut a, &lease_a)?)
    } else {
        redis::cmd("DEL").arg(&key).query(&mut a)?
    };
    let holder: Option<String> = redis::cmd("GET").arg(&key).query(&mut b)?;
    let b_survived = holder.as_deref() == Some(lease_b.token.as_str());
    let lease_c = long.try_acquire(&mut c)?;
    if let Some(lease) = &lease_c {
        long.release(&mut c, lease)?;
    }
    long.release(&mut b, &lease_b)?;
    Ok(ReleaseOutcome { a_worked, reply, b_survived, c_acquired: lease_c.is_some() })
}

/// Releasing with a plain DEL removes whoever holds the lock now; compare-and-delete does not.
pub fn unsafe_release(ctx: &Ctx) -> Result<DemoReport> {
    let mut report = DemoReport::new("unsafe-release", Text::msg("title"));
    let tx_hash = "0x7a3f9c21d4e8b6a05f1c2e3d4b5a69788f0e1d2c3b4a5968778695a4b3c2d1e0";
    let plain = release_scenario(ctx, tx_hash, false)?;
    let safe = release_scenario(ctx, tx_hash, true)?;
    let yes_no = |b: bool| Text::msg(if b { "yes" } else { "no" });
    report.table(
        Text::msg("release").fact("ttl_ms", millis(SHORT_TTL)),
        ["a-release", "a-worked", "reply", "b-survived", "c-acquired"]
            .iter()
            .map(|h| Text::msg(&format!("release.header-{h}")))
            .collect(),
        [("release.del", &plain), ("release.compare-and-delete", &safe)]
            .iter()
            .map(|(label, o)| {
                vec![
                    Text::msg(label),
                    Text::Plain(format_duration(o.a_worked)),
                    Text::Plain(o.reply.to_string()),
                    yes_no(o.b_survived),
                    yes_no(o.c_acquired),
                ]
            })
            .collect(),
    );
    let version = ctx.version();
    report.note(
        NoteKind::Info,
        Text::msg(if version.at_least(8, 4) { "delex-available" } else { "lua-release" })
            .fact("version", version.to_string()),
    );
    let foreign = |o: &ReleaseOutcome| u64::from(!o.b_survived);
    let holds = foreign(&plain) == 1 && foreign(&safe) == 0 && plain.reply == 1 && safe.reply == 0;
    let holders = |o: &ReleaseOutcome| 1 + u64::from(o.c_acquired);
    report.claim(
        Claim::new(
            "compare-and-delete-spares-next-holder",
            "",
            format!("{} → {}", foreign(&plain), foreign(&safe)),
            holds,
        )
        .fact("deleted_del", foreign(&plain))
        .fact("holders_del", holders(&plain))
        .fact("deleted_cad", foreign(&safe))
        .fact("reply_cad", safe.reply)
        .fact("holders_cad", holders(&safe)),
    );
    Ok(report)
}

/// The protected resource: a tx-check row that records who checked a transaction and with which
/// fencing token.
const TX_CHECKS_SCHEMA: &str = "CREATE TABLE IF NOT EXISTS tx_checks (
    tx_hash TEXT PRIMARY KEY, status TEXT NOT NULL, checked_by TEXT NOT NULL, fence INTEGER NOT NULL)";

/// Write a check result. With `check_fence`, the row accepts it only if `fence` is higher than the
/// last fence it saw — in the same statement, so the check and the write are atomic. Returns whether
/// the write was applied.
fn write_tx_check(
    db: &Connection,
    tx_hash: &str,
    status: &str,
    by: &str,
    fence: u64,
    check_fence: bool,
) -> Result<bool> {
    let fence = i64::try_from(fence).context("fence out of range")?;
    let sql = if check_fence {
        "UPDATE tx_checks SET status = ?2, checked_by = ?3, fence = ?4 WHERE tx_hash = ?1 AND fence < ?4"
    } else {
        "UPDATE tx_checks SET status = ?2, checked_by = ?3, fence = ?4 WHERE tx_hash = ?1"
    };
    Ok(db.execute(sql, params![tx_hash, status, by, fence])? == 1)
}

fn tx_check_row(db: &Connection, tx_hash: &str) -> Result<(String, String, i64)> {
    Ok(db.query_row("SELECT status, checked_by, fence FROM tx_checks WHERE tx_hash = ?1", [tx_hash], |r| {
        Ok((r.get(0)?, r.get(1)?, r.get(2)?))
    })?)
}

/// What the fencing scenario counted, for one kind of resource.
#[derive(Debug, Default)]
struct FenceOutcome {
    overlaps: u64,
    stale_applied: u64,
    stale_rejected: u64,
    /// The first transaction's row at the end: (status, checked_by, fence).
    final_row: Option<(String, String, i64)>,
    fences: Vec<(u64, u64)>,
}

/// For each transaction: A takes the lock with a fence, pauses past the TTL; B takes it (higher
/// fence) and records its result; A wakes up and writes its stale result.
fn fencing_scenario(ctx: &Ctx, db_path: &std::path::Path, check_fence: bool, rounds: usize) -> Result<FenceOutcome> {
    let (mut a, mut b, mut watch) = (ctx.connect()?, ctx.connect()?, ctx.connect()?);
    let (db_a, db_b) = (sql::open_worker(db_path, WAIT_LIMIT)?, sql::open_worker(db_path, WAIT_LIMIT)?);
    let mut out = FenceOutcome::default();
    for round in 0..rounds {
        ctx.check_interrupt()?;
        let tx_hash = format!("0x{}{}", new_id(), new_id());
        db_a.execute(
            "INSERT INTO tx_checks (tx_hash, status, checked_by, fence) VALUES (?1, 'pending', '', 0)",
            [&tx_hash],
        )?;
        let lock = RedisLock::new(ctx.key(&format!("lock:tx-check:{tx_hash}")), SHORT_TTL);
        let lease_a = lock.try_acquire_fenced(&mut a)?.ok_or_else(|| anyhow!("A could not take a fresh lock"))?;
        // A reads the chain ("pending, no receipt yet") and then stalls: a GC pause, a slow RPC.
        wait_until_expired(ctx, &mut watch, lock.key())?;
        let lease_b: Lease = lock.try_acquire_fenced(&mut b)?.ok_or_else(|| anyhow!("B could not take the lock"))?;
        out.overlaps += 1; // A still believes it holds the lock
        let (fence_a, fence_b) = (lease_a.fence.unwrap_or(0), lease_b.fence.unwrap_or(0));
        out.fences.push((fence_a, fence_b));
        ensure!(
            write_tx_check(&db_b, &tx_hash, "confirmed", "B", fence_b, check_fence)?,
            "B's fresh write was refused"
        );
        lock.release(&mut b, &lease_b)?;
        // A wakes up and writes the conclusion it reached before the pause.
        if write_tx_check(&db_a, &tx_hash, "dropped", "A", fence_a, check_fence)? {
            out.stale_applied += 1;
        } else {
            out.stale_rejected += 1;
        }
        lock.release(&mut a, &lease_a)?;
        if round == 0 {
            out.final_row = Some(tx_check_row(&db_a, &tx_hash)?);
        }
    }
    Ok(out)
}

/// Expiry during a pause lets two holders overlap; a fencing token lets the resource reject the
/// stale one.
pub fn fencing(ctx: &Ctx) -> Result<DemoReport> {
    let mut report = DemoReport::new("fencing", Text::msg("title"));
    let path = ctx.scratch.join("locks-tx-checks.db");
    sql::open_file(&path, Durability::Off)?.execute_batch(TX_CHECKS_SCHEMA)?;
    let rounds = ctx.n(3, 1);
    let plain = fencing_scenario(ctx, &path, false, rounds)?;
    let fenced = fencing_scenario(ctx, &path, true, rounds)?;
    // The row's columns as stored: data, shown as they are.
    let row_text = |o: &FenceOutcome| {
        o.final_row
            .as_ref()
            .map(|(status, by, fence)| format!("{status} ({by}, fence {fence})"))
            .unwrap_or_else(|| "—".to_string())
    };
    let fences_text = |o: &FenceOutcome| o.fences.first().map(|(a, b)| format!("{a} / {b}")).unwrap_or_default();
    let row = |label: Text, o: &FenceOutcome| {
        vec![
            label,
            Text::Plain(fences_text(o)),
            Text::Plain(o.overlaps.to_string()),
            Text::Plain(o.stale_applied.to_string()),
            Text::Plain(o.stale_rejected.to_string()),
            Text::Plain(row_text(o)),
        ]
    };
    report.table(
        Text::msg("checks").fact("rounds", rounds).fact("ttl_ms", millis(SHORT_TTL)),
        ["row", "fences", "overlaps", "applied", "rejected", "final-row"]
            .iter()
            .map(|h| Text::msg(&format!("checks.header-{h}")))
            .collect(),
        vec![row(Text::msg("checks.no-fence-check"), &plain), row("… AND fence < ?".into(), &fenced)],
    );
    report.note(NoteKind::Simulated, Text::msg("pause"));
    report.note(NoteKind::Info, Text::msg("fence-from-incr"));
    report.note(NoteKind::Caveat, Text::msg("efficiency-lock"));
    let rounds_u64 = rounds as u64;
    let holds = plain.overlaps == rounds_u64
        && fenced.overlaps == rounds_u64
        && plain.stale_applied == rounds_u64
        && fenced.stale_applied == 0
        && fenced.stale_rejected == rounds_u64
        && fenced.stale_rejected >= 1;
    report.claim(
        Claim::new(
            "fence-rejects-stale-writer",
            "",
            format!("{} → {}", plain.stale_applied, fenced.stale_applied),
            holds,
        )
        .fact("overlaps", plain.overlaps)
        .fact("rounds", rounds)
        .fact("applied_plain", plain.stale_applied)
        .fact("rejected_fenced", fenced.stale_rejected)
        .fact("applied_fenced", fenced.stale_applied),
    );
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tx_db() -> Connection {
        let db = Connection::open_in_memory().unwrap();
        db.execute_batch(TX_CHECKS_SCHEMA).unwrap();
        db.execute("INSERT INTO tx_checks VALUES ('0xabc', 'pending', '', 0)", []).unwrap();
        db
    }

    #[test]
    fn a_fenced_row_accepts_only_rising_fences() {
        let db = tx_db();
        assert!(write_tx_check(&db, "0xabc", "confirmed", "B", 34, true).unwrap());
        assert!(!write_tx_check(&db, "0xabc", "dropped", "A", 33, true).unwrap(), "stale fence accepted");
        assert!(!write_tx_check(&db, "0xabc", "again", "B", 34, true).unwrap(), "equal fence accepted");
        assert_eq!(tx_check_row(&db, "0xabc").unwrap(), ("confirmed".into(), "B".into(), 34));
        assert!(write_tx_check(&db, "0xabc", "final", "C", 35, true).unwrap());
    }

    #[test]
    fn an_unfenced_row_takes_the_stale_write() {
        let db = tx_db();
        assert!(write_tx_check(&db, "0xabc", "confirmed", "B", 34, false).unwrap());
        assert!(write_tx_check(&db, "0xabc", "dropped", "A", 33, false).unwrap());
        assert_eq!(tx_check_row(&db, "0xabc").unwrap(), ("dropped".into(), "A".into(), 33));
    }

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
