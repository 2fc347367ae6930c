//! Lesson 8 (notes: `pkg/discovery/discovery.go`): service discovery for the WebSocket cluster —
//! node registration, heartbeats with a TTL so that a crashed node drops out by itself, the active
//! node list, and filtering by region and tag.
//!
//! One demo per file: [`node_heartbeats`] (nodes heartbeat, one crashes, one leaves),
//! [`heartbeat_table`] (the same with a SQLite heartbeat table, and the timings side by side),
//! [`node_filter`] (region and tag sets), [`scan_not_keys`] (finding the nodes with SCAN against
//! the index, and KEYS on a server of the demo's own), [`scan_duplicates`] (SCAN returning a key twice
//! while the keyspace grows and shrinks).
//! [`registry`] is our version of the notes' registry (the node, the key shapes, the Redis side);
//! [`cluster`] is the simulation the two heartbeat demos run, and the tables they print. This file
//! holds the lesson's constants.

mod cluster;
mod heartbeat_table;
mod node_filter;
mod node_heartbeats;
mod registry;
mod scan_duplicates;
mod scan_not_keys;

pub use heartbeat_table::heartbeat_table;
pub use node_filter::node_filter;
pub use node_heartbeats::node_heartbeats;
pub use scan_duplicates::scan_duplicates;
pub use scan_not_keys::scan_not_keys;

use std::time::Duration;

/// A node's registration lives this long unless a heartbeat renews it.
const TTL: Duration = Duration::from_millis(300);
/// How often a healthy node renews it: a third of the TTL, so two heartbeats in a row may be late
/// before the node drops out.
const HEARTBEAT_EVERY: Duration = Duration::from_millis(100);
/// How often the observer looks at the registry.
const POLL_EVERY: Duration = Duration::from_millis(10);
/// ε: how long past the TTL a crashed node may still be listed (one poll, a round trip and the
/// scheduler's noise fit in it many times over).
const SLACK: Duration = Duration::from_millis(100);
/// Expiry is kept in whole milliseconds: "not before the TTL" allows this much rounding.
const ROUNDING: Duration = Duration::from_millis(3);

/// The regions and tags the nodes of the notes' WebSocket cluster carry.
const REGIONS: [&str; 4] = ["ap-east", "ap-south", "eu-west", "us-east"];
