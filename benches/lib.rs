//! redis-learn's criterion benches (`building_blocks`, `kline_codec`, `round_trip`) live beside this
//! file, in a package of their own so that `cargo test` never builds criterion. Run them from the
//! repository root:
//!
//! ```text
//! cargo bench -p redis-learn-benches                     # all three
//! cargo bench -p redis-learn-benches --bench round_trip  # one
//! ```
