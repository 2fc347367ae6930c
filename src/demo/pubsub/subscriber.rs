//! What the three demos share: the payload (a sequence number and a send stamp), the subscriber
//! loop, and the checks that every subscriber is registered before anything is published.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::thread;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, anyhow, bail};
use redis::ConnectionLike;

use super::{GRACE, READ_TIMEOUT, STALL, SUBSCRIBE_WAIT};
use crate::demo::Ctx;
use crate::measure::{Stats, format_duration};
use crate::text::Text;

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
pub(super) fn stamp(origin: Instant) -> u64 {
    origin.elapsed().as_nanos() as u64
}

/// Time from a send stamp until now.
pub(super) fn since_stamp(origin: Instant, sent_ns: u64) -> Duration {
    origin.elapsed().saturating_sub(Duration::from_nanos(sent_ns))
}

pub(super) fn node_name(i: usize) -> String {
    format!("ws-{}", i + 1)
}

/// The messages `<demo>.yes` and `<demo>.no`.
pub(super) fn yes_no(b: bool) -> Text {
    Text::msg(if b { "yes" } else { "no" })
}

pub(super) fn stats(latencies: &[Duration], what: &str) -> Result<Stats> {
    Stats::from_samples(latencies).ok_or_else(|| anyhow!("no message reached the {what}, so there is no latency"))
}

/// `min–max` of PUBLISH replies, or the one value when they are all equal.
pub(super) fn reply_span(replies: &[i64]) -> String {
    let (min, max) = (replies.iter().min().copied().unwrap_or(0), replies.iter().max().copied().unwrap_or(0));
    if min == max { min.to_string() } else { format!("{min}–{max}") }
}

/// All replies equal to `want`.
pub(super) fn all_equal(replies: &[i64], want: i64) -> bool {
    !replies.is_empty() && replies.iter().all(|&r| r == want)
}

#[derive(Debug, Clone, Copy)]
pub(super) enum Subscription<'a> {
    Channel(&'a str),
    Pattern(&'a str),
}

/// What one subscriber saw.
#[derive(Debug, Default)]
pub(super) struct Received {
    pub(super) seqs: Vec<u64>,
    pub(super) latencies: Vec<Duration>,
    pub(super) via_pattern: usize,
}

/// Flags between a publisher and its subscriber threads.
#[derive(Debug, Default)]
pub(super) struct Signals {
    /// Subscribers whose SUBSCRIBE/PSUBSCRIBE the server has confirmed.
    pub(super) ready: AtomicUsize,
    /// Publishing is over: stop once nothing more arrives.
    pub(super) done: AtomicBool,
    /// Something failed: stop now.
    pub(super) stop: AtomicBool,
}

/// One subscriber node: its own connection in Pub/Sub mode, a read timeout so it never blocks for
/// good, and a receive time for every message.
pub(super) fn listen(
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
pub(super) fn numsub(con: &mut impl ConnectionLike, channel: &str) -> Result<i64> {
    let (_, n): (String, i64) = redis::cmd("PUBSUB").arg("NUMSUB").arg(channel).query(con)?;
    Ok(n)
}

/// Wait until the server counts `want` subscribers on `channel`; messages published earlier would
/// be lost to the late ones.
pub(super) fn wait_numsub(ctx: &Ctx, con: &mut impl ConnectionLike, channel: &str, want: i64) -> Result<()> {
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
pub(super) fn wait_subscribed(
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
