//! Demo `stampede`: many readers of one cold key, without and with single-flight.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::thread;
use std::time::{Duration, Instant};

use anyhow::{Result, anyhow};
use rand::rngs::Xoshiro256PlusPlus;
use rand::{RngExt, SeedableRng};
use redis::Commands;
use rusqlite::Connection;

use super::cache::{jittered_ttl, set_ex, token_db};
use crate::demo::{Ctx, DemoReport, NoteKind, run_together};
use crate::measure::{Claim, format_duration};
use crate::sql::tokens::{self, TokenDb, TokenInfo, TokenRef};
use crate::text::Text;

/// The simulated extra latency of the notes' remote MySQL in the stampede demo.
const SIMULATED_DB_LATENCY: Duration = Duration::from_millis(50);

/// K readers hit one cold key at once: K source queries without single-flight, 1 with it.
pub fn stampede(ctx: &Ctx) -> Result<DemoReport> {
    let mut report = DemoReport::new("stampede", Text::msg("title"));
    let db = token_db(ctx)?;
    let readers = ctx.n(16, 8);
    let token = db.tokens[0].clone();
    report.note(NoteKind::Simulated, Text::msg("simulated").fact("latency", SIMULATED_DB_LATENCY));
    let naive = run_stampede(ctx, &db, &token, readers, false)?;
    let guarded = run_stampede(ctx, &db, &token, readers, true)?;
    let label = |single_flight: bool| Text::msg(if single_flight { "single-flight" } else { "plain" });
    report.table(
        Text::msg("readers").fact("readers", readers),
        &["strategy", "queries", "slowest", "all-served"],
        [(false, &naive), (true, &guarded)]
            .iter()
            .map(|(sf, r)| {
                vec![
                    label(*sf),
                    Text::Plain(r.queries.to_string()),
                    Text::Plain(format_duration(r.slowest)),
                    Text::msg(if r.all_served { "yes" } else { "no" }),
                ]
            })
            .collect(),
    );
    let holds = naive.queries > 1 && guarded.queries == 1 && naive.all_served && guarded.all_served;
    report.claim(
        Claim::new("single-flight-one-query", "", format!("{} → {}", naive.queries, guarded.queries), holds)
            .fact("readers", readers)
            .fact("without", naive.queries)
            .fact("with", guarded.queries),
    );
    Ok(report)
}

struct StampedeResult {
    queries: usize,
    slowest: Duration,
    all_served: bool,
}

/// Compare-and-delete: release the lock only if it is still ours.
const RELEASE_LOCK: &str =
    "if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) else return 0 end";

fn run_stampede(
    ctx: &Ctx,
    db: &TokenDb,
    token: &TokenRef,
    readers: usize,
    single_flight: bool,
) -> Result<StampedeResult> {
    let tag = if single_flight { "sf" } else { "plain" };
    let key = ctx.key(&format!("token-stampede-{tag}:{}:{}", token.chain, token.address));
    let lock = ctx.key(&format!("lock:token-stampede-{tag}:{}", token.address));
    let queries = AtomicUsize::new(0);
    let release = redis::Script::new(RELEASE_LOCK);
    let source = |sql: &Connection| -> Result<Option<TokenInfo>> {
        queries.fetch_add(1, Ordering::SeqCst);
        thread::sleep(SIMULATED_DB_LATENCY);
        tokens::token_detail(sql, token)
    };
    let (results, _) = run_together(
        readers,
        |_| Ok((ctx.connect()?, db.connect()?)),
        |reader, (mut con, sql)| {
            let mut rng = Xoshiro256PlusPlus::seed_from_u64(reader as u64);
            let start = Instant::now();
            let found = loop {
                ctx.check_interrupt()?;
                if let Some(json) = con.get::<_, Option<String>>(&key)? {
                    break Some(serde_json::from_str::<TokenInfo>(&json)?);
                }
                if !single_flight {
                    let info = source(&sql)?;
                    if let Some(info) = &info {
                        set_ex(&mut con, &key, &serde_json::to_string(info)?, jittered_ttl(&mut rng))?;
                    }
                    break info;
                }
                let me = format!("{reader}-{:016x}", rng.random::<u64>());
                let opts = redis::SetOptions::default()
                    .conditional_set(redis::ExistenceCheck::NX)
                    .with_expiration(redis::SetExpiry::PX(5_000));
                let won: bool = con.set_options(&lock, &me, opts)?;
                if won {
                    // Look again before loading: another loader may have filled the key and
                    // released the lock between our miss and our SET NX.
                    let info = match con.get::<_, Option<String>>(&key)? {
                        Some(json) => Some(serde_json::from_str::<TokenInfo>(&json)?),
                        None => {
                            let info = source(&sql)?;
                            if let Some(info) = &info {
                                set_ex(&mut con, &key, &serde_json::to_string(info)?, jittered_ttl(&mut rng))?;
                            }
                            info
                        }
                    };
                    let _: i64 = release.key(&lock).arg(&me).invoke(&mut con)?;
                    break info;
                }
                // Someone else is loading: wait a little and look again.
                thread::sleep(Duration::from_millis(5));
                if start.elapsed() > Duration::from_secs(10) {
                    return Err(anyhow!("a reader waited 10 s for the cache to fill"));
                }
            };
            Ok((start.elapsed(), found.is_some()))
        },
    )?;
    let mut slowest = Duration::ZERO;
    let mut all_served = true;
    for (took, served) in results {
        slowest = slowest.max(took);
        all_served &= served;
    }
    Ok(StampedeResult { queries: queries.load(Ordering::SeqCst), slowest, all_served })
}
