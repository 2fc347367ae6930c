//! Lesson 3 (notes: `model/redismodel/kline.go`): K-lines (candles) in a sorted set, the open time
//! in ms as the score, time windows with `ZRANGE … BYSCORE`, a compact member encoding, and the two
//! ways a sorted set surprises: members are unique by value (the open candle piles up; flat candles
//! collapse) and the encoding flips from listpack to skiplist past 128 members or 64-byte members.
//! The SQL side is the same candles in an indexed SQLite table. One file per demo: `ranges`,
//! `memory`, `updates`; the candles, their member encoding and the two stores are modules of their own.

pub mod codec;
mod memory;
mod ranges;
pub mod series;
mod table;
mod updates;
mod zset;

pub use self::memory::kline_memory;
pub use self::ranges::kline_ranges;
pub use self::updates::kline_updates;

/// The notes' interval.
pub const INTERVAL: &str = "1m";
/// Candles in one day of 1-minute candles.
pub const DAY: usize = 1_440;
/// Candles per bucket key: 2 hours, under the default `zset-max-listpack-entries` (128).
pub const BUCKET_CANDLES: u64 = 120;
