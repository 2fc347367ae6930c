//! WebSocket subscriptions (notes: `apps/websocket/internal/svc/redischannel.go`, a Hash
//! channelKey → clientID, subscribe/unsubscribe, automatic expiry after 24 h). A TTL belongs to the
//! whole hash, not to one field: refreshed by every subscriber's heartbeat it never fires, so the
//! fields of crashed clients stay for good; set once, it drops every live subscriber when it fires.
//! On Redis 7.0 (no HPEXPIRE) each member gets its own deadline in a sorted set next to the hash,
//! and a prune script removes members whose deadline passed. The SQL twin is a table with an
//! `expires_at` column and a DELETE sweep.

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, ensure};
use redis::ConnectionLike;
use rusqlite::{Connection, params};

use super::{Attempt, Gaps, Pacer, attempt_key, millis, now_ms, pttl, pttl_text, sql_count, stalled, with_retries};
use crate::demo::{Ctx, DemoReport, NoteKind};
use crate::i18n::Lang;
use crate::measure::{Backend, Claim, Verdict, format_count, format_duration, format_ratio};
use crate::sql::{self, Durability};

/// The notes' 24 h, scaled down.
const TTL: Duration = Duration::from_millis(500);
/// Live clients confirm their subscriptions this often.
const HEARTBEAT: Duration = Duration::from_millis(100);
/// How long the gateway runs after the crashes: well past one TTL.
const RUN_FOR: Duration = Duration::from_millis(800);
/// The gateway's channel keys: K-lines, tickers, trades and depth of a few tokens.
const CHANNELS: [&str; 10] = [
    "kline:sol:1m",
    "kline:eth:1m",
    "kline:btc:1m",
    "kline:sol:5m",
    "ticker:sol",
    "ticker:eth",
    "ticker:btc",
    "trades:sol",
    "trades:eth",
    "depth:sol",
];
const NODES: [&str; 2] = ["ws-1", "ws-2"];
/// The deadline design's whole-key safety net: refreshed while anyone on the channel is alive, it
/// only fires for a channel abandoned this long (every member's deadline is long past by then).
const SAFETY_TTL: Duration = Duration::from_millis(2_000);
/// How long the fan-out timing keeps its channel's deadline set alive.
const TIMING_HOLD: Duration = Duration::from_secs(60);
/// Members pruned per script call (the script's reply says whether more are due).
const PRUNE_BATCH: usize = 500;

/// The janitor for one channel: members whose deadline passed leave the hash and the deadline set
/// together, atomically. KEYS: hash, deadlines; ARGV: now (ms), batch size. Replies how many.
const PRUNE_SCRIPT: &str = "local dead = redis.call('ZRANGE', KEYS[2], '-inf', ARGV[1], 'BYSCORE', 'LIMIT', 0, ARGV[2]) \
     if #dead > 0 then \
       redis.call('HDEL', KEYS[1], unpack(dead)) \
       redis.call('ZREM', KEYS[2], unpack(dead)) \
     end \
     return #dead";

const SCHEMA: &str = "
CREATE TABLE ws_subscriptions (
    channel    TEXT NOT NULL,
    client_id  TEXT NOT NULL,
    node       TEXT NOT NULL,
    expires_at INTEGER NOT NULL,
    PRIMARY KEY (channel, client_id)
);
CREATE INDEX ws_subscriptions_client ON ws_subscriptions (client_id);
CREATE INDEX ws_subscriptions_expires_at ON ws_subscriptions (expires_at);";

const SQL_SUBSCRIBE: &str =
    "INSERT INTO ws_subscriptions (channel, client_id, node, expires_at) VALUES (?1, ?2, ?3, ?4)";
/// One node's heartbeat: the deadline of every subscription of its live clients (a JSON array).
const SQL_HEARTBEAT: &str =
    "UPDATE ws_subscriptions SET expires_at = ?1 WHERE node = ?2 AND client_id IN (SELECT value FROM json_each(?3))";
const SQL_UNSUBSCRIBE: &str = "DELETE FROM ws_subscriptions WHERE channel = ?1 AND client_id = ?2";
const SQL_SWEEP: &str = "DELETE FROM ws_subscriptions WHERE expires_at <= ?1";
const SQL_FANOUT: &str = "SELECT client_id, node FROM ws_subscriptions WHERE channel = ?1 AND expires_at > ?2";

/// What happens to a client during the demo.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Fate {
    Live,
    /// Unsubscribes from its first channel in round 1.
    Unsubscribes,
    /// Disconnects cleanly in round 2: its node removes every subscription it holds.
    Disconnects,
    /// Its node loses it right after it subscribed: no unsubscribe ever reaches Redis.
    Crashes,
}

impl Fate {
    fn of(i: usize) -> Fate {
        match i % 10 {
            9 => Fate::Crashes,
            8 => Fate::Disconnects,
            7 => Fate::Unsubscribes,
            _ => Fate::Live,
        }
    }
}

/// How a channel's subscribers expire.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Scheme {
    /// The notes: one hash, PEXPIRE on every subscribe and heartbeat.
    Refreshed,
    /// One hash, PEXPIRE … NX: the TTL is set once, when the channel appears.
    Once,
    /// One hash plus a deadline per member in a sorted set, pruned by a script.
    Deadline,
}

impl Scheme {
    const ALL: [Scheme; 3] = [Scheme::Refreshed, Scheme::Once, Scheme::Deadline];

    fn tag(self) -> &'static str {
        match self {
            Scheme::Refreshed => "notes",
            Scheme::Once => "once",
            Scheme::Deadline => "fixed",
        }
    }

    fn index(self) -> usize {
        match self {
            Scheme::Refreshed => 0,
            Scheme::Once => 1,
            Scheme::Deadline => 2,
        }
    }

    fn label(self, ctx: &Ctx) -> &'static str {
        match self {
            Scheme::Refreshed => ctx.tr(
                "hash + PEXPIRE on every subscribe and heartbeat (the notes' 24 h)",
                "哈希 + 每次订阅和心跳都 PEXPIRE（笔记中的 24 小时）",
            ),
            Scheme::Once => ctx.tr(
                "hash + PEXPIRE … NX, set once when the channel appears",
                "哈希 + PEXPIRE … NX，只在频道出现时设置一次",
            ),
            Scheme::Deadline => ctx.tr(
                "hash + per-member deadline (sorted set) + prune script",
                "哈希 + 每个成员各自的截止时间（有序集合）+ 清理脚本",
            ),
        }
    }
}

struct Client {
    cid: String,
    node: &'static str,
    fate: Fate,
    /// Channels (indexes into [`CHANNELS`]) it holds now, as the client itself knows them.
    channels: Vec<usize>,
    /// False once it crashed or disconnected: it sends nothing more.
    connected: bool,
}

/// The three distinct channels client `i` subscribes to.
fn channels_of(i: usize) -> Vec<usize> {
    let n = CHANNELS.len();
    vec![i % n, (i + 3) % n, (i + 7) % n]
}

/// Every key of one attempt.
struct Keys {
    /// hash[scheme][channel]: `{tag}:ws:sub:{channelKey}` (client id → node).
    hash: [Vec<String>; 3],
    /// deadlines[channel]: `fixed:ws:sub:{channelKey}:deadlines` (client id → deadline ms).
    deadlines: Vec<String>,
    /// `PEXPIRE … NX` exists (Redis 7.0+). Without it the set-once scheme sends a plain PEXPIRE,
    /// which here is the same thing: every channel is created once, at the start.
    expire_nx: bool,
}

impl Keys {
    fn new(ctx: &Ctx, attempt: usize) -> Keys {
        let hash = Scheme::ALL.map(|s| {
            CHANNELS.iter().map(|ch| attempt_key(ctx, attempt, &format!("{}:ws:sub:{ch}", s.tag()))).collect()
        });
        let deadlines = CHANNELS
            .iter()
            .map(|ch| attempt_key(ctx, attempt, &format!("{}:ws:sub:{ch}:deadlines", Scheme::Deadline.tag())))
            .collect();
        Keys { hash, deadlines, expire_nx: ctx.version().at_least(7, 0) }
    }
}

/// Queue the subscriptions of one node's clients to one channel in every scheme (the clients
/// connect in a burst, so the node sends them as one command per key).
fn subscribe(pipe: &mut redis::Pipeline, keys: &Keys, ch: usize, node: &str, cids: &[&str], deadline: i64) {
    let ttl = millis(TTL);
    for s in Scheme::ALL {
        let hash = &keys.hash[s.index()][ch];
        let hset = pipe.cmd("HSET").arg(hash);
        for cid in cids {
            hset.arg(*cid).arg(node);
        }
        hset.ignore();
        match s {
            Scheme::Refreshed => pipe.cmd("PEXPIRE").arg(hash).arg(ttl).ignore(),
            Scheme::Once if keys.expire_nx => pipe.cmd("PEXPIRE").arg(hash).arg(ttl).arg("NX").ignore(),
            Scheme::Once => pipe.cmd("PEXPIRE").arg(hash).arg(ttl).ignore(),
            Scheme::Deadline => {
                let zadd = pipe.cmd("ZADD").arg(&keys.deadlines[ch]);
                for cid in cids {
                    zadd.arg(deadline).arg(*cid);
                }
                zadd.ignore()
            }
        };
    }
    safety_net(pipe, keys, ch);
}

/// Group the connected clients' subscriptions by (node, channel).
fn by_node_and_channel(clients: &[Client]) -> BTreeMap<(&'static str, usize), Vec<&str>> {
    let mut groups: BTreeMap<(&'static str, usize), Vec<&str>> = BTreeMap::new();
    for c in clients.iter().filter(|c| c.connected) {
        for &ch in &c.channels {
            groups.entry((c.node, ch)).or_default().push(&c.cid);
        }
    }
    groups
}

/// Queue the deadline design's whole-key safety net on a channel's two keys.
fn safety_net(pipe: &mut redis::Pipeline, keys: &Keys, ch: usize) {
    let ms = millis(SAFETY_TTL);
    pipe.cmd("PEXPIRE").arg(&keys.hash[Scheme::Deadline.index()][ch]).arg(ms).ignore();
    pipe.cmd("PEXPIRE").arg(&keys.deadlines[ch]).arg(ms).ignore();
}

/// Queue one node's heartbeat for its live clients on one channel, batched as a gateway node
/// would send it: the notes re-write the fields and refresh the whole hash's TTL; the deadline
/// scheme moves each member's deadline (XX: never re-adds a member the janitor removed); the
/// set-once scheme has nothing to refresh.
fn heartbeat(pipe: &mut redis::Pipeline, keys: &Keys, ch: usize, node: &str, cids: &[&str], deadline: i64) {
    if cids.is_empty() {
        return;
    }
    let refreshed = &keys.hash[Scheme::Refreshed.index()][ch];
    let hset = pipe.cmd("HSET").arg(refreshed);
    for cid in cids {
        hset.arg(*cid).arg(node);
    }
    hset.ignore();
    pipe.cmd("PEXPIRE").arg(refreshed).arg(millis(TTL)).ignore();
    let zadd = pipe.cmd("ZADD").arg(&keys.deadlines[ch]).arg("XX");
    for cid in cids {
        zadd.arg(deadline).arg(*cid);
    }
    zadd.ignore();
    safety_net(pipe, keys, ch);
}

/// Queue an unsubscribe in every scheme.
fn unsubscribe(pipe: &mut redis::Pipeline, keys: &Keys, ch: usize, cid: &str) {
    for s in Scheme::ALL {
        pipe.cmd("HDEL").arg(&keys.hash[s.index()][ch]).arg(cid).ignore();
    }
    pipe.cmd("ZREM").arg(&keys.deadlines[ch]).arg(cid).ignore();
}

/// Run the prune script on every channel until nothing is due; how many members it removed.
fn prune(con: &mut impl ConnectionLike, sha: &str, keys: &Keys, now: i64) -> Result<usize> {
    let mut removed = 0;
    loop {
        let mut pipe = redis::pipe();
        for ch in 0..CHANNELS.len() {
            pipe.cmd("EVALSHA")
                .arg(sha)
                .arg(2)
                .arg(&keys.hash[Scheme::Deadline.index()][ch])
                .arg(&keys.deadlines[ch])
                .arg(now)
                .arg(PRUNE_BATCH);
        }
        let counts: Vec<usize> = pipe.query(con).context("pruning expired subscribers")?;
        removed += counts.iter().sum::<usize>();
        if counts.iter().all(|&c| c < PRUNE_BATCH) {
            return Ok(removed);
        }
    }
}

/// One scheme's result against the ground truth.
#[derive(Debug, Default, Clone, Copy)]
struct Tally {
    kept: usize,
    dropped: usize,
    orphans: usize,
}

/// Compare each channel's hash fields with the subscriptions that should exist.
fn tally(con: &mut impl ConnectionLike, hashes: &[String], truth: &[BTreeSet<String>]) -> Result<Tally> {
    let mut pipe = redis::pipe();
    for h in hashes {
        pipe.cmd("HKEYS").arg(h);
    }
    let fields: Vec<BTreeSet<String>> = pipe.query(con)?;
    let mut t = Tally::default();
    for (have, want) in fields.iter().zip(truth) {
        t.kept += have.intersection(want).count();
        t.dropped += want.difference(have).count();
        t.orphans += have.difference(want).count();
    }
    Ok(t)
}

/// Channels whose deadline set and hash list different members.
fn index_mismatches(con: &mut impl ConnectionLike, keys: &Keys) -> Result<usize> {
    let mut pipe = redis::pipe();
    for ch in 0..CHANNELS.len() {
        pipe.cmd("HKEYS").arg(&keys.hash[Scheme::Deadline.index()][ch]);
        pipe.cmd("ZRANGE").arg(&keys.deadlines[ch]).arg(0).arg(-1);
    }
    let lists: Vec<BTreeSet<String>> = pipe.query(con)?;
    Ok(lists.chunks(2).filter(|pair| pair[0] != pair[1]).count())
}

struct Outcome {
    /// The longest time a live subscription went between two heartbeats.
    max_gap: Duration,
    clients: Vec<Client>,
    keys: Keys,
    truth: Vec<BTreeSet<String>>,
    tallies: [Tally; 3],
    /// PTTL of the first channel's hash, per scheme, at the end.
    pttls: [i64; 3],
    pruned: usize,
    mismatches: usize,
    sql_live: usize,
    sql_expired: usize,
    db: Connection,
    counted_at: i64,
    subscribed: usize,
    unsubscribed: usize,
    disconnected: usize,
    crashed: usize,
}

fn scenario(ctx: &Ctx, attempt: usize, n: usize) -> Result<Attempt<Outcome>> {
    let mut con = ctx.connect()?;
    let prune_sha = redis::Script::new(PRUNE_SCRIPT).load(&mut con).context("SCRIPT LOAD of the prune script")?;
    let mut db = sql::open_file(&ctx.scratch.join(format!("ws-subscriptions-{attempt}.db")), Durability::Off)?;
    db.execute_batch(SCHEMA).context("creating the subscriptions table")?;
    let keys = Keys::new(ctx, attempt);
    let ttl = millis(TTL);
    let mut clients: Vec<Client> = (0..n)
        .map(|i| Client {
            cid: format!("cl-{i:04}"),
            node: NODES[i % NODES.len()],
            fate: Fate::of(i),
            channels: channels_of(i),
            connected: true,
        })
        .collect();

    // Everyone subscribes; then the doomed clients' node loses them without a word. SQL first:
    // only the Redis side is timed against its TTL during the run.
    let mut subscribed = 0;
    let sql_now = now_ms()?;
    let tx = db.transaction()?;
    {
        let mut insert = tx.prepare_cached(SQL_SUBSCRIBE)?;
        for c in &clients {
            for &ch in &c.channels {
                insert.execute(params![CHANNELS[ch], c.cid, c.node, sql_now + ttl])?;
                subscribed += 1;
            }
        }
    }
    tx.commit()?;
    let mut pipe = redis::pipe();
    pipe.atomic();
    let setup_started = Instant::now();
    let now = now_ms()?;
    for ((node, ch), cids) in &by_node_and_channel(&clients) {
        subscribe(&mut pipe, &keys, *ch, node, cids, now + ttl);
    }
    pipe.exec(&mut con).context("subscribing the clients")?;
    let mut crashed = 0;
    for c in clients.iter_mut().filter(|c| c.fate == Fate::Crashes) {
        c.connected = false;
        crashed += 1;
    }

    let (mut unsubscribed, mut disconnected, mut pruned) = (0, 0, 0);
    let mut pacer = Pacer::new(HEARTBEAT);
    let mut gaps = Gaps::new(setup_started);
    let started = Instant::now();
    let mut round = 0;
    while started.elapsed() < RUN_FOR {
        pacer.wait(ctx)?;
        let start = Instant::now();
        let now = now_ms()?;
        // This round's unsubscribes and clean disconnects: (client, channel).
        let mut leaving: Vec<(usize, usize)> = Vec::new();
        for (i, c) in clients.iter_mut().enumerate().filter(|(_, c)| c.connected) {
            let gone: Vec<usize> = match (c.fate, round) {
                (Fate::Unsubscribes, 1) => c.channels.drain(..1).collect(),
                (Fate::Disconnects, 2) => {
                    c.connected = false;
                    disconnected += 1;
                    c.channels.drain(..).collect()
                }
                _ => Vec::new(),
            };
            leaving.extend(gone.into_iter().map(|ch| (i, ch)));
        }
        let mut pipe = redis::pipe();
        pipe.atomic();
        for &(i, ch) in &leaving {
            unsubscribe(&mut pipe, &keys, ch, &clients[i].cid);
        }
        for ((node, ch), cids) in &by_node_and_channel(&clients) {
            heartbeat(&mut pipe, &keys, *ch, node, cids, now + ttl);
        }
        pipe.exec(&mut con).context("heartbeats and unsubscribes")?;
        pruned += prune(&mut con, &prune_sha, &keys, now)?;
        gaps.refreshed(start);
        let tx = db.transaction()?;
        {
            let mut leave = tx.prepare_cached(SQL_UNSUBSCRIBE)?;
            for &(i, ch) in &leaving {
                leave.execute(params![CHANNELS[ch], clients[i].cid])?;
                unsubscribed += 1;
            }
            let mut beat = tx.prepare_cached(SQL_HEARTBEAT)?;
            for node in NODES {
                let live: Vec<&str> =
                    clients.iter().filter(|c| c.connected && c.node == node).map(|c| c.cid.as_str()).collect();
                beat.execute(params![now + ttl, node, serde_json::to_string(&live)?])?;
            }
        }
        tx.commit()?;
        round += 1;
    }
    if stalled(gaps.max(), TTL) {
        return Ok(Attempt::Stalled(gaps.max()));
    }

    let counted_at = now_ms()?;
    pruned += prune(&mut con, &prune_sha, &keys, counted_at)?;
    let mut truth = vec![BTreeSet::new(); CHANNELS.len()];
    for c in clients.iter().filter(|c| c.connected) {
        for &ch in &c.channels {
            truth[ch].insert(c.cid.clone());
        }
    }
    let mut tallies = [Tally::default(); 3];
    let mut pttls = [0; 3];
    for s in Scheme::ALL {
        tallies[s.index()] = tally(&mut con, &keys.hash[s.index()], &truth)?;
        pttls[s.index()] = pttl(&mut con, &keys.hash[s.index()][0])?;
    }
    let mismatches = index_mismatches(&mut con, &keys)?;
    let sql_live = sql_count(&db, "SELECT COUNT(*) FROM ws_subscriptions WHERE expires_at > ?1", [counted_at])?;
    let sql_expired = sql_count(&db, "SELECT COUNT(*) FROM ws_subscriptions WHERE expires_at <= ?1", [counted_at])?;
    Ok(Attempt::Done(Outcome {
        max_gap: gaps.max(),
        clients,
        keys,
        truth,
        tallies,
        pttls,
        pruned,
        mismatches,
        sql_live,
        sql_expired,
        db,
        counted_at,
        subscribed,
        unsubscribed,
        disconnected,
        crashed,
    }))
}

/// Crashed WebSocket clients under three expiry designs, and the SQL table's sweep.
pub fn ws_subscriptions(ctx: &Ctx) -> Result<DemoReport> {
    let mut report = DemoReport::new(
        "ws-subscriptions",
        ctx.tr(
            "WebSocket subscriptions: a TTL per hash cannot expire one crashed client",
            "WebSocket 订阅关系：整个哈希的 TTL 无法让单个崩溃的客户端过期",
        ),
    );
    let n = ctx.n(1_000, 200);
    let out = with_retries(ctx, &mut report, TTL, |attempt| scenario(ctx, attempt, n))?;
    let Outcome {
        max_gap,
        clients,
        keys,
        truth,
        tallies,
        pttls,
        pruned,
        mismatches,
        sql_live,
        sql_expired,
        db,
        counted_at,
        subscribed,
        unsubscribed,
        disconnected,
        crashed,
    } = out;
    let live_total: usize = truth.iter().map(BTreeSet::len).sum();
    let orphans_made = clients.iter().filter(|c| c.fate == Fate::Crashes).map(|c| c.channels.len()).sum::<usize>();
    let swept = db.execute(SQL_SWEEP, [counted_at])?;
    let sql_expired_after =
        sql_count(&db, "SELECT COUNT(*) FROM ws_subscriptions WHERE expires_at <= ?1", [counted_at])?;

    let unsub_clients = clients.iter().filter(|c| c.fate == Fate::Unsubscribes).count();
    report.finding(
        match ctx.lang {
            Lang::En => format!(
                "{} clients on {} nodes subscribe to 3 of {} channels each; the TTL (24 h in the notes) is {} ms here",
                format_count(n as u64),
                NODES.len(),
                CHANNELS.len(),
                millis(TTL)
            ),
            Lang::Zh => format!(
                "{} 个客户端分布在 {} 个节点上，每个订阅 {} 个频道中的 3 个；TTL（笔记中是 24 小时）这里是 {} 毫秒",
                format_count(n as u64),
                NODES.len(),
                CHANNELS.len(),
                millis(TTL)
            ),
        },
        &[ctx.tr("event", "事件"), ctx.tr("clients", "客户端数"), ctx.tr("subscriptions", "订阅数")],
        vec![
            vec![
                ctx.tr("subscribe (HSET, in MULTI with its expiry)", "订阅（HSET，与过期设置同在一个 MULTI 中）")
                    .to_string(),
                format_count(n as u64),
                format_count(subscribed as u64),
            ],
            vec![
                ctx.tr("unsubscribe from one channel (HDEL)", "取消订阅一个频道（HDEL）").to_string(),
                format_count(unsub_clients as u64),
                format_count(unsub_clients as u64),
            ],
            vec![
                ctx.tr(
                    "disconnect cleanly: the node HDELs each channel it knows the client holds",
                    "正常断开：节点对它记录的该客户端的每个频道执行 HDEL",
                )
                .to_string(),
                format_count(disconnected as u64),
                format_count((unsubscribed - unsub_clients) as u64),
            ],
            vec![
                ctx.tr("crash: no unsubscribe ever arrives", "崩溃：永远不会收到取消订阅").to_string(),
                format_count(crashed as u64),
                format_count(orphans_made as u64),
            ],
            vec![
                ctx.tr("still subscribed (ground truth)", "仍在订阅（真实情况）").to_string(),
                format_count(clients.iter().filter(|c| c.connected).count() as u64),
                format_count(live_total as u64),
            ],
        ],
    );
    let mut rows: Vec<Vec<String>> = Scheme::ALL
        .iter()
        .map(|&s| {
            let t = tallies[s.index()];
            vec![
                s.label(ctx).to_string(),
                format!("{} / {}", format_count(t.kept as u64), format_count(live_total as u64)),
                format_count(t.dropped as u64),
                format_count(t.orphans as u64),
                pttl_text(ctx, pttls[s.index()]),
            ]
        })
        .collect();
    rows.push(vec![
        ctx.tr("SQLite: expires_at column, before the sweep", "SQLite：expires_at 列，清理之前").to_string(),
        format!("{} / {}", format_count(sql_live as u64), format_count(live_total as u64)),
        format_count(live_total.saturating_sub(sql_live) as u64),
        format_count(sql_expired as u64),
        "—".to_string(),
    ]);
    rows.push(vec![
        ctx.tr("SQLite: after DELETE … WHERE expires_at <= now", "SQLite：执行 DELETE … WHERE expires_at <= now 之后")
            .to_string(),
        format!("{} / {}", format_count(sql_live as u64), format_count(live_total as u64)),
        format_count(live_total.saturating_sub(sql_live) as u64),
        format_count(sql_expired_after as u64),
        "—".to_string(),
    ]);
    report.finding(
        match ctx.lang {
            Lang::En => format!(
                "After {} ms of heartbeats every {} ms (TTL {} ms; longest gap between two: {}), the channels against the ground truth",
                RUN_FOR.as_millis(),
                HEARTBEAT.as_millis(),
                millis(TTL),
                format_duration(max_gap)
            ),
            Lang::Zh => format!(
                "每 {} 毫秒一次心跳、持续 {} 毫秒之后（TTL {} 毫秒；两次心跳之间最长间隔 {}），各频道与真实情况的对比",
                HEARTBEAT.as_millis(),
                RUN_FOR.as_millis(),
                millis(TTL),
                format_duration(max_gap)
            ),
        },
        &[
            ctx.tr("design", "设计"),
            ctx.tr("live subscriptions kept", "保留的有效订阅"),
            ctx.tr("live ones dropped", "被误删的有效订阅"),
            ctx.tr("orphans of crashed clients", "崩溃客户端留下的孤儿订阅"),
            match ctx.lang {
                Lang::En => "PTTL of ws:sub:kline:sol:1m",
                Lang::Zh => "ws:sub:kline:sol:1m 的 PTTL",
            },
        ],
        rows,
    );
    report.note(
        NoteKind::Simulated,
        match ctx.lang {
            Lang::En => format!(
                "Time is scaled: the notes' 24 h expiry is {} ms here. A crash is simulated by a client that stops sending anything right after it subscribed.",
                millis(TTL)
            ),
            Lang::Zh => format!(
                "时间按比例缩短：笔记中 24 小时的过期时间在这里是 {} 毫秒。崩溃的模拟方式是：客户端订阅之后就再也不发送任何东西。",
                millis(TTL)
            ),
        },
    );
    let version = ctx.version();
    report.note(
        NoteKind::Info,
        if version.at_least(7, 4) {
            match ctx.lang {
                Lang::En => format!(
                    "This server ({version}) has hash-field expiry (Redis 7.4+): `HPEXPIRE ws:sub:{{ch}} ms FIELDS 1 {{cid}}` on each heartbeat gives every field its own TTL, and the server removes expired fields itself, with no deadline set and no janitor. The sorted-set design used here works on every version."
                ),
                Lang::Zh => format!(
                    "这台服务器（{version}）支持哈希字段过期（Redis 7.4+）：每次心跳执行 `HPEXPIRE ws:sub:{{ch}} 毫秒数 FIELDS 1 {{cid}}`，每个字段就有了自己的 TTL，过期字段由服务器自行删除，不再需要截止时间集合和清理任务。这里用的有序集合方案在所有版本上都能用。"
                ),
            }
        } else {
            match ctx.lang {
                Lang::En => format!(
                    "Redis {version} has no per-field TTL (HEXPIRE/HPEXPIRE arrived in 7.4), so each member's deadline lives in a sorted set next to the hash (score = deadline in ms), and a Lua prune script removes members whose deadline passed from both keys at once (ZRANGE … BYSCORE, HDEL, ZREM). Like the SQL table, this needs a periodic janitor; on 7.4+ HPEXPIRE makes the server do it. The two keys also carry a whole-key PEXPIRE of {} ms, refreshed while any subscriber is alive: a safety net for a channel nobody uses any more.",
                    millis(SAFETY_TTL)
                ),
                Lang::Zh => format!(
                    "Redis {version} 没有字段级 TTL（HEXPIRE/HPEXPIRE 在 7.4 才加入），所以每个成员的截止时间放在哈希旁边的有序集合里（分数 = 截止时间的毫秒数），由一个 Lua 清理脚本把截止时间已过的成员同时从两个键里删掉（ZRANGE … BYSCORE、HDEL、ZREM）。和 SQL 表一样，它需要定期运行的清理任务；在 7.4+ 上用 HPEXPIRE 就可以交给服务器完成。这两个键还带着 {} 毫秒的整键 PEXPIRE，只要还有订阅者存活就会被刷新：它是给已经没人使用的频道准备的安全网。",
                    millis(SAFETY_TTL)
                ),
            }
        },
    );

    // The hot path: who is subscribed to a channel right now (every K-line tick asks).
    let fanout_ch = 0;
    let want = truth[fanout_ch].len();
    let mut con = ctx.connect()?;
    let deadlines = &keys.deadlines[fanout_ch];
    // While the gateway runs, its heartbeats keep the channel's safety net fresh; the demo's
    // heartbeats have stopped, so hold the key for the time the sampler needs.
    redis::cmd("PEXPIRE").arg(deadlines).arg(millis(TIMING_HOLD)).exec(&mut con)?;
    let mut stmt = db.prepare(SQL_FANOUT)?;
    // Both reads take turns in rounds, so a busy moment hits both alike.
    let group = report.measured_group(
        ctx.sampler
            .group()
            .op(
                "redis-fanout",
                ctx.tr(
                    "Redis: live subscribers of a channel (ZRANGE deadlines now +inf BYSCORE)",
                    "Redis：某频道当前的有效订阅者（ZRANGE deadlines now +inf BYSCORE）",
                ),
                Backend::Redis,
                || {
                    let cids: Vec<String> = redis::cmd("ZRANGE")
                        .arg(deadlines)
                        .arg(counted_at)
                        .arg("+inf")
                        .arg("BYSCORE")
                        .query(&mut con)?;
                    ensure!(cids.len() == want, "ZRANGE returned {} subscribers, expected {want}", cids.len());
                    Ok(())
                },
            )
            .op(
                "sqlite-fanout",
                ctx.tr(
                    "SQLite: SELECT … WHERE channel = ? AND expires_at > ?",
                    "SQLite：SELECT … WHERE channel = ? AND expires_at > ?",
                ),
                Backend::Sqlite,
                || {
                    let rows = stmt
                        .query_map(params![CHANNELS[fanout_ch], counted_at], |r| r.get::<_, String>(0))?
                        .collect::<rusqlite::Result<Vec<String>>>()?;
                    ensure!(rows.len() == want, "the query returned {} subscribers, expected {want}", rows.len());
                    Ok(())
                },
            )
            .run()?,
    );
    drop(stmt);
    let (redis_fanout, sql_fanout) = (group.get("redis-fanout"), group.get("sqlite-fanout"));
    let in_process = report.compare("sqlite-fanout-vs-redis-fanout", sql_fanout, redis_fanout)?;
    // A note, not a claim: the two sides are close, and which one wins depends on the machine and
    // the channel's size; the interval says which one did here, or that this run cannot tell.
    let clear = in_process.status == Verdict::Clear;
    report.note(
        NoteKind::Info,
        match (ctx.lang, clear, in_process.ratio >= 1.0) {
            (Lang::En, false, _) => in_process.describe(),
            (Lang::Zh, false, _) => in_process.describe_zh(),
            (Lang::En, true, true) => format!(
                "Honestly: reading {want} subscribers from in-process SQLite ({}) beat the Redis round trip ({}) by {}. The gateway's nodes are separate processes on separate machines, though: they need a shared store, and for them the choice is a network round trip either way.",
                format_duration(sql_fanout.p50()),
                format_duration(redis_fanout.p50()),
                format_ratio(in_process.ratio)
            ),
            (Lang::En, true, false) => format!(
                "Reading {want} subscribers took {} from Redis against {} from SQLite ({} faster).",
                format_duration(redis_fanout.p50()),
                format_duration(sql_fanout.p50()),
                format_ratio(1.0 / in_process.ratio)
            ),
            (Lang::Zh, true, true) => format!(
                "实话实说：从进程内的 SQLite 读出 {want} 个订阅者（{}）比 Redis 往返（{}）快 {}。但网关的各个节点是不同机器上的不同进程：它们需要一个共享存储，对它们来说无论选哪个都要走一次网络往返。",
                format_duration(sql_fanout.p50()),
                format_duration(redis_fanout.p50()),
                format_ratio(in_process.ratio)
            ),
            (Lang::Zh, true, false) => format!(
                "读出 {want} 个订阅者：Redis 用了 {}，SQLite 用了 {}（快 {}）。",
                format_duration(redis_fanout.p50()),
                format_duration(sql_fanout.p50()),
                format_ratio(1.0 / in_process.ratio)
            ),
        },
    );
    report.note(
        NoteKind::Caveat,
        ctx.tr(
            "HGETALL on a channel with 100,000 subscribers blocks the server while it builds the reply; read big channels with HSCAN, or keep them small by sharding the channel key.",
            "对一个有 10 万订阅者的频道执行 HGETALL，会在构造回复期间阻塞服务器；大频道要用 HSCAN 分批读取，或者把频道键分片，让每个哈希保持较小。",
        ),
    );

    let [refreshed, once, deadline] = tallies;
    let holds = refreshed.orphans == orphans_made
        && orphans_made > 0
        && refreshed.dropped == 0
        && deadline.orphans == 0
        && deadline.dropped == 0
        && mismatches == 0;
    let text = match ctx.lang {
        Lang::En => format!(
            "{} crashed clients left {} subscriptions; {} ms later (TTL {} ms) the notes' whole-hash PEXPIRE, refreshed by every heartbeat, still held {} of them; per-member deadlines and the prune script ({} removed) held {}, and dropped {} of {} live subscriptions",
            crashed,
            orphans_made,
            RUN_FOR.as_millis(),
            millis(TTL),
            refreshed.orphans,
            pruned,
            deadline.orphans,
            deadline.dropped,
            format_count(live_total as u64)
        ),
        Lang::Zh => format!(
            "{} 个崩溃的客户端留下了 {} 个订阅；{} 毫秒之后（TTL {} 毫秒），笔记中按整个哈希设置、每次心跳都刷新的 PEXPIRE 仍保留其中 {} 个；每个成员各自的截止时间加清理脚本（删除了 {} 个）只剩 {} 个，{} 个有效订阅中误删 {} 个",
            crashed,
            orphans_made,
            RUN_FOR.as_millis(),
            millis(TTL),
            refreshed.orphans,
            pruned,
            deadline.orphans,
            format_count(live_total as u64),
            deadline.dropped
        ),
    };
    report.claim(Claim::new(
        "per-member-deadlines-remove-orphans",
        text,
        format!("{} → {}", refreshed.orphans, deadline.orphans),
        holds,
    ));

    let holds = once.dropped == live_total && live_total > 0 && once.orphans == 0;
    let text = match ctx.lang {
        Lang::En => format!(
            "Setting the whole hash's TTL only once removes the orphans ({}) but, when it fired, it also dropped {} of {} live subscriptions",
            once.orphans,
            format_count(once.dropped as u64),
            format_count(live_total as u64)
        ),
        Lang::Zh => format!(
            "整个哈希的 TTL 只设置一次，孤儿订阅是没了（{} 个），但它到期时把 {} 个有效订阅中的 {} 个也一起删掉了",
            once.orphans,
            format_count(live_total as u64),
            format_count(once.dropped as u64)
        ),
    };
    report.claim(Claim::new(
        "one-shot-ttl-drops-live-subscribers",
        text,
        format!("{} / {}", format_count(once.dropped as u64), format_count(live_total as u64)),
        holds,
    ));

    let holds =
        sql_expired == orphans_made && swept == orphans_made && sql_expired_after == 0 && sql_live == live_total;
    let text = match ctx.lang {
        Lang::En => format!(
            "The SQL table kept all {} rows of the crashed clients (hidden from readers only by WHERE expires_at > now) until the sweep deleted {}; {} were left",
            sql_expired, swept, sql_expired_after
        ),
        Lang::Zh => format!(
            "SQL 表一直保留着崩溃客户端的全部 {} 行（只是靠 WHERE expires_at > now 对读者隐藏），直到清理任务删除了 {} 行；剩下 {} 行",
            sql_expired, swept, sql_expired_after
        ),
    };
    report.claim(Claim::new("sql-rows-stay-until-sweep", text, format!("{sql_expired} → {sql_expired_after}"), holds));
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_client_holds_three_distinct_channels() {
        for i in 0..100 {
            let chs: BTreeSet<usize> = channels_of(i).into_iter().collect();
            assert_eq!(chs.len(), 3, "client {i}");
        }
    }

    #[test]
    fn one_client_in_ten_crashes() {
        let crashes = (0..1_000).filter(|&i| Fate::of(i) == Fate::Crashes).count();
        assert_eq!(crashes, 100);
    }

    #[test]
    fn the_sql_sweep_and_fanout_see_the_deadline() {
        let db = Connection::open_in_memory().unwrap();
        db.execute_batch(SCHEMA).unwrap();
        for (ch, cid, exp) in [("ticker:sol", "a", 500), ("ticker:sol", "b", 1_500), ("ticker:eth", "a", 500)] {
            db.execute(SQL_SUBSCRIBE, params![ch, cid, "ws-1", exp]).unwrap();
        }
        assert_eq!(db.execute(SQL_HEARTBEAT, params![2_000, "ws-1", r#"["a","z"]"#]).unwrap(), 2);
        let live: Vec<String> = db
            .prepare(SQL_FANOUT)
            .unwrap()
            .query_map(params!["ticker:sol", 1_600], |r| r.get(0))
            .unwrap()
            .collect::<rusqlite::Result<_>>()
            .unwrap();
        assert_eq!(live, vec!["a".to_string()]);
        assert_eq!(db.execute(SQL_SWEEP, [1_600]).unwrap(), 1);
    }
}
