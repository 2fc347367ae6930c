//! A build without the `networked-sql` cargo feature: no MySQL or PostgreSQL client is compiled in,
//! so `--sql-url` says in one line how to get a build that has them. The types stay, uninhabited,
//! so the callers compile unchanged.

use anyhow::Result;

use super::{Dialect, Param, Row};
use crate::error::UserError;

/// No statement can be prepared without a connection.
pub(super) enum PreparedInner {}

/// No connection can be opened in this build.
pub(super) enum Conn {}

/// Always [`UserError::SqlNotBuilt`], after the URL's scheme was checked.
pub(super) fn connect(
    _url: &str,
    _dialect: Dialect,
    shown: &str,
    _allow_remote: bool,
) -> Result<(Conn, String), UserError> {
    Err(UserError::SqlNotBuilt { url: shown.to_string() })
}

impl Conn {
    pub(super) fn batch(&mut self, _statement: &str) -> Result<()> {
        match *self {}
    }

    pub(super) fn prepare(&mut self, _sql: &str) -> Result<PreparedInner> {
        match *self {}
    }

    pub(super) fn query(&mut self, _statement: &PreparedInner, _params: &[Param]) -> Result<Vec<Row>> {
        match *self {}
    }

    pub(super) fn execute(&mut self, _statement: &PreparedInner, _params: &[Param]) -> Result<()> {
        match *self {}
    }
}
