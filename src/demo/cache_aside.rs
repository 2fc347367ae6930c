//! Lesson 2 (notes: `model/redismodel/token.go`): the token cache. Cache-aside — read Redis, on a
//! miss run the SQL query and fill with a 30-day TTL (with jitter) — and the classic failures:
//! stampedes, repeated misses for tokens that do not exist, and stale data after a write.
//!
//! One file per demo; `cache` is the read path they share.

mod cache;
mod invalidation;
mod near_cache;
mod negative_caching;
mod skewed_reads;
mod stampede;
mod token_cache;

pub use invalidation::invalidation;
pub use near_cache::near_cache;
pub use negative_caching::negative_caching;
pub use skewed_reads::skewed_reads;
pub use stampede::stampede;
pub use token_cache::token_cache;

/// The notes' TTL: 30 days.
pub const TTL_SECS: u64 = 30 * 86_400;
/// ±10% jitter, so keys filled together do not all expire together.
pub const JITTER: f64 = 0.10;
/// Short TTL for "this token does not exist" markers.
pub const NEGATIVE_TTL_SECS: u64 = 120;
/// What a negative-cache entry holds.
pub const NONE_MARKER: &str = "__none__";
