//! The response cache the demos share: how long to keep an answer (`Policy`, the upstream's
//! freshness), cache-aside through Redis, and the words every demo of the lesson uses.

use std::time::Duration;

use anyhow::{Context, Result};
use redis::ConnectionLike;

use super::key::Request;
use super::upstream::{self, CacheControl, Response, Upstream};
use crate::text::Text;

/// The longest we keep anything, whatever the upstream allows (the notes' token cache: 30 days).
pub const MAX_TTL: Duration = Duration::from_secs(30 * 86_400);
/// A 2xx answer without `Cache-Control`.
pub const DEFAULT_TTL: Duration = Duration::from_secs(60);
/// A 404: "this does not exist" is remembered briefly (negative caching, as in lesson 2).
pub const NOT_FOUND_TTL: Duration = Duration::from_secs(30);
/// A 429 or 5xx: kept just long enough to stop a retry storm, never like a real answer.
pub const ERROR_TTL: Duration = Duration::from_millis(500);
/// The one-size TTL of a cache that ignores freshness (what a bare `SETEX key 60 body` does).
pub const FIXED_TTL: Duration = Duration::from_secs(60);

/// How long to keep a response.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Policy {
    /// Everything, errors included, for the same time: the naive `SETEX` wrapper.
    Fixed(Duration),
    /// Follow the upstream's `Cache-Control`; never keep an error.
    SuccessOnly,
    /// Follow the upstream's `Cache-Control`; keep a 404 briefly and a 429/5xx very briefly.
    Honour,
}

impl Policy {
    /// How long to keep `response`; `None`: do not store it.
    pub fn ttl(self, response: &Response) -> Option<Duration> {
        match self {
            Policy::Fixed(ttl) => Some(ttl),
            Policy::SuccessOnly if !(200..300).contains(&response.status) => None,
            Policy::SuccessOnly | Policy::Honour => freshness_ttl(response),
        }
    }
}

/// The TTL the upstream's answer allows, capped at [`MAX_TTL`]; `None` for `no-store`, `max-age=0`
/// and statuses that must not be cached.
pub fn freshness_ttl(response: &Response) -> Option<Duration> {
    match response.status {
        200..=299 => match response.cache_control {
            CacheControl::NoStore | CacheControl::MaxAge(0) | CacheControl::Immutable(0) => None,
            CacheControl::MaxAge(s) | CacheControl::Immutable(s) => Some(Duration::from_secs(s).min(MAX_TTL)),
            CacheControl::Absent => Some(DEFAULT_TTL),
        },
        404 => Some(NOT_FOUND_TTL),
        429 | 500..=599 => Some(ERROR_TTL),
        _ => None,
    }
}

/// `SET key value EX seconds` for whole seconds, `SET key value PX ms` below a second or with a
/// fraction. (The notes' `SETEX key seconds value` is the form deprecated since Redis 2.6.12.)
pub fn set_with_ttl(con: &mut impl ConnectionLike, key: &str, value: &str, ttl: Duration) -> Result<()> {
    let mut cmd = redis::cmd("SET");
    cmd.arg(key).arg(value);
    if ttl.subsec_millis() == 0 && ttl.as_secs() > 0 {
        cmd.arg("EX").arg(ttl.as_secs());
    } else {
        cmd.arg("PX").arg(ttl.as_millis().max(1) as u64);
    }
    cmd.exec(con).with_context(|| format!("caching {key}"))?;
    Ok(())
}

/// Where an answer came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    /// The cache had it.
    Hit,
    /// The cache had it after waiting for another request's fill (single-flight).
    Waited,
    /// This request called the upstream.
    Upstream,
}

/// Cache-aside for one request: `GET key`; on a miss call the upstream and store the answer for as
/// long as `policy` says.
pub fn fetch_through(
    con: &mut impl ConnectionLike,
    upstream: &Upstream,
    request: &Request,
    key: &str,
    policy: Policy,
) -> Result<(Response, Source)> {
    if let Some(json) = redis::cmd("GET").arg(key).query::<Option<String>>(con)? {
        let cached: Response = serde_json::from_str(&json).with_context(|| format!("decoding {key}"))?;
        return Ok((cached, Source::Hit));
    }
    let response = upstream.fetch(request);
    if let Some(ttl) = policy.ttl(&response) {
        set_with_ttl(con, key, &serde_json::to_string(&response)?, ttl)?;
    }
    Ok((response, Source::Upstream))
}

/// The on-screen label for the simulated upstream: the message `<demo>.simulated`, which every
/// demo that calls the upstream has.
pub fn simulated_note() -> Text {
    Text::msg("simulated").fact("lo", *upstream::LATENCY_MS.start()).fact("hi", *upstream::LATENCY_MS.end())
}

/// A TTL read back with PTTL, for tables: `-2` → not stored, `-1` → no expiry (the demo's messages
/// `not-stored` and `no-expiry`).
pub fn describe_pttl(pttl_ms: i64) -> Text {
    match pttl_ms {
        -2 => Text::msg("not-stored"),
        -1 => Text::msg("no-expiry"),
        ms if ms < 10_000 => Text::Plain(format!("{:.2} s", ms as f64 / 1_000.0)),
        ms if ms < 3 * 86_400_000 => Text::Plain(format!("{:.0} s", ms as f64 / 1_000.0)),
        ms => Text::Plain(format!("{:.1} d", ms as f64 / 86_400_000.0)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn response(status: u16, cache_control: CacheControl) -> Response {
        Response { status, cache_control, body: String::new() }
    }

    #[test]
    fn freshness_follows_cache_control_within_the_cap() {
        assert_eq!(freshness_ttl(&response(200, CacheControl::MaxAge(1))), Some(Duration::from_secs(1)));
        assert_eq!(freshness_ttl(&response(200, CacheControl::Immutable(365 * 86_400))), Some(MAX_TTL));
        assert_eq!(freshness_ttl(&response(200, CacheControl::NoStore)), None);
        assert_eq!(freshness_ttl(&response(200, CacheControl::MaxAge(0))), None);
        assert_eq!(freshness_ttl(&response(200, CacheControl::Absent)), Some(DEFAULT_TTL));
    }

    #[test]
    fn errors_are_kept_briefly_or_not_at_all() {
        assert_eq!(freshness_ttl(&response(429, CacheControl::Absent)), Some(ERROR_TTL));
        assert_eq!(freshness_ttl(&response(503, CacheControl::MaxAge(3600))), Some(ERROR_TTL));
        assert_eq!(freshness_ttl(&response(404, CacheControl::Absent)), Some(NOT_FOUND_TTL));
        assert_eq!(freshness_ttl(&response(401, CacheControl::Absent)), None);
        assert_eq!(Policy::SuccessOnly.ttl(&response(429, CacheControl::Absent)), None);
        assert_eq!(Policy::SuccessOnly.ttl(&response(200, CacheControl::MaxAge(5))), Some(Duration::from_secs(5)));
        assert_eq!(Policy::Fixed(FIXED_TTL).ttl(&response(429, CacheControl::Absent)), Some(FIXED_TTL));
        assert_eq!(Policy::Fixed(FIXED_TTL).ttl(&response(200, CacheControl::NoStore)), Some(FIXED_TTL));
    }
}
