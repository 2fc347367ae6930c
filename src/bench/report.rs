//! A sweep drawn for people and scripts: hyperfine-like text (p50 with its interval, mean ± σ,
//! min … max, p90/p99/p99.9, n; "A ran 4.2× faster than B [95% interval …]"; the floor; warnings
//! with a fix), and the JSON document that exports and baselines share.

use std::io::Write;
use std::time::Duration;

use anyhow::Result;
use comfy_table::{Cell, CellAlignment, Table, presets};
use serde::Serialize;

use super::words::{self, plain, text};
use super::{SCHEMA_VERSION, SeriesResult, Sweep};
use crate::i18n::Lang;
use crate::measure::{ClaimStatus, Comparison, Placement, Verdict, format_count, format_duration};
use crate::render::Styles;
use crate::text::Fact;

/// `2026-11-30 13:45:02 UTC` from seconds since the epoch (the civil calendar, no time-zone data).
pub fn format_when(unix: u64) -> String {
    let days = (unix / 86_400) as i64;
    let secs = unix % 86_400;
    // Howard Hinnant's civil_from_days.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!("{y:04}-{m:02}-{d:02} {:02}:{:02}:{:02} UTC", secs / 3_600, secs / 60 % 60, secs % 60)
}

impl super::RunContext {
    /// The context in one line, with the date `started_unix` gives: server, SQLite, mode, machine,
    /// placement (message `bench.out.context`).
    pub fn line(&self, lang: Lang, started_unix: u64) -> String {
        let facts: crate::text::Facts = vec![
            ("flavour".into(), Fact::Text(self.redis.flavour.clone())),
            ("version".into(), Fact::Text(self.redis.version.clone())),
            ("url".into(), Fact::Text(self.url(lang))),
            ("sqlite".into(), Fact::Text(self.sqlite_version.clone())),
            ("mode".into(), Fact::Text(plain(lang, if self.quick { "out.quick" } else { "out.full" }))),
            ("cores".into(), Fact::Count(self.cores as u64)),
            ("os".into(), Fact::Text(self.os.clone())),
            (
                "placement".into(),
                Fact::Text(plain(
                    lang,
                    if matches!(self.placement, Placement::SameCpu { .. }) { "out.pinned" } else { "out.not-pinned" },
                )),
            ),
            ("when".into(), Fact::Text(format_when(started_unix))),
        ];
        text(lang, "out.context", &facts)
    }

    /// The server's URL, and whether it was a private one this run started.
    fn url(&self, lang: Lang) -> String {
        if self.redis.private {
            text(lang, "out.private-url", &vec![("url".into(), Fact::Text(self.redis.url.clone()))])
        } else {
            self.redis.url.clone()
        }
    }
}

/// One comparison as a sentence: faster (never "0.5× faster"), or no clear difference.
pub fn comparison_line(c: &Comparison, lang: Lang) -> String {
    let r = |v: f64| Fact::Ratio(v);
    let name = |s: &str| Fact::Text(s.to_string());
    let facts: crate::text::Facts = match c.status {
        Verdict::Clear if c.ratio >= 1.0 => vec![
            ("a".into(), name(&c.a_label)),
            ("b".into(), name(&c.b_label)),
            ("ratio".into(), r(c.ratio)),
            ("low".into(), r(c.ratio_low)),
            ("high".into(), r(c.ratio_high)),
        ],
        Verdict::Clear => vec![
            ("a".into(), name(&c.b_label)),
            ("b".into(), name(&c.a_label)),
            ("ratio".into(), r(1.0 / c.ratio)),
            ("low".into(), r(1.0 / c.ratio_high)),
            ("high".into(), r(1.0 / c.ratio_low)),
        ],
        Verdict::NoClearDifference => vec![
            ("a".into(), name(&c.a_label)),
            ("b".into(), name(&c.b_label)),
            ("ratio".into(), r(c.ratio)),
            ("low".into(), r(c.ratio_low)),
            ("high".into(), r(c.ratio_high)),
        ],
    };
    let key = if c.status == Verdict::Clear { "out.faster" } else { "out.no-difference" };
    text(lang, key, &facts)
}

/// The cells of one series' row, times per operation.
pub struct Row {
    pub p50: String,
    pub mean: String,
    pub range: String,
    pub tail: String,
    pub ops: String,
    pub n: String,
}

impl Row {
    pub fn of(s: &SeriesResult) -> Row {
        let d = |v: Duration| format_duration(s.per_op(v));
        let st = &s.m.stats;
        let (p50, low, high) = s.p50_interval();
        Row {
            p50: format!("{} [{}–{}]", format_duration(p50), format_duration(low), format_duration(high)),
            mean: format!("{} ± {}", d(st.mean), d(st.stddev)),
            range: format!("{} … {}", d(st.min), d(st.max)),
            tail: format!("{} / {} / {}", d(st.p90), d(st.p99), d(st.p999)),
            ops: s.ops_per_sec().map_or_else(|| "—".to_string(), |v| format_count(v.round() as u64)),
            n: format_count(st.samples as u64),
        }
    }
}

/// The text report.
pub fn print_text(sweep: &Sweep, lang: Lang, styles: Styles, width: usize, out: &mut impl Write) -> Result<()> {
    let heading = text(
        lang,
        "out.heading",
        &vec![
            ("scenario".into(), Fact::Text(sweep.scenario.id().into())),
            ("title".into(), Fact::Text(words::title(lang, sweep.scenario))),
        ],
    );
    writeln!(out, "{}", styles.heading(&heading))?;
    writeln!(out, "{}\n", styles.dim(&sweep.context.line(lang, sweep.started_unix)))?;
    let mut table = Table::new();
    table.load_style(presets::NOTHING);
    table.set_header(
        ["", "col.series", "col.p50", "col.mean", "col.range", "col.tail", "col.ops", "col.n"]
            .iter()
            .map(|k| Cell::new(if k.is_empty() { String::new() } else { plain(lang, k) })),
    );
    for p in &sweep.outcome.points {
        for (i, s) in p.series.iter().enumerate() {
            let row = Row::of(s);
            let point = if i == 0 { p.point.label() } else { String::new() };
            table.add_row(vec![
                Cell::new(point),
                Cell::new(words::series(lang, &s.series)),
                Cell::new(row.p50).set_alignment(CellAlignment::Right),
                Cell::new(row.mean).set_alignment(CellAlignment::Right),
                Cell::new(row.range).set_alignment(CellAlignment::Right),
                Cell::new(row.tail).set_alignment(CellAlignment::Right),
                Cell::new(row.ops).set_alignment(CellAlignment::Right),
                Cell::new(row.n).set_alignment(CellAlignment::Right),
            ]);
        }
    }
    writeln!(out, "{table}\n")?;
    for c in &sweep.outcome.comparisons {
        writeln!(out, "  {}", comparison_line(c, lang))?;
    }
    if !sweep.outcome.comparisons.is_empty() {
        writeln!(out)?;
    }
    if sweep.outcome.points.len() > 1 {
        writeln!(out, "{}", styles.heading(&plain(lang, "out.chart")))?;
        super::chart::bars(sweep, lang, width, out)?;
        writeln!(out)?;
    }
    for claim in &sweep.outcome.claims {
        let (mark, styled) = match claim.status {
            ClaimStatus::Held => ("✔", styles.pass(&plain(lang, "out.held"))),
            ClaimStatus::Failed => ("✘", styles.fail(&plain(lang, "out.failed"))),
            ClaimStatus::Inconclusive => ("?", styles.uncertain(&plain(lang, "out.inconclusive"))),
        };
        writeln!(out, "{mark} {} — {styled} [{}]", claim.text, claim.measured)?;
    }
    if let (Some(start), Some(end)) = (sweep.floor.start(), sweep.floor.end()) {
        let facts = vec![("start".into(), Fact::Duration(start)), ("end".into(), Fact::Duration(end))];
        writeln!(out, "{}", styles.dim(&text(lang, "out.floor", &facts)))?;
    }
    for w in &sweep.warnings {
        writeln!(out, "{} {}", styles.uncertain("⚠"), w.text(lang))?;
    }
    for c in &sweep.cautions {
        writeln!(out, "{} {}", styles.uncertain("⚠"), plain(lang, &format!("caution.{}", c.id())))?;
    }
    for n in &sweep.notes {
        writeln!(out, "{}", styles.dim(&format!("· {}", plain(lang, &format!("note.{n}")))))?;
    }
    writeln!(out, "{}", summary(sweep, lang))?;
    Ok(())
}

pub fn summary(sweep: &Sweep, lang: Lang) -> String {
    let count = |s: ClaimStatus| sweep.outcome.claims.iter().filter(|c| c.status == s).count() as u64;
    let facts = vec![
        ("held".into(), Fact::Count(count(ClaimStatus::Held))),
        ("total".into(), Fact::Count(sweep.outcome.claims.len() as u64)),
        ("inconclusive".into(), Fact::Count(count(ClaimStatus::Inconclusive))),
        ("took".into(), Fact::Duration(sweep.took)),
    ];
    text(lang, "out.summary", &facts)
}

fn us(d: Duration) -> f64 {
    (d.as_nanos() as f64 / 10.0).round() / 100.0
}

/// The JSON document of a sweep (also what `--save-baseline` keeps). Times are per operation, µs.
#[derive(Debug, Serialize, serde::Deserialize)]
pub struct SweepJson {
    pub schema_version: u32,
    pub kind: String,
    pub scenario: String,
    pub title: String,
    pub started_unix: u64,
    pub started: String,
    pub tool_version: String,
    pub redis: serde_json::Value,
    pub sqlite_version: String,
    pub quick: bool,
    pub cores: usize,
    pub os: String,
    pub placement: serde_json::Value,
    pub build: String,
    pub noisy: bool,
    pub floor: serde_json::Value,
    pub warnings: Vec<WarningJson>,
    pub params: Vec<String>,
    pub points: Vec<PointJson>,
    pub comparisons: Vec<ComparisonJson>,
    pub claims: Vec<ClaimJson>,
    pub notes: Vec<String>,
    pub took_s: f64,
}

#[derive(Debug, Serialize, serde::Deserialize)]
pub struct WarningJson {
    pub kind: String,
    pub text: String,
}

#[derive(Debug, Serialize, serde::Deserialize)]
pub struct PointJson {
    pub label: String,
    pub params: std::collections::BTreeMap<String, String>,
    pub series: Vec<SeriesJson>,
}

#[derive(Debug, Clone, Serialize, serde::Deserialize)]
pub struct SeriesJson {
    pub series: String,
    pub label: String,
    pub backend: String,
    pub samples: usize,
    pub rounds: usize,
    pub ops_per_sample: u32,
    pub p50_us: f64,
    /// 95% interval of the p50 (over rounds).
    pub p50_low_us: f64,
    pub p50_high_us: f64,
    pub mean_us: f64,
    pub stddev_us: f64,
    pub min_us: f64,
    pub max_us: f64,
    pub p90_us: f64,
    pub p99_us: f64,
    pub p999_us: f64,
    pub ops_per_sec: Option<f64>,
}

#[derive(Debug, Serialize, serde::Deserialize)]
pub struct ComparisonJson {
    pub id: String,
    pub a: String,
    pub b: String,
    pub ratio: f64,
    pub ratio_low: f64,
    pub ratio_high: f64,
    pub clear: bool,
    pub text: String,
}

#[derive(Debug, Serialize, serde::Deserialize)]
pub struct ClaimJson {
    pub id: String,
    pub status: ClaimStatus,
    pub holds: bool,
    pub measured: String,
    pub headline: String,
    pub text: String,
}

pub fn series_json(s: &SeriesResult, lang: Lang) -> SeriesJson {
    let st = &s.m.stats;
    let per = |d: Duration| us(s.per_op(d));
    let (p50, low, high) = s.p50_interval();
    SeriesJson {
        series: s.series.clone(),
        label: words::series(lang, &s.series),
        backend: s.m.backend.name().to_string(),
        samples: st.samples,
        rounds: s.m.round_p50s.len(),
        ops_per_sample: s.m.ops_per_sample,
        p50_us: us(p50),
        p50_low_us: us(low),
        p50_high_us: us(high),
        mean_us: per(st.mean),
        stddev_us: per(st.stddev),
        min_us: per(st.min),
        max_us: per(st.max),
        p90_us: per(st.p90),
        p99_us: per(st.p99),
        p999_us: per(st.p999),
        ops_per_sec: s.ops_per_sec().map(|v| (v * 10.0).round() / 10.0),
    }
}

pub fn to_json(sweep: &Sweep, lang: Lang) -> SweepJson {
    SweepJson {
        schema_version: SCHEMA_VERSION,
        kind: "scenario".into(),
        scenario: sweep.scenario.id().into(),
        title: words::title(lang, sweep.scenario),
        started_unix: sweep.started_unix,
        started: format_when(sweep.started_unix),
        tool_version: env!("CARGO_PKG_VERSION").into(),
        redis: serde_json::to_value(&sweep.context.redis).unwrap_or_default(),
        sqlite_version: sweep.context.sqlite_version.clone(),
        quick: sweep.context.quick,
        cores: sweep.context.cores,
        os: sweep.context.os.clone(),
        placement: serde_json::to_value(sweep.context.placement).unwrap_or_default(),
        build: if sweep.debug_build { "debug".into() } else { "release".into() },
        noisy: sweep.noisy(),
        floor: serde_json::to_value(&sweep.floor).unwrap_or_default(),
        warnings: sweep
            .warnings
            .iter()
            .map(|w| WarningJson {
                kind: serde_json::to_value(w)
                    .ok()
                    .and_then(|v| v["kind"].as_str().map(str::to_string))
                    .unwrap_or_default(),
                text: w.text(lang),
            })
            .chain(
                sweep
                    .cautions
                    .iter()
                    .map(|c| WarningJson { kind: c.id().into(), text: plain(lang, &format!("caution.{}", c.id())) }),
            )
            .collect(),
        params: sweep.params.iter().map(|p| p.key.to_string()).collect(),
        points: sweep
            .outcome
            .points
            .iter()
            .map(|p| PointJson {
                label: p.point.label(),
                params: p.point.0.iter().cloned().collect(),
                series: p.series.iter().map(|s| series_json(s, lang)).collect(),
            })
            .collect(),
        comparisons: sweep
            .outcome
            .comparisons
            .iter()
            .map(|c| ComparisonJson {
                id: c.id.clone(),
                a: c.a.clone(),
                b: c.b.clone(),
                ratio: c.ratio,
                ratio_low: c.ratio_low,
                ratio_high: c.ratio_high,
                clear: c.status == Verdict::Clear,
                text: comparison_line(c, lang),
            })
            .collect(),
        claims: sweep
            .outcome
            .claims
            .iter()
            .map(|c| ClaimJson {
                id: c.id.clone(),
                status: c.status,
                holds: c.holds,
                measured: c.measured.clone(),
                headline: words::claim_headline(lang, sweep.scenario, c),
                text: c.text.clone(),
            })
            .collect(),
        notes: sweep.notes.iter().map(|n| plain(lang, &format!("note.{n}"))).collect(),
        took_s: (sweep.took.as_secs_f64() * 10.0).round() / 10.0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_are_civil_utc() {
        assert_eq!(format_when(0), "1970-01-01 00:00:00 UTC");
        assert_eq!(format_when(951_782_400), "2000-02-29 00:00:00 UTC");
        assert_eq!(format_when(1_796_046_302), "2026-11-30 13:45:02 UTC");
    }
}
