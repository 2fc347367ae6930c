//! `--plot FILE.svg` or `--plot FILE.png`: the sweep drawn with `plotters` — p50 per operation and
//! operations per second against the swept parameter, one line per series (backend), log axes when
//! the values span more than [`LOG_ABOVE`]×, title and labels in the run's language, the run's
//! context in a footer.
//!
//! The drawing is an SVG (its text left to the viewer's fonts). A PNG is that same SVG rasterised by
//! `resvg` on white, [`PNG_SCALE`]× its size, its text drawn with this machine's fonts (found by
//! `fontdb`, as a desktop program finds them). A PNG is written only when those fonts draw every
//! character of its labels; otherwise the run stops with a message naming a font package to
//! install, or `.svg` (see [`Plot::prepare`]).

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use anyhow::{Context, Result, anyhow};
use plotters::coord::Shift;
use plotters::prelude::*;
use resvg::tiny_skia;
use resvg::usvg::{self, FontResolver, fontdb};

use super::{ScenarioName, Sweep, Unit, words};
use crate::error::UserError;
use crate::i18n::Lang;

/// Largest ÷ smallest value beyond which an axis is logarithmic.
pub const LOG_ABOVE: f64 = 20.0;

/// The drawing's size in SVG pixels (width, height).
const SIZE: (u32, u32) = (1200, 600);

/// PNG pixels per SVG pixel: 2, so a PNG is 2400×1200. A slide is 1920 (full HD) to 3840 (4K)
/// pixels wide; a 1200-pixel image scaled up to fill it blurs its 13-pixel labels, while 2× stays
/// crisp and is still a small file (about 130 KB for a two-panel sweep: the chart is mostly white).
pub const PNG_SCALE: u32 = 2;

/// The font family every text of the plot asks for (the generic one, so any machine has a match).
const FAMILY: &str = "sans-serif";
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

/// What `--plot FILE` writes, chosen by the file's extension.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// `.svg`: the drawing, text left to the viewer's fonts.
    Svg,
    /// `.png`: the same drawing rasterised, [`PNG_SCALE`]× its size, on white.
    Png,
}

impl Format {
    /// The format `path` names: `.svg` or `.png` (any case).
    /// Errors: any other extension, or none ([`UserError::PlotFormat`]).
    pub fn of(path: &Path) -> Result<Format, UserError> {
        match path.extension().and_then(|e| e.to_str()).map(str::to_ascii_lowercase).as_deref() {
            Some("svg") => Ok(Format::Svg),
            Some("png") => Ok(Format::Png),
            _ => Err(UserError::PlotFormat { path: path.display().to_string() }),
        }
    }
}

/// A plot to write once the sweep has run, checked before anything is measured (an instructor
/// should not wait for a sweep to learn that the file name or the fonts are wrong).
pub struct Plot {
    path: PathBuf,
    lang: Lang,
    /// For a PNG: the fonts that draw its text ([`system_fonts`]); None for an SVG.
    fonts: Option<Arc<fontdb::Database>>,
}

impl Plot {
    /// The plot of scenario `name` in `lang`, to be written to `path`.
    /// Errors: `path` is neither `.svg` nor `.png` ([`UserError::PlotFormat`]); for a PNG, this
    /// machine has no fonts ([`UserError::NoPlotFonts`]) or none that draws every character of the
    /// scenario's title and axis labels in `lang` ([`UserError::PlotFontLacks`]): a Chinese run
    /// without a CJK font, say. The labels the sweep adds (series, ticks, footer) are checked again
    /// when the PNG is drawn.
    pub fn prepare(path: &Path, lang: Lang, name: ScenarioName) -> Result<Plot> {
        let fonts = match Format::of(path)? {
            Format::Svg => None,
            Format::Png => {
                let fonts = system_fonts();
                let texts = [
                    words::title(lang, name),
                    words::plain(lang, "plot.latency"),
                    words::plain(lang, "plot.throughput"),
                ];
                lay_out(&texts_svg(&texts), &fonts, path)?;
                Some(fonts)
            }
        };
        Ok(Plot { path: path.to_path_buf(), lang, fonts })
    }

    /// The file the plot goes to.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Draw `sweep` and write the file.
    /// Errors: the sweep has a single point; for a PNG, a label no font here draws
    /// ([`UserError::PlotFontLacks`]); the file cannot be written.
    pub fn write(&self, sweep: &Sweep) -> Result<()> {
        let svg = render(sweep, self.lang)?;
        let bytes = match &self.fonts {
            None => svg.into_bytes(),
            Some(fonts) => png(&lay_out(&svg, fonts, &self.path)?)?,
        };
        std::fs::write(&self.path, bytes).with_context(|| format!("writing {}", self.path.display()))
    }
}

/// This machine's fonts as a PNG plot uses them: the system's (fontconfig's directories and the
/// usual ones), with `sans-serif` on an installed face. fontdb takes only fontconfig's first
/// preference for `sans-serif` (Noto Sans on Debian), so when that one is missing, the plain sans
/// face with the shortest name is used (DejaVu Sans rather than DejaVu Sans Condensed or Mono).
pub fn system_fonts() -> Arc<fontdb::Database> {
    let mut fonts = fontdb::Database::new();
    fonts.load_system_fonts();
    let sans = fontdb::Query { families: &[fontdb::Family::SansSerif], ..fontdb::Query::default() };
    if fonts.query(&sans).is_none() {
        let plain_sans = |name: &str| name.contains("Sans") && !name.contains("Mono") && !name.contains("Serif");
        let pick = fonts
            .faces()
            .filter_map(|face| face.families.first().map(|(name, _)| name.clone()))
            .min_by_key(|name| (!plain_sans(name), name.len(), name.clone()));
        if let Some(name) = pick {
            fonts.set_sans_serif_family(name);
        }
    }
    Arc::new(fonts)
}

/// An SVG holding `texts`, one a line, in the plot's font family: what [`Plot::prepare`] lays out.
fn texts_svg(texts: &[String]) -> String {
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, SIZE).into_drawing_area();
        for (i, text) in texts.iter().enumerate() {
            // Drawing text into a string cannot fail: the SVG backend only formats.
            let _ = root.draw_text(text, &TextStyle::from((FAMILY, 13).into_font()), (10, 20 + 20 * i as i32));
        }
        let _ = root.present();
    }
    svg
}

/// Parse `svg` and lay its text out with `fonts`, the way [`png`] will draw it (usvg's own choice
/// of font, then of a fallback face per character), noting what that choice could not draw.
/// Errors: no font matched at all ([`UserError::NoPlotFonts`]); a character no face draws
/// ([`UserError::PlotFontLacks`], naming the characters: usvg stops at the first one in each text).
fn lay_out(svg: &str, fonts: &Arc<fontdb::Database>, path: &Path) -> Result<usvg::Tree> {
    let no_font = AtomicBool::new(false);
    let undrawn = Mutex::new(BTreeSet::new());
    let tree = {
        let (select, fallback) = (FontResolver::default_font_selector(), FontResolver::default_fallback_selector());
        let options = usvg::Options {
            fontdb: fonts.clone(),
            font_family: FAMILY.to_string(),
            font_resolver: FontResolver {
                select_font: Box::new(|font, db| {
                    let id = select(font, db);
                    no_font.fetch_or(id.is_none(), Ordering::Relaxed);
                    id
                }),
                select_fallback: Box::new(|c, used, db| {
                    let id = fallback(c, used, db);
                    if id.is_none() {
                        undrawn.lock().unwrap_or_else(|e| e.into_inner()).insert(c);
                    }
                    id
                }),
            },
            ..usvg::Options::default()
        };
        usvg::Tree::from_str(svg, &options)
    };
    let path = path.display().to_string();
    if no_font.into_inner() {
        return Err(UserError::NoPlotFonts { path }.into());
    }
    let undrawn = undrawn.into_inner().unwrap_or_else(|e| e.into_inner());
    if !undrawn.is_empty() {
        let chars = undrawn.into_iter().map(String::from).collect::<Vec<_>>().join(" ");
        return Err(UserError::PlotFontLacks { path, chars }.into());
    }
    tree.context("plot: parsing the SVG drawn for the PNG")
}

/// `tree` rasterised to PNG bytes: [`PNG_SCALE`]× its size, on white (a slide wants no
/// transparency).
fn png(tree: &usvg::Tree) -> Result<Vec<u8>> {
    let scale = PNG_SCALE as f32;
    let size = tree.size().to_int_size().scale_by(scale).context("plot: PNG size")?;
    let mut pixmap = tiny_skia::Pixmap::new(size.width(), size.height()).context("plot: PNG size")?;
    pixmap.fill(tiny_skia::Color::WHITE);
    resvg::render(tree, tiny_skia::Transform::from_scale(scale, scale), &mut pixmap.as_mut());
    pixmap.encode_png().map_err(|e| anyhow!("plot: encoding the PNG: {e}"))
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
        let main = main.titled(&title, (FAMILY, 22)).map_err(|e| anyhow!("plot: {e}"))?;
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
            .draw_text(&footer, &(FAMILY, 13).into_font().color(&RGBColor(0x55, 0x55, 0x55)), (12, 14))
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

    #[test]
    fn the_extension_picks_the_format() {
        assert_eq!(Format::of(Path::new("slides/sweep.svg")).unwrap(), Format::Svg);
        assert_eq!(Format::of(Path::new("sweep.PNG")).unwrap(), Format::Png);
        for bad in ["sweep.jpg", "sweep", "svg", "sweep.svg.gz"] {
            assert!(matches!(Format::of(Path::new(bad)), Err(UserError::PlotFormat { .. })), "{bad}");
        }
    }

    #[test]
    fn a_png_is_not_drawn_without_fonts() {
        let none = Arc::new(fontdb::Database::new());
        let err = lay_out(&texts_svg(&["p50 (µs)".to_string()]), &none, Path::new("x.png")).unwrap_err();
        assert!(matches!(err.downcast_ref::<UserError>(), Some(UserError::NoPlotFonts { .. })), "{err}");
    }
}
