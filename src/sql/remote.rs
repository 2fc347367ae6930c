//! A networked SQL server to compare against (`--sql-url`): MySQL/MariaDB, which the notes compare
//! Redis with, or PostgreSQL. One sync connection over TCP, no TLS, with timeouts; statements are
//! written once with `?` placeholders and rewritten to `$1, $2, ...` for PostgreSQL.
//!
//! Only what a demo needs: run DDL and bulk inserts, prepare a statement once, run it many times
//! (timed), and read rows back as plain integers and strings so results compare across backends.

use std::str::FromStr;
use std::time::Duration;

use anyhow::{Context, Result, anyhow, bail};

use crate::error::UserError;
use crate::server::is_loopback_host;

/// How long connecting may take before we say the server is not there.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(3);
/// How long one statement may take (a bulk insert of a demo's data set included).
const IO_TIMEOUT: Duration = Duration::from_secs(60);

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

enum PreparedInner {
    MySql(mysql::Statement),
    Postgres(postgres::Statement),
}

enum Conn {
    MySql(Box<mysql::Conn>),
    Postgres(Box<postgres::Client>),
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
    /// Every failure is one line the learner can act on.
    pub fn connect(url: &str, allow_remote: bool) -> Result<SqlServer, UserError> {
        let shown = redact(url);
        let bad = |reason: &str| UserError::BadSqlUrl { url: shown.clone(), reason: reason.to_string() };
        let dialect = Dialect::of_url(url).ok_or_else(|| bad("the scheme must be mysql:// or postgres://"))?;
        let down = |reason: String| UserError::SqlUnavailable { url: shown.clone(), reason: one_line(&reason) };
        match dialect {
            Dialect::MySql => {
                let url = match url.split_once("://") {
                    Some((_, rest)) => format!("mysql://{rest}"),
                    None => url.to_string(),
                };
                let opts = mysql::Opts::from_url(&url).map_err(|e| bad(&e.to_string()))?;
                if opts.get_socket().is_none() {
                    check_host(&opts.get_ip_or_hostname(), allow_remote)?;
                }
                let builder = mysql::OptsBuilder::from_opts(opts)
                    // Stay on TCP: the comparison is a network round trip, as Redis's is.
                    .prefer_socket(false)
                    .tcp_connect_timeout(Some(CONNECT_TIMEOUT))
                    .read_timeout(Some(IO_TIMEOUT))
                    .write_timeout(Some(IO_TIMEOUT));
                let mut conn = mysql::Conn::new(builder).map_err(|e| down(mysql_reason(&e)))?;
                let version: Option<String> = mysql::prelude::Queryable::query_first(&mut conn, "SELECT VERSION()")
                    .map_err(|e| down(mysql_reason(&e)))?;
                let product = mysql_product(version.as_deref().unwrap_or("?"));
                Ok(SqlServer { dialect, conn: Conn::MySql(Box::new(conn)), product, url: shown })
            }
            Dialect::Postgres => {
                let mut config = postgres::Config::from_str(url).map_err(|e| bad(&e.to_string()))?;
                for host in config.get_hosts() {
                    if let postgres::config::Host::Tcp(name) = host {
                        check_host(name, allow_remote)?;
                    }
                }
                if config.get_user().is_none() {
                    config.user("postgres");
                }
                config.connect_timeout(CONNECT_TIMEOUT);
                let mut client = config.connect(postgres::NoTls).map_err(|e| down(postgres_reason(&e)))?;
                let row = client.query_one("SHOW server_version", &[]).map_err(|e| down(postgres_reason(&e)))?;
                let version: String = row.try_get(0).unwrap_or_else(|_| "?".to_string());
                let timeout = format!("SET statement_timeout = {}", IO_TIMEOUT.as_millis());
                client.batch_execute(&timeout).map_err(|e| down(postgres_reason(&e)))?;
                let product = format!("PostgreSQL {}", version.split_whitespace().next().unwrap_or("?"));
                Ok(SqlServer { dialect, conn: Conn::Postgres(Box::new(client)), product, url: shown })
            }
        }
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
            match &mut self.conn {
                Conn::MySql(conn) => mysql::prelude::Queryable::query_drop(conn.as_mut(), statement)
                    .with_context(|| format!("running {}", first_words(statement)))?,
                Conn::Postgres(client) => {
                    client.batch_execute(statement).with_context(|| format!("running {}", first_words(statement)))?
                }
            }
        }
        Ok(())
    }

    /// Prepare `sql` (with `?` placeholders) once, to run many times.
    pub fn prepare(&mut self, sql: &str) -> Result<Prepared> {
        let inner = match &mut self.conn {
            Conn::MySql(conn) => PreparedInner::MySql(
                mysql::prelude::Queryable::prep(conn.as_mut(), sql)
                    .with_context(|| format!("preparing {}", first_words(sql)))?,
            ),
            Conn::Postgres(client) => PreparedInner::Postgres(
                client
                    .prepare(&numbered_placeholders(sql))
                    .with_context(|| format!("preparing {}", first_words(sql)))?,
            ),
        };
        Ok(Prepared(inner))
    }

    /// Run a prepared query and read every row.
    pub fn query(&mut self, statement: &Prepared, params: &[Param]) -> Result<Vec<Row>> {
        match (&mut self.conn, &statement.0) {
            (Conn::MySql(conn), PreparedInner::MySql(stmt)) => {
                let rows: Vec<mysql::Row> = mysql::prelude::Queryable::exec(conn.as_mut(), stmt, mysql_params(params))?;
                Ok(rows.into_iter().map(|row| row.unwrap().into_iter().map(mysql_val).collect()).collect())
            }
            (Conn::Postgres(client), PreparedInner::Postgres(stmt)) => {
                let values = postgres_params(params);
                let refs: Vec<&(dyn postgres::types::ToSql + Sync)> = values.iter().map(|v| v.as_sql()).collect();
                let rows = client.query(stmt, &refs)?;
                rows.iter().map(postgres_row).collect()
            }
            _ => Err(anyhow!("a statement prepared for another kind of server")),
        }
    }

    /// Run a prepared statement that returns no rows (an UPDATE, an INSERT).
    pub fn execute(&mut self, statement: &Prepared, params: &[Param]) -> Result<()> {
        match (&mut self.conn, &statement.0) {
            (Conn::MySql(conn), PreparedInner::MySql(stmt)) => {
                mysql::prelude::Queryable::exec_drop(conn.as_mut(), stmt, mysql_params(params))?;
            }
            (Conn::Postgres(client), PreparedInner::Postgres(stmt)) => {
                let values = postgres_params(params);
                let refs: Vec<&(dyn postgres::types::ToSql + Sync)> = values.iter().map(|v| v.as_sql()).collect();
                client.execute(stmt, &refs)?;
            }
            _ => bail!("a statement prepared for another kind of server"),
        }
        Ok(())
    }
}

fn check_host(host: &str, allow_remote: bool) -> Result<(), UserError> {
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

fn one_line(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// The MySQL error without the driver's wrapper (`DriverError { ... }`).
fn mysql_reason(err: &mysql::Error) -> String {
    match err {
        mysql::Error::IoError(e) => e.to_string(),
        mysql::Error::DriverError(e) => e.to_string(),
        mysql::Error::MySqlError(e) => e.to_string(),
        other => other.to_string(),
    }
}

/// The PostgreSQL error with its cause (the driver's own text is often just "error connecting").
fn postgres_reason(err: &postgres::Error) -> String {
    use std::error::Error as _;
    match err.source() {
        Some(cause) => format!("{err}: {cause}"),
        None => err.to_string(),
    }
}

fn first_words(sql: &str) -> String {
    let words: Vec<&str> = sql.split_whitespace().take(4).collect();
    format!("`{} ...`", words.join(" "))
}

fn mysql_params(params: &[Param]) -> mysql::Params {
    if params.is_empty() {
        return mysql::Params::Empty;
    }
    mysql::Params::Positional(
        params
            .iter()
            .map(|p| match p {
                Param::Int(v) => mysql::Value::Int(*v),
                Param::Text(t) => mysql::Value::Bytes(t.as_bytes().to_vec()),
            })
            .collect(),
    )
}

fn mysql_val(value: mysql::Value) -> Val {
    match value {
        mysql::Value::NULL => Val::Null,
        mysql::Value::Int(v) => Val::Int(v),
        mysql::Value::UInt(v) => i64::try_from(v).map_or_else(|_| Val::Text(v.to_string()), Val::Int),
        mysql::Value::Bytes(bytes) => Val::Text(String::from_utf8_lossy(&bytes).into_owned()),
        other => Val::Text(other.as_sql(true)),
    }
}

/// Owned PostgreSQL parameters (`ToSql` wants references that outlive the call).
enum PgParam {
    Int(i64),
    Text(String),
}

impl PgParam {
    fn as_sql(&self) -> &(dyn postgres::types::ToSql + Sync) {
        match self {
            PgParam::Int(v) => v,
            PgParam::Text(t) => t,
        }
    }
}

fn postgres_params(params: &[Param]) -> Vec<PgParam> {
    params
        .iter()
        .map(|p| match p {
            Param::Int(v) => PgParam::Int(*v),
            Param::Text(t) => PgParam::Text((*t).to_string()),
        })
        .collect()
}

fn postgres_row(row: &postgres::Row) -> Result<Row> {
    use postgres::types::Type;
    (0..row.len())
        .map(|i| {
            let ty = row.columns()[i].type_();
            let val = if *ty == Type::INT8 {
                row.try_get::<_, Option<i64>>(i)?.map(Val::Int)
            } else if *ty == Type::INT4 {
                row.try_get::<_, Option<i32>>(i)?.map(|v| Val::Int(v.into()))
            } else if *ty == Type::INT2 {
                row.try_get::<_, Option<i16>>(i)?.map(|v| Val::Int(v.into()))
            } else if [Type::TEXT, Type::VARCHAR, Type::BPCHAR, Type::NAME].contains(ty) {
                row.try_get::<_, Option<String>>(i)?.map(Val::Text)
            } else {
                bail!("column {} has type {ty}: cast it to BIGINT or TEXT in the query", row.columns()[i].name())
            };
            Ok(val.unwrap_or(Val::Null))
        })
        .collect()
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
        assert_eq!(mysql_val(mysql::Value::Bytes(b"PEPE".to_vec())), Val::Text("PEPE".into()));
        assert_eq!(mysql_val(mysql::Value::UInt(5)), Val::Int(5));
    }

    #[test]
    fn bad_urls_and_remote_hosts_fail_before_connecting() {
        let err = SqlServer::connect("http://127.0.0.1:3306/test", false).err().unwrap();
        assert!(matches!(err, UserError::BadSqlUrl { .. }), "{err}");
        let err = SqlServer::connect("mysql://root@10.1.2.3:3306/test", false).err().unwrap();
        assert!(matches!(err, UserError::RemoteNotAllowed { .. }), "{err}");
        let err = SqlServer::connect("postgres://root@db.example.com:5432/test", false).err().unwrap();
        assert!(matches!(err, UserError::RemoteNotAllowed { .. }), "{err}");
    }

    #[test]
    fn a_server_that_is_not_there_is_one_line() {
        let port = crate::server::free_port().unwrap();
        for url in [format!("mysql://root@127.0.0.1:{port}/test"), format!("postgres://root@127.0.0.1:{port}/test")] {
            let err = SqlServer::connect(&url, false).err().unwrap();
            assert!(matches!(err, UserError::SqlUnavailable { .. }), "{err}");
            assert!(!err.to_string().contains('\n'), "{err}");
        }
    }
}
