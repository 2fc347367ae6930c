//! Summary statistics over samples: percentiles by nearest rank, mean, min, max.

use std::time::Duration;

use serde::Serialize;

/// A summary of one measurement's samples (each sample is one timed operation or batch).
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Stats {
    pub samples: usize,
    pub min: Duration,
    pub p50: Duration,
    pub p99: Duration,
    pub max: Duration,
    pub mean: Duration,
}

impl Stats {
    /// Summarise samples; `None` when there are none.
    pub fn from_samples(samples: &[Duration]) -> Option<Stats> {
        if samples.is_empty() {
            return None;
        }
        let mut sorted = samples.to_vec();
        sorted.sort_unstable();
        let total: Duration = sorted.iter().sum();
        Some(Stats {
            samples: sorted.len(),
            min: sorted[0],
            p50: percentile(&sorted, 50.0),
            p99: percentile(&sorted, 99.0),
            max: sorted[sorted.len() - 1],
            mean: total / sorted.len() as u32,
        })
    }
}

/// Nearest-rank percentile of sorted samples: the smallest sample with at least `pct`% of the samples
/// at or below it.
pub fn percentile(sorted: &[Duration], pct: f64) -> Duration {
    let rank = ((pct / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn us(v: u64) -> Duration {
        Duration::from_micros(v)
    }

    #[test]
    fn percentiles_by_nearest_rank() {
        let samples: Vec<Duration> = (1..=100).rev().map(us).collect();
        let s = Stats::from_samples(&samples).unwrap();
        assert_eq!(s.samples, 100);
        assert_eq!(s.min, us(1));
        assert_eq!(s.p50, us(50));
        assert_eq!(s.p99, us(99));
        assert_eq!(s.max, us(100));
        assert_eq!(s.mean, Duration::from_nanos(50_500));
    }

    #[test]
    fn a_single_sample_is_every_percentile() {
        let s = Stats::from_samples(&[us(7)]).unwrap();
        assert_eq!((s.p50, s.p99, s.mean), (us(7), us(7), us(7)));
    }

    #[test]
    fn no_samples_no_stats() {
        assert!(Stats::from_samples(&[]).is_none());
    }

    #[test]
    fn one_outlier_moves_p99_not_p50() {
        let mut samples = vec![us(10); 199];
        samples.push(us(5_000));
        let s = Stats::from_samples(&samples).unwrap();
        assert_eq!(s.p50, us(10));
        assert_eq!(s.p99, us(10));
        assert_eq!(s.max, us(5_000));
    }
}
