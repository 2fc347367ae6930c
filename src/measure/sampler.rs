//! The sampler: warm up, then time operations in rounds. Operations that will be compared are
//! measured together in one [`Group`]: each round runs a block of every operation in turn, in
//! alternating order (A B, B A, A B, …), so that a machine that speeds up or slows down mid-run
//! moves both sides alike and the ratio stays put.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use anyhow::{Context, Result};

use super::clock::{Clock, SystemClock};
use super::report::{Backend, Comparison, Kind, Measurement};
use crate::interrupt::Interrupt;

/// How long and how often to sample, per operation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Budget {
    /// Untimed runs of each operation first: connections, caches and the CPU settle.
    pub warmup: usize,
    /// Rounds: each gives one median per operation, and one ratio per pair (≥ 6 for a 95% interval).
    pub rounds: usize,
    /// At least this many timed samples per operation, spread over the rounds.
    pub min_samples: usize,
    /// At most this many timed samples per operation.
    pub max_samples: usize,
    /// Time to spend timing each operation, spread over the rounds (after `min_samples`).
    pub target: Duration,
}

impl Budget {
    pub const FULL: Budget =
        Budget { warmup: 100, rounds: 30, min_samples: 210, max_samples: 30_000, target: Duration::from_millis(1_000) };
    pub const QUICK: Budget =
        Budget { warmup: 20, rounds: 20, min_samples: 100, max_samples: 4_000, target: Duration::from_millis(200) };
    /// The round-trip floor (a PING) measured between demos: short, but still in rounds.
    pub const FLOOR: Budget =
        Budget { warmup: 10, rounds: 6, min_samples: 120, max_samples: 1_200, target: Duration::from_millis(15) };

    /// The smaller of each limit (rounds and warmup too).
    fn min(self, other: Budget) -> Budget {
        Budget {
            warmup: self.warmup.min(other.warmup),
            rounds: self.rounds.min(other.rounds),
            min_samples: self.min_samples.min(other.min_samples),
            max_samples: self.max_samples.min(other.max_samples),
            target: self.target.min(other.target),
        }
    }

    fn per_round(&self) -> (usize, usize, Duration) {
        let rounds = self.rounds.max(1);
        let min = self.min_samples.div_ceil(rounds).max(1);
        let max = (self.max_samples / rounds).max(min);
        (min, max, self.target / rounds as u32)
    }
}

static GROUPS: AtomicU64 = AtomicU64::new(1);

/// A fresh group id: measurements share one only when they were sampled interleaved.
pub fn new_group() -> u64 {
    GROUPS.fetch_add(1, Ordering::Relaxed)
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

    /// The same clock and interrupt with `budget`, capped by this sampler's own (so a tiny test
    /// budget stays tiny).
    pub fn with_budget(&self, budget: Budget) -> Sampler {
        Sampler { budget: budget.min(self.budget), ..self.clone() }
    }

    pub fn budget(&self) -> Budget {
        self.budget
    }

    /// The current time on this sampler's clock.
    pub fn now(&self) -> Duration {
        self.clock.now()
    }

    /// Operations to measure together, interleaved: add them with [`Group::op`], then
    /// [`Group::run`].
    pub fn group<'f>(&self) -> Group<'f> {
        Group { sampler: self.clone(), ops: Vec::new() }
    }

    /// Measure one operation on its own (in rounds, but with nothing to compare it with).
    pub fn measure(
        &self,
        id: &str,
        label: impl Into<String>,
        backend: Backend,
        op: impl FnMut() -> Result<()>,
    ) -> Result<Measurement> {
        let mut measured = self.group().op(id, label, backend, op).run()?;
        Ok(measured.0.remove(0))
    }
}

struct GroupOp<'f> {
    id: String,
    label: String,
    backend: Backend,
    ops_per_sample: u32,
    one_round_trip: bool,
    one_disk_sync: bool,
    run: Box<dyn FnMut() -> Result<()> + 'f>,
}

/// Operations sampled interleaved in one run; see the module docs for the order.
pub struct Group<'f> {
    sampler: Sampler,
    ops: Vec<GroupOp<'f>>,
}

impl<'f> Group<'f> {
    /// Add an operation timed one call per sample. `id` is stable (JSON, comparisons); `label` is
    /// what the learner reads.
    pub fn op(self, id: &str, label: impl Into<String>, backend: Backend, op: impl FnMut() -> Result<()> + 'f) -> Self {
        self.batch(id, label, backend, 1, op)
    }

    /// Add an operation that does `ops_per_sample` operations per call (a pipeline, a batch):
    /// comparisons divide its time per operation.
    pub fn batch(
        mut self,
        id: &str,
        label: impl Into<String>,
        backend: Backend,
        ops_per_sample: u32,
        op: impl FnMut() -> Result<()> + 'f,
    ) -> Self {
        self.ops.push(GroupOp {
            id: id.to_string(),
            label: label.into(),
            backend,
            ops_per_sample,
            one_round_trip: false,
            one_disk_sync: false,
            run: Box::new(op),
        });
        self
    }

    /// Mark the operation added last as one request/reply doing O(1) work (GET, SET, INCR, PING of a
    /// small value): its p50 takes part in the run's noise check against the round-trip floor.
    pub fn one_round_trip(mut self) -> Self {
        if let Some(last) = self.ops.last_mut() {
            last.one_round_trip = true;
        }
        self
    }

    /// Mark the operation added last as one that waits for a disk sync (a durable commit, a write to
    /// a server with `appendfsync always`): how far its rounds spread takes part in the run's noise
    /// check, since another program writing to the disk changes its cost.
    pub fn one_disk_sync(mut self) -> Self {
        if let Some(last) = self.ops.last_mut() {
            last.one_disk_sync = true;
        }
        self
    }

    /// Warm every operation up, then run the rounds. Errors: an operation's error (with its id), or
    /// Ctrl-C.
    pub fn run(mut self) -> Result<Measured> {
        let s = &self.sampler;
        let budget = s.budget;
        for _ in 0..budget.warmup {
            for op in &mut self.ops {
                s.interrupt.check()?;
                (op.run)().with_context(|| format!("warming up {}", op.id))?;
            }
        }
        let (min, max, target) = budget.per_round();
        let n = self.ops.len();
        let mut rounds: Vec<Vec<Vec<Duration>>> = vec![Vec::with_capacity(budget.rounds); n];
        for round in 0..budget.rounds.max(1) {
            let order: Vec<usize> = if round % 2 == 0 { (0..n).collect() } else { (0..n).rev().collect() };
            for i in order {
                let op = &mut self.ops[i];
                let mut samples = Vec::with_capacity(min);
                let mut spent = Duration::ZERO;
                while samples.len() < max && (samples.len() < min || spent < target) {
                    s.interrupt.check()?;
                    let start = s.clock.now();
                    (op.run)().with_context(|| format!("measuring {}", op.id))?;
                    let took = s.clock.now().saturating_sub(start);
                    spent += took;
                    samples.push(took);
                }
                rounds[i].push(samples);
            }
        }
        let group = new_group();
        let mut out = Vec::with_capacity(n);
        for (op, op_rounds) in self.ops.into_iter().zip(rounds) {
            let mut m = Measurement::from_rounds(
                op.id,
                op.label,
                op.backend,
                Kind::Throughput,
                group,
                op.ops_per_sample,
                &op_rounds,
            )?;
            m.one_round_trip = op.one_round_trip;
            m.one_disk_sync = op.one_disk_sync;
            out.push(m);
        }
        Ok(Measured(out))
    }
}

/// What a [`Group`] measured, in the order the operations were added.
#[derive(Debug, Clone)]
pub struct Measured(pub Vec<Measurement>);

impl Measured {
    /// The measurement with this id. Panics on an id the group does not have (a typo in a demo,
    /// caught by every lesson's test run).
    pub fn get(&self, id: &str) -> &Measurement {
        self.0.iter().find(|m| m.id == id).unwrap_or_else(|| panic!("no measurement {id} in this group"))
    }

    /// Compare two of this group's measurements by id.
    pub fn compare(&self, id: &str, a: &str, b: &str) -> Result<Comparison> {
        Comparison::of(id, self.get(a), self.get(b))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::measure::FakeClock;
    use std::cell::RefCell;

    fn fake(budget: Budget, steps_us: &[u64]) -> Sampler {
        let steps: Vec<Duration> = steps_us.iter().map(|&u| Duration::from_micros(u)).collect();
        Sampler::with_clock(budget, Arc::new(FakeClock::new(&steps)), Interrupt::new())
    }

    const TINY: Budget = Budget { warmup: 0, rounds: 4, min_samples: 8, max_samples: 8, target: Duration::ZERO };

    #[test]
    fn warmup_runs_are_not_timed() {
        let budget = Budget { warmup: 5, rounds: 2, min_samples: 10, max_samples: 10, target: Duration::ZERO };
        let mut calls = 0;
        let m = fake(budget, &[20])
            .measure("op", "op", Backend::Redis, || {
                calls += 1;
                Ok(())
            })
            .unwrap();
        assert_eq!(calls, 15);
        assert_eq!(m.stats.samples, 10);
        assert_eq!(m.round_p50s.len(), 2);
        assert_eq!(m.p50(), Duration::from_micros(20));
    }

    #[test]
    fn rounds_alternate_the_order_of_operations() {
        let log = RefCell::new(String::new());
        let measured = fake(TINY, &[1])
            .group()
            .op("a", "A", Backend::Redis, || {
                log.borrow_mut().push('a');
                Ok(())
            })
            .op("b", "B", Backend::Sqlite, || {
                log.borrow_mut().push('b');
                Ok(())
            })
            .run()
            .unwrap();
        // Two samples of each per round: A B, then B A, …
        assert_eq!(log.borrow().as_str(), "aabbbbaaaabbbbaa");
        assert_eq!(measured.get("a").group, measured.get("b").group);
        assert_eq!(measured.get("b").round_p50s.len(), 4);
    }

    #[test]
    fn drift_during_a_run_hits_both_sides_and_the_ratio_holds() {
        // The clock's steps: A takes 10 µs and B 30 µs while the machine is quiet, then both take 10×
        // longer. Each round runs one sample of each in alternating order: A B | B A | A B | B A …
        let quiet = [10, 30, 30, 10];
        let busy = [100, 300, 300, 100];
        let steps: Vec<u64> = quiet.iter().chain(&quiet).chain(&busy).chain(&busy).copied().collect();
        let budget = Budget { warmup: 0, rounds: 8, min_samples: 8, max_samples: 8, target: Duration::ZERO };
        let measured = fake(budget, &steps)
            .group()
            .op("a", "A", Backend::Redis, || Ok(()))
            .op("b", "B", Backend::Redis, || Ok(()))
            .run()
            .unwrap();
        let c = measured.compare("a-vs-b", "a", "b").unwrap();
        assert_eq!((c.ratio, c.ratio_low, c.ratio_high), (3.0, 3.0, 3.0));
    }

    #[test]
    fn stops_at_the_time_budget_but_not_below_the_floor() {
        let budget =
            Budget { warmup: 0, rounds: 10, min_samples: 100, max_samples: 100_000, target: Duration::from_millis(10) };
        // 1 ms a sample: the 10 ms budget alone would stop at 10 samples; the floor keeps 100.
        let m = fake(budget, &[1_000]).measure("slow", "slow", Backend::Sqlite, || Ok(())).unwrap();
        assert_eq!(m.stats.samples, 100);
        // 1 µs a sample: stops once 1 ms a round was spent.
        let m = fake(budget, &[1]).measure("fast", "fast", Backend::Sqlite, || Ok(())).unwrap();
        assert_eq!(m.stats.samples, 10_000);
    }

    #[test]
    fn batches_report_throughput_per_operation() {
        let m = fake(TINY, &[100]).group().batch("mget", "MGET", Backend::Redis, 100, || Ok(())).run().unwrap();
        // 100 ops every 100 µs = 1 op/µs = 1,000,000 ops/s.
        assert!((m.get("mget").ops_per_sec().unwrap() - 1_000_000.0).abs() < 1.0);
    }

    #[test]
    fn one_round_trip_marks_the_last_operation() {
        let m = fake(TINY, &[5])
            .group()
            .op("get", "GET", Backend::Redis, || Ok(()))
            .one_round_trip()
            .op("eval", "EVAL", Backend::Redis, || Ok(()))
            .run()
            .unwrap();
        assert!(m.get("get").one_round_trip);
        assert!(!m.get("eval").one_round_trip);
    }

    #[test]
    fn an_interrupt_stops_sampling() {
        let sampler = fake(Budget::QUICK, &[5]);
        sampler.interrupt.trigger();
        let err = sampler.measure("op", "op", Backend::Redis, || Ok(())).unwrap_err();
        assert!(err.downcast_ref::<crate::error::UserError>().is_some());
    }

    #[test]
    fn an_operation_error_ends_the_measurement() {
        let err = fake(Budget::QUICK, &[5]).measure("op", "op", Backend::Redis, || anyhow::bail!("boom"));
        assert_eq!(err.unwrap_err().root_cause().to_string(), "boom");
    }
}
