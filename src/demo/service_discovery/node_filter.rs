//! Filtering by region and tag: each node is also a member of `svc:ws:region:{r}` and
//! `svc:ws:tag:{t}`; SINTER of the sets gives the candidates and MGET of their node keys both checks
//! that they are alive and fetches their addresses. Set members never expire, so SINTER alone also
//! returns nodes that crashed earlier. The SQL side is a nodes table, a tags table and EXISTS.

use std::collections::BTreeSet;
use std::thread;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail, ensure};
use rusqlite::{Connection, params, params_from_iter};

use super::heartbeat_table::NOW_MS;
use super::registry::{Node, RedisRegistry, nonce};
use super::{REGIONS, TTL};
use crate::demo::support::millis;
use crate::demo::{Ctx, DemoReport, NoteKind};
use crate::measure::{Backend, Claim, Verdict, format_count, format_duration};
use crate::sql;
use crate::text::{Fact, Text};

/// Live nodes' registrations outlive the demo (nothing heartbeats here).
const LIVE_TTL: Duration = Duration::from_secs(30);
/// Nodes that "crashed earlier": registered with this TTL, then left to expire for real.
const CRASHED_TTL: Duration = Duration::from_millis(50);
/// How long the SQL side's crashed nodes have been silent.
const CRASHED_AGO_MS: i64 = 60_000;
/// The longest wait for the crashed nodes' keys to expire.
const EXPIRE_WAIT: Duration = Duration::from_secs(5);
/// Nodes of the first query's answer shown in full.
const SHOWN: usize = 6;

/// One discovery query: a region (or any) and tags the node must all carry.
#[derive(Debug, Clone, Copy)]
struct Query {
    region: Option<&'static str>,
    tags: &'static [&'static str],
}

const QUERIES: [Query; 4] = [
    Query { region: Some("eu-west"), tags: &["kline"] },
    Query { region: Some("ap-east"), tags: &[] },
    Query { region: None, tags: &["orders"] },
    Query { region: Some("us-east"), tags: &["ticker", "canary"] },
];

impl Query {
    fn describe(&self) -> String {
        let mut parts: Vec<String> = self.region.map(|r| format!("region={r}")).into_iter().collect();
        parts.extend(self.tags.iter().map(|t| format!("tag={t}")));
        parts.join(" ∧ ")
    }

    fn matches(&self, node: &Node) -> bool {
        self.region.is_none_or(|r| r == node.region) && node.has_tags(self.tags)
    }
}

/// Node `i`'s tags: every WebSocket node serves some of the notes' push streams.
fn tags_of(i: usize) -> Vec<&'static str> {
    let mut tags = Vec::new();
    if i.is_multiple_of(2) {
        tags.push("kline");
    }
    if !i.is_multiple_of(3) {
        tags.push("ticker");
    }
    if i % 5 < 2 {
        tags.push("orders");
    }
    if i.is_multiple_of(7) {
        tags.push("canary");
    }
    tags
}

/// Node `i` crashed some time ago (one in six).
fn crashed(i: usize) -> bool {
    i % 6 == 5
}

fn fleet(n: usize, nonce: u16) -> Vec<Node> {
    (0..n).map(|i| Node::new(i, nonce, REGIONS[i % REGIONS.len()], tags_of(i))).collect()
}

/// The ground truth: live nodes matching `q`.
fn expected(nodes: &[Node], q: &Query) -> BTreeSet<String> {
    nodes.iter().enumerate().filter(|(i, n)| !crashed(*i) && q.matches(n)).map(|(_, n)| n.id.clone()).collect()
}

/// Crashed nodes still in the sets that `q` intersects.
fn stale_expected(nodes: &[Node], q: &Query) -> usize {
    nodes.iter().enumerate().filter(|(i, n)| crashed(*i) && q.matches(n)).count()
}

/// What the Redis side returned for one query.
struct RedisAnswer {
    /// SINTER alone.
    candidates: Vec<String>,
    /// Candidates whose node key still exists (MGET not nil), with their JSON.
    alive: Vec<(String, serde_json::Value)>,
}

/// SINTER of the query's sets (the whole index when it names none), then MGET of the node keys.
fn redis_query(registry: &mut RedisRegistry, q: &Query) -> Result<RedisAnswer> {
    let keys = registry.keys.clone();
    let mut sets: Vec<String> = q.region.map(|r| keys.region(r)).into_iter().collect();
    sets.extend(q.tags.iter().map(|t| keys.tag(t)));
    let candidates: Vec<String> = if sets.is_empty() {
        redis::cmd("ZRANGE").arg(&keys.index).arg(0).arg(-1).query(&mut registry.con)?
    } else {
        redis::cmd("SINTER").arg(&sets).query(&mut registry.con).context("SINTER")?
    };
    if candidates.is_empty() {
        return Ok(RedisAnswer { candidates, alive: Vec::new() });
    }
    let node_keys: Vec<String> = candidates.iter().map(|id| keys.node(id)).collect();
    let jsons: Vec<Option<String>> = redis::cmd("MGET").arg(&node_keys).query(&mut registry.con).context("MGET")?;
    let mut alive = Vec::new();
    for (id, json) in candidates.iter().zip(jsons) {
        if let Some(json) = json {
            alive.push((id.clone(), serde_json::from_str(&json).with_context(|| format!("node {id}'s JSON"))?));
        }
    }
    Ok(RedisAnswer { candidates, alive })
}

/// Does the node's own JSON agree with the query (the sets and the keys tell the same story)?
fn json_matches(v: &serde_json::Value, q: &Query) -> bool {
    let region_ok = q.region.is_none_or(|r| v["region"] == r);
    let tags: Vec<&str> =
        v["tags"].as_array().map(|a| a.iter().filter_map(|t| t.as_str()).collect()).unwrap_or_default();
    region_ok && q.tags.iter().all(|t| tags.contains(t))
}

const SQL_SCHEMA: &str = "CREATE TABLE ws_nodes (
    id TEXT PRIMARY KEY,
    addr TEXT NOT NULL,
    region TEXT NOT NULL,
    last_seen_ms INTEGER NOT NULL
);
CREATE INDEX ws_nodes_region ON ws_nodes (region, last_seen_ms);
CREATE TABLE ws_node_tags (
    tag TEXT NOT NULL,
    node_id TEXT NOT NULL REFERENCES ws_nodes (id),
    PRIMARY KEY (tag, node_id)
);";

fn sql_load(db: &Connection, nodes: &[Node]) -> Result<()> {
    let tx = db.unchecked_transaction()?;
    {
        let now_sql = format!("SELECT {NOW_MS}");
        let now: i64 = tx.query_row(&now_sql, [], |r| r.get(0))?;
        let mut node_stmt =
            tx.prepare("INSERT INTO ws_nodes (id, addr, region, last_seen_ms) VALUES (?1, ?2, ?3, ?4)")?;
        let mut tag_stmt = tx.prepare("INSERT INTO ws_node_tags (tag, node_id) VALUES (?1, ?2)")?;
        for (i, node) in nodes.iter().enumerate() {
            let last_seen = if crashed(i) { now - CRASHED_AGO_MS } else { now };
            node_stmt.execute(params![node.id, node.addr, node.region, last_seen])?;
            for tag in &node.tags {
                tag_stmt.execute(params![tag, node.id])?;
            }
        }
    }
    tx.commit()?;
    Ok(())
}

/// `SELECT n.id FROM ws_nodes n WHERE alive [AND region = ?] [AND EXISTS (tag) …]`.
fn sql_text(q: &Query, ttl_ms: i64) -> String {
    let mut sql = format!("SELECT n.id FROM ws_nodes n WHERE n.last_seen_ms > {NOW_MS} - {ttl_ms}");
    let mut param = 0;
    if q.region.is_some() {
        param += 1;
        sql.push_str(&format!(" AND n.region = ?{param}"));
    }
    for _ in q.tags {
        param += 1;
        sql.push_str(&format!(
            " AND EXISTS (SELECT 1 FROM ws_node_tags t WHERE t.tag = ?{param} AND t.node_id = n.id)"
        ));
    }
    sql
}

fn sql_query(db: &Connection, q: &Query) -> Result<BTreeSet<String>> {
    let mut stmt = db.prepare_cached(&sql_text(q, millis(LIVE_TTL)))?;
    let args: Vec<&str> = q.region.into_iter().chain(q.tags.iter().copied()).collect();
    let ids = stmt.query_map(params_from_iter(args), |r| r.get::<_, String>(0))?.collect::<Result<_, _>>()?;
    Ok(ids)
}

/// Register the fleet in Redis and wait until the crashed nodes' keys have expired for real.
fn redis_load(ctx: &Ctx, registry: &mut RedisRegistry, nodes: &[Node]) -> Result<()> {
    for (i, node) in nodes.iter().enumerate() {
        ctx.check_interrupt()?;
        registry.beat_with(node, if crashed(i) { CRASHED_TTL } else { LIVE_TTL })?;
    }
    registry.index_labels(nodes)?;
    let dead: Vec<Node> = nodes.iter().enumerate().filter(|(i, _)| crashed(*i)).map(|(_, n)| n.clone()).collect();
    let deadline = Instant::now() + EXPIRE_WAIT;
    loop {
        ctx.check_interrupt()?;
        if registry.pttls(&dead)?.iter().all(|&p| p == -2) {
            return Ok(());
        }
        if Instant::now() > deadline {
            bail!("the crashed nodes' keys did not expire within {}", format_duration(EXPIRE_WAIT));
        }
        thread::sleep(Duration::from_millis(10));
    }
}

pub fn node_filter(ctx: &Ctx) -> Result<DemoReport> {
    let mut report = DemoReport::new("node-filter", Text::msg("title"));
    let nodes = fleet(ctx.n(200, 40), nonce());
    let dead = (0..nodes.len()).filter(|&i| crashed(i)).count();
    let mut registry = RedisRegistry::open(ctx, TTL)?;
    redis_load(ctx, &mut registry, &nodes)?;
    let db = sql::open_memory()?;
    db.execute_batch(SQL_SCHEMA).context("creating the node tables")?;
    sql_load(&db, &nodes)?;

    let mut rows = Vec::new();
    let (mut redis_exact, mut sql_exact, mut json_mismatches) = (0, 0, 0);
    let (mut stale_seen, mut stale_due) = (0, 0);
    let mut first_answer = Vec::new();
    for (qi, q) in QUERIES.iter().enumerate() {
        ctx.check_interrupt()?;
        let want = expected(&nodes, q);
        let answer = redis_query(&mut registry, q)?;
        let got: BTreeSet<String> = answer.alive.iter().map(|(id, _)| id.clone()).collect();
        json_mismatches += answer.alive.iter().filter(|(_, v)| !json_matches(v, q)).count();
        let stale = answer.candidates.len() - answer.alive.len();
        stale_seen += stale;
        stale_due += stale_expected(&nodes, q);
        let sql_got = sql_query(&db, q)?;
        redis_exact += usize::from(got == want);
        sql_exact += usize::from(sql_got == want);
        let verdict = |n: usize, same: bool| Text::msg(if same { "exact" } else { "wrong" }).fact("n", n);
        rows.push(vec![
            Text::Plain(q.describe()),
            Text::Plain(want.len().to_string()),
            Text::msg("candidates").fact("n", answer.candidates.len()).fact("stale", stale),
            verdict(got.len(), got == want),
            verdict(sql_got.len(), sql_got == want),
        ]);
        if qi == 0 {
            first_answer = answer.alive;
        }
    }
    report.table(
        Text::msg("queries").fact("nodes", nodes.len()).fact("regions", REGIONS.len()).fact("dead", dead),
        &["filter", "expected", "sinter", "redis", "sqlite"],
        rows,
    );
    report.table_with_headers(
        Text::msg("answer").fact("filter", QUERIES[0].describe()),
        vec![
            "id".into(),
            Text::msg("answer.header-addr"),
            Text::msg("answer.header-region"),
            Text::msg("answer.header-tags"),
        ],
        first_answer
            .iter()
            .take(SHOWN)
            .map(|(id, v)| {
                let tags: Vec<&str> =
                    v["tags"].as_array().map(|a| a.iter().filter_map(|t| t.as_str()).collect()).unwrap_or_default();
                vec![
                    Text::Plain(id.clone()),
                    v["addr"].as_str().unwrap_or("?").into(),
                    v["region"].as_str().unwrap_or("?").into(),
                    Text::Plain(tags.join(",")),
                ]
            })
            .collect(),
    );

    let q = QUERIES[0];
    // Both queries take turns in rounds, so a busy moment hits both alike.
    let group = report.measured_group(
        ctx.sampler
            .group()
            .op("redis-filter", format!("Redis SINTER + MGET ({})", q.describe()), Backend::Redis, || {
                let answer = redis_query(&mut registry, &q)?;
                ensure!(!answer.alive.is_empty(), "the query found no node");
                Ok(())
            })
            .op("sqlite-filter", format!("SQLite SELECT ({})", q.describe()), Backend::Sqlite, || {
                ensure!(!sql_query(&db, &q)?.is_empty(), "the query found no node");
                Ok(())
            })
            .run()?,
    );
    let (redis_time, sql_time) = (group.get("redis-filter"), group.get("sqlite-filter"));
    let in_process = report.compare("sqlite-vs-redis-filter", sql_time, redis_time)?;
    report.note(
        NoteKind::Simulated,
        Text::msg("no-heartbeats")
            .fact("live_s", LIVE_TTL.as_secs())
            .fact("crashed_ms", millis(CRASHED_TTL))
            .fact("ago_s", CRASHED_AGO_MS / 1000),
    );
    report.note(NoteKind::Info, Text::msg("labels-not-liveness"));
    let speed = in_process.ratio;
    if in_process.status == Verdict::Clear && speed >= 1.0 {
        report.note(
            NoteKind::Info,
            Text::msg("sqlite-faster")
                .fact("sqlite", sql_time.p50())
                .fact("redis", redis_time.p50())
                .fact("ratio", Fact::Ratio(speed)),
        );
    }

    let q_count = QUERIES.len();
    report.claim(
        Claim::new(
            "filters-return-live-nodes-exactly",
            "",
            format!("{redis_exact}/{q_count}, {sql_exact}/{q_count}"),
            redis_exact == q_count && sql_exact == q_count && json_mismatches == 0,
        )
        .fact("redis_exact", redis_exact)
        .fact("queries", q_count)
        .fact("mismatches", json_mismatches)
        .fact("sql_exact", sql_exact),
    );
    report.claim(
        Claim::new(
            "set-members-never-expire",
            "",
            format_count(stale_seen as u64),
            stale_seen == stale_due && stale_seen > 0,
        )
        .fact("stale", stale_seen)
        .fact("queries", q_count)
        .fact("expected", stale_due),
    );
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_query_has_live_answers_and_some_stale_candidates() {
        for n in [40, 200] {
            let nodes = fleet(n, 1);
            let mut stale = 0;
            for q in &QUERIES {
                assert!(!expected(&nodes, q).is_empty(), "{} is empty for {n} nodes", q.describe());
                stale += stale_expected(&nodes, q);
            }
            assert!(stale > 0);
        }
    }

    #[test]
    fn queries_describe_themselves() {
        assert_eq!(QUERIES[0].describe(), "region=eu-west ∧ tag=kline");
        assert_eq!(QUERIES[2].describe(), "tag=orders");
    }

    #[test]
    fn sql_matches_the_ground_truth() {
        let db = sql::open_memory().unwrap();
        db.execute_batch(SQL_SCHEMA).unwrap();
        let nodes = fleet(40, 7);
        sql_load(&db, &nodes).unwrap();
        for q in &QUERIES {
            assert_eq!(sql_query(&db, q).unwrap(), expected(&nodes, q), "{}", q.describe());
        }
    }

    #[test]
    fn json_is_checked_against_the_query() {
        let node = Node::new(2, 1, "eu-west", vec!["kline", "orders"]);
        let v: serde_json::Value = serde_json::from_str(&node.json()).unwrap();
        assert!(json_matches(&v, &QUERIES[0]));
        assert!(!json_matches(&v, &QUERIES[1]));
        assert!(json_matches(&v, &QUERIES[2]));
    }
}
