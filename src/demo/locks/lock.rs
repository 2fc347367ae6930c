//! Our version of the notes' `pkg/xredis/lock.go`, done the way the Redis docs recommend for one
//! instance: acquire with a single `SET key token NX PX ttl` (so no crash can leave a lock without a
//! TTL), release with an atomic compare-and-delete (Lua on 7.x; Redis 8.4 adds `DELEX key IFEQ
//! token`), and, when asked, hand out a fencing token (`INCR`) with each acquisition so that the
//! protected resource can refuse a holder whose lock has already expired.

use std::thread;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use rand::RngExt;
use redis::ConnectionLike;

use crate::demo::support::{millis, new_id};

/// Compare-and-delete: `DEL` only while the lock still holds our token (replies 1), else 0.
pub const RELEASE_SCRIPT: &str =
    "if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) else return 0 end";

/// Acquire and take the next fencing token in one atomic step: `SET NX PX`, and only if that won,
/// `INCR` the fence counter. Replies the fence, or nil when the lock is held.
pub const ACQUIRE_FENCED_SCRIPT: &str = "if redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) then \
     return redis.call('INCR', KEYS[2]) else return false end";

/// Waiting for a busy lock: sleep a random time in this range (µs) between tries, so that waiters
/// do not retry in lockstep.
const RETRY_US: std::ops::RangeInclusive<u64> = 50..=400;

/// One Redis lock: a key, the TTL each acquisition gets, and the key of its fence counter.
pub struct RedisLock {
    key: String,
    fence_key: String,
    ttl: Duration,
    release: redis::Script,
    acquire_fenced: redis::Script,
}

/// What an acquisition hands back: the token that proves ownership, the fencing token (fenced
/// acquisitions only), and when it was taken.
#[derive(Debug, Clone)]
pub struct Lease {
    pub token: String,
    pub fence: Option<u64>,
    pub acquired_at: Instant,
}

impl RedisLock {
    /// A lock on `key` whose acquisitions expire after `ttl`; the fence counter is `{key}:fence`.
    pub fn new(key: String, ttl: Duration) -> RedisLock {
        let fence_key = format!("{key}:fence");
        RedisLock {
            key,
            fence_key,
            ttl,
            release: redis::Script::new(RELEASE_SCRIPT),
            acquire_fenced: redis::Script::new(ACQUIRE_FENCED_SCRIPT),
        }
    }

    pub fn key(&self) -> &str {
        &self.key
    }

    /// The TTL in milliseconds, at least 1 (`PX 0` is an error).
    pub fn ttl_ms(&self) -> i64 {
        millis(self.ttl)
    }

    /// `SET key token NX PX ttl`: set only if absent, with its expiry, in one command.
    pub fn acquire_cmd(&self, token: &str) -> redis::Cmd {
        let mut cmd = redis::cmd("SET");
        cmd.arg(&self.key).arg(token).arg("NX").arg("PX").arg(self.ttl_ms());
        cmd
    }

    /// One try: the lease, or `None` when someone holds the lock (SET NX replied nil).
    pub fn try_acquire(&self, con: &mut impl ConnectionLike) -> Result<Option<Lease>> {
        let token = new_id();
        let reply: Option<String> =
            self.acquire_cmd(&token).query(con).with_context(|| format!("SET {} NX PX", self.key))?;
        Ok(reply.map(|_| Lease { token, fence: None, acquired_at: Instant::now() }))
    }

    /// One try that also takes the next fencing token (Lua: `SET NX PX`, then `INCR` if it won).
    pub fn try_acquire_fenced(&self, con: &mut impl ConnectionLike) -> Result<Option<Lease>> {
        let token = new_id();
        let fence: Option<u64> = self
            .acquire_fenced
            .key(&self.key)
            .key(&self.fence_key)
            .arg(&token)
            .arg(self.ttl_ms())
            .invoke(con)
            .with_context(|| format!("acquiring {} with a fencing token", self.key))?;
        Ok(fence.map(|fence| Lease { token, fence: Some(fence), acquired_at: Instant::now() }))
    }

    /// Try until the lock is ours or `timeout` passes, sleeping a random short time between tries;
    /// `check` runs before each try (the interrupt flag). Returns the lease and how many tries failed.
    pub fn acquire(
        &self,
        con: &mut impl ConnectionLike,
        timeout: Duration,
        mut check: impl FnMut() -> Result<()>,
    ) -> Result<(Lease, u64)> {
        let start = Instant::now();
        let mut rng = rand::rng();
        let mut failed = 0;
        loop {
            check()?;
            if let Some(lease) = self.try_acquire(con)? {
                return Ok((lease, failed));
            }
            if start.elapsed() >= timeout {
                bail!("waited {} ms for the lock {} without getting it", timeout.as_millis(), self.key);
            }
            failed += 1;
            thread::sleep(Duration::from_micros(rng.random_range(RETRY_US)));
        }
    }

    /// Compare-and-delete: true if our lock was still there and is now gone; false if it had
    /// expired (and may belong to someone else now, whose lock we leave alone).
    pub fn release(&self, con: &mut impl ConnectionLike, lease: &Lease) -> Result<bool> {
        let deleted: i64 = self
            .release
            .key(&self.key)
            .arg(&lease.token)
            .invoke(con)
            .with_context(|| format!("releasing {}", self.key))?;
        Ok(deleted == 1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(cmd: &redis::Cmd) -> Vec<String> {
        cmd.args_iter()
            .map(|a| match a {
                redis::Arg::Simple(bytes) => String::from_utf8_lossy(bytes).into_owned(),
                _ => "<other>".to_string(),
            })
            .collect()
    }

    #[test]
    fn acquiring_is_one_set_with_nx_and_px() {
        let lock = RedisLock::new("ns:lock:job:kline".into(), Duration::from_millis(200));
        assert_eq!(args(&lock.acquire_cmd("abc")), ["SET", "ns:lock:job:kline", "abc", "NX", "PX", "200"]);
    }

    #[test]
    fn the_fence_counter_sits_next_to_the_lock() {
        let lock = RedisLock::new("ns:lock:tx-check:0xab".into(), Duration::from_secs(5));
        assert_eq!(lock.fence_key, "ns:lock:tx-check:0xab:fence");
        assert_eq!(lock.key(), "ns:lock:tx-check:0xab");
        assert_eq!(lock.ttl_ms(), 5_000);
    }

    #[test]
    fn the_scripts_compare_before_deleting_and_fence_only_on_success() {
        // The release must read and compare inside the script; a client-side GET-then-DEL races.
        assert!(RELEASE_SCRIPT.find("GET").unwrap() < RELEASE_SCRIPT.find("DEL").unwrap());
        assert!(ACQUIRE_FENCED_SCRIPT.find("'NX'").unwrap() < ACQUIRE_FENCED_SCRIPT.find("INCR").unwrap());
    }
}
