//! Demo `invalidation`: a write to SQL, with and without DEL of the cache key.

use std::cell::Cell;

use anyhow::{Result, anyhow};
use rand::SeedableRng;
use rand::rngs::Xoshiro256PlusPlus;
use redis::Commands;

use super::cache::{Outcome, read_through, token_db};
use crate::demo::{Ctx, DemoReport, NoteKind};
use crate::measure::Claim;
use crate::sql::tokens::{self};
use crate::text::Text;

/// A write to SQL without touching the cache leaves readers on stale data for the rest of the TTL;
/// update-then-DEL fixes it.
pub fn invalidation(ctx: &Ctx) -> Result<DemoReport> {
    let mut report = DemoReport::new("invalidation", Text::msg("title"));
    let db = token_db(ctx)?;
    let sql = db.connect()?;
    let mut con = ctx.connect()?;
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(11);
    let queries = Cell::new(0);
    let token = db.tokens[db.tokens.len() / 2].clone();
    let original = tokens::token_row(&sql, &token)?.ok_or_else(|| anyhow!("no token"))?.1;
    let mut rows = Vec::new();
    let mut stale_reads = Vec::new();
    for invalidate in [false, true] {
        let key = ctx.key(&format!("token-inval-{invalidate}:{}:{}", token.chain, token.address));
        tokens::rename(&sql, &token, &original)?;
        read_through(&mut con, &sql, &key, &token, &mut rng, &queries)?; // fill
        let new_name = format!("{original} v2");
        tokens::rename(&sql, &token, &new_name)?; // the write
        if invalidate {
            let _: i64 = con.del(&key)?;
        }
        let (info, outcome) = read_through(&mut con, &sql, &key, &token, &mut rng, &queries)?;
        let seen = info.map(|i| i.name).unwrap_or_default();
        let stale = usize::from(seen != new_name);
        let ttl: i64 = con.ttl(&key)?;
        stale_reads.push(stale);
        rows.push(vec![
            Text::msg(if invalidate { "update-then-del" } else { "update-only" }),
            Text::Plain(seen),
            Text::msg(match outcome {
                Outcome::Hit => "hit-stale",
                Outcome::Miss => "miss-fresh-fill",
            }),
            Text::Plain(format!("{:.1} d", ttl as f64 / 86_400.0)),
        ]);
    }
    tokens::rename(&sql, &token, &original)?;
    report.table(Text::msg("renamed"), &["write-path", "name-seen", "read", "ttl-left"], rows);
    report.note(NoteKind::Caveat, Text::msg("delete-not-overwrite"));
    let holds = stale_reads == [1, 0];
    report.claim(
        Claim::new("del-after-write-no-stale-read", "", format!("{} → {}", stale_reads[0], stale_reads[1]), holds)
            .fact("without", stale_reads[0])
            .fact("with", stale_reads[1]),
    );
    Ok(report)
}
