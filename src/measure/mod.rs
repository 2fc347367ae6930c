//! Honest timing: a sampler that measures compared operations interleaved in rounds, percentiles,
//! ratios with 95% intervals, the round-trip floor and the noise check, one duration formatter, and
//! the result types a demo returns (measurements, comparisons, claims).

mod clock;
mod noise;
pub mod placement;
mod report;
mod sampler;
mod stats;
mod units;

pub use clock::{Clock, FakeClock, SystemClock};
pub use noise::{Floor, FloorPoint, NOISE_FACTOR, Warning, assess};
pub use placement::Placement;
pub use report::{Backend, Claim, ClaimStatus, Comparison, Kind, Measurement, Verdict};
pub use sampler::{Budget, Group, Measured, Sampler, new_group};
pub use stats::{Interval, Stats, median_interval};
pub use units::{format_count, format_duration, format_ratio, format_ratio_interval};
