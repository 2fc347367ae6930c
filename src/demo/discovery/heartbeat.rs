//! Nodes heartbeat into Redis (`SET svc:ws:node:{id} <json> PX 300` and `ZADD svc:ws:nodes`, in one
//! script that takes the time from the server); one crashes and drops out of both views within its
//! TTL, one leaves gracefully and is gone at once, and no healthy node ever goes missing. Afterwards
//! the crashed node's key has removed itself, but its index entry stays until the sweeper runs.

use std::time::Duration;

use anyhow::Result;

use super::cluster::{ClusterRun, Plan, run_cluster};
use super::{HEARTBEAT_EVERY, KeyNames, POLL_EVERY, RedisRegistry, SLACK, TTL, cluster_nodes, within_ttl};
use crate::demo::{Ctx, DemoReport, NoteKind};
use crate::measure::{Claim, format_count, format_duration};
use crate::text::{Fact, Text};

/// Polls needed before "no healthy node ever went missing" means something.
const MIN_POLLS: u64 = 20;

fn ms(n: usize) -> Duration {
    Duration::from_millis(n as u64)
}

/// A duration that may be missing, as a fact: `—` when it is.
pub(super) fn maybe(d: Option<Duration>) -> Fact {
    d.map_or_else(|| Fact::Text("—".to_string()), Fact::Duration)
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
        vec![
            Text::msg("left-behind.header-check"),
            Text::msg("left-behind.header-command"),
            Text::msg("left-behind.header-result"),
        ],
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

/// One row per node: its role, how often it beat, its longest gap, how often it went missing.
/// The words are the demo's messages `nodes…` and `role.…`.
pub(super) fn node_table(report: &mut DemoReport, nodes: &[super::Node], plan: Plan, run: &ClusterRun) {
    let rows = nodes
        .iter()
        .enumerate()
        .map(|(i, node)| {
            let role = if i == plan.crash {
                "role.crashes"
            } else if i == plan.leave {
                "role.leaves"
            } else {
                "role.healthy"
            };
            let missing: u64 = run.views.iter().map(|v| v.flaps_by_node.get(i).copied().unwrap_or(0)).sum();
            let beat = run.nodes.get(i).copied().unwrap_or_default();
            vec![
                Text::Plain(node.name.clone()),
                node.region.into(),
                Text::msg(role),
                Text::Plain(format_count(beat.heartbeats)),
                Text::Plain(format_duration(beat.longest_gap)),
                Text::Plain(missing.to_string()),
            ]
        })
        .collect();
    report.table(
        Text::msg("nodes")
            .fact("nodes", nodes.len())
            .fact("every", HEARTBEAT_EVERY)
            .fact("ttl", TTL)
            .fact("poll", POLL_EVERY)
            .fact("elapsed", run.elapsed),
        vec![
            Text::msg("nodes.header-node"),
            Text::msg("nodes.header-region"),
            Text::msg("nodes.header-role"),
            Text::msg("nodes.header-heartbeats"),
            Text::msg("nodes.header-longest-gap"),
            Text::msg("nodes.header-missing"),
        ],
        rows,
    );
}

/// One row per view (named by the messages `views`): how fast the crashed and the departed node
/// vanished.
pub(super) fn view_table(report: &mut DemoReport, run: &ClusterRun, views: &[&str]) {
    let rows = views
        .iter()
        .zip(&run.views)
        .map(|(view, v)| {
            vec![
                Text::msg(view),
                Text::Plain(format_duration(v.crash_gone_after_crash)),
                Text::Plain(format_duration(v.crash_gone)),
                Text::Plain(format_duration(v.leave_gone)),
                Text::Plain(v.flaps.to_string()),
            ]
        })
        .collect();
    report.table(
        Text::msg("views").fact("remaining", maybe(run.remaining_at_crash)),
        vec![
            Text::msg("views.header-view"),
            Text::msg("views.header-crash"),
            Text::msg("views.header-last-beat"),
            Text::msg("views.header-leave"),
            Text::msg("views.header-false-removals"),
        ],
        rows,
    );
}
