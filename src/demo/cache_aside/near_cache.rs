//! Demo `near-cache`: a hot key served from the app's own memory, kept fresh by Redis's
//! client-side caching (`CLIENT TRACKING`, Redis 6+). The app reads through a near cache (a map in
//! its process); its connection has tracking on, redirected (RESP2) to a second connection
//! subscribed to `__redis__:invalidate`. A local hit is timed against a GET round trip
//! (interleaved); then another connection writes the key, and the run measures how soon the
//! invalidation arrives and checks that the stale copy is gone from then on.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, anyhow, bail};

use crate::demo::support::short;
use crate::demo::{Ctx, DemoReport, NoteKind};
use crate::measure::{Backend, Claim, Stats, format_duration};
use crate::server::TracedConnection;
use crate::text::Text;

/// The channel Redis publishes invalidations on for RESP2 clients (with `REDIRECT`).
const INVALIDATE_CHANNEL: &str = "__redis__:invalidate";
/// The listener's read timeout: how often it looks at the stop flag.
const LISTEN_POLL: Duration = Duration::from_millis(50);
/// How long a write may wait for its invalidation before the run says it never came.
const INVALIDATION_WAIT: Duration = Duration::from_secs(2);
/// The hot key: the most-read token of the token cache (lesson 2's key shape).
const HOT_KEY: &str = "token:eth:0xdac17f958d2ee523a2206206994597c13d831ec7";

/// The app's near cache: key → value, shared with the invalidation listener.
type NearCache = Arc<Mutex<HashMap<String, String>>>;

fn lock(cache: &NearCache) -> std::sync::MutexGuard<'_, HashMap<String, String>> {
    cache.lock().unwrap_or_else(PoisonError::into_inner)
}

fn token_json(version: usize) -> String {
    format!(
        r#"{{"chain":"eth","address":"0xdac17f958d2ee523a2206206994597c13d831ec7","symbol":"USDT","name":"Tether USD","decimals":6,"price_usd":"1.000{version}"}}"#
    )
}

/// Read through the near cache: the local copy if there is one, else GET (which also tells the
/// server to track the key for this connection) and keep the reply. Whether it was a local hit.
fn read(app: &mut TracedConnection, cache: &NearCache, key: &str) -> Result<(String, bool)> {
    if let Some(v) = lock(cache).get(key) {
        return Ok((v.clone(), true));
    }
    let v: Option<String> = redis::cmd("GET").arg(key).query(app)?;
    let v = v.ok_or_else(|| anyhow!("{key} is missing"))?;
    lock(cache).insert(key.to_string(), v.clone());
    Ok((v, false))
}

/// One invalidation as the listener saw it: the key, and when it arrived.
type Arrival = (String, Instant);

/// The listener: its own connection, subscribed to the invalidation channel; every key it names is
/// dropped from the near cache, then reported on `arrivals`.
fn listen(
    mut con: TracedConnection,
    cache: NearCache,
    arrivals: Sender<Arrival>,
    subscribed: Sender<()>,
    stop: &AtomicBool,
) -> Result<()> {
    let mut ps = con.inner_mut().as_pubsub();
    ps.set_read_timeout(Some(LISTEN_POLL))?;
    ps.subscribe(INVALIDATE_CHANNEL).context("SUBSCRIBE __redis__:invalidate")?;
    let _ = subscribed.send(());
    while !stop.load(Ordering::SeqCst) {
        match ps.get_message() {
            Ok(msg) => {
                let at = Instant::now();
                if msg.get_channel_name() != INVALIDATE_CHANNEL {
                    continue;
                }
                // A list of keys; nil when the server flushed everything (FLUSHALL): drop it all.
                let keys: Option<Vec<String>> = msg.get_payload()?;
                let mut map = lock(&cache);
                match keys {
                    Some(keys) => {
                        for key in keys {
                            map.remove(&key);
                            let _ = arrivals.send((key, at));
                        }
                    }
                    None => map.clear(),
                }
            }
            Err(e) if e.is_timeout() => {}
            Err(e) => return Err(e).context("reading invalidation messages"),
        }
    }
    Ok(())
}

/// Wait for the invalidation of `key`; other keys' are skipped.
fn wait_for(arrivals: &Receiver<Arrival>, key: &str) -> Result<Option<Instant>> {
    let deadline = Instant::now() + INVALIDATION_WAIT;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match arrivals.recv_timeout(left) {
            Ok((k, at)) if k == key => return Ok(Some(at)),
            Ok(_) => {}
            Err(RecvTimeoutError::Timeout) => return Ok(None),
            Err(RecvTimeoutError::Disconnected) => bail!("the invalidation listener stopped"),
        }
    }
}

/// What the write rounds saw.
#[derive(Debug, Default)]
struct Writes {
    /// Writes whose invalidation arrived within [`INVALIDATION_WAIT`].
    delivered: usize,
    /// From sending the write to the invalidation's arrival at the listener.
    latencies: Vec<Duration>,
    /// The writer's own SET round trips.
    set_replies: Vec<Duration>,
    /// Rounds where the old copy was still in the near cache when the writer's SET had returned.
    stale_after_reply: usize,
    /// Reads after the invalidation had arrived that still returned the old value.
    stale_after_invalidation: usize,
}

pub fn near_cache(ctx: &Ctx) -> Result<DemoReport> {
    let mut report = DemoReport::new("near-cache", Text::msg("title"));
    if !ctx.version().at_least(6, 0) {
        report.note(NoteKind::Caveat, Text::msg("needs-redis-6").fact("version", ctx.version().to_string()));
        return Ok(report);
    }
    let key = ctx.key(HOT_KEY);
    let mut writer = ctx.connect()?;
    redis::cmd("SET").arg(&key).arg(token_json(0)).arg("EX").arg(super::TTL_SECS).exec(&mut writer)?;

    // The invalidation connection: its client id is where the app's tracking messages go.
    let mut listener = ctx.connect()?;
    let listener_id: i64 = redis::cmd("CLIENT").arg("ID").query(&mut listener)?;
    let mut app = ctx.connect()?;
    redis::cmd("CLIENT").arg("TRACKING").arg("ON").arg("REDIRECT").arg(listener_id).exec(&mut app)?;

    let cache: NearCache = Arc::new(Mutex::new(HashMap::new()));
    let stop = AtomicBool::new(false);
    let (arrivals_tx, arrivals) = mpsc::channel();
    let (subscribed_tx, subscribed) = mpsc::channel();
    let rounds = ctx.n(40, 10);
    let outcome = thread::scope(|s| -> Result<_> {
        let listener_cache = cache.clone();
        let stop_ref = &stop;
        let handle = s.spawn(move || listen(listener, listener_cache, arrivals_tx, subscribed_tx, stop_ref));
        let mut run = || -> Result<_> {
            subscribed
                .recv_timeout(INVALIDATION_WAIT)
                .map_err(|_| anyhow!("the invalidation listener did not subscribe"))?;
            // A local hit against a GET round trip, interleaved.
            read(&mut app, &cache, &key)?;
            let mut get_con = ctx.connect()?;
            let group = ctx
                .sampler
                .group()
                .op("near-hit", "near cache hit", Backend::App, || {
                    let (_, local) = read(&mut app, &cache, &key)?;
                    anyhow::ensure!(local, "the near cache lost {key} while nobody wrote it");
                    Ok(())
                })
                .op("redis-get", "GET", Backend::Redis, || {
                    let _: Option<String> = redis::cmd("GET").arg(&key).query(&mut get_con)?;
                    Ok(())
                })
                .one_round_trip()
                .run()?;
            // Writes from another connection: how soon the copy goes, and whether it stays gone.
            let mut w = Writes::default();
            for i in 1..=rounds {
                ctx.check_interrupt()?;
                read(&mut app, &cache, &key)?; // a copy, and tracking armed
                let new = token_json(i);
                let sent = Instant::now();
                redis::cmd("SET").arg(&key).arg(&new).arg("KEEPTTL").exec(&mut writer)?;
                w.set_replies.push(sent.elapsed());
                w.stale_after_reply += usize::from(lock(&cache).contains_key(&key));
                if let Some(at) = wait_for(&arrivals, &key)? {
                    w.delivered += 1;
                    w.latencies.push(at.saturating_duration_since(sent));
                }
                let (seen, _) = read(&mut app, &cache, &key)?;
                w.stale_after_invalidation += usize::from(seen != new);
            }
            Ok((group, w))
        };
        let result = run();
        stop.store(true, Ordering::SeqCst);
        let listened = handle.join().map_err(|_| anyhow!("the invalidation listener panicked"))?;
        let result = result?;
        listened?;
        Ok(result)
    })?;
    let (group, w) = outcome;
    redis::cmd("CLIENT").arg("TRACKING").arg("OFF").exec(&mut app)?;
    ctx.trace.record(&["SUBSCRIBE", INVALIDATE_CHANNEL]);

    let group = report.measured_group(group);
    let near = group.get("near-hit");
    let get = group.get("redis-get");
    let cmp = report.compare("near-hit-vs-get", near, get)?;
    report.note(NoteKind::Info, Text::msg("setup").fact("key", short(&key)).fact("listener", listener_id));
    report.claim(Claim::ratio_above("near-hit-faster", "", &cmp, 10.0).fact("near", near.p50()).fact("get", get.p50()));

    let lat = Stats::from_samples(&w.latencies);
    let set = Stats::from_samples(&w.set_replies);
    let fmt = |s: Option<Stats>, pick: fn(&Stats) -> Duration| {
        s.map_or_else(|| "–".to_string(), |s| format_duration(pick(&s)))
    };
    report.table(
        Text::msg("writes").fact("rounds", rounds),
        &["what", "p50", "max"],
        vec![
            vec![Text::msg("writes.set-reply"), Text::Plain(fmt(set, |s| s.p50)), Text::Plain(fmt(set, |s| s.max))],
            vec![Text::msg("writes.invalidation"), Text::Plain(fmt(lat, |s| s.p50)), Text::Plain(fmt(lat, |s| s.max))],
        ],
    );
    report.note(
        NoteKind::Info,
        Text::msg("window").fact("stale_after_reply", w.stale_after_reply).fact("rounds", rounds),
    );
    report.note(NoteKind::Info, Text::msg("other-fixes"));
    let holds = w.delivered == rounds && w.stale_after_invalidation == 0;
    let p50 = lat.map_or(Duration::ZERO, |s| s.p50);
    let max = lat.map_or(Duration::ZERO, |s| s.max);
    report.claim(
        Claim::new(
            "invalidation-drops-stale-copy",
            "",
            format!("{} / {rounds}; {} stale", w.delivered, w.stale_after_invalidation),
            holds,
        )
        .fact("rounds", rounds)
        .fact("delivered", w.delivered)
        .fact("p50", p50)
        .fact("max", max)
        .fact("stale", w.stale_after_invalidation),
    );
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_version_of_the_token_is_different_json() {
        assert_ne!(token_json(1), token_json(2));
        assert!(serde_json::from_str::<serde_json::Value>(&token_json(3)).is_ok());
    }
}
