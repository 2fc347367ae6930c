//! The SQL side of the K-line lesson: the same candles in an SQLite table keyed by
//! `(symbol, interval, ts)` (a clustered primary key: `WITHOUT ROWID`), time-window queries on that
//! index, and the upsert that replaces the open candle.

use std::path::Path;

use anyhow::{Context, Result};
use rusqlite::{Connection, Row, params};

use super::codec::Candle;
use crate::sql::{self, Durability};

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS klines (
    symbol   TEXT    NOT NULL,
    interval TEXT    NOT NULL,
    ts       INTEGER NOT NULL,  -- open time, epoch ms
    open     INTEGER NOT NULL,  -- prices: fixed point, 1e-10 USDT
    high     INTEGER NOT NULL,
    low      INTEGER NOT NULL,
    close    INTEGER NOT NULL,
    volume   INTEGER NOT NULL,  -- fixed point, 0.01 USDT
    PRIMARY KEY (symbol, interval, ts)
) WITHOUT ROWID";

/// A time window, `[from, to)` on the primary key: an index range scan.
pub const RANGE_SQL: &str = "SELECT ts, open, high, low, close, volume FROM klines \
     WHERE symbol = ?1 AND interval = ?2 AND ts >= ?3 AND ts < ?4 ORDER BY ts";

/// Insert or replace the candle at its timestamp: the primary key makes this idempotent.
pub const UPSERT_SQL: &str = "INSERT INTO klines (symbol, interval, ts, open, high, low, close, volume) \
     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8) \
     ON CONFLICT (symbol, interval, ts) DO UPDATE SET \
     open = excluded.open, high = excluded.high, low = excluded.low, close = excluded.close, volume = excluded.volume";

/// A file database with the K-line table (WAL, `synchronous=OFF`: a commit reaches the OS, not the
/// disk, so the timings compare data structures and round trips, not fsync).
pub fn open(path: &Path) -> Result<Connection> {
    let con = sql::open_file(path, Durability::Off)?;
    con.execute_batch(SCHEMA).context("creating the klines table")?;
    Ok(con)
}

/// Insert (or replace) `candles` in one transaction.
pub fn insert_all(con: &mut Connection, symbol: &str, interval: &str, candles: &[Candle]) -> Result<()> {
    let tx = con.transaction()?;
    {
        let mut upsert = tx.prepare_cached(UPSERT_SQL)?;
        for c in candles {
            let [ts, open, high, low, close, volume] = columns(c)?;
            upsert.execute(params![symbol, interval, ts, open, high, low, close, volume])?;
        }
    }
    tx.commit().context("loading candles into SQLite")
}

/// Upsert one candle (autocommit).
pub fn upsert(con: &Connection, symbol: &str, interval: &str, c: &Candle) -> Result<()> {
    let [ts, open, high, low, close, volume] = columns(c)?;
    con.prepare_cached(UPSERT_SQL)?.execute(params![symbol, interval, ts, open, high, low, close, volume])?;
    Ok(())
}

/// The candles with `from <= ts < to`, in time order.
pub fn range(con: &Connection, symbol: &str, interval: &str, from: u64, to: u64) -> Result<Vec<Candle>> {
    let mut stmt = con.prepare_cached(RANGE_SQL)?;
    let rows = stmt.query_map(params![symbol, interval, int(from)?, int(to)?], candle)?;
    Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
}

/// Rows stored at one timestamp.
pub fn count_at(con: &Connection, symbol: &str, interval: &str, ts: u64) -> Result<u64> {
    let n: i64 = con.query_row(
        "SELECT COUNT(*) FROM klines WHERE symbol = ?1 AND interval = ?2 AND ts = ?3",
        params![symbol, interval, int(ts)?],
        |r| r.get(0),
    )?;
    Ok(n.unsigned_abs())
}

/// Bytes of the database's pages (page_count × page_size).
pub fn size_bytes(con: &Connection) -> Result<u64> {
    let pages: i64 = con.pragma_query_value(None, "page_count", |r| r.get(0))?;
    let size: i64 = con.pragma_query_value(None, "page_size", |r| r.get(0))?;
    Ok(pages.unsigned_abs() * size.unsigned_abs())
}

/// SQLite integers are signed 64-bit; candle fields are unsigned.
fn int(v: u64) -> Result<i64> {
    i64::try_from(v).with_context(|| format!("{v} does not fit an SQLite INTEGER"))
}

fn columns(c: &Candle) -> Result<[i64; 6]> {
    Ok([int(c.open_ms)?, int(c.open)?, int(c.high)?, int(c.low)?, int(c.close)?, int(c.volume)?])
}

fn candle(r: &Row<'_>) -> rusqlite::Result<Candle> {
    let field = |i: usize| -> rusqlite::Result<u64> {
        let v: i64 = r.get(i)?;
        u64::try_from(v)
            .map_err(|e| rusqlite::Error::FromSqlConversionFailure(i, rusqlite::types::Type::Integer, e.into()))
    };
    Ok(Candle {
        open_ms: field(0)?,
        open: field(1)?,
        high: field(2)?,
        low: field(3)?,
        close: field(4)?,
        volume: field(5)?,
    })
}

#[cfg(test)]
mod tests {
    use super::super::series::{self, MINUTE_MS, START_MS, markets};
    use super::*;

    #[test]
    fn windows_and_upserts_behave() {
        let dir = tempfile::tempdir().unwrap();
        let mut con = open(&dir.path().join("k.db")).unwrap();
        let candles = series::random_walk(&markets()[0], 180);
        insert_all(&mut con, "PEPE-USDT", "1m", &candles).unwrap();
        insert_all(&mut con, "BONK-USDT", "1m", &series::random_walk(&markets()[2], 180)).unwrap();
        let from = START_MS + 10 * MINUTE_MS;
        let got = range(&con, "PEPE-USDT", "1m", from, from + 60 * MINUTE_MS).unwrap();
        assert_eq!(got, candles[10..70]);
        let mut changed = candles[5];
        changed.volume += 1;
        upsert(&con, "PEPE-USDT", "1m", &changed).unwrap();
        assert_eq!(count_at(&con, "PEPE-USDT", "1m", changed.open_ms).unwrap(), 1);
        assert_eq!(range(&con, "PEPE-USDT", "1m", changed.open_ms, changed.open_ms + 1).unwrap(), [changed]);
        assert!(size_bytes(&con).unwrap() > 0);
    }
}
