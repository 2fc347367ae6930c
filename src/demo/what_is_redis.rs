//! Lesson 1 (notes, Q1): Redis is an open-source, in-memory data-structure store. Demos: the round
//! trip every command pays (and how pipelining amortises it), one command per core type with TYPE
//! and OBJECT ENCODING, and what "in memory" buys on writes compared with durable SQL commits.

use std::cell::RefCell;

use anyhow::{Context, Result};
use redis::{Commands, InfoDict};

use super::support::short;
use super::{Ctx, DemoReport, NoteKind};
use crate::measure::{Backend, Claim};
use crate::sql::{self, Durability};
use crate::text::{Fact, Text};

/// Commands in the pipelined batch.
const PIPELINE_DEPTH: u32 = 100;

/// PING round trip, pipelining, and what INFO says about this server.
pub fn round_trip(ctx: &Ctx) -> Result<DemoReport> {
    let mut report = DemoReport::new("round-trip", Text::msg("title"));
    let mut con = ctx.connect()?;
    let info: InfoDict = redis::cmd("INFO").query(&mut con).context("INFO")?;
    let field = |name: &str| info.get::<String>(name).unwrap_or_else(|| "—".to_string());
    let maxmemory = match field("maxmemory").as_str() {
        "0" => Text::msg("maxmemory-unlimited"),
        _ => Text::Plain(field("maxmemory_human")),
    };
    // INFO field, its value, and what it tells you (the message `info.<field>`).
    let fields = [
        "redis_version",
        "used_memory_human",
        "maxmemory",
        "maxmemory_policy",
        "aof_enabled",
        "rdb_changes_since_last_save",
        "connected_clients",
    ];
    let rows = fields
        .iter()
        .map(|&name| {
            let value = if name == "maxmemory" { maxmemory.clone() } else { Text::Plain(field(name)) };
            vec![Text::from(name), value, Text::msg(&format!("info.{name}"))]
        })
        .collect();
    report.table(
        Text::msg("info"),
        vec![Text::msg("info.header-field"), Text::msg("info.header-value"), Text::msg("info.header-meaning")],
        rows,
    );

    let key = ctx.key("hello");
    let _: () = con.set(&key, "world")?;
    let mut pipe = redis::pipe();
    for _ in 0..PIPELINE_DEPTH {
        pipe.get(&key);
    }
    // PING, GET and the pipeline take turns in rounds, so a busy moment hits all three alike.
    let con = RefCell::new(con);
    let group = report.measured_group(
        ctx.sampler
            .group()
            .op("ping", "PING", Backend::Redis, || {
                redis::cmd("PING").exec(&mut *con.borrow_mut())?;
                Ok(())
            })
            .one_round_trip()
            .op("get", "GET", Backend::Redis, || {
                let _: Option<String> = con.borrow_mut().get(&key)?;
                Ok(())
            })
            .one_round_trip()
            .batch("get-pipelined", format!("{PIPELINE_DEPTH} × GET"), Backend::Redis, PIPELINE_DEPTH, || {
                let _: Vec<Option<String>> = pipe.query(&mut *con.borrow_mut())?;
                Ok(())
            })
            .run()?,
    );
    let (get, pipelined) = (group.get("get"), group.get("get-pipelined"));
    report.compare("ping-vs-get", group.get("ping"), get)?;
    // Per GET: the pipeline's share of one batch against a GET with a round trip of its own.
    let saving = report.compare("pipelined-vs-get", pipelined, get)?;
    report.claim(
        Claim::ratio_above("pipeline-amortises-round-trip", "", &saving, 2.0)
            .fact("depth", PIPELINE_DEPTH)
            .fact("per_command", pipelined.p50_per_op())
            .fact("ratio", Fact::Ratio(saving.ratio))
            .fact("get", get.p50()),
    );
    report.note(NoteKind::Info, Text::msg("get-is-the-trip"));
    Ok(report)
}

/// One command per core type, with what TYPE and OBJECT ENCODING report.
pub fn core_types(ctx: &Ctx) -> Result<DemoReport> {
    let mut report = DemoReport::new("core-types", Text::msg("title"));
    let mut con = ctx.connect()?;
    let token = ctx.key("token:eth:0x6982508145454ce325ddbe47a25d4ec3d2311933");
    let counter = ctx.key("stats:api_calls");
    let subs = ctx.key("ws:sub:kline:PEPE-USDT:1m");
    let queue = ctx.key("queue:tx-check");
    let clients = ctx.key("user:42:clients");
    let kline = ctx.key("kline:PEPE-USDT:1m");
    let events = ctx.key("events:trades");

    redis::cmd("SET")
        .arg(&token)
        .arg(r#"{"symbol":"PEPE","decimals":18,"price":"0.00001234"}"#)
        .arg("EX")
        .arg(2_592_000)
        .exec(&mut con)?;
    redis::cmd("INCR").arg(&counter).exec(&mut con)?;
    redis::cmd("HSET").arg(&subs).arg("client-a").arg("1732600000").arg("client-b").arg("1732600042").exec(&mut con)?;
    let _: i64 = con.rpush(&queue, &["tx:0xaa01", "tx:0xaa02", "tx:0xaa03"])?;
    let _: i64 = con.sadd(&clients, &["c-7f3a", "c-91bd"])?;
    let _: i64 = con.zadd_multiple(
        &kline,
        &[
            (1_732_600_000_000_i64, "1732600000000|1234|1240|1230|1238|5000"),
            (1_732_600_060_000, "1732600060000|1238|1239|1236|1237|4200"),
        ],
    )?;
    let _: String =
        redis::cmd("XADD").arg(&events).arg("*").arg("token").arg("PEPE").arg("side").arg("buy").query(&mut con)?;

    // (the type we wrote, its key, the command, and what the notes use it for: `use.<key name>`)
    let cases = [
        ("string", &token, format!("SET {} '{{...json...}}' EX 2592000", short(&token)), "use.token"),
        ("string", &counter, format!("INCR {}", short(&counter)), "use.counter"),
        ("hash", &subs, format!("HSET {} client-a ... client-b ...", short(&subs)), "use.subscriptions"),
        ("list", &queue, format!("RPUSH {} tx:0xaa01 ...", short(&queue)), "use.queue"),
        ("set", &clients, format!("SADD {} c-7f3a c-91bd", short(&clients)), "use.clients"),
        ("zset", &kline, format!("ZADD {} 1732600000000 ...", short(&kline)), "use.kline"),
        ("stream", &events, format!("XADD {} * token PEPE side buy", short(&events)), "use.stream"),
    ];
    let mut rows = Vec::new();
    let mut matched = 0;
    for (expected, key, command, use_in_notes) in &cases {
        let kind: String = redis::cmd("TYPE").arg(key.as_str()).query(&mut con)?;
        let encoding: String = redis::cmd("OBJECT").arg("ENCODING").arg(key.as_str()).query(&mut con)?;
        if kind == *expected {
            matched += 1;
        }
        rows.push(vec![
            Text::Plain(command.clone()),
            Text::Plain(kind),
            Text::Plain(encoding),
            Text::msg(use_in_notes),
        ]);
    }
    report.table(
        Text::msg("types"),
        vec![Text::msg("types.header-command"), "TYPE".into(), "OBJECT ENCODING".into(), Text::msg("types.header-use")],
        rows,
    );
    let ttl: i64 = con.ttl(&token)?;
    report.note(NoteKind::Info, Text::msg("ttl").fact("ttl", ttl));
    report.note(NoteKind::Info, Text::msg("encoding"));
    report.claim(
        Claim::new("type-matches-structure", "", format!("{matched}/{}", cases.len()), matched == cases.len())
            .fact("matched", matched)
            .fact("keys", cases.len()),
    );
    Ok(report)
}

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
    let aof: String = persistence.get("aof_enabled").unwrap_or_default();
    report.note(NoteKind::Caveat, Text::msg(if aof == "1" { "aof-on" } else { "aof-off" }));

    report.claim(
        Claim::ratio_above("memory-write-beats-durable-commit", "", &vs_durable, 1.0)
            .fact("redis", redis_set.p50())
            .fact("durable", full.p50())
            .fact("ratio", Fact::Ratio(vs_durable.ratio)),
    );
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
