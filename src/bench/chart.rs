//! A compact bar chart of a sweep for the terminal: one bar per point and series, the p50 per
//! operation at its end. When the values span more than [`LOG_ABOVE`]×, bars are on a log scale
//! (and the chart says so), so a 0.3 µs bar next to a 50 µs one still shows.

use std::io::Write;

use anyhow::Result;

use super::Sweep;
use super::words;
use crate::i18n::Lang;
use crate::measure::format_duration;

/// Largest ÷ smallest value beyond which the bars use a log scale.
pub const LOG_ABOVE: f64 = 20.0;

/// The bar length (in eighths of a cell) for `v` in `[lo, hi]` over `cells` cells.
fn eighths(v: f64, lo: f64, hi: f64, cells: usize, log: bool) -> usize {
    let full = (cells * 8) as f64;
    let frac = if log {
        // Keep the smallest value visible: its bar is 1/8 of the chart.
        let span = (hi / lo).ln();
        if span <= 0.0 { 1.0 } else { 0.125 + 0.875 * (v / lo).ln() / span }
    } else if hi > 0.0 {
        v / hi
    } else {
        0.0
    };
    ((frac.clamp(0.0, 1.0) * full).round() as usize).max(1)
}

fn bar(eighths: usize) -> String {
    const PARTS: [&str; 8] = ["", "▏", "▎", "▍", "▌", "▋", "▊", "▉"];
    format!("{}{}", "█".repeat(eighths / 8), PARTS[eighths % 8])
}

pub fn bars(sweep: &Sweep, lang: Lang, width: usize, out: &mut impl Write) -> Result<()> {
    let rows: Vec<(String, String, std::time::Duration)> = sweep
        .outcome
        .points
        .iter()
        .flat_map(|p| {
            p.series.iter().map(move |s| (p.point.label(), words::series(lang, &s.series), s.p50_interval().0))
        })
        .collect();
    let values: Vec<f64> = rows.iter().map(|r| r.2.as_nanos().max(1) as f64).collect();
    let (lo, hi) = values.iter().fold((f64::MAX, 0.0_f64), |(lo, hi), v| (lo.min(*v), hi.max(*v)));
    let log = hi / lo > LOG_ABOVE;
    let point_w = rows.iter().map(|r| r.0.chars().count()).max().unwrap_or(0);
    let series_w = rows.iter().map(|r| console::measure_text_width(&r.1)).max().unwrap_or(0);
    let cells = width.saturating_sub(point_w + series_w + 16).clamp(10, 50);
    let mut last_point = String::new();
    for ((point, series, p50), v) in rows.iter().zip(&values) {
        let shown = if *point == last_point { String::new() } else { point.clone() };
        last_point.clone_from(point);
        let pad = series_w.saturating_sub(console::measure_text_width(series));
        writeln!(
            out,
            "  {shown:<point_w$}  {series}{}  {} {}",
            " ".repeat(pad),
            bar(eighths(*v, lo, hi, cells, log)),
            format_duration(*p50)
        )?;
    }
    if log {
        writeln!(out, "  {}", words::plain(lang, "out.chart-log"))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bars_scale_linearly_or_by_log() {
        assert_eq!(eighths(10.0, 10.0, 20.0, 10, false), 40);
        assert_eq!(eighths(20.0, 10.0, 20.0, 10, false), 80);
        // Log: the smallest is an eighth of the chart, the largest all of it.
        assert_eq!(eighths(1.0, 1.0, 1_000.0, 10, true), 10);
        assert_eq!(eighths(1_000.0, 1.0, 1_000.0, 10, true), 80);
        assert_eq!(bar(17), "██▏");
    }
}
