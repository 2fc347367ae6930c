//! Durability after a crash, on private redis-servers this demo starts itself (never the learner's):
//! acknowledged writes, then `kill -9`, then a restart on the same directory, then a count of what
//! survived. No persistence, an RDB snapshot, AOF `everysec` and AOF `always`; and SQLite's
//! committed rows for comparison.

use std::cell::{Cell, RefCell};
use std::path::Path;
use std::thread;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use redis::InfoDict;

use crate::demo::{Ctx, DemoReport, NoteKind};
use crate::i18n::Lang;
use crate::measure::{Backend, Claim, format_count};
use crate::server::{PrivateServer, TracedConnection};
use crate::sql::{self, Durability};

/// Keys written before the snapshot in the RDB case.
const BEFORE_SNAPSHOT: u64 = 200;
/// Keys written after it.
const AFTER_SNAPSHOT: u64 = 100;
/// How long a killed server may take to be gone.
const EXIT_TIMEOUT: Duration = Duration::from_secs(5);
/// How long to wait for Redis to hand a postponed AOF write to the OS (it waits up to 2 s itself).
const AOF_FLUSH_TIMEOUT: Duration = Duration::from_secs(4);
const IO_TIMEOUT: Duration = Duration::from_secs(10);
const VALUE: &str = r#"{"order":"o-1","side":"buy","amount":"1250.00"}"#;

/// What one configuration kept.
struct Outcome {
    config: String,
    acked: u64,
    survived: u64,
}

impl Outcome {
    fn lost(&self) -> u64 {
        self.acked.saturating_sub(self.survived)
    }
}

fn start(args: &[&str]) -> Result<PrivateServer> {
    PrivateServer::start_with(args)
        .map_err(|e| anyhow::Error::new(e).context("the crash demo starts its own redis-server (it never kills yours)"))
}

fn connect(ctx: &Ctx, server: &PrivateServer) -> Result<TracedConnection> {
    let client = redis::Client::open(server.url())?;
    let con = client.get_connection_with_timeout(IO_TIMEOUT)?;
    con.set_read_timeout(Some(IO_TIMEOUT))?;
    con.set_write_timeout(Some(IO_TIMEOUT))?;
    Ok(TracedConnection::new(con, &ctx.trace))
}

/// `kill -9 <pid>` (SIGKILL): no chance to save anything. Then wait until the process is gone.
fn kill9(server: &mut PrivateServer) -> Result<()> {
    let pid = server.pid().to_string();
    server.kill9().with_context(|| format!("kill -9 {pid}"))?;
    let deadline = Instant::now() + EXIT_TIMEOUT;
    while !server.has_exited() {
        if Instant::now() > deadline {
            bail!("redis-server {} was still running {}s after kill -9", server.pid(), EXIT_TIMEOUT.as_secs());
        }
        thread::sleep(Duration::from_millis(10));
    }
    Ok(())
}

/// How many of `keys` exist: one pipeline of `EXISTS` per 1,000.
fn count_present(con: &mut TracedConnection, keys: &[String]) -> Result<u64> {
    let mut present = 0;
    for chunk in keys.chunks(1_000) {
        let mut pipe = redis::pipe();
        for key in chunk {
            pipe.cmd("EXISTS").arg(key);
        }
        let found: Vec<u64> = pipe.query(con)?;
        present += found.iter().sum::<u64>();
    }
    Ok(present)
}

/// Kill the server, start a new one on its directory, and count which of `keys` came back.
fn crash_and_count(ctx: &Ctx, server: &mut PrivateServer, keys: &[String]) -> Result<u64> {
    kill9(server)?;
    server.restart().map_err(|e| anyhow::Error::new(e).context("restarting the private redis-server"))?;
    let mut con = connect(ctx, server)?;
    count_present(&mut con, keys)
}

/// With `appendfsync everysec`, Redis postpones its `write()` to the AOF (for up to 2 s) while the
/// background fsync of the previous second is still running, and replies to clients anyway. Return
/// the AOF buffer's size right after the last acknowledged write, and wait until it is handed to
/// the OS.
fn aof_buffer_after_writes(con: &mut TracedConnection) -> Result<u64> {
    let read = |con: &mut TracedConnection| -> Result<u64> {
        let info: InfoDict = redis::cmd("INFO").arg("persistence").query(con)?;
        Ok(info.get::<u64>("aof_buffer_length").unwrap_or(0))
    };
    let first = read(con)?;
    let deadline = Instant::now() + AOF_FLUSH_TIMEOUT;
    while read(con)? > 0 {
        if Instant::now() > deadline {
            bail!("Redis did not write its AOF buffer within {}s", AOF_FLUSH_TIMEOUT.as_secs());
        }
        thread::sleep(Duration::from_millis(20));
    }
    Ok(first)
}

/// The SQLite side's "crash": copy the database and its write-ahead log exactly as they are now,
/// while the connection is still open (no close, no checkpoint), and count the rows a restarted
/// process would find.
fn sqlite_rows_after_crash(dir: &Path) -> Result<u64> {
    let copy = dir.join("after-crash");
    std::fs::create_dir_all(&copy)?;
    for suffix in ["", "-wal"] {
        let from = dir.join(format!("orders.db{suffix}"));
        if from.exists() {
            std::fs::copy(&from, copy.join(format!("orders.db{suffix}")))
                .with_context(|| format!("copying {}", from.display()))?;
        }
    }
    let reopened = rusqlite::Connection::open(copy.join("orders.db"))?;
    let survived: i64 = reopened.query_row("SELECT COUNT(*) FROM orders", [], |r| r.get(0))?;
    Ok(survived as u64)
}

/// One acknowledged SET on `con`, to the next key of `tag`.
fn write_one(ctx: &Ctx, con: &RefCell<TracedConnection>, tag: &str, written: &Cell<u64>) -> Result<()> {
    let key = ctx.key(&format!("order:{tag}:{}", written.get()));
    redis::cmd("SET").arg(key).arg(VALUE).exec(&mut *con.borrow_mut())?;
    written.set(written.get() + 1);
    Ok(())
}

fn keys_written(ctx: &Ctx, tag: &str, written: &Cell<u64>) -> Vec<String> {
    (0..written.get()).map(|i| ctx.key(&format!("order:{tag}:{i}"))).collect()
}

/// N acknowledged writes, `kill -9`, restart, count: per persistence setting.
pub fn crash_durability(ctx: &Ctx) -> Result<DemoReport> {
    let mut report = DemoReport::new(
        "crash-durability",
        ctx.tr("kill -9: what each persistence setting keeps", "kill -9：每种持久化配置能留下什么"),
    );

    // 1. Timed, acknowledged writes under three settings, each on a private server of its own, and
    //    SQLite commits: they take turns in rounds, so a busy moment of the disk or the CPU hits all
    //    of them alike and their costs per write can be compared.
    let mut none_server = start(&["--save", "", "--appendonly", "no"])?;
    let mut everysec_server = start(&["--appendonly", "yes", "--appendfsync", "everysec"])?;
    let mut always_server = start(&["--appendonly", "yes", "--appendfsync", "always"])?;
    let none_con = RefCell::new(connect(ctx, &none_server)?);
    let everysec_con = RefCell::new(connect(ctx, &everysec_server)?);
    let always_con = RefCell::new(connect(ctx, &always_server)?);
    let db = sql::open_file(&ctx.scratch.join("orders.db"), Durability::Full)?;
    db.execute_batch("CREATE TABLE orders (id INTEGER PRIMARY KEY, body TEXT NOT NULL)")?;
    let mut insert = db.prepare("INSERT INTO orders (body) VALUES (?1)")?;
    let (none_n, everysec_n, always_n, sqlite_n) = (Cell::new(0), Cell::new(0), Cell::new(0), Cell::new(0_u64));
    let group = report.measured_group(
        ctx.sampler
            .group()
            .op(
                "set-no-persistence",
                ctx.tr(
                    "SET, no persistence (--save \"\" --appendonly no)",
                    "SET，不持久化（--save \"\" --appendonly no）",
                ),
                Backend::Redis,
                || write_one(ctx, &none_con, "none", &none_n),
            )
            .one_round_trip()
            .op(
                "set-aof-everysec",
                ctx.tr("SET, AOF appendfsync everysec", "SET，AOF appendfsync everysec"),
                Backend::Redis,
                || write_one(ctx, &everysec_con, "everysec", &everysec_n),
            )
            .op(
                "set-aof-always",
                ctx.tr(
                    "SET, AOF appendfsync always (fsync before the reply)",
                    "SET，AOF appendfsync always（回复前先 fsync）",
                ),
                Backend::Redis,
                || write_one(ctx, &always_con, "always", &always_n),
            )
            .op(
                "sqlite-commit",
                ctx.tr(
                    "SQLite INSERT, 1 commit each (synchronous=FULL)",
                    "SQLite INSERT，每条一次提交（synchronous=FULL）",
                ),
                Backend::Sqlite,
                || {
                    insert.execute([VALUE])?;
                    sqlite_n.set(sqlite_n.get() + 1);
                    Ok(())
                },
            )
            .run()?,
    );
    report.compare("everysec-vs-always", group.get("set-aof-everysec"), group.get("set-aof-always"))?;
    report.compare("always-vs-sqlite-commit", group.get("set-aof-always"), group.get("sqlite-commit"))?;
    let postponed = aof_buffer_after_writes(&mut everysec_con.borrow_mut())?;
    // SQLite's "crash" first, while its connection is still open.
    let sqlite = Outcome {
        config: ctx.tr("SQLite, committed rows (WAL)", "SQLite，已提交的行（WAL）").to_string(),
        acked: sqlite_n.get(),
        survived: sqlite_rows_after_crash(ctx.scratch)?,
    };
    drop(insert);
    drop(db);
    drop((none_con, everysec_con, always_con));
    ctx.check_interrupt()?;

    let keys = keys_written(ctx, "none", &none_n);
    let none = Outcome {
        config: ctx.tr("Redis, no persistence", "Redis，不持久化").to_string(),
        acked: keys.len() as u64,
        survived: crash_and_count(ctx, &mut none_server, &keys)?,
    };
    drop(none_server);
    let keys = keys_written(ctx, "everysec", &everysec_n);
    let everysec = Outcome {
        config: ctx.tr("Redis, AOF appendfsync everysec", "Redis，AOF appendfsync everysec").to_string(),
        acked: keys.len() as u64,
        survived: crash_and_count(ctx, &mut everysec_server, &keys)?,
    };
    drop(everysec_server);
    let keys = keys_written(ctx, "always", &always_n);
    let always = Outcome {
        config: ctx.tr("Redis, AOF appendfsync always", "Redis，AOF appendfsync always").to_string(),
        acked: keys.len() as u64,
        survived: crash_and_count(ctx, &mut always_server, &keys)?,
    };
    let dir_fs = sql::filesystem_type(always_server.dir()).unwrap_or_else(|| "unknown".to_string());
    drop(always_server);
    ctx.check_interrupt()?;

    // 2. An RDB snapshot (SAVE) between two batches.
    let mut server = start(&["--save", "", "--appendonly", "no"])?;
    let mut con = connect(ctx, &server)?;
    let keys: Vec<String> = (0..BEFORE_SNAPSHOT + AFTER_SNAPSHOT).map(|i| ctx.key(&format!("order:rdb:{i}"))).collect();
    for key in &keys[..BEFORE_SNAPSHOT as usize] {
        redis::cmd("SET").arg(key).arg(VALUE).exec(&mut con)?;
    }
    server.admin(&["SAVE"]).context("SAVE on the private server")?;
    ctx.trace.record(&["SAVE"]);
    for key in &keys[BEFORE_SNAPSHOT as usize..] {
        redis::cmd("SET").arg(key).arg(VALUE).exec(&mut con)?;
    }
    drop(con);
    let survived = crash_and_count(ctx, &mut server, &keys)?;
    drop(server);
    let rdb = Outcome {
        config: match ctx.lang {
            Lang::En => {
                format!("Redis, RDB snapshot after {BEFORE_SNAPSHOT} of {} writes", BEFORE_SNAPSHOT + AFTER_SNAPSHOT)
            }
            Lang::Zh => format!(
                "Redis，RDB 快照（在 {} 次写入中的第 {BEFORE_SNAPSHOT} 次之后）",
                BEFORE_SNAPSHOT + AFTER_SNAPSHOT
            ),
        },
        acked: keys.len() as u64,
        survived,
    };
    ctx.check_interrupt()?;

    let outcomes: Vec<Vec<String>> = [&none, &rdb, &everysec, &always, &sqlite]
        .iter()
        .map(|o| {
            let pct = if o.acked == 0 { 0.0 } else { 100.0 * o.lost() as f64 / o.acked as f64 };
            vec![
                o.config.clone(),
                format_count(o.acked),
                format_count(o.survived),
                format!("{} ({pct:.0}%)", format_count(o.lost())),
            ]
        })
        .collect();
    report.finding(
        ctx.tr(
            "Acknowledged writes, then kill -9, then a restart on the same directory",
            "已确认的写入 → kill -9 → 在同一目录重启",
        ),
        &[
            ctx.tr("configuration", "配置"),
            ctx.tr("writes acknowledged", "已确认写入"),
            ctx.tr("found after restart", "重启后还在"),
            ctx.tr("lost", "丢失"),
        ],
        outcomes,
    );

    let lost = |o: &Outcome| format!("{} / {}", format_count(o.lost()), format_count(o.acked));
    let (c_none, c_rdb, c_everysec, c_always, c_sqlite) = match ctx.lang {
        Lang::En => (
            format!(
                "No persistence: all {} acknowledged writes were lost to kill -9; they existed only in RAM",
                format_count(none.acked)
            ),
            format!(
                "RDB: the restart loaded the snapshot, so the {BEFORE_SNAPSHOT} writes before SAVE survived and the {AFTER_SNAPSHOT} after it were lost ({} survived)",
                format_count(rdb.survived)
            ),
            format!(
                "AOF everysec: {} of {} acknowledged writes lost to a process crash: Redis had already written them to the OS, which keeps them when the process dies",
                format_count(everysec.lost()),
                format_count(everysec.acked)
            ),
            format!(
                "AOF always: {} of {} lost; each write was fsync'd before its reply, which is what the extra latency pays for",
                format_count(always.lost()),
                format_count(always.acked)
            ),
            format!(
                "SQLite: {} of {} committed rows lost: a commit is in the file (here, its write-ahead log) before it returns",
                format_count(sqlite.lost()),
                format_count(sqlite.acked)
            ),
        ),
        Lang::Zh => (
            format!("不持久化：{} 次已确认的写入被 kill -9 全部丢掉——它们只存在于内存中", format_count(none.acked)),
            format!(
                "RDB：重启时加载了快照，SAVE 之前的 {BEFORE_SNAPSHOT} 次写入保住了，之后的 {AFTER_SNAPSHOT} 次丢了（留下 {} 个）",
                format_count(rdb.survived)
            ),
            format!(
                "AOF everysec：进程崩溃丢失 {} / {} 次已确认写入：Redis 早已把它们写给操作系统，进程死了操作系统仍保留着",
                format_count(everysec.lost()),
                format_count(everysec.acked)
            ),
            format!(
                "AOF always：丢失 {} / {}；每次写入在回复前都已 fsync，多出来的延迟就是为此付出的代价",
                format_count(always.lost()),
                format_count(always.acked)
            ),
            format!(
                "SQLite：已提交的行丢失 {} / {}：提交返回之前，数据已经在文件（这里是预写日志）里了",
                format_count(sqlite.lost()),
                format_count(sqlite.acked)
            ),
        ),
    };
    report.claim(Claim::new("no-persistence-loses-all", c_none, lost(&none), none.acked > 0 && none.survived == 0));
    report.claim(Claim::new(
        "rdb-keeps-the-snapshot",
        c_rdb,
        lost(&rdb),
        rdb.survived == BEFORE_SNAPSHOT && rdb.lost() == AFTER_SNAPSHOT,
    ));
    report.claim(Claim::new(
        "everysec-survives-process-crash",
        c_everysec,
        lost(&everysec),
        everysec.acked > 0 && everysec.lost() == 0,
    ));
    report.claim(Claim::new(
        "always-survives-process-crash",
        c_always,
        lost(&always),
        always.acked > 0 && always.lost() == 0,
    ));
    report.claim(Claim::new("sqlite-commits-survive", c_sqlite, lost(&sqlite), sqlite.acked > 0 && sqlite.lost() == 0));

    report.note(
        NoteKind::Caveat,
        ctx.tr(
            "kill -9 kills the process, not the machine. everysec's \"you may lose up to 1 second\" is about an OS crash or a power cut, when data written to the OS but not yet fsync'd is lost too; a demo cannot safely pull the plug, so this one shows only the process crash. Only appendfsync always (like a durable SQL commit) survives a power cut.",
            "kill -9 杀死的是进程，不是机器。everysec 的“最多丢失 1 秒数据”指的是操作系统崩溃或断电：那时已写给操作系统但还没 fsync 的数据也会丢。演示无法安全地“拔电源”，所以这里只展示进程崩溃。只有 appendfsync always（和持久化的 SQL 提交一样）能扛住断电。",
        ),
    );
    if postponed > 0 {
        report.note(
            NoteKind::Caveat,
            match ctx.lang {
                Lang::En => format!("Right after the last acknowledged write, {postponed} bytes were still in Redis's own AOF buffer: with everysec, Redis postpones its write to the file (up to 2 s) while the previous second's fsync is still running, yet it replies to clients. A process crash at that moment loses acknowledged writes. We waited until the buffer reached the OS before the kill."),
                Lang::Zh => format!("最后一次写入得到确认时，Redis 自己的 AOF 缓冲区里还有 {postponed} 字节：在 everysec 下，如果上一秒的 fsync 还没做完，Redis 会推迟写文件（最多 2 秒），但照样回复客户端。此时进程崩溃会丢掉已确认的写入。我们等缓冲区交给操作系统之后才执行 kill。"),
            },
        );
    }
    report.note(
        NoteKind::Simulated,
        ctx.tr(
            "SQLite runs inside this process, so killing it would end the lesson: its crash is simulated by copying the database and its write-ahead log exactly as they are while the connection is still open (no close, no checkpoint), and opening the copy, which is what a restarted process finds after kill -9.",
            "SQLite 运行在本进程内，杀掉它就等于结束本课：所以它的崩溃是模拟的——在连接仍打开时（不关闭、不做检查点）把数据库文件和预写日志原样复制出来，再打开副本，这正是 kill -9 后重启的进程会看到的。",
        ),
    );
    report.note(
        NoteKind::Info,
        match ctx.lang {
            Lang::En => format!("The private servers' data directories are on {dir_fs}; the SQLite file is in {}. Each server was started by this demo on a free port, killed, and restarted on the same directory; the learner's Redis is never touched.", ctx.scratch.display()),
            Lang::Zh => format!("私有服务器的数据目录所在的文件系统为 {dir_fs}；SQLite 文件位于 {}。每台服务器都由本演示在空闲端口上启动、杀掉、再在同一目录重启；学习者自己的 Redis 完全不受影响。", ctx.scratch.display()),
        },
    );
    if sql::is_memory_filesystem(&dir_fs) {
        report.note(
            NoteKind::Caveat,
            ctx.tr(
                "That filesystem is in RAM: fsync costs nothing there, so appendfsync always and the SQLite commit look cheap here. Set TMPDIR to a directory on a disk to see their true cost.",
                "这个文件系统在内存里：fsync 不花时间，所以 appendfsync always 和 SQLite 提交在这里显得很便宜。把 TMPDIR 设为磁盘上的目录才能看到真实代价。",
            ),
        );
    }
    Ok(report)
}
