//! Instructor scenarios: `bench --scenario NAME [--param KEY=V1,V2,…]`. A scenario measures one
//! question (pipeline depth, clients, value size, data size, …) across a sweep of parameter values
//! with the honest-numbers engine (every point of a sweep sampled interleaved in one group, so the
//! ratios between points have 95% intervals), checks its claim, and returns a [`Sweep`] that the
//! text printer, the exports, the plot and the baselines all draw from.

pub mod baseline;
pub mod calibrate;
pub mod chart;
pub mod plot;
pub mod report;
mod scenarios;
pub mod words;

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use anyhow::{Context, Result};
use serde::Serialize;

use crate::error::UserError;
use crate::interrupt::Interrupt;
use crate::measure::{
    Backend, Budget, Claim, ClaimStatus, Comparison, FakeClock, Floor, Measurement, Placement, Sampler, Verdict,
    Warning, assess, median_interval,
};
use crate::server::{Namespace, NamespaceGuard, RedisHandle};
use crate::settings::{Scale, Settings};

/// The JSON/CSV/baseline format version: bump it when a field changes meaning or goes away.
pub const SCHEMA_VERSION: u32 = 1;

/// The scenarios an instructor can run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum ScenarioName {
    /// GETs pipelined at depth 1, 4, 16, 64, 256: per-operation cost falls until the server's work dominates
    Pipeline,
    /// Redis GET vs a SQLite primary-key read in process (and a SQL server with --sql-url)
    PointRead,
    /// 10³ … 10⁶ keys/rows: GET and an indexed read stay flat, a full scan grows with the data
    DatasetSize,
    /// 16 B … 1 MB values: where bandwidth starts to matter
    ValueSize,
    /// 1 … 16 connections in threads: throughput and per-operation latency, Redis and SQLite WAL readers
    Clients,
    /// Redis AOF everysec/always vs SQLite synchronous NORMAL/FULL (private servers)
    DurableWrite,
    /// INCR vs GET then SET vs a SQLite UPDATE
    Counter,
    /// ZRANGEBYSCORE over 10 … 1,000 members vs an indexed SQL range
    ZsetRange,
    /// A lock taken and released (SET NX PX + compare-and-delete) vs one GET vs SQLite BEGIN IMMEDIATE
    LockCycle,
    /// PUBLISH to 1 … 64 subscribers: time until the last one has the message
    PubsubFanout,
}

impl ScenarioName {
    pub fn id(self) -> &'static str {
        match self {
            ScenarioName::Pipeline => "pipeline",
            ScenarioName::PointRead => "point-read",
            ScenarioName::DatasetSize => "dataset-size",
            ScenarioName::ValueSize => "value-size",
            ScenarioName::Clients => "clients",
            ScenarioName::DurableWrite => "durable-write",
            ScenarioName::Counter => "counter",
            ScenarioName::ZsetRange => "zset-range",
            ScenarioName::LockCycle => "lock-cycle",
            ScenarioName::PubsubFanout => "pubsub-fanout",
        }
    }

    /// The parameters it sweeps, with their default values (full, quick).
    pub fn params(self) -> &'static [ParamSpec] {
        scenarios::params(self)
    }
}

/// How a parameter's values read and plot.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Unit {
    Count,
    Bytes,
    /// A name (`everysec`, `always`): plotted as categories.
    Name,
}

/// One parameter a scenario accepts.
#[derive(Debug, Clone, Copy)]
pub struct ParamSpec {
    pub key: &'static str,
    pub unit: Unit,
    pub full: &'static [&'static str],
    pub quick: &'static [&'static str],
    /// Largest numeric value accepted (a memory/time guard); names are checked against `full`.
    pub max: u64,
}

/// One point of a sweep: a value for every parameter, in the scenario's order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Point(pub Vec<(String, String)>);

impl Point {
    /// `depth=16`, `keys=1000 clients=4`.
    pub fn label(&self) -> String {
        self.0.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join(" ")
    }

    pub fn get(&self, key: &str) -> &str {
        self.0.iter().find(|(k, _)| k == key).map_or("", |(_, v)| v.as_str())
    }

    pub fn num(&self, key: &str) -> u64 {
        self.get(key).parse().unwrap_or(0)
    }
}

/// Parse `--param KEY=V1,V2` flags against a scenario's parameters and expand the cartesian
/// product (parameters not given take their defaults). Values may use `k`/`m` suffixes (`1k`,
/// `1m`: ×1,000; for bytes `16kb`, `1mb`: ×1,024).
pub fn sweep_points(name: ScenarioName, given: &[String], quick: bool) -> Result<Vec<Point>, UserError> {
    let bad = |reason: String| UserError::BadBench { reason };
    let specs = name.params();
    let mut chosen: Vec<(String, Vec<String>)> = specs
        .iter()
        .map(|s| (s.key.to_string(), (if quick { s.quick } else { s.full }).iter().map(|v| v.to_string()).collect()))
        .collect();
    for flag in given {
        let (key, values) = flag
            .split_once('=')
            .ok_or_else(|| bad(format!("--param {flag:?} needs the form KEY=V1,V2 (e.g. depth=1,16)")))?;
        let known: Vec<&str> = specs.iter().map(|s| s.key).collect();
        let Some(spec) = specs.iter().find(|s| s.key == key.trim()) else {
            return Err(bad(format!(
                "{} has no parameter {key:?}; it takes: {}",
                name.id(),
                if known.is_empty() { "none".to_string() } else { known.join(", ") }
            )));
        };
        let mut parsed = Vec::new();
        for v in values.split(',').map(str::trim).filter(|v| !v.is_empty()) {
            parsed.push(parse_value(spec, v).map_err(|r| bad(format!("--param {key}: {r}")))?);
        }
        if parsed.is_empty() {
            return Err(bad(format!("--param {key}= has no values")));
        }
        parsed.dedup();
        if let Some(slot) = chosen.iter_mut().find(|(k, _)| k == spec.key) {
            slot.1 = parsed;
        }
    }
    let mut points = vec![Point(Vec::new())];
    for (key, values) in &chosen {
        points = points
            .into_iter()
            .flat_map(|p| {
                values.iter().map(move |v| {
                    let mut next = p.clone();
                    next.0.push((key.clone(), v.clone()));
                    next
                })
            })
            .collect();
    }
    if points.len() > MAX_POINTS {
        return Err(bad(format!(
            "{} points is too many for one sweep (at most {MAX_POINTS}): give fewer values",
            points.len()
        )));
    }
    Ok(points)
}

/// More points than this make one interleaved group too long to be a lesson in class.
const MAX_POINTS: usize = 24;

fn parse_value(spec: &ParamSpec, v: &str) -> Result<String, String> {
    if spec.unit == Unit::Name {
        return if spec.full.contains(&v) {
            Ok(v.to_string())
        } else {
            Err(format!("{v:?} is not one of {}", spec.full.join(", ")))
        };
    }
    let lower = v.to_ascii_lowercase();
    let (digits, factor) = [("mb", 1 << 20), ("kb", 1 << 10), ("m", 1_000_000), ("k", 1_000)]
        .iter()
        .find_map(|(suffix, f)| lower.strip_suffix(suffix).map(|d| (d.to_string(), *f)))
        .unwrap_or((lower.clone(), 1));
    let n: u64 = digits.parse().map_err(|_| format!("{v:?} is not a whole number"))?;
    let n = n.saturating_mul(factor);
    if n == 0 || n > spec.max {
        return Err(format!("{v} is outside 1…{}", spec.max));
    }
    Ok(n.to_string())
}

/// What a scenario needs while it runs.
pub struct Env<'a> {
    pub settings: &'a Settings,
    pub redis: &'a RedisHandle,
    pub ns: Namespace,
    pub sampler: Sampler,
    pub scratch: crate::sql::scratch::Scratch,
    pub interrupt: Interrupt,
    /// Things the run should say (why a series is missing, a simulated or limited cost): message ids.
    pub notes: Vec<String>,
}

impl Env<'_> {
    /// The sampler budget scenarios use: a sweep has many operations, so each gets a little less
    /// time than in a lesson, never fewer than 100 samples in quick mode.
    pub fn budget(&self) -> Budget {
        match self.settings.scale {
            Scale::Quick => Budget {
                warmup: 20,
                rounds: 20,
                min_samples: 100,
                max_samples: 4_000,
                target: Duration::from_millis(80),
            },
            Scale::Full => Budget::FULL,
        }
    }

    pub fn sampler(&self) -> Sampler {
        self.sampler.with_budget(self.budget())
    }
}

/// One measured series at one point, times per operation.
#[derive(Debug, Clone)]
pub struct SeriesResult {
    /// Stable id of the series: `redis-get`, `sqlite-pk-read`.
    pub series: String,
    pub m: Measurement,
    /// Operations per second all clients together sustained, where several ran at once.
    pub throughput: Option<f64>,
}

impl SeriesResult {
    pub fn new(series: &str, m: Measurement) -> SeriesResult {
        SeriesResult { series: series.to_string(), m, throughput: None }
    }

    /// Per-operation duration of a per-sample figure.
    pub fn per_op(&self, d: Duration) -> Duration {
        d / self.m.ops_per_sample
    }

    /// The p50 per operation with its 95% interval (over rounds).
    pub fn p50_interval(&self) -> (Duration, Duration, Duration) {
        let per = |d: Duration| self.per_op(d);
        let values: Vec<f64> = self.m.round_p50s.iter().map(|d| per(*d).as_nanos() as f64).collect();
        match median_interval(&values) {
            Some(i) if values.len() > 1 => (
                per(self.m.p50()),
                Duration::from_nanos(i.low.round() as u64),
                Duration::from_nanos(i.high.round() as u64),
            ),
            _ => (per(self.m.p50()), per(self.m.p50()), per(self.m.p50())),
        }
    }

    /// Operations per second: measured across clients when several ran at once, else one client's.
    pub fn ops_per_sec(&self) -> Option<f64> {
        self.throughput.or_else(|| self.m.ops_per_sec())
    }
}

/// Everything one point of the sweep measured.
#[derive(Debug, Clone)]
pub struct PointResult {
    pub point: Point,
    pub series: Vec<SeriesResult>,
}

/// What a scenario returns: its points, the comparisons it draws, its claims.
#[derive(Debug, Default)]
pub struct Outcome {
    pub points: Vec<PointResult>,
    pub comparisons: Vec<Comparison>,
    pub claims: Vec<Claim>,
}

/// What a run's numbers depend on: the server, SQLite, the mode, the machine and where this process
/// ran. A scenario sweep and a lesson bench run both carry it; their JSON has its fields flat.
#[derive(Debug, Clone, Serialize)]
pub struct RunContext {
    pub redis: crate::server::ServerInfo,
    pub sqlite_version: String,
    pub quick: bool,
    /// CPUs this process may use (`std::thread::available_parallelism`).
    pub cores: usize,
    /// `std::env::consts::OS` and `ARCH`, as `linux x86_64`.
    pub os: String,
    pub placement: Placement,
}

impl RunContext {
    pub fn of(settings: &Settings, redis: &RedisHandle) -> RunContext {
        RunContext {
            redis: redis.info().clone(),
            sqlite_version: crate::sql::sqlite_version().to_string(),
            quick: settings.scale == Scale::Quick,
            cores: std::thread::available_parallelism().map_or(1, |n| n.get()),
            os: format!("{} {}", std::env::consts::OS, std::env::consts::ARCH),
            placement: settings.placement,
        }
    }
}

/// A finished sweep with the context that makes its numbers honest.
#[derive(Debug)]
pub struct Sweep {
    pub scenario: ScenarioName,
    pub started_unix: u64,
    pub context: RunContext,
    pub debug_build: bool,
    pub params: Vec<ParamSpec>,
    pub outcome: Outcome,
    pub floor: Floor,
    pub warnings: Vec<Warning>,
    /// Why the numbers may mislead, beyond noise (persistence on, the shared default port, a debug build).
    pub cautions: Vec<Caution>,
    pub notes: Vec<String>,
    pub took: Duration,
}

impl Sweep {
    pub fn noisy(&self) -> bool {
        !self.warnings.is_empty()
    }

    /// The series ids in the order they first appear.
    pub fn series_ids(&self) -> Vec<String> {
        let mut ids: Vec<String> = Vec::new();
        for p in &self.outcome.points {
            for s in &p.series {
                if !ids.contains(&s.series) {
                    ids.push(s.series.clone());
                }
            }
        }
        ids
    }

    /// The parameter a plot puts on its x axis: the first one with more than one value.
    pub fn swept_param(&self) -> Option<&ParamSpec> {
        self.params.iter().find(|spec| {
            let mut values: Vec<&str> = self.outcome.points.iter().map(|p| p.point.get(spec.key)).collect();
            values.dedup();
            values.len() > 1
        })
    }
}

/// A caution with a fix.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Caution {
    /// Built without optimisations: every figure is slower than a release build's.
    DebugBuild,
    /// The server writes an AOF or RDB snapshots while we measure.
    PersistenceOn,
    /// 127.0.0.1:6379, where other programs on this machine may be sending commands too.
    SharedDefaultPort,
    /// fsync is free on this filesystem (tmpfs): durable writes cost no more here.
    MemoryFilesystem,
}

impl Caution {
    pub fn id(self) -> &'static str {
        match self {
            Caution::DebugBuild => "debug-build",
            Caution::PersistenceOn => "persistence-on",
            Caution::SharedDefaultPort => "shared-6379",
            Caution::MemoryFilesystem => "memory-filesystem",
        }
    }
}

/// Run one scenario over `points` against `redis`.
pub fn run(
    settings: &Settings,
    redis: &RedisHandle,
    name: ScenarioName,
    points: Vec<Point>,
    interrupt: &Interrupt,
) -> Result<Sweep> {
    let started = std::time::Instant::now();
    let started_unix = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
    let ns = Namespace::new_run();
    let journal = journal(settings, redis);
    if let Some((j, server)) = &journal {
        let _ = j.sweep(redis.client(), server);
        j.open_run(&ns, server).context("writing the run journal")?;
    }
    let mut guard = NamespaceGuard::new(redis.client().clone(), ns.clone());
    let sampler = if settings.fake_clock {
        let tiny = Budget { warmup: 0, rounds: 6, min_samples: 6, max_samples: 6, target: Duration::ZERO };
        Sampler::with_clock(tiny, std::sync::Arc::new(FakeClock::new(&[Duration::from_micros(10)])), interrupt.clone())
    } else {
        Sampler::new(Budget::FULL, interrupt.clone())
    };
    let mut env = Env {
        settings,
        redis,
        ns,
        sampler,
        scratch: crate::sql::scratch::Scratch::new()?,
        interrupt: interrupt.clone(),
        notes: Vec::new(),
    };
    let mut floor = Floor::default();
    floor.push("start", measure_floor(&env)?);
    let result = scenarios::run(&mut env, name, &points);
    let cleanup = guard.clean();
    if let (Ok(c), Some((j, _))) = (&cleanup, &journal)
        && c.left == 0
    {
        let _ = j.close_run(&env.ns);
    }
    let mut outcome = result?;
    cleanup.context("removing the scenario's keys")?;
    floor.push("end", measure_floor(&env)?);
    let round_trips: Vec<(String, Duration)> = outcome
        .points
        .iter()
        .flat_map(|p| &p.series)
        .filter(|s| s.m.one_round_trip && s.m.backend == Backend::Redis)
        .map(|s| (s.m.label.clone(), s.m.p50_per_op()))
        .collect();
    let disk_syncs: Vec<(String, Duration, Duration)> = outcome
        .points
        .iter()
        .flat_map(|p| &p.series)
        .filter(|s| s.m.one_disk_sync)
        .filter_map(|s| Some((s.m.label.clone(), *s.m.round_p50s.iter().min()?, s.m.p50())))
        .collect();
    let warnings = assess(&floor, &round_trips, &disk_syncs);
    if !warnings.is_empty() {
        // A busy machine is not a failed claim: what this run cannot tell stays undecided.
        for claim in &mut outcome.claims {
            if claim.status == ClaimStatus::Failed {
                claim.status = ClaimStatus::Inconclusive;
                claim.holds = false;
            }
        }
    }
    for claim in &mut outcome.claims {
        claim.text = words::claim_text(settings.lang, name, claim);
    }
    let mut cautions = Vec::new();
    if cfg!(debug_assertions) {
        cautions.push(Caution::DebugBuild);
    }
    if !redis.info().private && persistence_on(redis) {
        cautions.push(Caution::PersistenceOn);
    }
    if !redis.info().private && redis.info().url.trim_end_matches('/').ends_with(":6379") {
        cautions.push(Caution::SharedDefaultPort);
    }
    let mut notes = env.notes.clone();
    if env.notes.iter().any(|n| n == "memory-filesystem") {
        cautions.push(Caution::MemoryFilesystem);
        notes.retain(|n| n != "memory-filesystem");
    }
    Ok(Sweep {
        scenario: name,
        started_unix,
        context: RunContext::of(settings, redis),
        debug_build: cfg!(debug_assertions),
        params: name.params().to_vec(),
        outcome,
        floor,
        warnings,
        cautions,
        notes,
        took: started.elapsed(),
    })
}

fn journal(settings: &Settings, redis: &RedisHandle) -> Option<(crate::server::Journal, String)> {
    if redis.private_server().is_some() {
        return None;
    }
    let dir = settings.state_dir.as_deref()?;
    Some((crate::server::Journal::new(Some(dir)), redis.info().url.clone()))
}

/// `aof_enabled:1` or a save schedule: the server may fork or fsync while we measure.
fn persistence_on(redis: &RedisHandle) -> bool {
    let Ok(mut con) = redis.raw_connection() else { return false };
    let info: String = redis::cmd("INFO").arg("persistence").query(&mut con).unwrap_or_default();
    let aof = info.lines().any(|l| l.trim() == "aof_enabled:1");
    let save: Vec<String> = redis::cmd("CONFIG").arg("GET").arg("save").query(&mut con).unwrap_or_default();
    aof || save.get(1).is_some_and(|s| !s.trim().is_empty())
}

fn measure_floor(env: &Env) -> Result<Duration> {
    let mut con = env.redis.raw_connection().context("connecting to Redis to measure the round trip")?;
    let m = env.sampler.with_budget(Budget::FLOOR).measure("floor", "PING", Backend::Redis, || {
        redis::cmd("PING").exec(&mut con)?;
        Ok(())
    })?;
    Ok(m.p50())
}

/// Is this comparison's interval clear of 1?
pub fn clear(c: &Comparison) -> bool {
    c.status == Verdict::Clear
}
