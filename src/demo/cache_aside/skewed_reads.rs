//! Demo `skewed-reads`: a Zipf workload through the cache; one source query per miss.

use std::cell::Cell;

use anyhow::{Result, anyhow};
use rand::SeedableRng;
use rand::rngs::Xoshiro256PlusPlus;
use rand_distr::{Distribution, Zipf};

use super::cache::{Outcome, read_through, token_db};
use crate::demo::{Ctx, DemoReport, NoteKind};
use crate::measure::{Backend, Claim, format_count};
use crate::sql::tokens::{self};
use crate::text::{Fact, Text};

/// A skewed (Zipf) read workload through the cache: hit ratio, and SQL queries == misses.
pub fn skewed_reads(ctx: &Ctx) -> Result<DemoReport> {
    let mut report = DemoReport::new("skewed-reads", Text::msg("title"));
    let db = token_db(ctx)?;
    let sql = db.connect()?;
    let mut con = ctx.connect()?;
    let keys: Vec<String> =
        db.tokens.iter().map(|t| ctx.key(&format!("token-zipf:{}:{}", t.chain, t.address))).collect();
    let zipf = Zipf::new(db.tokens.len() as f64, 1.0).map_err(|e| anyhow!("zipf: {e}"))?;
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(7);
    let mut ttl_rng = Xoshiro256PlusPlus::seed_from_u64(8);
    // Counting: a fixed number of reads from a cold cache, every hit and miss counted here.
    let reads = ctx.n(20_000, 3_000);
    let queries = Cell::new(0_usize);
    let (hits, misses) = (Cell::new(0_usize), Cell::new(0_usize));
    for _ in 0..reads {
        ctx.check_interrupt()?;
        let i = zipf.sample(&mut rng) as usize - 1;
        let (_, outcome) = read_through(&mut con, &sql, &keys[i], &db.tokens[i], &mut ttl_rng, &queries)?;
        match outcome {
            Outcome::Hit => hits.set(hits.get() + 1),
            Outcome::Miss => misses.set(misses.get() + 1),
        }
    }
    // Timing: the same workload, cache now warm, against querying SQL every time, in turns. Each
    // side draws its own Zipf sequence from its own seed.
    let unused = Cell::new(0_usize);
    let mut cached_rng = Xoshiro256PlusPlus::seed_from_u64(9);
    let mut direct_rng = Xoshiro256PlusPlus::seed_from_u64(10);
    let group = report.measured_group(
        ctx.sampler
            .group()
            .op("cache-aside-zipf", "cache-aside", Backend::App, || {
                let i = zipf.sample(&mut cached_rng) as usize - 1;
                read_through(&mut con, &sql, &keys[i], &db.tokens[i], &mut ttl_rng, &unused)?;
                Ok(())
            })
            .op("sql-every-time-zipf", "SQL", Backend::Sqlite, || {
                let i = zipf.sample(&mut direct_rng) as usize - 1;
                tokens::token_detail(&sql, &db.tokens[i])?;
                Ok(())
            })
            .run()?,
    );
    report.compare("cache-aside-vs-sql-every-time", group.get("cache-aside-zipf"), group.get("sql-every-time-zipf"))?;
    let ratio = hits.get() as f64 / reads.max(1) as f64 * 100.0;
    report.table(
        Text::msg("reads"),
        &["reads", "hits", "misses", "queries", "hit-ratio"],
        vec![vec![
            Text::Plain(format_count(reads as u64)),
            Text::Plain(format_count(hits.get() as u64)),
            Text::Plain(format_count(misses.get() as u64)),
            Text::Plain(format_count(queries.get() as u64)),
            Text::Plain(format!("{ratio:.1}%")),
        ]],
    );
    report.note(NoteKind::Info, Text::msg("counted-in-app"));
    let holds = queries.get() == misses.get() && ratio >= 50.0;
    report.claim(
        Claim::new("one-query-per-miss", "", format!("{ratio:.1}%"), holds)
            .fact("reads", reads)
            .fact("queries", queries.get())
            .fact("hit_ratio", Fact::Percent(ratio / 100.0)),
    );
    Ok(report)
}
