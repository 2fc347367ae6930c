//! Lesson 5 (notes: `apps/websocket/internal/svc/websocket_cluster.go`): broadcast across WebSocket
//! nodes. Pub/Sub fans one PUBLISH out to every node listening right now — at-most-once, no history —
//! so a node that is down misses what was sent meanwhile; a Stream with one consumer group per node
//! keeps the messages for replay and tracks what was not acknowledged. The SQL side polls a table,
//! so its delivery latency is set by the poll interval.
//!
//! One demo per file: [`fanout`] (every node gets every message), [`outage`] (a node that is down,
//! Pub/Sub against a Stream), [`polling`] (the SQL way). This file holds what they share: the
//! payload, the subscriber loop and the subscription checks.

mod fanout;
mod outage;
mod polling;

pub use fanout::broadcast;
pub use outage::offline_node;
pub use polling::polling;

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::thread;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, anyhow, bail};
use redis::ConnectionLike;

use super::Ctx;
use crate::measure::{Stats, format_duration};
use crate::text::Text;

/// The notes' cluster broadcast channel (inside the run's namespace: Pub/Sub ignores DB numbers).
const CHANNEL: &str = "ws:broadcast";
/// How long one Pub/Sub read waits before the loop looks at its flags again.
const READ_TIMEOUT: Duration = Duration::from_millis(100);
/// Once publishing is over, a subscriber that saw nothing for this long has everything there is.
const GRACE: Duration = Duration::from_secs(1);
/// A subscriber or poller that saw nothing for this long while messages are still due is stuck.
const STALL: Duration = Duration::from_secs(10);
/// The longest wait for subscribers to register (PUBSUB NUMSUB).
const SUBSCRIBE_WAIT: Duration = Duration::from_secs(5);

/// A broadcast's payload: its sequence number and when it was sent (ns since the demo's origin).
pub fn encode(seq: u64, sent_ns: u64) -> String {
    format!("{seq}:{sent_ns}")
}

/// The inverse of [`encode`].
pub fn decode(payload: &str) -> Option<(u64, u64)> {
    let (seq, sent) = payload.split_once(':')?;
    Some((seq.parse().ok()?, sent.parse().ok()?))
}

/// The sequence numbers of `expected` that are not in `got`, in order.
pub fn missing(got: &[u64], expected: impl IntoIterator<Item = u64>) -> Vec<u64> {
    let have: std::collections::HashSet<u64> = got.iter().copied().collect();
    expected.into_iter().filter(|s| !have.contains(s)).collect()
}

/// Did `got` arrive as exactly `expected`, in that order, with nothing extra or doubled?
pub fn exactly(got: &[u64], expected: impl IntoIterator<Item = u64>) -> bool {
    got.iter().copied().eq(expected)
}

/// Nanoseconds since `origin`: the send stamp every thread compares against the same clock.
fn stamp(origin: Instant) -> u64 {
    origin.elapsed().as_nanos() as u64
}

/// Time from a send stamp until now.
fn since_stamp(origin: Instant, sent_ns: u64) -> Duration {
    origin.elapsed().saturating_sub(Duration::from_nanos(sent_ns))
}

fn node_name(i: usize) -> String {
    format!("ws-{}", i + 1)
}

/// The messages `<demo>.yes` and `<demo>.no`.
fn yes_no(b: bool) -> Text {
    Text::msg(if b { "yes" } else { "no" })
}

fn stats(latencies: &[Duration], what: &str) -> Result<Stats> {
    Stats::from_samples(latencies).ok_or_else(|| anyhow!("no message reached the {what}, so there is no latency"))
}

/// `min–max` of PUBLISH replies, or the one value when they are all equal.
fn reply_span(replies: &[i64]) -> String {
    let (min, max) = (replies.iter().min().copied().unwrap_or(0), replies.iter().max().copied().unwrap_or(0));
    if min == max { min.to_string() } else { format!("{min}–{max}") }
}

/// All replies equal to `want`.
fn all_equal(replies: &[i64], want: i64) -> bool {
    !replies.is_empty() && replies.iter().all(|&r| r == want)
}

#[derive(Debug, Clone, Copy)]
enum Subscription<'a> {
    Channel(&'a str),
    Pattern(&'a str),
}

/// What one subscriber saw.
#[derive(Debug, Default)]
struct Received {
    seqs: Vec<u64>,
    latencies: Vec<Duration>,
    via_pattern: usize,
}

/// Flags between a publisher and its subscriber threads.
#[derive(Debug, Default)]
struct Signals {
    /// Subscribers whose SUBSCRIBE/PSUBSCRIBE the server has confirmed.
    ready: AtomicUsize,
    /// Publishing is over: stop once nothing more arrives.
    done: AtomicBool,
    /// Something failed: stop now.
    stop: AtomicBool,
}

/// One subscriber node: its own connection in Pub/Sub mode, a read timeout so it never blocks for
/// good, and a receive time for every message.
fn listen(
    ctx: &Ctx,
    origin: Instant,
    sub: Subscription,
    expected: usize,
    signals: &Signals,
    name: &str,
) -> Result<Received> {
    let mut con = ctx.connect()?;
    let mut ps = con.inner_mut().as_pubsub();
    ps.set_read_timeout(Some(READ_TIMEOUT))?;
    match sub {
        Subscription::Channel(channel) => {
            ps.subscribe(channel).with_context(|| format!("{name}: SUBSCRIBE {channel}"))?;
            ctx.trace.record(&["SUBSCRIBE", channel]);
        }
        Subscription::Pattern(pattern) => {
            ps.psubscribe(pattern).with_context(|| format!("{name}: PSUBSCRIBE {pattern}"))?;
            ctx.trace.record(&["PSUBSCRIBE", pattern]);
        }
    }
    // subscribe() returns after the server's confirmation: from here on nothing published is missed.
    signals.ready.fetch_add(1, Ordering::SeqCst);
    let mut got = Received::default();
    let mut last = Instant::now();
    while got.seqs.len() < expected && !signals.stop.load(Ordering::SeqCst) {
        ctx.check_interrupt()?;
        match ps.get_message() {
            Ok(msg) => {
                let now = origin.elapsed();
                let payload: String = msg.get_payload()?;
                let (seq, sent) = decode(&payload).ok_or_else(|| anyhow!("{name}: unexpected payload {payload:?}"))?;
                got.latencies.push(now.saturating_sub(Duration::from_nanos(sent)));
                got.seqs.push(seq);
                got.via_pattern += usize::from(msg.from_pattern());
                last = Instant::now();
            }
            Err(e) if e.is_timeout() => {
                let idle = last.elapsed();
                if signals.done.load(Ordering::SeqCst) && idle >= GRACE {
                    break;
                }
                if idle >= STALL {
                    bail!(
                        "{name}: no Pub/Sub message for {} ({} of {expected} received); is the server overloaded?",
                        format_duration(idle),
                        got.seqs.len()
                    );
                }
            }
            Err(e) => return Err(e).with_context(|| format!("{name}: reading Pub/Sub messages")),
        }
    }
    Ok(got)
}

/// `PUBSUB NUMSUB channel`: how many connections subscribe to exactly this channel (patterns not counted).
fn numsub(con: &mut impl ConnectionLike, channel: &str) -> Result<i64> {
    let (_, n): (String, i64) = redis::cmd("PUBSUB").arg("NUMSUB").arg(channel).query(con)?;
    Ok(n)
}

/// Wait until the server counts `want` subscribers on `channel`; messages published earlier would
/// be lost to the late ones.
fn wait_numsub(ctx: &Ctx, con: &mut impl ConnectionLike, channel: &str, want: i64) -> Result<()> {
    let deadline = Instant::now() + SUBSCRIBE_WAIT;
    loop {
        ctx.check_interrupt()?;
        let n = numsub(con, channel)?;
        if n == want {
            return Ok(());
        }
        if Instant::now() >= deadline {
            bail!(
                "PUBSUB NUMSUB {channel} is {n}, expected {want} after {}: a subscriber did not register",
                format_duration(SUBSCRIBE_WAIT)
            );
        }
        thread::sleep(Duration::from_millis(5));
    }
}

/// Wait until `threads` subscriber threads are confirmed and the server counts `want` on `channel`;
/// give up at once if a thread ended early (its own error then explains why).
fn wait_subscribed(
    ctx: &Ctx,
    con: &mut impl ConnectionLike,
    signals: &Signals,
    threads: usize,
    channel: &str,
    want: i64,
    ended_early: impl Fn() -> bool,
) -> Result<()> {
    let deadline = Instant::now() + SUBSCRIBE_WAIT;
    while signals.ready.load(Ordering::SeqCst) < threads {
        ctx.check_interrupt()?;
        if ended_early() {
            bail!("a subscriber stopped before it subscribed");
        }
        if Instant::now() >= deadline {
            bail!(
                "only {} of {threads} subscribers were ready after {}",
                signals.ready.load(Ordering::SeqCst),
                format_duration(SUBSCRIBE_WAIT)
            );
        }
        thread::sleep(Duration::from_millis(5));
    }
    wait_numsub(ctx, con, channel, want)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn payload_round_trips() {
        assert_eq!(decode(&encode(42, 123_456_789)), Some((42, 123_456_789)));
        assert_eq!(decode("7"), None);
        assert_eq!(decode("x:1"), None);
        assert_eq!(decode("1:-5"), None);
    }

    #[test]
    fn missing_lists_the_gap_in_order() {
        let got: Vec<u64> = (0..3).chain(7..10).collect();
        assert_eq!(missing(&got, 0..10), vec![3, 4, 5, 6]);
        assert!(missing(&got, 0..3).is_empty());
    }

    #[test]
    fn exactly_needs_order_and_no_duplicates() {
        assert!(exactly(&[0, 1, 2], 0..3));
        assert!(!exactly(&[0, 2, 1], 0..3));
        assert!(!exactly(&[0, 1, 1, 2], 0..3));
        assert!(!exactly(&[0, 1], 0..3));
        assert!(exactly(&[0, 1, 5, 6], (0..2).chain(5..7)));
    }

    #[test]
    fn reply_span_shows_one_value_or_a_range() {
        assert_eq!(reply_span(&[4, 4, 4]), "4");
        assert_eq!(reply_span(&[3, 5, 4]), "3–5");
        assert!(all_equal(&[3, 3], 3));
        assert!(!all_equal(&[], 3));
        assert!(!all_equal(&[3, 4], 3));
    }
}
