//! A node that is down: Pub/Sub loses exactly what was published meanwhile (PUBLISH counts one
//! receiver fewer), while a Stream with one consumer group per node hands it all over when the node
//! returns, and XPENDING tracks what was delivered but not acknowledged.

use std::ops::Range;
use std::time::Instant;

use anyhow::{Context, Result, anyhow};
use redis::streams::{StreamInfoGroupsReply, StreamPendingCountReply, StreamPendingReply, StreamReadReply};
use redis::{ConnectionLike, PubSub};

use super::{
    CHANNEL, GRACE, READ_TIMEOUT, all_equal, decode, encode, exactly, missing, node_name, reply_span, stamp,
    wait_numsub,
};
use crate::demo::{Ctx, DemoReport, NoteKind};
use crate::i18n::Lang;
use crate::measure::{Claim, format_count};
use crate::server::TracedConnection;

/// The stream that keeps the same events for replay.
const STREAM: &str = "ws:events";
/// XREADGROUP BLOCK (ms) for new entries, and COUNT per read.
const BLOCK_MS: u64 = 200;
const READ_COUNT: usize = 100;

/// Read what is waiting for a subscriber until `last` arrives, or nothing arrives for [`GRACE`].
fn drain(ctx: &Ctx, ps: &mut PubSub<'_>, last: u64, into: &mut Vec<u64>) -> Result<()> {
    let mut idle_since = Instant::now();
    loop {
        ctx.check_interrupt()?;
        match ps.get_message() {
            Ok(msg) => {
                let payload: String = msg.get_payload()?;
                let (seq, _) = decode(&payload).ok_or_else(|| anyhow!("unexpected payload {payload:?}"))?;
                into.push(seq);
                if seq == last {
                    return Ok(());
                }
                idle_since = Instant::now();
            }
            Err(e) if e.is_timeout() => {
                if idle_since.elapsed() >= GRACE {
                    return Ok(());
                }
            }
            Err(e) => return Err(e).context("reading Pub/Sub messages"),
        }
    }
}

/// PUBLISH every sequence number of `seqs` in one pipeline; the replies are the receiver counts.
fn publish_batch(con: &mut impl ConnectionLike, channel: &str, seqs: Range<u64>, origin: Instant) -> Result<Vec<i64>> {
    let mut pipe = redis::pipe();
    for seq in seqs {
        pipe.cmd("PUBLISH").arg(channel).arg(encode(seq, stamp(origin)));
    }
    Ok(pipe.query(con)?)
}

fn range_len(r: &Range<u64>) -> usize {
    (r.end - r.start) as usize
}

// Stream plumbing

/// One stream entry as a node sees it.
#[derive(Debug, Clone)]
struct Entry {
    id: String,
    seq: u64,
}

/// XADD one entry per sequence number (approximate MAXLEN caps the history, as production should).
fn xadd_batch(con: &mut impl ConnectionLike, stream: &str, seqs: Range<u64>, origin: Instant) -> Result<()> {
    let mut pipe = redis::pipe();
    for seq in seqs {
        pipe.cmd("XADD")
            .arg(stream)
            .arg("MAXLEN")
            .arg("~")
            .arg(100_000)
            .arg("*")
            .arg("seq")
            .arg(seq)
            .arg("sent_ns")
            .arg(stamp(origin))
            .ignore();
    }
    pipe.exec(con).context("XADD")?;
    Ok(())
}

fn entries(reply: Option<StreamReadReply>) -> Result<Vec<Entry>> {
    let mut out = Vec::new();
    for key in reply.map(|r| r.keys).unwrap_or_default() {
        for id in key.ids {
            let seq: u64 = id.get("seq").ok_or_else(|| anyhow!("stream entry {} has no seq field", id.id))?;
            out.push(Entry { id: id.id, seq });
        }
    }
    Ok(out)
}

/// XREADGROUP ... `>`: entries never delivered to this group, until `want` arrived or a read waits
/// BLOCK ms with nothing new.
fn read_new(
    ctx: &Ctx,
    con: &mut impl ConnectionLike,
    stream: &str,
    group: &str,
    consumer: &str,
    want: usize,
) -> Result<Vec<Entry>> {
    let mut got = Vec::new();
    while got.len() < want {
        ctx.check_interrupt()?;
        let reply: Option<StreamReadReply> = redis::cmd("XREADGROUP")
            .arg("GROUP")
            .arg(group)
            .arg(consumer)
            .arg("COUNT")
            .arg(READ_COUNT)
            .arg("BLOCK")
            .arg(BLOCK_MS)
            .arg("STREAMS")
            .arg(stream)
            .arg(">")
            .query(con)
            .with_context(|| format!("XREADGROUP GROUP {group} {consumer}"))?;
        let batch = entries(reply)?;
        if batch.is_empty() {
            break;
        }
        got.extend(batch);
    }
    Ok(got)
}

/// XREADGROUP ... `0`: this consumer's own delivered-but-unacknowledged entries (its pending
/// history), paged by the last id seen. Never blocks: BLOCK only applies to `>`.
fn read_own_pending(
    ctx: &Ctx,
    con: &mut impl ConnectionLike,
    stream: &str,
    group: &str,
    consumer: &str,
) -> Result<Vec<Entry>> {
    let mut got: Vec<Entry> = Vec::new();
    loop {
        ctx.check_interrupt()?;
        let after = got.last().map_or_else(|| "0".to_string(), |e| e.id.clone());
        let reply: Option<StreamReadReply> = redis::cmd("XREADGROUP")
            .arg("GROUP")
            .arg(group)
            .arg(consumer)
            .arg("COUNT")
            .arg(READ_COUNT)
            .arg("STREAMS")
            .arg(stream)
            .arg(&after)
            .query(con)
            .with_context(|| format!("XREADGROUP GROUP {group} {consumer} ... {after}"))?;
        let batch = entries(reply)?;
        if batch.is_empty() {
            return Ok(got);
        }
        got.extend(batch);
    }
}

/// XACK each entry (one command per entry, all in one pipeline); returns how many the server
/// acknowledged.
fn ack(con: &mut impl ConnectionLike, stream: &str, group: &str, batch: &[Entry]) -> Result<usize> {
    if batch.is_empty() {
        return Ok(0);
    }
    let mut pipe = redis::pipe();
    for entry in batch {
        pipe.cmd("XACK").arg(stream).arg(group).arg(&entry.id);
    }
    let acked: Vec<i64> = pipe.query(con).context("XACK")?;
    Ok(acked.iter().sum::<i64>() as usize)
}

/// `XPENDING stream group` (summary form): entries delivered to the group and not acknowledged.
fn pending(con: &mut impl ConnectionLike, stream: &str, group: &str) -> Result<usize> {
    let reply: StreamPendingReply = redis::cmd("XPENDING").arg(stream).arg(group).query(con).context("XPENDING")?;
    Ok(reply.count())
}

fn group_name(node: &str) -> String {
    format!("node:{node}")
}

/// What the Pub/Sub half of the offline demo observed.
struct PubSubOutage {
    /// Per node (the last one is the one that goes down): sequence numbers received.
    got: Vec<Vec<u64>>,
    /// PUBLISH replies before, during and after the outage.
    replies: [Vec<i64>; 3],
}

/// What the Stream half observed.
struct StreamOutage {
    /// Per node: sequence numbers read with `>`.
    got: Vec<Vec<u64>>,
    /// XINFO GROUPS while the node was down: (group, pending, lag).
    groups_while_down: Vec<(String, usize, Option<usize>)>,
    /// Entries the returning node read with `>` (everything it missed).
    caught_up: usize,
    /// XPENDING after the returning node read them without XACK.
    pending_unacked: usize,
    /// Entries XREADGROUP ... 0 handed back after a simulated crash, and their delivery counts.
    redelivered: Vec<Entry>,
    /// XPENDING after that re-read: still the same entries, still unacknowledged.
    pending_restarted: usize,
    times_delivered: Vec<usize>,
    acked: usize,
    pending_after: usize,
}

/// The three phases: all nodes up, the last node down, all up again.
fn phases(before: usize, during: usize, after: usize) -> [Range<u64>; 3] {
    let (a, b, c) = (before as u64, during as u64, after as u64);
    [0..a, a..a + b, a + b..a + b + c]
}

fn pubsub_outage(ctx: &Ctx, nodes: usize, phases: &[Range<u64>; 3], origin: Instant) -> Result<PubSubOutage> {
    let channel = ctx.key(CHANNEL);
    let last = |r: &Range<u64>| r.end - 1;
    let mut pubcon = ctx.connect()?;
    let mut online_cons = (0..nodes - 1).map(|_| ctx.connect()).collect::<Result<Vec<_>>>()?;
    let mut online: Vec<PubSub<'_>> = online_cons.iter_mut().map(|c| c.inner_mut().as_pubsub()).collect();
    for ps in &mut online {
        ps.set_read_timeout(Some(READ_TIMEOUT))?;
        ps.subscribe(&channel).context("SUBSCRIBE")?;
        ctx.trace.record(&["SUBSCRIBE", &channel]);
    }
    let mut got: Vec<Vec<u64>> = vec![Vec::new(); nodes];
    let flaky = nodes - 1;

    // Phase 1: everyone is up.
    let mut flaky_con = ctx.connect()?;
    let before = {
        let mut ps = flaky_con.inner_mut().as_pubsub();
        ps.set_read_timeout(Some(READ_TIMEOUT))?;
        ps.subscribe(&channel).context("SUBSCRIBE")?;
        wait_numsub(ctx, &mut pubcon, &channel, nodes as i64)?;
        let replies = publish_batch(&mut pubcon, &channel, phases[0].clone(), origin)?;
        for (i, ps) in online.iter_mut().enumerate() {
            drain(ctx, ps, last(&phases[0]), &mut got[i])?;
        }
        drain(ctx, &mut ps, last(&phases[0]), &mut got[flaky])?;
        replies
    };
    // The node goes down: its connection closes, and with it the subscription.
    drop(flaky_con);
    wait_numsub(ctx, &mut pubcon, &channel, nodes as i64 - 1)?;
    let during = publish_batch(&mut pubcon, &channel, phases[1].clone(), origin)?;
    for (i, ps) in online.iter_mut().enumerate() {
        drain(ctx, ps, last(&phases[1]), &mut got[i])?;
    }
    // It comes back with a new connection and subscribes again.
    let mut back_con = ctx.connect()?;
    let mut back = back_con.inner_mut().as_pubsub();
    back.set_read_timeout(Some(READ_TIMEOUT))?;
    back.subscribe(&channel).context("SUBSCRIBE")?;
    ctx.trace.record(&["SUBSCRIBE", &channel]);
    wait_numsub(ctx, &mut pubcon, &channel, nodes as i64)?;
    let after = publish_batch(&mut pubcon, &channel, phases[2].clone(), origin)?;
    for (i, ps) in online.iter_mut().enumerate() {
        drain(ctx, ps, last(&phases[2]), &mut got[i])?;
    }
    drain(ctx, &mut back, last(&phases[2]), &mut got[flaky])?;
    Ok(PubSubOutage { got, replies: [before, during, after] })
}

fn stream_outage(ctx: &Ctx, nodes: usize, phases: &[Range<u64>; 3], origin: Instant) -> Result<StreamOutage> {
    let stream = ctx.key(STREAM);
    let names: Vec<String> = (0..nodes).map(node_name).collect();
    let flaky = nodes - 1;
    let mut con = ctx.connect()?;
    // Broadcast with streams: one consumer group per node, so every node reads every entry.
    // (One shared group would split the entries between the nodes instead.)
    for name in &names {
        redis::cmd("XGROUP")
            .arg("CREATE")
            .arg(&stream)
            .arg(group_name(name))
            .arg("$")
            .arg("MKSTREAM")
            .exec(&mut con)
            .context("XGROUP CREATE")?;
    }
    let mut got: Vec<Vec<u64>> = vec![Vec::new(); nodes];
    let read_and_ack = |con: &mut TracedConnection, node: usize, want: usize, got: &mut Vec<Vec<u64>>| -> Result<()> {
        let group = group_name(&names[node]);
        let batch = read_new(ctx, con, &stream, &group, &names[node], want)?;
        ack(con, &stream, &group, &batch)?;
        got[node].extend(batch.iter().map(|e| e.seq));
        Ok(())
    };
    // Phase 1: everyone reads and acknowledges.
    xadd_batch(&mut con, &stream, phases[0].clone(), origin)?;
    for node in 0..nodes {
        read_and_ack(&mut con, node, range_len(&phases[0]), &mut got)?;
    }
    // Phase 2: the last node is down; the others keep reading.
    xadd_batch(&mut con, &stream, phases[1].clone(), origin)?;
    for node in 0..flaky {
        read_and_ack(&mut con, node, range_len(&phases[1]), &mut got)?;
    }
    let info: StreamInfoGroupsReply =
        redis::cmd("XINFO").arg("GROUPS").arg(&stream).query(&mut con).context("XINFO GROUPS")?;
    let groups_while_down = info.groups.into_iter().map(|g| (g.name, g.pending, g.lag)).collect();

    // The node returns (a new connection, the same consumer name) and reads what it missed,
    // processing without XACK yet.
    let group = group_name(&names[flaky]);
    let mut back = ctx.connect()?;
    let caught_up = read_new(ctx, &mut back, &stream, &group, &names[flaky], range_len(&phases[1]))?;
    got[flaky].extend(caught_up.iter().map(|e| e.seq));
    let pending_unacked = pending(&mut back, &stream, &group)?;
    // It crashes before XACK and restarts: its pending history (ID 0) hands the same entries back.
    drop(back);
    let mut again = ctx.connect()?;
    let redelivered = read_own_pending(ctx, &mut again, &stream, &group, &names[flaky])?;
    let sample: StreamPendingCountReply =
        redis::cmd("XPENDING").arg(&stream).arg(&group).arg("-").arg("+").arg(5).query(&mut again)?;
    let times_delivered = sample.ids.iter().map(|p| p.times_delivered).collect();
    let pending_restarted = pending(&mut again, &stream, &group)?;
    let acked = ack(&mut again, &stream, &group, &redelivered)?;
    let pending_after = pending(&mut again, &stream, &group)?;

    // Phase 3: everyone is up again.
    xadd_batch(&mut con, &stream, phases[2].clone(), origin)?;
    for node in 0..flaky {
        read_and_ack(&mut con, node, range_len(&phases[2]), &mut got)?;
    }
    read_and_ack(&mut again, flaky, range_len(&phases[2]), &mut got)?;
    Ok(StreamOutage {
        got,
        groups_while_down,
        caught_up: caught_up.len(),
        pending_unacked,
        redelivered,
        pending_restarted,
        times_delivered,
        acked,
        pending_after,
    })
}

/// One node is down while messages go out: Pub/Sub loses exactly those, a Stream with a consumer
/// group per node hands them all over when the node returns, and XPENDING tracks the unacknowledged.
pub fn offline_node(ctx: &Ctx) -> Result<DemoReport> {
    let mut report = DemoReport::new(
        "offline-node",
        ctx.tr(
            "A node that is down: Pub/Sub forgets, a Stream remembers",
            "节点宕机期间：发布订阅丢消息，Stream 留着消息",
        ),
    );
    let nodes = ctx.n(4, 3);
    let phases = phases(ctx.n(200, 50), ctx.n(500, 100), ctx.n(200, 50));
    let total = phases[2].end;
    let down = node_name(nodes - 1);
    let origin = Instant::now();
    let [p1, p2, p3] = [range_len(&phases[0]), range_len(&phases[1]), range_len(&phases[2])];

    let ps = pubsub_outage(ctx, nodes, &phases, origin)?;
    let st = stream_outage(ctx, nodes, &phases, origin)?;

    // Pub/Sub: who got what.
    let status = |i: usize| {
        if i == nodes - 1 { ctx.tr("down in phase 2", "第 2 阶段宕机") } else { ctx.tr("up", "在线") }.to_string()
    };
    let rows = (0..nodes)
        .map(|i| {
            vec![
                node_name(i),
                status(i),
                format_count(ps.got[i].len() as u64),
                format_count(missing(&ps.got[i], 0..total).len() as u64),
                format_count(st.got[i].len() as u64),
                format_count(missing(&st.got[i], 0..total).len() as u64),
            ]
        })
        .collect();
    report.finding(
        match ctx.lang {
            Lang::En => format!(
                "{} messages in three phases ({p1} all up, {p2} while {down} is down, {p3} after it is back)",
                format_count(total)
            ),
            Lang::Zh => format!(
                "分三个阶段共 {} 条消息（全部在线时 {p1} 条，{down} 宕机期间 {p2} 条，恢复后 {p3} 条）",
                format_count(total)
            ),
        },
        &[
            ctx.tr("node", "节点"),
            ctx.tr("status", "状态"),
            ctx.tr("Pub/Sub received", "发布订阅收到"),
            ctx.tr("Pub/Sub missed", "发布订阅丢失"),
            ctx.tr("Stream received", "Stream 收到"),
            ctx.tr("Stream missed", "Stream 丢失"),
        ],
        rows,
    );
    let phase_names = [
        ctx.tr("1: all up", "1：全部在线"),
        ctx.tr("2: one node down", "2：一个节点宕机"),
        ctx.tr("3: back up", "3：恢复在线"),
    ];
    report.finding(
        ctx.tr("What PUBLISH returned (the number of receivers)", "PUBLISH 的返回值（接收者数量）"),
        &[ctx.tr("phase", "阶段"), ctx.tr("messages", "消息数"), ctx.tr("PUBLISH returned", "PUBLISH 返回")],
        (0..3)
            .map(|p| {
                vec![phase_names[p].to_string(), format_count(range_len(&phases[p]) as u64), reply_span(&ps.replies[p])]
            })
            .collect(),
    );
    report.finding(
        match ctx.lang {
            Lang::En => format!("XINFO GROUPS while {down} is down (one consumer group per node)"),
            Lang::Zh => format!("{down} 宕机期间的 XINFO GROUPS（每个节点一个消费者组）"),
        },
        &[ctx.tr("group", "消费者组"), ctx.tr("pending", "待确认"), ctx.tr("lag (not yet read)", "lag（尚未读取）")],
        st.groups_while_down
            .iter()
            .map(|(g, p, lag)| vec![g.clone(), p.to_string(), lag.map_or_else(|| "—".into(), |l| l.to_string())])
            .collect(),
    );
    let times = if st.times_delivered.is_empty() {
        "—".to_string()
    } else {
        st.times_delivered.iter().map(usize::to_string).collect::<Vec<_>>().join(", ")
    };
    report.finding(
        match ctx.lang {
            Lang::En => format!("XPENDING for {down}'s group as it catches up"),
            Lang::Zh => format!("{down} 的消费者组在追赶过程中的 XPENDING"),
        },
        &[ctx.tr("step", "步骤"), ctx.tr("XPENDING count", "XPENDING 数量")],
        vec![
            vec![
                ctx.tr("read everything it missed (XREADGROUP >), no XACK yet", "读取错过的全部消息（XREADGROUP >），尚未 XACK")
                    .to_string(),
                format_count(st.pending_unacked as u64),
            ],
            vec![
                match ctx.lang {
                    Lang::En => format!(
                        "crashed before XACK, restarted: XREADGROUP ... 0 handed back {} entries (times delivered: {times})",
                        format_count(st.redelivered.len() as u64)
                    ),
                    Lang::Zh => format!(
                        "XACK 之前崩溃并重启：XREADGROUP ... 0 重新交回 {} 条（投递次数：{times}）",
                        format_count(st.redelivered.len() as u64)
                    ),
                },
                format_count(st.pending_restarted as u64),
            ],
            vec![
                match ctx.lang {
                    Lang::En => format!("XACK {} entries", format_count(st.acked as u64)),
                    Lang::Zh => format!("XACK {} 条", format_count(st.acked as u64)),
                },
                format_count(st.pending_after as u64),
            ],
        ],
    );

    // Claim 1: Pub/Sub is at-most-once.
    let flaky = nodes - 1;
    let lost = missing(&ps.got[flaky], 0..total);
    let expected_flaky = phases[0].clone().chain(phases[2].clone());
    let online_ok = (0..flaky).all(|i| exactly(&ps.got[i], 0..total));
    let up = ps.replies[0].first().copied().unwrap_or(0);
    let replies_ok = all_equal(&ps.replies[0], up)
        && all_equal(&ps.replies[1], up - 1)
        && all_equal(&ps.replies[2], up)
        && up >= nodes as i64;
    let pubsub_holds = exactly(&ps.got[flaky], expected_flaky) && exactly(&lost, phases[1].clone()) && online_ok;
    report.claim(Claim::new(
        "pubsub-loses-offline-messages",
        match ctx.lang {
            Lang::En => format!(
                "Pub/Sub is fire-and-forget: {down} missed exactly the {} messages published while it was down ({} missed; it got the {p1} before and the {p3} after, in order), and while it was down PUBLISH returned {} instead of {}. The other {} nodes got all {}",
                format_count(p2 as u64),
                format_count(lost.len() as u64),
                reply_span(&ps.replies[1]),
                reply_span(&ps.replies[0]),
                nodes - 1,
                format_count(total)
            ),
            Lang::Zh => format!(
                "发布订阅是“发完即忘”的：{down} 恰好丢了它宕机期间发布的 {} 条消息（丢失 {} 条；之前的 {p1} 条和之后的 {p3} 条按顺序收到），宕机期间 PUBLISH 返回 {} 而不是 {}。其余 {} 个节点收到了全部 {} 条",
                format_count(p2 as u64),
                format_count(lost.len() as u64),
                reply_span(&ps.replies[1]),
                reply_span(&ps.replies[0]),
                nodes - 1,
                format_count(total)
            ),
        },
        match ctx.lang {
            Lang::En => format!("{} lost", format_count(lost.len() as u64)),
            Lang::Zh => format!("丢失 {}", format_count(lost.len() as u64)),
        },
        pubsub_holds && replies_ok,
    ));

    // Claim 2: the stream consumer recovered everything.
    let stream_lost = missing(&st.got[flaky], 0..total);
    let recovered = st.caught_up;
    let stream_holds = (0..nodes).all(|i| exactly(&st.got[i], 0..total));
    report.claim(Claim::new(
        "stream-replays-offline-messages",
        match ctx.lang {
            Lang::En => format!(
                "A Stream with a consumer group per node loses nothing: when {down} came back, XREADGROUP > handed it the {} entries added while it was down (the {} that Pub/Sub lost), in order; {} lost, and every node read all {}",
                format_count(recovered as u64),
                format_count(p2 as u64),
                format_count(stream_lost.len() as u64),
                format_count(total)
            ),
            Lang::Zh => format!(
                "每个节点一个消费者组的 Stream 不丢消息：{down} 恢复后，XREADGROUP > 按顺序交给它宕机期间新增的 {} 条（正是发布订阅丢掉的那 {} 条）；丢失 {} 条，每个节点都读到了全部 {} 条",
                format_count(recovered as u64),
                format_count(p2 as u64),
                format_count(stream_lost.len() as u64),
                format_count(total)
            ),
        },
        match ctx.lang {
            Lang::En => format!("{} recovered, {} lost", format_count(recovered as u64), stream_lost.len()),
            Lang::Zh => format!("找回 {}，丢失 {}", format_count(recovered as u64), stream_lost.len()),
        },
        stream_holds && recovered == p2,
    ));

    // Claim 3: XPENDING tracks the unacknowledged.
    let redelivered_ok = st.redelivered.len() == st.pending_unacked
        && st.pending_restarted == st.pending_unacked
        && st.redelivered.iter().map(|e| e.seq).eq(phases[1].clone())
        && st.times_delivered.iter().all(|&t| t == 2);
    let pending_holds =
        st.pending_unacked == p2 && redelivered_ok && st.acked == st.pending_unacked && st.pending_after == 0;
    report.claim(Claim::new(
        "xpending-tracks-unacked",
        match ctx.lang {
            Lang::En => format!(
                "XPENDING counts what was delivered but not acknowledged: {} after reading without XACK; a crash before XACK loses nothing (XREADGROUP ... 0 handed the same {} back, each delivered twice); after XACK: {}",
                format_count(st.pending_unacked as u64),
                format_count(st.redelivered.len() as u64),
                st.pending_after
            ),
            Lang::Zh => format!(
                "XPENDING 统计已投递但未确认的消息：未 XACK 读完后为 {}；XACK 之前崩溃也不丢（XREADGROUP ... 0 把同样的 {} 条交回，每条投递两次）；XACK 之后：{}",
                format_count(st.pending_unacked as u64),
                format_count(st.redelivered.len() as u64),
                st.pending_after
            ),
        },
        format!("{} → {}", format_count(st.pending_unacked as u64), st.pending_after),
        pending_holds,
    ));
    report.note(
        NoteKind::Info,
        ctx.tr(
            "Pub/Sub keeps nothing: a message goes to whoever is subscribed at that moment, and a subscriber that reconnects starts from now. A subscriber that reads too slowly is cut off by client-output-buffer-limit (pubsub 32mb 8mb 60 by default: over 32 MB queued, or over 8 MB for 60 s) and loses the rest.",
            "发布订阅不保存任何消息：消息只发给此刻已订阅的连接，重连的订阅者从“现在”开始收。读得太慢的订阅者会被 client-output-buffer-limit 断开（默认 pubsub 32mb 8mb 60：积压超过 32 MB，或超过 8 MB 持续 60 秒），之后的消息也就丢了。",
        ),
    );
    report.note(
        NoteKind::Info,
        ctx.tr(
            "A Stream is a key: it holds its entries (capped here with XADD MAXLEN ~), each consumer group remembers how far it has read, and entries stay in the group's pending list until XACK. That is at-least-once: after a crash the consumer may see an entry twice, so processing must be idempotent.",
            "Stream 是一个键：它保存条目（这里用 XADD MAXLEN ~ 限制长度），每个消费者组记住自己读到了哪里，条目在 XACK 之前一直留在组的待确认列表（PEL）里。这是“至少一次”：崩溃后消费者可能看到同一条消息两次，所以处理逻辑要幂等。",
        ),
    );
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn phases_are_contiguous() {
        let p = phases(2, 3, 4);
        assert_eq!(p, [0..2, 2..5, 5..9]);
        assert_eq!(p.iter().map(range_len).sum::<usize>(), 9);
    }
}
