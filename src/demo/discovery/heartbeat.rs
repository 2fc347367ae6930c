//! Nodes heartbeat into Redis (`SET svc:ws:node:{id} <json> PX 300` and `ZADD svc:ws:nodes`, in one
//! script that takes the time from the server); one crashes and drops out of both views within its
//! TTL, one leaves gracefully and is gone at once, and no healthy node ever goes missing. Afterwards
//! the crashed node's key has removed itself, but its index entry stays until the sweeper runs.

use std::time::Duration;

use anyhow::Result;

use super::cluster::{ClusterRun, Plan, run_cluster};
use super::{HEARTBEAT_EVERY, KeyNames, POLL_EVERY, RedisRegistry, SLACK, TTL, cluster_nodes, within_ttl};
use crate::demo::{Ctx, DemoReport, NoteKind};
use crate::i18n::Lang;
use crate::measure::{Claim, format_count, format_duration};

/// Polls needed before "no healthy node ever went missing" means something.
const MIN_POLLS: u64 = 20;

fn ms(n: usize) -> Duration {
    Duration::from_millis(n as u64)
}

/// `—` for a missing duration.
pub(super) fn maybe(d: Option<Duration>) -> String {
    d.map_or_else(|| "—".to_string(), format_duration)
}

pub fn node_heartbeats(ctx: &Ctx) -> Result<DemoReport> {
    let mut report = DemoReport::new(
        "node-heartbeats",
        ctx.tr("Heartbeats with a TTL: a crashed node drops out by itself", "带 TTL 的心跳：崩溃的节点自己下线"),
    );
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

    node_table(ctx, &mut report, &nodes, plan, &run);
    let views = [
        ctx.tr("node keys (PTTL ≠ -2)", "节点键（PTTL ≠ -2）"),
        ctx.tr("index (ZRANGE … BYSCORE)", "索引（ZRANGE … BYSCORE）"),
    ];
    view_table(ctx, &mut report, &run, &views);
    report.finding(
        match ctx.lang {
            Lang::En => format!("What {} left behind once its TTL had passed", crashed.name),
            Lang::Zh => format!("TTL 过后，{} 留下了什么", crashed.name),
        },
        &[ctx.tr("check", "检查"), ctx.tr("command", "命令"), ctx.tr("result", "结果")],
        vec![
            vec![
                ctx.tr("its node key", "它的节点键").to_string(),
                "EXISTS svc:ws:node:{id}".to_string(),
                key_left.to_string(),
            ],
            vec![
                ctx.tr("its index entry", "它在索引中的条目").to_string(),
                "ZSCORE svc:ws:nodes {id}".to_string(),
                stale_score.map_or_else(
                    || "nil".to_string(),
                    |s| match ctx.lang {
                        Lang::En => format!("{s} (an expiry time in the past)"),
                        Lang::Zh => format!("{s}（一个已经过去的过期时间）"),
                    },
                ),
            ],
            vec![
                ctx.tr("listed as active", "出现在活跃列表中").to_string(),
                "ZRANGE svc:ws:nodes <now> +inf BYSCORE".to_string(),
                if still_listed { ctx.tr("yes", "是") } else { ctx.tr("no", "否") }.to_string(),
            ],
            vec![
                ctx.tr("the sweeper", "清理任务").to_string(),
                "ZREMRANGEBYSCORE svc:ws:nodes -inf (<now>".to_string(),
                match ctx.lang {
                    Lang::En => format!("removed {swept}; ZCARD now {index_left}"),
                    Lang::Zh => format!("删除 {swept} 个；ZCARD 现在为 {index_left}"),
                },
            ],
        ],
    );
    report.note(
        NoteKind::Info,
        match ctx.lang {
            Lang::En => format!(
                "Timings are shrunk to fit a lesson: heartbeat every {}, TTL {} (three heartbeats), observer polling every {}. Production uses the same ratio in seconds, e.g. a heartbeat every 5 s and a TTL of 15 s.",
                format_duration(HEARTBEAT_EVERY),
                format_duration(TTL),
                format_duration(POLL_EVERY)
            ),
            Lang::Zh => format!(
                "为了适合课堂，时间都缩短了：每 {} 一次心跳，TTL {}（三次心跳），观察者每 {} 轮询一次。生产环境用同样的比例，只是单位换成秒，例如每 5 秒心跳一次、TTL 15 秒。",
                format_duration(HEARTBEAT_EVERY),
                format_duration(TTL),
                format_duration(POLL_EVERY)
            ),
        },
    );
    report.note(
        NoteKind::Info,
        ctx.tr(
            "One Lua script per heartbeat sets the key (SET … PX) and the index score (ZADD, score = expiry time) together, taking the time from the server (TIME): the nodes' own clocks may disagree by seconds, and a node whose clock runs behind would otherwise drop out early. The crash is simulated by the node's thread simply stopping, saying nothing, as a killed process would.",
            "每次心跳由一个 Lua 脚本同时设置节点键（SET … PX）和索引分数（ZADD，分数 = 过期时间），时间取自服务器（TIME）：各节点自己的时钟可能相差好几秒，时钟偏慢的节点否则会被提前判为下线。崩溃是模拟的：节点线程直接停止、不打招呼，就像进程被 kill 掉一样。",
        ),
    );
    report.note(
        NoteKind::Caveat,
        ctx.tr(
            "A node that pauses longer than the TTL (a long GC, a frozen VM) is dropped although it is alive: its next heartbeat must notice (the script could return whether the key still existed) and re-register, and clients must cope with a node that appears twice in a row. Redis here is a single instance, not a consensus system: if it is down, discovery is down; etcd, Consul or ZooKeeper trade speed for that guarantee.",
            "停顿超过 TTL 的节点（长时间 GC、虚拟机被冻结）即使还活着也会被移除：它的下一次心跳必须察觉到这一点（脚本可以返回键是否还在）并重新注册，客户端也要能应对一个节点先消失又出现。这里的 Redis 是单实例，而不是共识系统：它宕机，服务发现也就不可用；etcd、Consul、ZooKeeper 用速度换来了这方面的保证。",
        ),
    );

    // Claims.
    let [keys_view, index_view] = [&run.views[0], &run.views[1]];
    let detected = within_ttl(keys_view.crash_gone, TTL) && within_ttl(index_view.crash_gone, TTL);
    let bound = TTL + SLACK;
    report.claim(Claim::new(
        "crashed-node-drops-out-by-itself",
        match ctx.lang {
            Lang::En => format!(
                "{} crashed and dropped out by itself: its key vanished {} and its index entry {} after its last heartbeat — not before the {} TTL, and within TTL + ε = {}. PTTL right after the crash said {} were left; it took {}",
                crashed.name,
                format_duration(keys_view.crash_gone),
                format_duration(index_view.crash_gone),
                format_duration(TTL),
                format_duration(bound),
                maybe(run.remaining_at_crash),
                format_duration(keys_view.crash_gone_after_crash)
            ),
            Lang::Zh => format!(
                "{} 崩溃后自己下线了：它的键在最后一次心跳之后 {} 消失，索引条目在 {} 后不再被列出——没有早于 {} 的 TTL，且在 TTL + ε = {} 之内。崩溃后立即查的 PTTL 显示还剩 {}；实际用了 {}",
                crashed.name,
                format_duration(keys_view.crash_gone),
                format_duration(index_view.crash_gone),
                format_duration(TTL),
                format_duration(bound),
                maybe(run.remaining_at_crash),
                format_duration(keys_view.crash_gone_after_crash)
            ),
        },
        format!(
            "{} / {} ≤ {}",
            format_duration(keys_view.crash_gone),
            format_duration(index_view.crash_gone),
            format_duration(bound)
        ),
        detected,
    ));
    let flaps = keys_view.flaps + index_view.flaps;
    let longest_gap = run.nodes.iter().map(|n| n.longest_gap).max().unwrap_or_default();
    report.claim(Claim::new(
        "healthy-nodes-never-flap",
        match ctx.lang {
            Lang::En => format!(
                "Healthy nodes never flapped: {flaps} false removals in {} polls of both views ({} checks of a heartbeating node); the longest gap between two heartbeats of any node was {}, against a TTL of {}",
                format_count(run.polls),
                format_count(run.checks * 2),
                format_duration(longest_gap),
                format_duration(TTL)
            ),
            Lang::Zh => format!(
                "健康节点从未“闪断”：在对两种视图的 {} 次轮询中（共检查正在心跳的节点 {} 次），误删 {flaps} 次；任一节点两次心跳之间的最长间隔为 {}，而 TTL 是 {}",
                format_count(run.polls),
                format_count(run.checks * 2),
                format_duration(longest_gap),
                format_duration(TTL)
            ),
        },
        format!("{flaps} / {}", format_count(run.checks * 2)),
        flaps == 0 && run.polls >= MIN_POLLS,
    ));
    let left_fast = keys_view.leave_gone < TTL && index_view.leave_gone < TTL;
    report.claim(Claim::new(
        "graceful-leave-is-immediate",
        match ctx.lang {
            Lang::En => format!(
                "{} shut down gracefully (ZREM + DEL in one MULTI) and was gone from both views {} / {} after its request, without waiting out the {} TTL",
                leaving.name,
                format_duration(keys_view.leave_gone),
                format_duration(index_view.leave_gone),
                format_duration(TTL)
            ),
            Lang::Zh => format!(
                "{} 正常关闭（在一个 MULTI 中执行 ZREM + DEL），发出请求后 {} / {} 就从两种视图中消失，不必等满 {} 的 TTL",
                leaving.name,
                format_duration(keys_view.leave_gone),
                format_duration(index_view.leave_gone),
                format_duration(TTL)
            ),
        },
        format!("{} / {}", format_duration(keys_view.leave_gone), format_duration(index_view.leave_gone)),
        left_fast,
    ));
    let stale = u64::from(stale_score.is_some());
    report.claim(Claim::new(
        "index-needs-a-sweeper",
        match ctx.lang {
            Lang::En => format!(
                "Once the TTL had passed, {}'s key had removed itself (EXISTS → {key_left}), but its sorted-set entry had not: {stale} stale member, skipped by the BYSCORE filter (listed: {}), until the sweeper's ZREMRANGEBYSCORE removed {swept}",
                crashed.name,
                if still_listed { "yes" } else { "no" }
            ),
            Lang::Zh => format!(
                "TTL 过后，{} 的键已自行删除（EXISTS → {key_left}），但它在有序集合中的条目还在：{stale} 个过期成员，被 BYSCORE 条件过滤掉（是否被列出：{}），直到清理任务的 ZREMRANGEBYSCORE 删除了 {swept} 个",
                crashed.name,
                if still_listed { "是" } else { "否" }
            ),
        },
        format!("EXISTS {key_left}, ZSCORE {stale}, ZREMRANGEBYSCORE {swept}"),
        key_left == 0 && stale == 1 && !still_listed && swept == 1 && index_left == 0,
    ));
    Ok(report)
}

/// One row per node: its role, how often it beat, its longest gap, how often it went missing.
pub(super) fn node_table(ctx: &Ctx, report: &mut DemoReport, nodes: &[super::Node], plan: Plan, run: &ClusterRun) {
    let rows = nodes
        .iter()
        .enumerate()
        .map(|(i, node)| {
            let role = if i == plan.crash {
                ctx.tr("crashes (stops silently)", "崩溃（悄无声息地停止）")
            } else if i == plan.leave {
                ctx.tr("leaves gracefully", "正常关闭")
            } else {
                ctx.tr("healthy throughout", "始终健康")
            };
            let missing: u64 = run.views.iter().map(|v| v.flaps_by_node.get(i).copied().unwrap_or(0)).sum();
            let beat = run.nodes.get(i).copied().unwrap_or_default();
            vec![
                node.name.clone(),
                node.region.to_string(),
                role.to_string(),
                format_count(beat.heartbeats),
                format_duration(beat.longest_gap),
                missing.to_string(),
            ]
        })
        .collect();
    report.finding(
        match ctx.lang {
            Lang::En => format!(
                "{} WebSocket nodes heartbeat every {} (TTL {}); an observer polls every {} for {}",
                nodes.len(),
                format_duration(HEARTBEAT_EVERY),
                format_duration(TTL),
                format_duration(POLL_EVERY),
                format_duration(run.elapsed)
            ),
            Lang::Zh => format!(
                "{} 个 WebSocket 节点每 {} 心跳一次（TTL {}）；观察者每 {} 轮询一次，共 {}",
                nodes.len(),
                format_duration(HEARTBEAT_EVERY),
                format_duration(TTL),
                format_duration(POLL_EVERY),
                format_duration(run.elapsed)
            ),
        },
        &[
            ctx.tr("node", "节点"),
            ctx.tr("region", "区域"),
            ctx.tr("role", "角色"),
            ctx.tr("heartbeats", "心跳次数"),
            ctx.tr("longest gap", "最长间隔"),
            ctx.tr("missing while healthy", "健康时缺失次数"),
        ],
        rows,
    );
}

/// One row per view: how fast the crashed and the departed node vanished.
pub(super) fn view_table(ctx: &Ctx, report: &mut DemoReport, run: &ClusterRun, names: &[&str]) {
    let rows = names
        .iter()
        .zip(&run.views)
        .map(|(name, v)| {
            vec![
                name.to_string(),
                format_duration(v.crash_gone_after_crash),
                format_duration(v.crash_gone),
                format_duration(v.leave_gone),
                v.flaps.to_string(),
            ]
        })
        .collect();
    report.finding(
        match ctx.lang {
            Lang::En => format!(
                "How long until each view stopped listing a node (time left right after the crash: {})",
                maybe(run.remaining_at_crash)
            ),
            Lang::Zh => {
                format!("每种视图过了多久不再列出该节点（崩溃后立即查到的剩余时间：{}）", maybe(run.remaining_at_crash))
            }
        },
        &[
            ctx.tr("view", "视图"),
            ctx.tr("crash → gone", "崩溃 → 消失"),
            ctx.tr("last heartbeat → gone", "最后一次心跳 → 消失"),
            ctx.tr("graceful leave → gone", "正常关闭 → 消失"),
            ctx.tr("false removals", "误删次数"),
        ],
        rows,
    );
}
