//! `bench --scenario NAME`: parse the sweep, run it, then print or export it, plot it, and save or
//! compare a baseline. Every check that can fail on a typo runs before the sweep does.

use std::io::Write;

use anyhow::Result;

use super::{deliver, export_format};
use crate::Outcome;
use crate::bench::{self, ScenarioName, baseline, report, words};
use crate::cli::{BenchArgs, ExportFormat};
use crate::interrupt::Interrupt;
use crate::measure::ClaimStatus;
use crate::render::{Styles, export};
use crate::server;
use crate::settings::{Scale, Settings};
use crate::text::Fact;

pub fn run(
    settings: &Settings,
    args: &BenchArgs,
    name: ScenarioName,
    interrupt: &Interrupt,
    out: &mut impl Write,
) -> Result<Outcome> {
    let points = bench::sweep_points(name, &args.params, settings.scale == Scale::Quick)?;
    let state = settings.state_dir.as_deref();
    if let Some(b) = &args.baseline {
        baseline::validate(state, name, b, true)?;
    }
    if let Some(b) = &args.save_baseline {
        baseline::validate(state, name, b, false)?;
    }
    let plot = args.plot.as_deref().map(|path| bench::plot::Plot::prepare(path, settings.lang, name)).transpose()?;
    if args.plot.is_some() && points.len() < 2 {
        return Err(crate::error::UserError::BadBench {
            reason: format!(
                "{} measures one point here: a plot needs a parameter with two or more values (--param KEY=V1,V2)",
                name.id()
            ),
        }
        .into());
    }
    let redis = server::connect(&settings.redis, settings.allow_remote)?;
    let spinner = spinner(settings, name);
    let sweep = bench::run(settings, &redis, name, points, interrupt);
    if let Some(bar) = spinner {
        bar.finish_and_clear();
    }
    let sweep = sweep?;
    drop(redis);
    let lang = settings.lang;
    let doc = report::to_json(&sweep, lang);
    let deltas = match &args.baseline {
        Some(b) => Some((b.clone(), baseline::load(state, name, b)?)),
        None => None,
    }
    .map(|(b, then)| (b, report::format_when(then.started_unix), baseline::compare(&doc, &then)));

    let mut rendered = Vec::new();
    match export_format(settings, args) {
        ExportFormat::Json => {
            let mut value = serde_json::to_value(&doc)?;
            if let Some((b, when, d)) = &deltas {
                value["baseline"] = serde_json::json!({ "name": b, "started": when, "deltas": d });
            }
            serde_json::to_writer_pretty(&mut rendered, &value)?;
            writeln!(rendered)?;
        }
        ExportFormat::Markdown => export::sweep_markdown(&sweep, &doc, &mut rendered)?,
        ExportFormat::Csv => export::sweep_csv(&doc, &mut rendered)?,
        ExportFormat::Text => {
            report::print_text(&sweep, lang, Styles::new(settings.color), settings.width, &mut rendered)?;
            if let Some((b, when, d)) = &deltas {
                print_deltas(lang, b, when, d, &mut rendered)?;
            }
        }
    }
    deliver(settings, args, &rendered, out)?;
    let say = |key: &str, path: String| words::text(lang, key, &vec![("path".to_string(), Fact::Text(path))]);
    if let Some(plot) = &plot {
        plot.write(&sweep)?;
        if !settings.json {
            writeln!(out, "{}", say("out.plotted", plot.path().display().to_string()))?;
        }
    }
    if let Some(b) = &args.save_baseline {
        let path = baseline::save(state, name, b, &doc)?;
        if !settings.json {
            let facts = vec![
                ("name".to_string(), Fact::Text(b.clone())),
                ("path".to_string(), Fact::Text(path.display().to_string())),
            ];
            writeln!(out, "{}", words::text(lang, "out.saved", &facts))?;
        }
    }
    let failed = sweep.outcome.claims.iter().any(|c| c.status == ClaimStatus::Failed);
    Ok(if failed { Outcome::Failed } else { Outcome::Success })
}

fn print_deltas(
    lang: crate::i18n::Lang,
    name: &str,
    when: &str,
    deltas: &[baseline::Delta],
    out: &mut impl Write,
) -> Result<()> {
    let heading = vec![("name".to_string(), Fact::Text(name.into())), ("when".to_string(), Fact::Text(when.into()))];
    writeln!(out, "\n{}", words::text(lang, "out.baseline", &heading))?;
    let us = |v: f64| Fact::Duration(std::time::Duration::from_nanos((v * 1_000.0).round() as u64));
    for d in deltas {
        let line = match (d.then_p50_us, d.ratio) {
            (Some(then), Some(ratio)) => {
                let change = match d.change.as_str() {
                    "slower" => words::text(lang, "out.baseline-slower", &vec![("ratio".into(), Fact::Ratio(ratio))]),
                    "faster" => {
                        words::text(lang, "out.baseline-faster", &vec![("ratio".into(), Fact::Ratio(1.0 / ratio))])
                    }
                    _ => words::plain(lang, "out.baseline-same"),
                };
                let facts = vec![
                    ("series".to_string(), Fact::Text(d.label.clone())),
                    ("point".to_string(), Fact::Text(d.point.clone())),
                    ("now".to_string(), us(d.now_p50_us)),
                    ("then".to_string(), us(then)),
                    ("change".to_string(), Fact::Text(change)),
                ];
                words::text(lang, "out.baseline-row", &facts)
            }
            _ => {
                let facts = vec![
                    ("name".to_string(), Fact::Text(name.into())),
                    ("series".to_string(), Fact::Text(d.label.clone())),
                    ("point".to_string(), Fact::Text(d.point.clone())),
                ];
                words::text(lang, "out.baseline-missing", &facts)
            }
        };
        writeln!(out, "  {line}")?;
    }
    Ok(())
}

/// A spinner on stderr at a terminal only (stdout stays clean for exports).
fn spinner(settings: &Settings, name: ScenarioName) -> Option<indicatif::ProgressBar> {
    if !settings.interactive {
        return None;
    }
    let bar = indicatif::ProgressBar::new_spinner();
    if let Ok(style) = indicatif::ProgressStyle::with_template("{spinner} {msg} {elapsed}") {
        bar.set_style(style);
    }
    bar.set_message(format!("bench {}", name.id()));
    bar.enable_steady_tick(std::time::Duration::from_millis(120));
    Some(bar)
}
