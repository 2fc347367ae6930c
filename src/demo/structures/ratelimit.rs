//! Rate limiters (限流器): a per-user API limit of 10 requests a second. A fixed window (INCR on a
//! key per window, EXPIRE … NX) lets up to twice the limit through across a window boundary; a
//! sliding-window log (a sorted set of request times, trimmed and counted in one Lua script) never
//! lets more than the limit through in any window. Time is injected — the script gets `now` as an
//! argument — so the boundary burst lands where we put it instead of where the wall clock happens to
//! be. Then the same limits under concurrency: check-then-increment from the client overspends.

use std::cell::{Cell, RefCell};
use std::thread;
use std::time::Duration;

use anyhow::{Result, anyhow, ensure};
use redis::{ConnectionLike, Script};

use crate::demo::support::{pttl, short};
use crate::demo::{Ctx, DemoReport, NoteKind, run_together};
use crate::measure::{Backend, Claim};
use crate::server::Version;
use crate::text::{Fact, Text};

/// Requests allowed per window, per user.
const LIMIT: u64 = 10;
/// The window, in ms.
const WINDOW_MS: u64 = 1_000;
/// The injected clock's origin: 2026-11-26T00:00:00Z in ms, on a window boundary.
const T0: u64 = 1_795_651_200_000;
/// The user whose API calls are limited.
const USER: u64 = 1001;
/// Requests in each burst of the boundary scenario, 5 ms apart.
const BURST: u64 = 20;
const BURST_GAP_MS: u64 = 5;
/// In the race, the client's gap between its check and its increment (on top of the round trip).
const CHECK_GAP: Duration = Duration::from_millis(1);

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
const KEY_TTL_SECS: u64 = 10;

/// The two limiters, both taking the time they are told.
struct Limiters {
    version: Version,
    fixed_lua: Script,
    sliding: Script,
}

impl Limiters {
    fn new(version: Version) -> Limiters {
        Limiters { version, fixed_lua: Script::new(FIXED_LUA), sliding: Script::new(SLIDING_LUA) }
    }

    /// The fixed window's counter key for the window holding `now`.
    fn fixed_key(ctx: &Ctx, user: &str, now: u64) -> String {
        ctx.key(&format!("ratelimit:api:fixed:user:{user}:{}", now / WINDOW_MS))
    }

    /// Count this request in its window and say whether it is within the limit. One round trip:
    /// `MULTI; INCR; EXPIRE … NX; EXEC` on 7.0+, the Lua script before.
    fn fixed(&self, ctx: &Ctx, con: &mut impl ConnectionLike, user: &str, now: u64) -> Result<bool> {
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
    fn sliding(&self, con: &mut impl ConnectionLike, key: &str, now: u64, member: &str) -> Result<bool> {
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
    report.table(
        Text::msg("boundary")
            .fact("limit", LIMIT)
            .fact("window_s", WINDOW_MS / 1_000)
            .fact("user", USER)
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

/// How the racing workers decide.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Check {
    /// GET the window's count; if under the limit, INCR. Two commands: others get in between.
    ThenIncr,
    /// INCR first and compare what it returns: the fixed window above.
    IncrFirst,
    /// The sliding-log script, with a member unique to each request.
    Log,
    /// The same script with the timestamp alone as the member: same-millisecond requests collide.
    LogTimestampMember,
}

impl Check {
    fn tag(self) -> &'static str {
        match self {
            Check::ThenIncr => "get-then-incr",
            Check::IncrFirst => "incr-first",
            Check::Log => "log",
            Check::LogTimestampMember => "log-ts-member",
        }
    }
}

/// K workers × R requests from one user, all in the same injected millisecond; how many got through.
fn race(ctx: &Ctx, limiters: &Limiters, check: Check, workers: usize, per_worker: usize) -> Result<u64> {
    let user = format!("{USER}-{}", check.tag());
    let log_key = ctx.key(&format!("ratelimit:api:log:user:{user}"));
    let now = T0 + 5 * WINDOW_MS + 500;
    let fixed_key = Limiters::fixed_key(ctx, &user, now);
    let (allowed, _) = run_together(
        workers,
        |_| ctx.connect(),
        |w, mut con| {
            let mut ok = 0_u64;
            for r in 0..per_worker {
                ctx.check_interrupt()?;
                let admitted = match check {
                    Check::ThenIncr => {
                        let count: Option<u64> = redis::cmd("GET").arg(&fixed_key).query(&mut con)?;
                        if count.unwrap_or(0) < LIMIT {
                            thread::sleep(CHECK_GAP);
                            redis::pipe()
                                .atomic()
                                .cmd("INCR")
                                .arg(&fixed_key)
                                .ignore()
                                .cmd("EXPIRE")
                                .arg(&fixed_key)
                                .arg(KEY_TTL_SECS)
                                .ignore()
                                .exec(&mut con)?;
                            true
                        } else {
                            false
                        }
                    }
                    Check::IncrFirst => limiters.fixed(ctx, &mut con, &user, now)?,
                    Check::Log => limiters.sliding(&mut con, &log_key, now, &format!("{now}-{w}-{r}"))?,
                    Check::LogTimestampMember => limiters.sliding(&mut con, &log_key, now, &now.to_string())?,
                };
                ok += u64::from(admitted);
            }
            Ok(ok)
        },
    )?;
    Ok(allowed.iter().sum())
}

/// Many requests from one user at the same instant: only an atomic check-and-count holds the limit.
pub fn limiter_race(ctx: &Ctx) -> Result<DemoReport> {
    let mut report = DemoReport::new("limiter-race", Text::msg("title"));
    let limiters = Limiters::new(ctx.version());
    let (workers, per_worker) = (ctx.n(8, 8), ctx.n(5, 5));
    let requests = (workers * per_worker) as u64;
    let checks = [Check::ThenIncr, Check::IncrFirst, Check::Log, Check::LogTimestampMember];
    let mut allowed = Vec::new();
    for check in checks {
        allowed.push(race(ctx, &limiters, check, workers, per_worker)?);
    }
    let [then_incr, incr_first, log, ts_member] =
        <[u64; 4]>::try_from(allowed.as_slice()).map_err(|_| anyhow!("expected four races"))?;
    report.table(
        Text::msg("race")
            .fact("workers", workers)
            .fact("per_worker", per_worker)
            .fact("requests", requests)
            .fact("user", USER)
            .fact("limit", LIMIT),
        vec![Text::msg("race.header-limiter"), Text::msg("race.header-allowed"), Text::msg("race.header-over")],
        checks
            .iter()
            .zip(&allowed)
            .map(|(c, &a)| {
                vec![
                    Text::msg(&format!("check.{}", c.tag())),
                    Text::Plain(a.to_string()),
                    Text::Plain(a.saturating_sub(LIMIT).to_string()),
                ]
            })
            .collect(),
    );
    report.note(NoteKind::Simulated, Text::msg("check-gap").fact("gap", CHECK_GAP));
    report.note(NoteKind::Info, Text::msg("why-atomic"));
    let holds = then_incr > LIMIT && incr_first == LIMIT && log == LIMIT && ts_member > LIMIT;
    report.claim(
        Claim::new("atomic-check-holds-limit", "", format!("{then_incr} → {incr_first}"), holds)
            .fact("requests", requests)
            .fact("limit", LIMIT)
            .fact("then_incr", then_incr)
            .fact("incr_first", incr_first)
            .fact("log", log)
            .fact("ts_member", ts_member),
    );
    ensure!(requests > LIMIT, "the race needs more requests than the limit");
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
