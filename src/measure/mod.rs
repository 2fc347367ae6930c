//! Honest timing: a sampler with warmup and a time budget, percentiles, one duration formatter, and
//! the result types a demo returns (measurements, side-by-side comparisons, claims).

mod clock;
mod report;
mod sampler;
mod stats;
mod units;

pub use clock::{Clock, FakeClock, SystemClock};
pub use report::{Backend, Claim, Comparison, Measurement};
pub use sampler::{Budget, Sampler};
pub use stats::Stats;
pub use units::{format_count, format_duration, format_ratio};
