//! Lesson 7 (notes: 会话存储, the session store; `apps/websocket/internal/svc/redischannel.go`, a Hash
//! channelKey → clientID with a 24 h expiry; `apps/websocket/internal/svc/websocketcontext.go`, a Set
//! `user:{uid}:clients`): state that must disappear on its own when its owner goes away.
//!
//! One demo per file: [`expiry`] (login sessions with sliding expiry, against a SQL table that needs
//! a sweeper), [`subscriptions`] (a whole-hash TTL cannot expire one subscriber; per-member
//! deadlines can), [`clients`] (a node that dies runs no disconnect handler; a node-ownership
//! janitor removes what it left). This file holds what they share: the clock, the pacing of timed
//! rounds with stall detection, and key counting.
//!
//! TTLs are scaled down (30 min and 24 h become a few hundred ms) and read through PTTL; when this
//! machine stalls for most of a TTL, an attempt is discarded and run again rather than decided by
//! luck.

mod clients;
mod expiry;
mod subscriptions;

pub use clients::ws_clients;
pub use expiry::session_expiry;
pub use subscriptions::ws_subscriptions;

use std::thread;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::{Context, Result, bail, ensure};
use rand::RngExt;
use redis::ConnectionLike;

use super::{Ctx, DemoReport, NoteKind};
use crate::i18n::Lang;
use crate::measure::format_duration;

/// How many times a timed scenario is tried when this machine stalls through most of a TTL.
const ATTEMPTS: usize = 3;
/// Keys per EXISTS command when counting.
const EXISTS_CHUNK: usize = 500;
/// The longest wait for a key to expire on its own.
const EXPIRY_WAIT_LIMIT: Duration = Duration::from_secs(10);

/// Milliseconds since the Unix epoch: the application clock that deadlines (zset scores, SQL
/// `expires_at`) are written in. Every writer and sweeper must share it, so it is one clock here.
pub fn now_ms() -> Result<i64> {
    let since = SystemTime::now().duration_since(UNIX_EPOCH).context("the system clock is before 1970")?;
    i64::try_from(since.as_millis()).context("the system clock is out of range")
}

/// Milliseconds of a duration, for `PX`/`PEXPIRE` and deadlines (never 0: `PX 0` is an error).
pub fn millis(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX).max(1)
}

/// A random 128-bit id in hex: session ids must not be guessable.
pub fn new_id() -> String {
    let mut rng = rand::rng();
    format!("{:016x}{:016x}", rng.random::<u64>(), rng.random::<u64>())
}

/// The key for `suffix` in attempt `attempt`: exactly the notes' shape on the first try, under
/// `retry{n}:` when a stalled attempt is run again (the guard removes both at the end).
pub fn attempt_key(ctx: &Ctx, attempt: usize, suffix: &str) -> String {
    if attempt == 0 { ctx.key(suffix) } else { ctx.key(&format!("retry{attempt}:{suffix}")) }
}

/// How many of `keys` exist (EXISTS counts a key once per mention, so pass each key once).
pub fn count_existing(con: &mut impl ConnectionLike, keys: &[String]) -> Result<usize> {
    if keys.is_empty() {
        return Ok(0);
    }
    let mut pipe = redis::pipe();
    for chunk in keys.chunks(EXISTS_CHUNK) {
        pipe.cmd("EXISTS").arg(chunk);
    }
    let counts: Vec<usize> = pipe.query(con).context("counting keys with EXISTS")?;
    Ok(counts.iter().sum())
}

/// A `SELECT COUNT(*) …` as a usize.
pub fn sql_count(db: &rusqlite::Connection, sql: &str, params: impl rusqlite::Params) -> Result<usize> {
    let n: i64 = db.query_row(sql, params, |r| r.get(0)).with_context(|| format!("counting with {sql}"))?;
    usize::try_from(n).context("a negative count")
}

/// `PTTL key` as text: `372 ms`, `-2 (gone)`, `-1 (no TTL)`.
pub fn pttl_text(ctx: &Ctx, pttl: i64) -> String {
    match pttl {
        -2 => ctx.tr("-2 (gone)", "-2（已不存在）").to_string(),
        -1 => ctx.tr("-1 (no TTL)", "-1（无过期时间）").to_string(),
        ms => format!("{ms} ms"),
    }
}

pub fn pttl(con: &mut impl ConnectionLike, key: &str) -> Result<i64> {
    Ok(redis::cmd("PTTL").arg(key).query(con)?)
}

/// Poll PTTL until `key` has expired, calling `between` on every poll (a live node's heartbeat);
/// how long that took.
pub fn wait_until_gone<C: ConnectionLike>(
    ctx: &Ctx,
    con: &mut C,
    key: &str,
    mut between: impl FnMut(&mut C) -> Result<()>,
) -> Result<Duration> {
    let start = Instant::now();
    loop {
        ctx.check_interrupt()?;
        between(con)?;
        let pttl = pttl(con, key)?;
        if pttl == -2 {
            return Ok(start.elapsed());
        }
        ensure!(pttl != -1, "{key} has no TTL, so it will never expire");
        ensure!(
            start.elapsed() < EXPIRY_WAIT_LIMIT,
            "{key} did not expire within {}",
            format_duration(EXPIRY_WAIT_LIMIT)
        );
        thread::sleep(Duration::from_millis(pttl.clamp(1, 20) as u64));
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
/// discarded attempt on the report.
pub fn with_retries<T>(
    ctx: &Ctx,
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
                    match ctx.lang {
                        Lang::En => format!(
                            "Attempt {} was discarded: this machine paused for {} between two refreshes, against a TTL of {}, so expiry could have come from the stall. It ran again under retry{}: keys.",
                            attempt + 1,
                            format_duration(gap),
                            format_duration(ttl),
                            attempt + 1
                        ),
                        Lang::Zh => format!(
                            "第 {} 次尝试作废：本机在两次续期之间停顿了 {}，而 TTL 只有 {}，过期可能是停顿造成的。已用 retry{}: 前缀的键重新运行。",
                            attempt + 1,
                            format_duration(gap),
                            format_duration(ttl),
                            attempt + 1
                        ),
                    },
                )
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
    fn ids_are_128_bit_hex_and_differ() {
        let (a, b) = (new_id(), new_id());
        assert_eq!(a.len(), 32);
        assert!(a.chars().all(|c| c.is_ascii_hexdigit()));
        assert_ne!(a, b);
    }

    #[test]
    fn millis_is_never_zero() {
        assert_eq!(millis(Duration::ZERO), 1);
        assert_eq!(millis(Duration::from_millis(400)), 400);
    }

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

    #[test]
    fn the_clock_is_after_2020() {
        assert!(now_ms().unwrap() > 1_577_836_800_000);
    }
}
