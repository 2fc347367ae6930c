//! The data the demos use, as files a learner can open (`fixtures/`, see its README): the simulated
//! OKLink answers of lesson 9, the markets whose candles lesson 3 stores, and samples of the
//! generated data (token rows, the token JSON lesson 2 caches, candles) that tests keep equal to
//! what the seeded generators make. The files are embedded, so `cargo install` works without them.

use std::sync::LazyLock;

/// The simulated upstream's answers (lesson 9), JSON with `${name}` placeholders.
pub mod oklink {
    pub const PRICE: &str = include_str!("../fixtures/oklink/price.json");
    pub const ADDRESS: &str = include_str!("../fixtures/oklink/address.json");
    pub const TX_PENDING: &str = include_str!("../fixtures/oklink/tx-pending.json");
    pub const TX_MINED: &str = include_str!("../fixtures/oklink/tx-mined.json");
    pub const CHAIN: &str = include_str!("../fixtures/oklink/chain.json");
    pub const RATE_LIMITED: &str = include_str!("../fixtures/oklink/rate-limited.json");
    pub const NOT_FOUND: &str = include_str!("../fixtures/oklink/not-found.json");
}

/// `fixtures/markets.csv`: symbol, start price (10⁻¹⁰ USDT), volume per minute (0.01 USDT), seed.
const MARKETS_CSV: &str = include_str!("../fixtures/markets.csv");

/// Fill `${name}` placeholders of a fixture template; the trailing newline of the file goes.
pub fn fill(template: &str, values: &[(&str, &str)]) -> String {
    let mut out = template.trim_end().to_string();
    for (name, value) in values {
        out = out.replace(&format!("${{{name}}}"), value);
    }
    out
}

/// One row of `fixtures/markets.csv`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MarketRow {
    pub symbol: &'static str,
    pub start_price: u64,
    pub volume: u64,
    pub seed: u64,
}

/// The markets of `fixtures/markets.csv`, in file order (the first is the one lesson 3 queries).
pub fn markets() -> &'static [MarketRow] {
    static MARKETS: LazyLock<Vec<MarketRow>> = LazyLock::new(|| {
        parse_markets(MARKETS_CSV).unwrap_or_else(|e| panic!("fixtures/markets.csv is embedded and tested: {e}"))
    });
    &MARKETS
}

fn parse_markets(csv: &'static str) -> Result<Vec<MarketRow>, String> {
    let number = |field: &str| -> Result<u64, String> {
        let field = field.trim();
        match field.strip_prefix("0x") {
            Some(hex) => u64::from_str_radix(hex, 16),
            None => field.parse(),
        }
        .map_err(|e| format!("{field:?}: {e}"))
    };
    csv.lines()
        .skip(1)
        .filter(|l| !l.trim().is_empty())
        .map(|line| {
            let fields: Vec<&'static str> = line.split(',').collect();
            let [symbol, start_price, volume, seed] = fields[..] else {
                return Err(format!("{line:?}: expected 4 fields"));
            };
            Ok(MarketRow {
                symbol: symbol.trim(),
                start_price: number(start_price)?,
                volume: number(volume)?,
                seed: number(seed)?,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;
    use crate::demo::klines::series;
    use crate::sql::tokens::{TokenDb, token_detail};

    /// Compare a sample file with what the generator makes now; with `REDIS_LEARN_WRITE_FIXTURES=1`
    /// write it instead (after changing a generator on purpose).
    fn sample(name: &str, made: &str) {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/samples").join(name);
        if std::env::var_os("REDIS_LEARN_WRITE_FIXTURES").is_some_and(|v| v == "1") {
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(&path, made).unwrap();
        }
        let on_disk = std::fs::read_to_string(&path).unwrap_or_default();
        assert!(
            on_disk == made,
            "fixtures/samples/{name} differs from what the generator makes: if the change is meant, run \
             REDIS_LEARN_WRITE_FIXTURES=1 cargo test --release --lib fixtures"
        );
    }

    #[test]
    fn markets_parse() {
        let markets = markets();
        assert_eq!(markets.len(), 4);
        assert_eq!(markets[0].symbol, "PEPE-USDT");
        assert_eq!(markets[0].seed, 0x6b6c_0001);
        assert!(parse_markets("h\nA,1,2\n").is_err());
    }

    #[test]
    fn templates_fill_and_stay_json() {
        let body = fill(oklink::PRICE, &[("chain", "eth"), ("token", "0xab"), ("price", "1.5")]);
        let doc: serde_json::Value = serde_json::from_str(&body).unwrap();
        assert_eq!(doc["data"][0]["price"], "1.5");
        for template in [
            oklink::ADDRESS,
            oklink::TX_PENDING,
            oklink::TX_MINED,
            oklink::CHAIN,
            oklink::RATE_LIMITED,
            oklink::NOT_FOUND,
        ] {
            let filled = fill(
                template,
                &[
                    ("chain", "eth"),
                    ("address", "0x1"),
                    ("balance", "1"),
                    ("tx_count", "2"),
                    ("txid", "0x2"),
                    ("height", "3"),
                ],
            );
            serde_json::from_str::<serde_json::Value>(&filled).unwrap_or_else(|e| panic!("{filled}: {e}"));
            assert!(!filled.contains("${"), "{filled}");
        }
    }

    #[test]
    fn candle_sample_is_what_the_generator_makes() {
        let market = series::market(0);
        let mut csv = String::from("open_time_ms,open,high,low,close,volume\n");
        for c in series::random_walk(&market, 60) {
            csv.push_str(&format!("{},{},{},{},{},{}\n", c.open_ms, c.open, c.high, c.low, c.close, c.volume));
        }
        sample("candles-PEPE-USDT-1m-first-60.csv", &csv);
    }

    #[test]
    fn token_samples_are_what_the_generator_makes() {
        let dir = tempfile::tempdir().unwrap();
        let db =
            TokenDb::open_or_generate(&dir.path().join("tokens.db"), 20, &crate::interrupt::Interrupt::new()).unwrap();
        let con = db.connect().unwrap();
        let mut csv = String::from("chain,address,symbol,name,decimals\n");
        for token in &db.tokens {
            let (symbol, name, decimals) = crate::sql::tokens::token_row(&con, token).unwrap().unwrap();
            csv.push_str(&format!("{},{},{symbol},{name},{decimals}\n", token.chain, token.address));
        }
        sample("tokens-first-20.csv", &csv);
        let info = token_detail(&con, &db.tokens[0]).unwrap().unwrap();
        sample("token-info.json", &format!("{}\n", serde_json::to_string_pretty(&info).unwrap()));
    }
}
