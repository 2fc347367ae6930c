//! The cache lesson's source of truth: tokens and their trades, generated deterministically (seeded)
//! into a SQLite file, and the token-detail query a cache protects — a join with aggregates, the
//! kind of query the notes' backend runs against MySQL, not a primary-key read.

use std::path::Path;

use anyhow::{Context, Result};
use rand::rngs::Xoshiro256PlusPlus;
use rand::{RngExt, SeedableRng};
use rusqlite::{Connection, OptionalExtension, params};
use serde::{Deserialize, Serialize};

use super::{Durability, open_file};
use crate::interrupt::Interrupt;

/// Trades per token: the same in quick and full runs, so a source query costs the same in both.
pub const TRADES_PER_TOKEN: usize = 1_500;
/// Distinct wallets trading.
const WALLETS: usize = 5_000;
/// The data set's "now" (2026-11-26T00:00:00Z), fixed so that runs are comparable.
pub const NOW: i64 = 1_795_651_200;
const DAY: i64 = 86_400;
const SEED: u64 = 0x0007_ed15_c0de;

/// A token's identity: what the cache key is built from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenRef {
    pub chain: String,
    /// Lower-case hex: normalise before building keys, or one token gets two cache entries.
    pub address: String,
}

/// What the token-detail page needs: the JSON the cache stores.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TokenInfo {
    pub chain: String,
    pub address: String,
    pub symbol: String,
    pub name: String,
    pub decimals: u8,
    pub last_price: f64,
    pub change_24h_pct: f64,
    pub volume_24h: f64,
    pub trades_24h: u32,
    pub high_24h: f64,
    pub low_24h: f64,
    /// Distinct wallets that ever traded it.
    pub traders: u32,
}

/// The source query. Aggregates over the token's whole trade history and its last day.
pub const TOKEN_DETAIL_SQL: &str = "
SELECT t.chain, t.address, t.symbol, t.name, t.decimals,
       (SELECT price FROM trades WHERE token_id = t.id ORDER BY ts DESC LIMIT 1) AS last_price,
       (SELECT price FROM trades WHERE token_id = t.id AND ts <= ?3 ORDER BY ts DESC LIMIT 1) AS price_24h_ago,
       SUM(CASE WHEN tr.ts > ?3 THEN tr.amount * tr.price ELSE 0 END) AS volume_24h,
       SUM(CASE WHEN tr.ts > ?3 THEN 1 ELSE 0 END) AS trades_24h,
       MAX(CASE WHEN tr.ts > ?3 THEN tr.price END) AS high_24h,
       MIN(CASE WHEN tr.ts > ?3 THEN tr.price END) AS low_24h,
       COUNT(DISTINCT tr.wallet) AS traders
FROM tokens t JOIN trades tr ON tr.token_id = t.id
WHERE t.chain = ?1 AND t.address = ?2
GROUP BY t.id";

/// The honest comparison: a lookup by unique key, no aggregation.
pub const TOKEN_ROW_SQL: &str = "SELECT symbol, name, decimals FROM tokens WHERE chain = ?1 AND address = ?2";

/// A generated token database on disk.
pub struct TokenDb {
    pub tokens: Vec<TokenRef>,
    path: std::path::PathBuf,
}

impl TokenDb {
    /// Generate `n_tokens` tokens with [`TRADES_PER_TOKEN`] trades each into `path`, or reuse the
    /// file if this run already generated it.
    pub fn open_or_generate(path: &Path, n_tokens: usize, interrupt: &Interrupt) -> Result<TokenDb> {
        let tokens = token_refs(n_tokens);
        if !path.exists() {
            // Build under another name and rename, so a failed or interrupted build is never reused.
            let partial = path.with_extension("partial");
            let _ = std::fs::remove_file(&partial);
            generate(&partial, &tokens, interrupt)
                .with_context(|| format!("generating the token database in {}", partial.display()))?;
            std::fs::rename(&partial, path).context("moving the token database into place")?;
        }
        Ok(TokenDb { tokens, path: path.to_path_buf() })
    }

    /// A new connection (one per thread).
    pub fn connect(&self) -> Result<Connection> {
        let con = open_file(&self.path, Durability::Off)?;
        con.busy_timeout(std::time::Duration::from_secs(5))?;
        Ok(con)
    }
}

/// The token-detail query; `None` for a token that does not exist.
pub fn token_detail(con: &Connection, token: &TokenRef) -> Result<Option<TokenInfo>> {
    let mut stmt = con.prepare_cached(TOKEN_DETAIL_SQL)?;
    let info = stmt
        .query_row(params![token.chain, token.address, NOW - DAY], |r| {
            let last: f64 = r.get("last_price")?;
            let before: Option<f64> = r.get("price_24h_ago")?;
            Ok(TokenInfo {
                chain: r.get("chain")?,
                address: r.get("address")?,
                symbol: r.get("symbol")?,
                name: r.get("name")?,
                decimals: r.get("decimals")?,
                last_price: last,
                change_24h_pct: before.map_or(0.0, |b| (last - b) / b * 100.0),
                volume_24h: r.get("volume_24h")?,
                trades_24h: r.get("trades_24h")?,
                high_24h: r.get::<_, Option<f64>>("high_24h")?.unwrap_or(last),
                low_24h: r.get::<_, Option<f64>>("low_24h")?.unwrap_or(last),
                traders: r.get("traders")?,
            })
        })
        .optional()?;
    Ok(info)
}

/// The unique-key row read (symbol, name, decimals).
pub fn token_row(con: &Connection, token: &TokenRef) -> Result<Option<(String, String, u8)>> {
    let mut stmt = con.prepare_cached(TOKEN_ROW_SQL)?;
    Ok(stmt.query_row(params![token.chain, token.address], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?))).optional()?)
}

/// Rename a token (a write to the source of truth that the cache must learn about).
pub fn rename(con: &Connection, token: &TokenRef, name: &str) -> Result<()> {
    con.execute(
        "UPDATE tokens SET name = ?3 WHERE chain = ?1 AND address = ?2",
        params![token.chain, token.address, name],
    )?;
    Ok(())
}

/// Deterministic token identities: the same list every run.
pub fn token_refs(n: usize) -> Vec<TokenRef> {
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(SEED);
    let chains = ["eth", "bsc", "sol", "base"];
    (0..n)
        .map(|i| TokenRef { chain: chains[i % chains.len()].to_string(), address: format!("0x{}", hex(&mut rng, 20)) })
        .collect()
}

/// An address that no token has (for negative caching).
pub fn missing_token(i: usize) -> TokenRef {
    TokenRef { chain: "eth".into(), address: format!("0xdead{i:036x}") }
}

fn hex(rng: &mut Xoshiro256PlusPlus, bytes: usize) -> String {
    (0..bytes).map(|_| format!("{:02x}", rng.random::<u8>())).collect()
}

fn generate(path: &Path, tokens: &[TokenRef], interrupt: &Interrupt) -> Result<()> {
    let mut con = Connection::open(path)?;
    con.pragma_update(None, "journal_mode", "WAL")?;
    con.pragma_update(None, "synchronous", "OFF")?;
    con.execute_batch(
        "CREATE TABLE tokens (
             id INTEGER PRIMARY KEY, chain TEXT NOT NULL, address TEXT NOT NULL,
             symbol TEXT NOT NULL, name TEXT NOT NULL, decimals INTEGER NOT NULL,
             UNIQUE (chain, address));
         CREATE TABLE trades (
             id INTEGER PRIMARY KEY, token_id INTEGER NOT NULL REFERENCES tokens(id),
             wallet TEXT NOT NULL, side TEXT NOT NULL, amount REAL NOT NULL, price REAL NOT NULL,
             ts INTEGER NOT NULL);",
    )?;
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(SEED ^ 0x5eed);
    let wallets: Vec<String> = (0..WALLETS).map(|_| format!("0x{}", hex(&mut rng, 20))).collect();
    let tx = con.transaction()?;
    {
        let mut add_token = tx.prepare(
            "INSERT INTO tokens (id, chain, address, symbol, name, decimals) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        )?;
        let mut add_trade = tx.prepare(
            "INSERT INTO trades (token_id, wallet, side, amount, price, ts) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        )?;
        for (id, token) in tokens.iter().enumerate() {
            interrupt.check()?;
            let symbol = symbol(&mut rng);
            let decimals: u8 = if rng.random_bool(0.8) { 18 } else { 6 };
            add_token.execute(params![
                id as i64,
                token.chain,
                token.address,
                symbol,
                format!("{symbol} Token"),
                decimals
            ])?;
            // A random walk over the last 7 days, trades denser towards now.
            let mut price = 10f64.powf(rng.random_range(-6.0..2.0));
            for k in 0..TRADES_PER_TOKEN {
                price *= 1.0 + rng.random_range(-0.01..0.0102);
                let age = (7 * DAY) as f64 * (1.0 - (k as f64 / TRADES_PER_TOKEN as f64)).powi(2);
                let wallet = &wallets[rng.random_range(0..WALLETS)];
                let side = if rng.random_bool(0.5) { "buy" } else { "sell" };
                let amount = rng.random_range(10.0..50_000.0);
                add_trade.execute(params![id as i64, wallet, side, amount, price, NOW - age as i64])?;
            }
        }
    }
    tx.execute_batch("CREATE INDEX trades_by_token_time ON trades (token_id, ts);")?;
    tx.commit()?;
    con.execute_batch("ANALYZE;")?;
    Ok(())
}

fn symbol(rng: &mut Xoshiro256PlusPlus) -> String {
    let len = rng.random_range(3..6);
    (0..len).map(|_| (b'A' + rng.random_range(0..26u8)) as char).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_identities_are_deterministic_and_lower_case() {
        let a = token_refs(5);
        assert_eq!(a, token_refs(5));
        assert!(a.iter().all(|t| t.address.len() == 42 && t.address == t.address.to_lowercase()));
    }

    #[test]
    fn the_detail_query_aggregates_and_misses_cleanly() {
        let dir = tempfile::tempdir().unwrap();
        let db = TokenDb::open_or_generate(&dir.path().join("t.db"), 3, &Interrupt::new()).unwrap();
        let con = db.connect().unwrap();
        let info = token_detail(&con, &db.tokens[1]).unwrap().unwrap();
        assert_eq!(info.address, db.tokens[1].address);
        assert!(info.trades_24h > 0 && (info.trades_24h as usize) < TRADES_PER_TOKEN);
        assert!(info.traders > 100 && info.low_24h <= info.high_24h);
        assert!(token_detail(&con, &missing_token(1)).unwrap().is_none());
        rename(&con, &db.tokens[1], "Renamed").unwrap();
        assert_eq!(token_row(&con, &db.tokens[1]).unwrap().unwrap().1, "Renamed");
    }
}
