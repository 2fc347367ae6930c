//! The lesson's data set, generated the same way every run (seeded): tokens (what a key read
//! fetches), traders with 24 h volumes (top-N and rank), trades (the join), and the aggregate the
//! join computes, written once in plain Rust so that every backend's answer can be checked against
//! it.

use std::collections::{HashMap, HashSet};

use rand::rngs::Xoshiro256PlusPlus;
use rand::seq::SliceRandom;
use rand::{RngExt, SeedableRng};
use serde::{Deserialize, Serialize};

const SEED: u64 = 0x0010_5e55;
const CHAINS: [&str; 3] = ["eth", "bsc", "sol"];
/// Trades go to the first this-many tokens, the popular ones first.
pub const TRADED_TOKENS: usize = 200;
/// Distinct wallets that trade.
const WALLETS: u64 = 1_500;
/// 2024-11-26 00:00:00 UTC in ms: the day the trades fall in.
pub const DAY_START_MS: i64 = 1_732_579_200_000;
const DAY_MS: i64 = 86_400_000;
/// Rows in the join's answer.
pub const TOP: usize = 10;

/// What a key read returns: the token JSON the notes cache (`model/redismodel/token.go`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TokenRecord {
    pub symbol: String,
    pub decimals: i64,
    /// Price in units of 10^-10 USDT (an integer: every backend returns it exactly).
    pub price: i64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Token {
    pub id: i64,
    pub chain: &'static str,
    /// Lower-case hex, as cache keys want it.
    pub address: String,
    pub record: TokenRecord,
}

/// A wallet and its 24 h trading volume (unique per wallet: ranks have no ties).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Trader {
    pub wallet: String,
    pub volume: i64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Trade {
    pub id: i64,
    pub token_id: i64,
    pub wallet: String,
    /// In units of 0.01 USDT.
    pub amount: i64,
    /// Epoch ms; strictly increasing with `id`.
    pub ts: i64,
}

/// One row of the join's answer: a token's trades, volume and distinct traders in the window.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenVolume {
    pub token_id: i64,
    pub symbol: String,
    pub trades: i64,
    pub volume: i64,
    pub wallets: i64,
}

/// `n` tokens with ids 1..=n.
pub fn tokens(n: usize) -> Vec<Token> {
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(SEED);
    (1..=n as i64)
        .map(|id| {
            let letters: String =
                (0..rng.random_range(3..=5)).map(|_| char::from(rng.random_range(b'A'..=b'Z'))).collect();
            let address: String = (0..20).map(|_| format!("{:02x}", rng.random::<u8>())).collect();
            Token {
                id,
                chain: CHAINS[(id as usize) % CHAINS.len()],
                address: format!("0x{address}"),
                record: TokenRecord {
                    // The id makes every symbol unique.
                    symbol: format!("{letters}{id}"),
                    decimals: [6, 9, 18][rng.random_range(0..3)],
                    price: rng.random_range(1_000..2_000_000_000),
                },
            }
        })
        .collect()
}

/// `n` traders with distinct volumes, in no particular order.
pub fn traders(n: usize) -> Vec<Trader> {
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(SEED ^ 0x7a_de75);
    let mut volumes: Vec<i64> = (0..n as i64).map(|r| 10_000 + r * 137).collect();
    volumes.shuffle(&mut rng);
    volumes.into_iter().enumerate().map(|(i, volume)| Trader { wallet: wallet(i as u64), volume }).collect()
}

/// `n` trades spread evenly over one day, each on one of the first [`TRADED_TOKENS`] of
/// `n_tokens` tokens (popular tokens trade more).
pub fn trades(n: usize, n_tokens: usize) -> Vec<Trade> {
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(SEED ^ 0x7ade);
    let traded = TRADED_TOKENS.min(n_tokens).max(1) as f64;
    let step = (DAY_MS / n.max(1) as i64).max(1);
    (0..n as i64)
        .map(|i| {
            let u: f64 = rng.random();
            Trade {
                id: i + 1,
                token_id: ((u * u * u * traded) as i64).min(traded as i64 - 1) + 1,
                // A few busy wallets trade most, so distinct traders < trades.
                wallet: wallet((rng.random::<f64>().powi(3) * WALLETS as f64) as u64),
                amount: rng.random_range(100..1_000_000),
                ts: DAY_START_MS + i * step,
            }
        })
        .collect()
}

/// A wallet address: distinct for distinct `i` (multiplying by an odd number is a bijection
/// modulo 2^40).
pub fn wallet(i: u64) -> String {
    format!("0x{:010x}", i.wrapping_mul(0x9e37_79b1) & 0xff_ffff_ffff)
}

/// The 0-based rank of every wallet, highest volume first: what `ZREVRANK` and a `COUNT(*)` of
/// higher volumes both return.
pub fn ranks(traders: &[Trader]) -> HashMap<String, i64> {
    let mut sorted: Vec<&Trader> = traders.iter().collect();
    sorted.sort_by_key(|t| std::cmp::Reverse(t.volume));
    sorted.into_iter().enumerate().map(|(rank, t)| (t.wallet.clone(), rank as i64)).collect()
}

/// The time window `[from, to)` holding exactly the last `count` trades.
pub fn last_window(trades: &[Trade], count: usize) -> (i64, i64) {
    let count = count.clamp(1, trades.len().max(1));
    let first = &trades[trades.len() - count];
    let last = &trades[trades.len() - 1];
    (first.ts, last.ts + 1)
}

/// Accumulates the join's answer in application code: what `GROUP BY token`, `COUNT(*)`,
/// `SUM(amount)` and `COUNT(DISTINCT wallet)` do inside a SQL server.
#[derive(Debug, Default)]
pub struct Aggregate {
    per_token: HashMap<i64, (i64, i64, HashSet<String>)>,
}

impl Aggregate {
    pub fn add(&mut self, token_id: i64, wallet: String, amount: i64) {
        let entry = self.per_token.entry(token_id).or_default();
        entry.0 += 1;
        entry.1 += amount;
        entry.2.insert(wallet);
    }

    /// The tokens seen, for looking up their symbols.
    pub fn token_ids(&self) -> Vec<i64> {
        let mut ids: Vec<i64> = self.per_token.keys().copied().collect();
        ids.sort_unstable();
        ids
    }

    /// `ORDER BY volume DESC, token_id LIMIT top`, with symbols from `symbols`.
    pub fn finish(self, symbols: &HashMap<i64, String>, top: usize) -> Vec<TokenVolume> {
        let mut rows: Vec<TokenVolume> = self
            .per_token
            .into_iter()
            .map(|(token_id, (trades, volume, wallets))| TokenVolume {
                token_id,
                symbol: symbols.get(&token_id).cloned().unwrap_or_default(),
                trades,
                volume,
                wallets: wallets.len() as i64,
            })
            .collect();
        rows.sort_by(|a, b| b.volume.cmp(&a.volume).then(a.token_id.cmp(&b.token_id)));
        rows.truncate(top);
        rows
    }
}

/// The join's answer computed straight from the generated data: the reference every backend must
/// match.
pub fn expected_top(trades: &[Trade], tokens: &[Token], from: i64, to: i64) -> Vec<TokenVolume> {
    let mut agg = Aggregate::default();
    for t in trades.iter().filter(|t| t.ts >= from && t.ts < to) {
        agg.add(t.token_id, t.wallet.clone(), t.amount);
    }
    let symbols = tokens.iter().map(|t| (t.id, t.record.symbol.clone())).collect();
    agg.finish(&symbols, TOP)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_data_is_the_same_every_run() {
        assert_eq!(tokens(50), tokens(50));
        assert_eq!(traders(100), traders(100));
        assert_eq!(trades(300, 50), trades(300, 50));
    }

    #[test]
    fn symbols_wallets_and_volumes_are_unique() {
        let tokens = tokens(2_000);
        let symbols: HashSet<&str> = tokens.iter().map(|t| t.record.symbol.as_str()).collect();
        assert_eq!(symbols.len(), tokens.len());
        let traders = traders(5_000);
        let wallets: HashSet<&str> = traders.iter().map(|t| t.wallet.as_str()).collect();
        let volumes: HashSet<i64> = traders.iter().map(|t| t.volume).collect();
        assert_eq!((wallets.len(), volumes.len()), (5_000, 5_000));
    }

    #[test]
    fn ranks_count_the_higher_volumes() {
        let traders = traders(1_000);
        let ranks = ranks(&traders);
        for t in traders.iter().step_by(97) {
            let higher = traders.iter().filter(|o| o.volume > t.volume).count() as i64;
            assert_eq!(ranks[&t.wallet], higher);
        }
    }

    #[test]
    fn trades_increase_in_time_and_stay_on_traded_tokens() {
        let trades = trades(5_000, 1_000);
        assert!(trades.windows(2).all(|w| w[0].ts < w[1].ts));
        assert!(trades.iter().all(|t| (1..=TRADED_TOKENS as i64).contains(&t.token_id)));
        let (from, to) = last_window(&trades, 150);
        assert_eq!(trades.iter().filter(|t| t.ts >= from && t.ts < to).count(), 150);
    }

    #[test]
    fn the_aggregate_groups_sums_and_counts_distinct_wallets() {
        let mut agg = Aggregate::default();
        agg.add(2, "a".into(), 10);
        agg.add(1, "a".into(), 5);
        agg.add(2, "b".into(), 7);
        agg.add(2, "a".into(), 1);
        agg.add(3, "c".into(), 18);
        let symbols = HashMap::from([(1, "ONE".to_string()), (2, "TWO".to_string()), (3, "THREE".to_string())]);
        let rows = agg.finish(&symbols, 2);
        assert_eq!(
            rows,
            vec![
                TokenVolume { token_id: 2, symbol: "TWO".into(), trades: 3, volume: 18, wallets: 2 },
                TokenVolume { token_id: 3, symbol: "THREE".into(), trades: 1, volume: 18, wallets: 1 },
            ]
        );
    }
}
