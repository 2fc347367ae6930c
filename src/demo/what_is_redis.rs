//! Lesson 1 (notes, Q1): Redis is an open-source, in-memory data-structure store. Demos: the round
//! trip every command pays (and how pipelining amortises it), one command per core type with TYPE
//! and OBJECT ENCODING, and what "in memory" buys on writes compared with durable SQL commits.

use std::cell::RefCell;

use anyhow::{Context, Result};
use redis::{Commands, InfoDict};

use super::{Ctx, DemoReport, NoteKind};
use crate::i18n::Lang;
use crate::measure::{Backend, Claim, format_duration, format_ratio};
use crate::sql::{self, Durability};

/// Commands in the pipelined batch.
const PIPELINE_DEPTH: u32 = 100;

/// PING round trip, pipelining, and what INFO says about this server.
pub fn round_trip(ctx: &Ctx) -> Result<DemoReport> {
    let mut report =
        DemoReport::new("round-trip", ctx.tr("One round trip, and what INFO says", "一次往返，以及 INFO 告诉我们什么"));
    let mut con = ctx.connect()?;
    let info: InfoDict = redis::cmd("INFO").query(&mut con).context("INFO")?;
    let field = |name: &str| info.get::<String>(name).unwrap_or_else(|| "—".to_string());
    let maxmemory = match field("maxmemory").as_str() {
        "0" => ctx.tr("0 (no limit)", "0（不限制）").to_string(),
        _ => field("maxmemory_human"),
    };
    let rows = vec![
        vec![
            "redis_version".into(),
            field("redis_version"),
            ctx.tr(
                "server version: lessons check it before using newer commands",
                "服务端版本：课程在使用较新命令前会先检查它",
            )
            .into(),
        ],
        vec![
            "used_memory_human".into(),
            field("used_memory_human"),
            ctx.tr("all data lives in RAM: this is what it costs now", "全部数据都在内存里：这是当前占用").into(),
        ],
        vec![
            "maxmemory".into(),
            maxmemory,
            ctx.tr("the cap; past it the eviction policy decides", "内存上限；超过后由淘汰策略决定").into(),
        ],
        vec![
            "maxmemory_policy".into(),
            field("maxmemory_policy"),
            ctx.tr(
                "what happens when full: noeviction refuses writes, allkeys-lru evicts",
                "内存满时怎么办：noeviction 拒绝写入，allkeys-lru 淘汰旧键",
            )
            .into(),
        ],
        vec![
            "aof_enabled".into(),
            field("aof_enabled"),
            ctx.tr("1 = every write is also appended to a log on disk", "1 = 每次写入都会追加到磁盘上的日志").into(),
        ],
        vec![
            "rdb_changes_since_last_save".into(),
            field("rdb_changes_since_last_save"),
            ctx.tr(
                "writes not yet in a snapshot: lost if the process dies without AOF",
                "还没进快照的写入：没有 AOF 时进程一崩就丢",
            )
            .into(),
        ],
        vec![
            "connected_clients".into(),
            field("connected_clients"),
            ctx.tr("one server, many clients, one command at a time", "一个服务端，多个客户端，命令逐条执行").into(),
        ],
    ];
    report.finding(
        ctx.tr("INFO (selected fields)", "INFO（节选）"),
        &[ctx.tr("field", "字段"), ctx.tr("value", "值"), ctx.tr("what it tells you", "含义")],
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
            .op("ping", ctx.tr("PING (1 round trip)", "PING（1 次往返）"), Backend::Redis, || {
                redis::cmd("PING").exec(&mut *con.borrow_mut())?;
                Ok(())
            })
            .one_round_trip()
            .op("get", "GET", Backend::Redis, || {
                let _: Option<String> = con.borrow_mut().get(&key)?;
                Ok(())
            })
            .one_round_trip()
            .batch(
                "get-pipelined",
                format!("{PIPELINE_DEPTH} × GET, {}", ctx.tr("pipelined", "流水线")),
                Backend::Redis,
                PIPELINE_DEPTH,
                || {
                    let _: Vec<Option<String>> = pipe.query(&mut *con.borrow_mut())?;
                    Ok(())
                },
            )
            .run()?,
    );
    let (get, pipelined) = (group.get("get"), group.get("get-pipelined"));
    report.compare("ping-vs-get", group.get("ping"), get)?;
    // Per GET: the pipeline's share of one batch against a GET with a round trip of its own.
    let saving = report.compare("pipelined-vs-get", pipelined, get)?;
    report.claim(Claim::ratio_above(
        "pipeline-amortises-round-trip",
        match ctx.lang {
            Lang::En => format!(
                "The round trip dominates: {PIPELINE_DEPTH} GETs in one pipeline cost {} each, {} less than one round trip each ({})",
                format_duration(pipelined.p50_per_op()),
                format_ratio(saving.ratio),
                format_duration(get.p50())
            ),
            Lang::Zh => format!(
                "往返时间占大头：{PIPELINE_DEPTH} 个 GET 放进一条流水线，每个只要 {}，比逐个往返（{}）省 {}",
                format_duration(pipelined.p50_per_op()),
                format_duration(get.p50()),
                format_ratio(saving.ratio)
            ),
        },
        &saving,
        2.0,
    ));
    report.note(
        NoteKind::Info,
        ctx.tr(
            "A GET does almost no work inside Redis; nearly all of its time is the trip through the kernel and back. That is why MGET and pipelines matter so much.",
            "GET 在 Redis 内部几乎不花时间；它的耗时几乎全是经过内核来回的网络往返。所以 MGET 和流水线才这么重要。",
        ),
    );
    Ok(report)
}

/// One command per core type, with what TYPE and OBJECT ENCODING report.
pub fn core_types(ctx: &Ctx) -> Result<DemoReport> {
    let mut report = DemoReport::new(
        "core-types",
        ctx.tr("Six core types, as the server stores them", "六种核心类型，以及服务端如何存储它们"),
    );
    let mut con = ctx.connect()?;
    let tr = |en: &'static str, zh: &'static str| ctx.tr(en, zh).to_string();
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

    let cases = [
        (
            "string",
            &token,
            format!("SET {} '{{...json...}}' EX 2592000", short(&token)),
            tr("token cache (JSON, 30-day TTL)", "Token 缓存（JSON，30 天过期）"),
        ),
        ("string", &counter, format!("INCR {}", short(&counter)), tr("counters, rate limits", "计数器、限流")),
        (
            "hash",
            &subs,
            format!("HSET {} client-a ... client-b ...", short(&subs)),
            tr("WS subscriptions: channel → client ids", "WS 订阅：频道 → 客户端 ID"),
        ),
        (
            "list",
            &queue,
            format!("RPUSH {} tx:0xaa01 ...", short(&queue)),
            tr("queues (on-chain tx checks)", "队列（链上交易检查）"),
        ),
        (
            "set",
            &clients,
            format!("SADD {} c-7f3a c-91bd", short(&clients)),
            tr("a user's WS clients", "用户的 WS 客户端集合"),
        ),
        (
            "zset",
            &kline,
            format!("ZADD {} 1732600000000 ...", short(&kline)),
            tr("K-lines: score = open time", "K 线：分数 = 开盘时间"),
        ),
        (
            "stream",
            &events,
            format!("XADD {} * token PEPE side buy", short(&events)),
            tr("durable event log with consumer groups", "可持久的事件日志，支持消费组"),
        ),
    ];
    let mut rows = Vec::new();
    let mut matched = 0;
    for (expected, key, command, use_in_notes) in &cases {
        let kind: String = redis::cmd("TYPE").arg(key.as_str()).query(&mut con)?;
        let encoding: String = redis::cmd("OBJECT").arg("ENCODING").arg(key.as_str()).query(&mut con)?;
        if kind == *expected {
            matched += 1;
        }
        rows.push(vec![command.clone(), kind, encoding, use_in_notes.clone()]);
    }
    report.finding(
        ctx.tr("What we wrote, and what the server says it is", "我们写了什么，服务端认为它是什么"),
        &[ctx.tr("command", "命令"), "TYPE", "OBJECT ENCODING", ctx.tr("used in the notes for", "笔记中的用途")],
        rows,
    );
    let ttl: i64 = con.ttl(&token)?;
    report.note(
        NoteKind::Info,
        match ctx.lang {
            Lang::En => format!("TTL of the token key right after SET ... EX 2592000: {ttl} s. Keys expire on their own; no cleanup job."),
            Lang::Zh => format!("刚执行 SET ... EX 2592000 后，token 键的 TTL：{ttl} 秒。键会自己过期，不需要清理任务。"),
        },
    );
    report.note(
        NoteKind::Info,
        ctx.tr(
            "OBJECT ENCODING is the memory layout: small hashes and sorted sets use a compact listpack, small integers an int, and Redis switches to bigger structures as they grow.",
            "OBJECT ENCODING 是内存布局：小的哈希和有序集合用紧凑的 listpack，小整数用 int，数据变大后 Redis 自动换成更大的结构。",
        ),
    );
    report.claim(Claim::new(
        "type-matches-structure",
        match ctx.lang {
            Lang::En => format!("TYPE reports the structure we wrote for {matched} of {} keys: Redis stores data structures, not just strings", cases.len()),
            Lang::Zh => format!("{} 个键中有 {matched} 个的 TYPE 与写入的结构一致：Redis 存的是数据结构，不只是字符串", cases.len()),
        },
        format!("{matched}/{}", cases.len()),
        matched == cases.len(),
    ));
    Ok(report)
}

/// N writes to Redis (memory) against N durable SQLite commits, and SQLite without fsync / in memory.
pub fn durable_writes(ctx: &Ctx) -> Result<DemoReport> {
    let mut report =
        DemoReport::new("durable-writes", ctx.tr("Writes: RAM versus a durable commit", "写入：内存 vs 持久化提交"));
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
            .op("redis-set", ctx.tr("Redis SET (memory)", "Redis SET（内存）"), Backend::Redis, || {
                n += 1;
                let _: () = con.set(ctx.key(&format!("write:{n}")), record)?;
                Ok(())
            })
            .one_round_trip()
            .op(
                "sqlite-durable",
                ctx.tr("SQLite file, 1 commit each, synchronous=FULL", "SQLite 文件，每条一次提交，synchronous=FULL"),
                Backend::Sqlite,
                || {
                    full_insert.execute([record])?;
                    Ok(())
                },
            )
            .op(
                "sqlite-no-sync",
                ctx.tr("SQLite file, 1 commit each, synchronous=OFF", "SQLite 文件，每条一次提交，synchronous=OFF"),
                Backend::Sqlite,
                || {
                    off_insert.execute([record])?;
                    Ok(())
                },
            )
            .op(
                "sqlite-memory",
                ctx.tr("SQLite in memory (this process)", "SQLite 内存库（本进程内）"),
                Backend::Sqlite,
                || {
                    memory_insert.execute([record])?;
                    Ok(())
                },
            )
            .run()?,
    );
    let (redis_set, full, off, memory) =
        (group.get("redis-set"), group.get("sqlite-durable"), group.get("sqlite-no-sync"), group.get("sqlite-memory"));
    let vs_durable = report.compare("redis-set-vs-durable-commit", redis_set, full)?;
    let sync_cost = report.compare("no-sync-vs-durable-commit", off, full)?;
    let in_process = report.compare("sqlite-memory-vs-redis-set", memory, redis_set)?;

    let fs_type = sql::filesystem_type(ctx.scratch).unwrap_or_else(|| "unknown".to_string());
    report.note(
        NoteKind::Info,
        match ctx.lang {
            Lang::En => format!("The SQLite files live in {} on a {fs_type} filesystem.", ctx.scratch.display()),
            Lang::Zh => format!("SQLite 文件位于 {}，文件系统为 {fs_type}。", ctx.scratch.display()),
        },
    );
    if sql::is_memory_filesystem(&fs_type) {
        report.note(
            NoteKind::Caveat,
            ctx.tr(
                "This filesystem is in RAM, so fsync costs nothing here and the durable column is not really durable. Set TMPDIR to a directory on a real disk to see the true cost.",
                "这个文件系统在内存里，fsync 在这里几乎不花时间，\"持久化\"那一行并不真正持久。把 TMPDIR 设为真实磁盘上的目录才能看到真实代价。",
            ),
        );
    }
    let persistence: InfoDict = redis::cmd("INFO").arg("persistence").query(&mut con)?;
    let aof: String = persistence.get("aof_enabled").unwrap_or_default();
    report.note(
        NoteKind::Caveat,
        match (ctx.lang, aof.as_str()) {
            (Lang::En, "1") => "This Redis has AOF on: writes are appended to a log, but by default fsync'd once a second, not per write.".to_string(),
            (Lang::En, _) => "This Redis has AOF off: the writes above exist only in RAM until the next snapshot, if any. Lesson 10 measures what a crash loses.".to_string(),
            (Lang::Zh, "1") => "这个 Redis 开启了 AOF：写入会追加到日志，但默认每秒 fsync 一次，而不是每次写入。".to_string(),
            (Lang::Zh, _) => "这个 Redis 没有开启 AOF：上面的写入在下一次快照（如果有）之前只存在于内存。第 10 课会测量崩溃时丢多少。".to_string(),
        },
    );

    let (claim_durable, claim_sync, claim_memory) = match ctx.lang {
        Lang::En => (
            format!(
                "A Redis write ({}) is {} faster than a durable SQLite commit ({}): it skips the per-commit disk sync",
                format_duration(redis_set.p50()),
                format_ratio(vs_durable.ratio),
                format_duration(full.p50())
            ),
            format!(
                "The disk sync is the cost: the same commit without it (synchronous=OFF) takes {}, {} less",
                format_duration(off.p50()),
                format_ratio(sync_cost.ratio)
            ),
            format!(
                "Honestly: in-process SQLite in memory ({}) beats the Redis network round trip ({}) by {}: no network, no syscalls",
                format_duration(memory.p50()),
                format_duration(redis_set.p50()),
                format_ratio(in_process.ratio)
            ),
        ),
        Lang::Zh => (
            format!(
                "一次 Redis 写入（{}）比一次持久化的 SQLite 提交（{}）快 {}：它省掉了每次提交的磁盘同步",
                format_duration(redis_set.p50()),
                format_duration(full.p50()),
                format_ratio(vs_durable.ratio)
            ),
            format!(
                "代价就在磁盘同步：同样的提交不做同步（synchronous=OFF）只要 {}，快 {}",
                format_duration(off.p50()),
                format_ratio(sync_cost.ratio)
            ),
            format!(
                "实话实说：本进程内的 SQLite 内存库（{}）比 Redis 的网络往返（{}）快 {}：没有网络，没有系统调用",
                format_duration(memory.p50()),
                format_duration(redis_set.p50()),
                format_ratio(in_process.ratio)
            ),
        ),
    };
    report.claim(Claim::ratio_above("memory-write-beats-durable-commit", claim_durable, &vs_durable, 1.0));
    report.claim(Claim::ratio_above("disk-sync-is-the-cost", claim_sync, &sync_cost, 2.0));
    report.claim(Claim::ratio_above("in-process-sqlite-beats-round-trip", claim_memory, &in_process, 1.0));
    Ok(report)
}

/// `redis-learn:3fa2b1c0:token:eth:0x69…` is long; show the part after the run prefix.
fn short(key: &str) -> String {
    let tail = key.splitn(3, ':').nth(2).unwrap_or(key);
    format!("…:{tail}")
}
