//! Small helpers more than one lesson's demos use, written once: the application clock, TTL
//! polling, counting keys and rows, short key names for tables, and a pacer for timed rounds.
//! (A parent module is not a helper library for its children: shared code lives here.)

use std::thread;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::{Context, Result, ensure};
use rand::RngExt;
use redis::ConnectionLike;

use super::Ctx;
use crate::measure::format_duration;

/// One `SCAN cursor MATCH pattern COUNT count` call (after checking for Ctrl-C): the next cursor (0
/// when the iteration is complete) and the keys this call returned, which may repeat keys an
/// earlier call returned (<https://redis.io/docs/latest/commands/scan/>, "Scan guarantees").
pub fn scan_page(
    ctx: &Ctx,
    con: &mut impl ConnectionLike,
    cursor: u64,
    pattern: &str,
    count: usize,
) -> Result<(u64, Vec<String>)> {
    ctx.check_interrupt()?;
    redis::cmd("SCAN").arg(cursor).arg("MATCH").arg(pattern).arg("COUNT").arg(count).query(con).context("SCAN")
}

/// `EXISTS` takes this many keys per call.
const EXISTS_CHUNK: usize = 500;
/// How long a TTL may take to run out before a wait gives up.
pub const EXPIRY_WAIT_LIMIT: Duration = Duration::from_secs(10);

/// Milliseconds since the Unix epoch: the application clock that deadlines (zset scores, SQL
/// `expires_at`) are written in. Every writer and sweeper must share it, so it is one clock here.
pub fn now_ms() -> Result<i64> {
    let since = SystemTime::now().duration_since(UNIX_EPOCH).context("the system clock is before 1970")?;
    i64::try_from(since.as_millis()).context("the system clock is out of range")
}

/// Milliseconds of a duration, for `PX`/`PEXPIRE` and deadlines (never 0: `PX 0` is an error).
pub fn millis(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX).max(1)
}

/// A random 128-bit id in hex: session ids and lock tokens must not be guessable.
pub fn new_id() -> String {
    let mut rng = rand::rng();
    format!("{:016x}{:016x}", rng.random::<u64>(), rng.random::<u64>())
}

/// `redis-learn:3fa2b1c0:token:eth:0x69…` is long for a table: `…:token:eth:0x69…`.
pub fn short(key: &str) -> String {
    let tail = key.splitn(3, ':').nth(2).unwrap_or(key);
    format!("…:{tail}")
}

/// `PTTL key`: milliseconds left, -1 without a TTL, -2 when the key is gone.
pub fn pttl(con: &mut impl ConnectionLike, key: &str) -> Result<i64> {
    Ok(redis::cmd("PTTL").arg(key).query(con)?)
}

/// Poll PTTL until `key` has expired (no blind sleep), calling `between` on every poll (a live
/// node's heartbeat); how long that took. Errors if the key has no TTL or outlives
/// [`EXPIRY_WAIT_LIMIT`].
pub fn wait_until_gone<C: ConnectionLike>(
    ctx: &Ctx,
    con: &mut C,
    key: &str,
    mut between: impl FnMut(&mut C) -> Result<()>,
) -> Result<Duration> {
    let start = Instant::now();
    loop {
        ctx.check_interrupt()?;
        between(con)?;
        let pttl = pttl(con, key)?;
        if pttl == -2 {
            return Ok(start.elapsed());
        }
        ensure!(pttl != -1, "{key} has no TTL, so it will never expire");
        ensure!(
            start.elapsed() < EXPIRY_WAIT_LIMIT,
            "{key} did not expire within {}",
            format_duration(EXPIRY_WAIT_LIMIT)
        );
        thread::sleep(Duration::from_millis(pttl.clamp(1, 20) as u64));
    }
}

/// How many of `keys` exist (EXISTS counts a key once per mention, so pass each key once).
pub fn count_existing(con: &mut impl ConnectionLike, keys: &[String]) -> Result<usize> {
    if keys.is_empty() {
        return Ok(0);
    }
    let mut pipe = redis::pipe();
    for chunk in keys.chunks(EXISTS_CHUNK) {
        pipe.cmd("EXISTS").arg(chunk);
    }
    let counts: Vec<usize> = pipe.query(con).context("counting keys with EXISTS")?;
    Ok(counts.iter().sum())
}

/// A `SELECT COUNT(*) …` as a usize.
pub fn sql_count(db: &rusqlite::Connection, sql: &str, params: impl rusqlite::Params) -> Result<usize> {
    let n: i64 = db.query_row(sql, params, |r| r.get(0)).with_context(|| format!("counting with {sql}"))?;
    usize::try_from(n).context("a negative count")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn millis_is_never_zero() {
        assert_eq!(millis(Duration::ZERO), 1);
        assert_eq!(millis(Duration::from_millis(250)), 250);
    }

    #[test]
    fn short_keys_drop_the_run_prefix() {
        assert_eq!(short("redis-learn:3fa2b1c0:token:eth:0x69"), "…:token:eth:0x69");
        assert_eq!(short("plain"), "…:plain");
    }
}
