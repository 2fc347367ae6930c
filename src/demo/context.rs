//! What a demo gets to work with: connections to Redis (traced), the run's key namespace, a sampler,
//! the scale, the language, the interrupt flag and a scratch directory for SQLite files.

use std::path::Path;

use anyhow::{Context, Result};

use crate::i18n::Lang;
use crate::interrupt::Interrupt;
use crate::measure::Sampler;
use crate::server::{Namespace, PrivateServer, RedisHandle, Trace, TracedConnection, Version, open_with_limits};
use crate::settings::Scale;

pub struct Ctx<'a> {
    pub redis: &'a RedisHandle,
    pub namespace: &'a Namespace,
    pub sampler: Sampler,
    pub scale: Scale,
    pub lang: Lang,
    pub trace: Trace,
    pub interrupt: Interrupt,
    /// A directory of this run's own, removed at the end: SQLite files go here.
    pub scratch: &'a Path,
    /// `--sql-url`: a networked SQL server to compare against too (None: SQLite only).
    pub sql_url: Option<&'a str>,
    /// `--allow-remote`: a non-loopback SQL host is refused without it, as for Redis.
    pub allow_remote: bool,
}

impl Ctx<'_> {
    /// A new traced connection (one per thread, as separate processes would have).
    pub fn connect(&self) -> Result<TracedConnection> {
        self.redis.connect_in(&self.trace, self.namespace).context("connecting to Redis")
    }

    /// A new traced connection to a private server a demo started for itself, with the same time
    /// limits as [`Ctx::connect`].
    pub fn connect_private(&self, server: &PrivateServer) -> Result<TracedConnection> {
        let client = redis::Client::open(server.url()).context("opening the private server's URL")?;
        let con = open_with_limits(&client).context("connecting to the private server")?;
        Ok(TracedConnection::new(con, &self.trace))
    }

    /// The full key for `suffix`, inside this run's namespace.
    pub fn key(&self, suffix: &str) -> String {
        self.namespace.key(suffix)
    }

    /// The full or the quick figure.
    pub fn n(&self, full: usize, quick: usize) -> usize {
        self.scale.pick(full, quick)
    }

    /// Stop here if Ctrl-C was pressed.
    pub fn check_interrupt(&self) -> Result<()> {
        Ok(self.interrupt.check()?)
    }

    pub fn version(&self) -> Version {
        self.redis.version()
    }
}
