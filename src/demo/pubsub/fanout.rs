//! Fan-out: N nodes SUBSCRIBE to the broadcast channel and an audit listener PSUBSCRIBEs `ws:*`;
//! every node must get every message, in order, and PUBLISH returns the number of receivers.

use std::sync::atomic::Ordering;
use std::thread;
use std::time::{Duration, Instant};

use anyhow::{Result, anyhow};

use super::{
    CHANNEL, Received, Signals, Subscription, encode, exactly, listen, node_name, reply_span, stamp, stats,
    wait_subscribed, yes_no,
};
use crate::demo::{Ctx, DemoReport, NoteKind};
use crate::i18n::Lang;
use crate::measure::{Backend, Claim, Kind, Measurement, Stats, format_count, format_duration};

/// What the audit listener subscribes to: every `ws:` channel of this run.
const PATTERN: &str = "ws:*";
/// Pause between publishes, so latency is delivery time, not queueing behind a burst.
const PACE: Duration = Duration::from_micros(100);

/// N nodes SUBSCRIBE to the broadcast channel and an audit listener PSUBSCRIBEs `ws:*`; M paced
/// messages: every node gets every message in order; publish→receive latency p50/p99.
pub fn broadcast(ctx: &Ctx) -> Result<DemoReport> {
    let mut report = DemoReport::new(
        "broadcast",
        ctx.tr("Fan-out: one PUBLISH reaches every WebSocket node", "扇出：一次 PUBLISH 送达每个 WebSocket 节点"),
    );
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
    for (i, got) in node_results.iter().enumerate() {
        let s = Stats::from_samples(&got.latencies);
        rows.push(vec![
            node_name(i),
            format!("SUBSCRIBE {CHANNEL}"),
            format!("{} / {}", format_count(got.seqs.len() as u64), format_count(messages as u64)),
            yes_no(ctx, exactly(&got.seqs, expected())),
            s.map_or_else(|| "—".into(), |s| format_duration(s.p50)),
            s.map_or_else(|| "—".into(), |s| format_duration(s.p99)),
        ]);
        all_latencies.extend_from_slice(&got.latencies);
    }
    let audit_stats = Stats::from_samples(&audit.latencies);
    rows.push(vec![
        ctx.tr("audit", "审计监听").to_string(),
        format!("PSUBSCRIBE {PATTERN}"),
        format!("{} / {}", format_count(audit.seqs.len() as u64), format_count(messages as u64)),
        yes_no(ctx, exactly(&audit.seqs, expected())),
        audit_stats.map_or_else(|| "—".into(), |s| format_duration(s.p50)),
        audit_stats.map_or_else(|| "—".into(), |s| format_duration(s.p99)),
    ]);
    report.finding(
        match ctx.lang {
            Lang::En => format!("{nodes} nodes and one pattern listener, {} messages", format_count(messages as u64)),
            Lang::Zh => format!("{nodes} 个节点加一个模式订阅者，{} 条消息", format_count(messages as u64)),
        },
        &[
            ctx.tr("subscriber", "订阅者"),
            ctx.tr("subscribed with", "订阅方式"),
            ctx.tr("received", "收到"),
            ctx.tr("all, in order", "全部且有序"),
            "p50",
            "p99",
        ],
        rows,
    );
    // No delivery at all: say so, rather than "no samples".
    stats(&all_latencies, "subscriber nodes")?;
    // Shown, not compared: one-way delays, pooled over every node.
    let latency = report.measured(Measurement::single(
        "pubsub-fanout-delivery",
        match ctx.lang {
            Lang::En => format!("Pub/Sub fan-out: PUBLISH → node receives ({nodes} nodes)"),
            Lang::Zh => format!("发布订阅扇出：PUBLISH → 节点收到（{nodes} 个节点）"),
        },
        Backend::Redis,
        Kind::Latency,
        all_latencies,
    )?);
    report.note(
        NoteKind::Info,
        match ctx.lang {
            Lang::En => format!(
                "Channel {channel}: Pub/Sub is not scoped by database number (SELECT), so this run's key prefix is what keeps other users' subscribers out. We waited for PUBSUB NUMSUB = {nodes} before publishing: messages sent before a SUBSCRIBE is confirmed are simply lost."
            ),
            Lang::Zh => format!(
                "频道 {channel}：发布订阅不区分数据库编号（SELECT），所以靠本次运行的键前缀与其他用户的订阅者隔离。发布前先等 PUBSUB NUMSUB = {nodes}：在 SUBSCRIBE 确认之前发出的消息会直接丢失。"
            ),
        },
    );
    report.note(
        NoteKind::Info,
        match ctx.lang {
            Lang::En => format!(
                "The publisher paced itself (one message about every {}; {} messages in {}), so the latency is delivery time rather than queueing behind a burst. The nodes are threads on one machine over loopback; between machines, add the network.",
                format_duration(publish_time / messages.max(1) as u32),
                format_count(messages as u64),
                format_duration(publish_time)
            ),
            Lang::Zh => format!(
                "发布方控制了节奏（约每 {} 一条；{} 条消息用时 {}），所以测到的是投递延迟，而不是在突发流量后面排队的时间。这些节点是同一台机器上的线程，走回环地址；跨机器还要加上网络时间。",
                format_duration(publish_time / messages.max(1) as u32),
                format_count(messages as u64),
                format_duration(publish_time)
            ),
        },
    );

    let delivered: usize = node_results.iter().map(|r| r.seqs.len()).sum();
    let all_in_order = node_results.iter().all(|r| exactly(&r.seqs, expected()));
    let total = nodes * messages;
    report.claim(Claim::new(
        "every-node-gets-every-message",
        match ctx.lang {
            Lang::En => format!(
                "Every node got every message, in publish order: {} of {nodes}×{} = {} deliveries; publish→receive p50 {}, p99 {}",
                format_count(delivered as u64),
                format_count(messages as u64),
                format_count(total as u64),
                format_duration(latency.stats.p50),
                format_duration(latency.stats.p99)
            ),
            Lang::Zh => format!(
                "每个节点都按发布顺序收到了每条消息：{} / {nodes}×{} = {} 次投递；发布到收到的延迟 p50 {}，p99 {}",
                format_count(delivered as u64),
                format_count(messages as u64),
                format_count(total as u64),
                format_duration(latency.stats.p50),
                format_duration(latency.stats.p99)
            ),
        },
        format!("{} / {}", format_count(delivered as u64), format_count(total as u64)),
        delivered == total && all_in_order,
    ));
    let receivers = nodes as i64 + 1;
    let min_reply = replies.iter().min().copied().unwrap_or(0);
    let audit_ok = exactly(&audit.seqs, expected()) && audit.via_pattern == messages;
    if replies.iter().any(|&r| r > receivers) {
        report.note(
            NoteKind::Caveat,
            match ctx.lang {
                Lang::En => format!(
                    "PUBLISH counted more than our {receivers} receivers: another client of this shared server has a pattern subscription (such as PSUBSCRIBE *) that matches our channel, and it received these messages too."
                ),
                Lang::Zh => format!(
                    "PUBLISH 数到的接收者多于我们的 {receivers} 个：这台共享服务器上另有客户端的模式订阅（例如 PSUBSCRIBE *）匹配了我们的频道，它也收到了这些消息。"
                ),
            },
        );
    }
    report.claim(Claim::new(
        "publish-counts-receivers",
        match ctx.lang {
            Lang::En => format!(
                "PUBLISH replies with the number of receivers, pattern subscribers included: it returned {} ({nodes} channel subscribers + 1 pattern listener), and the PSUBSCRIBE {PATTERN} listener got {} of {} as pattern messages",
                reply_span(&replies),
                format_count(audit.via_pattern as u64),
                format_count(messages as u64)
            ),
            Lang::Zh => format!(
                "PUBLISH 的返回值是接收者数量，模式订阅者也算在内：它返回了 {}（{nodes} 个频道订阅者 + 1 个模式订阅者），PSUBSCRIBE {PATTERN} 的监听者以模式消息收到了 {} / {} 条",
                reply_span(&replies),
                format_count(audit.via_pattern as u64),
                format_count(messages as u64)
            ),
        },
        format!("PUBLISH → {}", reply_span(&replies)),
        // At least: on a shared server someone else's `PSUBSCRIBE *` also counts as a receiver.
        min_reply >= receivers && audit_ok,
    ));
    Ok(report)
}
