//! The SQL way: a heartbeat table `ws_nodes (id PRIMARY KEY, …, last_seen_ms)` that every node
//! UPSERTs, the active list `WHERE last_seen_ms > now − ttl`, and a cleanup `DELETE`. The same
//! cluster run as with Redis (one crash, one graceful leave, flaps counted); then one heartbeat and
//! one active-list read timed on both sides, with the table durable and not.

use std::collections::BTreeSet;
use std::path::Path;
use std::time::Duration;

use anyhow::{Context, Result};
use rusqlite::{Connection, OptionalExtension, params};

use super::cluster::{Plan, Registry, node_table, run_cluster, view_table, within_ttl};
use super::registry::{Node, RedisRegistry, cluster_nodes, nonce};
use super::{SLACK, TTL};
use crate::demo::support::millis;
use crate::demo::{Ctx, DemoReport, NoteKind};
use crate::measure::{Backend, Claim, Comparison, Measurement, format_duration, format_ratio_interval};
use crate::sql::{self, Durability};
use crate::text::{Fact, Text};

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
        Ok(SqlRegistry { con, ttl_ms: millis(ttl) })
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
    let mut report = DemoReport::new("heartbeat-table", Text::msg("title"));
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

    node_table(&mut report, &nodes, plan, &run);
    view_table(&mut report, &run, &["view.where"]);
    let heartbeats: u64 = run.nodes.iter().map(|n| n.heartbeats).sum();
    let per_sec = heartbeats as f64 / run.elapsed.as_secs_f64().max(1e-9);
    report.table_with_headers(
        Text::msg("left-behind").fact("node", crashed.name.as_str()),
        vec![Text::msg("left-behind.header-check"), "SQL".into(), Text::msg("left-behind.header-result")],
        vec![
            vec![Text::msg("check.row"), "SELECT COUNT(*) … WHERE id = ?".into(), Text::Plain(rows_left.to_string())],
            vec![
                Text::msg("check.listed"),
                "… WHERE last_seen_ms > now − ttl".into(),
                Text::msg(if still_listed { "yes" } else { "no" }),
            ],
            vec![
                Text::msg("check.cleanup"),
                "DELETE … WHERE last_seen_ms <= now − ttl".into(),
                Text::msg("cleaned").fact("deleted", cleaned).fact("left", rows_after),
            ],
            vec![
                Text::msg("check.write-load"),
                "INSERT … ON CONFLICT DO UPDATE".into(),
                Text::msg("write-load")
                    .fact("commits", heartbeats)
                    .fact("per_sec", format!("{per_sec:.0}"))
                    .fact("nodes", nodes.len()),
            ],
        ],
    );
    let timed = time_both(ctx, &mut report, &path)?;
    honest_notes(&mut report, &path, &timed);
    let view = &run.views[0];
    let bound = TTL + SLACK;
    report.claim(
        Claim::new(
            "heartbeat-table-detects-crash",
            "",
            format!("{} ≤ {}, {}", format_duration(view.crash_gone), format_duration(bound), view.flaps),
            within_ttl(view.crash_gone, TTL) && view.flaps == 0 && run.polls >= 20,
        )
        .fact("node", crashed.name.as_str())
        .fact("gone", view.crash_gone)
        .fact("ttl", TTL)
        .fact("bound", bound)
        .fact("flaps", view.flaps)
        .fact("polls", run.polls),
    );
    report.claim(
        Claim::new(
            "rows-never-delete-themselves",
            "",
            format!("{rows_left} → DELETE {cleaned}"),
            rows_left == 1 && !still_listed && cleaned == 1 && rows_after == 0,
        )
        .fact("rows", rows_left)
        .fact("deleted", cleaned),
    );
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
            .op("redis-heartbeat", "Redis EVALSHA heartbeat", Backend::Redis, || redis.beat(&bench))
            .op("sqlite-heartbeat", "SQLite UPSERT synchronous=OFF", Backend::Sqlite, || sql_off.beat(&bench))
            .op("sqlite-heartbeat-durable", "SQLite UPSERT synchronous=FULL", Backend::Sqlite, || sql_full.beat(&bench))
            .one_disk_sync()
            .run()?,
    );
    let want = nodes.len() + 1;
    let reads = report.measured_group(
        ctx.sampler
            .group()
            .op("redis-active-list", format!("Redis EVALSHA active list, {want}"), Backend::Redis, || {
                let ids = redis.active_ids()?;
                anyhow::ensure!(ids.len() == want, "the active list had {} nodes, expected {want}", ids.len());
                Ok(())
            })
            .op("sqlite-active-list", format!("SQLite SELECT active list, {want}"), Backend::Sqlite, || {
                let ids = sql_off.active_ids()?;
                anyhow::ensure!(ids.len() == want, "the active query returned {} nodes, expected {want}", ids.len());
                Ok(())
            })
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

fn honest_notes(report: &mut DemoReport, path: &Path, t: &Timed) {
    // Each comparison is Redis (a) against SQLite (b); the note turns it round (above 1×, SQLite
    // was faster). Whether the difference is clear is in the comparisons themselves.
    let sqlite_speedup = |c: &Comparison| format_ratio_interval(1.0 / c.ratio, 1.0 / c.ratio_high, 1.0 / c.ratio_low);
    let durable = t.durable.ratio;
    report.note(
        NoteKind::Info,
        Text::msg("in-process").fact("beat", sqlite_speedup(&t.beat)).fact("read", sqlite_speedup(&t.read)),
    );
    let fs = sql::filesystem_type(path).unwrap_or_else(|| "?".to_string());
    let on_memory = sql::is_memory_filesystem(&fs);
    let note = match (on_memory, durable >= 1.0) {
        (false, true) => Text::msg("durable-slower").fact("ratio", Fact::Ratio(durable)),
        (false, false) => Text::msg("durable-faster").fact("ratio", Fact::Ratio(1.0 / durable)),
        (true, _) => Text::msg("durable-on-memory"),
    };
    report.note(
        if on_memory { NoteKind::Caveat } else { NoteKind::Info },
        note.fact("fs", fs.as_str()).fact("durable", t.sql_beat_durable.p50()).fact("every", super::HEARTBEAT_EVERY),
    );
    report.note(NoteKind::Info, Text::msg("now-from-the-store"));
}
