//! Nodes heartbeat into Redis (`SET svc:ws:node:{id} <json> PX 300` and `ZADD svc:ws:nodes`, in one
//! script that takes the time from the server); one crashes and drops out of both views within its
//! TTL, one leaves gracefully and is gone at once, and no healthy node ever goes missing. Afterwards
//! the crashed node's key has removed itself, but its index entry stays until the sweeper runs.

use std::time::Duration;

use anyhow::Result;

use super::cluster::{Plan, maybe, node_table, run_cluster, view_table, within_ttl};
use super::registry::{KeyNames, RedisRegistry, cluster_nodes};
use super::{HEARTBEAT_EVERY, POLL_EVERY, SLACK, TTL};
use crate::demo::{Ctx, DemoReport, NoteKind};
use crate::measure::{Claim, format_count, format_duration};
use crate::text::Text;

/// Polls needed before "no healthy node ever went missing" means something.
const MIN_POLLS: u64 = 20;

fn ms(n: usize) -> Duration {
    Duration::from_millis(n as u64)
}

pub fn node_heartbeats(ctx: &Ctx) -> Result<DemoReport> {
    let mut report = DemoReport::new("node-heartbeats", Text::msg("title"));
    let nodes = cluster_nodes(ctx.n(6, 4));
    let plan = Plan { views: 2, warm: ms(ctx.n(1_000, 300)), crash: 1, leave: 2, tail: ms(ctx.n(2_000, 500)) };
    let run = run_cluster(&ctx.interrupt, &nodes, plan, || RedisRegistry::open(ctx, TTL))?;
    let (crashed, leaving) = (&nodes[plan.crash], &nodes[plan.leave]);

    // What the crashed node left behind, now that its TTL is long past.
    let keys = KeyNames::new(ctx);
    let mut registry = RedisRegistry::open(ctx, TTL)?;
    let key_left: i64 = redis::cmd("EXISTS").arg(keys.node(&crashed.id)).query(&mut registry.con)?;
    let stale_score: Option<i64> = redis::cmd("ZSCORE").arg(&keys.index).arg(&crashed.id).query(&mut registry.con)?;
    let still_listed = registry.active_ids()?.contains(&crashed.id);
    let swept = registry.sweep_index()?;
    let index_left: i64 = redis::cmd("ZCARD").arg(&keys.index).query(&mut registry.con)?;

    node_table(&mut report, &nodes, plan, &run);
    view_table(&mut report, &run, &["view.keys", "view.index"]);
    report.table(
        Text::msg("left-behind").fact("node", crashed.name.as_str()),
        &["check", "command", "result"],
        vec![
            vec![Text::msg("check.key"), "EXISTS svc:ws:node:{id}".into(), Text::Plain(key_left.to_string())],
            vec![
                Text::msg("check.index-entry"),
                "ZSCORE svc:ws:nodes {id}".into(),
                stale_score.map_or_else(|| "nil".into(), |s| Text::msg("stale-score").fact("score", s.to_string())),
            ],
            vec![
                Text::msg("check.listed"),
                "ZRANGE svc:ws:nodes <now> +inf BYSCORE".into(),
                Text::msg(if still_listed { "yes" } else { "no" }),
            ],
            vec![
                Text::msg("check.sweeper"),
                "ZREMRANGEBYSCORE svc:ws:nodes -inf (<now>".into(),
                Text::msg("swept").fact("swept", swept).fact("left", index_left),
            ],
        ],
    );
    report.note(
        NoteKind::Info,
        Text::msg("scaled").fact("every", HEARTBEAT_EVERY).fact("ttl", TTL).fact("poll", POLL_EVERY),
    );
    report.note(NoteKind::Info, Text::msg("one-script"));
    report.note(NoteKind::Caveat, Text::msg("pause-caveat"));

    // Claims.
    let [keys_view, index_view] = [&run.views[0], &run.views[1]];
    let detected = within_ttl(keys_view.crash_gone, TTL) && within_ttl(index_view.crash_gone, TTL);
    let bound = TTL + SLACK;
    report.claim(
        Claim::new(
            "crashed-node-drops-out-by-itself",
            "",
            format!(
                "{} / {} ≤ {}",
                format_duration(keys_view.crash_gone),
                format_duration(index_view.crash_gone),
                format_duration(bound)
            ),
            detected,
        )
        .fact("node", crashed.name.as_str())
        .fact("key_gone", keys_view.crash_gone)
        .fact("index_gone", index_view.crash_gone)
        .fact("ttl", TTL)
        .fact("bound", bound)
        .fact("remaining", maybe(run.remaining_at_crash))
        .fact("took", keys_view.crash_gone_after_crash),
    );
    let flaps = keys_view.flaps + index_view.flaps;
    let longest_gap = run.nodes.iter().map(|n| n.longest_gap).max().unwrap_or_default();
    report.claim(
        Claim::new(
            "healthy-nodes-never-flap",
            "",
            format!("{flaps} / {}", format_count(run.checks * 2)),
            flaps == 0 && run.polls >= MIN_POLLS,
        )
        .fact("flaps", flaps)
        .fact("polls", run.polls)
        .fact("checks", run.checks * 2)
        .fact("longest_gap", longest_gap)
        .fact("ttl", TTL),
    );
    let left_fast = keys_view.leave_gone < TTL && index_view.leave_gone < TTL;
    report.claim(
        Claim::new(
            "graceful-leave-is-immediate",
            "",
            format!("{} / {}", format_duration(keys_view.leave_gone), format_duration(index_view.leave_gone)),
            left_fast,
        )
        .fact("node", leaving.name.as_str())
        .fact("keys_gone", keys_view.leave_gone)
        .fact("index_gone", index_view.leave_gone)
        .fact("ttl", TTL),
    );
    let stale = u64::from(stale_score.is_some());
    report.claim(
        Claim::new(
            "index-needs-a-sweeper",
            "",
            format!("EXISTS {key_left}, ZSCORE {stale}, ZREMRANGEBYSCORE {swept}"),
            key_left == 0 && stale == 1 && !still_listed && swept == 1 && index_left == 0,
        )
        .fact("node", crashed.name.as_str())
        .fact("key_left", key_left)
        .fact("stale", stale)
        // 1 when the crashed node was still listed: the message picks its word with `{listed|yes|no}`.
        .fact("listed", u64::from(still_listed))
        .fact("swept", swept),
    );
    Ok(report)
}
