//! Exports of a bench run for slides and spreadsheets: Markdown tables and CSV rows. Every export
//! starts with the context that makes its numbers honest: when, where, which Redis, which mode.

use std::io::Write;

use anyhow::Result;
use serde::Serialize;

use crate::demo::DemoReport;
use crate::measure::{Measurement, format_count, format_duration};

/// One lesson's results in a bench run.
#[derive(Debug, Serialize)]
pub struct BenchLesson {
    pub number: u32,
    pub slug: String,
    pub title: String,
    pub demos: Vec<DemoReport>,
    pub keys_left: usize,
    /// The round-trip floor during this lesson's demos.
    pub floor: crate::measure::Floor,
    /// The machine was too busy during this lesson for its ratios to be taken as facts.
    pub noisy: bool,
    pub warnings: Vec<crate::measure::Warning>,
}

/// A whole bench run.
#[derive(Debug, Serialize)]
pub struct BenchRun {
    /// The export format's version ([`crate::bench::SCHEMA_VERSION`]).
    pub schema_version: u32,
    /// Seconds since the Unix epoch when the run started.
    pub started_unix: u64,
    /// The same, as `2026-11-30 13:45:02 UTC`.
    pub started: String,
    /// Server, SQLite, mode, machine, placement: flat in the JSON.
    #[serde(flatten)]
    pub context: crate::bench::RunContext,
    pub lessons: Vec<BenchLesson>,
    pub claims_total: usize,
    pub claims_held: usize,
    pub claims_inconclusive: usize,
}

impl BenchRun {
    fn context_line(&self) -> String {
        format!(
            "{} · compared operations measured interleaved in rounds, warmup first; p50 is the median of round medians, ratios have 95% intervals over rounds",
            self.context.line(crate::i18n::Lang::En, self.started_unix)
        )
    }
}

fn rows(m: &Measurement) -> [String; 6] {
    [
        m.backend.name().to_string(),
        format_duration(m.p50()),
        format_duration(m.stats.p99),
        format_duration(m.stats.mean),
        m.ops_per_sec().map_or_else(|| "—".to_string(), |v| format_count(v.round() as u64)),
        format_count(m.stats.samples as u64),
    ]
}

/// Markdown: a heading per lesson, a table of measurements and the claims per demo.
pub fn markdown(run: &BenchRun, out: &mut impl Write) -> Result<()> {
    writeln!(
        out,
        "# redis-learn bench · {}\n\n_{}_\n",
        crate::bench::report::format_when(run.started_unix),
        run.context_line()
    )?;
    writeln!(
        out,
        "**{} of {} claims held, {} inconclusive.**\n",
        run.claims_held, run.claims_total, run.claims_inconclusive
    )?;
    for lesson in &run.lessons {
        writeln!(out, "## Lesson {} · {}\n", lesson.number, lesson.title)?;
        if let (Some(start), Some(end)) = (lesson.floor.start(), lesson.floor.end()) {
            writeln!(
                out,
                "_Round trip (PING p50): {} at the start, {} at the end · noisy: {}._\n",
                format_duration(start),
                format_duration(end),
                lesson.noisy
            )?;
        }
        for warning in &lesson.warnings {
            writeln!(out, "> ⚠ {}\n", escape_md(&warning.text(crate::i18n::Lang::En)))?;
        }
        for demo in &lesson.demos {
            writeln!(out, "### {}\n", escape_md(demo.title.as_str()))?;
            for finding in &demo.findings {
                finding_table(finding, out)?;
            }
            if !demo.measurements.is_empty() {
                writeln!(out, "| operation | backend | p50 | p99 | mean | ops/s | samples |")?;
                writeln!(out, "|---|---|--:|--:|--:|--:|--:|")?;
                for m in &demo.measurements {
                    let [backend, p50, p99, mean, ops, samples] = rows(m);
                    writeln!(
                        out,
                        "| {} | {backend} | {p50} | {p99} | {mean} | {ops} | {samples} |",
                        escape_md(&m.label)
                    )?;
                }
                writeln!(out)?;
            }
            for c in &demo.comparisons {
                writeln!(out, "- → {}", escape_md(&c.describe(crate::i18n::Lang::En)))?;
            }
            for claim in &demo.claims {
                let mark = match claim.status {
                    crate::measure::ClaimStatus::Held => "✔",
                    crate::measure::ClaimStatus::Failed => "✘",
                    crate::measure::ClaimStatus::Inconclusive => "? (inconclusive)",
                };
                writeln!(
                    out,
                    "- {mark} **{}** — {} **[{}]**",
                    escape_md(&headline(&claim.text)),
                    escape_md(&claim.text),
                    escape_md(&claim.measured)
                )?;
            }
            for note in &demo.notes {
                if note.kind == crate::demo::NoteKind::Simulated {
                    writeln!(out, "- _SIMULATED: {}_", escape_md(note.text.as_str()))?;
                }
            }
            if let Some(error) = &demo.error {
                writeln!(out, "- ✘ demo failed: {}", escape_md(error))?;
            }
            writeln!(out)?;
        }
    }
    Ok(())
}

/// CSV: one row per measurement, times in microseconds.
pub fn csv(run: &BenchRun, out: &mut impl Write) -> Result<()> {
    let mut w = csv::Writer::from_writer(out);
    w.write_record([
        "lesson",
        "slug",
        "demo",
        "id",
        "operation",
        "backend",
        "kind",
        "samples",
        "rounds",
        "p50_us",
        "p99_us",
        "mean_us",
        "min_us",
        "max_us",
        "ops_per_sec",
        "redis_version",
        "mode",
        "started",
        "noisy",
    ])?;
    let us = |d: std::time::Duration| format!("{:.2}", d.as_nanos() as f64 / 1_000.0);
    for lesson in &run.lessons {
        for demo in &lesson.demos {
            for m in &demo.measurements {
                w.write_record([
                    lesson.number.to_string(),
                    lesson.slug.clone(),
                    demo.name.clone(),
                    m.id.clone(),
                    m.label.clone(),
                    m.backend.name().to_string(),
                    format!("{:?}", m.kind).to_lowercase(),
                    m.stats.samples.to_string(),
                    m.round_p50s.len().to_string(),
                    us(m.p50()),
                    us(m.stats.p99),
                    us(m.stats.mean),
                    us(m.stats.min),
                    us(m.stats.max),
                    m.ops_per_sec().map_or_else(String::new, |v| format!("{v:.1}")),
                    run.context.redis.version.clone(),
                    if run.context.quick { "quick".into() } else { "full".into() },
                    run.started.clone(),
                    lesson.noisy.to_string(),
                ])?;
            }
        }
    }
    w.flush()?;
    Ok(())
}

fn escape_md(text: &str) -> String {
    text.replace('|', "\\|").replace('\n', " ")
}

/// A demo's own table (INFO fields, a stampede's counts, hit ratios) as a Markdown table.
fn finding_table(finding: &crate::demo::Finding, out: &mut impl Write) -> Result<()> {
    writeln!(out, "**{}**\n", escape_md(finding.title.as_str()))?;
    let cells = |row: &[crate::text::Text]| row.iter().map(|t| escape_md(t.as_str())).collect::<Vec<_>>().join(" | ");
    if finding.headers.is_empty() {
        let width = finding.rows.iter().map(Vec::len).max().unwrap_or(1);
        writeln!(out, "|{}|", " |".repeat(width))?;
        writeln!(out, "|{}", "---|".repeat(width))?;
    } else {
        writeln!(out, "| {} |", cells(&finding.headers))?;
        writeln!(out, "|{}", "---|".repeat(finding.headers.len()))?;
    }
    for row in &finding.rows {
        writeln!(out, "| {} |", cells(row))?;
    }
    writeln!(out)?;
    Ok(())
}

/// A claim's headline for a slide: its first clause (up to a colon, semicolon or dash), at most
/// `HEADLINE_CHARS` characters.
pub fn headline(text: &str) -> String {
    let first = text.find([':', ';', '：', '；']).map_or(text, |i| &text[..i]);
    let first = first.split(" — ").next().unwrap_or(first).trim();
    // A lead-in ("Honestly: …") is no headline: then the sentence itself, cut.
    let cut = if first.chars().count() < MIN_HEADLINE_CHARS { text.trim() } else { first };
    if cut.chars().count() <= HEADLINE_CHARS {
        cut.to_string()
    } else {
        let short: String = cut.chars().take(HEADLINE_CHARS - 1).collect();
        format!("{}…", short.trim_end())
    }
}

const HEADLINE_CHARS: usize = 72;
const MIN_HEADLINE_CHARS: usize = 16;

/// A scenario sweep as Markdown: one section ready for a slide.
pub fn sweep_markdown(
    sweep: &crate::bench::Sweep,
    doc: &crate::bench::report::SweepJson,
    out: &mut impl Write,
) -> Result<()> {
    writeln!(out, "## bench {} · {}\n", doc.scenario, escape_md(&doc.title))?;
    writeln!(
        out,
        "_{} · schema {}_\n",
        escape_md(&sweep.context.line(crate::i18n::Lang::En, sweep.started_unix)),
        doc.schema_version
    )?;
    for claim in &doc.claims {
        let mark = match claim.status {
            crate::measure::ClaimStatus::Held => "✔",
            crate::measure::ClaimStatus::Failed => "✘",
            crate::measure::ClaimStatus::Inconclusive => "? (inconclusive)",
        };
        writeln!(out, "- {mark} **{}** [{}]", escape_md(&claim.headline), escape_md(&claim.measured))?;
    }
    writeln!(out)?;
    writeln!(out, "| point | series | p50 [95%] | mean ± σ | min … max | p90 / p99 / p99.9 | ops/s | n |")?;
    writeln!(out, "|---|---|--:|--:|--:|--:|--:|--:|")?;
    for p in &sweep.outcome.points {
        for (i, s) in p.series.iter().enumerate() {
            let row = crate::bench::report::Row::of(s);
            writeln!(
                out,
                "| {} | {} | {} | {} | {} | {} | {} | {} |",
                if i == 0 { escape_md(&p.point.label()) } else { String::new() },
                escape_md(&crate::bench::words::series(crate::i18n::Lang::En, &s.series)),
                row.p50,
                row.mean,
                row.range,
                row.tail,
                row.ops,
                row.n
            )?;
        }
    }
    writeln!(out)?;
    for c in &doc.comparisons {
        writeln!(out, "- {}", escape_md(&c.text))?;
    }
    if let (Some(start), Some(end)) = (sweep.floor.start(), sweep.floor.end()) {
        writeln!(
            out,
            "\n_Round trip (PING p50): {} at the start, {} at the end._",
            format_duration(start),
            format_duration(end)
        )?;
    }
    for w in &doc.warnings {
        writeln!(out, "\n> ⚠ {}", escape_md(&w.text))?;
    }
    for n in &doc.notes {
        writeln!(out, "\n_{}_", escape_md(n))?;
    }
    writeln!(out, "\n_noisy: {}_", doc.noisy)?;
    Ok(())
}

/// A scenario sweep as CSV: one row per point and series, times per operation in microseconds.
pub fn sweep_csv(doc: &crate::bench::report::SweepJson, out: &mut impl Write) -> Result<()> {
    let mut w = csv::Writer::from_writer(out);
    let mut header: Vec<String> = vec!["schema_version".into(), "scenario".into()];
    header.extend(doc.params.iter().cloned());
    header.extend(
        [
            "series",
            "backend",
            "samples",
            "rounds",
            "ops_per_sample",
            "p50_us",
            "p50_low_us",
            "p50_high_us",
            "mean_us",
            "stddev_us",
            "min_us",
            "max_us",
            "p90_us",
            "p99_us",
            "p999_us",
            "ops_per_sec",
            "redis_version",
            "mode",
            "started",
            "noisy",
        ]
        .iter()
        .map(|s| s.to_string()),
    );
    w.write_record(&header)?;
    let num = |v: f64| format!("{v:.2}");
    for p in &doc.points {
        for s in &p.series {
            let mut row: Vec<String> = vec![doc.schema_version.to_string(), doc.scenario.clone()];
            row.extend(doc.params.iter().map(|k| p.params.get(k).cloned().unwrap_or_default()));
            row.extend([
                s.series.clone(),
                s.backend.clone(),
                s.samples.to_string(),
                s.rounds.to_string(),
                s.ops_per_sample.to_string(),
                num(s.p50_us),
                num(s.p50_low_us),
                num(s.p50_high_us),
                num(s.mean_us),
                num(s.stddev_us),
                num(s.min_us),
                num(s.max_us),
                num(s.p90_us),
                num(s.p99_us),
                num(s.p999_us),
                s.ops_per_sec.map_or_else(String::new, |v| format!("{v:.1}")),
                doc.redis["version"].as_str().unwrap_or_default().to_string(),
                if doc.quick { "quick".into() } else { "full".into() },
                doc.started.clone(),
                doc.noisy.to_string(),
            ]);
            w.write_record(&row)?;
        }
    }
    w.flush()?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::measure::{Backend, Claim, Kind};
    use std::time::Duration;

    fn run() -> BenchRun {
        let us = Duration::from_micros;
        // Ten rounds of 10 samples: 10, 20 ×8, 90 — p50 20, p99 90, mean 25.
        let round: Vec<Duration> = [10, 20, 20, 20, 20, 20, 20, 20, 20, 90].map(us).to_vec();
        let rounds = vec![round; 10];
        let mut demo = DemoReport::new("token-cache", "Hit vs query");
        demo.measured(
            Measurement::from_rounds("get-hit", "GET | hit", Backend::Redis, Kind::Throughput, 1, 1, &rounds).unwrap(),
        );
        demo.claim(Claim::new("hit-faster", "a hit is faster", "4.0×", true));
        BenchRun {
            schema_version: 1,
            started_unix: 0,
            started: "1970-01-01 00:00:00 UTC".into(),
            context: crate::bench::RunContext {
                redis: crate::server::ServerInfo {
                    url: "redis://127.0.0.1:6379".into(),
                    version: "7.0.15".into(),
                    private: false,
                    flavour: "Redis".into(),
                    redis_compatible: "7.0.15".into(),
                    cluster: false,
                },
                sqlite_version: "3.54.1".into(),
                quick: true,
                cores: 2,
                os: "linux".into(),
                placement: crate::measure::Placement::None { cpus: 2 },
            },
            lessons: vec![BenchLesson {
                number: 2,
                slug: "cache-aside".into(),
                title: "Cache-aside".into(),
                demos: vec![demo],
                keys_left: 0,
                floor: crate::measure::Floor::default(),
                noisy: false,
                warnings: Vec::new(),
            }],
            claims_total: 1,
            claims_held: 1,
            claims_inconclusive: 0,
        }
    }

    #[test]
    fn markdown_has_the_context_a_table_and_the_claims() {
        let mut out = Vec::new();
        markdown(&run(), &mut out).unwrap();
        let text = String::from_utf8(out).unwrap();
        assert!(text.contains("Redis 7.0.15"));
        assert!(text.contains("| GET \\| hit | Redis | 20.0 µs | 90.0 µs | 26.0 µs | 38,462 | 100 |"), "{text}");
        assert!(text.contains("- ✔ **a hit is faster** — a hit is faster **[4.0×]**"), "{text}");
        assert!(text.contains("# redis-learn bench · 1970-01-01 00:00:00 UTC"), "{text}");
    }

    #[test]
    fn csv_has_one_row_per_measurement_in_microseconds() {
        let mut out = Vec::new();
        csv(&run(), &mut out).unwrap();
        let text = String::from_utf8(out).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 2);
        assert_eq!(
            lines[1],
            "2,cache-aside,token-cache,get-hit,GET | hit,Redis,throughput,100,10,20.00,90.00,26.00,10.00,90.00,38461.5,7.0.15,quick,1970-01-01 00:00:00 UTC,false"
        );
    }
}

#[cfg(test)]
mod headline_tests {
    use super::headline;

    #[test]
    fn headlines_take_the_first_clause() {
        assert_eq!(headline("a hit is 40× faster: no query at all"), "a hit is 40× faster");
        assert_eq!(headline("short"), "short");
        assert_eq!(headline("Honestly: SQLite wins"), "Honestly: SQLite wins");
        assert_eq!(headline(&"x".repeat(100)).chars().count(), 72);
    }
}
