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
use crate::measure::{Backend, Claim, format_count};
use crate::server::{PrivateServer, TracedConnection};
use crate::sql::{self, Durability};
use crate::text::Text;

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
    config: Text,
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
    Ok(server.traced_connection(&ctx.trace, IO_TIMEOUT)?)
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
    let mut report = DemoReport::new("crash-durability", Text::msg("title"));

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
            .op("set-no-persistence", "SET --appendonly no", Backend::Redis, || {
                write_one(ctx, &none_con, "none", &none_n)
            })
            .one_round_trip()
            .op("set-aof-everysec", "SET appendfsync everysec", Backend::Redis, || {
                write_one(ctx, &everysec_con, "everysec", &everysec_n)
            })
            .op("set-aof-always", "SET appendfsync always", Backend::Redis, || {
                write_one(ctx, &always_con, "always", &always_n)
            })
            .one_disk_sync()
            .op("sqlite-commit", "SQLite INSERT", Backend::Sqlite, || {
                insert.execute([VALUE])?;
                sqlite_n.set(sqlite_n.get() + 1);
                Ok(())
            })
            .one_disk_sync()
            .run()?,
    );
    report.compare("everysec-vs-always", group.get("set-aof-everysec"), group.get("set-aof-always"))?;
    report.compare("always-vs-sqlite-commit", group.get("set-aof-always"), group.get("sqlite-commit"))?;
    let postponed = aof_buffer_after_writes(&mut everysec_con.borrow_mut())?;
    // SQLite's "crash" first, while its connection is still open.
    let sqlite = Outcome {
        config: Text::msg("outcomes.sqlite"),
        acked: sqlite_n.get(),
        survived: sqlite_rows_after_crash(ctx.scratch)?,
    };
    drop(insert);
    drop(db);
    drop((none_con, everysec_con, always_con));
    ctx.check_interrupt()?;

    let keys = keys_written(ctx, "none", &none_n);
    let none = Outcome {
        config: Text::msg("outcomes.none"),
        acked: keys.len() as u64,
        survived: crash_and_count(ctx, &mut none_server, &keys)?,
    };
    drop(none_server);
    let keys = keys_written(ctx, "everysec", &everysec_n);
    let everysec = Outcome {
        config: Text::msg("outcomes.everysec"),
        acked: keys.len() as u64,
        survived: crash_and_count(ctx, &mut everysec_server, &keys)?,
    };
    drop(everysec_server);
    let keys = keys_written(ctx, "always", &always_n);
    let always = Outcome {
        config: Text::msg("outcomes.always"),
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
        config: Text::msg("outcomes.rdb")
            .fact("before", BEFORE_SNAPSHOT)
            .fact("writes", BEFORE_SNAPSHOT + AFTER_SNAPSHOT),
        acked: keys.len() as u64,
        survived,
    };
    ctx.check_interrupt()?;

    let outcomes: Vec<Vec<Text>> = [&none, &rdb, &everysec, &always, &sqlite]
        .iter()
        .map(|o| {
            let pct = if o.acked == 0 { 0.0 } else { 100.0 * o.lost() as f64 / o.acked as f64 };
            vec![
                o.config.clone(),
                format_count(o.acked).into(),
                format_count(o.survived).into(),
                format!("{} ({pct:.0}%)", format_count(o.lost())).into(),
            ]
        })
        .collect();
    report.table(Text::msg("outcomes"), &["configuration", "acknowledged", "found", "lost"], outcomes);

    let lost = |o: &Outcome| format!("{} / {}", format_count(o.lost()), format_count(o.acked));
    let counts =
        |claim: Claim, o: &Outcome| claim.fact("lost", o.lost()).fact("acked", o.acked).fact("survived", o.survived);
    let c_none =
        counts(Claim::new("no-persistence-loses-all", "", lost(&none), none.acked > 0 && none.survived == 0), &none);
    let c_rdb = counts(
        Claim::new(
            "rdb-keeps-the-snapshot",
            "",
            lost(&rdb),
            rdb.survived == BEFORE_SNAPSHOT && rdb.lost() == AFTER_SNAPSHOT,
        ),
        &rdb,
    )
    .fact("before", BEFORE_SNAPSHOT)
    .fact("after", AFTER_SNAPSHOT);
    let c_everysec = counts(
        Claim::new("everysec-survives-process-crash", "", lost(&everysec), everysec.acked > 0 && everysec.lost() == 0),
        &everysec,
    );
    let c_always = counts(
        Claim::new("always-survives-process-crash", "", lost(&always), always.acked > 0 && always.lost() == 0),
        &always,
    );
    let c_sqlite = counts(
        Claim::new("sqlite-commits-survive", "", lost(&sqlite), sqlite.acked > 0 && sqlite.lost() == 0),
        &sqlite,
    );
    for claim in [c_none, c_rdb, c_everysec, c_always, c_sqlite] {
        report.claim(claim);
    }

    report.note(NoteKind::Caveat, Text::msg("process-not-machine"));
    if postponed > 0 {
        report.note(NoteKind::Caveat, Text::msg("aof-buffer").fact("bytes", postponed));
    }
    report.note(NoteKind::Simulated, Text::msg("sqlite-crash-simulated"));
    report.note(
        NoteKind::Info,
        Text::msg("directories").fact("fs", dir_fs.as_str()).fact("scratch", ctx.scratch.display().to_string()),
    );
    if sql::is_memory_filesystem(&dir_fs) {
        report.note(NoteKind::Caveat, Text::msg("tmpfs"));
    }
    Ok(report)
}
