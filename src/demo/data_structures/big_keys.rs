//! Big keys: one set with many members (every holder of a token) on a private redis-server, deleted
//! with `DEL` and with `UNLINK` while a second client keeps sending PING. `DEL` frees every member
//! before it replies, and the server runs nothing else meanwhile; `UNLINK` unlinks the key and hands
//! the freeing to a background thread (lazyfree). The run measures each command's own reply time
//! and the other client's worst wait, next to a quiet window with no command at all.

use std::sync::atomic::{AtomicBool, Ordering};
use std::thread;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, anyhow};
use redis::ConnectionLike;

use crate::demo::support::mix;
use crate::demo::support::short;
use crate::demo::{Ctx, DemoReport, NoteKind};
use crate::measure::{Claim, ClaimStatus, Stats, format_count, format_duration};
use crate::server::{PrivateServer, TracedConnection};
use crate::text::{Fact, Text};

/// The big key: every wallet holding a token.
const BIG_KEY: &str = "token:holders:eth:0xdac17f958d2ee523a2206206994597c13d831ec7";
/// Members per SADD while building it.
const SADD_CHUNK: usize = 1_000;
/// SADDs per pipeline while building it.
const SADDS_PER_PIPELINE: usize = 20;
/// The probe runs this long before the command is sent, and again after it returned.
const MARGIN: Duration = Duration::from_millis(15);
/// "Far shorter": every UNLINK figure must be below the smallest DEL figure divided by this.
const FAR: f64 = 3.0;
/// The probe's pause between PINGs.
const PROBE_PAUSE: Duration = Duration::from_micros(100);

/// What the window around one command looked like.
#[derive(Debug, Clone, Copy)]
enum Mode {
    /// No command: the probe's worst wait on a quiet server (the noise floor).
    Quiet,
    Del,
    Unlink,
}

impl Mode {
    fn id(self) -> &'static str {
        match self {
            Mode::Quiet => "quiet",
            Mode::Del => "del",
            Mode::Unlink => "unlink",
        }
    }
}

/// One window: the command's own reply time (zero for quiet), and the probe's PINGs.
#[derive(Debug, Clone, Copy)]
struct Window {
    reply: Duration,
    worst_ping: Duration,
    pings: usize,
}

/// Every window of one mode.
#[derive(Debug, Default)]
struct Windows {
    replies: Vec<Duration>,
    worst: Vec<Duration>,
    pings: usize,
}

impl Windows {
    fn push(&mut self, w: Window) {
        self.replies.push(w.reply);
        self.worst.push(w.worst_ping);
        self.pings += w.pings;
    }

    fn reply(&self) -> Stats {
        Stats::from_samples(&self.replies).unwrap_or(EMPTY)
    }

    fn worst(&self) -> Stats {
        Stats::from_samples(&self.worst).unwrap_or(EMPTY)
    }
}

const EMPTY: Stats = Stats {
    samples: 0,
    min: Duration::ZERO,
    p50: Duration::ZERO,
    p90: Duration::ZERO,
    p99: Duration::ZERO,
    p999: Duration::ZERO,
    max: Duration::ZERO,
    mean: Duration::ZERO,
    stddev: Duration::ZERO,
};

fn connect(ctx: &Ctx, server: &PrivateServer) -> Result<TracedConnection> {
    let client = redis::Client::open(server.url()).context("opening the private server's URL")?;
    let con = client.get_connection_with_timeout(Duration::from_secs(2)).context("connecting to the private server")?;
    con.set_read_timeout(Some(Duration::from_secs(30)))?;
    con.set_write_timeout(Some(Duration::from_secs(30)))?;
    Ok(TracedConnection::new(con, &ctx.trace))
}

/// A made-up wallet address for holder `i`: a string, so the set is a hash table, not an intset.
fn holder(i: usize) -> String {
    format!("0x{:016x}", mix(i as u64))
}

/// Build the set with `members` members.
fn build(ctx: &Ctx, con: &mut TracedConnection, key: &str, members: usize) -> Result<()> {
    let mut i = 0;
    while i < members {
        ctx.check_interrupt()?;
        let mut pipe = redis::pipe();
        for _ in 0..SADDS_PER_PIPELINE {
            if i >= members {
                break;
            }
            let end = (i + SADD_CHUNK).min(members);
            pipe.cmd("SADD").arg(key).arg((i..end).map(holder).collect::<Vec<_>>()).ignore();
            i = end;
        }
        pipe.exec(con)?;
    }
    let n: usize = redis::cmd("SCARD").arg(key).query(con)?;
    anyhow::ensure!(n == members, "the big key has {n} members instead of {members}");
    Ok(())
}

/// A second client PINGs in a loop while `command` runs on `con` (after [`MARGIN`], and for
/// [`MARGIN`] after it returned).
fn window(ctx: &Ctx, server: &PrivateServer, con: &mut TracedConnection, key: &str, mode: Mode) -> Result<Window> {
    let mut probe = connect(ctx, server)?;
    let stop = AtomicBool::new(false);
    let started = AtomicBool::new(false);
    thread::scope(|s| -> Result<Window> {
        let probe_thread = s.spawn(|| -> Result<(Duration, usize)> {
            let (mut worst, mut pings) = (Duration::ZERO, 0);
            while !stop.load(Ordering::SeqCst) {
                let t = Instant::now();
                redis::cmd("PING").exec(&mut probe)?;
                worst = worst.max(t.elapsed());
                pings += 1;
                started.store(true, Ordering::SeqCst);
                // Paced, not spinning: a busy probe would compete for the CPU with the server.
                thread::sleep(PROBE_PAUSE);
            }
            Ok((worst, pings))
        });
        let mut run = || -> Result<Duration> {
            let wait_start = Instant::now();
            while !started.load(Ordering::SeqCst) {
                anyhow::ensure!(wait_start.elapsed() < Duration::from_secs(5), "the probe never answered");
                thread::sleep(Duration::from_micros(200));
            }
            thread::sleep(MARGIN);
            let t = Instant::now();
            match mode {
                Mode::Quiet => {}
                Mode::Del | Mode::Unlink => {
                    let removed: i64 =
                        redis::cmd(if matches!(mode, Mode::Del) { "DEL" } else { "UNLINK" }).arg(key).query(con)?;
                    anyhow::ensure!(removed == 1, "{key} was not there to remove");
                }
            }
            let reply = t.elapsed();
            thread::sleep(MARGIN);
            Ok(reply)
        };
        let reply = run();
        stop.store(true, Ordering::SeqCst);
        let probed = probe_thread.join().map_err(|_| anyhow!("the PING probe panicked"))?;
        let reply = reply?;
        let (worst_ping, pings) = probed?;
        Ok(Window { reply, worst_ping, pings })
    })
}

/// Held when UNLINK's typical round (the p50 over rounds) is far below DEL's, both in its own reply
/// and in the other client's worst wait; failed when UNLINK's typical worst wait is no better than
/// DEL's; otherwise the run cannot tell. Typical rounds, not every round: with two rounds in
/// `--quick`, one scheduler stall in an UNLINK round made a CI run inconclusive although DEL's wait
/// was 140 times UNLINK's.
fn verdict(del: &Windows, unlink: &Windows) -> ClaimStatus {
    let (d, u, dr, ur) = (del.worst(), unlink.worst(), del.reply(), unlink.reply());
    let far = |small: Duration, big: Duration| small.as_secs_f64() * FAR < big.as_secs_f64();
    if far(u.p50, d.p50) && far(ur.p50, dr.p50) {
        ClaimStatus::Held
    } else if u.p50 >= d.p50 {
        ClaimStatus::Failed
    } else {
        ClaimStatus::Inconclusive
    }
}

fn config(con: &mut impl ConnectionLike, name: &str) -> Result<Option<String>> {
    let pair: Vec<String> = redis::cmd("CONFIG").arg("GET").arg(name).query(con)?;
    Ok(pair.get(1).cloned())
}

/// Build a big key, then DEL it and UNLINK it (rebuilt each time) while another client PINGs.
pub fn big_keys(ctx: &Ctx) -> Result<DemoReport> {
    let mut report = DemoReport::new("big-keys", Text::msg("title"));
    let members = ctx.n(1_000_000, 200_000);
    let rounds = ctx.n(3, 2);
    // The UserError stays in the chain: with no redis-server on PATH the runner skips this demo.
    let server = PrivateServer::start()
        .map_err(anyhow::Error::from)
        .context("the big-keys demo starts its own redis-server (it never deletes big keys on yours) and could not")?;
    let mut con = connect(ctx, &server)?;
    // DEL must be the blocking DEL: Redis 8 may default lazyfree-lazy-user-del to yes.
    let user_del = config(&mut con, "lazyfree-lazy-user-del")?;
    if user_del.as_deref() == Some("yes") {
        server.admin(&["CONFIG", "SET", "lazyfree-lazy-user-del", "no"])?;
    }
    let key = ctx.key(BIG_KEY);

    let (mut quiet, mut del, mut unlink) = (Windows::default(), Windows::default(), Windows::default());
    let (mut build_time, mut memory, mut encoding, mut pending_max) = (Duration::ZERO, 0_u64, String::new(), 0_u64);
    for round in 0..rounds {
        let order = if round % 2 == 0 { [Mode::Del, Mode::Unlink] } else { [Mode::Unlink, Mode::Del] };
        quiet.push(window(ctx, &server, &mut con, &key, Mode::Quiet)?);
        for mode in order {
            let t = Instant::now();
            build(ctx, &mut con, &key, members)?;
            build_time = build_time.max(t.elapsed());
            if memory == 0 {
                memory = redis::cmd("MEMORY").arg("USAGE").arg(&key).query::<Option<u64>>(&mut con)?.unwrap_or(0);
                encoding = redis::cmd("OBJECT").arg("ENCODING").arg(&key).query(&mut con)?;
            }
            let w = window(ctx, &server, &mut con, &key, mode)?;
            match mode {
                Mode::Del => del.push(w),
                Mode::Unlink => {
                    unlink.push(w);
                    let info: redis::InfoDict = redis::cmd("INFO").arg("memory").query(&mut con)?;
                    pending_max = pending_max.max(info.get::<u64>("lazyfree_pending_objects").unwrap_or(0));
                }
                Mode::Quiet => {}
            }
        }
    }

    report.table(
        Text::msg("key").fact("key", short(&key)),
        &["members", "encoding", "memory"],
        vec![vec![
            Text::Plain(format_count(members as u64)),
            Text::Plain(encoding),
            Text::msg("key.memory").fact("bytes", Fact::Bytes(memory)),
        ]],
    );
    let row = |mode: Mode, w: &Windows| {
        let (reply, worst) = (w.reply(), w.worst());
        vec![
            Text::msg(&format!("mode.{}", mode.id())),
            Text::Plain(if matches!(mode, Mode::Quiet) { "–".to_string() } else { format_duration(reply.p50) }),
            Text::Plain(format_duration(worst.p50)),
            Text::Plain(format_duration(worst.max)),
            Text::Plain(format_count(w.pings as u64)),
        ]
    };
    report.table(
        Text::msg("windows").fact("rounds", rounds).fact("margin", MARGIN).fact("pause", PROBE_PAUSE),
        &["command", "reply", "worst-p50", "worst-max", "pings"],
        vec![row(Mode::Quiet, &quiet), row(Mode::Del, &del), row(Mode::Unlink, &unlink)],
    );
    report.note(
        NoteKind::Info,
        Text::msg("setup").fact("build", build_time).fact("setting", user_del.unwrap_or_else(|| "–".to_string())),
    );
    report.note(NoteKind::Info, Text::msg("lazyfree").fact("pending", pending_max));
    report.note(NoteKind::Info, Text::msg("find-them"));

    let (d, u, q) = (del.worst(), unlink.worst(), quiet.worst());
    let (dr, ur) = (del.reply(), unlink.reply());
    let status = verdict(&del, &unlink);
    report.claim(
        Claim::with_status(
            "unlink-spares-other-clients",
            "",
            format!("{} → {}", format_duration(d.p50), format_duration(u.p50)),
            status,
        )
        .fact("members", members)
        .fact("del_reply", dr.p50)
        .fact("unlink_reply", ur.p50)
        .fact("del_worst", d.p50)
        .fact("unlink_worst", u.p50)
        .fact("quiet_worst", q.p50)
        .fact("rounds", rounds),
    );
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn windows(rounds_ms: &[(u64, u64)]) -> Windows {
        let mut w = Windows::default();
        for &(reply, worst) in rounds_ms {
            w.push(Window { reply: Duration::from_millis(reply), worst_ping: Duration::from_millis(worst), pings: 1 });
        }
        w
    }

    #[test]
    fn the_claim_holds_when_the_typical_rounds_are_far_apart() {
        let del = windows(&[(500, 500), (550, 540), (520, 530)]);
        assert_eq!(verdict(&del, &windows(&[(1, 2), (1, 3), (1, 2)])), ClaimStatus::Held);
        // One noisy UNLINK round (a scheduler stall) does not decide it.
        assert_eq!(verdict(&del, &windows(&[(1, 2), (1, 300), (1, 2)])), ClaimStatus::Held);
        // UNLINK's typical wait within 3x of DEL's: the run cannot tell.
        assert_eq!(verdict(&del, &windows(&[(1, 200), (1, 300), (1, 250)])), ClaimStatus::Inconclusive);
        // UNLINK no better than DEL.
        assert_eq!(verdict(&del, &windows(&[(1, 540), (1, 600), (1, 560)])), ClaimStatus::Failed);
    }

    #[test]
    fn holders_are_distinct_strings() {
        let a: std::collections::HashSet<String> = (0..10_000).map(holder).collect();
        assert_eq!(a.len(), 10_000);
        assert!(holder(7).starts_with("0x") && holder(7).len() == 18);
    }
}
