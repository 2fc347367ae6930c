//! Lesson 7 (notes: 会话存储, the session store; `apps/websocket/internal/svc/redischannel.go`, a Hash
//! channelKey → clientID with a 24 h expiry; `apps/websocket/internal/svc/websocketcontext.go`, a Set
//! `user:{uid}:clients`): state that must disappear on its own when its owner goes away.
//!
//! One demo per file: [`expiry`] (login sessions with sliding expiry, against a SQL table that needs
//! a sweeper), [`subscriptions`] (a whole-hash TTL cannot expire one subscriber; per-member
//! deadlines can), [`clients`] (a node that dies runs no disconnect handler; a node-ownership
//! janitor removes what it left). [`pacing`] is what they share: the pacing of timed rounds with
//! stall detection and retries, and the keys of a retried attempt (the clock, PTTL polling and key
//! counting are in `demo::support`).
//!
//! TTLs are scaled down (30 min and 24 h become a few hundred ms) and read through PTTL; when this
//! machine stalls for most of a TTL, an attempt is discarded and run again rather than decided by
//! luck.

mod clients;
mod expiry;
mod pacing;
mod subscriptions;

pub use clients::ws_clients;
pub use expiry::session_expiry;
pub use subscriptions::ws_subscriptions;
