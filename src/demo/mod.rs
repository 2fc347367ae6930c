//! Live demos: each proves one Redis role against a real server and the same job in SQLite, and
//! returns a [`DemoReport`] (findings, measurements, comparisons, claims); printing is elsewhere.
//!
//! A demo is a plain function registered in [`DEMOS`] under the name lesson files use.

mod beyond_one_server;
mod cache_aside;
mod context;
mod data_structures;
mod http_cache;
pub mod klines;
mod locks;
mod pubsub;
mod redis_vs_sql;
mod report;
mod runner;
mod service_discovery;
mod sessions;
pub mod support;
mod together;
mod what_is_redis;

pub use context::Ctx;
pub use report::{DemoReport, Finding, Note, NoteKind};
pub use runner::{ClaimTotals, DemoRun, Flow, RunEvent, run_demos};
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
    Demo { name: "token-cache", run: cache_aside::token_cache },
    Demo { name: "skewed-reads", run: cache_aside::skewed_reads },
    Demo { name: "stampede", run: cache_aside::stampede },
    Demo { name: "negative-caching", run: cache_aside::negative_caching },
    Demo { name: "invalidation", run: cache_aside::invalidation },
    Demo { name: "near-cache", run: cache_aside::near_cache },
    Demo { name: "kline-ranges", run: klines::kline_ranges },
    Demo { name: "kline-memory", run: klines::kline_memory },
    Demo { name: "kline-updates", run: klines::kline_updates },
    Demo { name: "lost-updates", run: locks::lost_updates },
    Demo { name: "sql-serialise", run: locks::sql_serialise },
    Demo { name: "crash-gap", run: locks::crash_gap },
    Demo { name: "unsafe-release", run: locks::unsafe_release },
    Demo { name: "fencing", run: locks::fencing },
    Demo { name: "watch-multi", run: locks::watch_multi },
    Demo { name: "no-rollback", run: locks::no_rollback },
    Demo { name: "broadcast", run: pubsub::broadcast },
    Demo { name: "offline-node", run: pubsub::offline_node },
    Demo { name: "polling", run: pubsub::polling },
    Demo { name: "expiry-events", run: pubsub::expiry_events },
    Demo { name: "node-heartbeats", run: service_discovery::node_heartbeats },
    Demo { name: "heartbeat-table", run: service_discovery::heartbeat_table },
    Demo { name: "node-filter", run: service_discovery::node_filter },
    Demo { name: "scan-not-keys", run: service_discovery::scan_not_keys },
    Demo { name: "scan-duplicates", run: service_discovery::scan_duplicates },
    Demo { name: "session-expiry", run: sessions::session_expiry },
    Demo { name: "ws-subscriptions", run: sessions::ws_subscriptions },
    Demo { name: "ws-clients", run: sessions::ws_clients },
    Demo { name: "counters", run: data_structures::counters },
    Demo { name: "job-queue", run: data_structures::job_queue },
    Demo { name: "leaderboard", run: data_structures::leaderboard },
    Demo { name: "rate-limiter", run: data_structures::rate_limiter },
    Demo { name: "limiter-race", run: data_structures::limiter_race },
    Demo { name: "big-keys", run: data_structures::big_keys },
    Demo { name: "metrics", run: data_structures::metrics },
    Demo { name: "http-upstream-calls", run: http_cache::upstream_calls },
    Demo { name: "http-cache-keys", run: http_cache::request_keys },
    Demo { name: "http-freshness", run: http_cache::freshness },
    Demo { name: "http-error-caching", run: http_cache::error_caching },
    Demo { name: "eviction-policies", run: http_cache::eviction_policies },
    Demo { name: "sql-cache-table", run: http_cache::sql_cache_table },
    Demo { name: "workload-table", run: redis_vs_sql::workload_table },
    Demo { name: "join-in-app", run: redis_vs_sql::join_in_app },
    Demo { name: "crash-durability", run: redis_vs_sql::crash_durability },
    Demo { name: "fork-cow", run: redis_vs_sql::fork_cow },
    Demo { name: "replication", run: beyond_one_server::replication },
    Demo { name: "failover", run: beyond_one_server::failover },
    Demo { name: "cluster", run: beyond_one_server::cluster },
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
