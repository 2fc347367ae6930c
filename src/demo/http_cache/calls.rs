//! Upstream calls with and without the cache (a gateway of handler threads, single-flight per URL),
//! and why the key must be the request's meaning, not its spelling.

use std::collections::HashSet;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::thread;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, anyhow, bail};
use rand::SeedableRng;
use rand::rngs::Xoshiro256PlusPlus;
use rand_distr::{Distribution, Zipf};
use redis::ConnectionLike;

use super::key::{Request, naive_key};
use super::upstream::{self, Response, Upstream, address_request, hex_id, tx_request};
use super::{Policy, Source, fetch_through, set_with_ttl, simulated_note};
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

/// A request or key made short enough for a table row, keeping what differs between spellings:
/// the standard origin and the API path prefix are elided, long hex ids and digests abbreviated.
fn compact(text: &str) -> String {
    let mut text = text.replacen(upstream::BASE_URL, "", 1);
    if let Some(start) = text.find("/api/v5/explorer/")
        && let Some(len) = text[start + "/api/v5/explorer/".len()..].find('/')
    {
        text.replace_range(start..start + "/api/v5/explorer/".len() + len + 1, "…/");
    }
    // Any run of 16 or more hex digits (an address, a tx hash, a digest): first 4 … last 4.
    let mut out = String::with_capacity(text.len());
    let mut run = String::new();
    let flush = |run: &mut String, out: &mut String| {
        if run.len() >= 16 {
            out.push_str(&run[..4]);
            out.push('…');
            out.push_str(&run[run.len() - 4..]);
        } else {
            out.push_str(run);
        }
        run.clear();
    };
    for c in text.chars() {
        if c.is_ascii_hexdigit() {
            run.push(c);
        } else {
            flush(&mut run, &mut out);
            out.push(c);
        }
    }
    flush(&mut run, &mut out);
    out
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
    report.table(
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

/// Five spellings of two requests: five keys (and five upstream calls) when the raw URL is the key,
/// two when the request is normalised first.
pub fn request_keys(ctx: &Ctx) -> Result<DemoReport> {
    let mut report = DemoReport::new("http-cache-keys", Text::msg("title"));
    report.note(NoteKind::Simulated, simulated_note());
    let address = hex_id("whale", 40);
    // The same address in capitals: hex is case-insensitive (EIP-55 checksums mix the cases).
    let capitals = format!("0x{}", address[2..].to_ascii_uppercase());
    let base = format!("{}{}", upstream::BASE_URL, upstream::PATH_ADDRESS);
    let chain = format!("{}{}", upstream::BASE_URL, upstream::PATH_CHAIN);
    let spellings: Vec<(&str, String)> = vec![
        ("GET", format!("{base}?chainShortName=eth&address={address}")),
        ("get", format!("https://WWW.OKLINK.COM{}?address={capitals}&chainShortName=eth", upstream::PATH_ADDRESS)),
        ("GET", format!("{base}?address={address}&chainShortName=eth&_=1738250000123")),
        ("GET", format!("{chain}?chainShortName=eth")),
        ("GET", format!("{chain}?t=1738250000456&chainShortName=%65th")),
    ];
    let mut con = ctx.connect()?;
    let mut rows = Vec::new();
    let mut summary = Vec::new();
    for normalise in [false, true] {
        let upstream = Upstream::new(4);
        let mut keys = HashSet::new();
        let mut hits = 0;
        for (method, url) in &spellings {
            ctx.check_interrupt()?;
            let request = Request::parse(method, url)?;
            let suffix = if normalise { request.cache_key() } else { naive_key(method, url) };
            let key = ctx.key(&format!("keys:{suffix}"));
            let (_, source) = fetch_through(&mut con, &upstream, &request, &key, Policy::Honour)?;
            hits += usize::from(source == Source::Hit);
            keys.insert(key);
            if normalise {
                rows.push(vec![
                    Text::Plain(format!("{method} {}", compact(url))),
                    Text::Plain(compact(&suffix)),
                    Text::msg(match source {
                        Source::Upstream => "miss-upstream-call",
                        _ => "hit",
                    }),
                ]);
            }
        }
        let keys: Vec<String> = keys.into_iter().collect();
        let stored: i64 = redis::cmd("EXISTS").arg(&keys).query(&mut con)?;
        summary.push((keys.len(), stored, upstream.calls(), hits));
    }
    report.table(
        Text::msg("spellings"),
        vec![
            Text::msg("spellings.header-request"),
            Text::msg("spellings.header-key"),
            Text::msg("spellings.header-result"),
        ],
        rows,
    );
    let label = |normalise: bool| Text::msg(if normalise { "scheme-normalised" } else { "scheme-raw-url" });
    report.table(
        Text::msg("schemes"),
        vec![
            Text::msg("schemes.header-scheme"),
            Text::msg("schemes.header-keys"),
            Text::msg("schemes.header-upstream-calls"),
            Text::msg("schemes.header-hits"),
        ],
        summary
            .iter()
            .enumerate()
            .map(|(i, (_, stored, calls, hits))| {
                vec![
                    label(i == 1),
                    Text::Plain(stored.to_string()),
                    Text::Plain(calls.to_string()),
                    Text::Plain(hits.to_string()),
                ]
            })
            .collect(),
    );
    report.note(NoteKind::Info, Text::msg("normalising"));

    // What normalising costs next to the round trip it saves.
    let (method, url) = &spellings[1];
    let key = ctx.key(&format!("keys:{}", Request::parse(method, url)?.cache_key()));
    let group = report.measured_group(
        ctx.sampler
            .group()
            .op("key-build", "key", Backend::App, || {
                std::hint::black_box(Request::parse(method, url)?.cache_key());
                Ok(())
            })
            .op("get", "GET", Backend::Redis, || {
                redis::cmd("GET").arg(&key).query::<Option<String>>(&mut con)?;
                Ok(())
            })
            .one_round_trip()
            .run()?,
    );
    report.compare("key-build-vs-get", group.get("key-build"), group.get("get"))?;

    let (naive, normalised) = (summary[0], summary[1]);
    let holds = naive.1 == 5 && naive.2 == 5 && normalised.1 == 2 && normalised.2 == 2 && normalised.3 == 3;
    report.claim(
        Claim::new("normalised-key-per-request", "", format!("{} → {}", naive.1, normalised.1), holds)
            .fact("raw_keys", naive.1)
            .fact("raw_calls", naive.2)
            .fact("keys", normalised.1)
            .fact("calls", normalised.2)
            .fact("hits", normalised.3),
    );
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn compact_keeps_what_differs() {
        let url = format!(
            "{}{}?address=0x4838B106FCe9647Bdf1E7877BF73cE8B0BAD5f97&t=1",
            upstream::BASE_URL,
            upstream::PATH_ADDRESS
        );
        assert_eq!(compact(&url), "…/address-summary?address=0x4838…5f97&t=1");
        assert_eq!(
            compact("http:www.oklink.com:sha256:4ddda5b03d16cd5d077d6007"),
            "http:www.oklink.com:sha256:4ddd…6007"
        );
        assert_eq!(
            compact("https://WWW.OKLINK.COM/api/v5/explorer/blockchain/summary?chainShortName=eth"),
            "https://WWW.OKLINK.COM…/summary?chainShortName=eth"
        );
    }
}
