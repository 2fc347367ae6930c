//! Demo `http-error-caching`: the upstream rate-limits us (429), then recovers: an error cached like an
//! answer, never, or briefly.

use std::thread;
use std::time::{Duration, Instant};

use anyhow::Result;

use super::cache::{ERROR_TTL, FIXED_TTL, Policy, Source, fetch_through, simulated_note};
use super::upstream::{self, Upstream, address_request, hex_id};
use crate::demo::support::pttl;
use crate::demo::{Ctx, DemoReport, NoteKind};
use crate::measure::{Claim, format_count};
use crate::text::Text;

/// How long to wait for a short TTL to run out before giving up.
const EXPIRY_DEADLINE: Duration = Duration::from_secs(5);

/// The upstream rate-limits us (429), then recovers: what caching the error for 60 s, not at all,
/// and for 500 ms each cost.
pub fn error_caching(ctx: &Ctx) -> Result<DemoReport> {
    let mut report = DemoReport::new("http-error-caching", Text::msg("title"));
    report.note(NoteKind::Simulated, simulated_note());
    report.note(NoteKind::Simulated, Text::msg("rate-limited").fact("latency", upstream::REJECT_LATENCY));
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

    let labels = ["policy-fixed", "policy-never", "policy-brief"];
    report.table(
        Text::msg("phases").fact("requests", requests),
        &["policy", "calls", "errors-after", "first-success"],
        (0..3)
            .map(|p| {
                vec![
                    Text::msg(labels[p]),
                    Text::Plain(format_count(calls[p] as u64)),
                    Text::Plain(format!("{} / {polls}", errors_after[p])),
                    first_success[p].map_or(Text::msg("not-yet"), |d| Text::Plain(format!("{} ms", d.as_millis()))),
                ]
            })
            .collect(),
    );
    report.note(
        NoteKind::Info,
        Text::msg("error-kept").fact("left", Duration::from_millis(u64::try_from(fixed_left).unwrap_or(0))),
    );

    // The brief policy may call once more each time its 500 ms entry runs out during phase 1.
    let brief_bound = 1 + (phase_time[2].as_millis() / ERROR_TTL.as_millis()) as usize;
    let storm_hold = calls[1] == requests && calls[0] == 1 && calls[2] <= brief_bound && calls[2] < requests;
    let recovery_hold = first_success[0].is_none()
        && errors_after[0] == polls
        && fixed_left > 50_000
        && first_success[2].is_some()
        && errors_after[1] == 0;
    report.claim(
        Claim::new(
            "brief-error-cache-stops-storm",
            "",
            format!("{} / {} / {}", calls[1], calls[2], calls[0]),
            storm_hold,
        )
        .fact("requests", requests)
        .fact("never", calls[1])
        .fact("brief", calls[2])
        .fact("fixed", calls[0]),
    );
    report.claim(
        Claim::new("brief-error-cache-recovers", "", format!("{} / {polls}", errors_after[0]), recovery_hold)
            .fact("polls", polls)
            .fact("left", Duration::from_millis(u64::try_from(fixed_left).unwrap_or(0)))
            .fact("brief", first_success[2].unwrap_or_default()),
    );
    Ok(report)
}
