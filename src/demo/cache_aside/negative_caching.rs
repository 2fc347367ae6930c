//! Demo `negative-caching`: remember what does not exist, briefly.

use anyhow::Result;
use redis::Commands;

use super::cache::{set_ex, token_db};
use super::{NEGATIVE_TTL_SECS, NONE_MARKER};
use crate::demo::{Ctx, DemoReport, NoteKind};
use crate::measure::{Claim, format_count};
use crate::sql::tokens::{self, TokenRef};
use crate::text::Text;

/// Reads of tokens that do not exist: every one reaches SQL, unless "not found" is cached too.
pub fn negative_caching(ctx: &Ctx) -> Result<DemoReport> {
    let mut report = DemoReport::new("negative-caching", Text::msg("title"));
    let db = token_db(ctx)?;
    let sql = db.connect()?;
    let mut con = ctx.connect()?;
    let distinct = 20;
    let reads = ctx.n(2_000, 400);
    let missing: Vec<TokenRef> = (0..distinct).map(tokens::missing_token).collect();
    let mut counts = Vec::new();
    for cache_none in [false, true] {
        let mut queries = 0;
        for i in 0..reads {
            ctx.check_interrupt()?;
            let token = &missing[i % distinct];
            let key = ctx.key(&format!("token-neg-{cache_none}:{}:{}", token.chain, token.address));
            let cached: Option<String> = con.get(&key)?;
            if cached.is_some() {
                continue; // the marker: we know it does not exist
            }
            queries += 1;
            if tokens::token_detail(&sql, token)?.is_none() && cache_none {
                set_ex(&mut con, &key, NONE_MARKER, NEGATIVE_TTL_SECS)?;
            }
        }
        counts.push(queries);
    }
    let sample_key = ctx.key(&format!("token-neg-true:{}:{}", missing[0].chain, missing[0].address));
    let marker_ttl: i64 = con.ttl(&sample_key)?;
    report.table(
        Text::msg("reads").fact("reads", reads).fact("distinct", distinct),
        &["strategy", "queries"],
        vec![
            vec![Text::msg("exists-only"), Text::Plain(format_count(counts[0] as u64))],
            vec![
                Text::msg("also-not-found").fact("marker", NONE_MARKER).fact("ttl", NEGATIVE_TTL_SECS),
                Text::Plain(format_count(counts[1] as u64)),
            ],
        ],
    );
    report.note(NoteKind::Info, Text::msg("marker-ttl").fact("ttl", marker_ttl));
    let holds = counts[0] == reads && counts[1] == distinct;
    report.claim(
        Claim::new("negative-cache-one-query-per-address", "", format!("{} → {}", counts[0], counts[1]), holds)
            .fact("without", counts[0])
            .fact("with", counts[1]),
    );
    Ok(report)
}
