//! What a demo measured and what it claims: [`Measurement`], [`Comparison`], [`Claim`].
//!
//! Every one of them has a stable `id` (kebab-case, unique within its demo) that JSON, CSV and
//! scripts key on; labels and texts are in the learner's language and may change.

use std::time::Duration;

use anyhow::{Result, bail};
use serde::{Deserialize, Serialize, Serializer};

use super::stats::{Interval, Stats, median_duration, median_interval};
use super::units::format_ratio_interval;

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

/// What a measurement's samples are, and so whether operations per second mean anything.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Kind {
    /// Operations run back to back by one client (closed loop): ops/s is that client's throughput.
    Throughput,
    /// One-way delays (a message's delivery, a poller noticing a row): no ops/s.
    Latency,
}

/// One timed operation's summary. Samples are taken in rounds (see [`super::Sampler`]); `p50()` is
/// the median of the round medians, `stats` pools every sample (p99, min, max, mean).
#[derive(Debug, Clone)]
pub struct Measurement {
    /// Stable id, unique within its demo: `get`, `sqlite-pk-read`.
    pub id: String,
    pub label: String,
    pub backend: Backend,
    pub kind: Kind,
    pub stats: Stats,
    /// The median sample of each round, in time order.
    pub round_p50s: Vec<Duration>,
    /// Measurements taken interleaved share a group; only they can be compared.
    pub group: u64,
    /// Operations in one sample (1, or the batch size).
    pub ops_per_sample: u32,
    /// A single request/reply of a command that does O(1) work: on a quiet machine its p50 is close
    /// to the round-trip floor, so it takes part in the noise check.
    pub one_round_trip: bool,
    /// Waits for a disk sync: its rounds' spread takes part in the noise check.
    pub one_disk_sync: bool,
}

impl Measurement {
    /// A measurement from samples taken in rounds (`rounds[i]` holds round i's samples).
    ///
    /// Errors when no round has a sample.
    pub fn from_rounds(
        id: impl Into<String>,
        label: impl Into<String>,
        backend: Backend,
        kind: Kind,
        group: u64,
        ops_per_sample: u32,
        rounds: &[Vec<Duration>],
    ) -> Result<Measurement> {
        let id = id.into();
        let pooled: Vec<Duration> = rounds.iter().flatten().copied().collect();
        let Some(stats) = Stats::from_samples(&pooled) else { bail!("{id}: no samples were taken") };
        let round_p50s = rounds.iter().filter(|r| !r.is_empty()).map(|r| median_duration(r)).collect();
        Ok(Measurement {
            id,
            label: label.into(),
            backend,
            kind,
            stats,
            round_p50s,
            group,
            ops_per_sample: ops_per_sample.max(1),
            one_round_trip: false,
            one_disk_sync: false,
        })
    }

    /// A measurement whose samples were not taken in rounds: one round (it can be shown, not
    /// compared with an interval). Errors when `samples` is empty.
    pub fn single(
        id: impl Into<String>,
        label: impl Into<String>,
        backend: Backend,
        kind: Kind,
        samples: Vec<Duration>,
    ) -> Result<Measurement> {
        Measurement::from_rounds(id, label, backend, kind, super::sampler::new_group(), 1, &[samples])
    }

    /// The median of the round medians (per sample).
    pub fn p50(&self) -> Duration {
        if self.round_p50s.is_empty() { self.stats.p50 } else { median_duration(&self.round_p50s) }
    }

    /// The p50 per operation (a batch's p50 divided by its size).
    pub fn p50_per_op(&self) -> Duration {
        self.p50() / self.ops_per_sample
    }

    /// Operations per second one client sustained (None for one-way latencies).
    pub fn ops_per_sec(&self) -> Option<f64> {
        match self.kind {
            Kind::Latency => None,
            Kind::Throughput => {
                let mean_s = self.stats.mean.as_secs_f64();
                Some(if mean_s > 0.0 { f64::from(self.ops_per_sample) / mean_s } else { f64::INFINITY })
            }
        }
    }
}

fn us(d: Duration) -> f64 {
    (d.as_nanos() as f64 / 10.0).round() / 100.0
}

/// The JSON shape of a measurement: times in microseconds (two decimals).
#[derive(Serialize)]
struct MeasurementJson<'a> {
    id: &'a str,
    label: &'a str,
    backend: Backend,
    kind: Kind,
    samples: usize,
    rounds: usize,
    ops_per_sample: u32,
    /// Median of the round medians.
    p50_us: f64,
    p99_us: f64,
    mean_us: f64,
    min_us: f64,
    max_us: f64,
    ops_per_sec: Option<f64>,
}

impl Serialize for Measurement {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        MeasurementJson {
            id: &self.id,
            label: &self.label,
            backend: self.backend,
            kind: self.kind,
            samples: self.stats.samples,
            rounds: self.round_p50s.len(),
            ops_per_sample: self.ops_per_sample,
            p50_us: us(self.p50()),
            p99_us: us(self.stats.p99),
            mean_us: us(self.stats.mean),
            min_us: us(self.stats.min),
            max_us: us(self.stats.max),
            ops_per_sec: self.ops_per_sec().map(|v| (v * 10.0).round() / 10.0),
        }
        .serialize(s)
    }
}

/// Whether a comparison's interval separates the two sides.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Verdict {
    /// The whole 95% interval is on one side of 1.
    Clear,
    /// The interval covers 1: this run cannot tell them apart.
    NoClearDifference,
}

/// Two measurements taken interleaved in the same run: how many times faster `a` was than `b`, per
/// operation, at p50, with a 95% interval over rounds.
///
/// `ratio` is b's p50 per op ÷ a's p50 per op, the two medians a learner reads beside it (each the
/// median of its round medians), so that dividing the shown times gives the shown ratio: above 1,
/// `a` was faster; below 1, slower. `ratio_low`/`ratio_high` are the 95% interval of the per-round
/// ratios' median (see [`super::stats::median_interval`]), widened to take in `ratio` when rounds
/// disagree enough to put it outside: the interval never claims more than the rounds showed.
/// `ratio_p99` pools every sample and has no interval.
#[derive(Debug, Clone, Serialize)]
pub struct Comparison {
    pub id: String,
    /// Measurement id of the first side.
    pub a: String,
    /// Measurement id of the second side.
    pub b: String,
    #[serde(skip)]
    pub a_label: String,
    #[serde(skip)]
    pub b_label: String,
    pub ratio: f64,
    pub ratio_low: f64,
    pub ratio_high: f64,
    pub ratio_p99: f64,
    pub rounds: usize,
    pub status: Verdict,
}

impl Comparison {
    /// Compare two measurements of the same interleaved group, round by round.
    ///
    /// Errors when they were not measured together (different groups or round counts): a ratio
    /// across separate sampling windows inherits the machine's drift, which is what this type exists
    /// to avoid.
    pub fn of(id: impl Into<String>, a: &Measurement, b: &Measurement) -> Result<Comparison> {
        let id = id.into();
        if a.group != b.group || a.round_p50s.len() != b.round_p50s.len() {
            bail!("comparison {id}: {} and {} were not measured interleaved in one group", a.id, b.id);
        }
        let per_round: Vec<f64> = a
            .round_p50s
            .iter()
            .zip(&b.round_p50s)
            .map(|(ra, rb)| ratio(*rb / b.ops_per_sample, *ra / a.ops_per_sample))
            .collect();
        let Some(Interval { low, high, .. }) = median_interval(&per_round) else {
            bail!("comparison {id}: a side took no measurable time");
        };
        let point = ratio(b.p50_per_op(), a.p50_per_op());
        if !point.is_finite() {
            bail!("comparison {id}: a side took no measurable time");
        }
        let (low, high) = (low.min(point), high.max(point));
        let p99 = ratio(b.stats.p99 / b.ops_per_sample, a.stats.p99 / a.ops_per_sample);
        Ok(Comparison {
            id,
            a: a.id.clone(),
            b: b.id.clone(),
            a_label: a.label.clone(),
            b_label: b.label.clone(),
            ratio: point,
            ratio_low: low,
            ratio_high: high,
            ratio_p99: p99,
            rounds: per_round.len(),
            status: verdict(low, high),
        })
    }

    /// The same comparison with its ratio multiplied by `factor` (e.g. per command of a batch).
    pub fn scaled(&self, factor: f64) -> Comparison {
        Comparison {
            ratio: self.ratio * factor,
            ratio_low: self.ratio_low * factor,
            ratio_high: self.ratio_high * factor,
            ratio_p99: self.ratio_p99 * factor,
            status: verdict(self.ratio_low * factor, self.ratio_high * factor),
            ..self.clone()
        }
    }

    /// The same comparison from the other side (b against a): every ratio inverted, the interval's
    /// ends swapped. For a claim about how much more something costs, said as a number above 1.
    pub fn inverted(&self) -> Comparison {
        Comparison {
            a: self.b.clone(),
            b: self.a.clone(),
            a_label: self.b_label.clone(),
            b_label: self.a_label.clone(),
            ratio: 1.0 / self.ratio,
            ratio_low: 1.0 / self.ratio_high,
            ratio_high: 1.0 / self.ratio_low,
            ratio_p99: 1.0 / self.ratio_p99,
            ..self.clone()
        }
    }

    /// `4.20× [3.90–4.60]`: the point ratio and its interval.
    pub fn measured(&self) -> String {
        format_ratio_interval(self.ratio, self.ratio_low, self.ratio_high)
    }

    /// Is the interval wholly above `threshold`? (`Some(true)` held, `Some(false)` wholly at or
    /// below it, `None` straddles it.)
    pub fn above(&self, threshold: f64) -> Option<bool> {
        if self.ratio_low > threshold {
            Some(true)
        } else if self.ratio_high <= threshold {
            Some(false)
        } else {
            None
        }
    }

    /// The sentence in `lang` (from `lessons/ui.toml`): faster or slower, never "0.5× faster", with the
    /// 95% interval of the p50 ratio and the p99 ratio.
    pub fn describe(&self, lang: Lang) -> String {
        let (id, ratio, low, high) = match self.status {
            Verdict::NoClearDifference => {
                ("comparison.no-clear-difference", self.ratio, self.ratio_low, self.ratio_high)
            }
            Verdict::Clear if self.ratio >= 1.0 => ("comparison.faster", self.ratio, self.ratio_low, self.ratio_high),
            Verdict::Clear => ("comparison.slower", 1.0 / self.ratio, 1.0 / self.ratio_high, 1.0 / self.ratio_low),
        };
        let faster_p99 = self.ratio_p99 >= 1.0;
        let p99 = if faster_p99 { self.ratio_p99 } else { 1.0 / self.ratio_p99 };
        lang.say(
            Text::msg(id)
                .fact("a", self.a_label.as_str())
                .fact("b", self.b_label.as_str())
                .fact("measured", self.measured())
                .fact("ratio", Fact::Ratio(ratio))
                .fact("low", Fact::Ratio(low))
                .fact("high", Fact::Ratio(high))
                .fact(
                    "p99",
                    lang.say(
                        Text::msg(if faster_p99 { "comparison.p99-faster" } else { "comparison.p99-slower" })
                            .fact("ratio", Fact::Ratio(p99)),
                    ),
                ),
        )
    }
}

use crate::i18n::Lang;
use crate::text::{Fact, Text};

/// Differences smaller than this (1%) are not worth a "faster": the interval must clear it.
const NEGLIGIBLE: f64 = 0.01;

fn verdict(low: f64, high: f64) -> Verdict {
    if low > 1.0 + NEGLIGIBLE || high < 1.0 / (1.0 + NEGLIGIBLE) { Verdict::Clear } else { Verdict::NoClearDifference }
}

fn ratio(numerator: Duration, denominator: Duration) -> f64 {
    let d = denominator.as_nanos() as f64;
    if d == 0.0 { f64::INFINITY } else { numerator.as_nanos() as f64 / d }
}

/// What this run says about a claim.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ClaimStatus {
    /// The measured figure (its whole interval, for a ratio) is on the claimed side.
    Held,
    /// Clearly on the other side.
    Failed,
    /// The interval straddles the claim's threshold: this run cannot say. Does not fail the run.
    Inconclusive,
}

/// A statement a demo checks with a number measured in this run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(from = "ClaimJson")]
pub struct Claim {
    /// Stable id, unique within its demo.
    pub id: String,
    /// What is claimed, in the learner's language, with the numbers in it.
    pub text: String,
    /// The measured figure(s) that decide it, short: `4.2× [3.9–4.6]`, `16 → 1`, `0 of 500`.
    pub measured: String,
    pub status: ClaimStatus,
    /// `status == held`, kept for readers of the first JSON format.
    pub holds: bool,
    /// The figures for its message in the lesson file (`<demo>.<id>`), which gives `text`.
    #[serde(skip)]
    pub facts: crate::text::Facts,
    /// Another message than `<demo>.<id>` for its text (a wording chosen by the outcome).
    #[serde(skip)]
    pub message: Option<String>,
    /// Decided by a timing's interval ([`Claim::ratio_above`]): a noisy run makes a failed one
    /// inconclusive.
    #[serde(skip)]
    pub timed: bool,
}

/// A claim as stored: files written before `id` and `status` existed have only `holds`.
#[derive(Deserialize)]
struct ClaimJson {
    #[serde(default)]
    id: String,
    text: String,
    measured: String,
    status: Option<ClaimStatus>,
    holds: bool,
}

impl From<ClaimJson> for Claim {
    fn from(raw: ClaimJson) -> Claim {
        let status = raw.status.unwrap_or(if raw.holds { ClaimStatus::Held } else { ClaimStatus::Failed });
        Claim::with_status(raw.id, raw.text, raw.measured, status)
    }
}

impl Claim {
    /// A claim decided by an exact figure (a count, a yes/no): held or failed.
    pub fn new(id: impl Into<String>, text: impl Into<String>, measured: impl Into<String>, holds: bool) -> Claim {
        let status = if holds { ClaimStatus::Held } else { ClaimStatus::Failed };
        Claim::with_status(id, text, measured, status)
    }

    /// A claim that `comparison`'s ratio is above `threshold`: held when its whole 95% interval is,
    /// failed when the whole interval is at or below it, inconclusive when it straddles it.
    pub fn ratio_above(
        id: impl Into<String>,
        text: impl Into<String>,
        comparison: &Comparison,
        threshold: f64,
    ) -> Claim {
        let status = match comparison.above(threshold) {
            Some(true) => ClaimStatus::Held,
            Some(false) => ClaimStatus::Failed,
            None => ClaimStatus::Inconclusive,
        };
        Claim { timed: true, ..Claim::with_status(id, text, comparison.measured(), status) }
    }

    /// Held when the whole interval is below `threshold` ("costs less than twice": `inverted()` of
    /// a comparison, below 2), failed when it is wholly at or above it, inconclusive otherwise.
    pub fn ratio_below(
        id: impl Into<String>,
        text: impl Into<String>,
        comparison: &Comparison,
        threshold: f64,
    ) -> Claim {
        let status = if comparison.ratio_high < threshold {
            ClaimStatus::Held
        } else if comparison.ratio_low >= threshold {
            ClaimStatus::Failed
        } else {
            ClaimStatus::Inconclusive
        };
        Claim { timed: true, ..Claim::with_status(id, text, comparison.measured(), status) }
    }

    pub fn with_status(
        id: impl Into<String>,
        text: impl Into<String>,
        measured: impl Into<String>,
        status: ClaimStatus,
    ) -> Claim {
        Claim {
            id: id.into(),
            text: text.into(),
            measured: measured.into(),
            status,
            holds: status == ClaimStatus::Held,
            facts: Vec::new(),
            message: None,
            timed: false,
        }
    }

    /// Take the text from the message `<demo>.<key>` instead of `<demo>.<id>` (when the wording
    /// depends on what the run found); the id stays.
    pub fn message(mut self, key: &str) -> Claim {
        self.message = Some(key.to_string());
        self
    }

    /// A figure for the claim's message in the lesson file (`{name}` in `<demo>.<id>`).
    pub fn fact(mut self, name: &str, value: impl Into<crate::text::Fact>) -> Claim {
        self.facts.push((name.to_string(), value.into()));
        self
    }

    /// Did this claim fail (inconclusive does not)?
    pub fn failed(&self) -> bool {
        self.status == ClaimStatus::Failed
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(id: &str, group: u64, rounds_us: &[u64]) -> Measurement {
        let rounds: Vec<Vec<Duration>> = rounds_us.iter().map(|&u| vec![Duration::from_micros(u)]).collect();
        Measurement::from_rounds(id, id.to_uppercase(), Backend::Redis, Kind::Throughput, group, 1, &rounds).unwrap()
    }

    #[test]
    fn comparison_pairs_rounds_and_gives_an_interval() {
        let get = m("get", 1, &[50, 50, 50, 50, 50, 50, 50, 50, 50, 50]);
        let sql = m("sql", 1, &[200, 150, 250, 200, 200, 180, 220, 200, 190, 210]);
        let c = Comparison::of("get-vs-sql", &get, &sql).unwrap();
        assert_eq!((c.a.as_str(), c.b.as_str()), ("get", "sql"));
        assert_eq!(c.ratio, 4.0);
        assert_eq!((c.ratio_low, c.ratio_high), (3.6, 4.4));
        assert_eq!(c.status, Verdict::Clear);
        assert_eq!(c.describe(Lang::En), "GET is 4.00× faster than SQL at p50 [95%: 3.60×–4.40×]; 5.00× faster at p99");
    }

    #[test]
    fn drift_that_hits_both_sides_cancels_out() {
        // The machine slows down 10× halfway; both sides slow together, the ratio does not move.
        let a = m("a", 7, &[10, 10, 10, 10, 10, 100, 100, 100, 100, 100]);
        let b = m("b", 7, &[30, 30, 30, 30, 30, 300, 300, 300, 300, 300]);
        let c = Comparison::of("a-vs-b", &a, &b).unwrap();
        assert_eq!((c.ratio, c.ratio_low, c.ratio_high), (3.0, 3.0, 3.0));
    }

    #[test]
    fn slower_is_said_as_slower() {
        let a = m("a", 2, &[100; 10]);
        let b = m("b", 2, &[50; 10]);
        let c = Comparison::of("a-vs-b", &a, &b).unwrap();
        assert_eq!(c.ratio, 0.5);
        assert!(c.describe(Lang::En).starts_with("A is 2.00× slower than B at p50"), "{}", c.describe(Lang::En));
        assert!(c.describe(Lang::En).ends_with("2.00× slower at p99"), "{}", c.describe(Lang::En));
        assert!(c.describe(Lang::Zh).starts_with("A 比 B 慢 2.00×"), "{}", c.describe(Lang::Zh));
    }

    #[test]
    fn an_interval_covering_one_is_no_clear_difference() {
        let a = m("a", 3, &[10, 12, 8, 10, 11, 9, 10, 10, 12, 8]);
        let b = m("b", 3, &[11, 10, 9, 10, 12, 8, 10, 11, 9, 10]);
        let c = Comparison::of("a-vs-b", &a, &b).unwrap();
        assert_eq!(c.status, Verdict::NoClearDifference);
        assert!(c.describe(Lang::En).contains("no clear difference"), "{}", c.describe(Lang::En));
    }

    #[test]
    fn a_difference_under_one_percent_is_no_clear_difference() {
        let a = m("a", 6, &[1000; 10]);
        let b = m("b", 6, &[1004, 1005, 1006, 1004, 1005, 1006, 1004, 1005, 1006, 1005]);
        let c = Comparison::of("a-vs-b", &a, &b).unwrap();
        assert!(c.ratio_low > 1.0);
        assert_eq!(c.status, Verdict::NoClearDifference);
    }

    #[test]
    fn measurements_from_different_groups_cannot_be_compared() {
        let err = Comparison::of("x", &m("a", 1, &[10; 10]), &m("b", 2, &[20; 10])).unwrap_err();
        assert!(err.to_string().contains("not measured interleaved"), "{err}");
    }

    #[test]
    fn ratio_claims_are_held_failed_or_inconclusive() {
        let a = m("a", 4, &[10; 10]);
        let clear = Comparison::of("c", &a, &m("b", 4, &[40, 42, 38, 40, 41, 39, 40, 40, 44, 36])).unwrap();
        assert_eq!(Claim::ratio_above("x", "t", &clear, 2.0).status, ClaimStatus::Held);
        assert_eq!(Claim::ratio_above("x", "t", &clear, 10.0).status, ClaimStatus::Failed);
        // 3.8–4.2 straddles 4.
        let claim = Claim::ratio_above("x", "t", &clear, 4.0);
        assert_eq!(claim.status, ClaimStatus::Inconclusive);
        assert!(!claim.holds && !claim.failed());
        assert_eq!(claim.measured, "4.00× [3.80–4.20]");
        // b against a is 0.25× "faster"; from the other side, b costs 4× a, said as 4×.
        let b = m("b", 4, &[40, 42, 38, 40, 41, 39, 40, 40, 44, 36]);
        let slower = Comparison::of("s", &b, &a).unwrap();
        assert!((slower.ratio - 0.25).abs() < 1e-9, "{}", slower.ratio);
        let costs = slower.inverted();
        assert_eq!((costs.a.as_str(), costs.b.as_str()), ("a", "b"));
        assert_eq!(Claim::ratio_below("x", "t", &costs, 5.0).status, ClaimStatus::Held);
        assert_eq!(Claim::ratio_below("x", "t", &costs, 3.0).status, ClaimStatus::Failed);
        let straddles = Claim::ratio_below("x", "t", &costs, 4.0);
        assert_eq!(straddles.status, ClaimStatus::Inconclusive);
        assert_eq!(straddles.measured, "4.00× [3.80–4.20]");
    }

    #[test]
    fn scaling_a_comparison_scales_its_interval() {
        let a = m("a", 5, &[100; 10]);
        let b = m("b", 5, &[100; 10]);
        let c = Comparison::of("c", &a, &b).unwrap().scaled(50.0);
        assert_eq!((c.ratio, c.ratio_low, c.ratio_high), (50.0, 50.0, 50.0));
        assert_eq!(c.status, Verdict::Clear);
    }

    #[test]
    fn batches_compare_per_operation() {
        let rounds = |us: u64| vec![vec![Duration::from_micros(us)]; 10];
        let one = Measurement::from_rounds("get", "GET", Backend::Redis, Kind::Throughput, 9, 1, &rounds(20)).unwrap();
        let pipe =
            Measurement::from_rounds("pipe", "x", Backend::Redis, Kind::Throughput, 9, 100, &rounds(200)).unwrap();
        let c = Comparison::of("c", &pipe, &one).unwrap();
        assert_eq!(c.ratio, 10.0);
        assert_eq!(pipe.p50_per_op(), Duration::from_micros(2));
        assert!((pipe.ops_per_sec().unwrap() - 500_000.0).abs() < 1.0);
    }

    #[test]
    fn json_reports_microseconds_ids_and_kind() {
        let mut latency = m("get", 1, &[48, 50, 52]);
        latency.kind = Kind::Latency;
        let json = serde_json::to_value(&latency).unwrap();
        assert_eq!(json["id"], "get");
        assert_eq!(json["p50_us"], 50.0);
        assert_eq!(json["rounds"], 3);
        assert_eq!(json["backend"], "redis");
        assert_eq!(json["kind"], "latency");
        assert!(json["ops_per_sec"].is_null());
    }

    #[test]
    fn old_progress_claims_still_parse() {
        let old: Claim = serde_json::from_str(r#"{"text": "t", "measured": "4×", "holds": true}"#).unwrap();
        assert_eq!(old.status, ClaimStatus::Held);
        assert_eq!(old.id, "");
        let old: Claim = serde_json::from_str(r#"{"text": "t", "measured": "4×", "holds": false}"#).unwrap();
        assert_eq!(old.status, ClaimStatus::Failed);
    }
}
