//! Lesson 11 (the notes' backend runs many nodes, and Redis soon runs as more than one process):
//! what changes beyond one server, on private servers this lesson starts on loopback and stops
//! again (never the learner's). One file per demo: `replication` (a primary and a replica: lag,
//! stale reads, WAIT), `failover` (Sentinel promoting the replica: time to the new primary,
//! acknowledged writes and a lock lost), `cluster` (hash slots, MOVED, CROSSSLOT and hash tags,
//! PUBLISH vs SPUBLISH); what they share is in `support`.

mod cluster;
mod failover;
mod replication;
mod support;

pub use self::cluster::cluster;
pub use self::failover::failover;
pub use self::replication::replication;
