//! Fan-out: N nodes SUBSCRIBE to the broadcast channel and an audit listener PSUBSCRIBEs `ws:*`;
//! every node must get every message, in order, and PUBLISH returns the number of receivers.

use std::sync::atomic::Ordering;
use std::thread;
use std::time::{Duration, Instant};

use anyhow::{Result, anyhow};

use super::CHANNEL;
use super::subscriber::{
    Received, Signals, Subscription, encode, exactly, listen, node_name, reply_span, stamp, stats, wait_subscribed,
    yes_no,
};
use crate::demo::{Ctx, DemoReport, NoteKind};
use crate::measure::{Backend, Claim, Kind, Measurement, Stats, format_count, format_duration};
use crate::text::Text;

/// What the audit listener subscribes to: every `ws:` channel of this run.
const PATTERN: &str = "ws:*";
/// Pause between publishes, so latency is delivery time, not queueing behind a burst.
const PACE: Duration = Duration::from_micros(100);

/// N nodes SUBSCRIBE to the broadcast channel and an audit listener PSUBSCRIBEs `ws:*`; M paced
/// messages: every node gets every message in order; publish→receive latency p50/p99.
pub fn broadcast(ctx: &Ctx) -> Result<DemoReport> {
    let mut report = DemoReport::new("broadcast", Text::msg("title"));
    let nodes = ctx.n(4, 3);
    let messages = ctx.n(5_000, 500);
    let channel = ctx.key(CHANNEL);
    let pattern = ctx.key(PATTERN);
    let origin = Instant::now();
    let signals = Signals::default();
    let mut pubcon = ctx.connect()?;

    let (published, results) = thread::scope(|scope| {
        let mut handles = Vec::with_capacity(nodes + 1);
        for i in 0..nodes {
            let (channel, signals) = (channel.as_str(), &signals);
            handles.push(
                scope.spawn(move || {
                    listen(ctx, origin, Subscription::Channel(channel), messages, signals, &node_name(i))
                }),
            );
        }
        let (pattern, signals_ref) = (pattern.as_str(), &signals);
        handles.push(
            scope.spawn(move || listen(ctx, origin, Subscription::Pattern(pattern), messages, signals_ref, "audit")),
        );
        let published = (|| -> Result<(Vec<i64>, Duration)> {
            wait_subscribed(ctx, &mut pubcon, &signals, nodes + 1, &channel, nodes as i64, || {
                handles.iter().any(|h| h.is_finished())
            })?;
            let mut replies = Vec::with_capacity(messages);
            let started = Instant::now();
            for seq in 0..messages as u64 {
                if seq % 64 == 0 {
                    ctx.check_interrupt()?;
                }
                let n: i64 = redis::cmd("PUBLISH").arg(&channel).arg(encode(seq, stamp(origin))).query(&mut pubcon)?;
                replies.push(n);
                thread::sleep(PACE);
            }
            Ok((replies, started.elapsed()))
        })();
        signals.done.store(true, Ordering::SeqCst);
        if published.is_err() {
            signals.stop.store(true, Ordering::SeqCst);
        }
        let results: Vec<Result<Received>> = handles
            .into_iter()
            .map(|h| h.join().unwrap_or_else(|_| Err(anyhow!("a subscriber thread panicked"))))
            .collect();
        (published, results)
    });
    // A subscriber's own error says more than the publisher's "a subscriber stopped".
    let results: Vec<Received> = results.into_iter().collect::<Result<_>>()?;
    let (replies, publish_time) = published?;
    let (node_results, audit) = results.split_at(nodes);
    let audit = &audit[0];

    let expected = || 0..messages as u64;
    let mut rows = Vec::new();
    let mut all_latencies = Vec::with_capacity(nodes * messages);
    let row = |name: Text, how: String, got: &Received| {
        let s = Stats::from_samples(&got.latencies);
        vec![
            name,
            Text::Plain(how),
            Text::Plain(format!("{} / {}", format_count(got.seqs.len() as u64), format_count(messages as u64))),
            yes_no(exactly(&got.seqs, expected())),
            Text::Plain(s.map_or_else(|| "—".into(), |s| format_duration(s.p50))),
            Text::Plain(s.map_or_else(|| "—".into(), |s| format_duration(s.p99))),
        ]
    };
    for (i, got) in node_results.iter().enumerate() {
        rows.push(row(Text::Plain(node_name(i)), format!("SUBSCRIBE {CHANNEL}"), got));
        all_latencies.extend_from_slice(&got.latencies);
    }
    rows.push(row(Text::msg("audit"), format!("PSUBSCRIBE {PATTERN}"), audit));
    report.table_with_headers(
        Text::msg("subscribers").fact("nodes", nodes).fact("messages", messages),
        vec![
            Text::msg("subscribers.header-subscriber"),
            Text::msg("subscribers.header-subscribed-with"),
            Text::msg("subscribers.header-received"),
            Text::msg("subscribers.header-in-order"),
            "p50".into(),
            "p99".into(),
        ],
        rows,
    );
    // No delivery at all: say so, rather than "no samples".
    stats(&all_latencies, "subscriber nodes")?;
    // Shown, not compared: one-way delays, pooled over every node.
    let latency = report.measured(Measurement::single(
        "pubsub-fanout-delivery",
        "PUBLISH → SUBSCRIBE",
        Backend::Redis,
        Kind::Latency,
        all_latencies,
    )?);
    report.note(NoteKind::Info, Text::msg("channel").fact("channel", channel.as_str()).fact("nodes", nodes));
    report.note(
        NoteKind::Info,
        Text::msg("paced")
            .fact("every", publish_time / messages.max(1) as u32)
            .fact("messages", messages)
            .fact("publish_time", publish_time),
    );

    let delivered: usize = node_results.iter().map(|r| r.seqs.len()).sum();
    let all_in_order = node_results.iter().all(|r| exactly(&r.seqs, expected()));
    let total = nodes * messages;
    report.claim(
        Claim::new(
            "every-node-gets-every-message",
            "",
            format!("{} / {}", format_count(delivered as u64), format_count(total as u64)),
            delivered == total && all_in_order,
        )
        .fact("delivered", delivered)
        .fact("nodes", nodes)
        .fact("messages", messages)
        .fact("total", total)
        .fact("p50", latency.stats.p50)
        .fact("p99", latency.stats.p99),
    );
    let receivers = nodes as i64 + 1;
    let min_reply = replies.iter().min().copied().unwrap_or(0);
    let audit_ok = exactly(&audit.seqs, expected()) && audit.via_pattern == messages;
    if replies.iter().any(|&r| r > receivers) {
        report.note(NoteKind::Caveat, Text::msg("foreign-pattern").fact("receivers", receivers));
    }
    report.claim(
        Claim::new(
            "publish-counts-receivers",
            "",
            format!("PUBLISH → {}", reply_span(&replies)),
            // At least: on a shared server someone else's `PSUBSCRIBE *` also counts as a receiver.
            min_reply >= receivers && audit_ok,
        )
        .fact("replies", reply_span(&replies))
        .fact("nodes", nodes)
        .fact("pattern", PATTERN)
        .fact("via_pattern", audit.via_pattern)
        .fact("messages", messages),
    );
    Ok(report)
}
