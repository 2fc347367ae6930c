//! Demo `token-cache`: hit vs miss vs the source query it protects, the honest in-process row read,
//! and how the jittered TTLs spread the expiries.

use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::time::Instant;

use anyhow::{Context, Result, anyhow};
use rand::SeedableRng;
use rand::rngs::Xoshiro256PlusPlus;
use redis::Commands;

use super::cache::{Outcome, jittered_ttl, read_through, token_db, token_key};
use super::{JITTER, TTL_SECS};
use crate::demo::{Ctx, DemoReport, NoteKind};
use crate::measure::{Backend, Claim, format_count};
use crate::sql::tokens::{self, TokenInfo};
use crate::text::{Fact, Text};

/// A hit must beat the source query by more than this (whole 95% interval). The aggregate query
/// over 1,500 trades typically costs several times a loopback round trip; 2× leaves room for a
/// busy machine.
const HIT_VS_SOURCE_THRESHOLD: f64 = 2.0;

/// Hit vs miss vs the source query, the honest PK read, and what the TTLs look like.
pub fn token_cache(ctx: &Ctx) -> Result<DemoReport> {
    let mut report = DemoReport::new("token-cache", Text::msg("title"));
    let started = Instant::now();
    let db = token_db(ctx)?;
    let sql = db.connect()?;
    let mut con = ctx.connect()?;
    report.note(
        NoteKind::Info,
        Text::msg("source")
            .fact("tokens", db.tokens.len())
            .fact("trades", db.tokens.len() * tokens::TRADES_PER_TOKEN)
            .fact("took", started.elapsed()),
    );

    // Fill the cache for every token, in one pipeline, with jittered TTLs.
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(2);
    let mut fill = redis::pipe();
    for token in &db.tokens {
        ctx.check_interrupt()?;
        let info = tokens::token_detail(&sql, token)?.ok_or_else(|| anyhow!("token {} vanished", token.address))?;
        fill.cmd("SET")
            .arg(token_key(ctx, token))
            .arg(serde_json::to_string(&info)?)
            .arg("EX")
            .arg(jittered_ttl(&mut rng))
            .ignore();
    }
    fill.exec(&mut con).context("filling the cache")?;

    let keys: Vec<String> = db.tokens.iter().map(|t| token_key(ctx, t)).collect();
    let next = Cell::new(0_usize);
    let pick = || {
        let i = next.get();
        next.set((i + 1) % db.tokens.len());
        i
    };
    let misses = Cell::new(0_usize);
    let queries = Cell::new(0_usize);
    // The four take turns in rounds, so a busy moment slows each of them alike.
    let con = RefCell::new(con);
    let group = report.measured_group(
        ctx.sampler
            .group()
            .op("source-query", "SQL", Backend::Sqlite, || {
                let i = pick();
                tokens::token_detail(&sql, &db.tokens[i])?.ok_or_else(|| anyhow!("no token"))?;
                Ok(())
            })
            .op("hit", "GET", Backend::Redis, || {
                let i = pick();
                let json: Option<String> = con.borrow_mut().get(&keys[i])?;
                let _: TokenInfo = serde_json::from_str(&json.ok_or_else(|| anyhow!("expected a hit"))?)?;
                Ok(())
            })
            .op("miss", "GET + SQL + SET EX", Backend::App, || {
                // A key no sample used before, so every sample is a real miss.
                let n = misses.get();
                misses.set(n + 1);
                let key = ctx.key(&format!("token-miss-demo:{n}"));
                let (info, outcome) = read_through(
                    &mut *con.borrow_mut(),
                    &sql,
                    &key,
                    &db.tokens[n % db.tokens.len()],
                    &mut rng,
                    &queries,
                )?;
                anyhow::ensure!(info.is_some() && outcome == Outcome::Miss, "expected a miss that fills");
                Ok(())
            })
            .op("sqlite-row-read", "SQLite row", Backend::Sqlite, || {
                let i = pick();
                tokens::token_row(&sql, &db.tokens[i])?.ok_or_else(|| anyhow!("no token"))?;
                Ok(())
            })
            .run()?,
    );
    let mut con = con.into_inner();
    let (source, hit, row) = (group.get("source-query"), group.get("hit"), group.get("sqlite-row-read"));
    let speedup = report.compare("hit-vs-source-query", hit, source)?;
    let honest = report.compare("sqlite-row-read-vs-hit", row, hit)?;
    report.compare("hit-vs-miss", hit, group.get("miss"))?;

    // TTLs: where do the filled keys' expiries fall?
    let mut ttl_pipe = redis::pipe();
    for key in &keys {
        ttl_pipe.ttl(key);
    }
    let ttls: Vec<i64> = ttl_pipe.query(&mut con)?;
    let (min_ttl, max_ttl) = (ttls.iter().copied().min().unwrap_or(0), ttls.iter().copied().max().unwrap_or(0));
    let mut buckets: HashMap<i64, usize> = HashMap::new();
    for ttl in &ttls {
        *buckets.entry(ttl / 3_600).or_default() += 1;
    }
    let busiest_hour = buckets.values().copied().max().unwrap_or(0) as f64 / ttls.len().max(1) as f64 * 100.0;
    let days = |s: i64| s as f64 / 86_400.0;
    report.table(
        Text::msg("ttls"),
        &["keys", "shortest", "longest", "busiest-hour"],
        vec![vec![
            Text::Plain(format_count(ttls.len() as u64)),
            Text::Plain(format!("{:.2} d", days(min_ttl))),
            Text::Plain(format!("{:.2} d", days(max_ttl))),
            Text::Plain(format!("{busiest_hour:.1}%")),
        ]],
    );

    let lo = (TTL_SECS as f64 * (1.0 - JITTER)) as i64 - 60;
    let hi = (TTL_SECS as f64 * (1.0 + JITTER)) as i64;
    let ttls_ok = min_ttl >= lo && max_ttl <= hi;
    let spread_ok = busiest_hour < 10.0;
    report.claim(
        Claim::ratio_above("hit-beats-source-query", "", &speedup, HIT_VS_SOURCE_THRESHOLD)
            .fact("hit", hit.p50())
            .fact("ratio", Fact::Ratio(speedup.ratio))
            .fact("source", source.p50()),
    );
    report.claim(
        Claim::new("ttl-jitter-spreads-expiries", "", format!("{busiest_hour:.1}%"), ttls_ok && spread_ok)
            .fact("shortest", Fact::Number(days(min_ttl)))
            .fact("longest", Fact::Number(days(max_ttl)))
            .fact("busiest", Fact::Percent(busiest_hour / 100.0)),
    );
    report.claim(
        Claim::ratio_above("in-process-row-read-beats-round-trip", "", &honest, 1.0)
            .fact("row", row.p50())
            .fact("hit", hit.p50())
            .fact("ratio", Fact::Ratio(honest.ratio)),
    );
    Ok(report)
}
