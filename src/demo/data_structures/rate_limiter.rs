//! Rate limiters (限流器): a per-user API limit of 10 requests a second. A fixed window (INCR on a
//! key per window, EXPIRE … NX) lets up to twice the limit through across a window boundary; a
//! sliding-window log (a sorted set of request times, trimmed and counted in one Lua script) never
//! lets more than the limit through in any window. Time is injected — the script gets `now` as an
//! argument — so the boundary burst lands where we put it instead of where the wall clock happens to
//! be. The limiters themselves are shared with [`super::limiter_race`], which runs them under
//! concurrency.

use std::cell::{Cell, RefCell};

use anyhow::Result;
use redis::{ConnectionLike, Script};

use crate::demo::support::{pttl, short};
use crate::demo::{Ctx, DemoReport, NoteKind};
use crate::measure::{Backend, Claim};
use crate::server::Version;
use crate::text::{Fact, Text};

/// Requests allowed per window, per user.
pub(super) const LIMIT: u64 = 10;
/// The window, in ms.
pub(super) const WINDOW_MS: u64 = 1_000;
/// The injected clock's origin: 2026-11-26T00:00:00Z in ms, on a window boundary.
pub(super) const T0: u64 = 1_795_651_200_000;
/// The user whose API calls are limited.
pub(super) const USER: u64 = 1001;
/// Requests in each burst of the boundary scenario, 5 ms apart.
const BURST: u64 = 20;
const BURST_GAP_MS: u64 = 5;

/// Fixed window before Redis 7.0 (no EXPIRE … NX): INCR, and set the expiry only on the first hit.
const FIXED_LUA: &str = "local n = redis.call('INCR', KEYS[1])
if n == 1 then redis.call('EXPIRE', KEYS[1], ARGV[1]) end
return n";

/// Sliding-window log: forget requests at or before now - window, count the rest, and admit this one
/// if there is room. ARGV: now (ms), window (ms), limit, a member unique to this request, the key's
/// expiry (ms).
const SLIDING_LUA: &str = "local now, window = tonumber(ARGV[1]), tonumber(ARGV[2])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - window)
if redis.call('ZCARD', KEYS[1]) < tonumber(ARGV[3]) then
  redis.call('ZADD', KEYS[1], now, ARGV[4])
  redis.call('PEXPIRE', KEYS[1], ARGV[5])
  return 1
end
return 0";

/// What the sliding-log script sends, for table headings.
const SLIDING_HOW: &str = "EVALSHA: ZREMRANGEBYSCORE, ZCARD, ZADD, PEXPIRE";

/// How long the limiters' keys live, in seconds. A key's expiry runs on the server's own clock while
/// the requests here carry injected times, so the keys get slack: a stalled machine must not expire
/// a window in the middle of a burst. With `now` from the server (TIME), one window is enough.
pub(super) const KEY_TTL_SECS: u64 = 10;

/// The two limiters, both taking the time they are told.
pub(super) struct Limiters {
    version: Version,
    fixed_lua: Script,
    sliding: Script,
}

impl Limiters {
    pub(super) fn new(version: Version) -> Limiters {
        Limiters { version, fixed_lua: Script::new(FIXED_LUA), sliding: Script::new(SLIDING_LUA) }
    }

    /// The fixed window's counter key for the window holding `now`.
    pub(super) fn fixed_key(ctx: &Ctx, user: &str, now: u64) -> String {
        ctx.key(&format!("ratelimit:api:fixed:user:{user}:{}", now / WINDOW_MS))
    }

    /// Count this request in its window and say whether it is within the limit. One round trip:
    /// `MULTI; INCR; EXPIRE … NX; EXEC` on 7.0+, the Lua script before.
    pub(super) fn fixed(&self, ctx: &Ctx, con: &mut impl ConnectionLike, user: &str, now: u64) -> Result<bool> {
        let key = Limiters::fixed_key(ctx, user, now);
        let count: u64 = if self.version.at_least(7, 0) {
            let (n,): (u64,) = redis::pipe()
                .atomic()
                .cmd("INCR")
                .arg(&key)
                .cmd("EXPIRE")
                .arg(&key)
                .arg(KEY_TTL_SECS)
                .arg("NX")
                .ignore()
                .query(con)?;
            n
        } else {
            self.fixed_lua.key(&key).arg(KEY_TTL_SECS).invoke(con)?
        };
        Ok(count <= LIMIT)
    }

    /// Try to log this request in the user's sliding window; `member` must be unique per request.
    pub(super) fn sliding(&self, con: &mut impl ConnectionLike, key: &str, now: u64, member: &str) -> Result<bool> {
        let admitted: i64 = self
            .sliding
            .key(key)
            .arg(now)
            .arg(WINDOW_MS)
            .arg(LIMIT)
            .arg(member)
            .arg(KEY_TTL_SECS * 1_000)
            .invoke(con)?;
        Ok(admitted == 1)
    }
}

/// The boundary scenario: a burst in the last 100 ms of a window, one in the first 100 ms of the
/// next, and one a second later. (burst name, offset from T0 in ms) per request.
fn boundary_trace() -> Vec<(char, u64)> {
    let mut out = Vec::new();
    for (name, start) in [('A', WINDOW_MS - BURST * BURST_GAP_MS), ('B', WINDOW_MS), ('C', 2 * WINDOW_MS)] {
        out.extend((0..BURST).map(|i| (name, start + i * BURST_GAP_MS)));
    }
    out
}

/// The most of `sorted` (ascending times) that fall inside one window `(t - window, t]`, and the
/// first and last of them.
fn max_in_window(sorted: &[u64], window: u64) -> (u64, u64, u64) {
    let (mut best, mut span, mut i) = (0, (0, 0), 0);
    for j in 0..sorted.len() {
        while sorted[j] - sorted[i] >= window {
            i += 1;
        }
        if (j - i + 1) as u64 > best {
            best = (j - i + 1) as u64;
            span = (sorted[i], sorted[j]);
        }
    }
    (best, span.0, span.1)
}

fn ms(offset: u64) -> String {
    format!("{}.{:03} s", offset / 1_000, offset % 1_000)
}

/// The boundary burst through both limiters, with injected time.
pub fn rate_limiter(ctx: &Ctx) -> Result<DemoReport> {
    let mut report = DemoReport::new("rate-limiter", Text::msg("title"));
    let version = ctx.version();
    let limiters = Limiters::new(version);
    let mut con = ctx.connect()?;
    let user = USER.to_string();
    let log_key = ctx.key(&format!("ratelimit:api:log:user:{USER}"));
    let trace = boundary_trace();
    let (mut fixed_ok, mut sliding_ok) = (Vec::new(), Vec::new());
    for (n, &(_, offset)) in trace.iter().enumerate() {
        ctx.check_interrupt()?;
        let now = T0 + offset;
        if limiters.fixed(ctx, &mut con, &user, now)? {
            fixed_ok.push(offset);
        }
        if limiters.sliding(&mut con, &log_key, now, &format!("{now}-{n}"))? {
            sliding_ok.push(offset);
        }
    }
    // Every key carries an expiry: a limiter must not leak a key per user per window.
    let mut keys = vec![log_key.clone()];
    keys.extend((0..3).map(|w| Limiters::fixed_key(ctx, &user, T0 + w * WINDOW_MS)));
    let mut no_ttl = 0_usize;
    for k in &keys {
        if pttl(&mut con, k)? == -1 {
            no_ttl += 1;
        }
    }
    let fixed_bytes: Option<u64> =
        redis::cmd("MEMORY").arg("USAGE").arg(&keys[3]).arg("SAMPLES").arg(0).query(&mut con)?;
    let log_bytes: Option<u64> =
        redis::cmd("MEMORY").arg("USAGE").arg(&log_key).arg("SAMPLES").arg(0).query(&mut con)?;

    let in_burst =
        |ok: &[u64], name: char| trace.iter().filter(|(b, off)| *b == name && ok.contains(off)).count() as u64;
    let (fixed_max, fixed_from, fixed_to) = max_in_window(&fixed_ok, WINDOW_MS);
    let (sliding_max, sliding_from, sliding_to) = max_in_window(&sliding_ok, WINDOW_MS);
    let mut rows: Vec<Vec<Text>> = ['A', 'B', 'C']
        .iter()
        .map(|&name| {
            let (first, last) = trace
                .iter()
                .filter(|(b, _)| *b == name)
                .fold((u64::MAX, 0), |(lo, hi), (_, off)| (lo.min(*off), hi.max(*off)));
            vec![
                Text::msg("boundary.burst")
                    .fact("name", name.to_string())
                    .fact("requests", BURST)
                    .fact("from", ms(first))
                    .fact("to", ms(last)),
                Text::Plain(in_burst(&fixed_ok, name).to_string()),
                Text::Plain(in_burst(&sliding_ok, name).to_string()),
            ]
        })
        .collect();
    rows.push(vec![
        Text::msg("boundary.most-in-window"),
        Text::Plain(format!("{fixed_max} ({} – {})", ms(fixed_from), ms(fixed_to))),
        Text::Plain(format!("{sliding_max} ({} – {})", ms(sliding_from), ms(sliding_to))),
    ]);
    rows.push(vec![
        Text::msg("boundary.memory"),
        Text::msg("boundary.memory-fixed").fact("bytes", Fact::Bytes(fixed_bytes.unwrap_or(0))),
        Text::msg("boundary.memory-sliding").fact("bytes", Fact::Bytes(log_bytes.unwrap_or(0))),
    ]);
    let fixed_how = if version.at_least(7, 0) {
        format!("MULTI, INCR, EXPIRE … {} NX, EXEC", KEY_TTL_SECS)
    } else {
        "EVALSHA: INCR, EXPIRE if 1".to_string()
    };
    report.table_with_headers(
        Text::msg("boundary")
            .fact("limit", LIMIT)
            .fact("window_s", WINDOW_MS / 1_000)
            .fact("user", USER.to_string())
            .fact("requests", trace.len()),
        vec![
            Text::msg("boundary.header-requests"),
            Text::msg("boundary.header-fixed").fact("how", fixed_how),
            Text::msg("boundary.header-sliding").fact("how", SLIDING_HOW),
        ],
        rows,
    );
    report.note(
        NoteKind::Info,
        Text::msg("keys")
            .fact(
                "fixed_key",
                short(&Limiters::fixed_key(ctx, &user, T0)).replace(&(T0 / WINDOW_MS).to_string(), "{now/1000}"),
            )
            .fact("log_key", short(&log_key))
            .fact("ttl", KEY_TTL_SECS)
            .fact("no_ttl", no_ttl)
            .fact("keys", keys.len()),
    );
    if !version.at_least(7, 0) {
        report.note(NoteKind::Info, Text::msg("no-expire-nx").fact("version", version.to_string()));
    }

    // Cost per check: both are one round trip; the log does more work and keeps more.
    let clock = Cell::new(T0 + 10 * WINDOW_MS);
    let tick = || {
        clock.set(clock.get() + 7);
        clock.get()
    };
    let timed_user = format!("{USER}-timed");
    let timed_log = ctx.key(&format!("ratelimit:api:log:user:{USER}-timed"));
    let mut n = 0_u64;
    // The two checks take turns in rounds on one connection.
    let con = RefCell::new(con);
    let group = report.measured_group(
        ctx.sampler
            .group()
            .op("fixed-window-check", "fixed window", Backend::Redis, || {
                limiters.fixed(ctx, &mut *con.borrow_mut(), &timed_user, tick())?;
                Ok(())
            })
            .op("sliding-log-check", "sliding log", Backend::Redis, || {
                let now = tick();
                n += 1;
                limiters.sliding(&mut *con.borrow_mut(), &timed_log, now, &format!("{now}-{n}"))?;
                Ok(())
            })
            .run()?,
    );
    report.compare("fixed-vs-sliding-check", group.get("fixed-window-check"), group.get("sliding-log-check"))?;
    report.note(NoteKind::Info, Text::msg("in-between"));

    let holds = fixed_max == 2 * LIMIT && sliding_max == LIMIT && no_ttl == 0;
    report.claim(
        Claim::new("sliding-log-holds-limit", "", format!("{fixed_max} → {sliding_max}"), holds)
            .fact("limit", LIMIT)
            .fact("fixed_max", fixed_max)
            .fact("from", ms(fixed_from))
            .fact("to", ms(fixed_to))
            .fact("times", Fact::Ratio(fixed_max as f64 / LIMIT as f64))
            .fact("sliding_max", sliding_max),
    );
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn max_in_window_counts_half_open_windows() {
        // (t - 1000, t]: 0 and 1000 are never in the same window.
        assert_eq!(max_in_window(&[0, 1_000], 1_000).0, 1);
        assert_eq!(max_in_window(&[0, 999], 1_000), (2, 0, 999));
        assert_eq!(max_in_window(&[], 1_000).0, 0);
        assert_eq!(max_in_window(&[5, 10, 500, 1_004, 1_006, 2_500], 1_000), (4, 5, 1_004));
    }

    #[test]
    fn the_trace_straddles_a_boundary() {
        let trace = boundary_trace();
        assert_eq!(trace.len(), 3 * BURST as usize);
        let a: Vec<u64> = trace.iter().filter(|(b, _)| *b == 'A').map(|(_, t)| *t).collect();
        assert!(a.iter().all(|t| (WINDOW_MS - 100..WINDOW_MS).contains(t)));
        assert!(trace.windows(2).all(|w| w[0].1 < w[1].1), "times ascend");
    }

    /// The fixed window, simulated: a counter per window index.
    fn fixed_allows(times: &[u64]) -> Vec<u64> {
        let mut counts = std::collections::HashMap::new();
        times
            .iter()
            .copied()
            .filter(|t| {
                let n = counts.entry(t / WINDOW_MS).or_insert(0_u64);
                *n += 1;
                *n <= LIMIT
            })
            .collect()
    }

    #[test]
    fn a_fixed_window_admits_twice_the_limit_across_the_boundary() {
        let times: Vec<u64> = boundary_trace().iter().map(|(_, t)| *t).collect();
        let ok = fixed_allows(&times);
        assert_eq!(max_in_window(&ok, WINDOW_MS).0, 2 * LIMIT);
    }
}
