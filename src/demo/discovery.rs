//! Lesson 8 (notes: `pkg/discovery/discovery.go`): service discovery for the WebSocket cluster —
//! node registration, heartbeats with a TTL so that a crashed node drops out by itself, the active
//! node list, and filtering by region and tag.
//!
//! A node's registration is a key `svc:ws:node:{id}` holding its JSON, set with `PX ttl` and renewed
//! by every heartbeat; the index `svc:ws:nodes` is a sorted set scored by each node's expiry time
//! (from the server's clock), which lists the nodes without SCAN — but its members never expire, so
//! it needs a sweeper, as the SQL heartbeat table does.
//!
//! One demo per file: [`heartbeat`] (nodes heartbeat, one crashes, one leaves), [`table`] (the same
//! with a SQLite heartbeat table, and the timings side by side), [`filter`] (region and tag sets),
//! [`keyspace`] (finding the nodes with SCAN against the index, and why one command over the whole
//! keyspace — what KEYS does — stalls every client). This file holds what they share: the node
//! description, the key shapes and the Redis side of the registry; [`cluster`] is the simulation the
//! two heartbeat demos run.

mod cluster;
mod filter;
mod heartbeat;
mod keyspace;
mod table;

pub use filter::node_filter;
pub use heartbeat::node_heartbeats;
pub use keyspace::scan_not_keys;
pub use table::heartbeat_table;

use std::collections::BTreeSet;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use anyhow::{Context, Result, ensure};
use redis::Script;

use self::cluster::Registry;
use super::Ctx;
use super::support::millis;
use crate::server::{TracedConnection, Version};

/// A node's registration lives this long unless a heartbeat renews it.
const TTL: Duration = Duration::from_millis(300);
/// How often a healthy node renews it: a third of the TTL, so two heartbeats in a row may be late
/// before the node drops out.
const HEARTBEAT_EVERY: Duration = Duration::from_millis(100);
/// How often the observer looks at the registry.
const POLL_EVERY: Duration = Duration::from_millis(10);
/// ε: how long past the TTL a crashed node may still be listed (one poll, a round trip and the
/// scheduler's noise fit in it many times over).
const SLACK: Duration = Duration::from_millis(100);
/// Expiry is kept in whole milliseconds: "not before the TTL" allows this much rounding.
const ROUNDING: Duration = Duration::from_millis(3);

/// The regions and tags the nodes of the notes' WebSocket cluster carry.
const REGIONS: [&str; 4] = ["ap-east", "ap-south", "eu-west", "us-east"];

/// Register or renew: the node's key with a TTL, and its index entry scored by its expiry time,
/// both from the server's clock (TIME), so that skew between the nodes' clocks cannot shift scores.
const HEARTBEAT_LUA: &str = "local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3])
redis.call('ZADD', KEYS[2], now + tonumber(ARGV[3]), ARGV[1])
return now";

/// The active list: index members whose expiry time has not passed, by the server's clock.
const ACTIVE_LUA: &str = "local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
return redis.call('ZRANGE', KEYS[1], now, '+inf', 'BYSCORE')";

/// The same before Redis 6.2, which has no `ZRANGE … BYSCORE`: the older ZRANGEBYSCORE.
const ACTIVE_LUA_BEFORE_6_2: &str = "local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
return redis.call('ZRANGEBYSCORE', KEYS[1], now, '+inf')";

/// The sweeper: drop index members whose expiry time has passed; returns how many.
const SWEEP_LUA: &str = "local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
return redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', '(' .. now)";

/// One WebSocket node of the notes' cluster.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Node {
    /// Unique per process start (name + a nonce), so a restarted node is never taken for its
    /// previous life.
    id: String,
    /// `ws-3`: what the tables show.
    name: String,
    addr: String,
    region: &'static str,
    tags: Vec<&'static str>,
    started_at_ms: u64,
}

impl Node {
    fn new(index: usize, nonce: u16, region: &'static str, tags: Vec<&'static str>) -> Node {
        let name = format!("ws-{}", index + 1);
        let subnet = REGIONS.iter().position(|r| *r == region).unwrap_or(0) + 1;
        let started_at_ms = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_millis() as u64);
        Node {
            id: format!("{name}-{nonce:04x}"),
            addr: format!("10.{subnet}.0.{}:8080", index + 10),
            name,
            region,
            tags,
            started_at_ms,
        }
    }

    /// What the node publishes about itself: enough for a client to pick it and connect.
    fn json(&self) -> String {
        serde_json::json!({
            "id": self.id,
            "addr": self.addr,
            "region": self.region,
            "tags": self.tags,
            "started_at": self.started_at_ms,
        })
        .to_string()
    }

    fn has_tags(&self, tags: &[&str]) -> bool {
        tags.iter().all(|t| self.tags.contains(t))
    }
}

/// A fresh nonce for this run's node ids.
fn nonce() -> u16 {
    rand::random()
}

/// `n` nodes spread over the regions, for the heartbeat demos.
fn cluster_nodes(n: usize) -> Vec<Node> {
    let nonce = nonce();
    (0..n).map(|i| Node::new(i, nonce, REGIONS[i % REGIONS.len()], vec!["kline", "ticker"])).collect()
}

/// The key shapes, inside the run's namespace.
#[derive(Debug, Clone)]
struct KeyNames {
    node_prefix: String,
    index: String,
    region_prefix: String,
    tag_prefix: String,
}

impl KeyNames {
    fn new(ctx: &Ctx) -> KeyNames {
        KeyNames {
            node_prefix: ctx.key("svc:ws:node:"),
            index: ctx.key("svc:ws:nodes"),
            region_prefix: ctx.key("svc:ws:region:"),
            tag_prefix: ctx.key("svc:ws:tag:"),
        }
    }

    /// `svc:ws:node:{id}`: the node's JSON, with a TTL.
    fn node(&self, id: &str) -> String {
        format!("{}{id}", self.node_prefix)
    }

    /// `svc:ws:region:{region}`: a set of node ids.
    fn region(&self, region: &str) -> String {
        format!("{}{region}", self.region_prefix)
    }

    /// `svc:ws:tag:{tag}`: a set of node ids.
    fn tag(&self, tag: &str) -> String {
        format!("{}{tag}", self.tag_prefix)
    }
}

/// The Redis side of the registry: per-node keys with a TTL plus the sorted-set index.
struct RedisRegistry {
    con: TracedConnection,
    keys: KeyNames,
    heartbeat: Script,
    active: Script,
    sweep: Script,
    ttl: Duration,
}

impl RedisRegistry {
    /// A registry on `con`, a server of `version`.
    fn new(con: TracedConnection, keys: KeyNames, ttl: Duration, version: Version) -> RedisRegistry {
        RedisRegistry {
            con,
            keys,
            heartbeat: Script::new(HEARTBEAT_LUA),
            active: Script::new(if version.at_least(6, 2) { ACTIVE_LUA } else { ACTIVE_LUA_BEFORE_6_2 }),
            sweep: Script::new(SWEEP_LUA),
            ttl,
        }
    }

    fn open(ctx: &Ctx, ttl: Duration) -> Result<RedisRegistry> {
        Ok(RedisRegistry::new(ctx.connect()?, KeyNames::new(ctx), ttl, ctx.version()))
    }

    /// One heartbeat with this registry's TTL; returns the server's time in ms.
    fn beat_node(&mut self, node: &Node) -> Result<i64> {
        self.beat_with(node, self.ttl)
    }

    fn beat_with(&mut self, node: &Node, ttl: Duration) -> Result<i64> {
        let now: i64 = self
            .heartbeat
            .key(self.keys.node(&node.id))
            .key(&self.keys.index)
            .arg(&node.id)
            .arg(node.json())
            .arg(millis(ttl))
            .invoke(&mut self.con)
            .with_context(|| format!("heartbeat of {}", node.name))?;
        Ok(now)
    }

    /// Region and tag sets: written once at registration (they do not expire).
    fn index_labels(&mut self, nodes: &[Node]) -> Result<()> {
        let mut pipe = redis::pipe();
        for node in nodes {
            pipe.cmd("SADD").arg(self.keys.region(node.region)).arg(&node.id).ignore();
            for tag in &node.tags {
                pipe.cmd("SADD").arg(self.keys.tag(tag)).arg(&node.id).ignore();
            }
        }
        pipe.exec(&mut self.con).context("SADD region and tag sets")?;
        Ok(())
    }

    /// A graceful shutdown: remove everything at once, in one transaction.
    fn leave_node(&mut self, node: &Node) -> Result<()> {
        let mut pipe = redis::pipe();
        pipe.atomic()
            .cmd("ZREM")
            .arg(&self.keys.index)
            .arg(&node.id)
            .ignore()
            .cmd("DEL")
            .arg(self.keys.node(&node.id))
            .ignore()
            .cmd("SREM")
            .arg(self.keys.region(node.region))
            .arg(&node.id)
            .ignore();
        for tag in &node.tags {
            pipe.cmd("SREM").arg(self.keys.tag(tag)).arg(&node.id).ignore();
        }
        pipe.exec(&mut self.con).with_context(|| format!("{} leaving", node.name))?;
        Ok(())
    }

    /// The index's live members: `ZRANGE svc:ws:nodes <now> +inf BYSCORE`, `now` from TIME.
    fn active_ids(&mut self) -> Result<Vec<String>> {
        self.active.key(&self.keys.index).invoke(&mut self.con).context("the active node list")
    }

    /// The sweeper: `ZREMRANGEBYSCORE svc:ws:nodes -inf (<now>`; how many it removed.
    fn sweep_index(&mut self) -> Result<i64> {
        self.sweep.key(&self.keys.index).invoke(&mut self.con).context("sweeping the index")
    }

    /// PTTL of each node's key, in the order given (-2: gone).
    fn pttls(&mut self, nodes: &[Node]) -> Result<Vec<i64>> {
        let mut pipe = redis::pipe();
        for node in nodes {
            pipe.cmd("PTTL").arg(self.keys.node(&node.id));
        }
        pipe.query(&mut self.con).context("PTTL of the node keys")
    }
}

impl Registry for RedisRegistry {
    fn beat(&mut self, node: &Node) -> Result<()> {
        self.beat_node(node).map(|_| ())
    }

    fn leave(&mut self, node: &Node) -> Result<()> {
        self.leave_node(node)
    }

    /// Two views: the node keys that still exist (PTTL ≠ -2), and the index's live members.
    fn look(&mut self, nodes: &[Node]) -> Result<Vec<BTreeSet<String>>> {
        let pttls = self.pttls(nodes)?;
        let keys = nodes.iter().zip(&pttls).filter(|(_, p)| **p != -2).map(|(n, _)| n.id.clone()).collect();
        let index = self.active_ids()?.into_iter().collect();
        Ok(vec![keys, index])
    }

    fn remaining(&mut self, node: &Node) -> Result<Option<Duration>> {
        let pttl: i64 = redis::cmd("PTTL").arg(self.keys.node(&node.id)).query(&mut self.con)?;
        ensure!(pttl != -1, "{} has no TTL, so it would never drop out", node.name);
        Ok(u64::try_from(pttl).ok().map(Duration::from_millis))
    }
}

/// Did a crashed node drop out no earlier than the TTL and no later than TTL + ε after its last
/// heartbeat?
fn within_ttl(gone_after: Duration, ttl: Duration) -> bool {
    gone_after + ROUNDING >= ttl && gone_after <= ttl + SLACK
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn node_ids_are_unique_per_start_and_json_has_what_a_client_needs() {
        let a = Node::new(2, 0xbeef, "eu-west", vec!["kline"]);
        let b = Node::new(2, 0x0001, "eu-west", vec!["kline"]);
        assert_eq!(a.name, "ws-3");
        assert_eq!(a.id, "ws-3-beef");
        assert_ne!(a.id, b.id);
        assert_eq!(a.addr, "10.3.0.12:8080");
        let v: serde_json::Value = serde_json::from_str(&a.json()).unwrap();
        assert_eq!(v["region"], "eu-west");
        assert_eq!(v["tags"][0], "kline");
        assert_eq!(v["addr"], "10.3.0.12:8080");
    }

    #[test]
    fn key_shapes_follow_the_reference() {
        let k = KeyNames {
            node_prefix: "ns:svc:ws:node:".into(),
            index: "ns:svc:ws:nodes".into(),
            region_prefix: "ns:svc:ws:region:".into(),
            tag_prefix: "ns:svc:ws:tag:".into(),
        };
        assert_eq!(k.node("ws-1-00ff"), "ns:svc:ws:node:ws-1-00ff");
        assert_eq!(k.region("eu-west"), "ns:svc:ws:region:eu-west");
        assert_eq!(k.tag("kline"), "ns:svc:ws:tag:kline");
    }

    #[test]
    fn detection_window_is_ttl_to_ttl_plus_slack() {
        let ms = Duration::from_millis;
        assert!(within_ttl(ms(300), TTL));
        assert!(within_ttl(ms(298), TTL));
        assert!(within_ttl(ms(400), TTL));
        assert!(!within_ttl(ms(250), TTL));
        assert!(!within_ttl(ms(401), TTL));
    }

    #[test]
    fn cluster_nodes_spread_over_regions() {
        let nodes = cluster_nodes(6);
        assert_eq!(nodes.len(), 6);
        assert_eq!(nodes[0].region, "ap-east");
        assert_eq!(nodes[4].region, "ap-east");
        assert!(nodes.iter().all(|n| n.has_tags(&["kline"])));
    }
}
