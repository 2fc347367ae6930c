//! Synthetic, deterministic candle series (seeded random walks, integer arithmetic): the same candles
//! every run, so both sides of every comparison and every rerun see identical data.

use rand::rngs::Xoshiro256PlusPlus;
use rand::{RngExt, SeedableRng};

use super::codec::Candle;

/// One minute, the notes' `1m` interval.
pub const MINUTE_MS: u64 = 60_000;
/// 2024-11-26 00:00:00 UTC: day- and hour-aligned, so buckets hold whole hours.
pub const START_MS: u64 = 1_732_579_200_000;
/// Largest price move per minute, in basis points.
const MAX_MOVE_BP: i64 = 25;

/// A symbol's synthetic market: where its price starts (10⁻¹⁰ USDT), how much it trades per minute
/// (0.01 USDT) and its seed: a row of `fixtures/markets.csv`.
pub type Market = crate::fixtures::MarketRow;

/// The markets the SQL table holds (`fixtures/markets.csv`); the first is the one the demos query.
pub fn markets() -> &'static [Market] {
    crate::fixtures::markets()
}

/// Market `i` of [`markets`].
pub fn market(i: usize) -> Market {
    markets()[i]
}

/// `count` closed 1-minute candles from [`START_MS`]: each opens at the previous close, moves up to
/// ±0.25%, and has wicks and a volume that vary minute to minute.
pub fn random_walk(market: &Market, count: usize) -> Vec<Candle> {
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(market.seed);
    let mut price = market.start_price.max(1_000);
    (0..count as u64)
        .map(|i| {
            let open = price;
            let close = moved(open, rng.random_range(-MAX_MOVE_BP..=MAX_MOVE_BP));
            let wick = (open / 2_000).max(1); // up to 0.05% beyond the body
            let high = open.max(close) + rng.random_range(0..=wick);
            let low = (open.min(close) - rng.random_range(0..=wick)).max(1);
            // Most minutes are ordinary; a few are bursts of 3-8x the usual volume.
            let burst = if rng.random_range(0..100) < 3 { rng.random_range(3..=8) } else { 1 };
            let volume = market.volume * burst * rng.random_range(40..=160) / 100;
            price = close;
            Candle { open_ms: START_MS + i * MINUTE_MS, open, high, low, close, volume }
        })
        .collect()
}

/// `count` flat candles of an illiquid token from `start_ms`: nobody traded, so open = high = low =
/// close = the last price, and volume 0. Every one has the same prices.
pub fn flat(start_ms: u64, count: usize, price: u64) -> Vec<Candle> {
    (0..count as u64)
        .map(|i| Candle {
            open_ms: start_ms + i * MINUTE_MS,
            open: price,
            high: price,
            low: price,
            close: price,
            volume: 0,
        })
        .collect()
}

/// The still-open candle after each of `trades` trades in its minute: close follows the trade,
/// high and low widen, volume grows (so every snapshot differs from the one before).
pub fn open_candle_updates(open_ms: u64, open: u64, trades: usize, seed: u64) -> Vec<Candle> {
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(seed);
    let mut candle = Candle { open_ms, open, high: open, low: open, close: open, volume: 0 };
    (0..trades)
        .map(|_| {
            let price = moved(candle.close, rng.random_range(-3..=3));
            candle.close = price;
            candle.high = candle.high.max(price);
            candle.low = candle.low.min(price);
            candle.volume += rng.random_range(1_000..=250_000);
            candle
        })
        .collect()
}

/// `price` moved by `bp` basis points, never below 1.
fn moved(price: u64, bp: i64) -> u64 {
    let scaled = i128::from(price) * i128::from(10_000 + bp) / 10_000;
    u64::try_from(scaled.max(1)).unwrap_or(u64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn walks_are_deterministic_consistent_and_contiguous() {
        let a = random_walk(&markets()[0], 1_440);
        assert_eq!(a, random_walk(&markets()[0], 1_440));
        assert_eq!(a[..100], random_walk(&markets()[0], 100)[..], "a shorter run is a prefix");
        assert!(a.iter().all(Candle::is_consistent));
        assert!(a.windows(2).all(|w| w[1].open == w[0].close && w[1].open_ms == w[0].open_ms + MINUTE_MS));
        assert_ne!(a, random_walk(&markets()[1], 1_440));
    }

    #[test]
    fn realistic_members_fit_a_listpack_entry() {
        let longest = random_walk(&markets()[0], 4_320).iter().map(|c| super::super::codec::encode(c).len()).max();
        assert!(longest.is_some_and(|n| n <= 64), "{longest:?}");
    }

    #[test]
    fn open_candle_snapshots_all_differ() {
        let updates = open_candle_updates(START_MS, 120_000, 60, 1);
        assert!(updates.iter().all(Candle::is_consistent));
        assert!(updates.windows(2).all(|w| w[1].volume > w[0].volume));
        assert!(updates.iter().all(|c| c.open_ms == START_MS));
    }

    #[test]
    fn flat_candles_share_their_prices() {
        let f = flat(START_MS, 3, 42);
        assert!(f.iter().all(|c| c.open == 42 && c.high == 42 && c.low == 42 && c.close == 42 && c.volume == 0));
        assert_eq!(f[2].open_ms, START_MS + 2 * MINUTE_MS);
    }
}
