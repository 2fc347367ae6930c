//! The SIMULATED upstream: a stand-in for the OKLink block-explorer API that the notes'
//! `pkg/oklink/client.go` calls. Every call sleeps 5–20 ms (seeded) and is counted; the answers are
//! OKLink-style JSON with a `Cache-Control` per endpoint. It can be rate-limited (429), and moved
//! forward in logical time: prices move and a pending transaction gets mined. The answers' JSON is
//! in `fixtures/oklink/`.

use std::collections::HashSet;
use std::ops::RangeInclusive;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::thread;
use std::time::Duration;

use rand::rngs::Xoshiro256PlusPlus;
use rand::{RngExt, SeedableRng};
use serde::{Deserialize, Serialize};

use super::key::Request;
use crate::fixtures::{fill, oklink};
use sha2::{Digest, Sha256};

/// Simulated latency of one successful call, in milliseconds.
pub const LATENCY_MS: RangeInclusive<u64> = 5..=20;
/// A rate-limited call is answered at once.
pub const REJECT_LATENCY: Duration = Duration::from_millis(1);

pub const BASE_URL: &str = "https://www.oklink.com";
pub const PATH_ADDRESS: &str = "/api/v5/explorer/address/address-summary";
pub const PATH_TX: &str = "/api/v5/explorer/transaction/transaction-fills";
pub const PATH_PRICE: &str = "/api/v5/explorer/tokenprice/market-data";
pub const PATH_CHAIN: &str = "/api/v5/explorer/blockchain/summary";

/// How long a price may be reused (the upstream's `max-age`).
pub const PRICE_MAX_AGE: u64 = 1;
/// An address summary (balance, tx count) may be 30 s old.
pub const ADDRESS_MAX_AGE: u64 = 30;
/// A mined transaction never changes: a year, marked immutable.
pub const MINED_TX_MAX_AGE: u64 = 365 * 86_400;

/// What the upstream says about caching its answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum CacheControl {
    /// No header.
    Absent,
    /// `no-store`: do not keep it at all.
    NoStore,
    /// `max-age=N`.
    MaxAge(u64),
    /// `max-age=N, immutable`.
    Immutable(u64),
}

impl CacheControl {
    pub fn header(self) -> String {
        match self {
            CacheControl::Absent => "—".to_string(),
            CacheControl::NoStore => "no-store".to_string(),
            CacheControl::MaxAge(s) => format!("max-age={s}"),
            CacheControl::Immutable(s) => format!("max-age={s}, immutable"),
        }
    }
}

/// One HTTP answer: what the cache stores (as JSON).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Response {
    pub status: u16,
    pub cache_control: CacheControl,
    pub body: String,
}

/// The simulated OKLink API.
pub struct Upstream {
    calls: AtomicUsize,
    rng: Mutex<Xoshiro256PlusPlus>,
    rate_limited: AtomicBool,
    /// Logical time: 0 at the start, moved on by [`Upstream::advance`].
    epoch: AtomicU64,
    /// Transaction ids still pending at epoch 0 (mined from epoch 1).
    pending: HashSet<String>,
}

impl Upstream {
    pub fn new(seed: u64) -> Upstream {
        Upstream {
            calls: AtomicUsize::new(0),
            rng: Mutex::new(Xoshiro256PlusPlus::seed_from_u64(seed)),
            rate_limited: AtomicBool::new(false),
            epoch: AtomicU64::new(0),
            pending: HashSet::new(),
        }
    }

    /// These transactions are pending until the first [`Upstream::advance`].
    pub fn with_pending(mut self, txids: &[&str]) -> Upstream {
        self.pending = txids.iter().map(|t| t.to_ascii_lowercase()).collect();
        self
    }

    /// One call over the (simulated) network: counted, and slow.
    pub fn fetch(&self, request: &Request) -> Response {
        self.calls.fetch_add(1, Ordering::SeqCst);
        if self.rate_limited.load(Ordering::SeqCst) {
            thread::sleep(REJECT_LATENCY);
            return Response {
                status: 429,
                cache_control: CacheControl::Absent,
                body: fill(oklink::RATE_LIMITED, &[]),
            };
        }
        let millis = match self.rng.lock() {
            Ok(mut rng) => rng.random_range(LATENCY_MS),
            Err(poisoned) => poisoned.into_inner().random_range(LATENCY_MS),
        };
        thread::sleep(Duration::from_millis(millis));
        self.answer(request)
    }

    /// What the upstream would answer now, without a call (no count, no wait): the reference a
    /// cached answer is checked against.
    pub fn answer(&self, request: &Request) -> Response {
        let epoch = self.epoch.load(Ordering::SeqCst);
        let chain = request.param("chainShortName").unwrap_or("eth");
        let ok = |cache_control, body: String| Response { status: 200, cache_control, body };
        match request.path.as_str() {
            PATH_PRICE => {
                let token = request.param("tokenContractAddress").unwrap_or("");
                let base =
                    1.0 + f64::from(u8::from_str_radix(token.get(2..4).unwrap_or("10"), 16).unwrap_or(16)) / 100.0;
                let price = base * (1.0 + 0.004 * epoch as f64);
                let price = format!("{price:.6}");
                ok(
                    CacheControl::MaxAge(PRICE_MAX_AGE),
                    fill(oklink::PRICE, &[("chain", chain), ("token", token), ("price", &price)]),
                )
            }
            PATH_ADDRESS => {
                let address = request.param("address").unwrap_or("");
                let balance = address.bytes().map(u64::from).sum::<u64>();
                let (tx_count, balance) = ((balance / 7).to_string(), balance.to_string());
                ok(
                    CacheControl::MaxAge(ADDRESS_MAX_AGE),
                    fill(
                        oklink::ADDRESS,
                        &[("chain", chain), ("address", address), ("balance", &balance), ("tx_count", &tx_count)],
                    ),
                )
            }
            PATH_TX => {
                let txid = request.param("txid").unwrap_or("");
                if epoch == 0 && self.pending.contains(txid) {
                    ok(CacheControl::NoStore, fill(oklink::TX_PENDING, &[("chain", chain), ("txid", txid)]))
                } else {
                    let height = (19_000_000 + txid.len() as u64 * 1_000).to_string();
                    ok(
                        CacheControl::Immutable(MINED_TX_MAX_AGE),
                        fill(oklink::TX_MINED, &[("chain", chain), ("txid", txid), ("height", &height)]),
                    )
                }
            }
            PATH_CHAIN => ok(CacheControl::MaxAge(10), fill(oklink::CHAIN, &[("chain", chain)])),
            _ => Response { status: 404, cache_control: CacheControl::Absent, body: fill(oklink::NOT_FOUND, &[]) },
        }
    }

    /// Calls so far.
    pub fn calls(&self) -> usize {
        self.calls.load(Ordering::SeqCst)
    }

    pub fn set_rate_limited(&self, on: bool) {
        self.rate_limited.store(on, Ordering::SeqCst);
    }

    /// Move logical time on: prices move, pending transactions are mined.
    pub fn advance(&self) {
        self.epoch.fetch_add(1, Ordering::SeqCst);
    }
}

/// A deterministic 0x-prefixed hex id of `len` digits (addresses: 40, tx hashes: 64).
pub fn hex_id(seed: &str, len: usize) -> String {
    let mut hex = String::new();
    let mut round = 0;
    while hex.len() < len {
        hex.extend(Sha256::digest(format!("{seed}/{round}").as_bytes()).iter().map(|b| format!("{b:02x}")));
        round += 1;
    }
    hex.truncate(len);
    format!("0x{hex}")
}

/// An OKLink-style request for an address summary.
pub fn address_request(address: &str) -> anyhow::Result<Request> {
    Request::parse("GET", &format!("{BASE_URL}{PATH_ADDRESS}?chainShortName=eth&address={address}"))
}

/// An OKLink-style request for a transaction.
pub fn tx_request(txid: &str) -> anyhow::Result<Request> {
    Request::parse("GET", &format!("{BASE_URL}{PATH_TX}?chainShortName=eth&txid={txid}"))
}

/// An OKLink-style request for a token price.
pub fn price_request(token: &str) -> anyhow::Result<Request> {
    Request::parse("GET", &format!("{BASE_URL}{PATH_PRICE}?chainShortName=eth&tokenContractAddress={token}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoints_say_how_fresh_their_answers_are() {
        let pending = hex_id("pending", 64);
        let upstream = Upstream::new(1).with_pending(&[&pending]);
        let price = price_request(&hex_id("token", 40)).unwrap();
        let mined = tx_request(&hex_id("mined", 64)).unwrap();
        let pending_req = tx_request(&pending).unwrap();
        assert_eq!(upstream.answer(&price).cache_control, CacheControl::MaxAge(PRICE_MAX_AGE));
        assert_eq!(upstream.answer(&mined).cache_control, CacheControl::Immutable(MINED_TX_MAX_AGE));
        assert_eq!(upstream.answer(&pending_req).cache_control, CacheControl::NoStore);
        let before = upstream.answer(&price).body;
        upstream.advance();
        assert_ne!(upstream.answer(&price).body, before, "prices move");
        assert_eq!(upstream.answer(&pending_req).cache_control, CacheControl::Immutable(MINED_TX_MAX_AGE));
        assert_eq!(upstream.calls(), 0, "answer() is not a call");
    }

    #[test]
    fn calls_are_counted_and_rate_limits_answer_429() {
        let upstream = Upstream::new(2);
        let request = address_request(&hex_id("a", 40)).unwrap();
        assert_eq!(upstream.fetch(&request).status, 200);
        upstream.set_rate_limited(true);
        assert_eq!(upstream.fetch(&request).status, 429);
        assert_eq!(upstream.calls(), 2);
    }

    #[test]
    fn hex_ids_have_the_asked_length() {
        assert_eq!(hex_id("x", 40).len(), 42);
        assert_eq!(hex_id("x", 64).len(), 66);
        assert_eq!(hex_id("x", 100).len(), 102);
        assert_ne!(hex_id("x", 40), hex_id("y", 40));
    }
}
