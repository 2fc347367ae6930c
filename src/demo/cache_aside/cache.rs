//! The cache-aside read path the demos share: the key, the jittered TTL, read-through and fill.

use std::cell::Cell;

use anyhow::Result;
use rand::RngExt;
use redis::ConnectionLike;
use rusqlite::Connection;

use super::{JITTER, TTL_SECS};
use crate::demo::Ctx;
use crate::sql::tokens::{self, TokenDb, TokenInfo, TokenRef};

pub fn token_key(ctx: &Ctx, token: &TokenRef) -> String {
    ctx.key(&format!("token:{}:{}", token.chain, token.address.to_ascii_lowercase()))
}

/// 30 days ± 10%, never below one second (`SET ... EX 0` is an error).
pub fn jittered_ttl(rng: &mut impl rand::Rng) -> u64 {
    let factor = 1.0 + rng.random_range(-JITTER..JITTER);
    ((TTL_SECS as f64 * factor).round() as u64).max(1)
}

/// What a cache-aside read found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Hit,
    Miss,
}

/// Cache-aside read: GET; on a miss run the source query and SET ... EX with a jittered TTL.
pub fn read_through(
    con: &mut impl ConnectionLike,
    db: &Connection,
    key: &str,
    token: &TokenRef,
    rng: &mut impl rand::Rng,
    source_queries: &Cell<usize>,
) -> Result<(Option<TokenInfo>, Outcome)> {
    if let Some(json) = redis::cmd("GET").arg(key).query::<Option<String>>(con)? {
        return Ok((Some(serde_json::from_str(&json)?), Outcome::Hit));
    }
    source_queries.set(source_queries.get() + 1);
    let info = tokens::token_detail(db, token)?;
    if let Some(info) = &info {
        set_ex(con, key, &serde_json::to_string(info)?, jittered_ttl(rng))?;
    }
    Ok((info, Outcome::Miss))
}

/// `SET key value EX seconds` (SETEX is deprecated since 2.6.12 in favour of this form).
pub fn set_ex(con: &mut impl ConnectionLike, key: &str, value: &str, seconds: u64) -> Result<()> {
    redis::cmd("SET").arg(key).arg(value).arg("EX").arg(seconds).exec(con)?;
    Ok(())
}

pub fn token_db(ctx: &Ctx) -> Result<TokenDb> {
    TokenDb::open_or_generate(&ctx.scratch.join("tokens.db"), ctx.n(400, 120), &ctx.interrupt)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand::rngs::Xoshiro256PlusPlus;

    #[test]
    fn jittered_ttls_stay_within_ten_percent_and_spread() {
        let mut rng = Xoshiro256PlusPlus::seed_from_u64(1);
        let ttls: Vec<u64> = (0..1_000).map(|_| jittered_ttl(&mut rng)).collect();
        let lo = (TTL_SECS as f64 * 0.9) as u64;
        let hi = (TTL_SECS as f64 * 1.1) as u64;
        assert!(ttls.iter().all(|t| (lo..=hi).contains(t)));
        let mut hours: Vec<u64> = ttls.iter().map(|t| t / 3600).collect();
        hours.sort_unstable();
        hours.dedup();
        assert!(hours.len() > 100, "{} distinct hours", hours.len());
    }
}
