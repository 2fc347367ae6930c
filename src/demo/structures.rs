//! Lesson 6 (notes, Q2 通用作用 2: 数据结构服务器 — 计数器、队列、排行榜、限流器): Redis as a
//! data-structure server. Each structure does one job on the server, atomically, in one round trip:
//! INCR counts without lost updates, a list is a queue (BLMOVE into a processing list makes it
//! survive a consumer crash), a sorted set is a leaderboard with O(log N) rank, and a counter or a
//! sorted-set log is a rate limiter. The SQL side does the same jobs with UPDATE, a jobs table and
//! ORDER BY … LIMIT, measured in the same run.
//!
//! One demo per file: [`counters`], [`queues`], [`leaderboard`], [`ratelimit`]. This file holds
//! what they share.

mod counters;
mod leaderboard;
mod queues;
mod ratelimit;

pub use counters::counters;
pub use leaderboard::leaderboard;
pub use queues::job_queue;
pub use ratelimit::{limiter_race, rate_limiter};

use std::path::Path;
use std::time::Duration;

use anyhow::{Context, Result};
use rusqlite::Connection;

use super::Ctx;
use crate::i18n::Lang;
use crate::measure::{Comparison, Measurement, Verdict, format_duration, format_ratio};

/// How long a SQLite connection waits for another one's write lock before it gives up.
const SQL_WAIT: Duration = Duration::from_secs(10);

/// `redis-learn:3fa2b1c0:queue:tx-check` is long; show the part after the run prefix.
fn short(key: &str) -> String {
    let tail = key.splitn(3, ':').nth(2).unwrap_or(key);
    format!("…:{tail}")
}

/// splitmix64: a fixed, well-spread 64-bit hash, for made-up wallet addresses and transaction hashes.
fn mix(x: u64) -> u64 {
    let mut z = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// Operations per second over a wall time.
fn per_sec(ops: u64, elapsed: Duration) -> u64 {
    let s = elapsed.as_secs_f64();
    if s > 0.0 { (ops as f64 / s).round() as u64 } else { 0 }
}

/// A worker's own connection to a SQLite file that already exists (WAL is set once, at creation):
/// it waits up to [`SQL_WAIT`] for the write lock, and commits without fsync (as Redis without AOF
/// fsync does not wait for the disk either).
fn open_sql_worker(path: &Path) -> Result<Connection> {
    let con = Connection::open(path).with_context(|| format!("opening SQLite file {}", path.display()))?;
    con.busy_timeout(SQL_WAIT).context("setting busy_timeout")?;
    con.pragma_update(None, "synchronous", "OFF").context("setting synchronous")?;
    Ok(con)
}

/// One honest sentence on who was faster at p50, `a` or `b`, and by how much, from `cmp`: the
/// comparison of `a` with `b`, measured interleaved in one group. When its interval covers 1, it
/// says there was no clear difference instead.
fn who_wins(ctx: &Ctx, cmp: &Comparison, a: &Measurement, b: &Measurement) -> String {
    if cmp.status == Verdict::NoClearDifference {
        return match ctx.lang {
            Lang::En => format!(
                "{} ({}) and {} ({}): no clear difference ({})",
                a.label,
                format_duration(a.p50()),
                b.label,
                format_duration(b.p50()),
                cmp.measured()
            ),
            Lang::Zh => format!(
                "{}（{}）与 {}（{}）：没有明显差别（{}）",
                a.label,
                format_duration(a.p50()),
                b.label,
                format_duration(b.p50()),
                cmp.measured()
            ),
        };
    }
    let (fast, slow, by) = if cmp.ratio >= 1.0 { (a, b, cmp.ratio) } else { (b, a, 1.0 / cmp.ratio) };
    let by = format_ratio(by);
    match ctx.lang {
        Lang::En => format!(
            "{} ({}) beat {} ({}) by {by}",
            fast.label,
            format_duration(fast.p50()),
            slow.label,
            format_duration(slow.p50())
        ),
        Lang::Zh => format!(
            "{}（{}）比 {}（{}）快 {by}",
            fast.label,
            format_duration(fast.p50()),
            slow.label,
            format_duration(slow.p50())
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_keys_drop_the_run_prefix() {
        assert_eq!(short("redis-learn:3fa2b1c0:queue:tx-check"), "…:queue:tx-check");
        assert_eq!(short("plain"), "…:plain");
    }

    #[test]
    fn rates_survive_a_zero_wall_time() {
        assert_eq!(per_sec(1_000, Duration::from_millis(500)), 2_000);
        assert_eq!(per_sec(1_000, Duration::ZERO), 0);
    }
}
