//! Lesson 6 (notes, Q2 通用作用 2: 数据结构服务器 — 计数器、队列、排行榜、限流器): Redis as a
//! data-structure server. Each structure does one job on the server, atomically, in one round trip:
//! INCR counts without lost updates, a list is a queue (BLMOVE into a processing list makes it
//! survive a consumer crash), a sorted set is a leaderboard with O(log N) rank, and a counter or a
//! sorted-set log is a rate limiter. The SQL side does the same jobs with UPDATE, a jobs table and
//! ORDER BY … LIMIT, measured in the same run.
//!
//! One demo per file: [`counters`], [`job_queue`], [`leaderboard`], [`rate_limiter`],
//! [`limiter_race`] (which runs the rate limiter's limiters under concurrency). This file holds the
//! lesson's shared constant, its fake-hash mixer, and the choice of "who was faster" message.

mod big_keys;
mod counters;
mod job_queue;
mod leaderboard;
mod limiter_race;
mod metrics;
mod rate_limiter;

pub use big_keys::big_keys;
pub use counters::counters;
pub use job_queue::job_queue;
pub use leaderboard::leaderboard;
pub use limiter_race::limiter_race;
pub use metrics::metrics;
pub use rate_limiter::rate_limiter;

use std::time::Duration;

use crate::measure::{Comparison, Measurement, Verdict};
use crate::text::{Fact, Text};

/// How long a SQLite connection waits for another one's write lock before it gives up.
const SQL_WAIT: Duration = Duration::from_secs(10);

/// splitmix64: a fixed, well-spread 64-bit hash, for made-up wallet addresses and transaction hashes.
fn mix(x: u64) -> u64 {
    let mut z = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// Who was faster at p50, `a` or `b`, from `cmp` (the comparison of `a` with `b`, measured
/// interleaved in one group): the message `<id>.a-faster`, `<id>.b-faster`, or
/// `<id>.no-clear-difference` when the interval covers 1. Facts: `a` and `b` (the p50s), `ratio`
/// (how many times faster the faster side was) and `measured` (the ratio with its interval).
fn who_wins(id: &str, cmp: &Comparison, a: &Measurement, b: &Measurement) -> Text {
    let (choice, by) = winner(cmp);
    Text::msg(&format!("{id}.{choice}"))
        .fact("a", a.p50())
        .fact("b", b.p50())
        .fact("ratio", Fact::Ratio(by))
        .fact("measured", cmp.measured())
}

/// The message choice for [`who_wins`], and by how many times the faster side won.
fn winner(cmp: &Comparison) -> (&'static str, f64) {
    if cmp.status == Verdict::NoClearDifference {
        ("no-clear-difference", cmp.ratio)
    } else if cmp.ratio >= 1.0 {
        ("a-faster", cmp.ratio)
    } else {
        ("b-faster", 1.0 / cmp.ratio)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn comparison(ratio: f64, status: Verdict) -> Comparison {
        Comparison {
            id: "x".into(),
            a: "a".into(),
            b: "b".into(),
            a_label: String::new(),
            b_label: String::new(),
            ratio,
            ratio_low: ratio * 0.9,
            ratio_high: ratio * 1.1,
            ratio_p99: ratio,
            rounds: 10,
            status,
        }
    }

    #[test]
    fn the_faster_side_picks_the_message_and_the_ratio_is_above_one() {
        assert_eq!(winner(&comparison(4.0, Verdict::Clear)), ("a-faster", 4.0));
        assert_eq!(winner(&comparison(0.25, Verdict::Clear)), ("b-faster", 4.0));
        assert_eq!(winner(&comparison(0.98, Verdict::NoClearDifference)).0, "no-clear-difference");
    }
}
