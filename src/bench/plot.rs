//! `--plot FILE.svg`: the sweep drawn with `plotters` — p50 per operation and operations per second
//! against the swept parameter, one line per series (backend), log axes when the values span more
//! than [`LOG_ABOVE`]×, title and labels in the run's language, the run's context in a footer.
//!
//! SVG only: its text is drawn by the viewer's fonts, so no font stack is compiled in; a PNG would
//! need one (and an image encoder) for its labels. Convert the SVG (a browser, `rsvg-convert`).

use std::path::Path;

use anyhow::{Context, Result, anyhow};
use plotters::coord::Shift;
use plotters::prelude::*;

use super::{Sweep, Unit, words};
use crate::error::UserError;
use crate::i18n::Lang;

/// Largest ÷ smallest value beyond which an axis is logarithmic.
pub const LOG_ABOVE: f64 = 20.0;

const SIZE: (u32, u32) = (1200, 600);
const COLORS: [RGBColor; 8] = [
    RGBColor(0xd6, 0x27, 0x28),
    RGBColor(0x1f, 0x77, 0xb4),
    RGBColor(0x2c, 0xa0, 0x2c),
    RGBColor(0xff, 0x7f, 0x0e),
    RGBColor(0x94, 0x67, 0xbd),
    RGBColor(0x8c, 0x56, 0x4b),
    RGBColor(0xe3, 0x77, 0xc2),
    RGBColor(0x7f, 0x7f, 0x7f),
];

/// One line of the plot: a series (and the other parameters' values, in a multi-parameter sweep).
struct Line {
    name: String,
    /// (x, p50 per operation in µs, operations per second)
    points: Vec<(f64, f64, Option<f64>)>,
}

/// How an axis maps values: plotted as given, or as log10.
#[derive(Clone, Copy)]
struct Axis {
    log: bool,
}

impl Axis {
    fn of(values: impl Iterator<Item = f64> + Clone) -> Axis {
        let lo = values.clone().fold(f64::MAX, f64::min);
        let hi = values.fold(0.0_f64, f64::max);
        Axis { log: lo > 0.0 && hi / lo > LOG_ABOVE }
    }

    fn to(self, v: f64) -> f64 {
        if self.log { v.max(1e-9).log10() } else { v }
    }

    fn from(self, v: f64) -> f64 {
        if self.log { 10_f64.powf(v) } else { v }
    }

    /// The plotted range of `values`, with a margin (a larger one at the top, for the legend, when
    /// `legend_room`).
    fn range(self, values: impl Iterator<Item = f64> + Clone, legend_room: bool) -> std::ops::Range<f64> {
        let lo = values.clone().map(|v| self.to(v)).fold(f64::MAX, f64::min);
        let hi = values.map(|v| self.to(v)).fold(f64::MIN, f64::max);
        let pad = if hi > lo { (hi - lo) * 0.08 } else { lo.abs().max(1.0) * 0.1 };
        let low = if self.log { lo - pad } else { (lo - pad).max(0.0) };
        low..hi + if legend_room { 3.0 * pad } else { pad }
    }
}

/// `48`, `1.5k`, `2.25M`: axis labels, three significant figures at most.
fn short(v: f64) -> String {
    let trim = |s: String| if s.contains('.') { s.trim_end_matches('0').trim_end_matches('.').to_string() } else { s };
    let a = v.abs();
    let three = |x: f64| {
        if x.abs() >= 100.0 {
            format!("{x:.0}")
        } else if x.abs() >= 10.0 {
            trim(format!("{x:.1}"))
        } else {
            trim(format!("{x:.2}"))
        }
    };
    if a >= 1e6 {
        format!("{}M", three(v / 1e6))
    } else if a >= 1e3 {
        format!("{}k", three(v / 1e3))
    } else if a >= 10.0 {
        format!("{v:.0}")
    } else {
        trim(format!("{v:.2}"))
    }
}

/// Write the plot of `sweep` to `path` (`.svg`).
pub fn write(sweep: &Sweep, lang: Lang, path: &Path) -> Result<()> {
    let ext = path.extension().and_then(|e| e.to_str()).unwrap_or("").to_ascii_lowercase();
    if ext != "svg" {
        return Err(UserError::BadBench {
            reason: format!(
                "--plot writes SVG ({} is not .svg): name the file plot.svg, and convert it for a slide if needed (e.g. rsvg-convert -o plot.png plot.svg)",
                path.display()
            ),
        }
        .into());
    }
    let svg = render(sweep, lang)?;
    std::fs::write(path, svg).with_context(|| format!("writing {}", path.display()))
}

/// The SVG text of the plot.
pub fn render(sweep: &Sweep, lang: Lang) -> Result<String> {
    let Some(spec) = sweep.swept_param() else {
        return Err(UserError::BadBench {
            reason: format!(
                "{} measured one point: a plot needs a parameter with two or more values (--param)",
                sweep.scenario.id()
            ),
        }
        .into());
    };
    let categories: Vec<String> = {
        let mut v: Vec<String> = Vec::new();
        for p in &sweep.outcome.points {
            let value = p.point.get(spec.key).to_string();
            if !v.contains(&value) {
                v.push(value);
            }
        }
        v
    };
    let x_of = |value: &str| -> f64 {
        match spec.unit {
            Unit::Name => categories.iter().position(|c| c == value).unwrap_or(0) as f64,
            _ => value.parse().unwrap_or(0.0),
        }
    };
    let mut lines: Vec<Line> = Vec::new();
    for p in &sweep.outcome.points {
        let others: Vec<String> =
            p.point.0.iter().filter(|(k, _)| k != spec.key).map(|(k, v)| format!("{k}={v}")).collect();
        for s in &p.series {
            let mut name = words::series(lang, &s.series);
            if !others.is_empty() {
                name = format!("{name} ({})", others.join(" "));
            }
            let y = s.p50_interval().0.as_nanos() as f64 / 1_000.0;
            let entry = (x_of(p.point.get(spec.key)), y, s.ops_per_sec());
            match lines.iter_mut().find(|l| l.name == name) {
                Some(line) => line.points.push(entry),
                None => lines.push(Line { name, points: vec![entry] }),
            }
        }
    }
    let title = format!("{} · {}", sweep.scenario.id(), words::title(lang, sweep.scenario));
    let footer = super::report::context_line(sweep, lang);
    let xs = lines.iter().flat_map(|l| l.points.iter().map(|p| p.0)).collect::<Vec<_>>();
    let x_axis = if spec.unit == Unit::Name { Axis { log: false } } else { Axis::of(xs.iter().copied()) };
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, SIZE).into_drawing_area();
        root.fill(&WHITE).map_err(|e| anyhow!("plot: {e}"))?;
        let (main, bottom) = root.split_vertically(SIZE.1 - 40);
        let main = main.titled(&title, ("sans-serif", 22)).map_err(|e| anyhow!("plot: {e}"))?;
        let (left, right) = main.split_horizontally(SIZE.0 / 2);
        let x_label = spec.key.to_string();
        let cat = |v: f64| -> String {
            if spec.unit == Unit::Name {
                let i = v.round();
                if (v - i).abs() < 0.01 && i >= 0.0 {
                    categories.get(i as usize).cloned().unwrap_or_default()
                } else {
                    String::new()
                }
            } else {
                short(x_axis.from(v))
            }
        };
        let lat: Vec<Vec<(f64, f64)>> = lines.iter().map(|l| l.points.iter().map(|p| (p.0, p.1)).collect()).collect();
        panel(&left, &lines, &lat, x_axis, &xs, &x_label, &words::plain(lang, "plot.latency"), &cat)?;
        let tput: Vec<Vec<(f64, f64)>> =
            lines.iter().map(|l| l.points.iter().filter_map(|p| p.2.map(|t| (p.0, t))).collect()).collect();
        if tput.iter().any(|l| !l.is_empty()) {
            panel(&right, &lines, &tput, x_axis, &xs, &x_label, &words::plain(lang, "plot.throughput"), &cat)?;
        }
        bottom
            .draw_text(&footer, &("sans-serif", 13).into_font().color(&RGBColor(0x55, 0x55, 0x55)), (12, 14))
            .map_err(|e| anyhow!("plot: {e}"))?;
        root.present().map_err(|e| anyhow!("plot: {e}"))?;
    }
    Ok(svg)
}

#[allow(clippy::too_many_arguments)]
fn panel(
    area: &DrawingArea<SVGBackend, Shift>,
    lines: &[Line],
    data: &[Vec<(f64, f64)>],
    x_axis: Axis,
    xs: &[f64],
    x_label: &str,
    y_label: &str,
    x_format: &dyn Fn(f64) -> String,
) -> Result<()> {
    let ys: Vec<f64> = data.iter().flatten().map(|p| p.1).collect();
    let y_axis = Axis::of(ys.iter().copied());
    let y_range = y_axis.range(ys.iter().copied(), true);
    let x_range = x_axis.range(xs.iter().copied(), false);
    let mut chart = ChartBuilder::on(area)
        .margin(16)
        .x_label_area_size(40)
        .y_label_area_size(64)
        .build_cartesian_2d(x_range, y_range)
        .map_err(|e| anyhow!("plot: {e}"))?;
    let y_fmt = |v: &f64| short(y_axis.from(*v));
    let x_fmt = |v: &f64| x_format(*v);
    chart
        .configure_mesh()
        .x_desc(if x_axis.log { format!("{x_label} (log)") } else { x_label.to_string() })
        .y_desc(if y_axis.log { format!("{y_label} (log)") } else { y_label.to_string() })
        .x_label_formatter(&x_fmt)
        .y_label_formatter(&y_fmt)
        .x_labels(8)
        .y_labels(8)
        .draw()
        .map_err(|e| anyhow!("plot: {e}"))?;
    for (i, (line, points)) in lines.iter().zip(data).enumerate() {
        if points.is_empty() {
            continue;
        }
        let color = COLORS[i % COLORS.len()];
        let mapped: Vec<(f64, f64)> = points.iter().map(|(x, y)| (x_axis.to(*x), y_axis.to(*y))).collect();
        chart
            .draw_series(LineSeries::new(mapped.clone(), color.stroke_width(2)))
            .map_err(|e| anyhow!("plot: {e}"))?
            .label(line.name.clone())
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 18, y)], color.stroke_width(2)));
        chart
            .draw_series(mapped.into_iter().map(|p| Circle::new(p, 3, color.filled())))
            .map_err(|e| anyhow!("plot: {e}"))?;
    }
    chart
        .configure_series_labels()
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK.mix(0.3))
        .position(SeriesLabelPosition::UpperRight)
        .draw()
        .map_err(|e| anyhow!("plot: {e}"))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn axes_go_log_when_the_range_is_wide() {
        assert!(Axis::of([1.0, 256.0].into_iter()).log);
        assert!(!Axis::of([1.0, 16.0].into_iter()).log);
        let a = Axis { log: true };
        assert!((a.from(a.to(64.0)) - 64.0).abs() < 1e-9);
        assert_eq!(short(1_500.0), "1.5k");
        assert_eq!(short(2_250_000.0), "2.25M");
        assert_eq!(short(0.5), "0.5");
        assert_eq!(short(316_227.0), "316k");
        assert_eq!(short(48.2), "48");
    }
}
