//! The two client libraries behind [`SqlServer`](super::SqlServer): `mysql` (MySQL/MariaDB) and
//! `postgres` (PostgreSQL), both sync over TCP, no TLS. Built only with the `networked-sql` cargo
//! feature: the two stacks are about a quarter of a clean build (about 65 of 265 CPU-seconds on a
//! 2-core machine, measured with `cargo build --release --timings`).

use std::str::FromStr;

use anyhow::{Context, Result, anyhow, bail};

use super::{CONNECT_TIMEOUT, Dialect, IO_TIMEOUT, Param, Row, Val, check_host, first_words, mysql_product, one_line};
use crate::error::UserError;

/// A prepared statement, of the connection's own kind.
pub(super) enum PreparedInner {
    MySql(mysql::Statement),
    Postgres(postgres::Statement),
}

/// One open connection.
pub(super) enum Conn {
    MySql(Box<mysql::Conn>),
    Postgres(Box<postgres::Client>),
}

/// Connect to `url` (whose scheme names `dialect`) and read the server's product and version,
/// e.g. `MariaDB 10.11.19`. `shown` is the URL with its password redacted, for errors.
pub(super) fn connect(
    url: &str,
    dialect: Dialect,
    shown: &str,
    allow_remote: bool,
) -> Result<(Conn, String), UserError> {
    let bad = |reason: &str| UserError::BadSqlUrl { url: shown.to_string(), reason: reason.to_string() };
    let down = |reason: String| UserError::SqlUnavailable { url: shown.to_string(), reason: one_line(&reason) };
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
            Ok((Conn::MySql(Box::new(conn)), mysql_product(version.as_deref().unwrap_or("?"))))
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
            Ok((Conn::Postgres(Box::new(client)), product))
        }
    }
}

impl Conn {
    /// Run one statement that returns no rows.
    pub(super) fn batch(&mut self, statement: &str) -> Result<()> {
        match self {
            Conn::MySql(conn) => mysql::prelude::Queryable::query_drop(conn.as_mut(), statement)
                .with_context(|| format!("running {}", first_words(statement))),
            Conn::Postgres(client) => {
                client.batch_execute(statement).with_context(|| format!("running {}", first_words(statement)))
            }
        }
    }

    /// Prepare `sql` (with `?` placeholders).
    pub(super) fn prepare(&mut self, sql: &str) -> Result<PreparedInner> {
        Ok(match self {
            Conn::MySql(conn) => PreparedInner::MySql(
                mysql::prelude::Queryable::prep(conn.as_mut(), sql)
                    .with_context(|| format!("preparing {}", first_words(sql)))?,
            ),
            Conn::Postgres(client) => PreparedInner::Postgres(
                client
                    .prepare(&super::numbered_placeholders(sql))
                    .with_context(|| format!("preparing {}", first_words(sql)))?,
            ),
        })
    }

    /// Run a prepared query and read every row.
    pub(super) fn query(&mut self, statement: &PreparedInner, params: &[Param]) -> Result<Vec<Row>> {
        match (self, statement) {
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
    pub(super) fn execute(&mut self, statement: &PreparedInner, params: &[Param]) -> Result<()> {
        match (self, statement) {
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
    fn mysql_values_convert() {
        assert_eq!(mysql_val(mysql::Value::Bytes(b"PEPE".to_vec())), Val::Text("PEPE".into()));
        assert_eq!(mysql_val(mysql::Value::UInt(5)), Val::Int(5));
        assert_eq!(mysql_val(mysql::Value::NULL), Val::Null);
    }
}
