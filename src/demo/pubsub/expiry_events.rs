//! Keyspace notifications (the notes' "事件通知"): Redis can publish an event when a key expires, on
//! `__keyevent@<db>__:expired`. They are off by default (`notify-keyspace-events ""`), so this demo
//! switches them on with CONFIG SET on a private redis-server of its own — never the learner's,
//! whose setting it only reads. It measures how long after its TTL each event arrives (expiry is
//! lazy plus an active sampling cycle, so an untouched key's event can come late), and shows that a
//! subscriber which was disconnected while keys expired never sees those events: Pub/Sub is
//! at-most-once, and nothing keeps them for it.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, anyhow, bail};
use redis::{ConnectionLike, PubSub};

use super::subscriber::wait_numsub;
use super::{GRACE, READ_TIMEOUT, STALL};
use crate::demo::{Ctx, DemoReport, NoteKind};
use crate::measure::{Backend, Claim, Kind, Measurement, format_count, format_duration, new_group};
use crate::server::{PrivateServer, TracedConnection};
use crate::text::{Fact, Text};

/// Expired events of database 0 (the private server's only one in use).
const EXPIRED: &str = "__keyevent@0__:expired";
/// What the demo switches on: `E` keyevent channels, `x` expired events.
const EVENTS: &str = "Ex";
/// The TTL of the keys that expire while notifications are still off, and in the outage phases.
const SHORT_TTL: Duration = Duration::from_millis(20);
/// The first key of the timed batch expires after this; the last after this plus the spread.
const FIRST_TTL: Duration = Duration::from_millis(100);
/// How long the server may take to expire keys that nobody reads (INFO stats `expired_keys`).
const EXPIRE_WAIT: Duration = Duration::from_secs(5);
/// A reader touches every other key of the timed batch this long after its TTL.
const READ_AFTER: Duration = Duration::from_millis(1);
/// The timed batch is cut into this many slices of consecutive keys: the rounds that the
/// read-against-untouched comparison takes its interval from.
const SLICES: usize = 8;

/// One expired event as a subscriber saw it: the key, and when it arrived.
struct Event {
    key: String,
    at: Instant,
}

fn config_get(con: &mut impl ConnectionLike, name: &str) -> Result<String> {
    let pair: Vec<String> = redis::cmd("CONFIG").arg("GET").arg(name).query(con)?;
    pair.get(1).cloned().ok_or_else(|| anyhow!("CONFIG GET {name} returned nothing"))
}

/// `expired_keys` from INFO stats: keys the server has expired since it started.
fn expired_keys(con: &mut impl ConnectionLike) -> Result<u64> {
    let info: redis::InfoDict = redis::cmd("INFO").arg("stats").query(con).context("INFO stats")?;
    info.get("expired_keys").ok_or_else(|| anyhow!("INFO stats has no expired_keys"))
}

/// Wait until the server has expired `want` more keys than `before`; the count it reached.
fn wait_expired(ctx: &Ctx, con: &mut impl ConnectionLike, before: u64, want: u64) -> Result<u64> {
    let deadline = Instant::now() + EXPIRE_WAIT;
    loop {
        ctx.check_interrupt()?;
        let done = expired_keys(con)?.saturating_sub(before);
        if done >= want || Instant::now() >= deadline {
            return Ok(done);
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// SET each key with its own PX in one pipeline.
fn set_with_ttls(con: &mut impl ConnectionLike, keys: &[(String, Duration)]) -> Result<()> {
    let mut pipe = redis::pipe();
    for (key, ttl) in keys {
        pipe.cmd("SET").arg(key).arg("1").arg("PX").arg(ttl.as_millis() as u64).ignore();
    }
    pipe.exec(con).context("SET … PX")?;
    Ok(())
}

/// Read expired events until `want` arrived, or `limit` passed; every event is kept (an
/// unexpected key counts against the claims).
fn collect(ctx: &Ctx, ps: &mut PubSub<'_>, want: usize, limit: Duration) -> Result<Vec<Event>> {
    let deadline = Instant::now() + limit;
    let mut got = Vec::new();
    while got.len() < want && Instant::now() < deadline {
        ctx.check_interrupt()?;
        match ps.get_message() {
            Ok(msg) => {
                let at = Instant::now();
                got.push(Event { key: msg.get_payload()?, at });
            }
            Err(e) if e.is_timeout() => {}
            Err(e) => return Err(e).context("reading keyspace events"),
        }
    }
    Ok(got)
}

/// Everything that arrives within `quiet` of silence (what a subscriber has waiting for it).
fn drain(ctx: &Ctx, ps: &mut PubSub<'_>, quiet: Duration) -> Result<Vec<Event>> {
    let mut got = Vec::new();
    let mut last = Instant::now();
    while last.elapsed() < quiet {
        ctx.check_interrupt()?;
        match ps.get_message() {
            Ok(msg) => {
                got.push(Event { key: msg.get_payload()?, at: Instant::now() });
                last = Instant::now();
            }
            Err(e) if e.is_timeout() => {}
            Err(e) => return Err(e).context("reading keyspace events"),
        }
    }
    Ok(got)
}

/// A subscriber connection in Pub/Sub mode on the expired channel.
fn subscribe<'a>(ctx: &Ctx, con: &'a mut TracedConnection) -> Result<PubSub<'a>> {
    let mut ps = con.inner_mut().as_pubsub();
    ps.set_read_timeout(Some(READ_TIMEOUT))?;
    ps.subscribe(EXPIRED).with_context(|| format!("SUBSCRIBE {EXPIRED}"))?;
    ctx.trace.record(&["SUBSCRIBE", EXPIRED]);
    Ok(ps)
}

/// How many events name a key of `keys`, each counted once.
fn seen(events: &[Event], keys: &[(String, Duration)]) -> usize {
    keys.iter().filter(|(k, _)| events.iter().any(|e| &e.key == k)).count()
}

/// A reader that touches every even-numbered key of `keys` just after its TTL, in TTL order:
/// `EXISTS` finds the key expired, deletes it, and the event goes out at once (lazy expiry).
fn read_at_ttl(ctx: &Ctx, con: &mut TracedConnection, keys: &[(String, Duration)], sent: Instant) -> Result<()> {
    for (key, ttl) in keys.iter().step_by(2) {
        ctx.check_interrupt()?;
        let due = sent + *ttl + READ_AFTER;
        let now = Instant::now();
        if due > now {
            std::thread::sleep(due - now);
        }
        let _: i64 = redis::cmd("EXISTS").arg(key).query(con)?;
    }
    Ok(())
}

/// The learner's own setting, read only (None when CONFIG GET is not allowed there).
fn learners_setting(ctx: &Ctx) -> Option<String> {
    let mut con = ctx.connect().ok()?;
    config_get(&mut con, "notify-keyspace-events").ok()
}

/// `notify-keyspace-events` as shown: `""` for the empty string.
fn shown(value: &str) -> String {
    format!("\"{value}\"")
}

fn batch(ctx: &Ctx, phase: &str, n: usize, ttl: impl Fn(usize) -> Duration) -> Vec<(String, Duration)> {
    (0..n).map(|i| (ctx.key(&format!("session:{phase}:{i}")), ttl(i))).collect()
}

/// Keyspace notifications on a private server: off by default, the delay of expired events after
/// the TTL, and a subscriber that misses every event sent while it was disconnected.
pub fn expiry_events(ctx: &Ctx) -> Result<DemoReport> {
    let mut report = DemoReport::new("expiry-events", Text::msg("title"));
    let yours = learners_setting(ctx);
    // The UserError stays in the chain: with no redis-server on PATH the runner skips this demo.
    let server = PrivateServer::start().map_err(anyhow::Error::from).context(
        "the keyspace-events demo turns notifications on with CONFIG SET, on a redis-server of its own (never yours), and could not start one",
    )?;
    let mut con = ctx.connect_private(&server)?;
    let default = config_get(&mut con, "notify-keyspace-events")?;
    let hz: u64 = config_get(&mut con, "hz")?.parse().context("CONFIG GET hz")?;
    let mut a_con = ctx.connect_private(&server)?;
    let mut a = subscribe(ctx, &mut a_con)?;
    wait_numsub(ctx, &mut con, EXPIRED, 1)?;

    // 1. Off by default: keys expire, and the subscriber hears nothing.
    let off = batch(ctx, "off", ctx.n(20, 10), |_| SHORT_TTL);
    let before = expired_keys(&mut con)?;
    set_with_ttls(&mut con, &off)?;
    let off_expired = wait_expired(ctx, &mut con, before, off.len() as u64)?;
    let off_events = drain(ctx, &mut a, Duration::from_millis(300))?;

    // 2. On: one event per key, each some time after its TTL.
    server.admin(&["CONFIG", "SET", "notify-keyspace-events", EVENTS]).context("CONFIG SET notify-keyspace-events")?;
    // Not traced: the trace is for replaying in redis-cli, and this command must not reach a
    // server that is not ours. The table and the claims name it.
    let now_on = config_get(&mut con, "notify-keyspace-events")?;
    // Every even-numbered key is read just after its TTL; the odd ones nobody reads.
    let n = ctx.n(200, 96);
    let spread = Duration::from_millis(ctx.n(500, 200) as u64);
    let timed = batch(ctx, "timed", n, |i| FIRST_TTL + spread * i as u32 / n as u32);
    let mut reader = ctx.connect_private(&server)?;
    let before = expired_keys(&mut con)?;
    // Each key expires no sooner than its TTL after this instant (the SET reaches the server later).
    let sent = Instant::now();
    set_with_ttls(&mut con, &timed)?;
    let (events, read) = std::thread::scope(|scope| {
        let read = scope.spawn(|| read_at_ttl(ctx, &mut reader, &timed, sent));
        let events = collect(ctx, &mut a, n, FIRST_TTL + spread + STALL);
        (events, read.join().unwrap_or_else(|_| Err(anyhow!("the reader thread panicked"))))
    });
    let (events, ()) = (events?, read?);
    let timed_expired = wait_expired(ctx, &mut con, before, n as u64)?;
    let index: HashMap<&str, usize> = timed.iter().enumerate().map(|(i, (k, _))| (k.as_str(), i)).collect();
    // Per slice of consecutive keys: the delays of the keys read at their TTL, and of the others.
    let mut read_rounds: Vec<Vec<Duration>> = vec![Vec::new(); SLICES];
    let mut untouched_rounds: Vec<Vec<Duration>> = vec![Vec::new(); SLICES];
    let mut early = 0u64;
    let mut unknown = 0u64;
    for e in &events {
        match index.get(e.key.as_str()) {
            Some(&i) => {
                let ttl = timed[i].1;
                let since = e.at.duration_since(sent);
                if since < ttl {
                    early += 1;
                }
                let rounds = if i % 2 == 0 { &mut read_rounds } else { &mut untouched_rounds };
                rounds[i * SLICES / n].push(since.saturating_sub(ttl));
            }
            None => unknown += 1,
        }
    }
    let distinct = seen(&events, &timed);
    if read_rounds.iter().chain(&untouched_rounds).any(Vec::is_empty) {
        bail!(
            "only {} of {n} expired events arrived within {} after CONFIG SET",
            events.len(),
            format_duration(FIRST_TTL + spread + STALL)
        );
    }
    let group = new_group();
    let read_delay = report.measured(Measurement::from_rounds(
        "event-delay-read",
        "expired event after the TTL, key read at its TTL",
        Backend::Redis,
        Kind::Latency,
        group,
        1,
        &read_rounds,
    )?);
    let delay = report.measured(Measurement::from_rounds(
        "event-delay-untouched",
        "expired event after the TTL, key nobody read",
        Backend::Redis,
        Kind::Latency,
        group,
        1,
        &untouched_rounds,
    )?);
    let cmp = report.compare("read-vs-untouched", &read_delay, &delay)?;

    // 3. At most once: subscriber B is up, then disconnected while keys expire, then back.
    let m = ctx.n(50, 20);
    let phase =
        |con: &mut TracedConnection, a: &mut PubSub<'_>, name: &str| -> Result<(Vec<(String, Duration)>, usize)> {
            let keys = batch(ctx, name, m, |_| SHORT_TTL);
            set_with_ttls(con, &keys)?;
            let got = collect(ctx, a, m, EXPIRE_WAIT)?;
            let got = seen(&got, &keys);
            Ok((keys, got))
        };
    let mut b_con = ctx.connect_private(&server)?;
    let (a_before, b_got_before) = {
        let mut b = subscribe(ctx, &mut b_con)?;
        wait_numsub(ctx, &mut con, EXPIRED, 2)?;
        let (keys, a_got) = phase(&mut con, &mut a, "up")?;
        let b_events = drain(ctx, &mut b, Duration::from_millis(300))?;
        (a_got, seen(&b_events, &keys))
    };
    // B goes away: its connection closes, and with it the subscription.
    drop(b_con);
    wait_numsub(ctx, &mut con, EXPIRED, 1)?;
    let (down_keys, a_down) = phase(&mut con, &mut a, "down")?;
    // B comes back and subscribes again: what does it get of what expired meanwhile?
    let mut b_con = ctx.connect_private(&server)?;
    let mut b = subscribe(ctx, &mut b_con)?;
    wait_numsub(ctx, &mut con, EXPIRED, 2)?;
    let b_late = drain(ctx, &mut b, GRACE)?;
    let b_got_down = seen(&b_late, &down_keys);
    let (after_keys, a_after) = phase(&mut con, &mut a, "back")?;
    let b_events = drain(ctx, &mut b, Duration::from_millis(300))?;
    let b_got_after = seen(&b_events, &after_keys);
    drop(b);

    // The table: what each subscriber heard, phase by phase.
    let count = |x: usize| Text::Plain(format_count(x as u64));
    let phase_row = |what: &str, keys: usize, a: usize, b: Text| {
        vec![Text::msg(&format!("phases.{what}")), count(keys), count(a), b]
    };
    report.table(
        Text::msg("phases").fact("channel", EXPIRED),
        &["phase", "keys", "a", "b"],
        vec![
            phase_row("off", off.len(), off_events.len(), Text::msg("phases.not-yet")),
            phase_row("timed", n, distinct, Text::msg("phases.not-yet")),
            phase_row("up", m, a_before, count(b_got_before)),
            phase_row("down", m, a_down, count(b_got_down)),
            phase_row("back", m, a_after, count(b_got_after)),
        ],
    );

    // Claim 1: off by default.
    let off_holds = default.is_empty() && off_events.is_empty() && off_expired >= off.len() as u64;
    report.claim(
        Claim::new("off-by-default", "", format!("{} → {}", shown(&default), off_events.len()), off_holds)
            .fact("value", shown(&default))
            .fact("keys", off.len())
            .fact("expired", off_expired)
            .fact("events", off_events.len()),
    );
    // Claim 2: once on, one event per key, none before its TTL.
    let on_holds = distinct == n && events.len() == n && early == 0 && unknown == 0 && timed_expired >= n as u64;
    report.claim(
        Claim::new("one-event-per-key", "", format!("{distinct} / {n}, {early} early"), on_holds)
            .fact("value", shown(&now_on))
            .fact("keys", n)
            .fact("events", distinct)
            .fact("early", early)
            .fact("p50", delay.p50())
            .fact("max", delay.stats.max),
    );
    report.claim(
        Claim::ratio_above("read-expires-at-once", "", &cmp, 1.0)
            .fact("read", read_delay.p50())
            .fact("untouched", delay.p50())
            .fact("ratio", Fact::Ratio(cmp.ratio)),
    );
    report.note(
        NoteKind::Info,
        Text::msg("why-late")
            .fact("hz", hz)
            .fact("period", Duration::from_millis(1000 / hz.max(1)))
            .fact("p50", delay.p50())
            .fact("max", delay.stats.max),
    );
    // Claim 3: B missed everything that expired while it was away, and nothing keeps it.
    let missed = m - b_got_down;
    let miss_holds =
        a_before == m && b_got_before == m && a_down == m && b_got_down == 0 && a_after == m && b_got_after == m;
    report.claim(
        Claim::new("missed-while-disconnected", "", format!("{b_got_down} / {m}"), miss_holds)
            .fact("keys", m)
            .fact("a_down", a_down)
            .fact("b_down", b_got_down)
            .fact("missed", missed)
            .fact("b_after", b_got_after),
    );
    report.note(NoteKind::Info, Text::msg("at-most-once"));
    match yours {
        Some(value) => report.note(
            NoteKind::Info,
            Text::msg(if value.is_empty() { "yours-off" } else { "yours-on" }).fact("value", Fact::Text(shown(&value))),
        ),
        None => report.note(NoteKind::Info, Text::msg("yours-unknown")),
    }
    report.note(NoteKind::Caveat, Text::msg("cluster"));
    Ok(report)
}
