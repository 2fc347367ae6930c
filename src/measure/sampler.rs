//! The sampler: warm up, then time each operation on its own until a time budget or a sample cap is
//! reached — never fewer than the floor that p99 needs.

use std::sync::Arc;
use std::time::Duration;

use anyhow::Result;

use super::clock::{Clock, SystemClock};
use super::report::{Backend, Measurement};
use super::stats::Stats;
use crate::server::Interrupt;

/// How long and how often to sample.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Budget {
    /// Untimed runs first: connections, caches and the CPU settle.
    pub warmup: usize,
    /// At least this many timed samples (100 gives a p99 that is a real sample, not the max).
    pub min_samples: usize,
    /// At most this many timed samples.
    pub max_samples: usize,
    /// Stop adding samples once this much time was spent timing (after `min_samples`).
    pub target: Duration,
}

impl Budget {
    pub const FULL: Budget =
        Budget { warmup: 100, min_samples: 200, max_samples: 20_000, target: Duration::from_millis(1_000) };
    pub const QUICK: Budget =
        Budget { warmup: 20, min_samples: 100, max_samples: 2_000, target: Duration::from_millis(200) };
}

/// Times operations. Cheap to clone; shareable across threads.
#[derive(Clone)]
pub struct Sampler {
    clock: Arc<dyn Clock>,
    budget: Budget,
    interrupt: Interrupt,
}

impl Sampler {
    pub fn new(budget: Budget, interrupt: Interrupt) -> Sampler {
        Sampler { clock: Arc::new(SystemClock::new()), budget, interrupt }
    }

    /// A sampler whose samples come from a fake clock (tests).
    pub fn with_clock(budget: Budget, clock: Arc<dyn Clock>, interrupt: Interrupt) -> Sampler {
        Sampler { clock, budget, interrupt }
    }

    pub fn budget(&self) -> Budget {
        self.budget
    }

    /// The current time on this sampler's clock.
    pub fn now(&self) -> Duration {
        self.clock.now()
    }

    /// Measure one operation per sample.
    pub fn measure(
        &self,
        label: impl Into<String>,
        backend: Backend,
        op: impl FnMut() -> Result<()>,
    ) -> Result<Measurement> {
        self.measure_batch(label, backend, 1, op)
    }

    /// Measure `ops_per_sample` operations per sample (a pipeline, a batch): the stats are per
    /// sample, the throughput per operation.
    pub fn measure_batch(
        &self,
        label: impl Into<String>,
        backend: Backend,
        ops_per_sample: u32,
        mut op: impl FnMut() -> Result<()>,
    ) -> Result<Measurement> {
        for _ in 0..self.budget.warmup {
            self.interrupt.check()?;
            op()?;
        }
        let mut samples = Vec::with_capacity(self.budget.min_samples.max(1024).min(self.budget.max_samples));
        let mut spent = Duration::ZERO;
        while samples.len() < self.budget.max_samples
            && (samples.len() < self.budget.min_samples || spent < self.budget.target)
        {
            self.interrupt.check()?;
            let start = self.clock.now();
            op()?;
            let took = self.clock.now().saturating_sub(start);
            spent += took;
            samples.push(took);
        }
        let stats = Stats::from_samples(&samples).expect("the sampler always takes at least one sample");
        Ok(Measurement::new(label, backend, stats, ops_per_sample))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::measure::FakeClock;

    fn fake(budget: Budget, steps_us: &[u64]) -> Sampler {
        let steps: Vec<Duration> = steps_us.iter().map(|&u| Duration::from_micros(u)).collect();
        Sampler::with_clock(budget, Arc::new(FakeClock::new(&steps)), Interrupt::new())
    }

    #[test]
    fn warmup_runs_are_not_timed() {
        let budget = Budget { warmup: 5, min_samples: 10, max_samples: 10, target: Duration::ZERO };
        let mut calls = 0;
        let m = fake(budget, &[20]).measure("op", Backend::Redis, || {
            calls += 1;
            Ok(())
        });
        let m = m.unwrap();
        assert_eq!(calls, 15);
        assert_eq!(m.stats.samples, 10);
        assert_eq!(m.stats.p50, Duration::from_micros(20));
    }

    #[test]
    fn stops_at_the_time_budget_but_not_below_the_floor() {
        let budget = Budget { warmup: 0, min_samples: 100, max_samples: 100_000, target: Duration::from_millis(10) };
        // 1 ms a sample: the 10 ms budget alone would stop at 10 samples; the floor keeps 100.
        let m = fake(budget, &[1_000]).measure("slow", Backend::Sqlite, || Ok(())).unwrap();
        assert_eq!(m.stats.samples, 100);
        // 1 µs a sample: stops once 10 ms were spent.
        let m = fake(budget, &[1]).measure("fast", Backend::Sqlite, || Ok(())).unwrap();
        assert_eq!(m.stats.samples, 10_000);
    }

    #[test]
    fn batches_report_throughput_per_operation() {
        let budget = Budget { warmup: 0, min_samples: 10, max_samples: 10, target: Duration::ZERO };
        let m = fake(budget, &[100]).measure_batch("mget", Backend::Redis, 100, || Ok(())).unwrap();
        // 100 ops every 100 µs = 1 op/µs = 1,000,000 ops/s.
        assert!((m.ops_per_sec - 1_000_000.0).abs() < 1.0);
    }

    #[test]
    fn an_interrupt_stops_sampling() {
        let budget = Budget::QUICK;
        let sampler = fake(budget, &[5]);
        sampler.interrupt.trigger();
        let err = sampler.measure("op", Backend::Redis, || Ok(())).unwrap_err();
        assert!(err.downcast_ref::<crate::error::UserError>().is_some());
    }

    #[test]
    fn an_operation_error_ends_the_measurement() {
        let err = fake(Budget::QUICK, &[5]).measure("op", Backend::Redis, || anyhow::bail!("boom"));
        assert_eq!(err.unwrap_err().to_string(), "boom");
    }
}
