//! Text output: lesson pages, demo reports, timing tables, claims, the command trace.

use std::io::Write;

use anyhow::Result;
use comfy_table::{Cell, CellAlignment, Color, ColumnConstraint, ContentArrangement, Table, Width, presets};

use super::Styles;
use crate::demo::{DemoReport, NoteKind};
use crate::i18n::Lang;
use crate::measure::{Backend, ClaimStatus, Measurement, format_count, format_duration};
use crate::server::TraceReport;
use crate::text::Text;

/// A printer for one run: where to write, in which language, how wide, with which styles.
pub struct Printer<W: Write> {
    pub out: W,
    pub styles: Styles,
    pub lang: Lang,
    pub width: usize,
    /// Wrap the command trace at the width. Off for a pipe or a file and with `--trace full`, where
    /// each command stays on one line, to be copied or grepped whole.
    pub wrap_commands: bool,
    /// The timings legend was printed (it is said once, under the first table).
    legend_said: bool,
}

impl<W: Write> Printer<W> {
    pub fn new(out: W, styles: Styles, lang: Lang, width: usize) -> Printer<W> {
        Printer { out, styles, lang, width: width.clamp(40, 110), wrap_commands: true, legend_said: false }
    }

    fn word(&self, id: &str) -> String {
        self.lang.word(id)
    }

    /// `━━ Lesson 2 · Cache-aside ━━━━`
    pub fn rule(&mut self, title: &str) -> Result<()> {
        let used = console::measure_text_width(title) + 4;
        if used + 2 > self.width {
            for line in wrap(title, self.width, "━━ ", "   ") {
                writeln!(self.out, "{}", self.styles.heading(&line))?;
            }
            return Ok(());
        }
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
        if used + 2 > self.width {
            writeln!(self.out)?;
            for (i, line) in wrap(title, self.width, "── ", "   ").into_iter().enumerate() {
                let line = if i == 0 { line.replacen("── ", "", 1) } else { line };
                let lead = if i == 0 { format!("{} ", self.styles.dim("──")) } else { String::new() };
                writeln!(self.out, "{lead}{}", self.styles.heading(&line))?;
            }
            return Ok(());
        }
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
        let word = self.word("printer.warning");
        let tag = self.styles.uncertain(&word);
        let options = options(self.width, "", "    ");
        for line in textwrap::wrap(&format!("{tag}{}{text}", gap(&word)), options) {
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
                let options = options(self.width, first, rest);
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
            writeln!(self.out)?;
            for line in wrap(finding.title.as_str(), self.width, "", "") {
                writeln!(self.out, "{}", self.styles.heading(&line))?;
            }
            let headers: Vec<String> = finding.headers.iter().map(|h| h.as_str().to_string()).collect();
            let rows: Vec<Vec<String>> =
                finding.rows.iter().map(|row| row.iter().map(|c| c.as_str().to_string()).collect()).collect();
            let mins = min_widths(&headers, &rows);
            if fits(&mins, self.width) {
                let table = self.draw(&mins, |cell| {
                    let mut table = self.table();
                    table.set_header(headers.iter().enumerate().map(|(c, h)| Cell::new(cell(c, h))));
                    for row in &rows {
                        table.add_row(row.iter().enumerate().map(|(c, text)| Cell::new(cell(c, text))));
                    }
                    table
                });
                writeln!(self.out, "{table}")?;
            } else {
                self.stacked(&headers, &rows)?;
            }
        }
        if !report.measurements.is_empty() {
            writeln!(self.out, "\n{}", self.styles.heading(&self.word("printer.timings")))?;
            self.timings(&report.measurements)?;
        }
        for comparison in &report.comparisons {
            let options = options(self.width, "  → ", "    ");
            for line in textwrap::wrap(&self.comparison_text(comparison), options) {
                writeln!(self.out, "{line}")?;
            }
        }
        for note in &report.notes {
            let word = self.word(match note.kind {
                NoteKind::Info => "printer.note",
                NoteKind::Simulated => "printer.simulated",
                NoteKind::Caveat => "printer.caveat",
            });
            let tag = match note.kind {
                NoteKind::Info => self.styles.dim(&word),
                NoteKind::Simulated | NoteKind::Caveat => self.styles.simulated(&word),
            };
            let options = options(self.width, "  ", "    ");
            let text = format!("{tag}{}{}", gap(&word), note.text);
            for line in textwrap::wrap(&text, options) {
                writeln!(self.out, "{line}")?;
            }
        }
        if let Some(error) = &report.error {
            let word = self.word("printer.demo-failed");
            let text = format!("{}{}{error}", self.styles.fail(&word), gap(&word));
            self.wrapped(&text, "  ", "    ")?;
        }
        if let Some(why) = &report.skipped {
            let options = options(self.width, "  ", "    ");
            let word = self.word("printer.skipped");
            let text = format!("{}{}{why}", self.styles.uncertain(&word), gap(&word));
            for line in textwrap::wrap(&text, options) {
                writeln!(self.out, "{line}")?;
            }
        }
        if !report.claims.is_empty() {
            writeln!(self.out, "\n{}", self.styles.heading(&self.word("printer.claims")))?;
            for claim in &report.claims {
                let (mark, suffix) = match claim.status {
                    ClaimStatus::Held => (self.styles.pass("✔"), String::new()),
                    ClaimStatus::Failed => (self.styles.fail("✘"), String::new()),
                    ClaimStatus::Inconclusive => (self.styles.uncertain("?"), self.word("printer.inconclusive")),
                };
                let options = options(self.width, "  ", "      ");
                let measured = self.lang.say(
                    Text::msg("printer.claim")
                        .fact("text", claim.text.as_str())
                        .fact("measured", claim.measured.as_str()),
                );
                let text = format!("{mark}  {measured}{suffix}");
                for line in textwrap::wrap(&text, options) {
                    writeln!(self.out, "{line}")?;
                }
            }
        }
        self.trace(&report.trace)
    }

    fn comparison_text(&self, c: &crate::measure::Comparison) -> String {
        c.describe(self.lang)
    }

    fn trace(&mut self, trace: &TraceReport) -> Result<()> {
        if trace.examples.is_empty() {
            return Ok(());
        }
        writeln!(self.out, "\n{}", self.styles.heading(&self.word("printer.commands")))?;
        for line in &trace.examples {
            if !self.wrap_commands {
                writeln!(self.out, "  {}", self.styles.code(line))?;
                continue;
            }
            for part in wrap_command(line, self.width) {
                writeln!(self.out, "{}", self.styles.code(&part))?;
            }
        }
        let counts: Vec<String> =
            trace.counts.iter().map(|(name, n)| format!("{name} ×{}", format_count(*n))).collect();
        let total = format_count(trace.total());
        let summary =
            self.lang.say(Text::msg("printer.command-counts").fact("total", total).fact("counts", counts.join(" · ")));
        let options = options(self.width, "  ", "    ");
        for line in textwrap::wrap(&summary, options) {
            writeln!(self.out, "{}", self.styles.dim(&line))?;
        }
        Ok(())
    }

    /// A table whose cells are wrapped by [`wrap`], not by comfy-table: comfy-table splits a cell
    /// only at spaces, and a run of Chinese (one "word" to it) at any character, even before a
    /// closing `）` or `，`. `build` makes the table from a function that wraps the cell text of a
    /// (shown) column; it is called twice: once to let comfy-table choose the column widths, then
    /// with each cell wrapped to its column's width, the widths fixed.
    fn draw(&self, mins: &[usize], build: impl Fn(&dyn Fn(usize, &str) -> String) -> Table) -> Table {
        let mut sizing = build(&|_, text| text.to_string());
        constrain(&mut sizing, mins);
        let Some(widths) = column_widths(&sizing) else { return sizing };
        let mut table = build(&|column, text| {
            let inner = widths.get(column).map_or(self.width, |w| w.saturating_sub(2).max(1));
            text.lines().flat_map(|line| wrap(line, inner, "", "")).collect::<Vec<_>>().join("\n")
        });
        for (column, &width) in table.column_iter_mut().zip(&widths) {
            column.set_constraint(ColumnConstraint::Absolute(Width::Fixed(width as u16)));
        }
        table
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
    /// one-way latencies), samples. On a narrow screen the least important columns go first
    /// (samples, mean, ops/s, p99; a line says which); narrower still, each row is stacked. Under
    /// the first table a printer draws, a legend says how p50 differs from p99 and the mean.
    pub fn timings(&mut self, measurements: &[Measurement]) -> Result<()> {
        let headers: Vec<String> = [
            self.word("printer.header-operation"),
            self.word("printer.header-backend"),
            "p50".to_string(),
            "p99".to_string(),
            self.word("printer.header-mean"),
            self.word("printer.header-ops"),
            self.word("printer.header-samples"),
        ]
        .into();
        let rows: Vec<Vec<String>> = measurements
            .iter()
            .map(|m| {
                vec![
                    m.label.clone(),
                    m.backend.name().to_string(),
                    format_duration(m.p50()),
                    format_duration(m.stats.p99),
                    format_duration(m.stats.mean),
                    m.ops_per_sec().map_or_else(|| "—".to_string(), |v| format_count(v.round() as u64)),
                    format_count(m.stats.samples as u64),
                ]
            })
            .collect();
        let mins = min_widths(&headers, &rows);
        let mut keep = vec![true; headers.len()];
        for least_important in [6, 4, 5, 3] {
            let kept: Vec<usize> = mins.iter().zip(&keep).filter(|(_, k)| **k).map(|(m, _)| *m).collect();
            if fits(&kept, self.width) {
                break;
            }
            keep[least_important] = false;
        }
        let kept_mins: Vec<usize> = mins.iter().zip(&keep).filter(|(_, k)| **k).map(|(m, _)| *m).collect();
        if !fits(&kept_mins, self.width) {
            return self.stacked(&headers, &rows);
        }
        let kept: Vec<usize> = (0..headers.len()).filter(|c| keep[*c]).collect();
        let table = self.draw(&kept_mins, |wrapped| {
            let mut table = self.table();
            table.set_header(kept.iter().enumerate().map(|(shown, &c)| Cell::new(wrapped(shown, &headers[c]))));
            for (m, row) in measurements.iter().zip(&rows) {
                let cells = kept.iter().enumerate().map(|(shown, &c)| {
                    let cell = Cell::new(wrapped(shown, &row[c]));
                    match c {
                        0 => cell,
                        1 => match (self.styles.color, m.backend) {
                            (true, Backend::Redis) => cell.fg(Color::Red),
                            (true, Backend::Sqlite) => cell.fg(Color::Blue),
                            _ => cell,
                        },
                        _ => cell.set_alignment(CellAlignment::Right),
                    }
                });
                table.add_row(cells.collect::<Vec<_>>());
            }
            table
        });
        writeln!(self.out, "{table}")?;
        let hidden: Vec<&str> = headers.iter().zip(&keep).filter(|(_, k)| !**k).map(|(h, _)| h.as_str()).collect();
        if !hidden.is_empty() {
            let hidden = hidden.join(&self.word("list.separator"));
            let line = self.lang.say(Text::msg("printer.too-narrow").fact("hidden", hidden));
            self.wrapped_dim(&line, "  ", "   ")?;
        }
        if !self.legend_said {
            self.legend_said = true;
            self.wrapped_dim(&self.word("printer.timings-legend"), "  ", "  ")?;
        }
        Ok(())
    }

    /// A table too wide for the screen, one row at a time: the first cell, then `header: value`
    /// pairs, wrapped with a hanging indent.
    fn stacked(&mut self, headers: &[String], rows: &[Vec<String>]) -> Result<()> {
        for row in rows {
            let Some((first, rest)) = row.split_first() else { continue };
            self.wrapped(&self.styles.heading(first).to_string(), "  • ", "    ")?;
            let pairs: Vec<String> = headers
                .iter()
                .skip(1)
                .zip(rest)
                .map(|(h, v)| {
                    // After a Chinese header, a full-width colon and no space (`用途：队列`).
                    let wide = h.chars().last().is_some_and(|c| console::measure_text_width(&c.to_string()) == 2);
                    if wide {
                        format!("{h}：{}", if looks_numeric(v) { v.replace(' ', "\u{a0}") } else { v.clone() })
                    } else if looks_numeric(v) {
                        // Kept on one line: the header's last word, the colon and the number.
                        format!("{h}:\u{a0}{}", v.replace(' ', "\u{a0}"))
                    } else {
                        format!("{h}: {v}")
                    }
                })
                .collect();
            // `·` stays at the end of the pair before it, never at the start of a line.
            for line in wrap(&pairs.join("\u{a0}· "), self.width, "    ", "    ") {
                writeln!(self.out, "{}", line.replace('\u{a0}', " "))?;
            }
        }
        Ok(())
    }
}

/// What goes between a label (`note:`, `说明：`) and its text: a space, except after full-width
/// punctuation, which carries its own spacing (Chinese puts no space after `：`).
pub fn gap(label: &str) -> &'static str {
    if label.ends_with(['：', '，', '。', '；', '）', '」', '”']) { "" } else { " " }
}

/// Wrap at `width` with a first-line and a hanging indent, never splitting a word or a number (a
/// word longer than the line stays whole): what every line we print goes through.
pub fn wrap(text: &str, width: usize, first: &str, rest: &str) -> Vec<String> {
    textwrap::wrap(text, options(width, first, rest)).into_iter().map(|l| l.into_owned()).collect()
}

/// The columns' widths (padding included) as comfy-table laid them out: the top border's segments.
fn column_widths(table: &Table) -> Option<Vec<usize>> {
    let top = table.lines().next()?;
    let inner = top.strip_prefix('┌')?.strip_suffix('┐')?;
    Some(inner.split('┬').map(|segment| segment.chars().count()).collect())
}

/// One line of the command trace at `width`, indented by 2 and continued with an indent of 6:
/// broken at spaces and after a `:` inside a key (`redis-learn:run:lock:…`), never inside a token
/// that fits on a line; a token longer than a line (a long hex id) is cut where the line ends.
pub fn wrap_command(line: &str, width: usize) -> Vec<String> {
    let options = textwrap::Options::new(width)
        .initial_indent("  ")
        .subsequent_indent("      ")
        .word_separator(textwrap::WordSeparator::Custom(command_words))
        .word_splitter(textwrap::WordSplitter::NoHyphenation)
        // First fit: optimal fit may let a line run past the width to balance the next.
        .wrap_algorithm(textwrap::WrapAlgorithm::FirstFit)
        .break_words(true);
    textwrap::wrap(line, options).into_iter().map(|l| l.into_owned()).collect()
}

/// A command's words: a run of spaces ends one, and so does a `:` with more of the token after it.
fn command_words(line: &str) -> Box<dyn Iterator<Item = textwrap::core::Word<'_>> + '_> {
    let mut words = Vec::new();
    let mut start = 0;
    let mut chars = line.char_indices().peekable();
    while let Some((i, c)) = chars.next() {
        let next = chars.peek().map(|&(_, n)| n);
        let end = i + c.len_utf8();
        let ends = match c {
            ' ' => next != Some(' '),
            ':' => next.is_some_and(|n| n != ' '),
            _ => false,
        };
        if ends && next.is_some() {
            words.push(textwrap::core::Word::from(&line[start..end]));
            start = end;
        }
    }
    if start < line.len() {
        words.push(textwrap::core::Word::from(&line[start..]));
    }
    Box::new(words.into_iter())
}

/// The wrapping options behind [`wrap`]: Unicode line breaking (so Chinese wraps between
/// characters), no hyphenation, no broken words, and numbers kept whole (see `words`).
pub fn options<'a>(width: usize, first: &'a str, rest: &'a str) -> textwrap::Options<'a> {
    textwrap::Options::new(width)
        .initial_indent(first)
        .subsequent_indent(rest)
        .word_separator(textwrap::WordSeparator::Custom(words))
        .word_splitter(textwrap::WordSplitter::NoHyphenation)
        .break_words(false)
}

/// Units that stay on the line of the number before them.
const UNITS: &[&str] = &["ns", "µs", "ms", "s", "min", "h", "d", "B", "KB", "MB", "GB", "KiB", "MiB", "GiB", "%", "×"];

/// Words as Unicode line breaking finds them, joined again where a break would split a number
/// (`1.01×–1.02×`, `[95%:` + `1.01×`), part a number from its unit (`41.0 µs`) or start a line with
/// a closing backtick. Unicode line breaking itself never breaks before closing punctuation (`）`,
/// `，`, `。`), so Chinese wraps between characters but not there.
fn words(line: &str) -> Box<dyn Iterator<Item = textwrap::core::Word<'_>> + '_> {
    let found: Vec<textwrap::core::Word<'_>> =
        textwrap::WordSeparator::UnicodeBreakProperties.find_words(line).collect();
    let offset = |w: &textwrap::core::Word<'_>| w.word.as_ptr() as usize - line.as_ptr() as usize;
    let mut merged: Vec<(usize, usize)> = Vec::new(); // (start, end) of word + its whitespace
    for w in &found {
        let start = offset(w);
        let end = start + w.word.len() + w.whitespace.len();
        if let Some(last) = merged.last_mut() {
            let before = &line[last.0..last.1];
            let glued = !before.ends_with(' ');
            let ends_numeric =
                before.trim_end().chars().last().is_some_and(|c| c.is_ascii_digit() || "×%–-.,:".contains(c))
                    && before.chars().any(|c| c.is_ascii_digit());
            let starts_numeric = w.word.chars().next().is_some_and(|c| c.is_ascii_digit());
            let unit_after_number = before.ends_with(' ')
                && before.trim_end().chars().last().is_some_and(|c| c.is_ascii_digit())
                && UNITS.iter().any(|u| w.word.trim_end_matches([',', ';', ')', '.', ':']) == *u);
            // A closing backtick stays with the code it closes (`{hash}` would break before it).
            let closes_code = glued && w.word.starts_with('`') && before.ends_with(|c: char| c.is_ascii_graphic());
            if (glued && (ends_numeric || starts_numeric)) || unit_after_number || closes_code {
                last.1 = end;
                continue;
            }
        }
        merged.push((start, end));
    }
    Box::new(merged.into_iter().map(move |(start, end)| textwrap::core::Word::from(&line[start..end])))
}

/// The narrowest each column can be without splitting a word, or any part of a number.
fn min_widths(headers: &[String], rows: &[Vec<String>]) -> Vec<usize> {
    let cell = |text: &str| -> usize {
        if looks_numeric(text) {
            console::measure_text_width(text)
        } else {
            words(text).map(|w| console::measure_text_width(w.word)).max().unwrap_or(0)
        }
    };
    (0..headers.len())
        .map(|c| {
            std::iter::once(cell(&headers[c]))
                .chain(rows.iter().filter_map(|r| r.get(c)).map(|t| cell(t)))
                .max()
                .unwrap_or(1)
                .max(1)
        })
        .collect()
}

/// `120`, `32.97 d`, `3.3%`, `~2 ms`: kept whole in a table cell.
fn looks_numeric(text: &str) -> bool {
    let t = text.trim().trim_start_matches(['~', '≈', '<', '>', '+', '-', '±']);
    t.chars().next().is_some_and(|c| c.is_ascii_digit()) && console::measure_text_width(t) <= 16
}

/// A table with these columns fits in `width` (borders and padding: 3 a column, plus 1).
fn fits(mins: &[usize], width: usize) -> bool {
    let borders = 3 * mins.len() + 1;
    mins.iter().sum::<usize>() + borders <= width
}

/// No column narrower than its longest word.
fn constrain(table: &mut Table, mins: &[usize]) {
    for (column, &min) in table.column_iter_mut().zip(mins) {
        // The boundary counts the padding (one space each side).
        column.set_constraint(ColumnConstraint::LowerBoundary(Width::Fixed(min as u16 + 2)));
    }
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

    #[test]
    fn wrapping_never_splits_a_number_or_parts_it_from_its_unit() {
        let text = "PING is 1.02× faster than GET at p50 [95%: 1.01×–1.02×]; 336,041 keys, 41.0 µs each, 3.3% of them";
        for width in 12..70 {
            let lines = wrap(text, width, "  → ", "    ");
            for whole in ["1.01×–1.02×", "336,041", "41.0 µs", "3.3%", "1.02×"] {
                assert!(lines.iter().any(|l| l.contains(whole)), "{whole:?} split at {width}: {lines:#?}");
            }
        }
    }

    /// A report with what a narrow screen must wrap: a long table title, a Chinese cell ending in a
    /// closing parenthesis, and command lines longer than the screen.
    fn narrow_report() -> DemoReport {
        let mut report = DemoReport::new("demo", "A demo");
        report.finding(
            "4 threads × 40 increments (SELECT, work, UPDATE) = 160 on one row of a SQLite file (WAL, busy_timeout 10 s); the Redis lock on the same job for reference",
            &["键", "类型", "笔记中的用途"],
            vec![
                vec![
                    "queue:tx-check".to_string(),
                    "list".to_string(),
                    "待检查交易的队列（链上交易检查），多个工作进程竞争消费（每笔交易只处理一次）".to_string(),
                ],
                vec!["user:42:clients".to_string(), "set".to_string(), "用户的 WS 客户端集合（去重）".to_string()],
            ],
        );
        report.trace.examples = vec![
            "EVAL \"if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) else return 0 end\" 1 redis-learn:a236af6e:lock:balance:lock:user:1001 33672375e94a0b6eb48364f8739d6aa0".to_string(),
            "SET redis-learn:a236af6e:lock:tx-check:0x7a3f9c21d4e8b6a05f1c2e3d4b5a69788f0e1d2c3b4a5968778695a4b3c…(105 bytes) 837230771b5134b16e487f70bf32a8c3 NX PX 5000".to_string(),
        ];
        report.trace.counts = vec![("EVAL".to_string(), 2), ("SET".to_string(), 1)];
        report
    }

    #[test]
    fn a_narrow_screen_wraps_titles_cells_and_commands_between_words() {
        let mut p = Printer::new(Vec::new(), Styles { color: false }, Lang::Zh, 60);
        p.demo(&narrow_report()).unwrap();
        let text = output(p);
        for line in text.lines() {
            assert!(console::measure_text_width(line) <= 60, "wider than 60: {line:?}\n{text}");
        }
        insta::assert_snapshot!(text);
    }

    #[test]
    fn commands_stay_whole_when_not_wrapped() {
        let report = narrow_report();
        let mut p = Printer::new(Vec::new(), Styles { color: false }, Lang::En, 60);
        p.wrap_commands = false;
        p.demo(&report).unwrap();
        let text = output(p);
        for line in &report.trace.examples {
            assert!(text.contains(&format!("  {line}\n")), "{text}");
        }
    }

    #[test]
    fn no_line_or_cell_starts_with_closing_punctuation_or_a_cut_word() {
        let report = narrow_report();
        for width in 40..=110 {
            let mut p = Printer::new(Vec::new(), Styles { color: false }, Lang::Zh, width);
            p.demo(&report).unwrap();
            let text = output(p);
            for line in text.lines() {
                assert!(console::measure_text_width(line) <= width, "wider than {width}: {line:?}\n{text}");
                let starts = line.split(['│', '┆']).map(str::trim_start);
                assert!(!starts.clone().any(|s| s.starts_with(['）', '，', '。'])), "at {width}: {line:?}\n{text}");
            }
            for whole in ["SQLite", "reference", "increments", "redis.call('DEL',", "33672375e94a0b6eb48364f8739d6aa0"]
            {
                assert!(text.contains(whole), "{whole:?} split at {width} columns:\n{text}");
            }
        }
    }

    #[test]
    fn a_stacked_chinese_header_takes_a_full_width_colon_and_no_space() {
        let mut p = Printer::new(Vec::new(), Styles { color: false }, Lang::Zh, 60);
        let headers = ["命令".to_string(), "TYPE".to_string(), "笔记中的用途".to_string(), "样本数".to_string()];
        p.stacked(&headers, &[vec!["RPUSH".into(), "list".into(), "队列".into(), "1,000".into()]]).unwrap();
        assert_eq!(output(p), "  • RPUSH\n    TYPE: list · 笔记中的用途：队列 · 样本数：1,000\n");
    }

    #[test]
    fn no_space_follows_a_full_width_colon() {
        let mut report = DemoReport::new("demo", "演示");
        report.note(NoteKind::Info, "GET 只是一次往返");
        report.note(NoteKind::Caveat, "这个文件系统在内存里");
        let mut p = Printer::new(Vec::new(), Styles { color: false }, Lang::Zh, 80);
        p.demo(&report).unwrap();
        p.caveat("本机在运行期间很忙").unwrap();
        let text = output(p);
        assert!(text.contains("说明：GET") && text.contains("注意：这个") && text.contains("注意：本机"), "{text}");
        assert!(!text.contains("： "), "{text}");
        let mut p = printer();
        report.note(NoteKind::Simulated, "a pause");
        p.demo(&report).unwrap();
        assert!(output(p).contains("SIMULATED: a pause"));
    }

    #[test]
    fn the_timings_legend_is_said_once_under_the_first_table() {
        let us = Duration::from_micros;
        let rounds: Vec<Vec<Duration>> = (0..10).map(|i| vec![us(50 + i), us(52), us(40)]).collect();
        let m = Measurement::from_rounds("ping", "PING", Backend::Redis, Kind::Throughput, 1, 1, &rounds).unwrap();
        for (lang, legend) in [(Lang::En, "How to read these tables:"), (Lang::Zh, "怎样读这些表：")] {
            let mut p = Printer::new(Vec::new(), Styles { color: false }, lang, 80);
            p.timings(std::slice::from_ref(&m)).unwrap();
            p.timings(std::slice::from_ref(&m)).unwrap();
            let text = output(p);
            assert_eq!(text.matches(legend).count(), 1, "{text}");
        }
    }

    #[test]
    fn a_closing_backtick_stays_with_its_code() {
        for width in 20..60 {
            let lines = wrap(
                "so `lock:tx-check:{0xab}` and its counter `lock:tx-check:{0xab}:fence` land together (a `{hash}` in a key name)",
                width,
                "",
                "",
            );
            assert!(
                lines.iter().all(|l| !l.starts_with('`') || l.starts_with("`lock") || l.starts_with("`{")),
                "{width}: {lines:#?}"
            );
        }
    }

    #[test]
    fn chinese_wraps_between_characters() {
        let lines =
            wrap("缓存命中比它替代的源查询快得多，但不比进程内按键读取一行更快：缓存昂贵或远程的东西。", 30, "", "  ");
        assert!(lines.len() > 1 && lines.iter().all(|l| console::measure_text_width(l) <= 30), "{lines:#?}");
    }

    #[test]
    fn narrow_screens_keep_table_words_and_numbers_whole() {
        let us = Duration::from_micros;
        let rounds: Vec<Vec<Duration>> = (0..10).map(|i| vec![us(900 + i), us(1_000), us(11_000)]).collect();
        let mut report = DemoReport::new("demo", "A demo");
        for label in ["SQL source query (join + aggregates)", "SQLite unique-key row read (no aggregates)"] {
            report.measured(
                Measurement::from_rounds(label, label, Backend::Sqlite, Kind::Throughput, 1, 1, &rounds).unwrap(),
            );
        }
        report.finding(
            "Reads",
            &["strategy", "reads", "hits", "misses", "SQL queries", "hit ratio", "slowest reader"],
            vec![vec![
                "single-flight (SET NX PX lock)".to_string(),
                "336,041".to_string(),
                "322,880".to_string(),
                "13,161".to_string(),
                "13,161".to_string(),
                "96.08%".to_string(),
                "87.61 ms".to_string(),
            ]],
        );
        for width in [40, 60, 80, 110] {
            let mut p = Printer::new(Vec::new(), Styles { color: false }, Lang::En, width);
            p.demo(&report).unwrap();
            let text = output(p);
            for line in text.lines() {
                assert!(console::measure_text_width(line) <= width, "wider than {width}: {line:?}\n{text}");
            }
            for whole in ["aggregates)", "unique-key", "single-flight", "336,041", "96.08%", "87.61 ms", "1.00 ms"] {
                assert!(text.contains(whole), "{whole:?} split at {width} columns:\n{text}");
            }
        }
    }
}
