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
