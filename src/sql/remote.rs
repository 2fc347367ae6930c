//! A networked SQL server to compare against (`--sql-url`): MySQL/MariaDB, which the notes compare
//! Redis with, or PostgreSQL. One sync connection over TCP, no TLS, with timeouts; statements are
//! written once with `?` placeholders and rewritten to `$1, $2, ...` for PostgreSQL.
//!
//! Only what a demo needs: run DDL and bulk inserts, prepare a statement once, run it many times
//! (timed), and read rows back as plain integers and strings so results compare across backends.

use std::time::Duration;

use anyhow::{Context, Result, bail};

use crate::error::UserError;
use crate::server::is_loopback_host;

/// How long connecting may take before we say the server is not there.
#[cfg_attr(not(feature = "networked-sql"), allow(dead_code))]
pub(crate) const CONNECT_TIMEOUT: Duration = Duration::from_secs(3);
/// How long one statement may take (a bulk insert of a demo's data set included).
#[cfg_attr(not(feature = "networked-sql"), allow(dead_code))]
pub(crate) const IO_TIMEOUT: Duration = Duration::from_secs(60);

/// Which SQL the server speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    MySql,
    Postgres,
}

impl Dialect {
    /// The dialect a URL names by its scheme.
    pub fn of_url(url: &str) -> Option<Dialect> {
        let (scheme, _) = url.split_once("://")?;
        match scheme.to_ascii_lowercase().as_str() {
            "mysql" | "mariadb" => Some(Dialect::MySql),
            "postgres" | "postgresql" => Some(Dialect::Postgres),
            _ => None,
        }
    }

    /// `CAST(expr AS <64-bit integer>)`: SUM over integers is DECIMAL in MySQL and NUMERIC in
    /// PostgreSQL; cast it back so every backend returns the same plain integer.
    pub fn cast_int(self, expr: &str) -> String {
        match self {
            Dialect::MySql => format!("CAST({expr} AS SIGNED)"),
            Dialect::Postgres => format!("CAST({expr} AS BIGINT)"),
        }
    }
}

/// One statement parameter.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Param<'a> {
    Int(i64),
    Text(&'a str),
}

/// One value of a result row: demos only read integers and strings (cast anything else in SQL).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Val {
    Int(i64),
    Text(String),
    Null,
}

impl Val {
    pub fn int(&self) -> Result<i64> {
        match self {
            Val::Int(v) => Ok(*v),
            Val::Text(t) => t.parse().with_context(|| format!("expected an integer, got {t:?}")),
            Val::Null => bail!("expected an integer, got NULL"),
        }
    }

    pub fn text(&self) -> Result<String> {
        match self {
            Val::Text(t) => Ok(t.clone()),
            Val::Int(v) => Ok(v.to_string()),
            Val::Null => bail!("expected a string, got NULL"),
        }
    }
}

/// A result row.
pub type Row = Vec<Val>;

/// A prepared statement on one connection.
pub struct Prepared(PreparedInner);

#[cfg(feature = "networked-sql")]
mod driver;
#[cfg(not(feature = "networked-sql"))]
#[path = "remote/no_driver.rs"]
mod driver;

use driver::{Conn, PreparedInner};

/// Whether this build has the MySQL and PostgreSQL clients (the `networked-sql` cargo feature).
pub const BUILT_IN: bool = cfg!(feature = "networked-sql");

/// What can be told of a `--sql-url` before anything runs: its dialect from the scheme
/// ([`UserError::BadSqlUrl`] otherwise), and [`UserError::SqlNotBuilt`] in a build without the
/// `networked-sql` feature. Never connects.
pub fn check_url(url: &str) -> Result<Dialect, UserError> {
    let dialect = Dialect::of_url(url).ok_or_else(|| UserError::BadSqlUrl {
        url: redact(url),
        reason: "the scheme must be mysql:// or postgres://".to_string(),
    })?;
    if !BUILT_IN {
        return Err(UserError::SqlNotBuilt { url: redact(url) });
    }
    Ok(dialect)
}

/// A connection to a networked SQL server.
pub struct SqlServer {
    dialect: Dialect,
    conn: Conn,
    product: String,
    url: String,
}

impl SqlServer {
    /// Check the URL (scheme, loopback rule), connect over TCP, and read the server's version.
    /// Every failure is one line the learner can act on; in a build without the `networked-sql`
    /// feature, [`UserError::SqlNotBuilt`].
    pub fn connect(url: &str, allow_remote: bool) -> Result<SqlServer, UserError> {
        let shown = redact(url);
        let dialect = check_url(url)?;
        let (conn, product) = driver::connect(url, dialect, &shown, allow_remote)?;
        Ok(SqlServer { dialect, conn, product, url: shown })
    }

    pub fn dialect(&self) -> Dialect {
        self.dialect
    }

    /// `MariaDB 10.11.19`, `MySQL 8.0.36`, `PostgreSQL 15.20`.
    pub fn product(&self) -> &str {
        &self.product
    }

    /// The URL with any password replaced by `***`.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The product's short name: `MariaDB`, `MySQL`, `PostgreSQL`.
    pub fn name(&self) -> &str {
        self.product.split(' ').next().unwrap_or("SQL")
    }

    /// Run statements that return no rows (DDL, multi-row inserts), separated by `;`.
    pub fn batch(&mut self, sql: &str) -> Result<()> {
        for statement in sql.split(';').map(str::trim).filter(|s| !s.is_empty()) {
            self.conn.batch(statement)?;
        }
        Ok(())
    }

    /// Prepare `sql` (with `?` placeholders) once, to run many times.
    pub fn prepare(&mut self, sql: &str) -> Result<Prepared> {
        Ok(Prepared(self.conn.prepare(sql)?))
    }

    /// Run a prepared query and read every row.
    pub fn query(&mut self, statement: &Prepared, params: &[Param]) -> Result<Vec<Row>> {
        self.conn.query(&statement.0, params)
    }

    /// Run a prepared statement that returns no rows (an UPDATE, an INSERT).
    pub fn execute(&mut self, statement: &Prepared, params: &[Param]) -> Result<()> {
        self.conn.execute(&statement.0, params)
    }
}

#[cfg_attr(not(feature = "networked-sql"), allow(dead_code))]
pub(crate) fn check_host(host: &str, allow_remote: bool) -> Result<(), UserError> {
    if allow_remote || is_loopback_host(host) {
        Ok(())
    } else {
        Err(UserError::RemoteNotAllowed { host: host.to_string() })
    }
}

/// `10.11.19-MariaDB-0+deb12u1` → `MariaDB 10.11.19`; `8.0.36` → `MySQL 8.0.36`.
pub fn mysql_product(version: &str) -> String {
    let number = version.split(['-', ' ']).next().unwrap_or(version);
    if version.to_ascii_lowercase().contains("mariadb") {
        format!("MariaDB {number}")
    } else {
        format!("MySQL {number}")
    }
}

/// Rewrite `?` placeholders as PostgreSQL's `$1, $2, ...`. (Our statements hold no `?` in string
/// literals.)
pub fn numbered_placeholders(sql: &str) -> String {
    let mut out = String::with_capacity(sql.len() + 8);
    let mut n = 0;
    for ch in sql.chars() {
        if ch == '?' {
            n += 1;
            out.push('$');
            out.push_str(&n.to_string());
        } else {
            out.push(ch);
        }
    }
    out
}

/// `mysql://root:secret@host/db` → `mysql://root:***@host/db`.
pub fn redact(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else { return url.to_string() };
    let (authority, path) = match rest.find('/') {
        Some(i) => rest.split_at(i),
        None => (rest, ""),
    };
    match authority.rsplit_once('@') {
        Some((userinfo, host)) => match userinfo.split_once(':') {
            Some((user, _)) => format!("{scheme}://{user}:***@{host}{path}"),
            None => url.to_string(),
        },
        None => url.to_string(),
    }
}

#[cfg_attr(not(feature = "networked-sql"), allow(dead_code))]
pub(crate) fn one_line(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

#[cfg_attr(not(feature = "networked-sql"), allow(dead_code))]
pub(crate) fn first_words(sql: &str) -> String {
    let words: Vec<&str> = sql.split_whitespace().take(4).collect();
    format!("`{} ...`", words.join(" "))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dialects_come_from_the_scheme() {
        assert_eq!(Dialect::of_url("mysql://root@127.0.0.1:3306/test"), Some(Dialect::MySql));
        assert_eq!(Dialect::of_url("mariadb://root@127.0.0.1/test"), Some(Dialect::MySql));
        assert_eq!(Dialect::of_url("postgres://postgres@127.0.0.1/test"), Some(Dialect::Postgres));
        assert_eq!(Dialect::of_url("PostgreSQL://u@h/db"), Some(Dialect::Postgres));
        assert_eq!(Dialect::of_url("redis://127.0.0.1"), None);
        assert_eq!(Dialect::of_url("127.0.0.1:3306"), None);
    }

    #[test]
    fn placeholders_are_numbered_for_postgres() {
        assert_eq!(
            numbered_placeholders("SELECT a FROM t WHERE b = ? AND c >= ? AND d < ?"),
            "SELECT a FROM t WHERE b = $1 AND c >= $2 AND d < $3"
        );
        assert_eq!(numbered_placeholders("SELECT 1"), "SELECT 1");
    }

    #[test]
    fn passwords_are_redacted() {
        assert_eq!(redact("mysql://root:secret@127.0.0.1:3306/test"), "mysql://root:***@127.0.0.1:3306/test");
        assert_eq!(redact("mysql://root@127.0.0.1:3306/test"), "mysql://root@127.0.0.1:3306/test");
        assert_eq!(redact("postgres://u:p@h/db?sslmode=disable"), "postgres://u:***@h/db?sslmode=disable");
        assert_eq!(redact("not a url"), "not a url");
    }

    #[test]
    fn products_are_named() {
        assert_eq!(mysql_product("10.11.19-MariaDB-0+deb12u1"), "MariaDB 10.11.19");
        assert_eq!(mysql_product("8.0.36"), "MySQL 8.0.36");
        assert_eq!(mysql_product("8.4.0-log"), "MySQL 8.4.0");
    }

    #[test]
    fn casts_per_dialect() {
        assert_eq!(Dialect::MySql.cast_int("SUM(x)"), "CAST(SUM(x) AS SIGNED)");
        assert_eq!(Dialect::Postgres.cast_int("SUM(x)"), "CAST(SUM(x) AS BIGINT)");
    }

    #[test]
    fn values_convert() {
        assert_eq!(Val::Text("42".into()).int().unwrap(), 42);
        assert_eq!(Val::Int(7).text().unwrap(), "7");
        assert!(Val::Null.int().is_err());
    }

    #[test]
    #[cfg(not(feature = "networked-sql"))]
    fn a_build_without_the_clients_says_how_to_get_them() {
        let err = SqlServer::connect("mysql://root@127.0.0.1:3306/test", false).err().unwrap();
        assert!(matches!(err, UserError::SqlNotBuilt { .. }), "{err}");
        assert!(err.to_string().contains("--features networked-sql"), "{err}");
        let err = SqlServer::connect("http://127.0.0.1:3306/test", false).err().unwrap();
        assert!(matches!(err, UserError::BadSqlUrl { .. }), "{err}");
    }

    #[test]
    #[cfg(feature = "networked-sql")]
    fn bad_urls_and_remote_hosts_fail_before_connecting() {
        let err = SqlServer::connect("http://127.0.0.1:3306/test", false).err().unwrap();
        assert!(matches!(err, UserError::BadSqlUrl { .. }), "{err}");
        let err = SqlServer::connect("mysql://root@10.1.2.3:3306/test", false).err().unwrap();
        assert!(matches!(err, UserError::RemoteNotAllowed { .. }), "{err}");
        let err = SqlServer::connect("postgres://root@db.example.com:5432/test", false).err().unwrap();
        assert!(matches!(err, UserError::RemoteNotAllowed { .. }), "{err}");
    }

    #[test]
    #[cfg(feature = "networked-sql")]
    fn a_server_that_is_not_there_is_one_line() {
        let port = crate::server::free_port().unwrap();
        for url in [format!("mysql://root@127.0.0.1:{port}/test"), format!("postgres://root@127.0.0.1:{port}/test")] {
            let err = SqlServer::connect(&url, false).err().unwrap();
            assert!(matches!(err, UserError::SqlUnavailable { .. }), "{err}");
            assert!(!err.to_string().contains('\n'), "{err}");
        }
    }
}
