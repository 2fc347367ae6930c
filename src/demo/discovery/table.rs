//! The SQL way: a heartbeat table `ws_nodes (id PRIMARY KEY, …, last_seen_ms)` that every node
//! UPSERTs, the active list `WHERE last_seen_ms > now − ttl`, and a cleanup `DELETE`. The same
//! cluster run as with Redis (one crash, one graceful leave, flaps counted); then one heartbeat and
//! one active-list read timed on both sides, with the table durable and not.

use std::collections::BTreeSet;
use std::path::Path;
use std::time::Duration;

use anyhow::{Context, Result};
use rusqlite::{Connection, OptionalExtension, params};

use super::cluster::{Plan, Registry, run_cluster};
use super::heartbeat::{node_table, view_table};
use super::{Node, RedisRegistry, SLACK, TTL, cluster_nodes, millis, nonce, within_ttl};
use crate::demo::{Ctx, DemoReport, NoteKind};
use crate::i18n::Lang;
use crate::measure::{Backend, Claim, Comparison, Measurement, Verdict, format_count, format_duration, format_ratio};
use crate::sql::{self, Durability};

/// The database's clock in ms: nodes take `now` from the database, as they take it from Redis.
macro_rules! now_ms {
    () => {
        "CAST(unixepoch('subsec') * 1000 AS INTEGER)"
    };
}

/// The same clock, for SQL built at run time.
pub(super) const NOW_MS: &str = now_ms!();

const SCHEMA: &str = "CREATE TABLE IF NOT EXISTS ws_nodes (
    id TEXT PRIMARY KEY,
    addr TEXT NOT NULL,
    region TEXT NOT NULL,
    tags TEXT NOT NULL,
    last_seen_ms INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS ws_nodes_last_seen ON ws_nodes (last_seen_ms);";

const HEARTBEAT_SQL: &str = concat!(
    "INSERT INTO ws_nodes (id, addr, region, tags, last_seen_ms) VALUES (?1, ?2, ?3, ?4, ",
    now_ms!(),
    ") ON CONFLICT (id) DO UPDATE SET last_seen_ms = excluded.last_seen_ms"
);
const ACTIVE_SQL: &str = concat!("SELECT id FROM ws_nodes WHERE last_seen_ms > ", now_ms!(), " - ?1");
const REMAINING_SQL: &str = concat!("SELECT last_seen_ms + ?1 - ", now_ms!(), " FROM ws_nodes WHERE id = ?2");
const CLEANUP_SQL: &str = concat!("DELETE FROM ws_nodes WHERE last_seen_ms <= ", now_ms!(), " - ?1");

/// How long a worker waits for SQLite's write lock.
const BUSY_WAIT: Duration = Duration::from_secs(2);
/// Nodes registered while the reads are timed.
const TIMED_NODES: usize = 12;
/// Their registrations outlive the timing.
const LONG_TTL: Duration = Duration::from_secs(60);

/// The SQL side of the registry: one connection to the shared heartbeat table.
struct SqlRegistry {
    con: Connection,
    ttl_ms: i64,
}

impl SqlRegistry {
    fn open(path: &Path, durability: Durability, ttl: Duration) -> Result<SqlRegistry> {
        let con = sql::open_file(path, durability)?;
        con.busy_timeout(BUSY_WAIT).context("setting busy_timeout")?;
        Ok(SqlRegistry { con, ttl_ms: millis(ttl) as i64 })
    }

    fn active_ids(&self) -> Result<BTreeSet<String>> {
        let mut stmt = self.con.prepare_cached(ACTIVE_SQL)?;
        let ids = stmt.query_map([self.ttl_ms], |r| r.get::<_, String>(0))?.collect::<Result<_, _>>()?;
        Ok(ids)
    }
}

impl Registry for SqlRegistry {
    fn beat(&mut self, node: &Node) -> Result<()> {
        let mut stmt = self.con.prepare_cached(HEARTBEAT_SQL)?;
        stmt.execute(params![node.id, node.addr, node.region, node.tags.join(",")])
            .with_context(|| format!("heartbeat of {}", node.name))?;
        Ok(())
    }

    fn leave(&mut self, node: &Node) -> Result<()> {
        self.con.prepare_cached("DELETE FROM ws_nodes WHERE id = ?1")?.execute([&node.id])?;
        Ok(())
    }

    fn look(&mut self, _nodes: &[Node]) -> Result<Vec<BTreeSet<String>>> {
        Ok(vec![self.active_ids()?])
    }

    fn remaining(&mut self, node: &Node) -> Result<Option<Duration>> {
        let left: Option<i64> = self
            .con
            .prepare_cached(REMAINING_SQL)?
            .query_row(params![self.ttl_ms, node.id], |r| r.get(0))
            .optional()?;
        Ok(left.and_then(|ms| u64::try_from(ms).ok()).map(Duration::from_millis))
    }
}

pub fn heartbeat_table(ctx: &Ctx) -> Result<DemoReport> {
    let mut report = DemoReport::new(
        "heartbeat-table",
        ctx.tr(
            "The SQL way: a heartbeat table, an active query and a cleanup job",
            "SQL 的做法：心跳表、活跃查询和清理任务",
        ),
    );
    let path = ctx.scratch.join("discovery-heartbeats.db");
    sql::open_file(&path, Durability::Off)?.execute_batch(SCHEMA).context("creating ws_nodes")?;
    let nodes = cluster_nodes(ctx.n(6, 4));
    let plan = Plan {
        views: 1,
        warm: Duration::from_millis(ctx.n(1_000, 300) as u64),
        crash: 1,
        leave: 2,
        tail: Duration::from_millis(ctx.n(1_000, 300) as u64),
    };
    let run = run_cluster(&ctx.interrupt, &nodes, plan, || SqlRegistry::open(&path, Durability::Off, TTL))?;
    let crashed = &nodes[plan.crash];

    // The crashed node's row after its TTL: hidden by the WHERE, still in the table.
    let registry = SqlRegistry::open(&path, Durability::Off, TTL)?;
    let rows_left: i64 =
        registry.con.query_row("SELECT COUNT(*) FROM ws_nodes WHERE id = ?1", [&crashed.id], |r| r.get(0))?;
    let still_listed = registry.active_ids()?.contains(&crashed.id);
    let cleaned = registry.con.execute(CLEANUP_SQL, [registry.ttl_ms])?;
    let rows_after: i64 = registry.con.query_row("SELECT COUNT(*) FROM ws_nodes", [], |r| r.get(0))?;

    node_table(ctx, &mut report, &nodes, plan, &run);
    view_table(ctx, &mut report, &run, &[ctx.tr("WHERE last_seen_ms > now − ttl", "WHERE last_seen_ms > now − ttl")]);
    let heartbeats: u64 = run.nodes.iter().map(|n| n.heartbeats).sum();
    let per_sec = heartbeats as f64 / run.elapsed.as_secs_f64().max(1e-9);
    report.finding(
        match ctx.lang {
            Lang::En => format!("What {} left in the table once its TTL had passed", crashed.name),
            Lang::Zh => format!("TTL 过后，{} 在表里留下了什么", crashed.name),
        },
        &[ctx.tr("check", "检查"), ctx.tr("SQL", "SQL"), ctx.tr("result", "结果")],
        vec![
            vec![
                ctx.tr("its row", "它的行").to_string(),
                "SELECT COUNT(*) … WHERE id = ?".to_string(),
                rows_left.to_string(),
            ],
            vec![
                ctx.tr("listed as active", "出现在活跃列表中").to_string(),
                "… WHERE last_seen_ms > now − ttl".to_string(),
                if still_listed { ctx.tr("yes", "是") } else { ctx.tr("no", "否") }.to_string(),
            ],
            vec![
                ctx.tr("the cleanup job", "清理任务").to_string(),
                "DELETE … WHERE last_seen_ms <= now − ttl".to_string(),
                match ctx.lang {
                    Lang::En => format!("deleted {cleaned}; {rows_after} rows left"),
                    Lang::Zh => format!("删除 {cleaned} 行；剩余 {rows_after} 行"),
                },
            ],
            vec![
                ctx.tr("write load of the heartbeats", "心跳带来的写入量").to_string(),
                "INSERT … ON CONFLICT DO UPDATE".to_string(),
                match ctx.lang {
                    Lang::En => {
                        format!("{} commits ({:.0}/s for {} nodes)", format_count(heartbeats), per_sec, nodes.len())
                    }
                    Lang::Zh => {
                        format!("{} 次提交（{} 个节点，每秒 {:.0} 次）", format_count(heartbeats), nodes.len(), per_sec)
                    }
                },
            ],
        ],
    );

    let timed = time_both(ctx, &mut report, &path)?;
    honest_notes(ctx, &mut report, &path, &timed);

    let view = &run.views[0];
    let bound = TTL + SLACK;
    report.claim(Claim::new(
        "heartbeat-table-detects-crash",
        match ctx.lang {
            Lang::En => format!(
                "The heartbeat table detects a crash too: {} left the active query {} after its last heartbeat (not before the {} TTL, within {}), and healthy nodes were missing {} times in {} polls",
                crashed.name,
                format_duration(view.crash_gone),
                format_duration(TTL),
                format_duration(bound),
                view.flaps,
                format_count(run.polls)
            ),
            Lang::Zh => format!(
                "心跳表同样能发现崩溃：{} 在最后一次心跳之后 {} 离开了活跃查询的结果（没有早于 {} 的 TTL，且在 {} 之内）；在 {} 次轮询中，健康节点缺失 {} 次",
                crashed.name,
                format_duration(view.crash_gone),
                format_duration(TTL),
                format_duration(bound),
                format_count(run.polls),
                view.flaps
            ),
        },
        match ctx.lang {
            Lang::En => format!("{} ≤ {}, {} flaps", format_duration(view.crash_gone), format_duration(bound), view.flaps),
            Lang::Zh => format!("{} ≤ {}，闪断 {} 次", format_duration(view.crash_gone), format_duration(bound), view.flaps),
        },
        within_ttl(view.crash_gone, TTL) && view.flaps == 0 && run.polls >= 20,
    ));
    report.claim(Claim::new(
        "rows-never-delete-themselves",
        match ctx.lang {
            Lang::En => format!(
                "A row never deletes itself: after its TTL the crashed node still had {rows_left} row in ws_nodes, hidden only by the WHERE clause, until the cleanup DELETE removed {cleaned} — the job Redis's key expiry does on its own"
            ),
            Lang::Zh => format!(
                "行不会自己删除：TTL 过后，崩溃节点在 ws_nodes 中仍有 {rows_left} 行，只是被 WHERE 条件挡住，直到清理任务的 DELETE 删除了 {cleaned} 行——而 Redis 的键过期会自己完成这件事"
            ),
        },
        format!("{rows_left} → DELETE {cleaned}"),
        rows_left == 1 && !still_listed && cleaned == 1 && rows_after == 0,
    ));
    Ok(report)
}

/// The timed operations of both sides, and their comparisons (Redis against SQLite).
struct Timed {
    sql_beat_durable: Measurement,
    /// Redis heartbeat against the non-durable SQLite heartbeat.
    beat: Comparison,
    /// Redis heartbeat against the durable SQLite heartbeat.
    durable: Comparison,
    /// Redis active list against the SQLite active query.
    read: Comparison,
}

/// One heartbeat and one active-list read, on Redis and on SQLite (durable and not), with
/// [`TIMED_NODES`] nodes registered. The heartbeats take turns in rounds in one group, the reads in
/// another, so a busy moment hits every side of a comparison alike.
fn time_both(ctx: &Ctx, report: &mut DemoReport, path: &Path) -> Result<Timed> {
    let nodes: Vec<Node> = cluster_nodes(TIMED_NODES);
    let bench = Node::new(TIMED_NODES, nonce(), "eu-west", vec!["kline", "ticker"]);
    let mut redis = RedisRegistry::open(ctx, LONG_TTL)?;
    let mut sql_off = SqlRegistry::open(path, Durability::Off, LONG_TTL)?;
    let durable_path = path.with_file_name("discovery-heartbeats-durable.db");
    sql::open_file(&durable_path, Durability::Full)?.execute_batch(SCHEMA)?;
    let mut sql_full = SqlRegistry::open(&durable_path, Durability::Full, LONG_TTL)?;
    for node in &nodes {
        redis.beat(node)?;
        sql_off.beat(node)?;
    }
    let beats = report.measured_group(
        ctx.sampler
            .group()
            .op(
                "redis-heartbeat",
                ctx.tr(
                    "Redis heartbeat: EVALSHA (TIME, SET … PX, ZADD)",
                    "Redis 心跳：EVALSHA（TIME、SET … PX、ZADD）",
                ),
                Backend::Redis,
                || redis.beat(&bench),
            )
            .op(
                "sqlite-heartbeat",
                ctx.tr(
                    "SQLite heartbeat: UPSERT, synchronous=OFF (file)",
                    "SQLite 心跳：UPSERT，synchronous=OFF（文件库）",
                ),
                Backend::Sqlite,
                || sql_off.beat(&bench),
            )
            .op(
                "sqlite-heartbeat-durable",
                ctx.tr(
                    "SQLite heartbeat: UPSERT, synchronous=FULL (fsync each commit)",
                    "SQLite 心跳：UPSERT，synchronous=FULL（每次提交都 fsync）",
                ),
                Backend::Sqlite,
                || sql_full.beat(&bench),
            )
            .run()?,
    );
    let want = nodes.len() + 1;
    let reads = report.measured_group(
        ctx.sampler
            .group()
            .op(
                "redis-active-list",
                match ctx.lang {
                    Lang::En => format!("Redis active list: EVALSHA (TIME, ZRANGE … BYSCORE), {want} nodes"),
                    Lang::Zh => format!("Redis 活跃列表：EVALSHA（TIME、ZRANGE … BYSCORE），{want} 个节点"),
                },
                Backend::Redis,
                || {
                    let ids = redis.active_ids()?;
                    anyhow::ensure!(ids.len() == want, "the active list had {} nodes, expected {want}", ids.len());
                    Ok(())
                },
            )
            .op(
                "sqlite-active-list",
                match ctx.lang {
                    Lang::En => format!("SQLite active list: SELECT … WHERE last_seen_ms > now − ttl, {want} nodes"),
                    Lang::Zh => format!("SQLite 活跃列表：SELECT … WHERE last_seen_ms > now − ttl，{want} 个节点"),
                },
                Backend::Sqlite,
                || {
                    let ids = sql_off.active_ids()?;
                    anyhow::ensure!(
                        ids.len() == want,
                        "the active query returned {} nodes, expected {want}",
                        ids.len()
                    );
                    Ok(())
                },
            )
            .run()?,
    );
    let beat =
        report.compare("redis-vs-sqlite-heartbeat", beats.get("redis-heartbeat"), beats.get("sqlite-heartbeat"))?;
    let durable = report.compare(
        "redis-vs-durable-sqlite-heartbeat",
        beats.get("redis-heartbeat"),
        beats.get("sqlite-heartbeat-durable"),
    )?;
    let read = report.compare(
        "redis-vs-sqlite-active-list",
        reads.get("redis-active-list"),
        reads.get("sqlite-active-list"),
    )?;
    for node in nodes.iter().chain([&bench]) {
        redis.leave(node)?;
    }
    Ok(Timed { sql_beat_durable: beats.get("sqlite-heartbeat-durable").clone(), beat, durable, read })
}

fn honest_notes(ctx: &Ctx, report: &mut DemoReport, path: &Path, t: &Timed) {
    // `c` compares Redis (a) with SQLite (b): who was faster, by how much, or neither.
    let who = |c: &Comparison, label: &str| -> String {
        if c.status == Verdict::NoClearDifference {
            ctx.tr("no clear difference", "两者无明显差别").to_string()
        } else if c.ratio < 1.0 {
            match ctx.lang {
                Lang::En => format!("{label} was {} faster", format_ratio(1.0 / c.ratio)),
                Lang::Zh => format!("{label}快 {}", format_ratio(1.0 / c.ratio)),
            }
        } else {
            match ctx.lang {
                Lang::En => format!("Redis was {} faster", format_ratio(c.ratio)),
                Lang::Zh => format!("Redis 快 {}", format_ratio(c.ratio)),
            }
        }
    };
    let (beat, read) = (&t.beat, &t.read);
    let durable = t.durable.ratio;
    report.note(
        NoteKind::Info,
        match ctx.lang {
            Lang::En => format!(
                "Honestly: SQLite runs inside this process, so it skips the network round trip Redis pays. For the heartbeat write {}; for the active list {}. But the WebSocket nodes run on different machines: they cannot share one SQLite file, and against a networked database each heartbeat pays a round trip too, plus a commit.",
                who(beat, "non-durable SQLite"),
                who(read, "SQLite")
            ),
            Lang::Zh => format!(
                "实话实说：SQLite 在本进程内运行，省掉了 Redis 要付出的网络往返。心跳写入：{}；活跃列表：{}。但 WebSocket 节点分布在不同机器上：它们无法共享一个 SQLite 文件；换成网络数据库，每次心跳同样要付一次往返，外加一次提交。",
                who(beat, "不持久化的 SQLite "),
                who(read, "SQLite ")
            ),
        },
    );
    let fs = sql::filesystem_type(path).unwrap_or_else(|| "?".to_string());
    let on_memory = sql::is_memory_filesystem(&fs);
    report.note(
        if on_memory { NoteKind::Caveat } else { NoteKind::Info },
        match (ctx.lang, on_memory) {
            (Lang::En, false) => format!(
                "A durable heartbeat (synchronous=FULL, on {fs}) cost {} at p50, {} the Redis heartbeat. Heartbeats are throw-away data — the next one replaces it within {} — so paying for a disk sync on each is waste; in MySQL every heartbeat would also be a transaction written to the redo log and the binlog.",
                format_duration(t.sql_beat_durable.p50()),
                if durable >= 1.0 {
                    format!("{} slower than", format_ratio(durable))
                } else {
                    format!("{} faster than", format_ratio(1.0 / durable))
                },
                format_duration(super::HEARTBEAT_EVERY)
            ),
            (Lang::Zh, false) => format!(
                "持久化的心跳（synchronous=FULL，位于 {fs}）p50 为 {}，{}。心跳是用过即弃的数据——{} 之内下一次心跳就会覆盖它——为每次心跳付一次磁盘同步纯属浪费；在 MySQL 中，每次心跳还是一个要写 redo log 和 binlog 的事务。",
                format_duration(t.sql_beat_durable.p50()),
                if durable >= 1.0 {
                    format!("比 Redis 心跳慢 {}", format_ratio(durable))
                } else {
                    format!("比 Redis 心跳快 {}", format_ratio(1.0 / durable))
                },
                format_duration(super::HEARTBEAT_EVERY)
            ),
            (Lang::En, true) => format!(
                "The SQLite files are on {fs} (memory), where fsync costs nothing: the synchronous=FULL timing ({}) does not show what a disk sync per heartbeat costs. Run with a scratch directory on a real disk to see it.",
                format_duration(t.sql_beat_durable.p50())
            ),
            (Lang::Zh, true) => format!(
                "SQLite 文件位于 {fs}（内存文件系统），在那里 fsync 没有成本：synchronous=FULL 的计时（{}）体现不出每次心跳同步磁盘的代价。把临时目录放到真实磁盘上再运行才能看到。",
                format_duration(t.sql_beat_durable.p50())
            ),
        },
    );
    report.note(
        NoteKind::Info,
        ctx.tr(
            "Both sides take `now` from the store (TIME in Redis, unixepoch('subsec') in SQLite; NOW(3) in MySQL), never from each node's clock. The expiry logic is the same; the difference is who deletes: Redis expires the node's key itself, while the table (like the sorted-set index) needs a cleanup job, and until it runs every query must carry the WHERE last_seen_ms > now − ttl filter.",
            "两边都从存储一侧取 `now`（Redis 用 TIME，SQLite 用 unixepoch('subsec')，MySQL 用 NOW(3)），从不用各节点自己的时钟。判断过期的逻辑相同；区别在于由谁来删除：Redis 自己让节点键过期，而表（和有序集合索引一样）需要清理任务，在它运行之前，每个查询都必须带上 WHERE last_seen_ms > now − ttl 条件。",
        ),
    );
}
