//! Lesson 9 (notes: `pkg/oklink/client.go`, "缓存外部API调用结果，使用SETEX设置过期时间"): an HTTP
//! response cache in front of a slow, rate-limited external API (simulated), and the general role
//! "缓存 with eviction policies and expiry". Upstream calls cut from N to the distinct URLs; one key
//! per request however it is spelled; TTLs that follow the upstream's freshness, and errors kept only
//! briefly; eviction under `maxmemory` on private servers; the same cache as a SQLite table.
//!
//! One file per demo; `cache` is the response cache they share, `key` turns a request into a key,
//! `upstream` is the simulated API.

mod cache;
mod cache_keys;
mod error_caching;
mod eviction;
mod freshness;
mod key;
mod sql_table;
mod upstream;
mod upstream_calls;

pub use cache_keys::request_keys;
pub use error_caching::error_caching;
pub use eviction::eviction_policies;
pub use freshness::freshness;
pub use sql_table::sql_cache_table;
pub use upstream_calls::upstream_calls;
