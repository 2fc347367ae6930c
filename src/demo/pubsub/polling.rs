//! The SQL way: no push, so a node polls `SELECT ... WHERE id > last` every T ms. The same
//! messages go out through PUBLISH at the same time, so the two latencies are measured side by side:
//! in rounds of consecutive messages, INSERT and PUBLISH taking turns to go first, so round i of
//! each side covers the same messages and the same moments.

use std::path::Path;
use std::sync::atomic::Ordering;
use std::thread;
use std::time::{Duration, Instant};

use anyhow::{Result, anyhow, bail};
use rand::rngs::Xoshiro256PlusPlus;
use rand::{RngExt, SeedableRng};
use rusqlite::Connection;

use super::subscriber::{Signals, Subscription, encode, exactly, listen, since_stamp, stamp, wait_subscribed};
use super::{CHANNEL, STALL};
use crate::demo::{Ctx, DemoReport, NoteKind};
use crate::measure::{Backend, Claim, ClaimStatus, Kind, Measurement, format_count, format_duration, new_group};
use crate::sql::{self, Durability};
use crate::text::{Fact, Text};

/// Pub/Sub must beat polling by at least this factor at p50 for the comparison claim to hold.
const MIN_POLLING_RATIO: f64 = 5.0;

/// The rounds the messages are split into (consecutive blocks): one p50 per side per round.
fn rounds_of(seqs: &[u64], latencies: &[std::time::Duration], per_round: usize, rounds: usize) -> Vec<Vec<Duration>> {
    let mut out = vec![Vec::new(); rounds];
    for (seq, latency) in seqs.iter().zip(latencies) {
        out[(*seq as usize / per_round.max(1)).min(rounds - 1)].push(*latency);
    }
    out
}

/// What the SQL poller saw.
#[derive(Debug, Default)]
struct Polled {
    seqs: Vec<u64>,
    latencies: Vec<Duration>,
    polls: usize,
    /// Polls after the last row arrived (the quiet period): each found nothing.
    idle_polls: usize,
}

fn open_events(path: &Path) -> Result<Connection> {
    let db = sql::open_file(path, Durability::Off)?;
    db.busy_timeout(Duration::from_secs(5))?;
    Ok(db)
}

/// Poll `SELECT ... WHERE id > last` every `interval` (fixed rate) until publishing is over.
fn poll_rows(
    ctx: &Ctx,
    path: &Path,
    origin: Instant,
    interval: Duration,
    expected: usize,
    signals: &Signals,
) -> Result<Polled> {
    let db = open_events(path)?;
    let mut stmt = db.prepare("SELECT id, seq, sent_ns FROM ws_events WHERE id > ?1 ORDER BY id")?;
    let mut got = Polled::default();
    let mut last_id = 0_i64;
    let mut last_row = Instant::now();
    let mut next = Instant::now() + interval;
    loop {
        ctx.check_interrupt()?;
        if signals.stop.load(Ordering::SeqCst) {
            return Ok(got);
        }
        let finishing = signals.done.load(Ordering::SeqCst);
        let now = Instant::now();
        if next > now {
            thread::sleep(next - now);
        }
        next += interval;
        if next < Instant::now() {
            next = Instant::now() + interval;
        }
        let rows: Vec<(i64, i64, i64)> =
            stmt.query_map([last_id], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?.collect::<rusqlite::Result<_>>()?;
        got.polls += 1;
        if rows.is_empty() {
            if got.seqs.len() >= expected {
                got.idle_polls += 1;
            } else if last_row.elapsed() >= STALL {
                bail!("the poller saw no new row for {} ({} of {expected})", format_duration(STALL), got.seqs.len());
            }
        }
        for (id, seq, sent) in rows {
            got.latencies.push(since_stamp(origin, sent as u64));
            got.seqs.push(seq as u64);
            last_id = id;
            last_row = Instant::now();
        }
        if finishing {
            return Ok(got);
        }
    }
}

/// The same messages delivered two ways at once: PUBLISH to a subscriber, and INSERT into a table
/// that a poller SELECTs every T ms. Then a quiet period: the poller keeps querying.
pub fn polling(ctx: &Ctx) -> Result<DemoReport> {
    let mut report = DemoReport::new("polling", Text::msg("title"));
    let interval = Duration::from_millis(ctx.n(100, 50) as u64);
    let rounds = ctx.n(15, 12);
    let messages = ctx.n(150, 60);
    let per_round = messages / rounds;
    let quiet = Duration::from_millis(ctx.n(500, 250) as u64);
    let channel = ctx.key(CHANNEL);
    let path = ctx.scratch.join("ws_events.db");
    let writer = open_events(&path)?;
    writer.execute_batch(
        "CREATE TABLE IF NOT EXISTS ws_events (id INTEGER PRIMARY KEY, seq INTEGER NOT NULL, sent_ns INTEGER NOT NULL, payload TEXT NOT NULL);
         DELETE FROM ws_events;",
    )?;
    let mut insert = writer.prepare("INSERT INTO ws_events (seq, sent_ns, payload) VALUES (?1, ?2, ?3)")?;
    let origin = Instant::now();
    let signals = Signals::default();
    let mut pubcon = ctx.connect()?;

    let (sent, sub, polled) = thread::scope(|scope| {
        let (channel_ref, signals_ref, path_ref) = (channel.as_str(), &signals, path.as_path());
        let sub =
            scope.spawn(move || listen(ctx, origin, Subscription::Channel(channel_ref), messages, signals_ref, "ws-1"));
        let poller = scope.spawn(move || poll_rows(ctx, path_ref, origin, interval, messages, signals_ref));
        let sent = (|| -> Result<()> {
            wait_subscribed(ctx, &mut pubcon, &signals, 1, &channel, 1, || sub.is_finished() || poller.is_finished())?;
            let mut rng = Xoshiro256PlusPlus::seed_from_u64(5);
            for seq in 0..messages as u64 {
                ctx.check_interrupt()?;
                // Irregular traffic, so arrivals fall anywhere within a poll interval.
                thread::sleep(Duration::from_millis(rng.random_range(2..=12)));
                let body = format!("{{\"type\":\"kline\",\"seq\":{seq}}}");
                // Rounds alternate which side goes first: INSERT, PUBLISH | PUBLISH, INSERT | …
                let insert_first = (seq as usize / per_round.max(1)).is_multiple_of(2);
                if !insert_first {
                    redis::cmd("PUBLISH").arg(&channel).arg(encode(seq, stamp(origin))).exec(&mut pubcon)?;
                }
                insert.execute(rusqlite::params![seq as i64, stamp(origin) as i64, body])?;
                if insert_first {
                    redis::cmd("PUBLISH").arg(&channel).arg(encode(seq, stamp(origin))).exec(&mut pubcon)?;
                }
            }
            // The quiet period: nothing new happens.
            let until = Instant::now() + quiet;
            while Instant::now() < until {
                ctx.check_interrupt()?;
                thread::sleep(Duration::from_millis(10));
            }
            Ok(())
        })();
        signals.done.store(true, Ordering::SeqCst);
        if sent.is_err() {
            signals.stop.store(true, Ordering::SeqCst);
        }
        let sub = sub.join().unwrap_or_else(|_| Err(anyhow!("the subscriber thread panicked")));
        let polled = poller.join().unwrap_or_else(|_| Err(anyhow!("the poller thread panicked")));
        (sent, sub, polled)
    });
    let sub = sub?;
    let polled = polled?;
    sent?;

    let ms = interval.as_millis() as u64;
    // Both sides' round i covers the same messages, sent at the same moments: one group.
    let group = new_group();
    let pubsub = report.measured(Measurement::from_rounds(
        "pubsub-delivery",
        "PUBLISH → SUBSCRIBE",
        Backend::Redis,
        Kind::Latency,
        group,
        1,
        &rounds_of(&sub.seqs, &sub.latencies, per_round, rounds),
    )?);
    let poll = report.measured(Measurement::from_rounds(
        "polling-delay",
        format!("INSERT → SELECT (T = {ms} ms)"),
        Backend::Sqlite,
        Kind::Latency,
        group,
        1,
        &rounds_of(&polled.seqs, &polled.latencies, per_round, rounds),
    )?);
    let cmp = report.compare("pubsub-vs-polling", &pubsub, &poll)?;
    report.table(
        Text::msg("work"),
        &["rows", "selects", "idle-selects", "quiet"],
        vec![vec![
            Text::Plain(format!("{} / {}", format_count(polled.seqs.len() as u64), format_count(messages as u64))),
            Text::Plain(format_count(polled.polls as u64)),
            Text::Plain(format_count(polled.idle_polls as u64)),
            Text::Plain(format_duration(quiet)),
        ]],
    );
    report.note(NoteKind::Info, Text::msg("stamps"));
    report.note(NoteKind::Caveat, Text::msg("poll-faster"));

    let all_delivered = exactly(&sub.seqs, 0..messages as u64) && exactly(&polled.seqs, 0..messages as u64);
    let delivery = Claim::ratio_above("pubsub-beats-polling", "", &cmp, MIN_POLLING_RATIO)
        .fact("ratio", Fact::Ratio(cmp.ratio))
        .fact("ms", ms)
        .fact("pubsub_p50", pubsub.p50())
        .fact("poll_p50", poll.p50())
        .fact("pubsub_p99", pubsub.stats.p99)
        .fact("poll_p99", poll.stats.p99)
        .fact("messages", messages);
    // A message that did not arrive fails the claim whatever the ratio.
    report.claim(if all_delivered {
        delivery
    } else {
        Claim { status: ClaimStatus::Failed, holds: false, timed: false, ..delivery }
    });
    // Arrivals fall anywhere in a poll interval, so the wait is spread over 0..T: p50 near T/2, p99 near T.
    let follows_interval = poll.stats.p99 >= interval / 2 && poll.p50() >= interval / 10;
    report.claim(
        Claim::new(
            "polling-delay-follows-interval",
            "",
            format!("p50 {} / T {ms} ms", format_duration(poll.p50())),
            follows_interval,
        )
        .fact("ms", ms)
        .fact("p50", poll.p50())
        .fact("p99", poll.stats.p99),
    );
    report.claim(
        Claim::new(
            "polling-queries-when-idle",
            "",
            // Empty SELECTs in the quiet period.
            format!("{} × SELECT → ∅", polled.idle_polls),
            polled.idle_polls >= 1,
        )
        .fact("quiet", quiet)
        .fact("idle", polled.idle_polls),
    );
    Ok(report)
}
