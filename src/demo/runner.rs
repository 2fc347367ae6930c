//! Running a lesson's demos: one namespace guard for the run, a scratch directory, a sampler, a
//! fresh trace per demo, the round-trip floor measured at the start, between demos and at the end,
//! the noise check, Ctrl-C checked between demos, and the cleanup of every key at the end.
//! Shared by `lesson` (which prints each report as it comes) and `bench` (which collects them).

use std::time::Duration;

use anyhow::{Context, Result};
use serde::Serialize;

use super::{Ctx, DemoReport};
use crate::error::UserError;
use crate::interrupt::Interrupt;
use crate::lesson::Lesson;
use crate::measure::{Backend, Budget, ClaimStatus, FakeClock, Floor, Sampler, Warning, assess};
use crate::server::condition::{self, ServerRef};
use crate::server::{Cleanup, Journal, Namespace, NamespaceGuard, RedisHandle, Swept, Trace};
use crate::settings::{Scale, Settings};

/// What running a lesson's demos produced.
pub struct DemoRun {
    pub reports: Vec<DemoReport>,
    pub cleanup: Cleanup,
    /// The round-trip floor: start, between demos, end.
    pub floor: Floor,
    /// Why this run's ratios are uncertain (empty on a quiet run).
    pub warnings: Vec<Warning>,
    /// What earlier runs had left on this server, removed before this one started.
    pub swept: Swept,
    /// The learner stopped the lesson (at a pause) after this many demos.
    pub stopped_after: Option<usize>,
}

/// How a run's claims came out.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct ClaimTotals {
    pub total: usize,
    pub held: usize,
    pub inconclusive: usize,
    pub failed: usize,
}

impl ClaimTotals {
    pub fn of<'a>(reports: impl IntoIterator<Item = &'a DemoReport>) -> ClaimTotals {
        let mut t = ClaimTotals::default();
        for claim in reports.into_iter().flat_map(|r| &r.claims) {
            t.total += 1;
            match claim.status {
                ClaimStatus::Held => t.held += 1,
                ClaimStatus::Inconclusive => t.inconclusive += 1,
                ClaimStatus::Failed => t.failed += 1,
            }
        }
        t
    }
}

impl DemoRun {
    /// Every demo ran, no claim failed (inconclusive ones do not fail a run), nothing was left
    /// behind.
    pub fn passed(&self) -> bool {
        self.stopped_after.is_none() && self.reports.iter().all(DemoReport::passed) && self.cleanup.left == 0
    }

    pub fn claim_totals(&self) -> ClaimTotals {
        ClaimTotals::of(&self.reports)
    }

    /// Was the machine too busy for its ratios to be taken as facts?
    pub fn noisy(&self) -> bool {
        !self.warnings.is_empty()
    }
}

/// What `run_demos` tells its caller as the run goes.
pub enum RunEvent<'r> {
    /// The round-trip floor measured before the first demo.
    Floor(Duration),
    /// A demo is about to start (its index, its name): the caller may pause here, or stop the run
    /// (the demos left are not run; the keys are cleaned up as usual).
    Starting(usize, &'r str),
    /// A demo finished (its index, its name, its report).
    Report(usize, &'r str, &'r DemoReport),
    /// The run turned noisy: said once, the first time it is seen.
    Noisy(&'r Warning),
}

/// What the caller wants after an event: go on, or stop before the next demo.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flow {
    Go,
    Stop,
}

/// Run `lesson`'s demos in order under `namespace`; `on_event` sees the floor, each demo's start,
/// each report as soon as it is ready, and the first noise warning. A failing demo becomes a report with an error;
/// Ctrl-C stops the run after cleaning up.
pub fn run_demos(
    settings: &Settings,
    lesson: &Lesson,
    redis: &RedisHandle,
    namespace: &Namespace,
    interrupt: &Interrupt,
    mut on_event: impl FnMut(RunEvent) -> Result<Flow>,
) -> Result<DemoRun> {
    // A server we did not start: first remove what earlier runs left (the journal knows), then note
    // this run's namespace before anything is written under it.
    let journal = Keys::journal(settings, redis);
    let swept = match &journal {
        Some((journal, server)) => journal.sweep(redis.client(), server).unwrap_or_default(),
        None => Swept::default(),
    };
    if let Some((journal, server)) = &journal {
        journal.open_run(namespace, server).context("writing the run journal")?;
    }
    let mut keys =
        Keys { guard: NamespaceGuard::new(redis.client().clone(), namespace.clone()), journal, settled: false };
    let server = ServerRef { url: &redis.info().url, version: &redis.info().version };
    let scratch = crate::sql::scratch::Scratch::new()?;
    let budget = match settings.scale {
        Scale::Full => Budget::FULL,
        Scale::Quick => Budget::QUICK,
    };
    let sampler = if settings.fake_clock {
        // Tests: every sample takes 10 µs, and a measurement is a handful of samples.
        let tiny = Budget { warmup: 0, rounds: 6, min_samples: 6, max_samples: 6, target: Duration::ZERO };
        let clock = std::sync::Arc::new(FakeClock::new(&[Duration::from_micros(10)]));
        Sampler::with_clock(tiny, clock, interrupt.clone())
    } else {
        Sampler::new(budget, interrupt.clone())
    };
    let mut floor = Floor::default();
    let start = measure_floor(redis, &sampler)?;
    floor.push("start", start);
    on_event(RunEvent::Floor(start))?;
    let mut warnings: Vec<Warning> = Vec::new();
    let mut round_trips: Vec<(String, Duration)> = Vec::new();
    let mut disk_syncs: Vec<(String, Duration, Duration)> = Vec::new();
    let mut reports = Vec::new();
    let mut stopped_after = None;
    for (i, name) in lesson.demos.iter().enumerate() {
        if on_event(RunEvent::Starting(i, name))? == Flow::Stop {
            stopped_after = Some(i);
            break;
        }
        let demo = super::find(name).with_context(|| format!("demo {name} is not registered"))?;
        let trace = Trace::with_detail(settings.trace);
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
            keys.clean()?;
            return Err(UserError::Interrupted.into());
        }
        let mut report = match result {
            Ok(report) => report,
            // A demo that starts its own redis-server, with none on PATH: leave it out, run the rest.
            Err(err) if err.chain().any(|c| matches!(c.downcast_ref(), Some(UserError::NoRedisAvailable))) => {
                let mut skipped = DemoReport::new(name, title_of(lesson, name));
                skipped.skipped = Some(settings.lang.word("demo.needs-redis-server"));
                skipped
            }
            // A demo that cannot run on a Redis Cluster says so: leave it out, run the rest.
            Err(err) if matches!(err.downcast_ref::<UserError>(), Some(UserError::ClusterMode { .. })) => {
                let mut skipped = DemoReport::new(name, title_of(lesson, name));
                skipped.skipped = err.downcast_ref::<UserError>().map(|e| e.message(settings.lang));
                skipped
            }
            // Something the learner must fix (a --sql-url that does not answer, no redis-server for
            // a demo that needs its own): stop with that one line, after cleaning up.
            Err(err) if err.downcast_ref::<UserError>().is_some() => {
                keys.clean()?;
                return Err(err);
            }
            // A server condition (paused, full, a missing permission, too old): one line, exit 2 —
            // except a command this server does not know (an older Redis), or a demo that cannot run
            // on a Redis Cluster: that demo is left out.
            Err(err) if let Some(condition) = condition::classify(&err, &server, &format!("demo {name}")) => {
                if let UserError::UnknownCommand { .. } | UserError::ClusterMode { .. } = condition {
                    let mut skipped = DemoReport::new(name, title_of(lesson, name));
                    skipped.skipped = Some(condition.message(settings.lang));
                    skipped
                } else {
                    match condition {
                        // It does not answer: do not wait for it again; the journal has the namespace.
                        UserError::ServerStopped { .. } => keys.abandon(),
                        _ => {
                            let _ = keys.clean();
                        }
                    }
                    return Err(condition.into());
                }
            }
            Err(err) => {
                let mut failed = DemoReport::new(name, title_of(lesson, name));
                failed.error = Some(crate::error::describe(&err, settings.lang));
                failed
            }
        };
        report.trace = trace.report();
        // The words: the lesson file's messages, in the learner's language, filled with the facts.
        // `<demo>.<key>`, else the lesson-wide `lesson.<key>` (words several demos share).
        let lookup = |key: &str| {
            lesson
                .message(settings.lang, &format!("{name}.{key}"))
                .or_else(|| lesson.message(settings.lang, &format!("lesson.{key}")))
        };
        if let Err(problem) = report.resolve(&lookup) {
            report.error = Some(problem);
        }
        round_trips.extend(
            report
                .measurements
                .iter()
                .filter(|m| m.one_round_trip && m.backend == Backend::Redis)
                .map(|m| (format!("{} ({name})", m.label), m.p50_per_op())),
        );
        disk_syncs.extend(report.measurements.iter().filter(|m| m.one_disk_sync).filter_map(|m| {
            let fastest = m.round_p50s.iter().min()?;
            Some((format!("{} ({name})", m.label), *fastest, m.p50()))
        }));
        // A noisy run cannot show a timing claim false any more than true: what its interval says
        // against the threshold is inconclusive. Counts are not timings and stay as they are.
        if !assess(&floor, &round_trips, &disk_syncs).is_empty() {
            for claim in report.claims.iter_mut().filter(|c| c.timed && c.status == ClaimStatus::Failed) {
                claim.status = ClaimStatus::Inconclusive;
                claim.holds = false;
            }
        }
        on_event(RunEvent::Report(i, name, &report))?;
        let last = i + 1 == lesson.demos.len();
        let at = if last { "end".to_string() } else { format!("after:{name}") };
        match measure_floor(redis, &sampler) {
            Ok(p50) => floor.push(at, p50),
            Err(err) if interrupt.is_set() => {
                keys.clean()?;
                return Err(err);
            }
            Err(_) => {} // a demo that broke the connection: its own report says so
        }
        let now = assess(&floor, &round_trips, &disk_syncs);
        if warnings.is_empty()
            && let Some(first) = now.first()
        {
            on_event(RunEvent::Noisy(first))?;
        }
        warnings = now;
        reports.push(report);
    }
    let cleanup = match settings.keep {
        Some(ttl) => keys.keep(ttl).context("keeping the demo's keys")?,
        None => keys.clean().context("cleaning up the demo's keys")?,
    };
    Ok(DemoRun { reports, cleanup, floor, warnings, swept, stopped_after })
}

/// The run's keys: the guard that removes them, and the journal entry that outlives a crash. A run
/// that ends any other way than through [`Keys::clean`] or [`Keys::keep`] (an error on the way, a
/// broken pipe) cleans up on drop, and closes its journal entry once nothing is left, so that no
/// later run or `doctor` takes it for an interrupted one.
struct Keys {
    guard: NamespaceGuard,
    /// `None` on a private server (its data dies with it) or without a state directory.
    journal: Option<(Journal, String)>,
    /// Cleaned, kept or abandoned: nothing left to do on drop.
    settled: bool,
}

impl Keys {
    fn journal(settings: &Settings, redis: &RedisHandle) -> Option<(Journal, String)> {
        if redis.private_server().is_some() {
            return None;
        }
        let dir = settings.state_dir.as_deref()?;
        Some((Journal::new(Some(dir)), redis.info().url.clone()))
    }

    /// `--keep`: give every key the keep TTL, and tell the journal not to sweep them before it ends
    /// (after that, a sweep removes whatever is still there).
    fn keep(&mut self, ttl: Duration) -> Result<Cleanup> {
        self.settled = true;
        let cleanup = self.guard.keep(ttl)?;
        if let Some((journal, _)) = &self.journal {
            let until = crate::server::journal::now_unix() + ttl.as_secs();
            journal.keep_run(self.guard.namespace(), until).context("updating the run journal")?;
        }
        Ok(cleanup)
    }

    /// Remove every key; once none is left, forget the run in the journal.
    fn clean(&mut self) -> Result<Cleanup> {
        self.settled = true;
        let cleanup = self.guard.clean()?;
        if cleanup.left == 0
            && let Some((journal, _)) = &self.journal
        {
            journal.close_run(self.guard.namespace()).context("updating the run journal")?;
        }
        Ok(cleanup)
    }

    /// The server stopped answering: no more attempts; the journal keeps the namespace for a later
    /// run to sweep.
    fn abandon(&mut self) {
        self.settled = true;
        self.guard.abandon();
    }
}

impl Drop for Keys {
    fn drop(&mut self) {
        if !self.settled {
            let _ = self.clean();
        }
    }
}

/// A demo's title from the lesson file (`<demo>.title`), or its name.
fn title_of(lesson: &Lesson, name: &str) -> crate::text::Text {
    if lesson.message(crate::i18n::Lang::En, &format!("{name}.title")).is_some() {
        crate::text::Text::msg("title")
    } else {
        crate::text::Text::from(name)
    }
}

/// The round trip on this machine now: the p50 of PINGs, on a connection of its own.
fn measure_floor(redis: &RedisHandle, sampler: &Sampler) -> Result<Duration> {
    let mut con = redis.raw_connection().context("connecting to Redis to measure the round trip")?;
    let m = sampler.with_budget(Budget::FLOOR).measure("floor", "PING", Backend::Redis, || {
        redis::cmd("PING").exec(&mut con)?;
        Ok(())
    })?;
    Ok(m.p50())
}
