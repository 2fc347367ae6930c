//! The cluster both heartbeat demos run: K nodes, each on its own thread with its own connection,
//! heartbeat every [`HEARTBEAT_EVERY`] into a registry (Redis, or a SQLite table); an observer polls
//! the registry's views every [`POLL_EVERY`], crashes one node (it simply stops, saying nothing),
//! lets another leave gracefully, and times how long each takes to vanish from every view — while
//! counting every poll in which a healthy node was missing (a flap, a false removal).

use std::collections::BTreeSet;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::thread;
use std::time::{Duration, Instant};

use anyhow::{Result, bail};

use super::registry::Node;
use super::{HEARTBEAT_EVERY, POLL_EVERY, ROUNDING, SLACK, TTL};
use crate::demo::DemoReport;
use crate::demo::run_together;
use crate::interrupt::Interrupt;
use crate::measure::{format_count, format_duration};
use crate::text::{Fact, Text};

/// The longest wait for every node to show up in every view at the start.
const UP_WAIT: Duration = Duration::from_secs(5);
/// The longest wait for a crashed or departed node to vanish before we call the registry broken.
const GONE_WAIT: Duration = Duration::from_secs(5);
/// No time recorded yet.
const NEVER: u64 = u64::MAX;

/// Where the nodes register and where the observer looks.
pub(super) trait Registry {
    /// One heartbeat: register, or renew the registration.
    fn beat(&mut self, node: &Node) -> Result<()>;
    /// A graceful shutdown: deregister at once.
    fn leave(&mut self, node: &Node) -> Result<()>;
    /// For each view of the registry, the ids it lists as alive right now.
    fn look(&mut self, nodes: &[Node]) -> Result<Vec<BTreeSet<String>>>;
    /// How long `node` has left before it drops out (None: it is gone).
    fn remaining(&mut self, node: &Node) -> Result<Option<Duration>>;
}

/// What the observer does and when.
#[derive(Debug, Clone, Copy)]
pub(super) struct Plan {
    /// How many views [`Registry::look`] returns.
    pub views: usize,
    /// Everyone healthy for this long before the crash.
    pub warm: Duration,
    /// The node that crashes.
    pub crash: usize,
    /// The node that shuts down gracefully afterwards.
    pub leave: usize,
    /// Everyone left healthy for this long at the end.
    pub tail: Duration,
}

/// One node's heartbeats.
#[derive(Debug, Clone, Copy, Default)]
pub(super) struct NodeRun {
    pub heartbeats: u64,
    /// The longest time between two of its heartbeats being sent.
    pub longest_gap: Duration,
}

/// One view of the registry.
#[derive(Debug, Clone, Default)]
pub(super) struct ViewRun {
    /// From the crashed node's last heartbeat until this view stopped listing it.
    pub crash_gone: Duration,
    /// From the crash (the node's last moment) until this view stopped listing it.
    pub crash_gone_after_crash: Duration,
    /// From the departing node's leave request until this view stopped listing it.
    pub leave_gone: Duration,
    /// Polls in which a node that was heartbeating was missing: false removals.
    pub flaps: u64,
    /// The same, per node.
    pub flaps_by_node: Vec<u64>,
}

/// Everything one cluster run observed.
#[derive(Debug, Clone)]
pub(super) struct ClusterRun {
    pub nodes: Vec<NodeRun>,
    pub views: Vec<ViewRun>,
    /// Polls after every node was up.
    pub polls: u64,
    /// Node-polls in which a healthy node was expected (per view).
    pub checks: u64,
    /// What the registry said the crashed node had left, right after the crash.
    pub remaining_at_crash: Option<Duration>,
    pub elapsed: Duration,
}

/// Flags and times shared by the node threads and the observer.
struct Shared {
    origin: Instant,
    /// Stop: healthy nodes leave gracefully.
    done: AtomicBool,
    /// A worker failed: everyone stops.
    failed: AtomicBool,
    crash: Vec<AtomicBool>,
    leave: Vec<AtomicBool>,
    /// When each node last sent a heartbeat (ns since `origin`).
    last_sent: Vec<AtomicU64>,
    /// When each node sent its leave request.
    leave_sent: Vec<AtomicU64>,
}

impl Shared {
    fn new(nodes: usize) -> Shared {
        Shared {
            origin: Instant::now(),
            done: AtomicBool::new(false),
            failed: AtomicBool::new(false),
            crash: (0..nodes).map(|_| AtomicBool::new(false)).collect(),
            leave: (0..nodes).map(|_| AtomicBool::new(false)).collect(),
            last_sent: (0..nodes).map(|_| AtomicU64::new(NEVER)).collect(),
            leave_sent: (0..nodes).map(|_| AtomicU64::new(NEVER)).collect(),
        }
    }

    fn now(&self) -> u64 {
        self.origin.elapsed().as_nanos() as u64
    }

    /// Should node `i` stop sleeping and look at its flags?
    fn flagged(&self, i: usize) -> bool {
        self.crash[i].load(Ordering::SeqCst)
            || self.leave[i].load(Ordering::SeqCst)
            || self.done.load(Ordering::SeqCst)
            || self.failed.load(Ordering::SeqCst)
    }

    /// Is node `i` supposed to be listed right now?
    fn expected(&self, i: usize) -> bool {
        !self.crash[i].load(Ordering::SeqCst) && !self.leave[i].load(Ordering::SeqCst)
    }
}

/// Sets `done` when the observer ends for any reason, so the node threads never outlive it.
struct DoneOnDrop<'a>(&'a AtomicBool);

impl Drop for DoneOnDrop<'_> {
    fn drop(&mut self) {
        self.0.store(true, Ordering::SeqCst);
    }
}

fn between(from_ns: u64, to_ns: u64) -> Duration {
    Duration::from_nanos(to_ns.saturating_sub(from_ns))
}

enum Outcome {
    Node(NodeRun),
    Observer(Observed),
}

/// What the observer saw, as instants (ns since origin) to combine with the nodes' own times.
#[derive(Debug, Default)]
struct Observed {
    crash_at: u64,
    crash_gone_at: Vec<u64>,
    leave_gone_at: Vec<u64>,
    /// Per view, per node: polls in which a healthy node was missing.
    flaps: Vec<Vec<u64>>,
    polls: u64,
    checks: u64,
    remaining_at_crash: Option<Duration>,
}

/// Run the cluster: one thread per node plus the observer, each with a registry of its own from
/// `open` (a connection, as separate processes would have).
pub(super) fn run_cluster<R: Registry>(
    interrupt: &Interrupt,
    nodes: &[Node],
    plan: Plan,
    open: impl Fn() -> Result<R> + Sync,
) -> Result<ClusterRun> {
    let k = nodes.len();
    if plan.crash >= k || plan.leave >= k || plan.crash == plan.leave {
        bail!("the cluster plan needs a crashing node and a different departing node among {k}");
    }
    let shared = Shared::new(k);
    let (outcomes, elapsed) = run_together(
        k + 1,
        |_| {
            let registry = open();
            if registry.is_err() {
                shared.failed.store(true, Ordering::SeqCst);
                shared.done.store(true, Ordering::SeqCst);
            }
            registry
        },
        |i, mut registry| {
            if i < k {
                let run = node_loop(interrupt, &shared, i, &nodes[i], &mut registry);
                if run.is_err() {
                    shared.failed.store(true, Ordering::SeqCst);
                }
                run.map(Outcome::Node)
            } else {
                let _done = DoneOnDrop(&shared.done);
                observe(interrupt, &shared, nodes, plan, &mut registry).map(Outcome::Observer)
            }
        },
    )?;
    let mut node_runs = Vec::with_capacity(k);
    let mut observed = None;
    for outcome in outcomes {
        match outcome {
            Outcome::Node(run) => node_runs.push(run),
            Outcome::Observer(o) => observed = Some(o),
        }
    }
    let Some(o) = observed else { bail!("the observer returned nothing") };
    // Every thread has ended, so the nodes' last times are final.
    let last_beat = shared.last_sent[plan.crash].load(Ordering::SeqCst);
    let leave_sent = shared.leave_sent[plan.leave].load(Ordering::SeqCst);
    if last_beat == NEVER || leave_sent == NEVER {
        bail!("the crashed or the departing node never reported its last moment");
    }
    let views = (0..plan.views)
        .map(|v| ViewRun {
            crash_gone: between(last_beat, o.crash_gone_at[v]),
            crash_gone_after_crash: between(o.crash_at, o.crash_gone_at[v]),
            leave_gone: between(leave_sent, o.leave_gone_at[v]),
            flaps: o.flaps[v].iter().sum(),
            flaps_by_node: o.flaps[v].clone(),
        })
        .collect();
    Ok(ClusterRun {
        nodes: node_runs,
        views,
        polls: o.polls,
        checks: o.checks,
        remaining_at_crash: o.remaining_at_crash,
        elapsed,
    })
}

/// A node: heartbeat on a fixed schedule until told to crash (stop silently) or to leave (deregister).
fn node_loop<R: Registry>(
    interrupt: &Interrupt,
    sh: &Shared,
    i: usize,
    node: &Node,
    registry: &mut R,
) -> Result<NodeRun> {
    let mut run = NodeRun::default();
    let mut previous: Option<Instant> = None;
    let mut next = Instant::now();
    loop {
        interrupt.check()?;
        if sh.failed.load(Ordering::SeqCst) || sh.crash[i].load(Ordering::SeqCst) {
            // A crash: no goodbye, the registration is simply no longer renewed.
            return Ok(run);
        }
        if sh.leave[i].load(Ordering::SeqCst) || sh.done.load(Ordering::SeqCst) {
            sh.leave_sent[i].store(sh.now(), Ordering::SeqCst);
            registry.leave(node)?;
            return Ok(run);
        }
        let sent = Instant::now();
        sh.last_sent[i].store(sh.now(), Ordering::SeqCst);
        registry.beat(node)?;
        run.heartbeats += 1;
        if let Some(prev) = previous {
            run.longest_gap = run.longest_gap.max(sent - prev);
        }
        previous = Some(sent);
        next += HEARTBEAT_EVERY;
        let now = Instant::now();
        if next < now {
            next = now; // late: beat again at once
        }
        while !sh.flagged(i) {
            let now = Instant::now();
            if now >= next {
                break;
            }
            thread::sleep((next - now).min(POLL_EVERY));
        }
    }
}

/// The observer's running tally.
struct Tally<'a> {
    sh: &'a Shared,
    o: Observed,
}

impl Tally<'_> {
    /// One poll: who is expected, what each view lists; count the missing healthy nodes.
    /// Returns the views and the instant the answer arrived.
    fn poll<R: Registry>(
        &mut self,
        interrupt: &Interrupt,
        nodes: &[Node],
        registry: &mut R,
        count: bool,
    ) -> Result<(Vec<BTreeSet<String>>, u64)> {
        interrupt.check()?;
        if self.sh.failed.load(Ordering::SeqCst) {
            bail!("a node failed");
        }
        let expected: Vec<usize> = (0..nodes.len()).filter(|&i| self.sh.expected(i)).collect();
        let views = registry.look(nodes)?;
        let seen_at = self.sh.now();
        if count {
            self.o.polls += 1;
            self.o.checks += expected.len() as u64;
            for (v, view) in views.iter().enumerate() {
                for &i in &expected {
                    if !view.contains(&nodes[i].id) {
                        self.o.flaps[v][i] += 1;
                    }
                }
            }
        }
        thread::sleep(POLL_EVERY);
        Ok((views, seen_at))
    }

    /// Poll until `node` is absent from every view; the instant each view first missed it.
    fn until_gone<R: Registry>(
        &mut self,
        interrupt: &Interrupt,
        nodes: &[Node],
        registry: &mut R,
        node: &Node,
    ) -> Result<Vec<u64>> {
        let views = self.o.flaps.len();
        let mut gone = vec![NEVER; views];
        let deadline = Instant::now() + GONE_WAIT;
        while gone.contains(&NEVER) {
            let (seen, at) = self.poll(interrupt, nodes, registry, true)?;
            for (v, view) in seen.iter().enumerate() {
                if gone[v] == NEVER && !view.contains(&node.id) {
                    gone[v] = at;
                }
            }
            if Instant::now() > deadline {
                bail!(
                    "{} was still listed {} after it stopped (TTL {})",
                    node.name,
                    format_duration(GONE_WAIT),
                    format_duration(TTL)
                );
            }
        }
        Ok(gone)
    }

    fn watch_for<R: Registry>(
        &mut self,
        interrupt: &Interrupt,
        nodes: &[Node],
        registry: &mut R,
        span: Duration,
    ) -> Result<()> {
        let end = Instant::now() + span;
        while Instant::now() < end {
            self.poll(interrupt, nodes, registry, true)?;
        }
        Ok(())
    }
}

fn observe<R: Registry>(
    interrupt: &Interrupt,
    sh: &Shared,
    nodes: &[Node],
    plan: Plan,
    registry: &mut R,
) -> Result<Observed> {
    let mut t = Tally { sh, o: Observed { flaps: vec![vec![0; nodes.len()]; plan.views], ..Observed::default() } };
    // Wait until every node is listed by every view.
    let deadline = Instant::now() + UP_WAIT;
    loop {
        let (views, _) = t.poll(interrupt, nodes, registry, false)?;
        if views.len() != plan.views {
            bail!("the registry returned {} views, expected {}", views.len(), plan.views);
        }
        if views.iter().all(|v| nodes.iter().all(|n| v.contains(&n.id))) {
            break;
        }
        if Instant::now() > deadline {
            bail!("not every node registered within {}", format_duration(UP_WAIT));
        }
    }
    t.watch_for(interrupt, nodes, registry, plan.warm)?;

    let crashed = &nodes[plan.crash];
    sh.crash[plan.crash].store(true, Ordering::SeqCst);
    t.o.crash_at = sh.now();
    t.o.remaining_at_crash = registry.remaining(crashed)?;
    t.o.crash_gone_at = t.until_gone(interrupt, nodes, registry, crashed)?;

    let leaving = &nodes[plan.leave];
    sh.leave[plan.leave].store(true, Ordering::SeqCst);
    t.o.leave_gone_at = t.until_gone(interrupt, nodes, registry, leaving)?;

    t.watch_for(interrupt, nodes, registry, plan.tail)?;
    Ok(t.o)
}

/// Did a crashed node drop out no earlier than the TTL and no later than TTL + ε after its last
/// heartbeat?
pub(super) fn within_ttl(gone_after: Duration, ttl: Duration) -> bool {
    gone_after + ROUNDING >= ttl && gone_after <= ttl + SLACK
}

/// A duration that may be missing, as a fact: `—` when it is.
pub(super) fn maybe(d: Option<Duration>) -> Fact {
    d.map_or_else(|| Fact::Text("—".to_string()), Fact::Duration)
}

/// One row per node: its role, how often it beat, its longest gap, how often it went missing.
/// The words are the demo's messages `nodes…` and `role.…`.
pub(super) fn node_table(report: &mut DemoReport, nodes: &[Node], plan: Plan, run: &ClusterRun) {
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
        &["node", "region", "role", "heartbeats", "longest-gap", "missing"],
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
        &["view", "crash", "last-beat", "leave", "false-removals"],
        rows,
    );
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;
    use std::sync::Mutex;

    /// An in-memory registry with TTL semantics on the real clock, shared by every thread.
    #[derive(Clone)]
    struct Fake(std::sync::Arc<Mutex<HashMap<String, Instant>>>);

    impl Registry for Fake {
        fn beat(&mut self, node: &Node) -> Result<()> {
            self.0.lock().unwrap().insert(node.id.clone(), Instant::now() + TTL);
            Ok(())
        }
        fn leave(&mut self, node: &Node) -> Result<()> {
            self.0.lock().unwrap().remove(&node.id);
            Ok(())
        }
        fn look(&mut self, _nodes: &[Node]) -> Result<Vec<BTreeSet<String>>> {
            let now = Instant::now();
            let live = self.0.lock().unwrap().iter().filter(|(_, t)| **t >= now).map(|(k, _)| k.clone()).collect();
            Ok(vec![live])
        }
        fn remaining(&mut self, node: &Node) -> Result<Option<Duration>> {
            let now = Instant::now();
            Ok(self.0.lock().unwrap().get(&node.id).and_then(|t| t.checked_duration_since(now)))
        }
    }

    #[test]
    fn a_crashed_node_vanishes_after_the_ttl_and_a_departed_one_at_once() {
        let interrupt = Interrupt::new();
        let nodes = super::super::registry::cluster_nodes(3);
        let fake = Fake(Default::default());
        let plan =
            Plan { views: 1, warm: Duration::from_millis(150), crash: 1, leave: 2, tail: Duration::from_millis(150) };
        let run = run_cluster(&interrupt, &nodes, plan, || Ok(fake.clone())).unwrap();
        let view = &run.views[0];
        // The logic, not the machine's speed: never before the TTL, and not absurdly late.
        assert!(view.crash_gone + ROUNDING >= TTL, "{:?}", view.crash_gone);
        assert!(view.crash_gone < TTL * 3, "{:?}", view.crash_gone);
        assert!(view.leave_gone < TTL, "{:?}", view.leave_gone);
        assert_eq!(view.flaps, 0);
        assert!(run.polls > 10);
        assert!(run.nodes.iter().all(|n| n.heartbeats >= 2));
    }

    #[test]
    fn detection_window_is_ttl_to_ttl_plus_slack() {
        let ms = Duration::from_millis;
        assert!(within_ttl(ms(300), TTL));
        assert!(within_ttl(ms(298), TTL));
        assert!(within_ttl(ms(400), TTL));
        assert!(!within_ttl(ms(250), TTL));
        assert!(!within_ttl(ms(401), TTL));
    }
}
