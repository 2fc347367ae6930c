//! A private Redis Cluster: N `redis-server` nodes this process starts on loopback (each a
//! [`PrivateServer`] with `--cluster-enabled yes`, its own temp dir and `nodes.conf`), joined with
//! CLUSTER MEET, the 16,384 slots shared out with CLUSTER ADDSLOTSRANGE, optional replicas attached
//! with CLUSTER REPLICATE. Every node is killed when the cluster drops. Cluster admin commands run
//! only here (and in `private.rs`): these servers are ours.

use std::thread;
use std::time::{Duration, Instant};

use redis::Value;

use super::private::{PrivateServer, free_port};
use crate::error::UserError;

/// Slots in every Redis Cluster.
pub const SLOTS: u16 = 16_384;
/// How long a fresh cluster may take to agree (`cluster_state:ok` on every node).
const READY_TIMEOUT: Duration = Duration::from_secs(20);
/// Node timeout: the time after which a silent node is suspected down. Redis's default is 15 s;
/// 5 s keeps a killed-node demo short and is still far above a loaded machine's pauses.
const NODE_TIMEOUT_MS: &str = "5000";
/// The cluster bus listens on the client port + 10000.
const BUS_OFFSET: u16 = 10_000;

/// A free loopback port whose cluster-bus port (port + 10000) is free too (both when asked).
pub fn free_cluster_port() -> std::io::Result<u16> {
    for _ in 0..200 {
        let port = free_port()?;
        if port <= u16::MAX - BUS_OFFSET && std::net::TcpListener::bind(("127.0.0.1", port + BUS_OFFSET)).is_ok() {
            return Ok(port);
        }
    }
    Err(std::io::Error::other("no port found whose port + 10000 is also free"))
}

/// The role a node was given when the cluster was created.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NodeRole {
    Primary,
    /// A replica of the primary at this index.
    ReplicaOf(usize),
}

/// One node of a [`PrivateCluster`].
pub struct ClusterNode {
    pub server: PrivateServer,
    /// The 40-character id from CLUSTER MYID.
    pub id: String,
    pub role: NodeRole,
}

/// A cluster of redis-server nodes we started; all killed (and their dirs removed) on drop.
pub struct PrivateCluster {
    nodes: Vec<ClusterNode>,
}

impl PrivateCluster {
    /// `primaries` primaries (at least 1) sharing the slots evenly, no replicas.
    pub fn start(primaries: usize) -> Result<PrivateCluster, UserError> {
        PrivateCluster::start_with(primaries, 0, &[])
    }

    /// `primaries` primaries sharing the slots evenly, each with `replicas` replicas, every node
    /// started with these extra `redis-server` arguments (e.g. `["--cluster-node-timeout", "2000"]`;
    /// later arguments win). Returns once every node reports `cluster_state:ok` and every replica
    /// is linked to its primary, or an error after a timeout.
    pub fn start_with(primaries: usize, replicas: usize, extra_args: &[&str]) -> Result<PrivateCluster, UserError> {
        let fail = |reason: String| UserError::PrivateServerFailed { reason };
        if primaries == 0 || primaries > usize::from(SLOTS) {
            return Err(fail(format!("a cluster needs 1 to {SLOTS} primaries, not {primaries}")));
        }
        let mut args = vec!["--cluster-enabled", "yes", "--cluster-config-file", "nodes.conf"];
        args.extend(["--cluster-node-timeout", NODE_TIMEOUT_MS]);
        args.extend(extra_args);
        let total = primaries * (1 + replicas);
        let mut nodes = Vec::with_capacity(total);
        for i in 0..total {
            let server = PrivateServer::start_on(&args, free_cluster_port)?;
            let id = text(server.admin(&["CLUSTER", "MYID"]).map_err(|e| fail(format!("CLUSTER MYID: {e}")))?);
            let role = if i < primaries { NodeRole::Primary } else { NodeRole::ReplicaOf((i - primaries) % primaries) };
            nodes.push(ClusterNode { server, id, role });
        }
        let cluster = PrivateCluster { nodes };
        cluster.assign_slots(primaries)?;
        cluster.meet()?;
        cluster.attach_replicas()?;
        cluster.wait_until_ok(READY_TIMEOUT)?;
        Ok(cluster)
    }

    /// Primary `i` of `n` gets slots `[i*16384/n, (i+1)*16384/n)`.
    fn assign_slots(&self, primaries: usize) -> Result<(), UserError> {
        let slots = usize::from(SLOTS);
        for (i, node) in self.nodes.iter().take(primaries).enumerate() {
            let (first, last) = (i * slots / primaries, (i + 1) * slots / primaries - 1);
            let (first, last) = (first.to_string(), last.to_string());
            node.server
                .admin(&["CLUSTER", "ADDSLOTSRANGE", &first, &last])
                .map_err(|e| failed(format!("CLUSTER ADDSLOTSRANGE {first} {last}: {e}")))?;
        }
        Ok(())
    }

    /// Introduce every node to the first; gossip spreads the rest.
    fn meet(&self) -> Result<(), UserError> {
        let Some(first) = self.nodes.first() else { return Ok(()) };
        let port = first.server.port().to_string();
        for node in &self.nodes[1..] {
            node.server
                .admin(&["CLUSTER", "MEET", "127.0.0.1", &port])
                .map_err(|e| failed(format!("CLUSTER MEET: {e}")))?;
        }
        Ok(())
    }

    /// Each replica follows its primary once it has heard of it (gossip takes a moment).
    fn attach_replicas(&self) -> Result<(), UserError> {
        let deadline = Instant::now() + READY_TIMEOUT;
        for node in &self.nodes {
            let NodeRole::ReplicaOf(primary) = node.role else { continue };
            let primary_id = self.nodes[primary].id.clone();
            loop {
                match node.server.admin(&["CLUSTER", "REPLICATE", &primary_id]) {
                    Ok(_) => break,
                    // "Unknown node": the MEET has not reached it yet.
                    Err(_) if Instant::now() < deadline => {
                        thread::sleep(Duration::from_millis(50));
                    }
                    Err(e) => return Err(failed(format!("CLUSTER REPLICATE: {e}"))),
                }
            }
        }
        Ok(())
    }

    /// Wait until every running node says `cluster_state:ok`, knows every node, and every replica's
    /// link to its primary is up.
    pub fn wait_until_ok(&self, timeout: Duration) -> Result<(), UserError> {
        let deadline = Instant::now() + timeout;
        loop {
            let (ok, why) = self.agreement();
            if ok {
                return Ok(());
            }
            if Instant::now() > deadline {
                return Err(failed(format!("the cluster did not agree within {}s: {why}", timeout.as_secs())));
            }
            thread::sleep(Duration::from_millis(100));
        }
    }

    fn agreement(&self) -> (bool, String) {
        let total = self.nodes.len();
        for node in &self.nodes {
            let info = match node.server.admin(&["CLUSTER", "INFO"]) {
                Ok(v) => text(v),
                Err(e) => return (false, format!("node {}: {e}", node.server.port())),
            };
            let field = |name: &str| {
                info.lines()
                    .find_map(|l| l.strip_prefix(name).and_then(|r| r.strip_prefix(':')))
                    .map(|v| v.trim().to_string())
                    .unwrap_or_default()
            };
            if field("cluster_state") != "ok" {
                return (false, format!("node {} says cluster_state:{}", node.server.port(), field("cluster_state")));
            }
            if field("cluster_known_nodes") != total.to_string() {
                return (
                    false,
                    format!("node {} knows {} of {total} nodes", node.server.port(), field("cluster_known_nodes")),
                );
            }
            if let NodeRole::ReplicaOf(_) = node.role {
                let replication = node.server.admin(&["INFO", "replication"]).map(text).unwrap_or_default();
                if !replication.contains("master_link_status:up") {
                    return (false, format!("replica {} is not linked to its primary yet", node.server.port()));
                }
            }
        }
        (true, String::new())
    }

    pub fn nodes(&self) -> &[ClusterNode] {
        &self.nodes
    }

    /// `redis://127.0.0.1:PORT` of every node, primaries first.
    pub fn urls(&self) -> Vec<String> {
        self.nodes.iter().map(|n| n.server.url()).collect()
    }

    pub fn ports(&self) -> Vec<u16> {
        self.nodes.iter().map(|n| n.server.port()).collect()
    }

    pub fn pids(&self) -> Vec<u32> {
        self.nodes.iter().map(|n| n.server.pid()).collect()
    }

    /// An admin command (CLUSTER …, CONFIG SET, FLUSHALL) on node `i`: allowed because it is ours.
    pub fn admin(&self, i: usize, args: &[&str]) -> redis::RedisResult<Value> {
        self.nodes[i].server.admin(args)
    }

    /// `kill -9` node `i` (a failure demo). It stays in the list; its dir is removed on drop.
    pub fn kill9(&mut self, i: usize) -> std::io::Result<()> {
        self.nodes[i].server.kill9()
    }

    /// The index of the node that serves `slot` now, by asking node `ask` (CLUSTER SHARDS is 7.0+,
    /// CLUSTER SLOTS works everywhere).
    pub fn owner_of_slot(&self, ask: usize, slot: u16) -> redis::RedisResult<Option<usize>> {
        let ranges = self.admin(ask, &["CLUSTER", "SLOTS"])?;
        let Value::Array(ranges) = ranges else { return Ok(None) };
        for range in ranges {
            let Value::Array(fields) = range else { continue };
            let (Some(Value::Int(first)), Some(Value::Int(last)), Some(Value::Array(primary))) =
                (fields.first(), fields.get(1), fields.get(2))
            else {
                continue;
            };
            if (*first..=*last).contains(&i64::from(slot))
                && let Some(Value::Int(port)) = primary.get(1)
            {
                return Ok(self.nodes.iter().position(|n| i64::from(n.server.port()) == *port));
            }
        }
        Ok(None)
    }
}

fn failed(reason: String) -> UserError {
    UserError::PrivateServerFailed { reason }
}

/// A bulk or simple string reply as text.
fn text(value: Value) -> String {
    match value {
        Value::BulkString(bytes) => String::from_utf8_lossy(&bytes).into_owned(),
        Value::SimpleString(s) => s,
        Value::VerbatimString { text, .. } => text,
        other => format!("{other:?}"),
    }
}
