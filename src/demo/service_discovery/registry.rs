//! The notes' registry, our version: a node's description, the key shapes, and the Redis side.
//!
//! A node's registration is a key `svc:ws:node:{id}` holding its JSON, set with `PX ttl` and renewed
//! by every heartbeat; the index `svc:ws:nodes` is a sorted set scored by each node's expiry time
//! (from the server's clock), which lists the nodes without SCAN — but its members never expire, so
//! it needs a sweeper, as the SQL heartbeat table does.

use std::collections::BTreeSet;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use anyhow::{Context, Result, ensure};
use redis::Script;

use super::REGIONS;
use super::cluster::Registry;
use crate::demo::Ctx;
use crate::demo::support::millis;
use crate::server::{TracedConnection, Version};

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
pub(super) struct Node {
    /// Unique per process start (name + a nonce), so a restarted node is never taken for its
    /// previous life.
    pub(super) id: String,
    /// `ws-3`: what the tables show.
    pub(super) name: String,
    pub(super) addr: String,
    pub(super) region: &'static str,
    pub(super) tags: Vec<&'static str>,
    pub(super) started_at_ms: u64,
}

impl Node {
    pub(super) fn new(index: usize, nonce: u16, region: &'static str, tags: Vec<&'static str>) -> Node {
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
    pub(super) fn json(&self) -> String {
        serde_json::json!({
            "id": self.id,
            "addr": self.addr,
            "region": self.region,
            "tags": self.tags,
            "started_at": self.started_at_ms,
        })
        .to_string()
    }

    pub(super) fn has_tags(&self, tags: &[&str]) -> bool {
        tags.iter().all(|t| self.tags.contains(t))
    }
}

/// A fresh nonce for this run's node ids.
pub(super) fn nonce() -> u16 {
    rand::random()
}

/// `n` nodes spread over the regions, for the heartbeat demos.
pub(super) fn cluster_nodes(n: usize) -> Vec<Node> {
    let nonce = nonce();
    (0..n).map(|i| Node::new(i, nonce, REGIONS[i % REGIONS.len()], vec!["kline", "ticker"])).collect()
}

/// The key shapes, inside the run's namespace.
#[derive(Debug, Clone)]
pub(super) struct KeyNames {
    pub(super) node_prefix: String,
    pub(super) index: String,
    pub(super) region_prefix: String,
    pub(super) tag_prefix: String,
}

impl KeyNames {
    pub(super) fn new(ctx: &Ctx) -> KeyNames {
        KeyNames {
            node_prefix: ctx.key("svc:ws:node:"),
            index: ctx.key("svc:ws:nodes"),
            region_prefix: ctx.key("svc:ws:region:"),
            tag_prefix: ctx.key("svc:ws:tag:"),
        }
    }

    /// `svc:ws:node:{id}`: the node's JSON, with a TTL.
    pub(super) fn node(&self, id: &str) -> String {
        format!("{}{id}", self.node_prefix)
    }

    /// `svc:ws:region:{region}`: a set of node ids.
    pub(super) fn region(&self, region: &str) -> String {
        format!("{}{region}", self.region_prefix)
    }

    /// `svc:ws:tag:{tag}`: a set of node ids.
    pub(super) fn tag(&self, tag: &str) -> String {
        format!("{}{tag}", self.tag_prefix)
    }
}

/// The Redis side of the registry: per-node keys with a TTL plus the sorted-set index.
pub(super) struct RedisRegistry {
    pub(super) con: TracedConnection,
    pub(super) keys: KeyNames,
    heartbeat: Script,
    active: Script,
    sweep: Script,
    ttl: Duration,
}

impl RedisRegistry {
    /// A registry on `con`, a server of `version`.
    pub(super) fn new(con: TracedConnection, keys: KeyNames, ttl: Duration, version: Version) -> RedisRegistry {
        RedisRegistry {
            con,
            keys,
            heartbeat: Script::new(HEARTBEAT_LUA),
            active: Script::new(if version.at_least(6, 2) { ACTIVE_LUA } else { ACTIVE_LUA_BEFORE_6_2 }),
            sweep: Script::new(SWEEP_LUA),
            ttl,
        }
    }

    pub(super) fn open(ctx: &Ctx, ttl: Duration) -> Result<RedisRegistry> {
        Ok(RedisRegistry::new(ctx.connect()?, KeyNames::new(ctx), ttl, ctx.version()))
    }

    /// One heartbeat with this registry's TTL; returns the server's time in ms.
    pub(super) fn beat_node(&mut self, node: &Node) -> Result<i64> {
        self.beat_with(node, self.ttl)
    }

    pub(super) fn beat_with(&mut self, node: &Node, ttl: Duration) -> Result<i64> {
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
    pub(super) fn index_labels(&mut self, nodes: &[Node]) -> Result<()> {
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
    pub(super) fn leave_node(&mut self, node: &Node) -> Result<()> {
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
    pub(super) fn active_ids(&mut self) -> Result<Vec<String>> {
        self.active.key(&self.keys.index).invoke(&mut self.con).context("the active node list")
    }

    /// The sweeper: `ZREMRANGEBYSCORE svc:ws:nodes -inf (<now>`; how many it removed.
    pub(super) fn sweep_index(&mut self) -> Result<i64> {
        self.sweep.key(&self.keys.index).invoke(&mut self.con).context("sweeping the index")
    }

    /// PTTL of each node's key, in the order given (-2: gone).
    pub(super) fn pttls(&mut self, nodes: &[Node]) -> Result<Vec<i64>> {
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
    fn cluster_nodes_spread_over_regions() {
        let nodes = cluster_nodes(6);
        assert_eq!(nodes.len(), 6);
        assert_eq!(nodes[0].region, "ap-east");
        assert_eq!(nodes[4].region, "ap-east");
        assert!(nodes.iter().all(|n| n.has_tags(&["kline"])));
    }
}
