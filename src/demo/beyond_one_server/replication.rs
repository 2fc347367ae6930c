//! Demo `replication`: a primary and a replica of the lesson's own. Replication is asynchronous:
//! the primary answers a write before the replica has it. Measured here: how long after the reply a
//! write shows on the replica (idle, then with a client writing as fast as it can), how many reads
//! of the replica right after a write still saw the old value, how far behind (bytes of the
//! replication stream) the replica was; then WAIT, which makes those reads fresh, what it costs,
//! and what it does not do: with the replica frozen, WAIT times out and the write stays.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::thread;
use std::time::{Duration, Instant};

use anyhow::{Result, ensure};

use super::support::{Background, Writer, info, ours, start, until_value};
use crate::demo::{Ctx, DemoReport, NoteKind};
use crate::measure::{Backend, Claim, ClaimStatus, Kind, Measurement, format_count};
use crate::server::{PrivateServer, TracedConnection};
use crate::text::{Fact, Text};

/// How long a write may take to reach the replica before the demo gives up.
const VISIBLE_LIMIT: Duration = Duration::from_secs(5);
/// `WAIT 1 <ms>` when the replica is healthy.
const WAIT_TIMEOUT_MS: u64 = 1_000;
/// `WAIT 1 <ms>` with the replica frozen: what the writer waits before giving up.
const FROZEN_WAIT_MS: u64 = 300;

/// One series of "write on the primary, read the replica at once".
struct Series {
    delays: Vec<Duration>,
    /// Reads whose first GET on the replica still saw the old value.
    stale: u64,
}

fn offset(con: &mut TracedConnection, field: &str) -> Result<u64> {
    Ok(info(con, "replication")?.get::<u64>(field).unwrap_or(0))
}

/// `n` times: SET on the primary, then GET on the replica until it has the value.
fn series(ctx: &Ctx, p: &mut TracedConnection, r: &mut TracedConnection, key: &str, n: usize) -> Result<Series> {
    let mut s = Series { delays: Vec::with_capacity(n), stale: 0 };
    for i in 0..n {
        ctx.check_interrupt()?;
        let value = format!("v{i}");
        ours(redis::cmd("SET").arg(key).arg(&value).exec(p), "SET on the primary")?;
        let (delay, reads) = until_value(ctx, r, key, &value, VISIBLE_LIMIT)?;
        s.delays.push(delay);
        if reads > 1 {
            s.stale += 1;
        }
    }
    Ok(s)
}

/// How long the lag probe sleeps between two samples.
const PROBE_EVERY: Duration = Duration::from_micros(200);
/// The most the busy phase is drawn out for the lag probe to reach its sample count.
const PROBE_LIMIT: Duration = Duration::from_secs(3);

/// A thread of its own that samples how many bytes of replication stream the replica is behind,
/// over connections of its own, until stopped. Sampled apart from the write-then-read series on
/// purpose: a sample taken right after the replica showed our write would find it caught up. On
/// loopback the replica catches up within microseconds of each of the writer's pipelines, so only
/// some samples see it behind (7–35% of 1,000 on an idle 2-core machine here; 0.2–9% when the
/// pipelines were 100 SETs): the probe takes hundreds.
struct LagProbe {
    thread: Background<Vec<u64>>,
    taken: Arc<AtomicUsize>,
}

impl LagProbe {
    fn start(ctx: &Ctx, primary: &PrivateServer, replica: &PrivateServer) -> Result<LagProbe> {
        let (mut p, mut r) = (ctx.connect_private(primary)?, ctx.connect_private(replica)?);
        let taken = Arc::new(AtomicUsize::new(0));
        let taken2 = Arc::clone(&taken);
        let thread = Background::spawn(ctx, "the lag probe", move |running| {
            let mut behind = Vec::new();
            while running() {
                // The primary first, then the replica: the replica only moves on meanwhile, so the
                // gap read here is a lower bound of the real one, never more.
                let primary = offset(&mut p, "master_repl_offset")?;
                let replica = offset(&mut r, "slave_repl_offset")?;
                behind.push(primary.saturating_sub(replica));
                taken2.fetch_add(1, Ordering::Relaxed);
                thread::sleep(PROBE_EVERY);
            }
            Ok(behind)
        });
        Ok(LagProbe { thread, taken })
    }

    /// Wait until it has `samples` samples (or [`PROBE_LIMIT`] has passed since it started), then
    /// stop it: the samples, in bytes.
    fn finish(self, ctx: &Ctx, samples: usize) -> Result<Vec<u64>> {
        while self.taken.load(Ordering::Relaxed) < samples && self.thread.elapsed() < PROBE_LIMIT {
            ctx.check_interrupt()?;
            thread::sleep(Duration::from_millis(5));
        }
        self.thread.finish()
    }
}

fn wait(con: &mut TracedConnection, timeout_ms: u64) -> Result<u64> {
    ours(redis::cmd("WAIT").arg(1).arg(timeout_ms).query(con), "WAIT")
}

pub fn replication(ctx: &Ctx) -> Result<DemoReport> {
    let mut report = DemoReport::new("replication", Text::msg("title"));
    let primary = start("primary redis-server", PrivateServer::start)?;
    let replica = start("replica (redis-server --replicaof)", || PrivateServer::start_replica_of(primary.port()))?;
    let mut p = ctx.connect_private(&primary)?;
    let mut r = ctx.connect_private(&replica)?;
    let n = ctx.n(600, 200);
    let key = ctx.key("order:1001:status");

    // 1. How long until the replica has a write, and how often a read right after it is stale.
    let idle = series(ctx, &mut p, &mut r, &key, n)?;
    let writer = Writer::start(ctx, &primary, &ctx.key("trade:"))?;
    let probe = LagProbe::start(ctx, &primary, &replica)?;
    let busy = series(ctx, &mut p, &mut r, &key, n);
    let behind = probe.finish(ctx, ctx.n(2_000, 1_000));
    let (load_writes, load_rate) = writer.finish()?;
    let (busy, behind) = (busy?, behind?);

    let idle_m = report.measured(Measurement::single(
        "visible-idle",
        "SET → GET on the replica (idle)",
        Backend::Redis,
        Kind::Latency,
        idle.delays.clone(),
    )?);
    let busy_m = report.measured(Measurement::single(
        "visible-busy",
        "SET → GET on the replica (busy primary)",
        Backend::Redis,
        Kind::Latency,
        busy.delays.clone(),
    )?);
    let max_behind = behind.iter().copied().max().unwrap_or(0);
    let samples_behind = behind.iter().filter(|&&b| b > 0).count();
    let row = |label: &str, rate: Option<f64>, s: &Series, m: &Measurement, behind: Option<u64>| {
        vec![
            Text::msg(label),
            Text::Plain(rate.map_or_else(|| "0".to_string(), |r| format_count(r as u64))),
            Text::msg("lag.stale").fact("stale", s.stale).fact("reads", s.delays.len()),
            Text::Plain(crate::measure::format_duration(m.p50())),
            Text::Plain(crate::measure::format_duration(m.stats.p99)),
            Text::Plain(behind.map_or_else(|| "—".to_string(), |b| Fact::Bytes(b).format())),
        ]
    };
    report.table(
        Text::msg("lag").fact("reads", n),
        &["primary", "writes", "stale", "p50", "p99", "behind"],
        vec![
            row("lag.idle", None, &idle, &idle_m, None),
            row("lag.busy", Some(load_rate), &busy, &busy_m, Some(max_behind)),
        ],
    );
    let stale = idle.stale + busy.stale;
    let reads = (idle.delays.len() + busy.delays.len()) as u64;
    let measured = format!("{} / {}", format_count(stale), format_count(reads));
    let status = if stale > 0 { ClaimStatus::Held } else { ClaimStatus::Inconclusive };
    report.claim(
        Claim::with_status("replica-reads-can-be-stale", "", measured, status)
            .message(if stale > 0 { "replica-reads-can-be-stale" } else { "replica-reads-can-be-stale.none-seen" })
            .fact("stale", stale)
            .fact("reads", reads)
            .fact("busy_stale", busy.stale),
    );
    let status = if max_behind > 0 { ClaimStatus::Held } else { ClaimStatus::Inconclusive };
    report.claim(
        Claim::with_status("replica-falls-behind", "", Fact::Bytes(max_behind).format(), status)
            .fact("bytes", Fact::Bytes(max_behind))
            .fact("behind", samples_behind)
            .fact("samples", behind.len())
            .fact("writes", load_writes)
            .fact("rate", Fact::Count(load_rate as u64)),
    );

    // 2. WAIT: the write is acknowledged by the replica before the reply, so the next read there is
    // fresh; with the same busy primary as above.
    let writer = Writer::start(ctx, &primary, &ctx.key("trade:"))?;
    let waited = (|| -> Result<(u64, u64)> {
        let (mut acked, mut stale_after_wait) = (0, 0);
        for i in 0..n {
            ctx.check_interrupt()?;
            let value = format!("w{i}");
            ours(redis::cmd("SET").arg(&key).arg(&value).exec(&mut p), "SET on the primary")?;
            if wait(&mut p, WAIT_TIMEOUT_MS)? >= 1 {
                acked += 1;
                let got: Option<String> = ours(redis::cmd("GET").arg(&key).query(&mut r), "GET on the replica")?;
                if got.as_deref() != Some(value.as_str()) {
                    stale_after_wait += 1;
                }
            }
        }
        Ok((acked, stale_after_wait))
    })();
    writer.finish()?;
    let (acked, stale_after_wait) = waited?;
    let measured = format!("{} / {}", format_count(stale_after_wait), format_count(acked));
    let claim = if acked == 0 {
        Claim::with_status("wait-makes-replica-reads-fresh", "", measured, ClaimStatus::Inconclusive)
    } else {
        Claim::new("wait-makes-replica-reads-fresh", "", measured, stale_after_wait == 0)
    };
    report.claim(claim.fact("stale", stale_after_wait).fact("acked", acked).fact("writes", n));

    // What WAIT costs: SET alone against SET + WAIT 1, interleaved, on the quiet pair (a
    // connection each).
    let (set_key, wait_key) = (ctx.key("cost:set"), ctx.key("cost:wait"));
    let mut p2 = ctx.connect_private(&primary)?;
    let group = ctx
        .sampler
        .group()
        .op("set", "SET", Backend::Redis, || ours(redis::cmd("SET").arg(&set_key).arg("x").exec(&mut p), "SET"))
        .op("set-wait", "SET + WAIT 1", Backend::Redis, || {
            ours(redis::cmd("SET").arg(&wait_key).arg("x").exec(&mut p2), "SET")?;
            ensure!(wait(&mut p2, WAIT_TIMEOUT_MS)? >= 1, "WAIT 1 timed out on a healthy replica");
            Ok(())
        })
        .run()?;
    let group = report.measured_group(group);
    let slower = report.compare("set-vs-wait", group.get("set"), group.get("set-wait"))?;
    report.claim(
        Claim::ratio_above("wait-costs-a-replica-round-trip", "", &slower, 1.0)
            .fact("set", group.get("set").p50())
            .fact("wait", group.get("set-wait").p50())
            .fact("ratio", Fact::Ratio(slower.ratio)),
    );

    // 3. What WAIT does not do: freeze the replica; the write times out unacknowledged, and stays.
    let frozen_key = ctx.key("order:1002:status");
    replica.pause().map_err(|e| anyhow::anyhow!("freezing the replica: {e}"))?;
    let frozen = (|| -> Result<(u64, Duration, Option<String>)> {
        ours(redis::cmd("SET").arg(&frozen_key).arg("paid").exec(&mut p), "SET on the primary")?;
        let start = Instant::now();
        let replicas = wait(&mut p, FROZEN_WAIT_MS)?;
        let took = start.elapsed();
        let kept: Option<String> = ours(redis::cmd("GET").arg(&frozen_key).query(&mut p), "GET on the primary")?;
        Ok((replicas, took, kept))
    })();
    replica.resume().map_err(|e| anyhow::anyhow!("thawing the replica: {e}"))?;
    let (replicas, took, kept) = frozen?;
    report.claim(
        Claim::new(
            "wait-is-not-a-rollback",
            "",
            format!("WAIT → {replicas}; GET → {}", kept.as_deref().unwrap_or("(nil)")),
            replicas == 0 && kept.as_deref() == Some("paid"),
        )
        .fact("replicas", replicas)
        .fact("took", took)
        .fact("timeout", Duration::from_millis(FROZEN_WAIT_MS)),
    );
    report.note(NoteKind::Info, Text::msg("wait-is-not-consensus"));
    report.note(NoteKind::Caveat, Text::msg("own-servers"));
    Ok(report)
}
