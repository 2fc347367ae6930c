//! `bench --calibrate`: run [`crate::bench::calibrate`] and print its pairs and claim.

use std::io::Write;

use anyhow::Result;

use super::deliver;
use crate::Outcome;
use crate::bench::{calibrate, words};
use crate::cli::BenchArgs;
use crate::interrupt::Interrupt;
use crate::measure::{ClaimStatus, format_count};
use crate::render::Styles;
use crate::server;
use crate::settings::Settings;
use crate::text::Fact;

pub fn run(settings: &Settings, args: &BenchArgs, interrupt: &Interrupt, out: &mut impl Write) -> Result<Outcome> {
    let redis = server::connect(&settings.redis, settings.allow_remote)?;
    let report = calibrate::run(settings, &redis, interrupt)?;
    drop(redis);
    let lang = settings.lang;
    let mut rendered = Vec::new();
    if settings.json {
        serde_json::to_writer_pretty(&mut rendered, &report)?;
        writeln!(rendered)?;
    } else {
        let styles = Styles::new(settings.color);
        writeln!(rendered, "{}", styles.heading(&words::plain(lang, "calibrate.heading")))?;
        writeln!(rendered, "{}\n", styles.dim(&report.redis_benchmark))?;
        let median = |v: &[f64]| {
            let mut v = v.to_vec();
            v.sort_by(f64::total_cmp);
            v.get(v.len().saturating_sub(1) / 2).copied().unwrap_or(0.0)
        };
        for pair in &report.pairs {
            let facts = vec![
                ("what".to_string(), Fact::Text(words::plain(lang, &format!("calibrate.{}", pair.id)))),
                ("theirs".to_string(), Fact::Text(format_count(median(&pair.theirs_rps).round() as u64))),
                ("ours".to_string(), Fact::Text(format_count(median(&pair.ours_rps).round() as u64))),
                ("share".to_string(), Fact::Percent(pair.share)),
            ];
            writeln!(rendered, "  {}", words::text(lang, "calibrate.row", &facts))?;
        }
        let share = report.pairs.first().map_or(0.0, |p| p.share);
        let claim = words::text(lang, "calibrate.claim", &vec![("share".to_string(), Fact::Percent(share))]);
        let (mark, status) = match report.status {
            ClaimStatus::Held => ("✔", styles.pass(&words::plain(lang, "out.held"))),
            ClaimStatus::Failed => ("✘", styles.fail(&words::plain(lang, "out.failed"))),
            ClaimStatus::Inconclusive => ("?", styles.uncertain(&words::plain(lang, "out.inconclusive"))),
        };
        writeln!(rendered, "\n{mark} {claim} — {status}")?;
    }
    deliver(settings, args, &rendered, out)?;
    Ok(if report.status == ClaimStatus::Failed { Outcome::Failed } else { Outcome::Success })
}
