//! Demo `http-freshness`: how long to keep an answer: as long as the upstream says it stays true (a
//! price for a second, a mined transaction for good, a pending one not at all).

use std::time::Duration;

use anyhow::Result;

use super::cache::{FIXED_TTL, MAX_TTL, Policy, Source, describe_pttl, fetch_through, simulated_note};
use super::key::Request;
use super::upstream::{Upstream, address_request, hex_id, price_request, tx_request};
use crate::demo::support::{pttl, wait_until_gone};
use crate::demo::{Ctx, DemoReport, NoteKind};
use crate::measure::Claim;
use crate::text::{Fact, Text};

/// One data class the gateway serves.
struct Endpoint {
    /// Its name: the message `http-freshness.<label>`.
    label: &'static str,
    request: Request,
}

/// Two rounds of reads, before and after the upstream moves on (a new price; the pending
/// transaction mined), under a one-size TTL and under the upstream's own freshness.
pub fn freshness(ctx: &Ctx) -> Result<DemoReport> {
    let mut report = DemoReport::new("http-freshness", Text::msg("title"));
    report.note(NoteKind::Simulated, simulated_note());
    let pending_tx = hex_id("pending-tx", 64);
    let upstream = Upstream::new(3).with_pending(&[&pending_tx]);
    let endpoints = [
        Endpoint { label: "token-price", request: price_request(&hex_id("pepe", 40))? },
        Endpoint { label: "address-summary", request: address_request(&hex_id("whale", 40))? },
        Endpoint { label: "mined-tx", request: tx_request(&hex_id("mined-tx", 64))? },
        Endpoint { label: "pending-tx", request: tx_request(&pending_tx)? },
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
            waited = wait_until_gone(ctx, &mut con, &key(Policy::Honour, &endpoints[0]), |_| Ok(()))?;
        }
    }

    report.table(
        Text::msg("rounds").fact("reads", reads),
        &["endpoint", "cache-control", "ttl-fixed", "ttl-fresh", "calls", "stale"],
        endpoints
            .iter()
            .enumerate()
            .map(|(e, endpoint)| {
                vec![
                    Text::msg(endpoint.label),
                    Text::Plain(cache_control[e].clone()),
                    describe_pttl(ttl_set[0][e]),
                    describe_pttl(ttl_set[1][e]),
                    Text::Plain(format!("{} / {}", calls[0][e], calls[1][e])),
                    Text::Plain(format!("{} / {}", stale[0][e], stale[1][e])),
                ]
            })
            .collect(),
    );
    report.note(
        NoteKind::Info,
        Text::msg("between-rounds").fact("waited", waited).fact("cap_days", MAX_TTL.as_secs() / 86_400),
    );
    report.note(NoteKind::Caveat, Text::msg("volatile-costs-calls"));

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
    report.claim(
        Claim::new("freshness-no-stale-answers", "", format!("{stale_fixed} → {stale_fresh}"), stale_hold)
            .fact("stale_fixed", stale_fixed)
            .fact("answers", 2 * reads)
            .fact("stale_fresh", stale_fresh),
    );
    report.claim(
        Claim::new(
            "ttl-per-data-class",
            "",
            format!("{} / {} / {}", calls[1][mined], calls[1][price], calls[1][pending]),
            ttl_hold,
        )
        .fact("mined_days", Fact::Number(mined_ttl_days))
        .fact("mined_calls", calls[1][mined])
        .fact("reads", 2 * reads)
        .fact("price_ttl", Duration::from_millis(u64::try_from(ttl_set[1][price]).unwrap_or(0)))
        .fact("price_calls", calls[1][price])
        .fact("pending_calls", calls[1][pending]),
    );
    Ok(report)
}
