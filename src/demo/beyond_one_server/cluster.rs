//! Demo `cluster`: a Redis Cluster of three primaries of the lesson's own (see
//! [`crate::server::PrivateCluster`]), reached with the redis crate's cluster client. Counted here:
//! how keys spread over the nodes (CRC16 of the key mod 16,384 slots), the `MOVED` replies a plain
//! connection to one node gets, a slot moved to another node under a connected cluster client (the
//! old owner's `errorstat_MOVED` says how often the client was redirected, and every read still
//! succeeds), a two-key script refused with `CROSSSLOT` until its keys share a hash tag, and
//! `PUBLISH` (every node) against `SPUBLISH` (the shard that owns the channel).

use std::time::Duration;

use anyhow::{Context, Result, anyhow, bail};
use redis::cluster::{ClusterClient, ClusterConnection};
use redis::{ConnectionLike, Value};

use super::support::{info, ours};
use crate::demo::{Ctx, DemoReport, NoteKind};
use crate::measure::{Claim, ClaimStatus, format_count};
use crate::server::{PrivateCluster, SLOTS, TracedConnection};
use crate::text::{Fact, Text};

const PRIMARIES: usize = 3;
const IO_TIMEOUT: Duration = Duration::from_secs(5);
/// Each node must hold a share of the keys between these (a third, give or take).
const SHARE_RANGE: (f64, f64) = (0.25, 0.42);
/// How long a subscriber waits for a message.
const MESSAGE_WAIT: Duration = Duration::from_secs(2);
/// A subscriber's read time limit: how often it looks at the clock while it waits.
const SUBSCRIBER_POLL: Duration = Duration::from_millis(200);
/// Multi-key scripts of this course, by the keys they touch (lesson 4's lock with its fencing
/// counter, lesson 7's prune of a channel's subscriptions, lesson 8's heartbeat).
const COURSE_SCRIPTS: &[(&str, &[&str])] = &[
    ("scripts.lock", &["lock:tx-check:0x9f", "lock:tx-check:0x9f:fence"]),
    ("scripts.prune", &["ws:sub:ticker:ETH-USDT", "ws:sub:ticker:ETH-USDT:deadlines"]),
    ("scripts.heartbeat", &["svc:ws:node:ws-3", "svc:ws:nodes"]),
];
/// The lesson 7 disconnect in two keys: add a client to the user's set and note its subscription.
const TWO_KEY_LUA: &str = "redis.call('SADD', KEYS[1], ARGV[1])
redis.call('HSET', KEYS[2], ARGV[2], ARGV[1])
return 1";

/// `redis-learn:<run>:<suffix>` with no hash tag of the run's own: these keys must spread.
fn key(ctx: &Ctx, suffix: &str) -> String {
    format!("redis-learn:{}:{suffix}", ctx.namespace.run_id().trim_matches(['{', '}']))
}

/// A plain (not cluster-aware) connection to one node, traced like every connection of a demo.
fn plain(ctx: &Ctx, port: u16, timeout: Duration) -> Result<TracedConnection> {
    let client = redis::Client::open(format!("redis://127.0.0.1:{port}"))?;
    let con = ours(client.get_connection_with_timeout(IO_TIMEOUT), "connecting to a cluster node")?;
    ours(con.set_read_timeout(Some(timeout)), "setting a time limit")?;
    Ok(TracedConnection::new(con, &ctx.trace))
}

fn slot_of(con: &mut impl ConnectionLike, key: &str) -> Result<u16> {
    ours(redis::cmd("CLUSTER").arg("KEYSLOT").arg(key).query(con), "CLUSTER KEYSLOT")
}

/// How many MOVED replies this node has sent (`INFO errorstats`).
fn moved_sent(con: &mut impl ConnectionLike) -> Result<u64> {
    let stats = info(con, "errorstats")?;
    // errorstat_MOVED:count=12
    Ok(stats
        .get::<String>("errorstat_MOVED")
        .and_then(|v| v.strip_prefix("count=").and_then(|n| n.parse().ok()))
        .unwrap_or(0))
}

fn admin(ctx: &Ctx, cluster: &PrivateCluster, node: usize, args: &[&str]) -> Result<Value> {
    ctx.trace.record(args);
    ours(cluster.admin(node, args), &format!("{} on node {node}", args[..2.min(args.len())].join(" ")))
}

/// Move `slot` and its keys from node `from` to node `to` (what `redis-cli --cluster reshard`
/// does, slot by slot): IMPORTING, MIGRATING, MIGRATE each key, then give the slot to `to` on
/// every node.
fn move_slot(ctx: &Ctx, cluster: &PrivateCluster, slot: u16, from: usize, to: usize) -> Result<u64> {
    let nodes = cluster.nodes();
    let (from_id, to_id) = (nodes[from].id.clone(), nodes[to].id.clone());
    let slot_s = slot.to_string();
    admin(ctx, cluster, to, &["CLUSTER", "SETSLOT", &slot_s, "IMPORTING", &from_id])?;
    admin(ctx, cluster, from, &["CLUSTER", "SETSLOT", &slot_s, "MIGRATING", &to_id])?;
    let keys: Vec<String> =
        redis::from_redis_value(admin(ctx, cluster, from, &["CLUSTER", "GETKEYSINSLOT", &slot_s, "1000"])?)
            .map_err(|e| anyhow!("CLUSTER GETKEYSINSLOT: {e}"))?;
    // One MIGRATE per key (the form without a KEYS list): a handful of keys here.
    let port = nodes[to].server.port().to_string();
    for key in &keys {
        admin(ctx, cluster, from, &["MIGRATE", "127.0.0.1", &port, key, "0", "5000"])?;
    }
    for node in [to, from].into_iter().chain((0..nodes.len()).filter(|n| *n != to && *n != from)) {
        admin(ctx, cluster, node, &["CLUSTER", "SETSLOT", &slot_s, "NODE", &to_id])?;
    }
    Ok(keys.len() as u64)
}

/// Read messages on `con` until one for `channel` arrives or [`MESSAGE_WAIT`] passes.
fn received(con: &mut TracedConnection, channel: &str) -> bool {
    let deadline = std::time::Instant::now() + MESSAGE_WAIT;
    while std::time::Instant::now() < deadline {
        match con.inner_mut().recv_response() {
            Ok(Value::Array(items)) | Ok(Value::Push { data: items, .. }) => {
                let words: Vec<String> =
                    items.iter().filter_map(|v| redis::from_redis_value::<String>(v.clone()).ok()).collect();
                if words.first().is_some_and(|w| w == "message" || w == "smessage")
                    && words.get(1).is_some_and(|c| c == channel)
                {
                    return true;
                }
            }
            Ok(_) => {}
            Err(e) if e.is_timeout() => return false,
            Err(_) => return false,
        }
    }
    false
}

fn error_code(err: &redis::RedisError) -> String {
    err.code().map(str::to_string).unwrap_or_else(|| err.to_string())
}

pub fn cluster(ctx: &Ctx) -> Result<DemoReport> {
    let mut report = DemoReport::new("cluster", Text::msg("title"));
    let cluster = PrivateCluster::start(PRIMARIES)
        .map_err(anyhow::Error::from)
        .context("this demo starts a Redis Cluster of its own (three redis-servers), and could not")?;
    let ports = cluster.ports();
    let client = ClusterClient::builder(cluster.urls())
        .connection_timeout(IO_TIMEOUT)
        .response_timeout(IO_TIMEOUT)
        .build()
        .map_err(|e| anyhow!("the cluster client: {e}"))?;
    let mut cc: ClusterConnection = ours(client.get_connection(), "connecting the cluster client")?;

    // 1. Where keys land.
    let n = ctx.n(30_000, 3_000);
    let keys: Vec<String> = (0..n).map(|i| key(ctx, &format!("token:eth:0x{i:040x}"))).collect();
    for chunk in keys.chunks(1_000) {
        ctx.check_interrupt()?;
        let mut pipe = redis::cluster::cluster_pipe();
        for k in chunk {
            pipe.cmd("SET").arg(k).arg("{}").ignore();
        }
        ours(pipe.exec(&mut cc), "writing through the cluster client")?;
    }
    ctx.trace.record(&["SET", &keys[0], "{}"]);
    let mut plains: Vec<TracedConnection> = ports.iter().map(|p| plain(ctx, *p, IO_TIMEOUT)).collect::<Result<_>>()?;
    let mut rows = Vec::new();
    let mut shares = Vec::new();
    for (i, con) in plains.iter_mut().enumerate() {
        let dbsize: u64 = ours(redis::cmd("DBSIZE").query(con), "DBSIZE")?;
        let (first, last) = (i * usize::from(SLOTS) / PRIMARIES, (i + 1) * usize::from(SLOTS) / PRIMARIES - 1);
        let share = dbsize as f64 / n as f64;
        shares.push(share);
        rows.push(vec![
            Text::msg("spread.node").fact("n", i + 1),
            Text::Plain(format!("{first}–{last}")),
            Text::Plain(format_count(dbsize)),
            Text::Plain(Fact::Percent(share).format()),
        ]);
    }
    report.table(Text::msg("spread").fact("keys", n), &["node", "slots", "keys", "share"], rows);
    let (low, high) = shares.iter().fold((f64::MAX, 0.0f64), |(lo, hi), s| (lo.min(*s), hi.max(*s)));
    report.claim(
        Claim::new(
            "keys-spread-over-the-nodes",
            "",
            format!("{}–{}", Fact::Percent(low).format(), Fact::Percent(high).format()),
            low >= SHARE_RANGE.0 && high <= SHARE_RANGE.1,
        )
        .fact("keys", n)
        .fact("low", Fact::Percent(low))
        .fact("high", Fact::Percent(high)),
    );

    // 2. A plain connection to node 1 is redirected for every key another node owns.
    let sample = &keys[..keys.len().min(ctx.n(1_000, 300))];
    let (mut moved, mut served) = (0u64, 0u64);
    for k in sample {
        match redis::cmd("GET").arg(k).query::<Option<String>>(&mut plains[0]) {
            Ok(_) => served += 1,
            Err(e) if e.code() == Some("MOVED") => moved += 1,
            Err(e) => bail!("GET on node 1 (a server this demo started): {e}"),
        }
    }
    let mut read = 0u64;
    for k in sample {
        let v: Option<String> = ours(redis::cmd("GET").arg(k).query(&mut cc), "GET through the cluster client")?;
        read += u64::from(v.is_some());
    }
    report.claim(
        Claim::new(
            "plain-connection-gets-moved",
            "",
            format!("{} / {}", format_count(moved), format_count(sample.len() as u64)),
            moved > 0 && moved + served == sample.len() as u64 && read == sample.len() as u64,
        )
        .fact("moved", moved)
        .fact("served", served)
        .fact("sample", sample.len())
        .fact("read", read),
    );

    // 3. A slot changes hands under a connected cluster client: it is redirected and follows.
    let user = |suffix: &str| key(ctx, &format!("{{user:1001}}:{suffix}"));
    let tagged = [user("clients"), user("subs"), user("sessions")];
    for k in &tagged {
        ours(redis::cmd("SET").arg(k).arg("c-7f3a").exec(&mut cc), "SET through the cluster client")?;
    }
    let slot = slot_of(&mut plains[0], &tagged[0])?;
    let owner =
        cluster.owner_of_slot(0, slot).map_err(|e| anyhow!("CLUSTER SLOTS: {e}"))?.context("no node owns the slot")?;
    let target = (owner + 1) % PRIMARIES;
    let moved_before = moved_sent(&mut plains[owner])?;
    let migrated = move_slot(ctx, &cluster, slot, owner, target)?;
    let mut after = 0u64;
    for k in &tagged {
        ctx.trace.record(&["GET", k]);
        let v: Option<String> = ours(redis::cmd("GET").arg(k).query(&mut cc), "GET after the slot moved")?;
        after += u64::from(v.as_deref() == Some("c-7f3a"));
    }
    let redirects = moved_sent(&mut plains[owner])?.saturating_sub(moved_before);
    report.claim(
        Claim::new(
            "cluster-client-follows-moved",
            "",
            format!("{after} / {}; MOVED ×{redirects}", tagged.len()),
            after == tagged.len() as u64 && redirects >= 1,
        )
        .fact("slot", u64::from(slot))
        .fact("from", owner + 1)
        .fact("to", target + 1)
        .fact("keys", migrated)
        .fact("read", after)
        .fact("redirects", redirects),
    );

    // 4. A script over two keys: refused across slots, run once they share a hash tag.
    let untagged = [key(ctx, "user:1001:clients"), key(ctx, "user:1001:subs")];
    let (slot_a, slot_b) = (slot_of(&mut plains[0], &untagged[0])?, slot_of(&mut plains[0], &untagged[1])?);
    let script = redis::Script::new(TWO_KEY_LUA);
    ctx.trace.record(&["EVAL", TWO_KEY_LUA, "2", &untagged[0], &untagged[1], "c-7f3a", "ticker:ETH-USDT"]);
    let refused =
        match script.key(&untagged[0]).key(&untagged[1]).arg("c-7f3a").arg("ticker:ETH-USDT").invoke::<i64>(&mut cc) {
            Ok(_) => None,
            Err(e) => Some(error_code(&e)),
        };
    let with_tag = [user("clients:set"), user("subs:hash")];
    ctx.trace.record(&["EVAL", TWO_KEY_LUA, "2", &with_tag[0], &with_tag[1], "c-7f3a", "ticker:ETH-USDT"]);
    let ran = script.key(&with_tag[0]).key(&with_tag[1]).arg("c-7f3a").arg("ticker:ETH-USDT").invoke::<i64>(&mut cc);
    let ran_ok = ran.is_ok();
    let crossslot = refused.as_deref().is_some_and(|c| c.contains("CROSSSLOT"));
    let measured = format!("{} / {}", refused.as_deref().unwrap_or("OK"), if ran_ok { "OK" } else { "error" });
    let claim = if slot_a == slot_b {
        // One chance in 16,384: the two untagged keys share a slot by luck; nothing to show.
        Claim::with_status("crossslot-until-hash-tag", "", measured, ClaimStatus::Inconclusive)
    } else {
        Claim::new("crossslot-until-hash-tag", "", measured, crossslot && ran_ok)
    };
    report.claim(claim.fact("slot_a", u64::from(slot_a)).fact("slot_b", u64::from(slot_b)).fact("tag", "{user:1001}"));

    // Which of this course's scripts span several slots, and one tag for the run's keys.
    let run = ctx.namespace.run_id().trim_matches(['{', '}']).to_string();
    let mut rows = Vec::new();
    let (mut split, mut tagged_one) = (0u64, 0u64);
    for (label, shapes) in COURSE_SCRIPTS {
        let mut untagged_slots = std::collections::BTreeSet::new();
        let mut tagged_slots = std::collections::BTreeSet::new();
        for shape in *shapes {
            untagged_slots.insert(slot_of(&mut plains[0], &key(ctx, shape))?);
            tagged_slots.insert(slot_of(&mut plains[0], &format!("redis-learn:{{{run}}}:{shape}"))?);
        }
        split += u64::from(untagged_slots.len() > 1);
        tagged_one += u64::from(tagged_slots.len() == 1);
        rows.push(vec![
            Text::msg(label),
            Text::Plain(shapes.join(" + ")),
            Text::Plain(untagged_slots.iter().map(u16::to_string).collect::<Vec<_>>().join(", ")),
            Text::Plain(tagged_slots.iter().map(u16::to_string).collect::<Vec<_>>().join(", ")),
        ]);
    }
    report.table(
        Text::msg("scripts").fact("tag", format!("redis-learn:{{{run}}}:")),
        &["script", "keys", "untagged", "tagged"],
        rows,
    );
    let scripts = COURSE_SCRIPTS.len() as u64;
    report.claim(
        Claim::new(
            "run-tag-keeps-scripts-in-one-slot",
            "",
            format!("{split} / {scripts}; {tagged_one} / {scripts}"),
            tagged_one == scripts,
        )
        .fact("split", split)
        .fact("scripts", scripts)
        .fact("tagged", tagged_one),
    );

    // 5. PUBLISH reaches subscribers on every node; SPUBLISH stays in the channel's shard.
    let channel = key(ctx, "ticker:ETH-USDT");
    let mut subscribers: Vec<TracedConnection> =
        ports.iter().map(|p| plain(ctx, *p, SUBSCRIBER_POLL)).collect::<Result<_>>()?;
    for s in &mut subscribers {
        ours(redis::cmd("SUBSCRIBE").arg(&channel).query::<Value>(s), "SUBSCRIBE")?;
    }
    ours(redis::cmd("PUBLISH").arg(&channel).arg("tick").query::<i64>(&mut plains[0]), "PUBLISH")?;
    let publish_nodes = subscribers.iter_mut().map(|s| received(s, &channel)).filter(|got| *got).count();
    let channel_slot = slot_of(&mut plains[0], &channel)?;
    let channel_owner = cluster
        .owner_of_slot(0, channel_slot)
        .map_err(|e| anyhow!("CLUSTER SLOTS: {e}"))?
        .context("no node owns the channel's slot")?;
    let other = (channel_owner + 1) % PRIMARIES;
    let mut owner_sub = plain(ctx, ports[channel_owner], SUBSCRIBER_POLL)?;
    ours(redis::cmd("SSUBSCRIBE").arg(&channel).query::<Value>(&mut owner_sub), "SSUBSCRIBE")?;
    let elsewhere =
        match redis::cmd("SSUBSCRIBE").arg(&channel).query::<Value>(&mut plain(ctx, ports[other], IO_TIMEOUT)?) {
            Ok(_) => "OK".to_string(),
            Err(e) => error_code(&e),
        };
    ctx.trace.record(&["SPUBLISH", &channel, "tick"]);
    ours(
        redis::cmd("SPUBLISH").arg(&channel).arg("tick").query::<i64>(&mut cc),
        "SPUBLISH through the cluster client",
    )?;
    let spublish_owner = received(&mut owner_sub, &channel);
    report.claim(
        Claim::new(
            "publish-reaches-every-node",
            "",
            format!("{publish_nodes} / {PRIMARIES}"),
            publish_nodes == PRIMARIES,
        )
        .fact("nodes", publish_nodes)
        .fact("all", PRIMARIES),
    );
    report.claim(
        Claim::new(
            "spublish-stays-in-its-shard",
            "",
            format!("{} / {elsewhere}", if spublish_owner { "OK" } else { "—" }),
            spublish_owner && elsewhere == "MOVED",
        )
        .fact("owner", channel_owner + 1)
        .fact("other", other + 1)
        .fact("reply", elsewhere.as_str()),
    );
    report.note(NoteKind::Info, Text::msg("hash-tags-in-this-course"));
    report.note(NoteKind::Caveat, Text::msg("own-cluster"));
    Ok(report)
}
