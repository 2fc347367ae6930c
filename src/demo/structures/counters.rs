//! Counters (计数器): K workers × M increments on one key. INCR adds on the server, so the total is
//! exact; GET then SET from the client loses updates; SQL's `UPDATE … SET value = value + 1` is exact
//! too, but every increment is a transaction on a file that one writer at a time may hold.

use std::path::Path;
use std::time::Duration;

use anyhow::{Context, Result};
use redis::ConnectionLike;
use rusqlite::Connection;

use super::{open_sql_worker, per_sec, short, who_wins};
use crate::demo::{Ctx, DemoReport, NoteKind, run_together};
use crate::i18n::Lang;
use crate::measure::{Backend, Claim, format_count, format_duration, format_ratio};
use crate::sql::{self, Durability};

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

    fn label(self, ctx: &Ctx) -> &'static str {
        match self {
            Way::GetSet => ctx.tr("Redis GET, then SET +1", "Redis 先 GET 再 SET +1"),
            Way::Incr => ctx.tr("Redis INCR", "Redis INCR"),
            Way::SqlUpdate => ctx.tr("SQLite UPDATE value = value + 1", "SQLite UPDATE value = value + 1"),
        }
    }
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
    let mut report = DemoReport::new(
        "counters",
        ctx.tr(
            "Counters: K workers, one key, INCR against GET+SET and UPDATE",
            "计数器：K 个 worker 同一个键，INCR 对比 GET+SET 与 UPDATE",
        ),
    );
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
                way.label(ctx).to_string(),
                format!("{workers} × {}", format_count(r.expected / workers as u64)),
                format_count(r.final_count),
                format_count(r.lost()),
                format_duration(r.elapsed),
                format_count(per_sec(r.expected, r.elapsed)),
            ]
        })
        .collect();
    report.finding(
        match ctx.lang {
            Lang::En => format!(
                "{workers} workers, each with its own connection, add 1 to {} (Redis) or to one row of a SQLite file (WAL, synchronous=OFF, busy_timeout), released together",
                short(&ctx.key(COUNTER))
            ),
            Lang::Zh => format!(
                "{workers} 个 worker 各用自己的连接，对 {}（Redis）或 SQLite 文件中的一行（WAL，synchronous=OFF，busy_timeout）加一，同时开始",
                short(&ctx.key(COUNTER))
            ),
        },
        &[
            ctx.tr("way", "做法"),
            ctx.tr("workers × increments", "worker × 次数"),
            ctx.tr("final count", "最终计数"),
            ctx.tr("lost", "丢失"),
            ctx.tr("wall time", "总耗时"),
            ctx.tr("increments/s", "每秒加几次"),
        ],
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
            .op("incr", ctx.tr("Redis INCR (1 round trip)", "Redis INCR（1 次往返）"), Backend::Redis, || {
                redis::cmd("INCR").arg(&key).exec(&mut con)?;
                Ok(())
            })
            .one_round_trip()
            .op(
                "sqlite-update-no-sync",
                ctx.tr("SQLite UPDATE +1, 1 commit, synchronous=OFF", "SQLite UPDATE +1，每次提交，synchronous=OFF"),
                Backend::Sqlite,
                || sql_increment(&off),
            )
            .op(
                "sqlite-update-durable",
                ctx.tr("SQLite UPDATE +1, 1 commit, synchronous=FULL", "SQLite UPDATE +1，每次提交，synchronous=FULL"),
                Backend::Sqlite,
                || sql_increment(&full),
            )
            .run()?,
    );
    let (incr_one, sql_off, sql_full) =
        (group.get("incr"), group.get("sqlite-update-no-sync"), group.get("sqlite-update-durable"));
    let vs_off = report.compare("incr-vs-sqlite-update-no-sync", incr_one, sql_off)?;
    let vs_full = report.compare("incr-vs-sqlite-update-durable", incr_one, sql_full)?;

    let fs_type = sql::filesystem_type(ctx.scratch).unwrap_or_else(|| "unknown".to_string());
    report.note(
        NoteKind::Info,
        match ctx.lang {
            Lang::En => format!(
                "Honestly, one call at a time: {}. SQLite runs inside this process, so without fsync an UPDATE pays no network round trip; a durable commit (synchronous=FULL, here on {fs_type}) waits for the disk. Against the notes' MySQL on another machine, every UPDATE pays a round trip too, and a commit that flushes its log.",
                who_wins(ctx, &vs_off, incr_one, sql_off)
            ),
            Lang::Zh => format!(
                "实话实说，逐次调用时：{}。SQLite 就在本进程内，不做 fsync 的 UPDATE 没有网络往返；持久化提交（synchronous=FULL，这里的文件系统是 {fs_type}）要等磁盘。换成笔记里部署在另一台机器上的 MySQL，每次 UPDATE 同样要付一次网络往返，还要等一次刷日志的提交。",
                who_wins(ctx, &vs_off, incr_one, sql_off)
            ),
        },
    );
    if sql::is_memory_filesystem(&fs_type) {
        report.note(
            NoteKind::Caveat,
            ctx.tr(
                "The SQLite file is on a RAM filesystem, so synchronous=FULL costs almost nothing here. Set TMPDIR to a directory on a real disk to see the true cost of a durable commit.",
                "SQLite 文件位于内存文件系统上，synchronous=FULL 在这里几乎没有代价。把 TMPDIR 设为真实磁盘上的目录，才能看到持久化提交的真实代价。",
            ),
        );
    }
    let (sql_rate, incr_rate) = (per_sec(sql_r.expected, sql_r.elapsed), per_sec(incr.expected, incr.elapsed));
    let (sql_rate_s, incr_rate_s) = (format_count(sql_rate), format_count(incr_rate));
    report.note(
        NoteKind::Info,
        match (ctx.lang, sql_rate >= incr_rate) {
            (Lang::En, true) => format!(
                "Under contention, too, in-process SQLite kept up here: {sql_rate_s} increments/s against INCR's {incr_rate_s} from the same {workers} workers, because each UPDATE holds the file's write lock for microseconds and crosses no network. That changes when the writers are separate app servers: each UPDATE then travels to the database server and holds the row's lock (MySQL) until its commit, which, when durable, waits for the log flush; a hot counter row makes them all queue. Redis runs each INCR alone, in microseconds, with no lock to wait for."
            ),
            (Lang::En, false) => format!(
                "Under contention SQLite lets one writer at a time hold the file, and the others wait in busy_timeout's back-off: {sql_rate_s} increments/s against INCR's {incr_rate_s} from the same {workers} workers. MySQL locks the row instead of the file, but a hot counter row still makes every writer queue, each holding the lock until its commit. Redis runs each INCR alone, in microseconds, with no lock to wait for."
            ),
            (Lang::Zh, true) => format!(
                "有竞争时，进程内的 SQLite 在这里也跟得上：同样 {workers} 个 worker，每秒 {sql_rate_s} 次，而 INCR 每秒 {incr_rate_s} 次，因为每条 UPDATE 只持有文件写锁几微秒，而且不经过网络。写者换成多台独立的应用服务器后情况就变了：每条 UPDATE 都要发到数据库服务器，并持有该行的锁（MySQL）直到提交，而持久化提交还要等日志刷盘；热点计数器行会让所有写者排队。Redis 逐条执行 INCR，每条只要几微秒，没有锁要等。"
            ),
            (Lang::Zh, false) => format!(
                "有竞争时，SQLite 同一时刻只允许一个写者持有文件，其他写者在 busy_timeout 的退避中等待：同样 {workers} 个 worker，每秒 {sql_rate_s} 次，而 INCR 每秒 {incr_rate_s} 次。MySQL 锁的是行而不是文件，但热点计数器行仍会让所有写者排队，每个写者都要持锁到提交为止。Redis 逐条执行 INCR，每条只要几微秒，没有锁要等。"
            ),
        },
    );

    let text = match ctx.lang {
        Lang::En => format!(
            "{workers} workers × {} INCRs on one key ended at exactly {} (lost {}); GET then SET from the same {workers} workers lost {} of {} increments",
            format_count(incr_m as u64),
            format_count(incr.final_count),
            incr.lost(),
            format_count(getset.lost()),
            format_count(getset.expected)
        ),
        Lang::Zh => format!(
            "{workers} 个 worker × 每个 {} 次 INCR 作用于同一个键，最终正好是 {}（丢失 {}）；同样 {workers} 个 worker 先 GET 再 SET，{} 次加一中丢失 {} 次",
            format_count(incr_m as u64),
            format_count(incr.final_count),
            incr.lost(),
            format_count(getset.expected),
            format_count(getset.lost())
        ),
    };
    let holds = incr.lost() == 0 && incr.final_count == incr.expected && getset.lost() > 0;
    report.claim(Claim::new("incr-loses-nothing", text, format!("{} → {}", getset.lost(), incr.lost()), holds));

    let speed = vs_full.ratio;
    let text = match ctx.lang {
        Lang::En => format!(
            "SQL's UPDATE value = value + 1 is atomic too: {workers} threads × {} ended at exactly {} (lost {}). The price is a transaction per increment: {} per durable commit against {} per INCR ({})",
            format_count(sql_m as u64),
            format_count(sql_r.final_count),
            sql_r.lost(),
            format_duration(sql_full.p50()),
            format_duration(incr_one.p50()),
            if speed >= 1.0 {
                format!("INCR {} faster", format_ratio(speed))
            } else {
                format!("the commit {} faster", format_ratio(1.0 / speed))
            }
        ),
        Lang::Zh => format!(
            "SQL 的 UPDATE value = value + 1 同样是原子的：{workers} 个线程 × 每个 {} 次，最终正好是 {}（丢失 {}）。代价是每次加一都是一个事务：一次持久化提交 {}，一次 INCR {}（{}）",
            format_count(sql_m as u64),
            format_count(sql_r.final_count),
            sql_r.lost(),
            format_duration(sql_full.p50()),
            format_duration(incr_one.p50()),
            if speed >= 1.0 {
                format!("INCR 快 {}", format_ratio(speed))
            } else {
                format!("提交反而快 {}", format_ratio(1.0 / speed))
            }
        ),
    };
    report.claim(Claim::new(
        "sql-update-is-atomic",
        text,
        format!("{} / {}", format_count(sql_r.final_count), format_count(sql_r.expected)),
        sql_r.lost() == 0 && sql_r.final_count == sql_r.expected,
    ));
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
    fn lost_is_what_the_count_misses() {
        let r = Race { expected: 800, final_count: 310, elapsed: Duration::from_millis(5) };
        assert_eq!(r.lost(), 490);
        assert_eq!(Race { final_count: 800, ..r }.lost(), 0);
    }
}
