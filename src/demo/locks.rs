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

use self::lock::{Lease, RedisLock, new_token};
use super::{Ctx, DemoReport, NoteKind};
use crate::i18n::Lang;
use crate::measure::{Backend, Claim, format_count, format_duration, format_ratio};
use crate::sql::{self, Durability};

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

    fn label(self, ctx: &Ctx) -> &'static str {
        match self {
            Guard::RedisNone => ctx.tr("Redis, no lock", "Redis，不加锁"),
            Guard::RedisLock => ctx.tr("Redis, SET NX PX lock", "Redis，SET NX PX 锁"),
            Guard::RedisIncrby => ctx.tr("Redis INCRBY (no read)", "Redis INCRBY（不读）"),
            Guard::SqlAutocommit => ctx.tr("SQLite, separate statements", "SQLite，语句各自提交"),
            Guard::SqlImmediate => ctx.tr("SQLite, BEGIN IMMEDIATE", "SQLite，BEGIN IMMEDIATE"),
        }
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
fn race_row(ctx: &Ctx, guard: Guard, r: &RaceResult) -> Vec<String> {
    let retries = match guard {
        Guard::RedisLock => format_count(r.retries),
        _ => "—".to_string(),
    };
    vec![
        guard.label(ctx).to_string(),
        format_count(r.final_balance),
        format_count(r.lost()),
        format_duration(r.elapsed),
        format_count(r.per_sec().round() as u64),
        retries,
    ]
}

fn race_headers<'a>(ctx: &'a Ctx) -> [&'a str; 6] {
    [
        ctx.tr("strategy", "做法"),
        ctx.tr("final balance", "最终余额"),
        ctx.tr("lost updates", "丢失的更新"),
        ctx.tr("wall time", "总耗时"),
        ctx.tr("increments/s", "每秒加几次"),
        ctx.tr("failed lock tries", "抢锁失败次数"),
    ]
}

fn pause_note(ctx: &Ctx) -> String {
    match ctx.lang {
        Lang::En => format!(
            "every worker pauses {} µs between its read and its write, standing in for the work in between (a price lookup, a chain RPC); it makes the race window real",
            WORK_PAUSE.as_micros()
        ),
        Lang::Zh => format!(
            "每个 worker 在读和写之间暂停 {} 微秒，代表中间的业务处理（查价格、调链上 RPC），让竞态窗口真实存在",
            WORK_PAUSE.as_micros()
        ),
    }
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
    let mut report = DemoReport::new(
        "lost-updates",
        ctx.tr(
            "Lost updates: K workers, one balance, read-modify-write",
            "丢失更新：K 个 worker 同时对一个余额做读-改-写",
        ),
    );
    let (workers, steps) = (ctx.n(8, 4), ctx.n(250, 40));
    report.note(NoteKind::Simulated, pause_note(ctx));
    let guards = [Guard::RedisNone, Guard::RedisLock, Guard::RedisIncrby];
    let mut results = Vec::new();
    for guard in guards {
        results.push(redis_race(ctx, guard, workers, steps)?);
    }
    let [none, locked, incrby] = [results[0], results[1], results[2]];
    report.finding(
        match ctx.lang {
            Lang::En => format!(
                "{workers} workers × {steps} increments (GET, work, SET) = {} on balance:user:{USER_ID}, released together",
                format_count(none.expected)
            ),
            Lang::Zh => format!(
                "{workers} 个 worker × 每个 {steps} 次加一（GET、处理、SET）= 共 {} 次，作用于 balance:user:{USER_ID}，同时开始",
                format_count(none.expected)
            ),
        },
        &race_headers(ctx),
        guards.iter().zip(&results).map(|(g, r)| race_row(ctx, *g, r)).collect(),
    );
    if locked.expired > 0 {
        report.note(
            NoteKind::Caveat,
            match ctx.lang {
                Lang::En => format!(
                    "{} lock(s) expired before their holder released them: the machine stalled for longer than the {} s TTL.",
                    locked.expired,
                    LONG_TTL.as_secs()
                ),
                Lang::Zh => format!(
                    "有 {} 把锁在持有者释放之前就过期了：机器卡顿超过了 {} 秒的 TTL。",
                    locked.expired,
                    LONG_TTL.as_secs()
                ),
            },
        );
    }
    report.note(
        NoteKind::Info,
        ctx.tr(
            "The lock makes the workers take turns, so it costs throughput; for a plain counter INCRBY needs no lock at all. A lock is for read-modify-write that cannot be one command: read the balance, call the chain, then write.",
            "锁让 worker 排队执行，吞吐会下降；单纯的计数器用 INCRBY 就够了，根本不需要锁。锁用在无法合成一条命令的读-改-写上：读余额、调用链上接口、再写回。",
        ),
    );
    let holds = none.lost() > 0 && locked.lost() == 0 && incrby.lost() == 0;
    let text = match ctx.lang {
        Lang::En => format!(
            "Without a lock {workers} workers lost {} of {} updates; with SET NX PX + compare-and-delete they lost {} (INCRBY: {})",
            format_count(none.lost()),
            format_count(none.expected),
            locked.lost(),
            incrby.lost()
        ),
        Lang::Zh => format!(
            "不加锁时 {workers} 个 worker 在 {} 次更新中丢失 {} 次；使用 SET NX PX + 比较后删除 时丢失 {} 次（INCRBY：{} 次）",
            format_count(none.expected),
            format_count(none.lost()),
            locked.lost(),
            incrby.lost()
        ),
    };
    report.claim(Claim::new("lock-prevents-lost-updates", text, format!("{} → {}", none.lost(), locked.lost()), holds));
    Ok(report)
}

/// A worker's own connection to the shared SQLite file: it waits up to `WAIT_LIMIT` for a lock.
fn open_sql_worker(path: &std::path::Path) -> Result<Connection> {
    let con = Connection::open(path).with_context(|| format!("opening SQLite file {}", path.display()))?;
    con.busy_timeout(WAIT_LIMIT).context("setting busy_timeout")?;
    con.pragma_update(None, "synchronous", "OFF").context("setting synchronous")?;
    Ok(con)
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
    let con = open_sql_worker(path)?;
    con.execute("INSERT OR REPLACE INTO balances (user_id, balance) VALUES (?1, 0)", [USER_ID])?;
    let (_, elapsed) = run_together(
        workers,
        |_| open_sql_worker(path),
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
    let mut report = DemoReport::new(
        "sql-serialise",
        ctx.tr("The SQL way: a transaction that takes the write lock up front", "SQL 的做法：一开始就拿写锁的事务"),
    );
    let path = ctx.scratch.join("locks-balances.db");
    let setup = sql::open_file(&path, Durability::Off)?;
    setup.execute_batch(
        "CREATE TABLE IF NOT EXISTS balances (user_id INTEGER PRIMARY KEY, balance INTEGER NOT NULL);",
    )?;
    let (workers, steps) = (ctx.n(8, 4), ctx.n(100, 40));
    report.note(NoteKind::Simulated, pause_note(ctx));
    let guards = [Guard::SqlAutocommit, Guard::SqlImmediate];
    let mut results = Vec::new();
    for guard in guards {
        results.push(sql_race(ctx, &path, guard, workers, steps)?);
    }
    let redis_locked = redis_race(ctx, Guard::RedisLock, workers, steps)?;
    let [auto, immediate] = [results[0], results[1]];
    let mut rows: Vec<Vec<String>> = guards.iter().zip(&results).map(|(g, r)| race_row(ctx, *g, r)).collect();
    rows.push(race_row(ctx, Guard::RedisLock, &redis_locked));
    report.finding(
        match ctx.lang {
            Lang::En => format!(
                "{workers} threads × {steps} increments (SELECT, work, UPDATE) = {} on one row of a SQLite file (WAL, busy_timeout {} s); the Redis lock on the same job for reference",
                format_count(auto.expected),
                WAIT_LIMIT.as_secs()
            ),
            Lang::Zh => format!(
                "{workers} 个线程 × 每个 {steps} 次加一（SELECT、处理、UPDATE）= 共 {} 次，作用于 SQLite 文件中的同一行（WAL，busy_timeout {} 秒）；同样任务下的 Redis 锁作为参照",
                format_count(auto.expected),
                WAIT_LIMIT.as_secs()
            ),
        },
        &race_headers(ctx),
        rows,
    );

    // One guarded increment, uncontended, no pause: what the serialisation itself costs.
    let mut con = ctx.connect()?;
    let key = ctx.key(&format!("balance:timed:user:{USER_ID}"));
    let lock = RedisLock::new(ctx.key(&format!("lock:balance:timed:user:{USER_ID}")), LONG_TTL);
    let mut db = open_sql_worker(&path)?;
    // The two cycles take turns in rounds, each on its own connection.
    let group = report.measured_group(
        ctx.sampler
            .group()
            .op(
                "redis-lock-cycle",
                ctx.tr(
                    "Redis: SET NX PX, GET, SET, release (4 round trips)",
                    "Redis：SET NX PX、GET、SET、释放（4 次往返）",
                ),
                Backend::Redis,
                || {
                    let lease = lock.try_acquire(&mut con)?.ok_or_else(|| anyhow!("an uncontended lock was busy"))?;
                    redis_read_modify_write(&mut con, &key, Duration::ZERO)?;
                    ensure!(lock.release(&mut con, &lease)?, "the lock expired during one increment");
                    Ok(())
                },
            )
            .op(
                "sqlite-immediate-tx",
                ctx.tr(
                    "SQLite: BEGIN IMMEDIATE, SELECT, UPDATE, COMMIT (file)",
                    "SQLite：BEGIN IMMEDIATE、SELECT、UPDATE、COMMIT（文件库）",
                ),
                Backend::Sqlite,
                || sql_increment(&mut db, Guard::SqlImmediate, Duration::ZERO),
            )
            .run()?,
    );
    let (redis_cycle, sql_tx) = (group.get("redis-lock-cycle"), group.get("sqlite-immediate-tx"));
    let cmp = report.compare("sqlite-tx-vs-redis-lock-cycle", sql_tx, redis_cycle)?;
    let text = match (ctx.lang, cmp.ratio >= 1.0) {
        (Lang::En, true) => format!(
            "Honestly: one in-process SQLite transaction ({}) beat the Redis lock cycle ({}) by {}. Both skip the disk sync here (synchronous=OFF; Redis without AOF fsync).",
            format_duration(sql_tx.p50()),
            format_duration(redis_cycle.p50()),
            format_ratio(cmp.ratio)
        ),
        (Lang::En, false) => format!(
            "The Redis lock cycle ({}) beat one SQLite transaction ({}) by {}. Both skip the disk sync here (synchronous=OFF; Redis without AOF fsync).",
            format_duration(redis_cycle.p50()),
            format_duration(sql_tx.p50()),
            format_ratio(1.0 / cmp.ratio)
        ),
        (Lang::Zh, true) => format!(
            "实话实说：进程内的一次 SQLite 事务（{}）比 Redis 加锁一轮（{}）快 {}。两边都没有等磁盘同步（synchronous=OFF；Redis 未开启 AOF fsync）。",
            format_duration(sql_tx.p50()),
            format_duration(redis_cycle.p50()),
            format_ratio(cmp.ratio)
        ),
        (Lang::Zh, false) => format!(
            "Redis 加锁一轮（{}）比一次 SQLite 事务（{}）快 {}。两边都没有等磁盘同步（synchronous=OFF；Redis 未开启 AOF fsync）。",
            format_duration(redis_cycle.p50()),
            format_duration(sql_tx.p50()),
            format_ratio(1.0 / cmp.ratio)
        ),
    };
    // Four round trips against an in-process transaction without fsync: SQLite should win clearly;
    // the interval decides, and the text follows the measured direction.
    report.claim(Claim::ratio_above("in-process-sqlite-tx-beats-lock-cycle", text, &cmp, 1.0));
    report.note(
        NoteKind::Info,
        ctx.tr(
            "Which fits: a database lock serialises only work inside that database — use it when the read and the write are both rows there. A Redis lock coordinates processes whose work happens elsewhere: calling a chain RPC, running a cron job on one of N nodes.",
            "怎么选：数据库锁只能串行化该数据库内部的操作——读和写都是库里的行时就用它。Redis 锁用来协调多个进程，而它们的工作发生在别处：调用链上 RPC、在 N 个节点中只让一个跑定时任务。",
        ),
    );
    report.note(
        NoteKind::Caveat,
        ctx.tr(
            "A plain BEGIN (DEFERRED) starts as a reader: when two such transactions both try to write, SQLite refuses one with SQLITE_BUSY instead of waiting, and the application must retry. IMMEDIATE takes the write lock at BEGIN, and the busy_timeout makes the others wait there. For a bare counter, UPDATE … SET balance = balance + 1 needs neither.",
            "普通的 BEGIN（DEFERRED）以读者身份开始：两个这样的事务都想写时，SQLite 会直接用 SQLITE_BUSY 拒绝其中一个而不是等待，应用只能重试。IMMEDIATE 在 BEGIN 时就拿写锁，配合 busy_timeout 让其他事务在那里等待。如果只是计数器，UPDATE … SET balance = balance + 1 两者都不需要。",
        ),
    );
    let holds = auto.lost() > 0 && immediate.lost() == 0;
    let text = match ctx.lang {
        Lang::En => format!(
            "On SQLite, separate SELECT and UPDATE statements lost {} of {} updates; inside BEGIN IMMEDIATE they lost {}",
            format_count(auto.lost()),
            format_count(auto.expected),
            immediate.lost()
        ),
        Lang::Zh => format!(
            "在 SQLite 上，SELECT 和 UPDATE 各自提交时 {} 次更新丢失 {} 次；放进 BEGIN IMMEDIATE 后丢失 {} 次",
            format_count(auto.expected),
            format_count(auto.lost()),
            immediate.lost()
        ),
    };
    report.claim(Claim::new(
        "immediate-tx-prevents-lost-updates",
        text,
        format!("{} → {}", auto.lost(), immediate.lost()),
        holds,
    ));
    Ok(report)
}

/// Poll PTTL until `key` is gone (its lock expired); how long that took.
fn wait_until_expired(ctx: &Ctx, con: &mut impl ConnectionLike, key: &str) -> Result<Duration> {
    let start = Instant::now();
    loop {
        ctx.check_interrupt()?;
        let pttl: i64 = redis::cmd("PTTL").arg(key).query(con)?;
        if pttl == -2 {
            return Ok(start.elapsed());
        }
        ensure!(pttl != -1, "{key} has no TTL, so it will never expire");
        ensure!(start.elapsed() < WAIT_LIMIT, "{key} did not expire within {} s", WAIT_LIMIT.as_secs());
        thread::sleep(Duration::from_millis(pttl.clamp(1, 10) as u64));
    }
}

/// The notes' SETNX-then-EXPIRE: a crash between the two leaves a lock that never expires.
/// `SET NX PX` sets both in one command.
pub fn crash_gap(ctx: &Ctx) -> Result<DemoReport> {
    let mut report = DemoReport::new(
        "crash-gap",
        ctx.tr(
            "SETNX then EXPIRE: the crash gap, and SET NX PX closing it",
            "先 SETNX 再 EXPIRE：崩溃间隙，以及 SET NX PX 如何消除它",
        ),
    );
    let ttl_ms = lock::ttl_millis(SHORT_TTL);
    let window = SHORT_TTL * 2;

    // The notes' way. Client A wins SETNX and dies before it can send EXPIRE.
    let naive_key = ctx.key(&format!("lock:job:{JOB}:setnx"));
    {
        let mut a = ctx.connect()?;
        let won: i64 = redis::cmd("SETNX").arg(&naive_key).arg(new_token()).query(&mut a)?;
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
        let won: i64 = redis::cmd("SETNX").arg(&naive_key).arg(new_token()).query(&mut b)?;
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
    let pttl: i64 = redis::cmd("PTTL").arg(safe.key()).query(&mut b)?;
    let refused_while_held = safe.try_acquire(&mut b)?.is_none();
    let pttl_text =
        if pttl == -2 { ctx.tr("-2 (already expired)", "-2（已过期）").to_string() } else { format!("{pttl} ms") };
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

    let window_text = format_duration(window);
    report.finding(
        ctx.tr("Client A takes the lock and crashes; client B wants it", "客户端 A 拿到锁后崩溃；客户端 B 想拿锁"),
        &[
            ctx.tr("step", "步骤"),
            ctx.tr("the notes: SETNX, then EXPIRE", "笔记的做法：先 SETNX，再 EXPIRE"),
            ctx.tr("SET key token NX PX", "SET key token NX PX"),
        ],
        vec![
            vec![
                ctx.tr("A acquires", "A 加锁").to_string(),
                "SETNX → 1".to_string(),
                format!("SET … NX PX {ttl_ms} → OK"),
            ],
            vec![
                ctx.tr("A crashes before its next command", "A 在下一条命令前崩溃").to_string(),
                ctx.tr("EXPIRE never sent", "EXPIRE 没有发出").to_string(),
                ctx.tr("nothing was left to send", "没有剩下要发的命令").to_string(),
            ],
            vec![
                ctx.tr("B reads the TTL", "B 查看 TTL").to_string(),
                format!("TTL → {naive_ttl}"),
                format!("PTTL → {pttl_text}"),
            ],
            vec![
                ctx.tr("B tries to acquire", "B 尝试加锁").to_string(),
                match ctx.lang {
                    Lang::En => format!("won {naive_wins} of {tries} tries in {window_text}"),
                    Lang::Zh => format!("{window_text} 内尝试 {tries} 次，成功 {naive_wins} 次"),
                },
                match (ctx.lang, reacquired_after) {
                    (Lang::En, Some(d)) => format!(
                        "{}won after {} ({safe_tries} tries)",
                        if refused_while_held { "nil while held; " } else { "" },
                        format_duration(d)
                    ),
                    (Lang::Zh, Some(d)) => format!(
                        "{}{} 后成功（尝试 {safe_tries} 次）",
                        if refused_while_held { "持有期间返回 nil；" } else { "" },
                        format_duration(d)
                    ),
                    (Lang::En, None) => "never won".to_string(),
                    (Lang::Zh, None) => "始终未成功".to_string(),
                },
            ],
            vec![
                ctx.tr("TTL afterwards", "之后的 TTL").to_string(),
                format!("TTL → {naive_ttl_after}"),
                "—".to_string(),
            ],
        ],
    );
    report.note(
        NoteKind::Info,
        ctx.tr(
            "SETNX is deprecated since Redis 2.6.12; its docs now discourage the SETNX locking pattern. SET key value NX PX ms has done both steps atomically since then.",
            "SETNX 自 Redis 2.6.12 起已被标记为弃用，文档也不再推荐用 SETNX 实现锁。从那时起，SET key value NX PX 毫秒数 就能一步原子地完成这两件事。",
        ),
    );
    let naive_holds = naive_ttl == -1 && naive_ttl_after == -1 && naive_wins == 0 && tries > 0;
    let naive_text = match ctx.lang {
        Lang::En => format!(
            "A client that crashed between SETNX and EXPIRE left the lock with TTL {naive_ttl} (no expiry): the next client won it {naive_wins} times in {tries} tries over {window_text}, and would wait forever"
        ),
        Lang::Zh => format!(
            "在 SETNX 和 EXPIRE 之间崩溃的客户端留下一把 TTL 为 {naive_ttl}（永不过期）的锁：下一个客户端在 {window_text} 内尝试 {tries} 次，成功 {naive_wins} 次，会一直等下去"
        ),
    };
    report.claim(Claim::new(
        "setnx-crash-leaves-lock-forever",
        naive_text,
        format!("TTL {naive_ttl}, {naive_wins}/{tries}"),
        naive_holds,
    ));
    let ttl_i64 = i64::try_from(ttl_ms).unwrap_or(i64::MAX);
    // The point is that the lock carries an expiry (not -1) and frees itself; the nil reply while it
    // is held is shown in the table but not required, since a stalled machine could miss the window.
    let safe_holds = pttl != -1 && pttl <= ttl_i64 && reacquired_after.is_some();
    let after = reacquired_after.map(format_duration).unwrap_or_else(|| "—".to_string());
    let safe_text = match ctx.lang {
        Lang::En => format!(
            "With SET NX PX {ttl_ms} the crashed client's lock had PTTL {pttl_text}, so it expired on its own: the next client won it {after} after the first acquisition"
        ),
        Lang::Zh => format!(
            "使用 SET NX PX {ttl_ms} 时，崩溃客户端留下的锁 PTTL 为 {pttl_text}，会自行过期：第一次加锁 {after} 后下一个客户端拿到了锁"
        ),
    };
    report.claim(Claim::new("set-nx-px-lock-expires", safe_text, format!("PTTL {pttl_text}, {after}"), safe_holds));
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
    let mut report = DemoReport::new(
        "unsafe-release",
        ctx.tr("Releasing a lock that is no longer yours", "释放一把已经不属于你的锁"),
    );
    let tx_hash = "0x7a3f9c21d4e8b6a05f1c2e3d4b5a69788f0e1d2c3b4a5968778695a4b3c2d1e0";
    let plain = release_scenario(ctx, tx_hash, false)?;
    let safe = release_scenario(ctx, tx_hash, true)?;
    let yes_no = |b: bool| if b { ctx.tr("yes", "是") } else { ctx.tr("no", "否") }.to_string();
    let ttl_ms = lock::ttl_millis(SHORT_TTL);
    report.finding(
        match ctx.lang {
            Lang::En => format!(
                "A holds lock:tx-check:{{hash}} with PX {ttl_ms} and works past it; B takes the lock; then A releases"
            ),
            Lang::Zh => format!("A 以 PX {ttl_ms} 持有 lock:tx-check:{{hash}}，处理超时；B 拿到锁；然后 A 释放"),
        },
        &[
            ctx.tr("A's release", "A 的释放方式"),
            ctx.tr("A worked for", "A 的处理时长"),
            ctx.tr("reply", "返回值"),
            ctx.tr("B's lock still there", "B 的锁还在"),
            ctx.tr("C could take it too", "C 也能拿到锁"),
        ],
        [(ctx.tr("DEL key", "DEL key"), &plain), (ctx.tr("compare-and-delete (Lua)", "比较后删除（Lua）"), &safe)]
            .iter()
            .map(|(label, o)| {
                vec![
                    label.to_string(),
                    format_duration(o.a_worked),
                    o.reply.to_string(),
                    yes_no(o.b_survived),
                    yes_no(o.c_acquired),
                ]
            })
            .collect(),
    );
    let version = ctx.version();
    report.note(
        NoteKind::Info,
        if version.at_least(8, 4) {
            match ctx.lang {
                Lang::En => format!(
                    "This server ({version}) also has DELEX key IFEQ token (Redis 8.4+): the same compare-and-delete as one command. The Lua script works on every version."
                ),
                Lang::Zh => format!(
                    "这台服务器（{version}）还支持 DELEX key IFEQ token（Redis 8.4+）：一条命令完成同样的比较后删除。Lua 脚本在所有版本上都能用。"
                ),
            }
        } else {
            match ctx.lang {
                Lang::En => format!(
                    "Redis {version} has no DELEX … IFEQ (that arrived in 8.4), so the release is a Lua script (EVALSHA): GET, compare with our token, DEL — atomically, because a script runs alone. A GET then DEL from the client would race again."
                ),
                Lang::Zh => format!(
                    "Redis {version} 没有 DELEX … IFEQ（8.4 才加入），所以释放用 Lua 脚本（EVALSHA）：GET、与自己的令牌比较、DEL——脚本执行期间不会插入其他命令，因此是原子的。客户端先 GET 再 DEL 仍然会有竞态。"
                ),
            }
        },
    );
    let foreign = |o: &ReleaseOutcome| u64::from(!o.b_survived);
    let holds = foreign(&plain) == 1 && foreign(&safe) == 0 && plain.reply == 1 && safe.reply == 0;
    let holders = |o: &ReleaseOutcome| 1 + u64::from(o.c_acquired);
    let text = match ctx.lang {
        Lang::En => format!(
            "After A's lock expired and B took it, A's plain DEL deleted B's lock {} time(s), letting {} workers hold it at once; compare-and-delete deleted it {} times (it replied {}), and {} worker held it",
            foreign(&plain),
            holders(&plain),
            foreign(&safe),
            safe.reply,
            holders(&safe)
        ),
        Lang::Zh => format!(
            "A 的锁过期、B 拿到锁之后：A 直接 DEL 删掉了 B 的锁 {} 次，导致 {} 个 worker 同时持锁；比较后删除则删掉 {} 次（返回 {}），持锁的只有 {} 个 worker",
            foreign(&plain),
            holders(&plain),
            foreign(&safe),
            safe.reply,
            holders(&safe)
        ),
    };
    report.claim(Claim::new(
        "compare-and-delete-spares-next-holder",
        text,
        format!("{} → {}", foreign(&plain), foreign(&safe)),
        holds,
    ));
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
    let (db_a, db_b) = (open_sql_worker(db_path)?, open_sql_worker(db_path)?);
    let mut out = FenceOutcome::default();
    for round in 0..rounds {
        ctx.check_interrupt()?;
        let tx_hash = format!("0x{}{}", new_token(), new_token());
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
    let mut report = DemoReport::new(
        "fencing",
        ctx.tr(
            "The lock expired mid-work: fencing tokens stop the stale writer",
            "锁在处理途中过期：用 fencing token 挡住过期的写入者",
        ),
    );
    let path = ctx.scratch.join("locks-tx-checks.db");
    sql::open_file(&path, Durability::Off)?.execute_batch(TX_CHECKS_SCHEMA)?;
    let rounds = ctx.n(3, 1);
    let plain = fencing_scenario(ctx, &path, false, rounds)?;
    let fenced = fencing_scenario(ctx, &path, true, rounds)?;
    let row_text = |o: &FenceOutcome| {
        o.final_row
            .as_ref()
            .map(|(status, by, fence)| format!("{status} ({by}, fence {fence})"))
            .unwrap_or_else(|| "—".to_string())
    };
    let fences_text = |o: &FenceOutcome| o.fences.first().map(|(a, b)| format!("{a} / {b}")).unwrap_or_default();
    report.finding(
        match ctx.lang {
            Lang::En => format!(
                "{rounds} transaction check(s): A locks (PX {} ms) and stalls, B locks and records \"confirmed\", then A writes \"dropped\"",
                lock::ttl_millis(SHORT_TTL)
            ),
            Lang::Zh => format!(
                "检查 {rounds} 笔交易：A 加锁（PX {} 毫秒）后卡住，B 加锁并写入 \"confirmed\"，然后 A 写入 \"dropped\"",
                lock::ttl_millis(SHORT_TTL)
            ),
        },
        &[
            ctx.tr("tx_checks row", "tx_checks 行"),
            ctx.tr("fences A / B", "fencing token A / B"),
            ctx.tr("two holders at once", "同时持锁"),
            ctx.tr("stale writes applied", "过期写入被应用"),
            ctx.tr("stale writes rejected", "过期写入被拒绝"),
            ctx.tr("row at the end (1st tx)", "最终的行（第 1 笔）"),
        ],
        vec![
            vec![
                ctx.tr("no fence check", "不检查 fence").to_string(),
                fences_text(&plain),
                plain.overlaps.to_string(),
                plain.stale_applied.to_string(),
                plain.stale_rejected.to_string(),
                row_text(&plain),
            ],
            vec![
                ctx.tr("… AND fence < ?", "… AND fence < ?").to_string(),
                fences_text(&fenced),
                fenced.overlaps.to_string(),
                fenced.stale_applied.to_string(),
                fenced.stale_rejected.to_string(),
                row_text(&fenced),
            ],
        ],
    );
    report.note(
        NoteKind::Simulated,
        ctx.tr(
            "A's \"pause\" is waiting until PTTL reports its lock gone, standing in for a GC pause or a slow chain RPC",
            "A 的“卡顿”就是一直等到 PTTL 显示它的锁已消失，代表一次 GC 停顿或一次很慢的链上 RPC",
        ),
    );
    report.note(
        NoteKind::Info,
        ctx.tr(
            "The fence comes from INCR in the same Lua script as SET NX PX, so every acquisition gets a higher number. The check sits in the resource, inside the write itself (WHERE fence < ?): rows affected 0 means a stale holder. A Redis key can play the resource too, with a Lua script that compares the stored fence before it writes.",
            "fencing token 由 INCR 产生，和 SET NX PX 在同一个 Lua 脚本里，所以每次加锁拿到的号都更大。检查放在资源一侧、写操作本身之中（WHERE fence < ?）：影响行数为 0 就说明是过期的持锁者。Redis 键也可以充当这个资源，用 Lua 脚本在写入前比较已存的 fence。",
        ),
    );
    report.note(
        NoteKind::Caveat,
        ctx.tr(
            "A single-instance Redis lock is an efficiency lock: it stops double work nearly always, not always. Expiry during a pause (here), failover to a replica that never received the lock key (replication is asynchronous), or a clock jump can each let two holders in. Redlock (a majority of 5 independent masters) covers the failover case but still rests on timing assumptions that Kleppmann disputes and antirez defends; Redis's own docs say to implement fencing tokens. When correctness matters, make the resource check them.",
            "单实例 Redis 锁是“效率锁”：它几乎总能避免重复工作，但不是总能。处理途中锁过期（本例）、故障切换到一个还没收到锁键的副本（复制是异步的）、时钟跳变，都可能让两个持锁者同时存在。Redlock（5 个独立主节点取多数）能应对故障切换，但仍依赖时间假设，Kleppmann 对此提出质疑，antirez 做了回应；Redis 官方文档也建议实现 fencing token。需要正确性时，就让资源本身检查它。",
        ),
    );
    let rounds_u64 = rounds as u64;
    let holds = plain.overlaps == rounds_u64
        && fenced.overlaps == rounds_u64
        && plain.stale_applied == rounds_u64
        && fenced.stale_applied == 0
        && fenced.stale_rejected == rounds_u64
        && fenced.stale_rejected >= 1;
    let text = match ctx.lang {
        Lang::En => format!(
            "In {} of {rounds} checks the lock expired while A stalled, so two holders overlapped; without a fence check A's stale write was applied in {} of {rounds}, overwriting B's result; with WHERE fence < ? it was rejected in {} and applied in {}",
            plain.overlaps, plain.stale_applied, fenced.stale_rejected, fenced.stale_applied
        ),
        Lang::Zh => format!(
            "{rounds} 次检查中有 {} 次在 A 卡顿期间锁过期、两个持锁者重叠；没有 fencing 检查时 A 的过期写入生效 {} 次，覆盖了 B 的结果；使用 WHERE fence < ? 后被拒绝 {} 次、生效 {} 次",
            plain.overlaps, plain.stale_applied, fenced.stale_rejected, fenced.stale_applied
        ),
    };
    report.claim(Claim::new(
        "fence-rejects-stale-writer",
        text,
        format!("{} → {}", plain.stale_applied, fenced.stale_applied),
        holds,
    ));
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
                    let mut con = open_sql_worker(&path).unwrap();
                    for _ in 0..25 {
                        sql_increment(&mut con, Guard::SqlImmediate, Duration::ZERO).unwrap();
                    }
                });
            }
        });
        assert_eq!(sql_balance(&open_sql_worker(&path).unwrap()).unwrap(), 100);
    }
}
