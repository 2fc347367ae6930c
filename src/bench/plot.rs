//! `--plot FILE.svg` or `--plot FILE.png`: the sweep drawn with `plotters` — p50 per operation and
//! operations per second against the swept parameter, one line per series (backend), log axes when
//! the values span more than [`LOG_ABOVE`]×, title and labels in the run's language, the run's
//! context in a footer.
//!
//! One function draws both files on any plotters backend: the SVG (its text left to the viewer's
//! fonts), and the PNG, [`PNG_SCALE`]× its size on white, drawn by plotters' own bitmap backend with
//! `ab_glyph` text and encoded by `png`. The PNG's text needs a font file: this machine's font
//! directories are searched by hand (no fontconfig) for one that draws every character of the labels
//! (checked with `ttf-parser`), a "Sans" family preferred. Without one the run stops, before
//! measuring, with a message naming a font package to install, or `.svg` (see [`Plot::prepare`]).

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, OnceLock};

use anyhow::{Context, Result, anyhow};
use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::{FontStyle, register_font};

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

/// The font family the SVG's text asks for (the generic one, so any viewer has a match).
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
    /// For a PNG: the font file that draws the scenario's labels ([`Font::find`]); None for an SVG.
    font: Option<Font>,
}

impl Plot {
    /// The plot of scenario `name` in `lang`, to be written to `path`.
    /// Errors: `path` is neither `.svg` nor `.png` ([`UserError::PlotFormat`]); for a PNG, this
    /// machine has no fonts ([`UserError::NoPlotFonts`]) or none that draws every character of the
    /// scenario's title and axis labels in `lang` ([`UserError::PlotFontLacks`]): a Chinese run
    /// without a CJK font, say. The labels the sweep adds (series, ticks, footer) are checked again
    /// when the PNG is drawn.
    pub fn prepare(path: &Path, lang: Lang, name: ScenarioName) -> Result<Plot> {
        let font = match Format::of(path)? {
            Format::Svg => None,
            Format::Png => {
                let texts = [
                    format!("{} · {}", name.id(), words::title(lang, name)),
                    words::plain(lang, "plot.latency"),
                    words::plain(lang, "plot.throughput"),
                ];
                Some(Font::find(&chars_of(texts.iter().map(String::as_str)), &font_files(), path)?)
            }
        };
        Ok(Plot { path: path.to_path_buf(), lang, font })
    }

    /// The file the plot goes to.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Draw `sweep` and write the file.
    /// Errors: the sweep has a single point; for a PNG, a label no font here draws
    /// ([`UserError::PlotFontLacks`]); the file cannot be written.
    pub fn write(&self, sweep: &Sweep) -> Result<()> {
        let chart = Chart::of(sweep, self.lang)?;
        let svg = svg(&chart)?;
        let bytes = match &self.font {
            None => svg.into_bytes(),
            Some(font) => {
                // Every text the drawing holds, as the SVG spells it out.
                let chars = chars_of(svg_texts(&svg).iter().map(String::as_str));
                let font = if font.draws(&chars) { font } else { &Font::find(&chars, &font_files(), &self.path)? };
                png(&chart, font)?
            }
        };
        std::fs::write(&self.path, bytes).with_context(|| format!("writing {}", self.path.display()))
    }
}

/// The family a PNG's text is drawn in: the font file [`Font::find`] chose, registered under this
/// name (the SVG's [`FAMILY`] is registered to [`metrics_only_font`]).
const PNG_FAMILY: &str = "redis-learn-png";

/// A font file that draws text: its path and bytes (leaked: plotters keeps `&'static` font data,
/// and a run draws one plot).
#[derive(Clone)]
pub struct Font {
    path: PathBuf,
    data: &'static [u8],
}

impl Font {
    /// The font among `files` that draws every one of `chars`, in the order [`font_files`] gives,
    /// the first whose family name has "Sans" in it (else the first that draws them all).
    /// Errors: no file holds a font ([`UserError::NoPlotFonts`]); none draws every character
    /// ([`UserError::PlotFontLacks`], naming the characters no font draws, or when each is drawn
    /// by some font, those the most complete one lacks).
    pub fn find(chars: &BTreeSet<char>, files: &[PathBuf], path: &Path) -> Result<Font> {
        let path = path.display().to_string();
        let mut any_font = false;
        let mut drawn_somewhere = BTreeSet::new();
        let mut fewest_missing: Option<BTreeSet<char>> = None;
        let mut fallback: Option<(PathBuf, Vec<u8>)> = None;
        for file in files {
            let Ok(data) = std::fs::read(file) else { continue };
            let Ok(face) = ttf_parser::Face::parse(&data, 0) else { continue };
            any_font = true;
            let missing: BTreeSet<char> = chars.iter().copied().filter(|&c| face.glyph_index(c).is_none()).collect();
            drawn_somewhere.extend(chars.difference(&missing).copied());
            if missing.is_empty() {
                if family_of(&face).contains("Sans") {
                    return Ok(Font::leak(file.clone(), data));
                }
                if fallback.is_none() {
                    fallback = Some((file.clone(), data));
                }
            } else if fewest_missing.as_ref().is_none_or(|m| missing.len() < m.len()) {
                fewest_missing = Some(missing);
            }
        }
        if let Some((file, data)) = fallback {
            return Ok(Font::leak(file, data));
        }
        if !any_font {
            return Err(UserError::NoPlotFonts { path }.into());
        }
        let undrawn: BTreeSet<char> = chars.difference(&drawn_somewhere).copied().collect();
        let lacking = if undrawn.is_empty() { fewest_missing.unwrap_or_default() } else { undrawn };
        let chars = lacking.into_iter().map(String::from).collect::<Vec<_>>().join(" ");
        Err(UserError::PlotFontLacks { path, chars }.into())
    }

    /// `data` kept for the rest of the process: once per font file.
    fn leak(path: PathBuf, data: Vec<u8>) -> Font {
        static LEAKED: Mutex<Vec<Font>> = Mutex::new(Vec::new());
        let mut leaked = LEAKED.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(font) = leaked.iter().find(|f| f.path == path) {
            return font.clone();
        }
        let font = Font { path, data: Box::leak(data.into_boxed_slice()) };
        leaked.push(font.clone());
        font
    }

    /// Whether this font draws every one of `chars`.
    fn draws(&self, chars: &BTreeSet<char>) -> bool {
        ttf_parser::Face::parse(self.data, 0).is_ok_and(|face| chars.iter().all(|&c| face.glyph_index(c).is_some()))
    }

    /// The font file.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

/// A face's family name (the typographic one when it has one), or "".
fn family_of(face: &ttf_parser::Face) -> String {
    let named = |id: u16| face.names().into_iter().filter(|n| n.name_id == id).find_map(|n| n.to_string());
    named(ttf_parser::name_id::TYPOGRAPHIC_FAMILY).or_else(|| named(ttf_parser::name_id::FAMILY)).unwrap_or_default()
}

/// The characters of `texts` a font must draw (white space aside).
fn chars_of<'a>(texts: impl Iterator<Item = &'a str>) -> BTreeSet<char> {
    texts.flat_map(str::chars).filter(|c| !c.is_whitespace()).collect()
}

/// The text of every `<text>` element of `svg` (plotters' SVG backend escapes five characters).
fn svg_texts(svg: &str) -> Vec<String> {
    let mut texts = Vec::new();
    let mut rest = svg;
    while let Some(at) = rest.find("<text") {
        rest = &rest[at..];
        let (Some(open), Some(close)) = (rest.find('>'), rest.find("</text>")) else { break };
        if open < close {
            let text = rest[open + 1..close]
                .replace("&lt;", "<")
                .replace("&gt;", ">")
                .replace("&quot;", "\"")
                .replace("&apos;", "'")
                .replace("&amp;", "&");
            texts.push(text);
        }
        rest = &rest[close + "</text>".len()..];
    }
    texts
}

/// The font files of this machine, in the order [`Font::find`] tries them: the user's and the
/// system's font directories (Linux, macOS, Windows), searched without fontconfig, `.ttf`, `.otf`,
/// `.ttc` and `.otc` files; a plain "Sans" file first (no Bold, Italic, Mono, Serif... in its name),
/// then other plain ones, then the rest; the shorter name first (DejaVuSans before
/// DejaVuSansCondensed), then by path: the same choice on every run.
pub fn font_files() -> Vec<PathBuf> {
    let mut dirs: Vec<PathBuf> = Vec::new();
    dirs.extend(dirs::font_dir());
    if let Some(home) = dirs::home_dir() {
        dirs.extend([".local/share/fonts", ".fonts", "Library/Fonts"].map(|d| home.join(d)));
    }
    if let Some(data_dirs) = std::env::var_os("XDG_DATA_DIRS") {
        dirs.extend(std::env::split_paths(&data_dirs).map(|d| d.join("fonts")));
    }
    dirs.extend(
        ["/usr/share/fonts", "/usr/local/share/fonts", "/System/Library/Fonts", "/Library/Fonts"].map(PathBuf::from),
    );
    if let Some(windir) = std::env::var_os("WINDIR") {
        dirs.push(PathBuf::from(windir).join("Fonts"));
    }
    let mut files = BTreeSet::new();
    for dir in dirs {
        walk(&dir, 8, &mut files);
    }
    let mut files: Vec<PathBuf> = files.into_iter().collect();
    files.sort_by_cached_key(|f| {
        let stem = f.file_stem().and_then(|s| s.to_str()).unwrap_or_default().to_ascii_lowercase();
        const STYLED: [&str; 16] = [
            "bold",
            "italic",
            "oblique",
            "light",
            "thin",
            "black",
            "medium",
            "heavy",
            "condensed",
            "narrow",
            "mono",
            "serif",
            "math",
            "emoji",
            "symbol",
            "semibold",
        ];
        let styled = STYLED.iter().any(|s| stem.contains(s));
        let rank = if styled {
            2
        } else if stem.contains("sans") {
            0
        } else {
            1
        };
        (rank, stem.len(), f.clone())
    });
    files
}

/// The font files under `dir` (symbolic links followed, `depth` levels deep at most), into `files`
/// (canonical paths, so a file reached twice counts once).
fn walk(dir: &Path, depth: u32, files: &mut BTreeSet<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else { return };
    for entry in entries.flatten() {
        let path = entry.path();
        let Ok(meta) = std::fs::metadata(&path) else { continue };
        if meta.is_dir() {
            if depth > 0 {
                walk(&path, depth - 1, files);
            }
        } else if path
            .extension()
            .and_then(|e| e.to_str())
            .is_some_and(|e| ["ttf", "otf", "ttc", "otc"].contains(&e.to_ascii_lowercase().as_str()))
        {
            files.insert(std::fs::canonicalize(&path).unwrap_or(path));
        }
    }
}

/// A font with metrics and no outlines: a character 0.455 em wide (plotters' own estimate when it
/// has no font support), a wide one (CJK, Hangul, full-width forms) 0.806 em, a viewer's em. What
/// the SVG's text is laid out with (plotters with `ab_glyph` lays out all text, whatever the
/// backend, with a registered font), so an SVG needs no font file and comes out the same on every
/// machine. Six tables: `cmap` (format 13, the wide ranges on glyph 1), `head` (1000 units per em),
/// `hhea` (ascent 800, descent 200), `hmtx`, `maxp` (two glyphs).
fn metrics_only_font() -> Vec<u8> {
    const WIDE: [(u32, u32); 8] = [
        (0x1100, 0x115F),
        (0x2E80, 0xA4CF),
        (0xAC00, 0xD7A3),
        (0xF900, 0xFAFF),
        (0xFE30, 0xFE4F),
        (0xFF00, 0xFF60),
        (0xFFE0, 0xFFE6),
        (0x2_0000, 0x3_FFFD),
    ];
    let be32 = |v: u32| v.to_be_bytes();
    let mut cmap = Vec::new();
    cmap.extend([0, 0, 0, 1]); // version, one encoding record:
    cmap.extend([0, 3, 0, 10]); // Windows, full Unicode
    cmap.extend(be32(12)); // its subtable's offset
    cmap.extend([0, 13, 0, 0]); // format 13 (many-to-one ranges)
    cmap.extend(be32(16 + 12 * WIDE.len() as u32)); // length
    cmap.extend(be32(0)); // language
    cmap.extend(be32(WIDE.len() as u32));
    for (first, last) in WIDE {
        cmap.extend(be32(first).into_iter().chain(be32(last)).chain(be32(1)));
    }
    let mut head = vec![0u8; 54];
    head[0..4].copy_from_slice(&be32(0x0001_0000)); // version
    head[12..16].copy_from_slice(&be32(0x5F0F_3CF5)); // magic number
    head[18..20].copy_from_slice(&1000_u16.to_be_bytes()); // units per em
    let mut hhea = vec![0u8; 36];
    hhea[0..4].copy_from_slice(&be32(0x0001_0000));
    hhea[4..6].copy_from_slice(&800_i16.to_be_bytes()); // ascender
    hhea[6..8].copy_from_slice(&(-200_i16).to_be_bytes()); // descender
    hhea[10..12].copy_from_slice(&806_u16.to_be_bytes()); // largest advance
    hhea[34..36].copy_from_slice(&2_u16.to_be_bytes()); // advances in hmtx
    let hmtx: Vec<u8> = [455_u16, 0, 806, 0].iter().flat_map(|v| v.to_be_bytes()).collect();
    let maxp = [be32(0x0000_5000).as_slice(), &2_u16.to_be_bytes()].concat(); // two glyphs
    // The table directory, tags in order (a face looks tables up by binary search).
    let tables: [(&[u8; 4], &[u8]); 5] =
        [(b"cmap", &cmap), (b"head", &head), (b"hhea", &hhea), (b"hmtx", &hmtx), (b"maxp", &maxp)];
    let mut font = Vec::new();
    font.extend(be32(0x0001_0000));
    font.extend((tables.len() as u16).to_be_bytes());
    font.extend([0, 64, 0, 2, 0, 16]); // search range, entry selector, range shift: unused by readers here
    let mut offset = 12 + 16 * tables.len();
    for (tag, table) in tables {
        font.extend(tag);
        font.extend(be32(0)); // checksum: not checked
        font.extend(be32(offset as u32));
        font.extend(be32(table.len() as u32));
        offset += table.len().next_multiple_of(4);
    }
    for (_, table) in tables {
        font.extend(table);
        font.resize(font.len().next_multiple_of(4), 0);
    }
    font
}

/// Register [`metrics_only_font`] for the SVG's [`FAMILY`], once per process.
fn register_svg_metrics() -> Result<()> {
    static DONE: OnceLock<bool> = OnceLock::new();
    let ok = *DONE.get_or_init(|| {
        let data: &'static [u8] = Box::leak(metrics_only_font().into_boxed_slice());
        register_font(FAMILY, FontStyle::Normal, data).is_ok()
    });
    if ok { Ok(()) } else { Err(anyhow!("plot: the SVG's text metrics")) }
}

/// Serialises drawing: the font a family names is process-wide in plotters.
static DRAWING: Mutex<()> = Mutex::new(());

/// The SVG text of `chart`.
fn svg(chart: &Chart) -> Result<String> {
    let _one = DRAWING.lock().unwrap_or_else(|e| e.into_inner());
    register_svg_metrics()?;
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, SIZE).into_drawing_area();
        draw(&root, chart, 1, FAMILY)?;
    }
    Ok(svg)
}

/// `chart` drawn as PNG bytes with `font`: [`PNG_SCALE`]× the SVG's size, on white (a slide wants
/// no transparency; every pixel opaque RGBA).
fn png(chart: &Chart, font: &Font) -> Result<Vec<u8>> {
    let (width, height) = (SIZE.0 * PNG_SCALE, SIZE.1 * PNG_SCALE);
    let mut rgb = vec![0xff_u8; 3 * width as usize * height as usize];
    {
        let _one = DRAWING.lock().unwrap_or_else(|e| e.into_inner());
        register_svg_metrics()?;
        register_font(PNG_FAMILY, FontStyle::Normal, font.data)
            .map_err(|_| anyhow!("plot: {} is not a font plotters can draw with", font.path.display()))?;
        let root = BitMapBackend::with_buffer(&mut rgb, (width, height)).into_drawing_area();
        draw(&root, chart, PNG_SCALE, PNG_FAMILY)?;
    }
    let rgba: Vec<u8> = rgb.chunks_exact(3).flat_map(|p| [p[0], p[1], p[2], 0xff]).collect();
    let mut bytes = Vec::new();
    {
        let mut encoder = png::Encoder::new(&mut bytes, width, height);
        encoder.set_color(png::ColorType::Rgba);
        encoder.set_depth(png::BitDepth::Eight);
        let mut writer = encoder.write_header().context("plot: encoding the PNG")?;
        writer.write_image_data(&rgba).context("plot: encoding the PNG")?;
        writer.finish().context("plot: encoding the PNG")?;
    }
    Ok(bytes)
}

/// What a plot shows, ready to draw on any backend.
struct Chart {
    title: String,
    footer: String,
    lines: Vec<Line>,
    /// Every line's x values.
    xs: Vec<f64>,
    x_axis: Axis,
    x_label: String,
    /// The swept values, in order, when they are names (x is then their index).
    categories: Option<Vec<String>>,
    latency: String,
    throughput: String,
}

impl Chart {
    /// `sweep`'s plot in `lang`.
    /// Errors: the sweep has a single point.
    fn of(sweep: &Sweep, lang: Lang) -> Result<Chart> {
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
        let xs = lines.iter().flat_map(|l| l.points.iter().map(|p| p.0)).collect::<Vec<_>>();
        let x_axis = if spec.unit == Unit::Name { Axis { log: false } } else { Axis::of(xs.iter().copied()) };
        Ok(Chart {
            title: format!("{} · {}", sweep.scenario.id(), words::title(lang, sweep.scenario)),
            footer: sweep.context.line(lang, sweep.started_unix),
            lines,
            xs,
            x_axis,
            x_label: spec.key.to_string(),
            categories: (spec.unit == Unit::Name).then_some(categories),
            latency: words::plain(lang, "plot.latency"),
            throughput: words::plain(lang, "plot.throughput"),
        })
    }

    /// The label of x value `v`.
    fn x_text(&self, v: f64) -> String {
        match &self.categories {
            Some(categories) => {
                let i = v.round();
                if (v - i).abs() < 0.01 && i >= 0.0 {
                    categories.get(i as usize).cloned().unwrap_or_default()
                } else {
                    String::new()
                }
            }
            None => short(self.x_axis.from(v)),
        }
    }
}

/// The SVG text of the plot.
pub fn render(sweep: &Sweep, lang: Lang) -> Result<String> {
    svg(&Chart::of(sweep, lang)?)
}

/// Pixel sizes, `k`× the SVG's: the same drawing at any scale.
#[derive(Clone, Copy)]
struct Px {
    k: u32,
    family: &'static str,
}

impl Px {
    fn n(self, v: u32) -> u32 {
        v * self.k
    }

    fn i(self, v: i32) -> i32 {
        v * self.k as i32
    }

    fn font(self, size: u32) -> FontDesc<'static> {
        (self.family, f64::from(self.n(size))).into_font()
    }
}

/// `chart` drawn on `root` (the SVG's [`SIZE`] times `k`), its text in `family`.
fn draw<DB: DrawingBackend>(root: &DrawingArea<DB, Shift>, chart: &Chart, k: u32, family: &'static str) -> Result<()> {
    let px = Px { k, family };
    let fail = |e: DrawingAreaErrorKind<DB::ErrorType>| anyhow!("plot: {e}");
    root.fill(&WHITE).map_err(fail)?;
    let (main, bottom) = root.split_vertically(px.n(SIZE.1 - 40));
    // Room above the title: plotters' ab_glyph text puts a top-anchored line's tall letters a few
    // pixels above its anchor, and the title's anchor is 5 pixels from the top.
    let (_, main) = main.split_vertically(px.n(8));
    let main = main.titled(&chart.title, px.font(22)).map_err(fail)?;
    let (left, right) = main.split_horizontally(px.n(SIZE.0 / 2));
    let lat: Vec<Vec<(f64, f64)>> = chart.lines.iter().map(|l| l.points.iter().map(|p| (p.0, p.1)).collect()).collect();
    panel(&left, px, chart, &lat, &chart.latency)?;
    let tput: Vec<Vec<(f64, f64)>> =
        chart.lines.iter().map(|l| l.points.iter().filter_map(|p| p.2.map(|t| (p.0, t))).collect()).collect();
    if tput.iter().any(|l| !l.is_empty()) {
        panel(&right, px, chart, &tput, &chart.throughput)?;
    }
    bottom
        .draw_text(&chart.footer, &px.font(13).color(&RGBColor(0x55, 0x55, 0x55)), (px.i(12), px.i(14)))
        .map_err(fail)?;
    root.present().map_err(fail)?;
    Ok(())
}

/// One panel: `data` (one list of points a line of `chart`) against x, its y axis `y_label`.
fn panel<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    px: Px,
    chart: &Chart,
    data: &[Vec<(f64, f64)>],
    y_label: &str,
) -> Result<()> {
    let fail = |e: DrawingAreaErrorKind<DB::ErrorType>| anyhow!("plot: {e}");
    let x_axis = chart.x_axis;
    let ys: Vec<f64> = data.iter().flatten().map(|p| p.1).collect();
    let y_axis = Axis::of(ys.iter().copied());
    let y_range = y_axis.range(ys.iter().copied(), true);
    let x_range = x_axis.range(chart.xs.iter().copied(), false);
    let mut plot = ChartBuilder::on(area)
        .margin(px.n(16))
        .x_label_area_size(px.n(40))
        .y_label_area_size(px.n(64))
        .build_cartesian_2d(x_range, y_range)
        .map_err(fail)?;
    let y_fmt = |v: &f64| short(y_axis.from(*v));
    let x_fmt = |v: &f64| chart.x_text(*v);
    let x_label = &chart.x_label;
    plot.configure_mesh()
        .x_desc(if x_axis.log { format!("{x_label} (log)") } else { x_label.to_string() })
        .y_desc(if y_axis.log { format!("{y_label} (log)") } else { y_label.to_string() })
        .x_label_formatter(&x_fmt)
        .y_label_formatter(&y_fmt)
        .x_labels(8)
        .y_labels(8)
        // plotters' defaults, scaled.
        .label_style(px.font(12))
        .axis_desc_style(px.font(12))
        .set_all_tick_mark_size(px.i(5))
        .axis_style(BLACK.stroke_width(px.n(1)))
        .bold_line_style(BLACK.mix(0.2).stroke_width(px.n(1)))
        .light_line_style(BLACK.mix(0.1).stroke_width(px.n(1)))
        .draw()
        .map_err(fail)?;
    for (i, (line, points)) in chart.lines.iter().zip(data).enumerate() {
        if points.is_empty() {
            continue;
        }
        let color = COLORS[i % COLORS.len()];
        let mapped: Vec<(f64, f64)> = points.iter().map(|(x, y)| (x_axis.to(*x), y_axis.to(*y))).collect();
        let (width, legend) = (px.n(2), px.i(18));
        plot.draw_series(LineSeries::new(mapped.clone(), color.stroke_width(width)))
            .map_err(fail)?
            .label(line.name.clone())
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + legend, y)], color.stroke_width(width)));
        plot.draw_series(mapped.into_iter().map(|p| Circle::new(p, px.n(3), color.filled()))).map_err(fail)?;
    }
    plot.configure_series_labels()
        .label_font(px.font(12))
        .legend_area_size(px.n(30))
        .margin(px.n(10))
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK.mix(0.3).stroke_width(px.n(1)))
        .position(SeriesLabelPosition::UpperRight)
        .draw()
        .map_err(fail)?;
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
        let chars = chars_of(["p50 (µs)"].into_iter());
        let err = Font::find(&chars, &[], Path::new("x.png")).err().unwrap();
        assert!(matches!(err.downcast_ref::<UserError>(), Some(UserError::NoPlotFonts { .. })), "{err}");
        // A file that is no font counts as none.
        let err = Font::find(&chars, &[PathBuf::from("Cargo.toml")], Path::new("x.png")).err().unwrap();
        assert!(matches!(err.downcast_ref::<UserError>(), Some(UserError::NoPlotFonts { .. })), "{err}");
    }

    struct Nothing;

    impl ttf_parser::OutlineBuilder for Nothing {
        fn move_to(&mut self, _: f32, _: f32) {}
        fn line_to(&mut self, _: f32, _: f32) {}
        fn quad_to(&mut self, _: f32, _: f32, _: f32, _: f32) {}
        fn curve_to(&mut self, _: f32, _: f32, _: f32, _: f32, _: f32, _: f32) {}
        fn close(&mut self) {}
    }

    #[test]
    fn the_svg_text_metrics_font_parses_and_has_no_outlines() {
        let data = metrics_only_font();
        let face = ttf_parser::Face::parse(&data, 0).unwrap();
        assert_eq!(face.units_per_em(), 1000);
        assert_eq!((face.ascender(), face.descender()), (800, -200));
        let advance = |c| face.glyph_hor_advance(face.glyph_index(c).unwrap_or_default());
        assert_eq!((advance('a'), advance('µ')), (Some(455), Some(455)));
        assert_eq!((advance('中'), advance('，'), advance('한')), (Some(806), Some(806), Some(806)));
        assert!(face.outline_glyph(ttf_parser::GlyphId(1), &mut Nothing).is_none());
    }

    #[test]
    fn the_texts_of_an_svg_are_read_back_unescaped() {
        let svg = r#"<svg><text x="1" font-size="9">a &lt;b&gt; &amp; “中”</text><line/><text>x</text></svg>"#;
        assert_eq!(svg_texts(svg), ["a <b> & “中”", "x"]);
    }
}
