//! A node that is down: Pub/Sub loses exactly what was published meanwhile (PUBLISH counts one
//! receiver fewer), while a Stream with one consumer group per node hands it all over when the node
//! returns, and XPENDING tracks what was delivered but not acknowledged.

use std::ops::Range;
use std::time::Instant;

use anyhow::{Context, Result, anyhow};
use redis::streams::{StreamInfoGroupsReply, StreamPendingCountReply, StreamPendingReply, StreamReadReply};
use redis::{ConnectionLike, PubSub};

use super::subscriber::{all_equal, decode, encode, exactly, missing, node_name, reply_span, stamp, wait_numsub};
use super::{CHANNEL, GRACE, READ_TIMEOUT};
use crate::demo::{Ctx, DemoReport, NoteKind};
use crate::measure::{Claim, format_count};
use crate::server::TracedConnection;
use crate::text::Text;

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
    let mut report = DemoReport::new("offline-node", Text::msg("title"));
    let nodes = ctx.n(4, 3);
    let phases = phases(ctx.n(200, 50), ctx.n(500, 100), ctx.n(200, 50));
    let total = phases[2].end;
    let down = node_name(nodes - 1);
    let origin = Instant::now();
    let [p1, p2, p3] = [range_len(&phases[0]), range_len(&phases[1]), range_len(&phases[2])];

    let ps = pubsub_outage(ctx, nodes, &phases, origin)?;
    let st = stream_outage(ctx, nodes, &phases, origin)?;

    // Pub/Sub: who got what.
    let count = |n: usize| Text::Plain(format_count(n as u64));
    let rows = (0..nodes)
        .map(|i| {
            vec![
                Text::Plain(node_name(i)),
                Text::msg(if i == nodes - 1 { "nodes.down-in-phase-2" } else { "nodes.up" }),
                count(ps.got[i].len()),
                count(missing(&ps.got[i], 0..total).len()),
                count(st.got[i].len()),
                count(missing(&st.got[i], 0..total).len()),
            ]
        })
        .collect();
    report.table(
        Text::msg("nodes")
            .fact("total", total)
            .fact("p1", p1)
            .fact("p2", p2)
            .fact("p3", p3)
            .fact("down", down.as_str()),
        &["node", "status", "pubsub-received", "pubsub-missed", "stream-received", "stream-missed"],
        rows,
    );
    let phase_names = ["replies.phase-1", "replies.phase-2", "replies.phase-3"];
    report.table(
        Text::msg("replies"),
        &["phase", "messages", "returned"],
        (0..3)
            .map(|p| {
                vec![Text::msg(phase_names[p]), count(range_len(&phases[p])), Text::Plain(reply_span(&ps.replies[p]))]
            })
            .collect(),
    );
    report.table(
        Text::msg("groups").fact("down", down.as_str()),
        &["group", "pending", "lag"],
        st.groups_while_down
            .iter()
            .map(|(g, p, lag)| {
                vec![
                    Text::Plain(g.clone()),
                    Text::Plain(p.to_string()),
                    Text::Plain(lag.map_or_else(|| "—".into(), |l| l.to_string())),
                ]
            })
            .collect(),
    );
    let times = if st.times_delivered.is_empty() {
        "—".to_string()
    } else {
        st.times_delivered.iter().map(usize::to_string).collect::<Vec<_>>().join(", ")
    };
    report.table(
        Text::msg("pending").fact("down", down.as_str()),
        &["step", "count"],
        vec![
            vec![Text::msg("pending.read-missed"), count(st.pending_unacked)],
            vec![
                Text::msg("pending.restarted").fact("redelivered", st.redelivered.len()).fact("times", times),
                count(st.pending_restarted),
            ],
            vec![Text::msg("pending.acked").fact("acked", st.acked), count(st.pending_after)],
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
    report.claim(
        Claim::new(
            "pubsub-loses-offline-messages",
            "",
            // Missed of those sent while it was down.
            format!("{} / {}", format_count(lost.len() as u64), format_count(p2 as u64)),
            pubsub_holds && replies_ok,
        )
        .fact("down", down.as_str())
        .fact("p1", p1)
        .fact("p2", p2)
        .fact("p3", p3)
        .fact("lost", lost.len())
        .fact("replies_down", reply_span(&ps.replies[1]))
        .fact("replies_up", reply_span(&ps.replies[0]))
        .fact("others", nodes - 1)
        .fact("total", total),
    );

    // Claim 2: the stream consumer recovered everything.
    let stream_lost = missing(&st.got[flaky], 0..total);
    let recovered = st.caught_up;
    let stream_holds = (0..nodes).all(|i| exactly(&st.got[i], 0..total));
    report.claim(
        Claim::new(
            "stream-replays-offline-messages",
            "",
            // Recovered of those sent while it was down, and lost.
            format!("{} / {}, {}", format_count(recovered as u64), format_count(p2 as u64), stream_lost.len()),
            stream_holds && recovered == p2,
        )
        .fact("down", down.as_str())
        .fact("recovered", recovered)
        .fact("p2", p2)
        .fact("lost", stream_lost.len())
        .fact("total", total),
    );

    // Claim 3: XPENDING tracks the unacknowledged.
    let redelivered_ok = st.redelivered.len() == st.pending_unacked
        && st.pending_restarted == st.pending_unacked
        && st.redelivered.iter().map(|e| e.seq).eq(phases[1].clone())
        && st.times_delivered.iter().all(|&t| t == 2);
    let pending_holds =
        st.pending_unacked == p2 && redelivered_ok && st.acked == st.pending_unacked && st.pending_after == 0;
    report.claim(
        Claim::new(
            "xpending-tracks-unacked",
            "",
            format!("{} → {}", format_count(st.pending_unacked as u64), st.pending_after),
            pending_holds,
        )
        .fact("unacked", st.pending_unacked)
        .fact("redelivered", st.redelivered.len())
        .fact("after", st.pending_after),
    );
    report.note(NoteKind::Info, Text::msg("pubsub-keeps-nothing"));
    report.note(NoteKind::Info, Text::msg("stream-is-a-key"));
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
