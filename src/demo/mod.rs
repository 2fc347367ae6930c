//! Live demos: each proves one Redis role against a real server and the same job in SQLite, and
//! returns a [`DemoReport`] (findings, measurements, comparisons, claims); printing is elsewhere.
//!
//! A demo is a plain function registered in [`DEMOS`] under the name lesson files use.

#[cfg(any())] // TODO-CONVERT
mod cache_aside;
mod context;
#[cfg(any())] // TODO-CONVERT
mod discovery;
#[cfg(any())] // TODO-CONVERT
mod http_cache;
pub mod klines;
#[cfg(any())] // TODO-CONVERT
mod locks;
#[cfg(any())] // TODO-CONVERT
mod pubsub;
mod report;
mod runner;
#[cfg(any())] // TODO-CONVERT
mod sessions;
#[cfg(any())] // TODO-CONVERT
mod structures;
mod together;
mod versus;
mod what_is_redis;

pub use context::Ctx;
pub use report::{DemoReport, Finding, Note, NoteKind};
pub use runner::{ClaimTotals, DemoRun, RunEvent, run_demos};
pub use together::run_together;

use anyhow::Result;

/// A named demo.
pub struct Demo {
    pub name: &'static str,
    pub run: fn(&Ctx) -> Result<DemoReport>,
}

/// Every demo a lesson file may name.
pub const DEMOS: &[Demo] = &[
    Demo { name: "round-trip", run: what_is_redis::round_trip },
    Demo { name: "core-types", run: what_is_redis::core_types },
    Demo { name: "durable-writes", run: what_is_redis::durable_writes },
    #[cfg(any())] // TODO-CONVERT
    Demo { name: "token-cache", run: cache_aside::token_cache },
    #[cfg(any())] // TODO-CONVERT
    Demo { name: "skewed-reads", run: cache_aside::skewed_reads },
    #[cfg(any())] // TODO-CONVERT
    Demo { name: "stampede", run: cache_aside::stampede },
    #[cfg(any())] // TODO-CONVERT
    Demo { name: "negative-caching", run: cache_aside::negative_caching },
    #[cfg(any())] // TODO-CONVERT
    Demo { name: "invalidation", run: cache_aside::invalidation },
    Demo { name: "kline-ranges", run: klines::kline_ranges },
    Demo { name: "kline-memory", run: klines::kline_memory },
    Demo { name: "kline-updates", run: klines::kline_updates },
    #[cfg(any())] // TODO-CONVERT
    Demo { name: "lost-updates", run: locks::lost_updates },
    #[cfg(any())] // TODO-CONVERT
    Demo { name: "sql-serialise", run: locks::sql_serialise },
    #[cfg(any())] // TODO-CONVERT
    Demo { name: "crash-gap", run: locks::crash_gap },
    #[cfg(any())] // TODO-CONVERT
    Demo { name: "unsafe-release", run: locks::unsafe_release },
    #[cfg(any())] // TODO-CONVERT
    Demo { name: "fencing", run: locks::fencing },
    #[cfg(any())] // TODO-CONVERT
    Demo { name: "broadcast", run: pubsub::broadcast },
    #[cfg(any())] // TODO-CONVERT
    Demo { name: "offline-node", run: pubsub::offline_node },
    #[cfg(any())] // TODO-CONVERT
    Demo { name: "polling", run: pubsub::polling },
    #[cfg(any())] // TODO-CONVERT
    Demo { name: "node-heartbeats", run: discovery::node_heartbeats },
    #[cfg(any())] // TODO-CONVERT
    Demo { name: "heartbeat-table", run: discovery::heartbeat_table },
    #[cfg(any())] // TODO-CONVERT
    Demo { name: "node-filter", run: discovery::node_filter },
    #[cfg(any())] // TODO-CONVERT
    Demo { name: "scan-not-keys", run: discovery::scan_not_keys },
    #[cfg(any())] // TODO-CONVERT
    Demo { name: "session-expiry", run: sessions::session_expiry },
    #[cfg(any())] // TODO-CONVERT
    Demo { name: "ws-subscriptions", run: sessions::ws_subscriptions },
    #[cfg(any())] // TODO-CONVERT
    Demo { name: "ws-clients", run: sessions::ws_clients },
    #[cfg(any())] // TODO-CONVERT
    Demo { name: "counters", run: structures::counters },
    #[cfg(any())] // TODO-CONVERT
    Demo { name: "job-queue", run: structures::job_queue },
    #[cfg(any())] // TODO-CONVERT
    Demo { name: "leaderboard", run: structures::leaderboard },
    #[cfg(any())] // TODO-CONVERT
    Demo { name: "rate-limiter", run: structures::rate_limiter },
    #[cfg(any())] // TODO-CONVERT
    Demo { name: "limiter-race", run: structures::limiter_race },
    #[cfg(any())] // TODO-CONVERT
    Demo { name: "http-upstream-calls", run: http_cache::upstream_calls },
    #[cfg(any())] // TODO-CONVERT
    Demo { name: "http-cache-keys", run: http_cache::request_keys },
    #[cfg(any())] // TODO-CONVERT
    Demo { name: "http-freshness", run: http_cache::freshness },
    #[cfg(any())] // TODO-CONVERT
    Demo { name: "http-error-caching", run: http_cache::error_caching },
    #[cfg(any())] // TODO-CONVERT
    Demo { name: "eviction-policies", run: http_cache::eviction_policies },
    #[cfg(any())] // TODO-CONVERT
    Demo { name: "sql-cache-table", run: http_cache::sql_cache_table },
    Demo { name: "workload-table", run: versus::workload_table },
    Demo { name: "join-in-app", run: versus::join_in_app },
    Demo { name: "crash-durability", run: versus::crash_durability },
];

pub fn names() -> Vec<&'static str> {
    DEMOS.iter().map(|d| d.name).collect()
}

pub fn find(name: &str) -> Option<&'static Demo> {
    DEMOS.iter().find(|d| d.name == name)
}

#[cfg(test)]
mod tests {
    #[test]
    fn demo_names_are_unique() {
        let mut names = super::names();
        names.sort_unstable();
        let before = names.len();
        names.dedup();
        assert_eq!(before, names.len());
    }
}
