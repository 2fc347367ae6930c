//! `redis-learn bench`: run lessons' demos back to back against one Redis and export every
//! measurement and claim — as terminal tables, Markdown for slides, CSV, or JSON; or, with
//! `--scenario`, an instructor's sweep (see `scenario.rs`); or `--calibrate` (see `calibrate.rs`).

mod calibrate;
mod scenario;

use std::io::Write;
use std::time::{SystemTime, UNIX_EPOCH};

use anyhow::{Context, Result};

use crate::Outcome;
use crate::cli::{BenchArgs, ExportFormat};
use crate::demo;
use crate::interrupt::Interrupt;
use crate::lesson::{Catalogue, Lesson};
use crate::render::export::{self, BenchLesson, BenchRun};
use crate::render::{Styles, json, text::Printer};
use crate::server;
use crate::settings::Settings;
use crate::text::Text;

pub fn run(
    settings: &Settings,
    args: &BenchArgs,
    catalogue: &Catalogue,
    interrupt: &Interrupt,
    out: &mut impl Write,
) -> Result<Outcome> {
    if args.calibrate {
        return calibrate::run(settings, args, interrupt, out);
    }
    if let Some(name) = args.scenario {
        return scenario::run(settings, args, name, interrupt, out);
    }
    let lessons: Vec<&Lesson> = if args.lessons.is_empty() {
        catalogue.lessons().iter().collect()
    } else {
        args.lessons.iter().map(|q| catalogue.find(q)).collect::<Result<_, _>>()?
    };
    let redis = server::connect(&settings.redis, settings.allow_remote)?;
    let started_unix = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
    let progress = Progress::new(settings, lessons.len());
    let mut results = Vec::new();
    for lesson in &lessons {
        progress.lesson(lesson, settings);
        let namespace = redis.new_namespace();
        let run = demo::run_demos(settings, lesson, &redis, &namespace, interrupt, |_| Ok(demo::Flow::Go))?;
        progress.done();
        let noisy = run.noisy();
        results.push(BenchLesson {
            number: lesson.number,
            slug: lesson.slug.clone(),
            title: lesson.text(settings.lang).title.clone(),
            keys_left: run.cleanup.left,
            demos: run.reports,
            floor: run.floor,
            noisy,
            warnings: run.warnings,
        });
    }
    progress.finish();
    let totals = demo::ClaimTotals::of(results.iter().flat_map(|l| &l.demos));
    let all_ran = results.iter().all(|l| l.keys_left == 0 && l.demos.iter().all(|d| d.error.is_none()));
    let bench = BenchRun {
        schema_version: crate::bench::SCHEMA_VERSION,
        started_unix,
        started: crate::bench::report::format_when(started_unix),
        context: crate::bench::RunContext::of(settings, &redis),
        lessons: results,
        claims_total: totals.total,
        claims_held: totals.held,
        claims_inconclusive: totals.inconclusive,
    };
    drop(redis);

    let mut rendered = Vec::new();
    match export_format(settings, args) {
        ExportFormat::Json => json::print(&mut rendered, &bench)?,
        ExportFormat::Markdown => export::markdown(&bench, &mut rendered)?,
        ExportFormat::Csv => export::csv(&bench, &mut rendered)?,
        ExportFormat::Text => print_text(settings, &bench, &mut rendered)?,
    }
    deliver(settings, args, &rendered, out)?;
    Ok(if all_ran && totals.failed == 0 { Outcome::Success } else { Outcome::Failed })
}

/// `--json` wins over `--format`.
fn export_format(settings: &Settings, args: &BenchArgs) -> ExportFormat {
    if settings.json { ExportFormat::Json } else { args.format }
}

/// The export to `-o FILE` (saying so) or to stdout.
fn deliver(settings: &Settings, args: &BenchArgs, rendered: &[u8], out: &mut impl Write) -> Result<()> {
    match &args.output {
        Some(path) => {
            std::fs::write(path, rendered).with_context(|| format!("writing {}", path.display()))?;
            if !settings.json {
                let facts = vec![("path".to_string(), crate::text::Fact::Text(path.display().to_string()))];
                writeln!(out, "{}", crate::bench::words::text(settings.lang, "out.wrote", &facts))?;
            }
        }
        None => out.write_all(rendered)?,
    }
    Ok(())
}

fn print_text(settings: &Settings, bench: &BenchRun, out: &mut impl Write) -> Result<()> {
    let lang = settings.lang;
    let mut p = Printer::new(out, Styles::new(settings.color), lang, settings.width);
    for lesson in &bench.lessons {
        let heading = lang.say(Text::msg("lesson.heading").fact("number", lesson.number).fact("title", &lesson.title));
        p.rule(&heading)?;
        for demo in &lesson.demos {
            p.subrule(demo.title.as_str())?;
            let mut shown = demo.clone();
            shown.findings.clear();
            shown.notes.clear();
            shown.trace = Default::default();
            p.demo(&shown)?;
        }
        for warning in &lesson.warnings {
            p.caveat(&warning.text(lang))?;
        }
        p.blank()?;
    }
    let summary = lang.say(
        Text::msg("bench.lessons-summary")
            .fact("held", bench.claims_held)
            .fact("total", bench.claims_total)
            .fact("inconclusive", bench.claims_inconclusive),
    );
    p.line(&summary)?;
    Ok(())
}

/// A progress bar on stderr at a terminal; otherwise nothing (stdout stays clean for exports).
struct Progress(Option<indicatif::ProgressBar>);

impl Progress {
    fn new(settings: &Settings, lessons: usize) -> Progress {
        if !settings.interactive {
            return Progress(None);
        }
        let bar = indicatif::ProgressBar::new(lessons as u64);
        if let Ok(style) = indicatif::ProgressStyle::with_template("{bar:30} {pos}/{len} {msg}") {
            bar.set_style(style);
        }
        Progress(Some(bar))
    }

    fn lesson(&self, lesson: &Lesson, settings: &Settings) {
        if let Some(bar) = &self.0 {
            bar.set_message(
                settings.lang.say(crate::words::msg("bench.progress-lesson").fact("lesson", lesson.number)),
            );
        }
    }

    fn done(&self) {
        if let Some(bar) = &self.0 {
            bar.inc(1);
        }
    }

    fn finish(&self) {
        if let Some(bar) = &self.0 {
            bar.finish_and_clear();
        }
    }
}
