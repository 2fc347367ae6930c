//! Demo `failover`: a primary, a replica and three Sentinels of the lesson's own. The link between
//! primary and replica is cut (a relay in between stops forwarding: a network partition), the
//! primary keeps acknowledging writes and grants a lock with a fencing number, then it is killed
//! with `kill -9`. Measured: how long until a client that asks the Sentinels reaches the promoted
//! replica; how many acknowledged writes the new primary never got; whether a second client takes
//! the lock the first still believes it holds, and which fencing number it gets.

use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use redis::ConnectionLike;

use super::support::{Relay, ours, start};
use crate::demo::support::count_existing;
use crate::demo::{Ctx, DemoReport, NoteKind};
use crate::measure::{Claim, format_count, format_duration};
use crate::server::{PrivateServer, SentinelSettings, TracedConnection};
use crate::text::Text;

/// The name the Sentinels know the primary by.
const NAME: &str = "notes-primary";
const SENTINELS: usize = 3;
const QUORUM: u32 = 2;
/// Silence after which a Sentinel thinks the primary is down (production: 5-30 s).
const DOWN_AFTER: Duration = Duration::from_millis(500);
const FAILOVER_TIMEOUT: Duration = Duration::from_millis(2_000);
/// How long the Sentinels may take to find each other and the replica.
const DISCOVERY_LIMIT: Duration = Duration::from_secs(20);
/// How long the failover may take before the demo gives up.
const FAILOVER_LIMIT: Duration = Duration::from_secs(30);
const POLL: Duration = Duration::from_millis(10);
/// The lock's lease: far longer than the whole failover, so it has not expired when the second
/// client takes it.
const LOCK_MS: u64 = 60_000;

fn set(con: &mut impl ConnectionLike, key: &str, value: &str) -> Result<()> {
    ours(redis::cmd("SET").arg(key).arg(value).exec(con), "SET")
}

fn set_nx(con: &mut impl ConnectionLike, key: &str, token: &str) -> Result<bool> {
    let reply: Option<String> =
        ours(redis::cmd("SET").arg(key).arg(token).arg("NX").arg("PX").arg(LOCK_MS).query(con), "SET NX PX")?;
    Ok(reply.is_some())
}

fn incr(con: &mut impl ConnectionLike, key: &str) -> Result<i64> {
    ours(redis::cmd("INCR").arg(key).query(con), "INCR")
}

/// What a Sentinel-aware client does after the primary died: ask a Sentinel where the primary is,
/// and write there, until a write is accepted by a server other than `old_port`. (The time, the
/// new port, a connection to it.)
fn reach_new_primary(
    ctx: &Ctx,
    sentinels: &[PrivateServer],
    old_port: u16,
    probe: &str,
) -> Result<(Duration, u16, TracedConnection)> {
    let start = Instant::now();
    let mut asking: Vec<TracedConnection> = sentinels.iter().map(|s| ctx.connect_private(s)).collect::<Result<_>>()?;
    let mut i = 0;
    loop {
        ctx.check_interrupt()?;
        if start.elapsed() > FAILOVER_LIMIT {
            bail!("the Sentinels did not promote the replica within {}", format_duration(FAILOVER_LIMIT));
        }
        let sentinel = &mut asking[i % SENTINELS];
        i += 1;
        let addr: Option<(String, u16)> =
            redis::cmd("SENTINEL").arg("get-master-addr-by-name").arg(NAME).query(sentinel).ok().flatten();
        if let Some((_, port)) = addr
            && port != old_port
        {
            let client = redis::Client::open(format!("redis://127.0.0.1:{port}"))?;
            if let Ok(con) = crate::server::open_with_limits(&client) {
                let mut con = TracedConnection::new(con, &ctx.trace);
                // The promoted replica may still answer READONLY for a moment.
                if redis::cmd("SET").arg(probe).arg("1").exec(&mut con).is_ok() {
                    return Ok((start.elapsed(), port, con));
                }
            }
        }
        std::thread::sleep(POLL);
    }
}

pub fn failover(ctx: &Ctx) -> Result<DemoReport> {
    let mut report = DemoReport::new("failover", Text::msg("title"));
    let mut primary = start("primary redis-server", PrivateServer::start)?;
    let relay = Relay::start(primary.port())?;
    let replica = start("replica (redis-server --replicaof)", || PrivateServer::start_replica_of(relay.port()))?;
    let settings = SentinelSettings {
        name: NAME.to_string(),
        quorum: QUORUM,
        down_after: DOWN_AFTER,
        failover_timeout: FAILOVER_TIMEOUT,
    };
    let sentinels: Vec<PrivateServer> = (0..SENTINELS)
        .map(|_| start("Sentinel (redis-server --sentinel)", || PrivateServer::start_sentinel(&primary, &settings)))
        .collect::<Result<_>>()?;
    let discovery = Instant::now();
    while !sentinels.iter().all(|s| s.sentinel_sees(NAME, 1, SENTINELS)) {
        ctx.check_interrupt()?;
        if discovery.elapsed() > DISCOVERY_LIMIT {
            bail!("the Sentinels did not find each other and the replica within {}", format_duration(DISCOVERY_LIMIT));
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let discovered = discovery.elapsed();

    let mut p = ctx.connect_private(&primary)?;
    let (lock, fence) = (ctx.key("lock:job:settle"), ctx.key("lock:job:settle:fence"));
    let order = |i: usize| ctx.key(&format!("order:{i}"));
    // Before the partition: writes, and earlier holders' fencing numbers, all on the replica too.
    let before = ctx.n(500, 200);
    for i in 0..before {
        set(&mut p, &order(i), "paid")?;
    }
    let earlier = 3;
    for _ in 0..earlier {
        incr(&mut p, &fence)?;
    }
    let replicated: u64 = ours(redis::cmd("WAIT").arg(1).arg(5_000).query(&mut p), "WAIT")?;
    if replicated < 1 {
        bail!("the replica did not acknowledge the first writes");
    }

    // The partition: the primary goes on acknowledging; the replica gets none of it.
    relay.cut();
    let first_holder = set_nx(&mut p, &lock, "worker-a")?;
    let fence_a = incr(&mut p, &fence)?;
    let during = ctx.n(100, 50);
    for i in before..before + during {
        set(&mut p, &order(i), "paid")?;
    }
    drop(p);
    primary.kill9().context("killing the primary")?;

    let probe = ctx.key("probe");
    let (took, new_port, mut q) = reach_new_primary(ctx, &sentinels, primary.port(), &probe)?;
    let promoted = new_port == replica.port();

    let keys_before: Vec<String> = (0..before).map(order).collect();
    let keys_during: Vec<String> = (before..before + during).map(order).collect();
    let found_before = count_existing(&mut q, &keys_before)?;
    let found_during = count_existing(&mut q, &keys_during)?;
    let lost = during - found_during;
    let second_holder = set_nx(&mut q, &lock, "worker-b")?;
    let fence_b = incr(&mut q, &fence)?;

    report.table(
        Text::msg("timeline"),
        &["step", "figure"],
        vec![
            vec![Text::msg("timeline.discovery"), Text::Plain(format_duration(discovered))],
            vec![
                Text::msg("timeline.before").fact("writes", before),
                Text::Plain(format!("{} / {}", format_count(found_before as u64), format_count(before as u64))),
            ],
            vec![
                Text::msg("timeline.during").fact("writes", during),
                Text::Plain(format!("{} / {}", format_count(found_during as u64), format_count(during as u64))),
            ],
            vec![
                Text::msg("timeline.lock-a"),
                Text::Plain(format!("{} · {fence_a}", if first_holder { "OK" } else { "(nil)" })),
            ],
            vec![Text::msg("timeline.reached").fact("down_after", DOWN_AFTER), Text::Plain(format_duration(took))],
            vec![
                Text::msg("timeline.lock-b"),
                Text::Plain(format!("{} · {fence_b}", if second_holder { "OK" } else { "(nil)" })),
            ],
        ],
    );
    report.claim(
        Claim::new("clients-reach-the-promoted-replica", "", format_duration(took), promoted)
            .fact("took", took)
            .fact("down_after", DOWN_AFTER),
    );
    report.claim(
        Claim::new(
            "acknowledged-writes-lost",
            "",
            format!("{} / {}", format_count(lost as u64), format_count(during as u64)),
            lost > 0 && found_before == before,
        )
        .fact("lost", lost)
        .fact("acked", during)
        .fact("kept", found_before),
    );
    report.claim(
        Claim::new(
            "second-lock-holder",
            "",
            format!("worker-a {} · worker-b {}", ok(first_holder), ok(second_holder)),
            first_holder && second_holder,
        )
        .fact("lease", Duration::from_millis(LOCK_MS)),
    );
    report.claim(
        Claim::new("redis-fence-repeats", "", format!("{fence_a} / {fence_b}"), fence_a == fence_b)
            .fact("a", fence_a)
            .fact("b", fence_b),
    );
    report.note(NoteKind::Info, Text::msg("how-the-partition-is-made"));
    report.note(NoteKind::Info, Text::msg("fence-from-outside").fact("a", fence_a).fact("b", fence_b));
    report.note(
        NoteKind::Caveat,
        Text::msg("timings").fact("down_after", DOWN_AFTER).fact("failover_timeout", FAILOVER_TIMEOUT),
    );
    Ok(report)
}

fn ok(taken: bool) -> &'static str {
    if taken { "OK" } else { "(nil)" }
}
