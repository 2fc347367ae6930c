//! Small helpers more than one demo uses, written once: the application clock, TTL polling, SCAN
//! pages, counting keys and rows, short key names for tables, a pacer for timed rounds, made-up ids
//! (splitmix64) and the "who was faster" message of a comparison.
//! (A parent module is not a helper library for its children: shared code lives here.)

use std::thread;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::{Context, Result, ensure};
use rand::RngExt;
use redis::ConnectionLike;

use super::Ctx;
use crate::measure::{Comparison, Measurement, Verdict, format_duration};
use crate::text::{Fact, Text};

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

/// How long a SQLite connection waits for another one's write lock before it gives up.
pub const SQL_WAIT: Duration = Duration::from_secs(10);

/// splitmix64: a fixed, well-spread 64-bit hash, for made-up wallet addresses and transaction hashes.
pub fn mix(x: u64) -> u64 {
    let mut z = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// Who was faster at p50, `a` or `b`, from `cmp` (the comparison of `a` with `b`, measured
/// interleaved in one group): the message `<id>.a-faster`, `<id>.b-faster`, or
/// `<id>.no-clear-difference` when the interval covers 1. Facts: `a` and `b` (the p50s), `ratio`
/// (how many times faster the faster side was) and `measured` (the ratio with its interval).
pub fn who_wins(id: &str, cmp: &Comparison, a: &Measurement, b: &Measurement) -> Text {
    let (choice, by) = winner(cmp);
    Text::msg(&format!("{id}.{choice}"))
        .fact("a", a.p50())
        .fact("b", b.p50())
        .fact("ratio", Fact::Ratio(by))
        .fact("measured", cmp.measured())
}

/// The message choice for [`who_wins`], and by how many times the faster side won.
pub fn winner(cmp: &Comparison) -> (&'static str, f64) {
    if cmp.status == Verdict::NoClearDifference {
        ("no-clear-difference", cmp.ratio)
    } else if cmp.ratio >= 1.0 {
        ("a-faster", cmp.ratio)
    } else {
        ("b-faster", 1.0 / cmp.ratio)
    }
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

    fn comparison(ratio: f64, status: Verdict) -> Comparison {
        Comparison {
            id: "x".into(),
            a: "a".into(),
            b: "b".into(),
            a_label: String::new(),
            b_label: String::new(),
            ratio,
            ratio_low: ratio * 0.9,
            ratio_high: ratio * 1.1,
            ratio_p99: ratio,
            rounds: 10,
            status,
        }
    }

    #[test]
    fn the_faster_side_picks_the_message_and_the_ratio_is_above_one() {
        assert_eq!(winner(&comparison(4.0, Verdict::Clear)), ("a-faster", 4.0));
        assert_eq!(winner(&comparison(0.25, Verdict::Clear)), ("b-faster", 4.0));
        assert_eq!(winner(&comparison(0.98, Verdict::NoClearDifference)).0, "no-clear-difference");
    }
}
