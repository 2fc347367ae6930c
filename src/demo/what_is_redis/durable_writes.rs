//! What "in memory" buys on writes: SET against SQLite commits with and without a disk sync.

use anyhow::Result;
use redis::{Commands, InfoDict};

use crate::demo::{Ctx, DemoReport, NoteKind};
use crate::measure::{Backend, Claim};
use crate::sql::{self, Durability};
use crate::text::{Fact, Text};

/// N writes to Redis (memory) against N durable SQLite commits, and SQLite without fsync / in memory.
pub fn durable_writes(ctx: &Ctx) -> Result<DemoReport> {
    let mut report = DemoReport::new("durable-writes", Text::msg("title"));
    let mut con = ctx.connect()?;
    let record = r#"{"chain":"eth","symbol":"PEPE","price":"0.00001234","volume_24h":"81234567.12"}"#;

    let schema = "CREATE TABLE IF NOT EXISTS records (id INTEGER PRIMARY KEY, body TEXT NOT NULL)";
    let full_db = sql::open_file(&ctx.scratch.join("durable-full.db"), Durability::Full)?;
    let off_db = sql::open_file(&ctx.scratch.join("durable-off.db"), Durability::Off)?;
    let memory_db = sql::open_memory()?;
    for db in [&full_db, &off_db, &memory_db] {
        db.execute(schema, [])?;
    }
    let insert = "INSERT INTO records (body) VALUES (?1)"; // autocommit: one transaction per insert
    let (mut full_insert, mut off_insert, mut memory_insert) =
        (full_db.prepare(insert)?, off_db.prepare(insert)?, memory_db.prepare(insert)?);
    let mut n = 0_u64;
    // All four take turns in rounds: a disk or CPU that is busy for a moment slows each of them.
    let group = report.measured_group(
        ctx.sampler
            .group()
            .op("redis-set", "SET", Backend::Redis, || {
                n += 1;
                let _: () = con.set(ctx.key(&format!("write:{n}")), record)?;
                Ok(())
            })
            .one_round_trip()
            .op("sqlite-durable", "SQLite synchronous=FULL", Backend::Sqlite, || {
                full_insert.execute([record])?;
                Ok(())
            })
            .one_disk_sync()
            .op("sqlite-no-sync", "SQLite synchronous=OFF", Backend::Sqlite, || {
                off_insert.execute([record])?;
                Ok(())
            })
            .op("sqlite-memory", "SQLite :memory:", Backend::Sqlite, || {
                memory_insert.execute([record])?;
                Ok(())
            })
            .run()?,
    );
    let (redis_set, full, off, memory) =
        (group.get("redis-set"), group.get("sqlite-durable"), group.get("sqlite-no-sync"), group.get("sqlite-memory"));
    let vs_durable = report.compare("redis-set-vs-durable-commit", redis_set, full)?;
    let sync_cost = report.compare("no-sync-vs-durable-commit", off, full)?;
    let in_process = report.compare("sqlite-memory-vs-redis-set", memory, redis_set)?;

    let fs_type = sql::filesystem_type(ctx.scratch).unwrap_or_else(|| "unknown".to_string());
    let dir = ctx.scratch.display().to_string();
    report.note(NoteKind::Info, Text::msg("sqlite-files").fact("dir", dir).fact("fs", fs_type.as_str()));
    if sql::is_memory_filesystem(&fs_type) {
        report.note(NoteKind::Caveat, Text::msg("tmpfs"));
    }
    let persistence: InfoDict = redis::cmd("INFO").arg("persistence").query(&mut con)?;
    let aof = persistence.get::<String>("aof_enabled").unwrap_or_default() == "1";
    // With `appendfsync always` each SET waits for its own fsync too, so the two sides both sync and the
    // claim does not apply. CONFIG GET only reads; a server or ACL that refuses it leaves the claim made.
    let fsync_always = aof && appendfsync(&mut con).as_deref() == Some("always");
    let note = match (aof, fsync_always) {
        (true, true) => "aof-always",
        (true, false) => "aof-on",
        (false, _) => "aof-off",
    };
    report.note(NoteKind::Caveat, Text::msg(note));

    if !fsync_always {
        report.claim(
            Claim::ratio_above("memory-write-beats-durable-commit", "", &vs_durable, 1.0)
                .fact("redis", redis_set.p50())
                .fact("durable", full.p50())
                .fact("ratio", Fact::Ratio(vs_durable.ratio)),
        );
    }
    report.claim(
        Claim::ratio_above("disk-sync-is-the-cost", "", &sync_cost, 2.0)
            .fact("no_sync", off.p50())
            .fact("ratio", Fact::Ratio(sync_cost.ratio)),
    );
    report.claim(
        Claim::ratio_above("in-process-sqlite-beats-round-trip", "", &in_process, 1.0)
            .fact("sqlite", memory.p50())
            .fact("redis", redis_set.p50())
            .fact("ratio", Fact::Ratio(in_process.ratio)),
    );
    Ok(report)
}

/// The server's `appendfsync` policy (`always`, `everysec` or `no`), from CONFIG GET (read-only);
/// None when the server or the ACL user refuses the command.
fn appendfsync(con: &mut impl redis::ConnectionLike) -> Option<String> {
    let pairs: Vec<String> = redis::cmd("CONFIG").arg("GET").arg("appendfsync").query(con).ok()?;
    pairs.get(1).cloned()
}
