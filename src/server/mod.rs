//! Everything about reaching Redis safely: which server (explicit, default or a private one we
//! start), the loopback rule, the per-run key namespace and its cleanup guard, the Ctrl-C flag, and
//! the command trace shown to learners.
//!
//! Commands that could hurt a server (FLUSH*, CONFIG SET, DEBUG, SHUTDOWN) may appear only in
//! `private.rs` and `private_cluster.rs`, which run them only on a server this process started; `.ci/forbid` checks that.

pub mod condition;
pub mod journal;
pub mod kept;
mod namespace;
mod private;
mod private_cluster;
mod target;
mod trace;

pub use journal::{Journal, Swept};
pub use namespace::{Cleanup, Namespace, NamespaceGuard, count_keys, keys_on};
pub use private::{PrivateConnection, PrivateServer, SentinelSettings, free_port, redis_server_path, sweep_orphans};
pub use private_cluster::{ClusterNode, NodeRole, PrivateCluster, SLOTS, free_cluster_port};
pub(crate) use target::open_with_limits;
pub use target::{RedisHandle, ServerInfo, Version, connect, is_loopback_host, parse_url};
pub use trace::{Trace, TraceDetail, TraceReport, TracedConnection};
