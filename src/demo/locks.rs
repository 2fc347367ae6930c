//! Lesson 4 (notes: `pkg/xredis/lock.go`, "SETNX + EXPIRE"): distributed locks. Lost updates
//! without a lock and none with `SET NX PX`; the same read-modify-write serialised by SQLite; the
//! crash gap between SETNX and EXPIRE; a release that deletes someone else's lock; and expiry during
//! a pause, which only fencing tokens at the resource can make safe. Then the Redis-native way with
//! no lock at all: `WATCH`/`MULTI`/`EXEC`, retried when EXEC replies nil; and what MULTI does not
//! do: roll back when one of its commands fails, which a SQL transaction does.
//!
//! One demo per file: [`lost_updates`], [`sql_serialise`], [`crash_gap`], [`unsafe_release`],
//! [`fencing`], [`watch_multi`], [`no_rollback`]. [`lock`] is our version of the notes' lock;
//! [`race`] is the K-worker race that the lost-update demos run. This file holds the lesson's
//! constants.

mod crash_gap;
mod fencing;
mod lock;
mod lost_updates;
mod no_rollback;
mod race;
mod sql_serialise;
mod unsafe_release;
mod watch_multi;

pub use crash_gap::crash_gap;
pub use fencing::fencing;
pub use lost_updates::lost_updates;
pub use no_rollback::no_rollback;
pub use sql_serialise::sql_serialise;
pub use unsafe_release::unsafe_release;
pub use watch_multi::watch_multi;

use std::time::Duration;

/// Between its read and its write a worker "does its work": this pause makes the race window real.
const WORK_PAUSE: Duration = Duration::from_micros(200);
/// Lock TTL in the contended runs: far longer than one critical section, so it never expires there.
const LONG_TTL: Duration = Duration::from_secs(5);
/// Lock TTL in the expiry demos: short, and watched with PTTL rather than slept through blindly.
const SHORT_TTL: Duration = Duration::from_millis(200);
/// How long a worker waits for a busy lock (Redis) or a busy database (SQLite) before giving up.
const WAIT_LIMIT: Duration = Duration::from_secs(10);
/// A WATCH worker that sees EXEC reply nil this many times in a row gives up (it never should:
/// every nil means another worker committed, so the race always makes progress).
const WATCH_RETRY_LIMIT: u64 = 100_000;
/// The balance the workers fight over, as the notes' backend would key it.
const USER_ID: i64 = 1001;
/// The scheduled job of the crash-gap demo (the notes: "防止定时任务重复执行").
const JOB: &str = "kline-aggregate";
