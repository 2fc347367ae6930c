//! Demo `fork-cow`: what a snapshot costs in memory. BGSAVE (and an AOF rewrite, and a replica's
//! full sync) forks: the child writes the dataset as it was at the fork while the parent keeps
//! serving, and the two share every memory page until one of them writes to it; then the kernel
//! copies that page (copy-on-write). On a private server filled with token-cache entries, one
//! BGSAVE runs on a quiet server and one while a client overwrites keys as fast as it can; the
//! child reports the bytes it had to copy (`INFO persistence` `rdb_last_cow_size`).

use std::collections::HashSet;
use std::thread;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use rand::RngExt;
use redis::InfoDict;

use crate::demo::{Ctx, DemoReport, NoteKind};
use crate::measure::{Claim, ClaimStatus, format_count};
use crate::server::{PrivateServer, TracedConnection};
use crate::text::{Fact, Text};

/// Bytes of each cached value.
const VALUE_BYTES: usize = 200;
/// SETs per pipeline while the child saves.
const WRITE_BATCH: usize = 1_000;
/// Keys one fill script writes.
const FILL_BATCH: usize = 50_000;
/// How long one BGSAVE may take before the demo gives up.
const SAVE_LIMIT: Duration = Duration::from_secs(60);
const POLL: Duration = Duration::from_millis(5);
const IO_TIMEOUT: Duration = Duration::from_secs(10);
/// With writes, the child must have copied at least this many times what it copied on a quiet
/// server.
const MIN_COW_RATIO: u64 = 2;

/// `{prefix}{i}` = a value of ARGV[4] bytes, for i in ARGV[2]..ARGV[3].
const FILL_LUA: &str = "local v = string.rep('x', tonumber(ARGV[4]))
local args, n = {}, 0
for i = tonumber(ARGV[2]), tonumber(ARGV[3]) - 1 do
  args[n + 1] = ARGV[1] .. i
  args[n + 2] = v
  n = n + 2
  if n == 1000 then redis.call('MSET', unpack(args, 1, n)); n = 0 end
end
if n > 0 then redis.call('MSET', unpack(args, 1, n)) end
return tonumber(ARGV[3]) - tonumber(ARGV[2])";

fn info(con: &mut TracedConnection, section: &str) -> Result<InfoDict> {
    Ok(redis::cmd("INFO").arg(section).query(con)?)
}

fn field(info: &InfoDict, name: &str) -> u64 {
    info.get::<u64>(name).unwrap_or(0)
}

/// What one BGSAVE saw.
#[derive(Debug, Default)]
struct Save {
    writes: u64,
    overwritten: u64,
    elapsed: Duration,
    cow_bytes: u64,
    fork: Duration,
}

/// BGSAVE, then (with `overwrite`) SET random existing keys in pipelines until the child is done;
/// else just wait for it.
fn bgsave(
    ctx: &Ctx,
    server: &PrivateServer,
    con: &mut TracedConnection,
    keys: &[String],
    overwrite: bool,
) -> Result<Save> {
    let value = "y".repeat(VALUE_BYTES);
    let mut save = Save::default();
    let mut touched = HashSet::new();
    let mut rng = rand::rng();
    server.admin(&["BGSAVE"]).context("BGSAVE on the demo's own redis-server")?;
    ctx.trace.record(&["BGSAVE"]);
    let start = Instant::now();
    loop {
        ctx.check_interrupt()?;
        if overwrite {
            let mut pipe = redis::pipe();
            for _ in 0..WRITE_BATCH {
                let i = rng.random_range(0..keys.len());
                touched.insert(i);
                pipe.cmd("SET").arg(&keys[i]).arg(&value).ignore();
            }
            pipe.exec(con).context("overwriting keys during BGSAVE")?;
            save.writes += WRITE_BATCH as u64;
        } else {
            thread::sleep(POLL);
        }
        let persistence = info(con, "persistence")?;
        if field(&persistence, "rdb_bgsave_in_progress") == 0 {
            if persistence.get::<String>("rdb_last_bgsave_status").as_deref() != Some("ok") {
                bail!("BGSAVE failed on the demo's own redis-server (see its log)");
            }
            save.cow_bytes = field(&persistence, "rdb_last_cow_size");
            break;
        }
        if start.elapsed() > SAVE_LIMIT {
            bail!("BGSAVE did not finish within {}s", SAVE_LIMIT.as_secs());
        }
    }
    save.elapsed = start.elapsed();
    save.overwritten = touched.len() as u64;
    save.fork = Duration::from_micros(field(&info(con, "stats")?, "latest_fork_usec"));
    Ok(save)
}

pub fn fork_cow(ctx: &Ctx) -> Result<DemoReport> {
    let mut report = DemoReport::new("fork-cow", Text::msg("title"));
    let server = PrivateServer::start()
        .map_err(anyhow::Error::from)
        .context("this demo forks a redis-server of its own with BGSAVE, and could not start one")?;
    let mut con =
        server.traced_connection(&ctx.trace, IO_TIMEOUT).context("connecting to the demo's own redis-server")?;
    let n = ctx.n(200_000, 100_000);
    let prefix = ctx.key("token:eth:");
    let script = redis::Script::new(FILL_LUA);
    let mut next = 0;
    while next < n {
        ctx.check_interrupt()?;
        let end = (next + FILL_BATCH).min(n);
        let _: u64 = script
            .arg(&prefix)
            .arg(next)
            .arg(end)
            .arg(VALUE_BYTES)
            .invoke(&mut con)
            .context("filling the demo server")?;
        next = end;
    }
    let keys: Vec<String> = (0..n).map(|i| format!("{prefix}{i}")).collect();
    let memory = info(&mut con, "memory")?;
    let (used, rss) = (field(&memory, "used_memory"), field(&memory, "used_memory_rss"));

    let quiet = bgsave(ctx, &server, &mut con, &keys, false)?;
    let busy = bgsave(ctx, &server, &mut con, &keys, true)?;

    let pct = |bytes: u64| Fact::Percent(bytes as f64 / used.max(1) as f64);
    let row = |label: &str, s: &Save| {
        vec![
            Text::msg(label),
            Text::Plain(format_count(s.writes)),
            Text::Plain(format_count(s.overwritten)),
            Text::Plain(crate::measure::format_duration(s.elapsed)),
            Text::msg("bytes").fact("bytes", Fact::Bytes(s.cow_bytes)).fact("share", pct(s.cow_bytes)),
        ]
    };
    report.table(
        Text::msg("saves").fact("keys", n).fact("used", Fact::Bytes(used)).fact("rss", Fact::Bytes(rss)),
        &["save", "writes", "overwritten", "time", "cow"],
        vec![row("save.quiet", &quiet), row("save.busy", &busy)],
    );
    report.note(NoteKind::Info, Text::msg("how-fork-works").fact("fork", busy.fork.max(quiet.fork)).fact("keys", n));
    report.note(
        NoteKind::Info,
        Text::msg("worst-case")
            .fact("used", Fact::Bytes(used))
            .fact("cow", Fact::Bytes(busy.cow_bytes))
            .fact("share", pct(busy.cow_bytes)),
    );
    report.note(NoteKind::Info, Text::msg("headroom"));
    report.note(NoteKind::Caveat, Text::msg("own-server"));

    let measured = format!("{} / {}", Fact::Bytes(busy.cow_bytes).format(), Fact::Bytes(quiet.cow_bytes).format());
    let claim = if busy.cow_bytes == 0 {
        // The server reports no copy-on-write size (it measures it from /proc on Linux only).
        Claim::with_status("writes-during-bgsave-copy-pages", "", measured, ClaimStatus::Inconclusive)
    } else {
        Claim::new(
            "writes-during-bgsave-copy-pages",
            "",
            measured,
            busy.writes > 0 && busy.cow_bytes >= MIN_COW_RATIO * quiet.cow_bytes.max(1),
        )
    };
    report.claim(
        claim
            .fact("writes", busy.writes)
            .fact("overwritten", busy.overwritten)
            .fact("busy", Fact::Bytes(busy.cow_bytes))
            .fact("quiet", Fact::Bytes(quiet.cow_bytes))
            .fact("used", Fact::Bytes(used)),
    );
    Ok(report)
}
