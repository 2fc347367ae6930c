//! Lesson 5 (notes: `apps/websocket/internal/svc/websocket_cluster.go`): broadcast across WebSocket
//! nodes. Pub/Sub fans one PUBLISH out to every node listening right now — at-most-once, no history —
//! so a node that is down misses what was sent meanwhile; a Stream with one consumer group per node
//! keeps the messages for replay and tracks what was not acknowledged. The SQL side polls a table,
//! so its delivery latency is set by the poll interval.
//!
//! Keyspace notifications publish an event when a key expires, with the same at-most-once delivery.
//!
//! One demo per file: [`broadcast`] (every node gets every message), [`offline_node`] (a node that
//! is down, Pub/Sub against a Stream), [`polling`] (the SQL way), [`expiry_events`] (keyspace
//! notifications on a private server); [`subscriber`] holds what they share. This file holds the
//! lesson's constants.

mod broadcast;
mod expiry_events;
mod offline_node;
mod polling;
mod subscriber;

pub use broadcast::broadcast;
pub use expiry_events::expiry_events;
pub use offline_node::offline_node;
pub use polling::polling;

use std::time::Duration;

/// The notes' cluster broadcast channel (inside the run's namespace: Pub/Sub ignores DB numbers).
const CHANNEL: &str = "ws:broadcast";
/// How long one Pub/Sub read waits before the loop looks at its flags again.
const READ_TIMEOUT: Duration = Duration::from_millis(100);
/// Once publishing is over, a subscriber that saw nothing for this long has everything there is.
const GRACE: Duration = Duration::from_secs(1);
/// A subscriber or poller that saw nothing for this long while messages are still due is stuck.
const STALL: Duration = Duration::from_secs(10);
/// The longest wait for subscribers to register (PUBSUB NUMSUB).
const SUBSCRIBE_WAIT: Duration = Duration::from_secs(5);
