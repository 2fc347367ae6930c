//! Summary statistics over samples: percentiles by nearest rank, mean, min, max; and the median of
//! per-round values with a distribution-free 95% interval (the order statistics of the sign test).

use std::time::Duration;

use serde::Serialize;

/// A summary of one measurement's samples (each sample is one timed operation or batch).
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Stats {
    pub samples: usize,
    pub min: Duration,
    pub p50: Duration,
    pub p90: Duration,
    pub p99: Duration,
    /// With fewer than 1,000 samples this is the largest or next-to-largest one.
    pub p999: Duration,
    pub max: Duration,
    pub mean: Duration,
    /// The samples' standard deviation (population).
    pub stddev: Duration,
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
        let mean = total / sorted.len() as u32;
        let mean_ns = mean.as_nanos() as f64;
        let variance =
            sorted.iter().map(|d| (d.as_nanos() as f64 - mean_ns).powi(2)).sum::<f64>() / sorted.len() as f64;
        Some(Stats {
            samples: sorted.len(),
            min: sorted[0],
            p50: percentile(&sorted, 50.0),
            p90: percentile(&sorted, 90.0),
            p99: percentile(&sorted, 99.0),
            p999: percentile(&sorted, 99.9),
            max: sorted[sorted.len() - 1],
            mean,
            stddev: Duration::from_nanos(variance.sqrt().round() as u64),
        })
    }
}

/// Nearest-rank percentile of sorted samples: the smallest sample with at least `pct`% of the samples
/// at or below it.
pub fn percentile(sorted: &[Duration], pct: f64) -> Duration {
    let rank = ((pct / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

/// The median of unsorted durations (the lower middle one for an even count); zero when empty.
pub fn median_duration(values: &[Duration]) -> Duration {
    if values.is_empty() {
        return Duration::ZERO;
    }
    let mut sorted = values.to_vec();
    sorted.sort_unstable();
    sorted[(sorted.len() - 1) / 2]
}

/// A median with a 95% interval.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Interval {
    pub median: f64,
    pub low: f64,
    pub high: f64,
}

/// The median of `values` (one per round) and a distribution-free interval for it: the k-th smallest
/// and k-th largest value, with k the largest rank for which a Binomial(n, ½) puts at most 2.5% below
/// it. This is the confidence interval that goes with the sign test (it assumes only that rounds are
/// independent, not that the values are normal). With 6 rounds it is [min, max] (96.9%); with 20 it
/// is the 6th to the 15th value (95.9%). Fewer than 6 rounds cannot give 95%: the interval is then
/// [min, max] and covers less. `None` for no values or a value that is not a finite number.
pub fn median_interval(values: &[f64]) -> Option<Interval> {
    if values.is_empty() || values.iter().any(|v| !v.is_finite()) {
        return None;
    }
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    let n = sorted.len();
    let median = if n % 2 == 1 { sorted[n / 2] } else { (sorted[n / 2 - 1] + sorted[n / 2]) / 2.0 };
    let k = sign_test_rank(n);
    Some(Interval { median, low: sorted[k - 1], high: sorted[n - k] })
}

/// The largest k ≥ 1 with P(Binomial(n, ½) ≤ k − 1) ≤ 0.025.
fn sign_test_rank(n: usize) -> usize {
    let total = 2_f64.powi(n as i32);
    let mut cdf = 0.0;
    let mut binom = 1.0; // C(n, j)
    let mut k = 1;
    for j in 0..n {
        cdf += binom / total;
        if cdf > 0.025 {
            break;
        }
        k = j + 1;
        binom = binom * (n - j) as f64 / (j + 1) as f64;
    }
    k.min(n.div_ceil(2))
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
        assert_eq!(s.p90, us(90));
        assert_eq!(s.p99, us(99));
        assert_eq!(s.p999, us(100));
        assert_eq!(s.max, us(100));
        assert_eq!(s.mean, Duration::from_nanos(50_500));
        // sqrt((100² − 1) / 12) µs
        assert_eq!(s.stddev, Duration::from_nanos(28_866));
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

    #[test]
    fn sign_test_ranks_match_the_binomial_table() {
        // Published values of the sign-test interval for the median at 95% (e.g. Conover, table A3).
        assert_eq!(sign_test_rank(5), 1);
        assert_eq!(sign_test_rank(6), 1);
        assert_eq!(sign_test_rank(8), 1);
        assert_eq!(sign_test_rank(9), 2);
        assert_eq!(sign_test_rank(10), 2);
        assert_eq!(sign_test_rank(20), 6);
        assert_eq!(sign_test_rank(40), 14);
    }

    #[test]
    fn median_interval_of_rounds() {
        let values: Vec<f64> = (1..=20).map(f64::from).collect();
        let i = median_interval(&values).unwrap();
        assert_eq!(i.median, 10.5);
        assert_eq!((i.low, i.high), (6.0, 15.0));
        // Order does not matter.
        let mut shuffled = values.clone();
        shuffled.reverse();
        assert_eq!(median_interval(&shuffled), Some(i));
        assert_eq!(median_interval(&[]), None);
        assert_eq!(median_interval(&[1.0, f64::INFINITY]), None);
    }

    #[test]
    fn median_of_durations() {
        assert_eq!(median_duration(&[us(3), us(1), us(2)]), us(2));
        assert_eq!(median_duration(&[us(4), us(1), us(2), us(3)]), us(2));
        assert_eq!(median_duration(&[]), Duration::ZERO);
    }
}
