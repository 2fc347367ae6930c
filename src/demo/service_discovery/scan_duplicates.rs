//! SCAN may return a key more than once. On a private server holding N node keys, one
//! `SCAN … MATCH svc:ws:node:* COUNT 20` iteration runs while a batch job writes a burst of scratch
//! keys and deletes them again between two calls, over and over: the keyspace's hash table grows,
//! then shrinks (Redis resizes it in the background, and rehashes step by step), and a cursor that
//! was walking the big table goes on in the small one, where some buckets hold keys it has already
//! returned. Every node key is present for the whole iteration, so SCAN's guarantee holds: each is
//! returned at least once; how many come back twice is this run's count. The application dedupes.

use std::collections::BTreeMap;
use std::thread;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, ensure};

use super::registry::{KeyNames, nonce};
use crate::demo::support::scan_page;
use crate::demo::{Ctx, DemoReport, NoteKind};
use crate::measure::{Claim, format_count};
use crate::server::{PrivateServer, TracedConnection};
use crate::text::Text;

/// SCAN's COUNT here: small, as a client paging through a big keyspace would use it, so that the
/// iteration spans many resizes.
const COUNT: usize = 20;
/// Scratch keys per burst, for each node key: enough to grow the table several times over.
const BURST_PER_NODE: usize = 10;
/// After a burst is deleted, the server gets this long to notice that its table is mostly empty
/// and shrink it (it checks on its timer, `hz` times a second).
const SHRINK_PAUSE: Duration = Duration::from_millis(20);
/// The server's timer rate: high, so that the shrink happens within the pause (the default is 10).
const HZ: &str = "500";
/// A guard against an iteration that never ends.
const MAX_CALLS: u64 = 100_000;
const IO_TIMEOUT: Duration = Duration::from_secs(10);

/// Write (or delete) the scratch keys `{prefix}{i}` for i in 0..ARGV[2], in one script.
const BURST_LUA: &str = "local op = ARGV[3]
for i = 0, tonumber(ARGV[2]) - 1 do
  if op == 'set' then redis.call('SET', ARGV[1] .. i, '1') else redis.call('DEL', ARGV[1] .. i) end
end
return tonumber(ARGV[2])";

/// What one iteration returned: how often each key came back, and how many calls it took.
#[derive(Debug, Default)]
struct Iteration {
    returned: BTreeMap<String, u64>,
    calls: u64,
    bursts: u64,
}

impl Iteration {
    fn total(&self) -> u64 {
        self.returned.values().sum()
    }

    /// Keys returned more than once.
    fn repeated(&self) -> u64 {
        self.returned.values().filter(|&&n| n > 1).count() as u64
    }
}

/// One SCAN iteration to cursor 0; with `churn`, a burst of scratch keys is written after every
/// other call and deleted after the next one (then a pause for the server to shrink its table).
fn iterate(ctx: &Ctx, con: &mut TracedConnection, pattern: &str, churn: Option<(&str, usize)>) -> Result<Iteration> {
    let script = redis::Script::new(BURST_LUA);
    let mut it = Iteration::default();
    let mut cursor: u64 = 0;
    let mut grown = false;
    loop {
        let (next, keys) = scan_page(ctx, con, cursor, pattern, COUNT)?;
        it.calls += 1;
        for key in keys {
            *it.returned.entry(key).or_default() += 1;
        }
        cursor = next;
        if cursor == 0 {
            break;
        }
        ensure!(it.calls < MAX_CALLS, "SCAN did not finish within {MAX_CALLS} calls");
        if let Some((prefix, burst)) = churn {
            let op = if grown { "del" } else { "set" };
            let _: i64 = script.arg(prefix).arg(burst).arg(op).invoke(con).context("the scratch-key burst")?;
            if grown {
                thread::sleep(SHRINK_PAUSE);
            } else {
                it.bursts += 1;
            }
            grown = !grown;
        }
    }
    if grown && let Some((prefix, burst)) = churn {
        let _: i64 = script.arg(prefix).arg(burst).arg("del").invoke(con).context("the scratch-key burst")?;
    }
    Ok(it)
}

pub fn scan_duplicates(ctx: &Ctx) -> Result<DemoReport> {
    let mut report = DemoReport::new("scan-duplicates", Text::msg("title"));
    let server = PrivateServer::start_with(&["--hz", HZ])
        .map_err(anyhow::Error::from)
        .context("this demo grows and shrinks the keyspace of a redis-server of its own, and could not start one")?;
    let mut con =
        server.traced_connection(&ctx.trace, IO_TIMEOUT).context("connecting to the demo's own redis-server")?;
    let nodes = ctx.n(1_000, 500);
    let burst = nodes * BURST_PER_NODE;
    let keys = KeyNames::new(ctx);
    let nonce = nonce();
    let node_keys: Vec<String> = (0..nodes).map(|i| keys.node(&format!("ws-{}-{nonce:04x}", i + 1))).collect();
    for chunk in node_keys.chunks(500) {
        let mut pipe = redis::pipe();
        for key in chunk {
            pipe.cmd("SET").arg(key).arg(r#"{"addr":"10.1.0.10:8080"}"#).ignore();
        }
        pipe.exec(&mut con).context("registering the nodes")?;
    }
    let pattern = format!("{}*", keys.node_prefix);
    let scratch = ctx.key("tmp:import:");

    let quiet = iterate(ctx, &mut con, &pattern, None)?;
    let start = Instant::now();
    let churned = iterate(ctx, &mut con, &pattern, Some((&scratch, burst)))?;
    let elapsed = start.elapsed();
    let dbsize: u64 = redis::cmd("DBSIZE").query(&mut con)?;

    let row = |label: &str, it: &Iteration| {
        vec![
            Text::msg(label),
            Text::Plain(format_count(it.calls)),
            Text::Plain(format_count(it.total())),
            Text::Plain(format_count(it.returned.len() as u64)),
            Text::Plain(format_count(it.repeated())),
        ]
    };
    report.table(
        Text::msg("iterations").fact("nodes", nodes).fact("count", COUNT).fact("burst", burst),
        &["iteration", "calls", "returned", "distinct", "repeated"],
        vec![row("iteration.quiet", &quiet), row("iteration.churn", &churned)],
    );
    report.note(
        NoteKind::Info,
        Text::msg("why-repeats")
            .fact("bursts", churned.bursts)
            .fact("burst", burst)
            .fact("elapsed", elapsed)
            .fact("repeated", churned.repeated()),
    );
    report.note(NoteKind::Info, Text::msg("dedupe"));
    report.note(NoteKind::Caveat, Text::msg("own-server").fact("dbsize", dbsize));

    let expected: std::collections::BTreeSet<&String> = node_keys.iter().collect();
    let got: std::collections::BTreeSet<&String> = churned.returned.keys().collect();
    let missing = expected.difference(&got).count() as u64;
    let extra = got.difference(&expected).count() as u64;
    report.claim(
        Claim::new(
            "every-node-at-least-once",
            "",
            format!("{} / {}", format_count(churned.returned.len() as u64), format_count(nodes as u64)),
            missing == 0 && extra == 0 && churned.bursts > 0,
        )
        .fact("nodes", nodes)
        .fact("bursts", churned.bursts)
        .fact("missing", missing)
        .fact("returned", churned.total())
        .fact("distinct", churned.returned.len() as u64),
    );
    Ok(report)
}
