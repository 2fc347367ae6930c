//! Text output: lesson pages, demo reports, timing tables, claims, the command trace.

use std::io::Write;

use anyhow::Result;
use comfy_table::{Cell, CellAlignment, Color, ContentArrangement, Table, presets};

use super::Styles;
use crate::demo::{DemoReport, NoteKind};
use crate::i18n::Lang;
use crate::measure::{Backend, ClaimStatus, Measurement, format_count, format_duration};
use crate::server::TraceReport;

/// A printer for one run: where to write, in which language, how wide, with which styles.
pub struct Printer<W: Write> {
    pub out: W,
    pub styles: Styles,
    pub lang: Lang,
    pub width: usize,
}

impl<W: Write> Printer<W> {
    pub fn new(out: W, styles: Styles, lang: Lang, width: usize) -> Printer<W> {
        Printer { out, styles, lang, width: width.clamp(40, 110) }
    }

    fn tr<'a>(&self, en: &'a str, zh: &'a str) -> &'a str {
        self.lang.tr(en, zh)
    }

    /// `━━ Lesson 2 · Cache-aside ━━━━`
    pub fn rule(&mut self, title: &str) -> Result<()> {
        let used = console::measure_text_width(title) + 4;
        let fill = "━".repeat(self.width.saturating_sub(used).max(2));
        writeln!(
            self.out,
            "{} {} {}",
            self.styles.heading("━━"),
            self.styles.heading(title),
            self.styles.heading(&fill)
        )?;
        Ok(())
    }

    /// `── Demo 1/5 · title ──`
    pub fn subrule(&mut self, title: &str) -> Result<()> {
        let used = console::measure_text_width(title) + 4;
        let fill = "─".repeat(self.width.saturating_sub(used).max(2));
        writeln!(self.out, "\n{} {} {}", self.styles.dim("──"), self.styles.heading(title), self.styles.dim(&fill))?;
        Ok(())
    }

    pub fn line(&mut self, text: &str) -> Result<()> {
        writeln!(self.out, "{text}")?;
        Ok(())
    }

    /// `text` wrapped at the width, `first` before its first line and `rest` (a hanging indent)
    /// before the others; never mid-word. Styles inside `text` are kept.
    pub fn wrapped(&mut self, text: &str, first: &str, rest: &str) -> Result<()> {
        for line in wrap(text, self.width, first, rest) {
            writeln!(self.out, "{line}")?;
        }
        Ok(())
    }

    /// [`Printer::wrapped`], every line dimmed.
    pub fn wrapped_dim(&mut self, text: &str, first: &str, rest: &str) -> Result<()> {
        for line in wrap(text, self.width, first, rest) {
            writeln!(self.out, "{}", self.styles.dim(&line))?;
        }
        Ok(())
    }

    /// `⚠ caveat: …`, wrapped with a hanging indent: said once when a run turns noisy.
    pub fn caveat(&mut self, text: &str) -> Result<()> {
        let tag = self.styles.uncertain(self.tr("⚠ caveat:", "⚠ 注意："));
        let options = textwrap::Options::new(self.width).initial_indent("").subsequent_indent("    ");
        for line in textwrap::wrap(&format!("{tag} {text}"), options) {
            writeln!(self.out, "{line}")?;
        }
        Ok(())
    }

    pub fn blank(&mut self) -> Result<()> {
        writeln!(self.out)?;
        Ok(())
    }

    /// Paragraphs separated by blank lines, wrapped; `- ` bullets keep a hanging indent;
    /// `` `code` `` is highlighted.
    pub fn prose(&mut self, text: &str) -> Result<()> {
        for (i, paragraph) in text.split("\n\n").map(str::trim).filter(|p| !p.is_empty()).enumerate() {
            if i > 0 {
                writeln!(self.out)?;
            }
            for block in bullets(paragraph) {
                let (first, rest) = if block.starts_with("- ") { ("  • ", "    ") } else { ("", "") };
                let body = block.strip_prefix("- ").unwrap_or(&block);
                let options = textwrap::Options::new(self.width).initial_indent(first).subsequent_indent(rest);
                // A `code span` may be wrapped across lines: carry whether we are inside one.
                let mut in_code = false;
                for line in textwrap::wrap(body, options) {
                    let styled = self.highlight_code(&line, &mut in_code);
                    writeln!(self.out, "{styled}")?;
                }
            }
        }
        Ok(())
    }

    /// Color what is between backticks; `in_code` carries an open span over to the next line.
    fn highlight_code(&self, line: &str, in_code: &mut bool) -> String {
        let mut out = String::new();
        for (i, part) in line.split('`').enumerate() {
            if i > 0 {
                *in_code = !*in_code;
                out.push('`');
            }
            if *in_code && self.styles.color {
                out.push_str(&self.styles.code(part).to_string());
            } else {
                out.push_str(part);
            }
        }
        out
    }

    /// Everything one demo found.
    pub fn demo(&mut self, report: &DemoReport) -> Result<()> {
        for finding in &report.findings {
            writeln!(self.out, "\n{}", self.styles.heading(finding.title.as_str()))?;
            let mut table = self.table();
            table.set_header(finding.headers.iter().map(Cell::new));
            for row in &finding.rows {
                table.add_row(row.iter().map(Cell::new));
            }
            writeln!(self.out, "{table}")?;
        }
        if !report.measurements.is_empty() {
            writeln!(self.out, "\n{}", self.styles.heading(self.tr("Timings (this run)", "耗时（本次运行实测）")))?;
            let table = self.timing_table(&report.measurements);
            writeln!(self.out, "{table}")?;
        }
        for comparison in &report.comparisons {
            let options = textwrap::Options::new(self.width).initial_indent("  → ").subsequent_indent("    ");
            for line in textwrap::wrap(&self.comparison_text(comparison), options) {
                writeln!(self.out, "{line}")?;
            }
        }
        for note in &report.notes {
            let tag = match note.kind {
                NoteKind::Info => self.styles.dim(self.tr("note:", "说明：")),
                NoteKind::Simulated => self.styles.simulated(self.tr("SIMULATED:", "模拟：")),
                NoteKind::Caveat => self.styles.simulated(self.tr("caveat:", "注意：")),
            };
            let options = textwrap::Options::new(self.width).initial_indent("  ").subsequent_indent("    ");
            let text = format!("{tag} {}", note.text);
            for line in textwrap::wrap(&text, options) {
                writeln!(self.out, "{line}")?;
            }
        }
        if let Some(error) = &report.error {
            writeln!(self.out, "  {} {error}", self.styles.fail(self.tr("demo failed:", "演示失败：")))?;
        }
        if let Some(why) = &report.skipped {
            let options = textwrap::Options::new(self.width).initial_indent("  ").subsequent_indent("    ");
            let text = format!("{} {why}", self.styles.uncertain(self.tr("skipped:", "已跳过：")));
            for line in textwrap::wrap(&text, options) {
                writeln!(self.out, "{line}")?;
            }
        }
        if !report.claims.is_empty() {
            writeln!(
                self.out,
                "\n{}",
                self.styles.heading(self.tr("Claims, checked with this run's numbers", "结论（用本次运行的数字检验）"))
            )?;
            for claim in &report.claims {
                let (mark, suffix) = match claim.status {
                    ClaimStatus::Held => (self.styles.pass("✔"), String::new()),
                    ClaimStatus::Failed => (self.styles.fail("✘"), String::new()),
                    ClaimStatus::Inconclusive => (
                        self.styles.uncertain("?"),
                        self.tr(
                            " — inconclusive: the interval straddles the claim's threshold, rerun on a quieter machine",
                            " —— 无法判定：区间跨过了结论的门槛，请在更安静的机器上重跑",
                        )
                        .to_string(),
                    ),
                };
                let options = textwrap::Options::new(self.width).initial_indent("").subsequent_indent("    ");
                let text = match self.lang {
                    Lang::En => format!("{mark}  {} (measured: {}){suffix}", claim.text, claim.measured),
                    Lang::Zh => format!("{mark}  {}（实测：{}）{suffix}", claim.text, claim.measured),
                };
                let wrapped = textwrap::wrap(&text, options);
                for line in wrapped {
                    writeln!(self.out, "  {line}")?;
                }
            }
        }
        self.trace(&report.trace)
    }

    fn comparison_text(&self, c: &crate::measure::Comparison) -> String {
        match self.lang {
            Lang::En => c.describe(),
            Lang::Zh => c.describe_zh(),
        }
    }

    fn trace(&mut self, trace: &TraceReport) -> Result<()> {
        if trace.examples.is_empty() {
            return Ok(());
        }
        writeln!(
            self.out,
            "\n{}",
            self.styles
                .heading(self.tr("Commands sent (replay them in redis-cli)", "发送的命令（可在 redis-cli 中重放）"))
        )?;
        for line in &trace.examples {
            writeln!(self.out, "  {}", self.styles.code(line))?;
        }
        let counts: Vec<String> =
            trace.counts.iter().map(|(name, n)| format!("{name} ×{}", format_count(*n))).collect();
        let total = format_count(trace.total());
        let summary = match self.lang {
            Lang::En => format!("{total} commands in all: {}", counts.join(" · ")),
            Lang::Zh => format!("共 {total} 条命令：{}", counts.join(" · ")),
        };
        let options = textwrap::Options::new(self.width).initial_indent("  ").subsequent_indent("    ");
        for line in textwrap::wrap(&summary, options) {
            writeln!(self.out, "{}", self.styles.dim(&line))?;
        }
        Ok(())
    }

    fn table(&self) -> Table {
        let mut table = Table::new();
        table.load_style(presets::UTF8_FULL_CONDENSED).set_content_arrangement(ContentArrangement::Dynamic);
        table.set_width(self.width as u16);
        if self.styles.color {
            table.enforce_styling();
        } else {
            table.force_no_tty();
        }
        table
    }

    /// Side by side: what, where, p50 (median of the round medians), p99, mean, throughput (— for
    /// one-way latencies), samples.
    pub fn timing_table(&self, measurements: &[Measurement]) -> Table {
        let mut table = self.table();
        table.set_header(vec![
            self.tr("operation", "操作"),
            self.tr("backend", "后端"),
            "p50",
            "p99",
            self.tr("mean", "均值"),
            self.tr("ops/s", "次/秒"),
            self.tr("samples", "样本数"),
        ]);
        for m in measurements {
            let backend = Cell::new(m.backend.name());
            let backend = match (self.styles.color, m.backend) {
                (true, Backend::Redis) => backend.fg(Color::Red),
                (true, Backend::Sqlite) => backend.fg(Color::Blue),
                _ => backend,
            };
            table.add_row(vec![
                Cell::new(&m.label),
                backend,
                Cell::new(format_duration(m.p50())).set_alignment(CellAlignment::Right),
                Cell::new(format_duration(m.stats.p99)).set_alignment(CellAlignment::Right),
                Cell::new(format_duration(m.stats.mean)).set_alignment(CellAlignment::Right),
                Cell::new(m.ops_per_sec().map_or_else(|| "—".to_string(), |v| format_count(v.round() as u64)))
                    .set_alignment(CellAlignment::Right),
                Cell::new(format_count(m.stats.samples as u64)).set_alignment(CellAlignment::Right),
            ]);
        }
        table
    }
}

/// Wrap at `width` with a first-line and a hanging indent, never splitting a word (a word longer
/// than the line stays whole).
pub fn wrap(text: &str, width: usize, first: &str, rest: &str) -> Vec<String> {
    let options = textwrap::Options::new(width)
        .initial_indent(first)
        .subsequent_indent(rest)
        .word_splitter(textwrap::WordSplitter::NoHyphenation)
        .break_words(false);
    textwrap::wrap(text, options).into_iter().map(|l| l.into_owned()).collect()
}

/// Split a paragraph into blocks: each `- ` line starts a bullet; other lines join the block before.
fn bullets(paragraph: &str) -> Vec<String> {
    let mut blocks: Vec<String> = Vec::new();
    for line in paragraph.lines().map(str::trim) {
        match blocks.last_mut() {
            Some(last) if !line.starts_with("- ") => {
                last.push(' ');
                last.push_str(line);
            }
            _ => blocks.push(line.to_string()),
        }
    }
    blocks
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::measure::{Claim, Kind};
    use std::time::Duration;

    fn printer() -> Printer<Vec<u8>> {
        Printer::new(Vec::new(), Styles { color: false }, Lang::En, 80)
    }

    fn output(p: Printer<Vec<u8>>) -> String {
        String::from_utf8(p.out).unwrap()
    }

    #[test]
    fn prose_wraps_and_keeps_bullets() {
        let mut p = printer();
        p.prose("First paragraph is short.\n\n- one bullet\n- another bullet that goes on").unwrap();
        assert_eq!(output(p), "First paragraph is short.\n\n  • one bullet\n  • another bullet that goes on\n");
    }

    #[test]
    fn code_spans_stay_code_across_wrapped_lines() {
        let p = Printer::new(Vec::new(), Styles::new(true), Lang::En, 80);
        let mut in_code = false;
        let first = p.highlight_code("read with `SET key", &mut in_code);
        assert!(in_code, "the span is still open at the end of the line");
        let second = p.highlight_code("value EX 60` then go", &mut in_code);
        assert!(!in_code);
        assert!(first.contains("\u{1b}[36m") && second.starts_with("\u{1b}[36m"), "{first:?} {second:?}");
        assert!(second.ends_with(" then go"), "{second:?}");
        colored::control::unset_override();
    }

    #[test]
    fn a_demo_report_renders_deterministically() {
        let us = Duration::from_micros;
        let mut report = DemoReport::new("demo", "A demo");
        let rounds = |p50: u64| -> Vec<Vec<Duration>> {
            (0..10).map(|i| vec![us(p50 / 2), us(p50 + i % 3), us(p50 * 3)]).collect()
        };
        let measure = |id: &str, label: &str, backend, p50| {
            Measurement::from_rounds(id, label, backend, Kind::Throughput, 1, 1, &rounds(p50)).unwrap()
        };
        let fast = report.measured(measure("get-hit", "GET hit", Backend::Redis, 40));
        let slow = report.measured(measure("sql-query", "SQL query", Backend::Sqlite, 200));
        let mut latency = measure("delivery", "delivery", Backend::Redis, 300);
        latency.kind = Kind::Latency;
        report.measured(latency);
        let c = report.compare("hit-vs-query", &fast, &slow).unwrap();
        report.claim(Claim::ratio_above("hit-faster", "A hit is 5.00× faster", &c, 2.0));
        report.claim(Claim::ratio_above("hit-much-faster", "A hit is more than 4.9× faster", &c, 4.9));
        report.claim(Claim::new("no-misses", "No miss reached SQL", "0", false));
        report.note(NoteKind::Simulated, "a 50 ms upstream");
        let mut p = printer();
        p.demo(&report).unwrap();
        insta::assert_snapshot!(output(p));
    }
}
