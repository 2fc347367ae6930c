//! Running a lesson's demos: one namespace guard for the run, a scratch directory, a sampler, a
//! fresh trace per demo, Ctrl-C checked between demos, and the cleanup of every key at the end.
//! Shared by `lesson` (which prints each report as it comes) and `bench` (which collects them).

use anyhow::{Context, Result};

use super::{Ctx, DemoReport};
use crate::error::UserError;
use crate::lesson::Lesson;
use crate::measure::{Budget, Sampler};
use crate::server::{Cleanup, Interrupt, Namespace, NamespaceGuard, RedisHandle, Trace};
use crate::settings::{Scale, Settings};

/// What running a lesson's demos produced.
pub struct DemoRun {
    pub reports: Vec<DemoReport>,
    pub cleanup: Cleanup,
}

impl DemoRun {
    /// Every demo ran, every claim held, nothing was left behind.
    pub fn passed(&self) -> bool {
        self.reports.iter().all(DemoReport::passed) && self.cleanup.left == 0
    }

    pub fn claim_totals(&self) -> (usize, usize) {
        let total = self.reports.iter().map(|r| r.claims.len()).sum();
        let held = self.reports.iter().map(|r| r.claims.iter().filter(|c| c.holds).count()).sum();
        (total, held)
    }
}

/// Run `lesson`'s demos in order under `namespace`; `on_report` sees each report as soon as it is
/// ready (demo index, demo name, report). A failing demo becomes a report with an error; Ctrl-C
/// stops the run after cleaning up.
pub fn run_demos(
    settings: &Settings,
    lesson: &Lesson,
    redis: &RedisHandle,
    namespace: &Namespace,
    interrupt: &Interrupt,
    mut on_report: impl FnMut(usize, &str, &DemoReport) -> Result<()>,
) -> Result<DemoRun> {
    let mut guard = NamespaceGuard::new(redis.client().clone(), namespace.clone());
    let scratch = tempfile::Builder::new().prefix("redis-learn-").tempdir().context("creating a scratch directory")?;
    let budget = match settings.scale {
        Scale::Full => Budget::FULL,
        Scale::Quick => Budget::QUICK,
    };
    let sampler = Sampler::new(budget, interrupt.clone());
    let mut reports = Vec::new();
    for (i, name) in lesson.demos.iter().enumerate() {
        let demo = super::find(name).with_context(|| format!("demo {name} is not registered"))?;
        let trace = Trace::new();
        let ctx = Ctx {
            redis,
            namespace,
            sampler: sampler.clone(),
            scale: settings.scale,
            lang: settings.lang,
            trace: trace.clone(),
            interrupt: interrupt.clone(),
            scratch: scratch.path(),
            sql_url: settings.sql_url.as_deref(),
            allow_remote: settings.allow_remote,
        };
        let result = (demo.run)(&ctx);
        if interrupt.is_set() {
            guard.clean()?;
            return Err(UserError::Interrupted.into());
        }
        let mut report = match result {
            Ok(report) => report,
            // Something the learner must fix (a --sql-url that does not answer, no redis-server for
            // a demo that needs its own): stop with that one line, after cleaning up.
            Err(err) if err.downcast_ref::<UserError>().is_some() => {
                guard.clean()?;
                return Err(err);
            }
            Err(err) => {
                let mut failed = DemoReport::new(name, name.clone());
                failed.error = Some(crate::error::describe(&err, settings.lang));
                failed
            }
        };
        report.trace = trace.report();
        on_report(i, name, &report)?;
        reports.push(report);
    }
    let cleanup = guard.clean().context("cleaning up the demo's keys")?;
    Ok(DemoRun { reports, cleanup })
}
