//! How long to keep an answer: as long as the upstream says it stays true (a price for a second, a
//! mined transaction for good, a pending one not at all), and an error only briefly.

use std::thread;
use std::time::{Duration, Instant};

use anyhow::{Result, bail};

use super::key::Request;
use super::upstream::{self, Upstream, address_request, hex_id, price_request, tx_request};
use super::{ERROR_TTL, FIXED_TTL, MAX_TTL, Policy, Source, describe_pttl, fetch_through, simulated_note};
use crate::demo::{Ctx, DemoReport, NoteKind};
use crate::i18n::Lang;
use crate::measure::{Claim, format_count};

/// How long to wait for a short TTL to run out before giving up.
const EXPIRY_DEADLINE: Duration = Duration::from_secs(5);

fn pttl(con: &mut impl redis::ConnectionLike, key: &str) -> Result<i64> {
    Ok(redis::cmd("PTTL").arg(key).query(con)?)
}

/// Poll PTTL until `key` is gone (no blind sleep of a fixed length).
fn wait_until_expired(ctx: &Ctx, con: &mut impl redis::ConnectionLike, key: &str) -> Result<Duration> {
    let start = Instant::now();
    loop {
        ctx.check_interrupt()?;
        let left = pttl(con, key)?;
        if left == -2 {
            return Ok(start.elapsed());
        }
        if start.elapsed() > EXPIRY_DEADLINE {
            bail!("{key} still had {left} ms to live after {} s", EXPIRY_DEADLINE.as_secs());
        }
        thread::sleep(Duration::from_millis(left.clamp(1, 20) as u64));
    }
}

/// One data class the gateway serves.
struct Endpoint {
    label_en: &'static str,
    label_zh: &'static str,
    request: Request,
}

/// Two rounds of reads, before and after the upstream moves on (a new price; the pending
/// transaction mined), under a one-size TTL and under the upstream's own freshness.
pub fn freshness(ctx: &Ctx) -> Result<DemoReport> {
    let mut report = DemoReport::new(
        "http-freshness",
        ctx.tr(
            "TTL by freshness: a price for a second, a mined transaction for good, a pending one not at all",
            "按新鲜度设过期时间：价格一秒，已上链交易长期，待确认交易不缓存",
        ),
    );
    report.note(NoteKind::Simulated, simulated_note(ctx));
    let pending_tx = hex_id("pending-tx", 64);
    let upstream = Upstream::new(3).with_pending(&[&pending_tx]);
    let endpoints = [
        Endpoint { label_en: "token price", label_zh: "代币价格", request: price_request(&hex_id("pepe", 40))? },
        Endpoint {
            label_en: "address summary", label_zh: "地址概览", request: address_request(&hex_id("whale", 40))?
        },
        Endpoint {
            label_en: "mined transaction",
            label_zh: "已上链交易",
            request: tx_request(&hex_id("mined-tx", 64))?,
        },
        Endpoint { label_en: "pending transaction", label_zh: "待确认交易", request: tx_request(&pending_tx)? },
    ];
    let policies = [Policy::Fixed(FIXED_TTL), Policy::Honour];
    let tag = |p: Policy| if p == Policy::Honour { "fresh" } else { "fixed" };
    let key = |p: Policy, e: &Endpoint| ctx.key(&format!("freshness:{}:{}", tag(p), e.request.cache_key()));
    let reads = ctx.n(10, 5);
    let mut con = ctx.connect()?;
    // [policy][endpoint]: upstream calls, stale answers (in round 2).
    let mut calls = [[0_usize; 4]; 2];
    let mut stale = [[0_usize; 4]; 2];
    let mut cache_control = [String::new(), String::new(), String::new(), String::new()];
    let mut ttl_set = [[0_i64; 4]; 2];
    let mut waited = Duration::ZERO;
    for round in 0..2 {
        for (p, &policy) in policies.iter().enumerate() {
            for (e, endpoint) in endpoints.iter().enumerate() {
                let key = key(policy, endpoint);
                for read in 0..reads {
                    ctx.check_interrupt()?;
                    let (response, source) = fetch_through(&mut con, &upstream, &endpoint.request, &key, policy)?;
                    calls[p][e] += usize::from(source == Source::Upstream);
                    if round == 1 && response.body != upstream.answer(&endpoint.request).body {
                        stale[p][e] += 1;
                    }
                    if round == 0 && read == 0 {
                        // The TTL just set, read back before anything can expire.
                        ttl_set[p][e] = pttl(&mut con, &key)?;
                        cache_control[e] = response.cache_control.header();
                    }
                }
            }
        }
        if round == 0 {
            // The upstream moves on; then wait until the price, kept for its max-age, has expired.
            upstream.advance();
            waited = wait_until_expired(ctx, &mut con, &key(Policy::Honour, &endpoints[0]))?;
        }
    }

    let label = |e: &Endpoint| ctx.tr(e.label_en, e.label_zh).to_string();
    report.finding(
        match ctx.lang {
            Lang::En => format!(
                "{reads} reads per endpoint, twice: before and after the price moved and the pending transaction was mined"
            ),
            Lang::Zh => format!("每个接口读 {reads} 次，共两轮：价格变动、待确认交易上链之前一轮，之后一轮"),
        },
        &[
            ctx.tr("endpoint", "接口"),
            ctx.tr("upstream Cache-Control", "上游 Cache-Control"),
            ctx.tr("TTL set: EX 60 for all", "TTL：一律 EX 60"),
            ctx.tr("TTL set: by freshness", "TTL：按新鲜度"),
            ctx.tr("upstream calls (EX 60 / freshness)", "上游调用（EX 60 / 按新鲜度）"),
            ctx.tr("stale answers in round 2 (EX 60 / freshness)", "第二轮旧数据（EX 60 / 按新鲜度）"),
        ],
        endpoints
            .iter()
            .enumerate()
            .map(|(e, endpoint)| {
                vec![
                    label(endpoint),
                    cache_control[e].clone(),
                    describe_pttl(ctx, ttl_set[0][e]),
                    describe_pttl(ctx, ttl_set[1][e]),
                    format!("{} / {}", calls[0][e], calls[1][e]),
                    format!("{} / {}", stale[0][e], stale[1][e]),
                ]
            })
            .collect(),
    );
    report.note(
        NoteKind::Info,
        match ctx.lang {
            Lang::En => format!(
                "Between the rounds the demo polled PTTL until the 1-second price entry was gone ({} ms). The TTL column is PTTL read back right after the fill; \"by freshness\" is max-age capped at {} days, no-store is not stored.",
                waited.as_millis(),
                MAX_TTL.as_secs() / 86_400
            ),
            Lang::Zh => format!(
                "两轮之间，演示轮询 PTTL，直到 1 秒的价格条目消失（{} 毫秒）。TTL 列是回填后立即用 PTTL 读回的值；“按新鲜度”取 max-age，但不超过 {} 天，no-store 则不存储。",
                waited.as_millis(),
                MAX_TTL.as_secs() / 86_400
            ),
        },
    );
    report.note(
        NoteKind::Caveat,
        ctx.tr(
            "Honouring freshness costs calls where data is volatile: the pending transaction is fetched on every read until it is mined. That is the price of not telling a user their transfer is still pending after it landed. A volatile endpoint under heavy load wants single-flight or stale-while-revalidate on top.",
            "遵守新鲜度，在数据易变的地方会多花调用：待确认交易在上链之前每次读取都要调用上游。这是为了不在转账已经上链之后还告诉用户“待确认”所付出的代价。高负载下的易变接口，还应再加单飞或 stale-while-revalidate。",
        ),
    );

    let stale_fixed: usize = stale[0].iter().sum();
    let stale_fresh: usize = stale[1].iter().sum();
    let (price, mined, pending) = (0, 2, 3);
    let stale_hold =
        stale_fixed == 2 * reads && stale[0][price] == reads && stale[0][pending] == reads && stale_fresh == 0;
    let mined_ttl_days = ttl_set[1][mined] as f64 / 86_400_000.0;
    let ttl_hold = calls[1][mined] == 1
        && mined_ttl_days > (MAX_TTL.as_secs() as f64 / 86_400.0) - 0.01
        && (1..=1_000).contains(&ttl_set[1][price])
        && ttl_set[1][pending] == -2
        && calls[1][price] >= 2
        && calls[1][pending] == reads + 1;
    match ctx.lang {
        Lang::En => {
            report.claim(Claim::new(
                "freshness-no-stale-answers",
                format!(
                    "With one TTL for everything (EX 60), {stale_fixed} of the {} round-2 answers for the price and the pending transaction were stale: an old price, and \"pending\" for a mined transaction. Following the upstream's Cache-Control: {stale_fresh} stale answers",
                    2 * reads
                ),
                format!("{stale_fixed} → {stale_fresh}"),
                stale_hold,
            ));
            report.claim(Claim::new(
                "ttl-per-data-class",
                format!(
                    "Freshness sets the TTL per data class: the mined transaction was kept {mined_ttl_days:.1} days and fetched once for {} reads; the price was kept {} ms and fetched {} times; the pending transaction was not stored ({} calls for {} reads, the last of them after it was mined)",
                    2 * reads,
                    ttl_set[1][price],
                    calls[1][price],
                    calls[1][pending],
                    2 * reads
                ),
                format!("{} / {} / {}", calls[1][mined], calls[1][price], calls[1][pending]),
                ttl_hold,
            ));
        }
        Lang::Zh => {
            report.claim(Claim::new(
                "freshness-no-stale-answers",
                format!(
                    "所有数据一律 EX 60 时，第二轮中价格和待确认交易的 {} 次返回里有 {stale_fixed} 次是旧数据：过时的价格，以及已上链交易仍显示“待确认”。遵守上游的 Cache-Control：旧数据 {stale_fresh} 次",
                    2 * reads
                ),
                format!("{stale_fixed} → {stale_fresh}"),
                stale_hold,
            ));
            report.claim(Claim::new(
                "ttl-per-data-class",
                format!(
                    "新鲜度决定每类数据的过期时间：已上链交易保存 {mined_ttl_days:.1} 天，{} 次读取只调用上游 1 次；价格只保存 {} 毫秒，调用 {} 次；待确认交易不存储（{} 次读取调用 {} 次，最后一次时它已上链）",
                    2 * reads,
                    ttl_set[1][price],
                    calls[1][price],
                    2 * reads,
                    calls[1][pending]
                ),
                format!("{} / {} / {}", calls[1][mined], calls[1][price], calls[1][pending]),
                ttl_hold,
            ));
        }
    }
    Ok(report)
}

/// The upstream rate-limits us (429), then recovers: what caching the error for 60 s, not at all,
/// and for 500 ms each cost.
pub fn error_caching(ctx: &Ctx) -> Result<DemoReport> {
    let mut report = DemoReport::new(
        "http-error-caching",
        ctx.tr("Errors: cache a 429 briefly, never like an answer", "错误响应：429 只短暂缓存，绝不当作正常结果缓存"),
    );
    report.note(NoteKind::Simulated, simulated_note(ctx));
    report.note(
        NoteKind::Simulated,
        match ctx.lang {
            Lang::En => format!(
                "the upstream answers 429 Too Many Requests (in {} ms) until the demo lifts its rate limit",
                upstream::REJECT_LATENCY.as_millis()
            ),
            Lang::Zh => format!(
                "在演示解除限流之前，上游一律返回 429 Too Many Requests（耗时 {} 毫秒）",
                upstream::REJECT_LATENCY.as_millis()
            ),
        },
    );
    let request = address_request(&hex_id("whale", 40))?;
    let policies = [Policy::Fixed(FIXED_TTL), Policy::SuccessOnly, Policy::Honour];
    let keys: Vec<String> = ["fixed", "never", "brief"]
        .iter()
        .map(|tag| ctx.key(&format!("errors:{tag}:{}", request.cache_key())))
        .collect();
    let requests = ctx.n(200, 60);
    let upstream = Upstream::new(5);
    let mut con = ctx.connect()?;

    // Phase 1: rate limited.
    upstream.set_rate_limited(true);
    let mut calls = [0_usize; 3];
    let mut errors = [0_usize; 3];
    let mut phase_time = [Duration::ZERO; 3];
    for (p, &policy) in policies.iter().enumerate() {
        let start = Instant::now();
        for _ in 0..requests {
            ctx.check_interrupt()?;
            let (response, source) = fetch_through(&mut con, &upstream, &request, &keys[p], policy)?;
            calls[p] += usize::from(source == Source::Upstream);
            errors[p] += usize::from(response.status != 200);
        }
        phase_time[p] = start.elapsed();
    }

    // Phase 2: the upstream recovers; poll every 10 ms until the brief policy serves a 200.
    upstream.set_rate_limited(false);
    let recovered = Instant::now();
    let mut errors_after = [0_usize; 3];
    let mut first_success: [Option<Duration>; 3] = [None; 3];
    let mut polls = 0;
    while first_success[2].is_none() && recovered.elapsed() < ERROR_TTL + EXPIRY_DEADLINE {
        ctx.check_interrupt()?;
        polls += 1;
        for (p, &policy) in policies.iter().enumerate() {
            let (response, _) = fetch_through(&mut con, &upstream, &request, &keys[p], policy)?;
            if response.status == 200 {
                first_success[p].get_or_insert_with(|| recovered.elapsed());
            } else {
                errors_after[p] += 1;
            }
        }
        thread::sleep(Duration::from_millis(10));
    }
    let fixed_left = pttl(&mut con, &keys[0])?;

    let labels = [
        ctx.tr("cache the 429 like an answer (EX 60)", "把 429 当正常结果缓存（EX 60）"),
        ctx.tr("never cache errors", "从不缓存错误"),
        ctx.tr("cache the 429 briefly (PX 500)", "短暂缓存 429（PX 500）"),
    ];
    let never = ctx.tr("not yet", "仍未恢复");
    report.finding(
        match ctx.lang {
            Lang::En => format!("{requests} requests while rate-limited, then polls every 10 ms after recovery"),
            Lang::Zh => format!("限流期间 {requests} 个请求，恢复后每 10 毫秒轮询一次"),
        },
        &[
            ctx.tr("policy", "策略"),
            ctx.tr("upstream calls while rate-limited", "限流期间的上游调用"),
            ctx.tr("429s served after recovery", "恢复后仍返回的 429"),
            ctx.tr("first 200 after recovery", "恢复后首个 200"),
        ],
        (0..3)
            .map(|p| {
                vec![
                    labels[p].to_string(),
                    format_count(calls[p] as u64),
                    format!("{} / {polls}", errors_after[p]),
                    first_success[p].map_or(never.to_string(), |d| format!("{} ms", d.as_millis())),
                ]
            })
            .collect(),
    );
    report.note(
        NoteKind::Info,
        match ctx.lang {
            Lang::En => format!(
                "The 429 cached with EX 60 still had {:.1} s to live when the brief one expired: every user of this URL would keep getting the error for that long.",
                fixed_left as f64 / 1_000.0
            ),
            Lang::Zh => format!(
                "短暂缓存的 429 过期时，用 EX 60 缓存的那个 429 还剩 {:.1} 秒：这段时间里，所有请求这个 URL 的用户都会继续收到错误。",
                fixed_left as f64 / 1_000.0
            ),
        },
    );

    // The brief policy may call once more each time its 500 ms entry runs out during phase 1.
    let brief_bound = 1 + (phase_time[2].as_millis() / ERROR_TTL.as_millis()) as usize;
    let storm_hold = calls[1] == requests && calls[0] == 1 && calls[2] <= brief_bound && calls[2] < requests;
    let recovery_hold = first_success[0].is_none()
        && errors_after[0] == polls
        && fixed_left > 50_000
        && first_success[2].is_some()
        && errors_after[1] == 0;
    let brief_ms = first_success[2].map_or(0, |d| d.as_millis());
    match ctx.lang {
        Lang::En => {
            report.claim(Claim::new(
                "brief-error-cache-stops-storm",
                format!(
                    "While rate-limited, {requests} requests sent {} calls to the upstream when errors were never cached (each one feeding the rate limit), {} when the 429 was kept for 500 ms, and {} when it was kept 60 s",
                    calls[1], calls[2], calls[0]
                ),
                format!("{} / {} / {}", calls[1], calls[2], calls[0]),
                storm_hold,
            ));
            report.claim(Claim::new(
                "brief-error-cache-recovers",
                format!(
                    "After recovery, the 429 cached for 60 s was still served on all {polls} polls ({:.0} s left); the 500 ms entry let the first 200 through after {brief_ms} ms, and never caching errors recovered on the first poll",
                    fixed_left as f64 / 1_000.0
                ),
                format!("{} / {polls}", errors_after[0]),
                recovery_hold,
            ));
        }
        Lang::Zh => {
            report.claim(Claim::new(
                "brief-error-cache-stops-storm",
                format!(
                    "限流期间 {requests} 个请求：从不缓存错误时调用上游 {} 次（每次都在给限流火上浇油），429 保存 500 毫秒时 {} 次，保存 60 秒时 {} 次",
                    calls[1], calls[2], calls[0]
                ),
                format!("{} / {} / {}", calls[1], calls[2], calls[0]),
                storm_hold,
            ));
            report.claim(Claim::new(
                "brief-error-cache-recovers",
                format!(
                    "上游恢复后，缓存 60 秒的 429 在全部 {polls} 次轮询中仍被返回（还剩 {:.0} 秒）；500 毫秒的条目在 {brief_ms} 毫秒后放行了首个 200；从不缓存错误的做法在第一次轮询就恢复了",
                    fixed_left as f64 / 1_000.0
                ),
                format!("{} / {polls}", errors_after[0]),
                recovery_hold,
            ));
        }
    }
    Ok(report)
}
