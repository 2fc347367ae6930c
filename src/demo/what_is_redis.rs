//! Lesson 1 (notes, Q1): Redis is an open-source, in-memory data-structure store. Demos: the round
//! trip every command pays (and how pipelining amortises it), one command per core type with TYPE
//! and OBJECT ENCODING, and what "in memory" buys on writes compared with durable SQL commits.
//!
//! One demo per file: [`round_trip`], [`core_types`], [`durable_writes`].

mod core_types;
mod durable_writes;
mod round_trip;

pub use core_types::core_types;
pub use durable_writes::durable_writes;
pub use round_trip::round_trip;
