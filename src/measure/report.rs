//! What a demo measured and what it claims: [`Measurement`], [`Comparison`], [`Claim`].

use std::time::Duration;

use serde::{Serialize, Serializer};

use super::stats::Stats;
use super::units::format_ratio;

/// Where an operation ran.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Backend {
    /// A Redis server over the network (loopback or not).
    Redis,
    /// SQLite in this process (in memory or a file: the label says which).
    Sqlite,
    /// Application code around both (e.g. a cache-aside read that may touch both).
    App,
    /// A SQL server over the network (MySQL/MariaDB or PostgreSQL, from `--sql-url`).
    NetworkSql,
}

impl Backend {
    pub fn name(self) -> &'static str {
        match self {
            Backend::Redis => "Redis",
            Backend::Sqlite => "SQLite",
            Backend::App => "app",
            Backend::NetworkSql => "SQL server",
        }
    }
}

/// One timed operation's summary.
#[derive(Debug, Clone)]
pub struct Measurement {
    pub label: String,
    pub backend: Backend,
    pub stats: Stats,
    /// Operations in one sample (1, or the batch size).
    pub ops_per_sample: u32,
    pub ops_per_sec: f64,
}

impl Measurement {
    pub fn new(label: impl Into<String>, backend: Backend, stats: Stats, ops_per_sample: u32) -> Measurement {
        let mean_s = stats.mean.as_secs_f64();
        let ops_per_sec = if mean_s > 0.0 { f64::from(ops_per_sample) / mean_s } else { f64::INFINITY };
        Measurement { label: label.into(), backend, stats, ops_per_sample, ops_per_sec }
    }

    pub fn p50(&self) -> Duration {
        self.stats.p50
    }
}

/// The JSON shape of a measurement: times in microseconds (two decimals).
#[derive(Serialize)]
struct MeasurementJson<'a> {
    label: &'a str,
    backend: Backend,
    samples: usize,
    ops_per_sample: u32,
    p50_us: f64,
    p99_us: f64,
    mean_us: f64,
    min_us: f64,
    max_us: f64,
    ops_per_sec: f64,
}

impl Serialize for Measurement {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let us = |d: Duration| (d.as_nanos() as f64 / 10.0).round() / 100.0;
        MeasurementJson {
            label: &self.label,
            backend: self.backend,
            samples: self.stats.samples,
            ops_per_sample: self.ops_per_sample,
            p50_us: us(self.stats.p50),
            p99_us: us(self.stats.p99),
            mean_us: us(self.stats.mean),
            min_us: us(self.stats.min),
            max_us: us(self.stats.max),
            ops_per_sec: (self.ops_per_sec * 10.0).round() / 10.0,
        }
        .serialize(s)
    }
}

/// Two measurements from the same run, side by side: how many times faster `faster` was.
#[derive(Debug, Clone, Serialize)]
pub struct Comparison {
    pub faster: String,
    pub slower: String,
    /// slower p50 / faster p50.
    pub ratio_p50: f64,
    /// slower p99 / faster p99.
    pub ratio_p99: f64,
}

impl Comparison {
    /// Compare two measurements; whichever had the lower p50 is `faster`.
    pub fn of(a: &Measurement, b: &Measurement) -> Comparison {
        let (fast, slow) = if a.p50() <= b.p50() { (a, b) } else { (b, a) };
        Comparison {
            faster: fast.label.clone(),
            slower: slow.label.clone(),
            ratio_p50: ratio(slow.stats.p50, fast.stats.p50),
            ratio_p99: ratio(slow.stats.p99, fast.stats.p99),
        }
    }

    /// `a` p50 divided into `b` p50: how many times faster `a` was than `b` (below 1: slower).
    pub fn speedup(a: &Measurement, b: &Measurement) -> f64 {
        ratio(b.stats.p50, a.stats.p50)
    }

    pub fn describe(&self) -> String {
        format!(
            "{} is {} faster than {} at p50 ({} at p99)",
            self.faster,
            format_ratio(self.ratio_p50),
            self.slower,
            format_ratio(self.ratio_p99)
        )
    }
}

fn ratio(numerator: Duration, denominator: Duration) -> f64 {
    let d = denominator.as_nanos() as f64;
    if d == 0.0 { f64::INFINITY } else { numerator.as_nanos() as f64 / d }
}

/// A statement a demo checks with a number measured in this run.
#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize)]
pub struct Claim {
    /// What is claimed, in the learner's language, with the numbers in it.
    pub text: String,
    /// The measured figure(s) that decide it, short: `4.2×`, `16 → 1`, `0 of 500`.
    pub measured: String,
    pub holds: bool,
}

impl Claim {
    pub fn new(text: impl Into<String>, measured: impl Into<String>, holds: bool) -> Claim {
        Claim { text: text.into(), measured: measured.into(), holds }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(label: &str, p50_us: u64, p99_us: u64) -> Measurement {
        let us = Duration::from_micros;
        let stats =
            Stats { samples: 100, min: us(1), p50: us(p50_us), p99: us(p99_us), max: us(p99_us), mean: us(p50_us) };
        Measurement::new(label, Backend::Redis, stats, 1)
    }

    #[test]
    fn comparison_puts_the_faster_first() {
        let c = Comparison::of(&m("SQL", 200, 800), &m("GET", 50, 100));
        assert_eq!(c.faster, "GET");
        assert_eq!(c.ratio_p50, 4.0);
        assert_eq!(c.ratio_p99, 8.0);
        assert_eq!(c.describe(), "GET is 4.00× faster than SQL at p50 (8.00× at p99)");
    }

    #[test]
    fn json_reports_microseconds() {
        let json = serde_json::to_value(m("GET", 48, 120)).unwrap();
        assert_eq!(json["p50_us"], 48.0);
        assert_eq!(json["p99_us"], 120.0);
        assert_eq!(json["samples"], 100);
        assert_eq!(json["backend"], "redis");
    }
}
