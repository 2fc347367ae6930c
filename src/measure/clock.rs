//! The clock seam: real timings come from [`SystemClock`]; tests use [`FakeClock`] so that tables,
//! claims and JSON can be snapshot-tested without flaky numbers.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// A monotonic clock: the time since some fixed origin.
pub trait Clock: Send + Sync {
    fn now(&self) -> Duration;
}

/// The machine's monotonic clock.
#[derive(Debug)]
pub struct SystemClock {
    origin: Instant,
}

impl SystemClock {
    pub fn new() -> SystemClock {
        SystemClock { origin: Instant::now() }
    }
}

impl Default for SystemClock {
    fn default() -> Self {
        Self::new()
    }
}

impl Clock for SystemClock {
    fn now(&self) -> Duration {
        self.origin.elapsed()
    }
}

/// A clock that advances by a repeating pattern of steps each time it is read, so every sample a
/// sampler takes has a known, deterministic duration.
#[derive(Debug)]
pub struct FakeClock {
    steps_ns: Vec<u64>,
    reads: AtomicU64,
    elapsed_ns: AtomicU64,
}

impl FakeClock {
    /// Each *pair* of reads (start, end) sees the next step of `steps` as its duration.
    pub fn new(steps: &[Duration]) -> FakeClock {
        assert!(!steps.is_empty(), "a fake clock needs at least one step");
        FakeClock {
            steps_ns: steps.iter().map(|d| d.as_nanos() as u64).collect(),
            reads: AtomicU64::new(0),
            elapsed_ns: AtomicU64::new(0),
        }
    }
}

impl Clock for FakeClock {
    fn now(&self) -> Duration {
        let read = self.reads.fetch_add(1, Ordering::SeqCst);
        if read % 2 == 1 {
            let step = self.steps_ns[((read / 2) as usize) % self.steps_ns.len()];
            self.elapsed_ns.fetch_add(step, Ordering::SeqCst);
        }
        Duration::from_nanos(self.elapsed_ns.load(Ordering::SeqCst))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fake_clock_gives_each_pair_of_reads_the_next_step() {
        let clock = FakeClock::new(&[Duration::from_micros(10), Duration::from_micros(30)]);
        let a = clock.now();
        let b = clock.now();
        let c = clock.now();
        let d = clock.now();
        assert_eq!(b - a, Duration::from_micros(10));
        assert_eq!(d - c, Duration::from_micros(30));
    }
}
