//! What lesson 7's timed demos share: the pacing of timed rounds with stall detection and retries
//! (TTLs are scaled down to a few hundred ms, so a stalled machine must not decide a result by
//! luck), and the keys of a retried attempt.

use std::thread;
use std::time::{Duration, Instant};

use anyhow::{Result, bail};

use crate::demo::{Ctx, DemoReport, NoteKind};
use crate::measure::format_duration;
use crate::text::Text;

/// How many times a timed scenario is tried when this machine stalls through most of a TTL.
const ATTEMPTS: usize = 3;

/// The key for `suffix` in attempt `attempt`: exactly the notes' shape on the first try, under
/// `retry{n}:` when a stalled attempt is run again (the guard removes both at the end).
pub fn attempt_key(ctx: &Ctx, attempt: usize, suffix: &str) -> String {
    if attempt == 0 { ctx.key(suffix) } else { ctx.key(&format!("retry{attempt}:{suffix}")) }
}

/// `PTTL key` for a table cell: `372 ms`, or the demo's messages `pttl-gone` (-2) and `pttl-none` (-1).
pub fn pttl_text(pttl: i64) -> Text {
    match pttl {
        -2 => Text::msg("pttl-gone"),
        -1 => Text::msg("pttl-none"),
        ms => Text::Plain(format!("{ms} ms")),
    }
}

/// Runs rounds at a fixed rate.
pub struct Pacer {
    every: Duration,
    next: Instant,
}

impl Pacer {
    pub fn new(every: Duration) -> Pacer {
        Pacer { every, next: Instant::now() }
    }

    /// Wait for the next round's slot (the first one is now).
    pub fn wait(&mut self, ctx: &Ctx) -> Result<()> {
        ctx.check_interrupt()?;
        let now = Instant::now();
        if self.next > now {
            thread::sleep(self.next - now);
        }
        self.next += self.every;
        if self.next < Instant::now() {
            self.next = Instant::now() + self.every;
        }
        Ok(())
    }
}

/// The longest time keys went without a refresh: from the moment one refresh was sent to the
/// moment the next one was answered, an upper bound for every key they cover.
pub struct Gaps {
    previous: Instant,
    max: Duration,
}

impl Gaps {
    /// `first_sent` is when the keys were written (and their countdowns started).
    pub fn new(first_sent: Instant) -> Gaps {
        Gaps { previous: first_sent, max: Duration::ZERO }
    }

    /// A refresh sent at `sent` has just been answered.
    pub fn refreshed(&mut self, sent: Instant) {
        self.max = self.max.max(self.previous.elapsed());
        self.previous = sent;
    }

    pub fn max(&self) -> Duration {
        self.max
    }
}

/// A gap this long, against a TTL, means the machine stalled and the attempt cannot decide a claim
/// (a key expires only when the real gap exceeds the TTL; this keeps a margin).
pub fn stalled(gap: Duration, ttl: Duration) -> bool {
    gap >= ttl * 7 / 8
}

/// What one attempt of a timed scenario came to.
pub enum Attempt<T> {
    Done(T),
    /// The machine stalled this long between two refreshes: the TTL may have run out for reasons
    /// that are not the lesson's.
    Stalled(Duration),
}

/// Run `scenario(attempt)` until it is not stalled (at most [`ATTEMPTS`] times), noting each
/// discarded attempt on the report (the demo's message `attempt-discarded`).
pub fn with_retries<T>(
    report: &mut DemoReport,
    ttl: Duration,
    mut scenario: impl FnMut(usize) -> Result<Attempt<T>>,
) -> Result<T> {
    let mut pauses = Vec::new();
    for attempt in 0..ATTEMPTS {
        match scenario(attempt)? {
            Attempt::Done(out) => return Ok(out),
            Attempt::Stalled(gap) => {
                pauses.push(format_duration(gap));
                report.note(
                    NoteKind::Caveat,
                    Text::msg("attempt-discarded").fact("attempt", attempt + 1).fact("gap", gap).fact("ttl", ttl),
                );
            }
        }
    }
    bail!(
        "this machine paused for {} between two refreshes in {ATTEMPTS} attempts in a row, against a {} TTL; run the lesson again when it is less busy",
        pauses.join(", "),
        format_duration(ttl)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_stall_is_most_of_a_ttl() {
        let ttl = Duration::from_millis(400);
        assert!(!stalled(Duration::from_millis(120), ttl));
        assert!(!stalled(Duration::from_millis(349), ttl));
        assert!(stalled(Duration::from_millis(350), ttl));
    }

    #[test]
    fn gaps_run_from_one_send_to_the_next_answer() {
        let t0 = Instant::now();
        let mut gaps = Gaps::new(t0);
        thread::sleep(Duration::from_millis(5));
        let sent = Instant::now();
        gaps.refreshed(sent);
        assert!(gaps.max() >= Duration::from_millis(5));
        let before = gaps.max();
        gaps.refreshed(Instant::now());
        assert!(gaps.max() >= before);
    }
}
