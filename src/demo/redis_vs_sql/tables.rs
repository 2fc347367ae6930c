//! The SQL side of lesson 10: one schema and one set of queries for SQLite, MySQL/MariaDB and
//! PostgreSQL (standard SQL: `BIGINT`, `VARCHAR`, composite keys, `?` placeholders), bulk loading,
//! and the per-run tables on a networked server, dropped again when the demo ends.

use anyhow::{Context, Result};
use rusqlite::Connection;

use super::data::Token;
use crate::demo::Ctx;
use crate::sql::remote::{Dialect, SqlServer};

/// Rows per multi-row `INSERT` on a networked server.
const INSERT_CHUNK: usize = 500;

/// A literal value for a bulk insert.
#[derive(Debug, Clone, PartialEq)]
pub enum Lit {
    I(i64),
    S(String),
}

impl Lit {
    fn sql(&self) -> String {
        match self {
            Lit::I(v) => v.to_string(),
            Lit::S(s) => format!("'{}'", s.replace('\'', "''")),
        }
    }
}

impl rusqlite::ToSql for Lit {
    fn to_sql(&self) -> rusqlite::Result<rusqlite::types::ToSqlOutput<'_>> {
        match self {
            Lit::I(v) => v.to_sql(),
            Lit::S(s) => s.to_sql(),
        }
    }
}

/// A table of the lesson: its base name and its columns (standard SQL that all three accept).
pub struct Table {
    pub base: &'static str,
    columns: &'static str,
    /// Extra statements after `CREATE TABLE` (indexes), with `{t}` for the table's name.
    extra: &'static [&'static str],
}

pub const TOKENS: Table = Table {
    base: "tokens",
    columns: "id BIGINT PRIMARY KEY, chain VARCHAR(8) NOT NULL, address VARCHAR(64) NOT NULL, \
              symbol VARCHAR(32) NOT NULL, decimals BIGINT NOT NULL, price BIGINT NOT NULL, \
              UNIQUE (chain, address)",
    extra: &[],
};

pub const KLINES: Table = Table {
    base: "klines",
    columns: "symbol VARCHAR(32) NOT NULL, ts BIGINT NOT NULL, open BIGINT NOT NULL, high BIGINT NOT NULL, \
              low BIGINT NOT NULL, close BIGINT NOT NULL, volume BIGINT NOT NULL, PRIMARY KEY (symbol, ts)",
    extra: &[],
};

pub const TRADERS: Table = Table {
    base: "traders",
    columns: "wallet VARCHAR(64) PRIMARY KEY, volume BIGINT NOT NULL",
    extra: &["CREATE INDEX {t}_volume ON {t} (volume)"],
};

pub const COUNTERS: Table =
    Table { base: "counters", columns: "name VARCHAR(64) PRIMARY KEY, n BIGINT NOT NULL", extra: &[] };

pub const SESSIONS: Table = Table {
    base: "sessions",
    columns: "id VARCHAR(64) PRIMARY KEY, data VARCHAR(255) NOT NULL, expires_at BIGINT NOT NULL",
    extra: &[],
};

pub const TRADES: Table = Table {
    base: "trades",
    columns: "id BIGINT PRIMARY KEY, token_id BIGINT NOT NULL, wallet VARCHAR(64) NOT NULL, \
              amount BIGINT NOT NULL, ts BIGINT NOT NULL",
    extra: &["CREATE INDEX {t}_ts ON {t} (ts)"],
};

impl Table {
    /// `CREATE TABLE` and its indexes, for the table named `name`.
    pub fn ddl(&self, name: &str) -> String {
        let mut sql = format!("CREATE TABLE {name} ({})", self.columns);
        for extra in self.extra {
            sql.push_str(";\n");
            sql.push_str(&extra.replace("{t}", name));
        }
        sql
    }
}

/// A lesson query with `{name}` placeholders for table names.
pub fn query(template: &str, names: &[(&str, &str)]) -> String {
    names.iter().fold(template.to_string(), |sql, (base, name)| sql.replace(&format!("{{{base}}}"), name))
}

pub const KEY_READ_SQL: &str = "SELECT symbol, decimals, price FROM {tokens} WHERE chain = ? AND address = ?";
pub const RANGE_SQL: &str =
    "SELECT ts, open, high, low, close, volume FROM {klines} WHERE symbol = ? AND ts >= ? AND ts < ? ORDER BY ts";
pub const TOP_SQL: &str = "SELECT wallet, volume FROM {traders} ORDER BY volume DESC LIMIT 10";
/// The 0-based rank: how many wallets traded more. The index is ordered, but a count still walks
/// every entry above the wallet's volume.
pub const RANK_SQL: &str =
    "SELECT COUNT(*) FROM {traders} WHERE volume > (SELECT volume FROM {traders} WHERE wallet = ?)";
pub const INCREMENT_SQL: &str = "UPDATE {counters} SET n = n + 1 WHERE name = ?";
pub const COUNTER_SQL: &str = "SELECT n FROM {counters} WHERE name = ?";

/// The join + aggregate: per token, trades, volume and distinct traders in a time window, the
/// top 10 by volume. `sum` wraps `SUM(...)` so that every server returns a plain integer.
pub fn join_sql(trades: &str, tokens: &str, sum: impl Fn(&str) -> String) -> String {
    format!(
        "SELECT t.id, t.symbol, COUNT(*) AS trades, {} AS volume, COUNT(DISTINCT tr.wallet) AS wallets \
         FROM {trades} tr JOIN {tokens} t ON t.id = tr.token_id \
         WHERE tr.ts >= ? AND tr.ts < ? \
         GROUP BY t.id, t.symbol \
         ORDER BY volume DESC, t.id \
         LIMIT 10",
        sum("SUM(tr.amount)")
    )
}

/// Create `table` in SQLite and load `rows` in one transaction.
pub fn sqlite_load(con: &mut Connection, table: &Table, columns: &[&str], rows: &[Vec<Lit>]) -> Result<()> {
    con.execute_batch(&table.ddl(table.base)).with_context(|| format!("creating SQLite table {}", table.base))?;
    let tx = con.transaction()?;
    {
        let marks = vec!["?"; columns.len()].join(", ");
        let mut insert =
            tx.prepare(&format!("INSERT INTO {} ({}) VALUES ({marks})", table.base, columns.join(", ")))?;
        for row in rows {
            insert.execute(rusqlite::params_from_iter(row.iter()))?;
        }
    }
    tx.commit().with_context(|| format!("loading SQLite table {}", table.base))
}

/// The networked SQL server of this run, if `--sql-url` named one, and the tables this demo made
/// there: each named `redis_learn_<run>_<table>`, and dropped when this guard drops (also on error
/// and on Ctrl-C).
pub struct Networked {
    pub server: SqlServer,
    run: String,
    tables: Vec<String>,
}

impl Networked {
    /// Connect to `--sql-url`, if given. A bad URL, a remote host without `--allow-remote`, or a
    /// server that does not answer is a one-line error for the learner.
    pub fn open(ctx: &Ctx) -> Result<Option<Networked>> {
        let Some(url) = ctx.sql_url else { return Ok(None) };
        let server = SqlServer::connect(url, ctx.allow_remote)?;
        let run: String = ctx
            .namespace
            .prefix()
            .split(':')
            .nth(1)
            .unwrap_or("run")
            .chars()
            .map(|c| if c.is_ascii_alphanumeric() { c.to_ascii_lowercase() } else { '_' })
            .collect();
        Ok(Some(Networked { server, run, tables: Vec::new() }))
    }

    /// This run's name for `base`.
    pub fn name(&self, base: &str) -> String {
        format!("redis_learn_{}_{base}", self.run)
    }

    /// Create `table` and load `rows` with multi-row inserts; `ANALYZE` it on PostgreSQL so the
    /// planner knows its size.
    pub fn load(&mut self, table: &Table, columns: &[&str], rows: &[Vec<Lit>]) -> Result<()> {
        let name = self.name(table.base);
        self.server.batch(&format!("DROP TABLE IF EXISTS {name}"))?;
        self.tables.push(name.clone());
        self.server.batch(&table.ddl(&name)).with_context(|| format!("creating {name}"))?;
        for chunk in rows.chunks(INSERT_CHUNK) {
            let values: Vec<String> = chunk
                .iter()
                .map(|row| format!("({})", row.iter().map(Lit::sql).collect::<Vec<_>>().join(", ")))
                .collect();
            let sql = format!("INSERT INTO {name} ({}) VALUES {}", columns.join(", "), values.join(", "));
            self.server.batch(&sql).with_context(|| format!("loading {name}"))?;
        }
        if self.server.dialect() == Dialect::Postgres {
            self.server.batch(&format!("ANALYZE {name}"))?;
        }
        Ok(())
    }

    /// `(base, this run's name)` pairs for [`query`].
    pub fn names<'a>(&self, bases: &[&'a str]) -> Vec<(&'a str, String)> {
        bases.iter().map(|b| (*b, self.name(b))).collect()
    }

    /// The measurement label prefix: `MariaDB 10.11.19 (TCP)`.
    pub fn label(&self) -> String {
        format!("{} (TCP)", self.server.product())
    }
}

impl Drop for Networked {
    fn drop(&mut self) {
        if !self.tables.is_empty() {
            let _ = self.server.batch(&format!("DROP TABLE IF EXISTS {}", self.tables.join(", ")));
        }
    }
}

/// `(base, name)` pairs borrowed as `&str` for [`query`].
pub fn as_refs<'a>(names: &'a [(&'a str, String)]) -> Vec<(&'a str, &'a str)> {
    names.iter().map(|(b, n)| (*b, n.as_str())).collect()
}

/// The token rows for a bulk insert, in [`TOKEN_COLUMNS`] order.
pub fn token_rows(tokens: &[Token]) -> Vec<Vec<Lit>> {
    tokens
        .iter()
        .map(|t| {
            vec![
                Lit::I(t.id),
                Lit::S(t.chain.to_string()),
                Lit::S(t.address.clone()),
                Lit::S(t.record.symbol.clone()),
                Lit::I(t.record.decimals),
                Lit::I(t.record.price),
            ]
        })
        .collect()
}

pub const TOKEN_COLUMNS: [&str; 6] = ["id", "chain", "address", "symbol", "decimals", "price"];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ddl_names_the_table_and_its_indexes() {
        let sql = TRADERS.ddl("redis_learn_ab12_traders");
        assert!(sql.starts_with("CREATE TABLE redis_learn_ab12_traders (wallet"));
        assert!(sql.contains("CREATE INDEX redis_learn_ab12_traders_volume ON redis_learn_ab12_traders (volume)"));
    }

    #[test]
    fn queries_get_their_table_names() {
        assert_eq!(
            query(RANK_SQL, &[("traders", "x_traders")]),
            "SELECT COUNT(*) FROM x_traders WHERE volume > (SELECT volume FROM x_traders WHERE wallet = ?)"
        );
    }

    #[test]
    fn literals_are_quoted() {
        assert_eq!(Lit::S("it's".into()).sql(), "'it''s'");
        assert_eq!(Lit::I(-5).sql(), "-5");
    }

    #[test]
    fn the_schema_and_queries_run_on_sqlite() {
        let mut con = Connection::open_in_memory().unwrap();
        let rows: Vec<Vec<Lit>> = (0..5).map(|i| vec![Lit::S(format!("w{i}")), Lit::I(100 * i)]).collect();
        sqlite_load(&mut con, &TRADERS, &["wallet", "volume"], &rows).unwrap();
        let sql = query(RANK_SQL, &[("traders", "traders")]);
        let rank: i64 = con.query_row(&sql, ["w1"], |r| r.get(0)).unwrap();
        assert_eq!(rank, 3);
        for table in [TOKENS, KLINES, COUNTERS, SESSIONS, TRADES] {
            con.execute_batch(&table.ddl(table.base)).unwrap();
        }
        con.prepare(&join_sql("trades", "tokens", |s| s.to_string())).unwrap();
    }
}
