//! The candles in Redis: key names (one key, or bucket keys of two hours), the server's listpack
//! limits and the encoding they predict, loading a key, and reading a window back.

use anyhow::{Context, Result, anyhow};
use redis::ConnectionLike;

use super::codec::{self, Candle};
use super::series::{MINUTE_MS, markets};
use super::{BUCKET_CANDLES, INTERVAL};
use crate::demo::Ctx;
use crate::server::Version;

/// Defaults of Redis 7.0 when `CONFIG GET` is not allowed.
const DEFAULT_LISTPACK_ENTRIES: u64 = 128;
const DEFAULT_LISTPACK_VALUE: u64 = 64;

pub(super) fn kline_key(ctx: &Ctx, symbol: &str, suffix: &str) -> String {
    ctx.key(&format!("kline:{symbol}:{INTERVAL}{suffix}"))
}

/// The bucket key holding the candle that opens at `open_ms`: `{ns}:kline:{symbol}:1m:{open_ms / bucket_ms}`.
pub(super) fn bucket_key(ctx: &Ctx, symbol: &str, bucket: u64, open_ms: u64) -> String {
    kline_key(ctx, symbol, &format!(":{}", open_ms / (bucket * MINUTE_MS)))
}

/// Candles per bucket: 120 (2 h), or less when the server's listpack limit is lower.
pub(super) fn bucket_candles(entries_limit: u64) -> u64 {
    [BUCKET_CANDLES, 60, 30, 15, 10, 5, 1].into_iter().find(|&n| n <= entries_limit).unwrap_or(1)
}

/// The server's zset listpack thresholds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct ListpackLimits {
    /// `zset-max-listpack-entries`: more members than this → skiplist.
    pub entries: u64,
    /// `zset-max-listpack-value`: a member longer than this (bytes) → skiplist.
    pub value: u64,
    /// False when `CONFIG GET` was refused and the 7.0 defaults are assumed.
    pub from_server: bool,
}

impl ListpackLimits {
    /// Would a fresh zset of `count` members, the longest `longest` bytes, be a listpack?
    pub fn fits(&self, count: u64, longest: u64) -> bool {
        count <= self.entries && longest <= self.value
    }
}

/// What `OBJECT ENCODING` calls the compact zset layout on this server (`ziplist` before 7.0).
pub(super) fn compact_encoding(version: Version) -> &'static str {
    if version.at_least(7, 0) { "listpack" } else { "ziplist" }
}

pub(super) fn predicted_encoding(limits: &ListpackLimits, version: Version, count: u64, longest: u64) -> &'static str {
    if limits.fits(count, longest) { compact_encoding(version) } else { "skiplist" }
}

/// Read the listpack thresholds with `CONFIG GET` (a read; never CONFIG SET); fall back to the
/// 7.0 defaults when the server refuses (managed services often rename or block CONFIG).
pub(super) fn listpack_limits(con: &mut impl ConnectionLike, version: Version) -> ListpackLimits {
    let word = if version.at_least(7, 0) { "listpack" } else { "ziplist" };
    let mut get = |name: &str| -> Option<u64> {
        let reply: Vec<String> = redis::cmd("CONFIG").arg("GET").arg(name).query(con).ok()?;
        reply.get(1)?.parse().ok()
    };
    let entries = get(&format!("zset-max-{word}-entries"));
    let value = get(&format!("zset-max-{word}-value"));
    match (entries, value) {
        (Some(entries), Some(value)) => ListpackLimits { entries, value, from_server: true },
        _ => ListpackLimits {
            entries: entries.unwrap_or(DEFAULT_LISTPACK_ENTRIES),
            value: value.unwrap_or(DEFAULT_LISTPACK_VALUE),
            from_server: false,
        },
    }
}

/// `(score, member)` pairs for `candles`, encoded by `encode`.
pub(super) fn members(candles: &[Candle], encode: fn(&Candle) -> String) -> Vec<(u64, String)> {
    candles.iter().map(|c| (c.open_ms, encode(c))).collect()
}

/// DEL `key`, then one `ZADD key score member` per candle, as a live writer sends them, all in one
/// pipeline (one round trip).
pub(super) fn load(con: &mut impl ConnectionLike, key: &str, pairs: &[(u64, String)]) -> Result<()> {
    let mut pipe = redis::pipe();
    pipe.cmd("DEL").arg(key).ignore();
    for (score, member) in pairs {
        pipe.cmd("ZADD").arg(key).arg(*score).arg(member).ignore();
    }
    pipe.exec(con).with_context(|| format!("loading {key}"))?;
    Ok(())
}

/// `MEMORY USAGE key SAMPLES 0`: every member counted, not a sample of 5.
pub(super) fn memory_usage(con: &mut impl ConnectionLike, key: &str) -> Result<u64> {
    let bytes: Option<u64> = redis::cmd("MEMORY").arg("USAGE").arg(key).arg("SAMPLES").arg(0).query(con)?;
    bytes.ok_or_else(|| anyhow!("MEMORY USAGE found no key {key}"))
}

pub(super) fn encoding(con: &mut impl ConnectionLike, key: &str) -> Result<String> {
    Ok(redis::cmd("OBJECT").arg("ENCODING").arg(key).query(con)?)
}

pub(super) fn zcard(con: &mut impl ConnectionLike, key: &str) -> Result<u64> {
    Ok(redis::cmd("ZCARD").arg(key).query(con)?)
}

/// `ZCOUNT key ts ts`: members whose score is exactly `ts`.
pub(super) fn zcount_at(con: &mut impl ConnectionLike, key: &str, ts: u64) -> Result<u64> {
    Ok(redis::cmd("ZCOUNT").arg(key).arg(ts).arg(ts).query(con)?)
}

/// The members with `from <= score < to`: `ZRANGE key from (to BYSCORE` (6.2+), or the older
/// `ZRANGEBYSCORE key from (to` the notes use on servers before 6.2.
pub(super) fn range_cmd(key: &str, from: u64, to: u64, modern: bool) -> redis::Cmd {
    let mut cmd = if modern { redis::cmd("ZRANGE") } else { redis::cmd("ZRANGEBYSCORE") };
    cmd.arg(key).arg(from).arg(format!("({to}"));
    if modern {
        cmd.arg("BYSCORE");
    }
    cmd
}

pub(super) fn decode_all(members: &[String]) -> Result<Vec<Candle>> {
    members.iter().map(|m| codec::decode(m).with_context(|| format!("decoding member {m:?}"))).collect()
}

/// A window read from one key.
pub(super) fn redis_range(
    con: &mut impl ConnectionLike,
    key: &str,
    from: u64,
    to: u64,
    modern: bool,
) -> Result<Vec<Candle>> {
    let members: Vec<String> = range_cmd(key, from, to, modern).query(con)?;
    decode_all(&members)
}

/// A window read from the bucket keys it spans, all in one pipeline (one round trip).
pub(super) fn bucketed_range(
    ctx: &Ctx,
    con: &mut impl ConnectionLike,
    bucket: u64,
    from: u64,
    to: u64,
    modern: bool,
) -> Result<Vec<Candle>> {
    let bucket_ms = bucket * MINUTE_MS;
    let mut pipe = redis::pipe();
    for b in from / bucket_ms..=(to - 1) / bucket_ms {
        pipe.add_command(range_cmd(&bucket_key(ctx, markets()[0].symbol, bucket, b * bucket_ms), from, to, modern));
    }
    let replies: Vec<Vec<String>> = pipe.query(con)?;
    decode_all(&replies.concat())
}

#[cfg(test)]
mod tests {
    use super::super::DAY;
    use super::*;

    #[test]
    fn buckets_fit_the_listpack_limit() {
        assert_eq!(bucket_candles(128), 120);
        assert_eq!(bucket_candles(1_000), 120);
        assert_eq!(bucket_candles(100), 60);
        assert_eq!(bucket_candles(7), 5);
        assert_eq!(bucket_candles(0), 1);
        assert_eq!(DAY as u64 % BUCKET_CANDLES, 0, "a day is whole buckets");
    }

    #[test]
    fn listpack_needs_few_members_and_short_ones() {
        let limits = ListpackLimits { entries: 128, value: 64, from_server: true };
        let v7 = Version(7, 0, 15);
        assert_eq!(predicted_encoding(&limits, v7, 128, 64), "listpack");
        assert_eq!(predicted_encoding(&limits, v7, 129, 50), "skiplist");
        assert_eq!(predicted_encoding(&limits, v7, 10, 65), "skiplist");
        assert_eq!(predicted_encoding(&limits, Version(6, 2, 0), 10, 50), "ziplist");
    }

    #[test]
    fn ranges_use_byscore_with_an_exclusive_end() {
        let args = |cmd: redis::Cmd| -> Vec<String> {
            cmd.args_iter()
                .map(|a| match a {
                    redis::Arg::Simple(b) => String::from_utf8_lossy(b).into_owned(),
                    redis::Arg::Cursor => "<cursor>".into(),
                    _ => "<other>".into(),
                })
                .collect()
        };
        assert_eq!(args(range_cmd("k", 10, 20, true)), ["ZRANGE", "k", "10", "(20", "BYSCORE"]);
        assert_eq!(args(range_cmd("k", 10, 20, false)), ["ZRANGEBYSCORE", "k", "10", "(20"]);
    }
}
