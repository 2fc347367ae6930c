//! Is this run's machine quiet enough to trust its ratios? Two checks, both against a factor of 2:
//! the round-trip floor (a PING, measured at the start, between demos and at the end) must not move
//! more than that, and single round trips of O(1) commands (GET, SET, INCR: see
//! [`super::Group::one_round_trip`]) must not disagree with each other or the floor by more.
//! Either one makes the run `noisy`: the text says so once, and JSON has `"noisy": true`.

use std::time::Duration;

use serde::Serialize;

use crate::i18n::Lang;
use crate::text::Text;

/// How far apart two round trips may be (largest ÷ smallest) before the run counts as noisy.
pub const NOISE_FACTOR: f64 = 2.0;

/// How far a disk sync's p50 may sit above its quickest rounds' median before the run counts as
/// noisy. Wider than [`NOISE_FACTOR`]: a sync's cost varies more than a round trip's on an idle disk.
pub const DISK_FACTOR: f64 = 4.0;

/// One reading of the round-trip floor.
#[derive(Debug, Clone, Serialize)]
pub struct FloorPoint {
    /// `start`, `after:<demo>`, or `end`.
    pub at: String,
    #[serde(rename = "p50_us", serialize_with = "as_us")]
    pub p50: Duration,
}

/// Every floor reading of a run, in order.
#[derive(Debug, Clone, Default)]
pub struct Floor {
    pub points: Vec<FloorPoint>,
}

impl Floor {
    pub fn push(&mut self, at: impl Into<String>, p50: Duration) {
        self.points.push(FloorPoint { at: at.into(), p50 });
    }

    pub fn start(&self) -> Option<Duration> {
        self.points.first().map(|p| p.p50)
    }

    pub fn end(&self) -> Option<Duration> {
        self.points.last().map(|p| p.p50)
    }
}

/// The JSON shape: `{"start_p50_us", "end_p50_us", "points": [{"at", "p50_us"}]}`.
impl Serialize for Floor {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        #[derive(Serialize)]
        struct Json<'a> {
            start_p50_us: Option<f64>,
            end_p50_us: Option<f64>,
            points: &'a [FloorPoint],
        }
        Json { start_p50_us: self.start().map(us), end_p50_us: self.end().map(us), points: &self.points }.serialize(s)
    }
}

fn us(d: Duration) -> f64 {
    (d.as_nanos() as f64 / 10.0).round() / 100.0
}

fn as_us<S: serde::Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_f64(us(*d))
}

/// Why a run's ratios are uncertain; the text says what to do.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum Warning {
    /// The floor moved more than [`NOISE_FACTOR`] during the run.
    FloorMoved { low_us: f64, high_us: f64 },
    /// Two single round trips of O(1) commands disagreed by more than [`NOISE_FACTOR`].
    RoundTripsDisagree { fast: String, fast_us: f64, slow: String, slow_us: f64 },
    /// A disk sync's typical cost was more than [`DISK_FACTOR`] times its cost in its quickest
    /// rounds: another program was using the disk.
    DiskSyncsVaried { op: String, fast_us: f64, p50_us: f64 },
}

impl Warning {
    /// One line: what was seen, and what to do.
    pub fn text(&self, lang: Lang) -> String {
        let d = |v: f64| Duration::from_nanos((v * 1_000.0) as u64);
        lang.say(match self {
            Warning::FloorMoved { low_us, high_us } => {
                Text::msg("noise.floor-moved").fact("low", d(*low_us)).fact("high", d(*high_us))
            }
            Warning::RoundTripsDisagree { fast, fast_us, slow, slow_us } => Text::msg("noise.round-trips-disagree")
                .fact("fast", fast)
                .fact("fast_time", d(*fast_us))
                .fact("slow", slow)
                .fact("slow_time", d(*slow_us)),
            Warning::DiskSyncsVaried { op, fast_us, p50_us } => {
                Text::msg("noise.disk-syncs-varied").fact("op", op).fact("fast", d(*fast_us)).fact("p50", d(*p50_us))
            }
        })
    }
}

/// The warnings a run has earned so far: `floor` readings, and (id, p50) of its one-round-trip
/// measurements. The floor readings count as round trips too (a PING is one).
/// `disk_syncs`: (label, its quickest round's median, its p50) of each disk-sync measurement.
pub fn assess(
    floor: &Floor,
    round_trips: &[(String, Duration)],
    disk_syncs: &[(String, Duration, Duration)],
) -> Vec<Warning> {
    let mut warnings = Vec::new();
    let floors: Vec<Duration> = floor.points.iter().map(|p| p.p50).filter(|d| !d.is_zero()).collect();
    if let (Some(low), Some(high)) = (floors.iter().min(), floors.iter().max())
        && spread(*low, *high) > NOISE_FACTOR
    {
        warnings.push(Warning::FloorMoved { low_us: us(*low), high_us: us(*high) });
    }
    let mut all: Vec<(String, Duration)> = floor.points.iter().map(|p| (format!("PING ({})", p.at), p.p50)).collect();
    all.extend(round_trips.iter().cloned());
    all.retain(|(_, d)| !d.is_zero());
    let fast = all.iter().min_by_key(|(_, d)| *d);
    let slow = all.iter().max_by_key(|(_, d)| *d);
    if let (Some((fast, fast_d)), Some((slow, slow_d))) = (fast, slow)
        && spread(*fast_d, *slow_d) > NOISE_FACTOR
        && warnings.is_empty()
    {
        warnings.push(Warning::RoundTripsDisagree {
            fast: fast.clone(),
            fast_us: us(*fast_d),
            slow: slow.clone(),
            slow_us: us(*slow_d),
        });
    }
    if let Some((op, fast, p50)) = disk_syncs.iter().find(|(_, fast, p50)| spread(*fast, *p50) > DISK_FACTOR) {
        warnings.push(Warning::DiskSyncsVaried { op: op.clone(), fast_us: us(*fast), p50_us: us(*p50) });
    }
    warnings
}

fn spread(low: Duration, high: Duration) -> f64 {
    high.as_nanos() as f64 / low.as_nanos().max(1) as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    fn floor(us: &[u64]) -> Floor {
        let mut f = Floor::default();
        for (i, v) in us.iter().enumerate() {
            f.push(format!("p{i}"), Duration::from_micros(*v));
        }
        f
    }

    #[test]
    fn a_steady_floor_is_quiet() {
        assert!(assess(&floor(&[20, 25, 30, 22]), &[("get".into(), Duration::from_micros(35))], &[]).is_empty());
    }

    #[test]
    fn a_drifting_floor_is_noisy() {
        let w = assess(&floor(&[9, 12, 90, 20]), &[], &[]);
        assert_eq!(w, vec![Warning::FloorMoved { low_us: 9.0, high_us: 90.0 }]);
        assert!(w[0].text(Lang::En).contains("between 9.00 µs and 90.0 µs"), "{}", w[0].text(Lang::En));
        assert!(w[0].text(Lang::En).contains("--pin same-cpu"));
    }

    #[test]
    fn round_trips_that_disagree_are_noisy() {
        let trips = [("get".to_string(), Duration::from_micros(9)), ("set".to_string(), Duration::from_micros(98))];
        let w = assess(&floor(&[10, 12]), &trips, &[]);
        assert_eq!(
            w,
            vec![Warning::RoundTripsDisagree { fast: "get".into(), fast_us: 9.0, slow: "set".into(), slow_us: 98.0 }]
        );
    }

    #[test]
    fn floor_json_gives_start_and_end() {
        let json = serde_json::to_value(floor(&[10, 30])).unwrap();
        assert_eq!(json["start_p50_us"], 10.0);
        assert_eq!(json["end_p50_us"], 30.0);
        assert_eq!(json["points"][1]["at"], "p1");
        assert_eq!(json["points"][1]["p50_us"], 30.0);
    }

    #[test]
    fn a_disk_sync_far_above_its_quickest_rounds_is_noisy() {
        let ms = |v: u64| Duration::from_micros(v);
        let steady = [("commit".to_string(), ms(400), ms(900))];
        assert!(assess(&floor(&[20, 22]), &[], &steady).is_empty());
        let busy = [("commit".to_string(), ms(200), ms(4_000))];
        let w = assess(&floor(&[20, 22]), &[], &busy);
        assert_eq!(w, vec![Warning::DiskSyncsVaried { op: "commit".into(), fast_us: 200.0, p50_us: 4_000.0 }]);
        assert!(w[0].text(Lang::En).contains("the disk was busy"), "{}", w[0].text(Lang::En));
    }
}
