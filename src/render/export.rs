//! Exports of a bench run for slides and spreadsheets: Markdown tables and CSV rows. Every export
//! starts with the context that makes its numbers honest: when, where, which Redis, which mode.

use std::io::Write;

use anyhow::Result;
use serde::Serialize;

use crate::demo::DemoReport;
use crate::measure::{Measurement, format_count, format_duration};
use crate::server::ServerInfo;

/// One lesson's results in a bench run.
#[derive(Debug, Serialize)]
pub struct BenchLesson {
    pub number: u32,
    pub slug: String,
    pub title: String,
    pub demos: Vec<DemoReport>,
    pub keys_left: usize,
}

/// A whole bench run.
#[derive(Debug, Serialize)]
pub struct BenchRun {
    /// Seconds since the Unix epoch when the run started.
    pub started_unix: u64,
    pub redis: ServerInfo,
    pub sqlite_version: String,
    pub quick: bool,
    pub cores: usize,
    pub os: String,
    pub lessons: Vec<BenchLesson>,
    pub claims_total: usize,
    pub claims_held: usize,
}

impl BenchRun {
    fn context_line(&self) -> String {
        format!(
            "Redis {} ({}{}) · SQLite {} · {} mode · {} cores, {} · measured in one run, warmup first, p50/p99 over each operation's samples",
            self.redis.version,
            self.redis.url,
            if self.redis.private { ", private" } else { "" },
            self.sqlite_version,
            if self.quick { "quick" } else { "full" },
            self.cores,
            self.os
        )
    }
}

fn rows(m: &Measurement) -> [String; 6] {
    [
        m.backend.name().to_string(),
        format_duration(m.stats.p50),
        format_duration(m.stats.p99),
        format_duration(m.stats.mean),
        format_count(m.ops_per_sec.round() as u64),
        format_count(m.stats.samples as u64),
    ]
}

/// Markdown: a heading per lesson, a table of measurements and the claims per demo.
pub fn markdown(run: &BenchRun, out: &mut impl Write) -> Result<()> {
    writeln!(out, "# redis-learn bench\n\n_{}_\n", run.context_line())?;
    writeln!(out, "**{} of {} claims held.**\n", run.claims_held, run.claims_total)?;
    for lesson in &run.lessons {
        writeln!(out, "## Lesson {} · {}\n", lesson.number, lesson.title)?;
        for demo in &lesson.demos {
            writeln!(out, "### {}\n", escape_md(&demo.title))?;
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
            for claim in &demo.claims {
                let mark = if claim.holds { "✔" } else { "✘" };
                writeln!(out, "- {mark} {} **[{}]**", escape_md(&claim.text), escape_md(&claim.measured))?;
            }
            for note in &demo.notes {
                if note.kind == crate::demo::NoteKind::Simulated {
                    writeln!(out, "- _SIMULATED: {}_", escape_md(&note.text))?;
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
        "operation",
        "backend",
        "samples",
        "p50_us",
        "p99_us",
        "mean_us",
        "min_us",
        "max_us",
        "ops_per_sec",
        "redis_version",
        "mode",
    ])?;
    let us = |d: std::time::Duration| format!("{:.2}", d.as_nanos() as f64 / 1_000.0);
    for lesson in &run.lessons {
        for demo in &lesson.demos {
            for m in &demo.measurements {
                w.write_record([
                    lesson.number.to_string(),
                    lesson.slug.clone(),
                    demo.name.clone(),
                    m.label.clone(),
                    m.backend.name().to_string(),
                    m.stats.samples.to_string(),
                    us(m.stats.p50),
                    us(m.stats.p99),
                    us(m.stats.mean),
                    us(m.stats.min),
                    us(m.stats.max),
                    format!("{:.1}", m.ops_per_sec),
                    run.redis.version.clone(),
                    if run.quick { "quick".into() } else { "full".into() },
                ])?;
            }
        }
    }
    w.flush()?;
    Ok(())
}

fn escape_md(text: &str) -> String {
    text.replace('|', "\\|")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::measure::{Backend, Claim, Stats};
    use std::time::Duration;

    fn run() -> BenchRun {
        let us = Duration::from_micros;
        let stats = Stats { samples: 100, min: us(10), p50: us(20), p99: us(90), max: us(120), mean: us(25) };
        let mut demo = DemoReport::new("token-cache", "Hit vs query");
        demo.measured(Measurement::new("GET | hit", Backend::Redis, stats, 1));
        demo.claim(Claim::new("a hit is faster", "4.0×", true));
        BenchRun {
            started_unix: 0,
            redis: ServerInfo { url: "redis://127.0.0.1:6379".into(), version: "7.0.15".into(), private: false },
            sqlite_version: "3.54.1".into(),
            quick: true,
            cores: 2,
            os: "linux".into(),
            lessons: vec![BenchLesson {
                number: 2,
                slug: "cache-aside".into(),
                title: "Cache-aside".into(),
                demos: vec![demo],
                keys_left: 0,
            }],
            claims_total: 1,
            claims_held: 1,
        }
    }

    #[test]
    fn markdown_has_the_context_a_table_and_the_claims() {
        let mut out = Vec::new();
        markdown(&run(), &mut out).unwrap();
        let text = String::from_utf8(out).unwrap();
        assert!(text.contains("Redis 7.0.15"));
        assert!(text.contains("| GET \\| hit | Redis | 20.0 µs | 90.0 µs | 25.0 µs | 40,000 | 100 |"), "{text}");
        assert!(text.contains("- ✔ a hit is faster **[4.0×]**"));
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
            "2,cache-aside,token-cache,GET | hit,Redis,100,20.00,90.00,25.00,10.00,120.00,40000.0,7.0.15,quick"
        );
    }
}
