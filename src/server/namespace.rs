//! The per-run key namespace and the guard that removes every key under it — at the end of a lesson,
//! on error, and after Ctrl-C. We never delete anything outside our prefix.

use anyhow::{Context, Result};
use redis::{Client, Commands};

/// Every key (and Pub/Sub channel) a demo uses starts with this, e.g. `redis-learn:3fa2b1c0:`; on a
/// Redis Cluster the run id is a hash tag, `redis-learn:{3fa2b1c0}:`, so that every key of a run
/// hashes to one slot (one node), and multi-key commands and scripts work as on one server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Namespace {
    prefix: String,
}

/// The fixed start of every prefix: `SCAN MATCH redis-learn:*` finds anything a crashed run left.
pub const PREFIX_ROOT: &str = "redis-learn";

impl Namespace {
    /// A fresh namespace for this run.
    pub fn new_run() -> Namespace {
        Namespace::with_run_id(&format!("{:08x}", rand::random::<u32>()))
    }

    pub fn with_run_id(run_id: &str) -> Namespace {
        Namespace::check(run_id);
        Namespace { prefix: format!("{PREFIX_ROOT}:{run_id}:") }
    }

    /// A fresh namespace whose run id is a hash tag (for a Redis Cluster).
    pub fn new_run_tagged() -> Namespace {
        Namespace::tagged(&format!("{:08x}", rand::random::<u32>()))
    }

    /// `redis-learn:{run_id}:`: every key under it is in the slot of `run_id`.
    pub fn tagged(run_id: &str) -> Namespace {
        Namespace::check(run_id);
        Namespace { prefix: format!("{PREFIX_ROOT}:{{{run_id}}}:") }
    }

    fn check(run_id: &str) {
        assert!(
            run_id.chars().all(|c| c.is_ascii_alphanumeric() || c == '-'),
            "run ids must not contain glob characters"
        );
    }

    /// Is the run id a hash tag (a namespace for a cluster)?
    pub fn is_tagged(&self) -> bool {
        self.prefix.contains('{')
    }

    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    /// The run id between the root and the last colon, without hash-tag braces: `3fa2b1c0`.
    pub fn run_id(&self) -> &str {
        self.prefix.trim_start_matches(PREFIX_ROOT).trim_matches(':').trim_matches(['{', '}'])
    }

    /// The full key for `suffix`, e.g. `token:eth:0xabc` → `redis-learn:3fa2b1c0:token:eth:0xabc`.
    pub fn key(&self, suffix: &str) -> String {
        format!("{}{suffix}", self.prefix)
    }

    /// Does `key` belong to this run?
    pub fn owns(&self, key: &str) -> bool {
        key.starts_with(&self.prefix)
    }

    fn pattern(&self) -> String {
        format!("{}*", self.prefix)
    }
}

/// What a cleanup did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cleanup {
    pub removed: usize,
    /// Keys still under the prefix afterwards: must be 0.
    pub left: usize,
    /// Keys left on purpose (`--keep`), each with the keep TTL; not counted in `left`.
    pub kept: usize,
}

/// Removes the namespace's keys when asked, and again on drop if it was not asked.
pub struct NamespaceGuard {
    client: Client,
    namespace: Namespace,
    cleaned: bool,
}

impl NamespaceGuard {
    pub fn new(client: Client, namespace: Namespace) -> NamespaceGuard {
        NamespaceGuard { client, namespace, cleaned: false }
    }

    pub fn namespace(&self) -> &Namespace {
        &self.namespace
    }

    /// Give up on this server (it stopped answering): no more attempts, not even on drop. The run
    /// journal keeps the namespace, and a later run sweeps it.
    pub fn abandon(&mut self) {
        self.cleaned = true;
    }

    /// Delete every key under the prefix (SCAN + UNLINK, never KEYS), then count what is left.
    /// Transient conditions (a server still LOADING, a BUSY script, a timeout, a dropped connection)
    /// are retried for up to `CLEANUP_RETRY` (5 s); then the last error is returned.
    pub fn clean(&mut self) -> Result<Cleanup> {
        let deadline = std::time::Instant::now() + CLEANUP_RETRY;
        let mut removed = 0;
        loop {
            let attempt = (|| -> Result<Cleanup> {
                let mut left = 0;
                for mut con in nodes(&self.client).context("connecting to Redis to clean up")? {
                    removed += remove_all(&mut con, &self.namespace)?;
                    left += count_keys(&mut con, &self.namespace)?;
                }
                Ok(Cleanup { removed, left, kept: 0 })
            })();
            match attempt {
                Ok(cleanup) => {
                    self.cleaned = true;
                    return Ok(cleanup);
                }
                Err(err) if transient(&err) && std::time::Instant::now() < deadline => {
                    std::thread::sleep(std::time::Duration::from_millis(200));
                }
                Err(err) => return Err(err),
            }
        }
    }
}

impl NamespaceGuard {
    /// `--keep`: instead of removing the keys, give every one of them this TTL (a key that had a
    /// shorter or no TTL gets this one), so they stay to be looked at and then expire by themselves.
    pub fn keep(&mut self, ttl: std::time::Duration) -> Result<Cleanup> {
        let millis = u64::try_from(ttl.as_millis()).unwrap_or(u64::MAX);
        let mut kept = 0;
        for mut con in nodes(&self.client).context("connecting to Redis to keep the keys")? {
            let keys = keys_under(&mut con, &self.namespace)?;
            for chunk in keys.chunks(500) {
                let mut pipe = redis::pipe();
                for key in chunk {
                    pipe.cmd("PEXPIRE").arg(key).arg(millis).ignore();
                }
                pipe.exec(&mut con).context("setting the kept keys' TTL")?;
                crate::interrupt::heartbeat();
            }
            kept += keys.len();
        }
        self.cleaned = true;
        Ok(Cleanup { removed: 0, left: 0, kept })
    }
}

impl Drop for NamespaceGuard {
    fn drop(&mut self) {
        if !self.cleaned
            && let Ok(cons) = nodes(&self.client)
        {
            for mut con in cons {
                let _ = remove_all(&mut con, &self.namespace);
            }
        }
    }
}

/// How long cleanup retries a transient condition.
const CLEANUP_RETRY: std::time::Duration = std::time::Duration::from_secs(5);

/// LOADING, BUSY, TRYAGAIN, timeouts and dropped connections pass; anything else will not.
fn transient(err: &anyhow::Error) -> bool {
    err.chain().filter_map(|c| c.downcast_ref::<redis::RedisError>()).any(|e| {
        matches!(e.code(), Some("LOADING" | "BUSY" | "TRYAGAIN" | "MASTERDOWN"))
            || e.is_timeout()
            || e.is_connection_dropped()
            || e.is_connection_refusal()
    })
}

fn keys_under(con: &mut redis::Connection, namespace: &Namespace) -> Result<Vec<String>> {
    let opts = redis::ScanOptions::default().with_pattern(namespace.pattern()).with_count(1000);
    let keys: Vec<String> = con
        .scan_options::<String>(opts)
        .context("scanning the demo's keys")?
        .collect::<Result<_, _>>()
        .context("scanning the demo's keys")?;
    // Belt and braces: SCAN MATCH is a glob, our prefix has no glob characters, but check anyway.
    Ok(keys.into_iter().filter(|k| namespace.owns(k)).collect())
}

/// Connections to every node that holds keys: the server itself, or on a Redis Cluster every
/// primary (SCAN sees one node's keys only; a run's keys are in one slot, but a crashed run from
/// before the server was a cluster, or a resharding, may have left keys anywhere).
fn nodes(client: &Client) -> Result<Vec<redis::Connection>> {
    let mut con = super::target::open_with_limits(client)?;
    let primaries = super::target::cluster_primaries(&mut con)?;
    if primaries.is_empty() {
        return Ok(vec![con]);
    }
    primaries
        .into_iter()
        .map(|(host, port)| {
            let node = super::target::node_client(client, &host, port)?;
            Ok(super::target::open_with_limits(&node)?)
        })
        .collect()
}

fn remove_all(con: &mut redis::Connection, namespace: &Namespace) -> Result<usize> {
    let keys = keys_under(con, namespace)?;
    for chunk in keys.chunks(500) {
        // One UNLINK per key: on a cluster node, one UNLINK of keys in several slots is refused
        // (CROSSSLOT), and an untagged namespace spreads over many slots.
        let mut pipe = redis::pipe();
        for key in chunk {
            pipe.cmd("UNLINK").arg(key).ignore();
        }
        pipe.exec(con).context("removing the demo's keys")?;
        crate::interrupt::heartbeat();
    }
    Ok(keys.len())
}

/// How many keys are under the namespace right now, on every node that may hold them (read only).
pub fn keys_on(client: &Client, namespace: &Namespace) -> Result<usize> {
    let mut total = 0;
    for mut con in nodes(client).context("connecting to Redis to count the keys")? {
        total += count_keys(&mut con, namespace)?;
    }
    Ok(total)
}

/// How many keys are under the namespace right now.
pub fn count_keys(con: &mut redis::Connection, namespace: &Namespace) -> Result<usize> {
    Ok(keys_under(con, namespace)?.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_live_under_the_prefix() {
        let ns = Namespace::with_run_id("abc123");
        assert_eq!(ns.key("token:eth:0x1"), "redis-learn:abc123:token:eth:0x1");
        assert!(ns.owns("redis-learn:abc123:x"));
        assert!(!ns.owns("redis-learn:abc1234:x"));
        assert!(!ns.owns("user:1"));
    }

    #[test]
    fn tagged_namespaces_put_the_run_id_in_a_hash_tag() {
        let ns = Namespace::tagged("3fa2b1c0");
        assert_eq!(ns.key("lock"), "redis-learn:{3fa2b1c0}:lock");
        assert_eq!(ns.run_id(), "3fa2b1c0");
        assert!(ns.is_tagged() && !Namespace::with_run_id("3fa2b1c0").is_tagged());
        assert!(ns.owns("redis-learn:{3fa2b1c0}:x") && !ns.owns("redis-learn:3fa2b1c0:x"));
    }

    #[test]
    fn fresh_runs_get_distinct_prefixes() {
        assert_ne!(Namespace::new_run(), Namespace::new_run());
    }

    #[test]
    #[should_panic(expected = "glob")]
    fn glob_characters_are_refused() {
        Namespace::with_run_id("a*");
    }
}
