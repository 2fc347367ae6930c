//! Demo `http-upstream-calls`: N requests through a gateway of handler threads, without and with
//! the cache (single-flight per URL): one upstream call per distinct URL.

use std::collections::HashSet;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::thread;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, anyhow, bail};
use rand::SeedableRng;
use rand::rngs::Xoshiro256PlusPlus;
use rand_distr::{Distribution, Zipf};
use redis::ConnectionLike;

use super::cache::{Policy, Source, set_with_ttl, simulated_note};
use super::key::Request;
use super::upstream::{Response, Upstream, address_request, hex_id, tx_request};
use crate::demo::{Ctx, DemoReport, NoteKind, run_together};
use crate::measure::{Backend, Claim, Stats, format_count, format_duration};
use crate::text::{Fact, Text};

/// Distinct URLs the requests are drawn from.
const URLS: usize = 50;
/// Handler threads of the gateway (as an HTTP server would have).
const WORKERS: usize = 4;
/// The single-flight lock outlives any simulated call by far.
const LOCK_TTL_MS: u64 = 5_000;
/// A hit must beat a simulated upstream call (5–20 ms of sleep) by more than this, whole 95%
/// interval: the typical ratio is in the hundreds, so 10× holds even when the machine is busy.
const HIT_VS_UPSTREAM_THRESHOLD: f64 = 10.0;
/// How long a request may wait for another request's fill before giving up.
const WAIT_LIMIT: Duration = Duration::from_secs(10);

/// Compare-and-delete: release the lock only if it is still ours.
const RELEASE_LOCK: &str =
    "if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) else return 0 end";

/// The URL catalogue: address summaries and mined transactions, OKLink-style.
fn catalogue() -> Result<Vec<Request>> {
    (0..URLS)
        .map(|i| {
            if i % 2 == 0 {
                address_request(&hex_id(&format!("address-{i}"), 40))
            } else {
                tx_request(&hex_id(&format!("tx-{i}"), 64))
            }
        })
        .collect()
}

/// What one request cost and where its answer came from.
type Served = (Duration, Source);

/// Serve `sequence` (indices into the catalogue) with `WORKERS` threads pulling from one queue.
fn serve<S>(
    ctx: &Ctx,
    sequence: &[usize],
    setup: impl Fn(usize) -> Result<S> + Sync,
    handle: impl Fn(&mut S, usize, usize) -> Result<Source> + Sync,
) -> Result<(Vec<Served>, Duration)> {
    let next = AtomicUsize::new(0);
    let (per_worker, wall) = run_together(WORKERS, setup, |_, mut state| {
        let mut served = Vec::with_capacity(sequence.len() / WORKERS + 1);
        loop {
            ctx.check_interrupt()?;
            let n = next.fetch_add(1, Ordering::SeqCst);
            let Some(&url) = sequence.get(n) else { break };
            let start = Instant::now();
            let source = handle(&mut state, url, n)?;
            served.push((start.elapsed(), source));
        }
        Ok(served)
    })?;
    Ok((per_worker.into_iter().flatten().collect(), wall))
}

/// Cache-aside with single-flight: on a miss only the holder of `SET lock NX PX` calls the upstream
/// (after checking the cache once more); the others wait for its fill.
fn fetch_single_flight(
    ctx: &Ctx,
    con: &mut impl ConnectionLike,
    upstream: &Upstream,
    request: &Request,
    key: &str,
    token: &str,
    release: &redis::Script,
) -> Result<Source> {
    let lock = format!("{key}:lock");
    let deadline = Instant::now() + WAIT_LIMIT;
    let mut waited = false;
    loop {
        ctx.check_interrupt()?;
        if redis::cmd("GET").arg(key).query::<Option<String>>(con)?.is_some() {
            return Ok(if waited { Source::Waited } else { Source::Hit });
        }
        let won = redis::cmd("SET")
            .arg(&lock)
            .arg(token)
            .arg("NX")
            .arg("PX")
            .arg(LOCK_TTL_MS)
            .query::<Option<String>>(con)?
            .is_some();
        if won {
            // A fill may have landed between our GET and our lock: look once more.
            let source = if redis::cmd("EXISTS").arg(key).query::<i64>(con)? == 1 {
                Source::Waited
            } else {
                let response = upstream.fetch(request);
                if let Some(ttl) = Policy::Honour.ttl(&response) {
                    set_with_ttl(con, key, &serde_json::to_string(&response)?, ttl)?;
                }
                Source::Upstream
            };
            let _: i64 = release.key(&lock).arg(token).invoke(con)?;
            return Ok(source);
        }
        waited = true;
        if Instant::now() > deadline {
            bail!("a request waited {} s for another request's fill of {key}", WAIT_LIMIT.as_secs());
        }
        thread::sleep(Duration::from_millis(1));
    }
}

fn count(served: &[Served], source: Source) -> usize {
    served.iter().filter(|(_, s)| *s == source).count()
}

/// Latency percentiles of the requests a gateway served (shown in a table, compared with nothing).
fn served_stats(served: &[Served]) -> Result<Stats> {
    let samples: Vec<Duration> = served.iter().map(|(d, _)| *d).collect();
    Stats::from_samples(&samples).ok_or_else(|| anyhow!("no request was served"))
}

/// N requests over 50 URLs (Zipf-skewed): N upstream calls without the cache, one per distinct URL
/// with it.
pub fn upstream_calls(ctx: &Ctx) -> Result<DemoReport> {
    let mut report = DemoReport::new("http-upstream-calls", Text::msg("title"));
    report.note(NoteKind::Simulated, simulated_note());
    let requests = ctx.n(1_000, 200);
    let catalogue = catalogue()?;
    let zipf = Zipf::new(URLS as f64, 1.0).map_err(|e| anyhow!("zipf: {e}"))?;
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(9);
    let sequence: Vec<usize> = (0..requests).map(|_| zipf.sample(&mut rng) as usize - 1).collect();
    let distinct = sequence.iter().collect::<HashSet<_>>().len();
    let keys: Vec<String> = catalogue.iter().map(|r| ctx.key(&format!("calls:{}", r.cache_key()))).collect();

    // Without a cache: every request is an upstream call.
    let direct_upstream = Upstream::new(1);
    let (direct, direct_wall) = serve(
        ctx,
        &sequence,
        |_| Ok(()),
        |_, url, _| {
            direct_upstream.fetch(&catalogue[url]);
            Ok(Source::Upstream)
        },
    )?;

    // Through the cache: GET, and on a miss one single-flight upstream call and SET ... EX.
    let cached_upstream = Upstream::new(1);
    let release = redis::Script::new(RELEASE_LOCK);
    let (cached, cached_wall) = serve(
        ctx,
        &sequence,
        |_| ctx.connect(),
        |con, url, n| {
            fetch_single_flight(ctx, con, &cached_upstream, &catalogue[url], &keys[url], &format!("req-{n}"), &release)
        },
    )?;

    let calls_direct = direct_upstream.calls();
    let calls_cached = cached_upstream.calls();
    let row = |label: &str, served: &[Served], calls: usize, wall: Duration| -> Result<Vec<Text>> {
        let m = served_stats(served)?;
        Ok(vec![
            Text::msg(label),
            Text::Plain(format_count(served.len() as u64)),
            Text::Plain(format_count(calls as u64)),
            Text::Plain(format_count(count(served, Source::Hit) as u64)),
            Text::Plain(format_count(count(served, Source::Waited) as u64)),
            Text::Plain(format_duration(wall)),
            Text::Plain(format_duration(m.p50)),
            Text::Plain(format_duration(m.p99)),
        ])
    };
    let rows = vec![
        row("no-cache", &direct, calls_direct, direct_wall)?,
        row("redis-cache", &cached, calls_cached, cached_wall)?,
    ];
    report.table_with_headers(
        Text::msg("gateway")
            .fact("requests", requests)
            .fact("urls", URLS)
            .fact("distinct", distinct)
            .fact("workers", WORKERS),
        vec![
            Text::msg("gateway.header-gateway"),
            Text::msg("gateway.header-requests"),
            Text::msg("gateway.header-upstream-calls"),
            Text::msg("gateway.header-hits"),
            Text::msg("gateway.header-waited"),
            Text::msg("gateway.header-wall-time"),
            "p50".into(),
            "p99".into(),
        ],
        rows,
    );

    // Side by side, in turns: a bare hit, and one call to the simulated upstream (a separate
    // instance: the counts above stay as they were). The hot URL is a mined transaction, cached for
    // good, so that it cannot expire while it is timed.
    let hot = sequence.iter().copied().find(|&url| url % 2 == 1).unwrap_or(sequence[0]);
    let hot_key = &keys[hot];
    let timed_upstream = Upstream::new(2);
    let mut con = ctx.connect()?;
    let group = report.measured_group(
        ctx.sampler
            .group()
            .op("cache-hit", "GET", Backend::Redis, || {
                let json: String = redis::cmd("GET")
                    .arg(hot_key)
                    .query::<Option<String>>(&mut con)?
                    .ok_or_else(|| anyhow!("expected {hot_key} in the cache"))?;
                let _: Response = serde_json::from_str(&json).context("decoding a cached response")?;
                Ok(())
            })
            .op("upstream-call", "upstream", Backend::App, || {
                timed_upstream.fetch(&catalogue[hot]);
                Ok(())
            })
            .run()?,
    );
    let (hit, uncached) = (group.get("cache-hit"), group.get("upstream-call"));
    let speedup = report.compare("hit-vs-upstream-call", hit, uncached)?;
    report.note(NoteKind::Info, Text::msg("set-ex-not-setex"));
    report.note(NoteKind::Info, Text::msg("single-flight"));

    let counts_hold = calls_direct == requests && calls_cached == distinct;
    report.claim(
        Claim::new(
            "one-call-per-distinct-url",
            "",
            format!("{} → {}", format_count(calls_direct as u64), format_count(calls_cached as u64)),
            counts_hold,
        )
        .fact("requests", requests)
        .fact("without", calls_direct)
        .fact("with", calls_cached)
        .fact("distinct", distinct),
    );
    report.claim(
        Claim::ratio_above("hit-beats-upstream-call", "", &speedup, HIT_VS_UPSTREAM_THRESHOLD)
            .fact("hit", hit.p50())
            .fact("ratio", Fact::Ratio(speedup.ratio))
            .fact("upstream", uncached.p50()),
    );
    Ok(report)
}
