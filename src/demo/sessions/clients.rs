//! WebSocket clients (notes: `apps/websocket/internal/svc/websocketcontext.go`, a Set
//! `user:{uid}:clients` → [clientID…], several clients per user, cleanup on disconnect). A clean
//! disconnect removes its id; a node that dies runs no disconnect handler, and set members cannot
//! expire, so its clients stay in their users' sets. Each node therefore records which clients it
//! owns (`ws:node:{node}:clients`) and keeps a heartbeat key alive; a janitor removes the clients
//! of a node whose heartbeat expired. SQL can hide a dead node's rows at read time with a join, but
//! keeps them until a DELETE.

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, ensure};
use redis::ConnectionLike;
use rusqlite::{Connection, params};

use super::pacing::{Attempt, attempt_key, stalled, with_retries};
use crate::demo::support::{count_existing, millis, now_ms, sql_count, wait_until_gone};
use crate::demo::{Ctx, DemoReport, NoteKind};
use crate::measure::{Backend, Claim, format_count};
use crate::server::TracedConnection;
use crate::sql::{self, Durability};
use crate::text::{Fact, Text};

/// A node's heartbeat key lives this long unless refreshed.
const NODE_TTL: Duration = Duration::from_millis(500);
/// A live node refreshes it this often.
const NODE_BEAT: Duration = Duration::from_millis(100);
const NODES: [&str; 2] = ["ws-1", "ws-2"];
/// The node that dies.
const DEAD: usize = 1;
/// User `uid` is connected from the first `1 + uid % 3` of these.
const DEVICES: [&str; 3] = ["web", "ios", "android"];
/// HSCAN batch of the janitor.
const SCAN_COUNT: usize = 200;

const SCHEMA: &str = "
CREATE TABLE ws_clients (
    client_id TEXT PRIMARY KEY,
    uid       INTEGER NOT NULL,
    node      TEXT NOT NULL
);
CREATE INDEX ws_clients_uid ON ws_clients (uid);
CREATE INDEX ws_clients_node ON ws_clients (node);
CREATE TABLE ws_nodes (node TEXT PRIMARY KEY, last_heartbeat INTEGER NOT NULL);";

/// Devices online, counting only clients of nodes with a recent heartbeat.
const SQL_ONLINE: &str =
    "SELECT COUNT(*) FROM ws_clients c JOIN ws_nodes n ON n.node = c.node WHERE n.last_heartbeat > ?1";
const SQL_ONLINE_OF_USER: &str =
    "SELECT COUNT(*) FROM ws_clients c JOIN ws_nodes n ON n.node = c.node WHERE c.uid = ?1 AND n.last_heartbeat > ?2";
/// The SQL janitor: clients of nodes whose heartbeat is too old, then the nodes.
const SQL_JANITOR: &str = "DELETE FROM ws_clients WHERE node IN (SELECT node FROM ws_nodes WHERE last_heartbeat <= ?1)";
const SQL_DEAD_NODES: &str = "DELETE FROM ws_nodes WHERE last_heartbeat <= ?1";

struct Conn {
    cid: String,
    uid: usize,
    node: usize,
    connected: bool,
}

/// Every connection: user `1000 + u` on `1 + u % 3` devices, spread over the nodes in turn.
fn connections(users: usize) -> Vec<Conn> {
    let mut out = Vec::new();
    for u in 0..users {
        let uid = 1000 + u;
        for device in DEVICES.iter().take(1 + uid % DEVICES.len()) {
            let node = out.len() % NODES.len();
            out.push(Conn { cid: format!("cl-{uid}-{device}"), uid, node, connected: true });
        }
    }
    out
}

/// A user to follow through the demo: connected on every device, with one that stays connected
/// on the node that dies and one on a node that lives.
fn example_user(conns: &[Conn]) -> Option<usize> {
    let mut uids: Vec<usize> = conns.iter().map(|c| c.uid).collect();
    uids.dedup();
    uids.into_iter().find(|&uid| {
        let mine: Vec<(usize, &Conn)> = conns.iter().enumerate().filter(|(_, c)| c.uid == uid).collect();
        mine.len() == DEVICES.len()
            && mine.iter().any(|(j, c)| c.node == DEAD && !disconnects_cleanly(*j))
            && mine.iter().any(|(j, c)| c.node != DEAD && !disconnects_cleanly(*j))
    })
}

/// A clean disconnect for every fourth connection.
fn disconnects_cleanly(j: usize) -> bool {
    j % 4 == 3
}

struct Keys {
    users: Vec<String>,
    node_clients: Vec<String>,
    node_alive: Vec<String>,
    nodes: String,
}

impl Keys {
    fn new(ctx: &Ctx, attempt: usize, users: usize) -> Keys {
        let k = |s: String| attempt_key(ctx, attempt, &s);
        Keys {
            users: (0..users).map(|u| k(format!("user:{}:clients", 1000 + u))).collect(),
            node_clients: NODES.iter().map(|n| k(format!("ws:node:{n}:clients"))).collect(),
            node_alive: NODES.iter().map(|n| k(format!("ws:node:{n}:alive"))).collect(),
            nodes: k("ws:nodes".to_string()),
        }
    }

    fn user(&self, uid: usize) -> &str {
        &self.users[uid - 1000]
    }
}

/// What both stores said at one moment.
#[derive(Debug, Clone)]
struct Checkpoint {
    moment: Text,
    connected: usize,
    redis_ids: usize,
    redis_orphans: usize,
    redis_missing: usize,
    sql_rows: usize,
    sql_online: usize,
}

/// The ground truth per user: ids of connections really open.
fn truth(conns: &[Conn], users: usize) -> Vec<BTreeSet<String>> {
    let mut t = vec![BTreeSet::new(); users];
    for c in conns.iter().filter(|c| c.connected) {
        t[c.uid - 1000].insert(c.cid.clone());
    }
    t
}

fn user_sets(con: &mut impl ConnectionLike, keys: &Keys) -> Result<Vec<BTreeSet<String>>> {
    let mut pipe = redis::pipe();
    for k in &keys.users {
        pipe.cmd("SMEMBERS").arg(k);
    }
    pipe.query(con).context("reading the users' client sets")
}

fn checkpoint(
    con: &mut impl ConnectionLike,
    db: &Connection,
    keys: &Keys,
    conns: &[Conn],
    moment: Text,
) -> Result<Checkpoint> {
    let want = truth(conns, keys.users.len());
    let have = user_sets(con, keys)?;
    let (mut ids, mut orphans, mut missing) = (0, 0, 0);
    for (h, w) in have.iter().zip(&want) {
        ids += h.len();
        orphans += h.difference(w).count();
        missing += w.difference(h).count();
    }
    let alive_after = now_ms()? - millis(NODE_TTL);
    Ok(Checkpoint {
        moment,
        connected: conns.iter().filter(|c| c.connected).count(),
        redis_ids: ids,
        redis_orphans: orphans,
        redis_missing: missing,
        sql_rows: sql_count(db, "SELECT COUNT(*) FROM ws_clients", [])?,
        sql_online: sql_count(db, SQL_ONLINE, [alive_after])?,
    })
}

/// A node's heartbeat on both sides.
fn beat(con: &mut impl ConnectionLike, db: &Connection, keys: &Keys, node: usize) -> Result<()> {
    let now = now_ms()?;
    redis::cmd("SET").arg(&keys.node_alive[node]).arg(NODES[node]).arg("PX").arg(millis(NODE_TTL)).exec(con)?;
    db.execute(
        "INSERT INTO ws_nodes (node, last_heartbeat) VALUES (?1, ?2)
         ON CONFLICT (node) DO UPDATE SET last_heartbeat = excluded.last_heartbeat",
        params![NODES[node], now],
    )?;
    Ok(())
}

/// What the Redis janitor did.
#[derive(Debug, Default)]
struct Janitor {
    dead_nodes: Vec<usize>,
    removed: usize,
    commands: usize,
}

/// For every registered node whose heartbeat key is gone: walk the clients it owned (HSCAN), SREM
/// each from its user's set, then drop the node's records.
fn janitor(con: &mut impl ConnectionLike, keys: &Keys) -> Result<Janitor> {
    let mut out = Janitor::default();
    let registered: Vec<String> = redis::cmd("SMEMBERS").arg(&keys.nodes).query(con)?;
    out.commands += 1;
    for name in registered {
        let node = NODES.iter().position(|n| *n == name).with_context(|| format!("unknown node {name} in ws:nodes"))?;
        let alive: bool = redis::cmd("EXISTS").arg(&keys.node_alive[node]).query(con)?;
        out.commands += 1;
        if alive {
            continue;
        }
        out.dead_nodes.push(node);
        let mut cursor = 0_u64;
        loop {
            let (next, pairs): (u64, Vec<(String, usize)>) = redis::cmd("HSCAN")
                .arg(&keys.node_clients[node])
                .arg(cursor)
                .arg("COUNT")
                .arg(SCAN_COUNT)
                .query(con)?;
            out.commands += 1;
            if !pairs.is_empty() {
                let mut pipe = redis::pipe();
                for (cid, uid) in &pairs {
                    ensure!((1000..1000 + keys.users.len()).contains(uid), "{cid} has an unknown uid {uid}");
                    pipe.cmd("SREM").arg(keys.user(*uid)).arg(cid);
                }
                let removed: Vec<usize> = pipe.query(con)?;
                out.commands += pairs.len();
                out.removed += removed.iter().sum::<usize>();
            }
            if next == 0 {
                break;
            }
            cursor = next;
        }
        let mut pipe = redis::pipe();
        pipe.atomic().cmd("DEL").arg(&keys.node_clients[node]).ignore().cmd("SREM").arg(&keys.nodes).arg(name).ignore();
        pipe.exec(con)?;
        out.commands += 2;
    }
    Ok(out)
}

struct Outcome {
    conns: Vec<Conn>,
    keys: Keys,
    checkpoints: Vec<Checkpoint>,
    janitor: Janitor,
    janitor_took: Duration,
    waited: Duration,
    graceful: usize,
    crashed: usize,
    /// Users whose set equals the ground truth at the end, and users with no device left whose
    /// set key is gone.
    matched: usize,
    emptied: usize,
    emptied_gone: usize,
    /// One user's set at each checkpoint.
    example: Vec<Vec<String>>,
    example_uid: usize,
    db: Connection,
    /// The SQL janitor's heartbeat cutoff: nodes that beat after it count as alive.
    cutoff: i64,
}

fn scenario(ctx: &Ctx, attempt: usize, users: usize) -> Result<Attempt<Outcome>> {
    let mut con = ctx.connect()?;
    let mut db = sql::open_file(&ctx.scratch.join(format!("ws-clients-{attempt}.db")), Durability::Off)?;
    db.execute_batch(SCHEMA).context("creating the clients tables")?;
    let keys = Keys::new(ctx, attempt, users);
    let mut conns = connections(users);
    let example_uid = example_user(&conns).context("no user with a device on each node")?;
    let snapshot = |con: &mut TracedConnection| -> Result<Vec<String>> {
        let members: BTreeSet<String> = redis::cmd("SMEMBERS").arg(keys.user(example_uid)).query(con)?;
        Ok(members.into_iter().collect())
    };
    let mut example = Vec::new();
    let mut checkpoints = Vec::new();

    // Both nodes start and register.
    for (node, name) in NODES.iter().enumerate() {
        beat(&mut con, &db, &keys, node)?;
        redis::cmd("SADD").arg(&keys.nodes).arg(*name).exec(&mut con)?;
    }
    let mut last_beat = Instant::now();

    // Connect: the user's set and the node's ownership record, in one MULTI.
    let mut pipe = redis::pipe();
    pipe.atomic();
    let tx = db.transaction()?;
    {
        let mut insert = tx.prepare("INSERT INTO ws_clients (client_id, uid, node) VALUES (?1, ?2, ?3)")?;
        for c in &conns {
            pipe.cmd("SADD").arg(keys.user(c.uid)).arg(&c.cid).ignore();
            pipe.cmd("HSET").arg(&keys.node_clients[c.node]).arg(&c.cid).arg(c.uid).ignore();
            insert.execute(params![c.cid, c.uid as i64, NODES[c.node]])?;
        }
    }
    tx.commit()?;
    pipe.exec(&mut con).context("connecting the clients")?;
    checkpoints.push(checkpoint(&mut con, &db, &keys, &conns, Text::msg("moment.connected"))?);
    example.push(snapshot(&mut con)?);

    // Clean disconnects: the node's handler runs SREM + HDEL in one MULTI.
    let mut pipe = redis::pipe();
    pipe.atomic();
    let mut graceful = 0;
    for (j, c) in conns.iter_mut().enumerate() {
        if disconnects_cleanly(j) {
            pipe.cmd("SREM").arg(keys.user(c.uid)).arg(&c.cid).ignore();
            pipe.cmd("HDEL").arg(&keys.node_clients[c.node]).arg(&c.cid).ignore();
            db.execute("DELETE FROM ws_clients WHERE client_id = ?1", [&c.cid])?;
            c.connected = false;
            graceful += 1;
        }
    }
    pipe.exec(&mut con).context("disconnecting clients")?;
    checkpoints.push(checkpoint(
        &mut con,
        &db,
        &keys,
        &conns,
        Text::msg("moment.disconnects").fact("graceful", graceful),
    )?);
    example.push(snapshot(&mut con)?);

    // ws-2 dies: its heartbeat stops and none of its disconnect handlers run.
    let mut crashed = 0;
    for c in conns.iter_mut().filter(|c| c.connected && c.node == DEAD) {
        c.connected = false;
        crashed += 1;
    }
    checkpoints.push(checkpoint(
        &mut con,
        &db,
        &keys,
        &conns,
        Text::msg("moment.node-dies").fact("node", NODES[DEAD]).fact("crashed", crashed),
    )?);

    // ws-1 keeps beating while ws-2's heartbeat key runs out.
    let waited = wait_until_gone(ctx, &mut con, &keys.node_alive[DEAD], |con| {
        if last_beat.elapsed() >= NODE_BEAT {
            for node in (0..NODES.len()).filter(|&n| n != DEAD) {
                beat(con, &db, &keys, node)?;
            }
            last_beat = Instant::now();
        }
        Ok(())
    })?;
    // The live node's last beat before the janitors: it must still count as alive when they look.
    let last_sent = Instant::now();
    for node in (0..NODES.len()).filter(|&n| n != DEAD) {
        beat(&mut con, &db, &keys, node)?;
    }
    checkpoints.push(checkpoint(
        &mut con,
        &db,
        &keys,
        &conns,
        Text::msg("moment.heartbeat-expired").fact("node", NODES[DEAD]),
    )?);
    example.push(snapshot(&mut con)?);

    // The janitors.
    let janitor_started = Instant::now();
    let jan = janitor(&mut con, &keys)?;
    let janitor_took = janitor_started.elapsed();
    let cutoff = now_ms()? - millis(NODE_TTL);
    {
        let tx = db.transaction()?;
        tx.execute(SQL_JANITOR, [cutoff])?;
        tx.execute(SQL_DEAD_NODES, [cutoff])?;
        tx.commit()?;
    }
    let gap = last_sent.elapsed();
    if stalled(gap, NODE_TTL) || jan.dead_nodes != [DEAD] {
        return Ok(Attempt::Stalled(gap));
    }
    checkpoints.push(checkpoint(&mut con, &db, &keys, &conns, Text::msg("moment.janitors"))?);
    example.push(snapshot(&mut con)?);

    let want = truth(&conns, users);
    let have = user_sets(&mut con, &keys)?;
    let matched = have.iter().zip(&want).filter(|(h, w)| h == w).count();
    let empty: Vec<String> =
        keys.users.iter().zip(&want).filter(|(_, w)| w.is_empty()).map(|(k, _)| k.clone()).collect();
    let gone = empty.len() - count_existing(&mut con, &empty)?;
    Ok(Attempt::Done(Outcome {
        conns,
        keys,
        checkpoints,
        janitor: jan,
        janitor_took,
        waited,
        graceful,
        crashed,
        matched,
        emptied: empty.len(),
        emptied_gone: gone,
        example,
        example_uid,
        db,
        cutoff,
    }))
}

/// Clean disconnects, a node that dies without running them, and the janitor that fixes it.
pub fn ws_clients(ctx: &Ctx) -> Result<DemoReport> {
    let mut report = DemoReport::new("ws-clients", Text::msg("title"));
    let users = ctx.n(200, 60);
    let out = with_retries(&mut report, NODE_TTL, |attempt| scenario(ctx, attempt, users))?;
    let Outcome {
        conns,
        keys,
        checkpoints,
        janitor,
        janitor_took,
        waited,
        graceful,
        crashed,
        matched,
        emptied,
        emptied_gone,
        example,
        example_uid,
        db,
        cutoff,
    } = out;
    let n = conns.len();
    let plain = |n: usize| Text::Plain(format_count(n as u64));
    report.table(
        Text::msg("checkpoints")
            .fact("users", users)
            .fact("n", n)
            .fact("nodes", NODES.len())
            .fact("ttl_ms", millis(NODE_TTL))
            .fact("beat_ms", millis(NODE_BEAT)),
        &["moment", "connected", "ids", "orphans", "rows", "online"],
        checkpoints
            .iter()
            .map(|c| {
                vec![
                    c.moment.clone(),
                    plain(c.connected),
                    plain(c.redis_ids),
                    plain(c.redis_orphans),
                    plain(c.sql_rows),
                    plain(c.sql_online),
                ]
            })
            .collect(),
    );
    let node_of = |cid: &str| conns.iter().find(|c| c.cid == cid).map(|c| NODES[c.node]).unwrap_or("?");
    let show = |members: &Vec<String>| {
        if members.is_empty() {
            "—".to_string()
        } else {
            members.iter().map(|m| format!("{m}@{}", node_of(m))).collect::<Vec<_>>().join(", ")
        }
    };
    let moments = ["example.connected", "example.disconnects", "example.node-dead", "example.janitor"];
    report.table(
        Text::msg("example").fact("uid", example_uid.to_string()),
        &["moment", "members"],
        moments.iter().zip(&example).map(|(m, members)| vec![Text::msg(m), Text::Plain(show(members))]).collect(),
    );
    report.note(
        NoteKind::Simulated,
        Text::msg("node-dies").fact("node", NODES[DEAD]).fact("ttl_ms", millis(NODE_TTL)).fact("waited", waited),
    );
    report.note(
        NoteKind::Info,
        Text::msg("janitor")
            .fact("node", NODES[DEAD])
            .fact("commands", janitor.commands)
            .fact("took", janitor_took)
            .fact("emptied_gone", emptied_gone)
            .fact("emptied", emptied),
    );

    // Devices online for one user: what a "push to all of this user's devices" asks first.
    let mut con = ctx.connect()?;
    let user_key = keys.user(example_uid).to_string();
    let want = truth(&conns, users)[example_uid - 1000].len();
    let mut stmt = db.prepare(SQL_ONLINE_OF_USER)?;
    // Both reads take turns in rounds, so a busy moment hits both alike.
    let group = report.measured_group(
        ctx.sampler
            .group()
            .op("redis-scard", "Redis SCARD", Backend::Redis, || {
                let count: usize = redis::cmd("SCARD").arg(&user_key).query(&mut con)?;
                ensure!(count == want, "SCARD returned {count}, expected {want}");
                Ok(())
            })
            .one_round_trip()
            .op("sqlite-join", "SQLite COUNT … JOIN", Backend::Sqlite, || {
                let count: i64 = stmt.query_row(params![example_uid as i64, cutoff], |r| r.get(0))?;
                let count = usize::try_from(count)?;
                ensure!(count == want, "the join counted {count}, expected {want}");
                Ok(())
            })
            .run()?,
    );
    drop(stmt);
    let (redis_online, sql_online) = (group.get("redis-scard"), group.get("sqlite-join"));
    let in_process = report.compare("sqlite-join-vs-scard", sql_online, redis_online)?;
    // Shown after the three claims about orphans (the quiz refers to the SQL one as the third).
    let honest = Claim::ratio_above("in-process-join-beats-scard", "", &in_process, 1.0)
        .fact("sqlite", sql_online.p50())
        .fact("redis", redis_online.p50())
        .fact("ratio", Fact::Ratio(in_process.ratio));

    let [connected, after_disconnects, crash, expired, cleaned] = match <[Checkpoint; 5]>::try_from(checkpoints) {
        Ok(c) => c,
        Err(_) => anyhow::bail!("expected five checkpoints"),
    };
    let holds = graceful > 0
        && connected.redis_orphans == 0
        && after_disconnects.redis_orphans == 0
        && after_disconnects.redis_missing == 0
        && after_disconnects.redis_ids == after_disconnects.connected;
    report.claim(
        Claim::new(
            "clean-disconnects-leave-no-orphans",
            "",
            format_count(after_disconnects.redis_orphans as u64),
            holds,
        )
        .fact("graceful", graceful)
        .fact("ids", after_disconnects.redis_ids)
        .fact("connected", after_disconnects.connected)
        .fact("orphans", after_disconnects.redis_orphans)
        .fact("missing", after_disconnects.redis_missing),
    );

    let holds = crashed > 0
        && crash.redis_orphans == crashed
        && expired.redis_orphans == crashed
        && cleaned.redis_orphans == 0
        && cleaned.redis_missing == 0
        && janitor.removed == crashed
        && matched == users;
    report.claim(
        Claim::new(
            "janitor-removes-dead-node-orphans",
            "",
            format!("{} → {}", expired.redis_orphans, cleaned.redis_orphans),
            holds,
        )
        .fact("node", NODES[DEAD])
        .fact("orphans", crash.redis_orphans)
        .fact("overcount", crash.redis_ids.saturating_sub(crash.connected))
        .fact("expired_orphans", expired.redis_orphans)
        .fact("cleaned_orphans", cleaned.redis_orphans)
        .fact("matched", matched)
        .fact("users", users),
    );

    let holds = expired.sql_online == expired.connected
        && expired.sql_rows == expired.connected + crashed
        && cleaned.sql_rows == cleaned.connected;
    report.claim(
        Claim::new(
            "sql-hides-dead-node-at-read-time",
            "",
            format!("{} → {}", format_count(expired.sql_rows as u64), format_count(cleaned.sql_rows as u64)),
            holds,
        )
        .fact("node", NODES[DEAD])
        .fact("ttl_ms", millis(NODE_TTL))
        .fact("online", expired.sql_online)
        .fact("connected", expired.connected)
        .fact("rows", expired.sql_rows)
        .fact("rows_after", cleaned.sql_rows),
    );
    report.claim(honest);
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn users_have_one_to_three_devices_over_both_nodes() {
        let conns = connections(6);
        let per_user = |uid: usize| conns.iter().filter(|c| c.uid == uid).count();
        assert_eq!((1000..1006).map(per_user).collect::<Vec<_>>(), vec![2, 3, 1, 2, 3, 1]);
        assert!(conns.iter().any(|c| c.node == 0) && conns.iter().any(|c| c.node == 1));
        let ids: BTreeSet<&str> = conns.iter().map(|c| c.cid.as_str()).collect();
        assert_eq!(ids.len(), conns.len());
    }

    #[test]
    fn the_sql_join_ignores_stale_nodes_and_the_janitor_deletes_their_rows() {
        let db = Connection::open_in_memory().unwrap();
        db.execute_batch(SCHEMA).unwrap();
        db.execute_batch(
            "INSERT INTO ws_nodes VALUES ('ws-1', 1000), ('ws-2', 100);
             INSERT INTO ws_clients VALUES ('a', 1, 'ws-1'), ('b', 1, 'ws-2'), ('c', 2, 'ws-2');",
        )
        .unwrap();
        let online = sql_count(&db, SQL_ONLINE, [500]).unwrap();
        assert_eq!(online, 1);
        let of_user = sql_count(&db, SQL_ONLINE_OF_USER, params![1, 500]).unwrap();
        assert_eq!(of_user, 1);
        assert_eq!(db.execute(SQL_JANITOR, [500]).unwrap(), 2);
        assert_eq!(db.execute(SQL_DEAD_NODES, [500]).unwrap(), 1);
    }
}
