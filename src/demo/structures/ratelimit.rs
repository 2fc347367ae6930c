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

use super::short;
use crate::demo::{Ctx, DemoReport, NoteKind, run_together};
use crate::i18n::Lang;
use crate::measure::{Backend, Claim, format_duration};
use crate::server::Version;

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
    let mut report = DemoReport::new(
        "rate-limiter",
        ctx.tr(
            "Rate limiters: a fixed window against a sliding-window log at a window boundary",
            "限流器：窗口边界上的固定窗口 vs 滑动窗口日志",
        ),
    );
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
    let mut no_ttl = 0;
    for k in &keys {
        let pttl: i64 = redis::cmd("PTTL").arg(k).query(&mut con)?;
        if pttl == -1 {
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
    let mut rows: Vec<Vec<String>> = ['A', 'B', 'C']
        .iter()
        .map(|&name| {
            let (first, last) = trace
                .iter()
                .filter(|(b, _)| *b == name)
                .fold((u64::MAX, 0), |(lo, hi), (_, off)| (lo.min(*off), hi.max(*off)));
            vec![
                match ctx.lang {
                    Lang::En => format!("burst {name}: {BURST} requests, {} – {}", ms(first), ms(last)),
                    Lang::Zh => format!("突发 {name}：{BURST} 个请求，{} – {}", ms(first), ms(last)),
                },
                in_burst(&fixed_ok, name).to_string(),
                in_burst(&sliding_ok, name).to_string(),
            ]
        })
        .collect();
    rows.push(vec![
        ctx.tr("most allowed in any 1 s window", "任意 1 秒窗口内放行最多").to_string(),
        format!("{fixed_max} ({} – {})", ms(fixed_from), ms(fixed_to)),
        format!("{sliding_max} ({} – {})", ms(sliding_from), ms(sliding_to)),
    ]);
    rows.push(vec![
        ctx.tr("memory per user (MEMORY USAGE)", "每个用户的内存（MEMORY USAGE）").to_string(),
        match ctx.lang {
            Lang::En => format!("{} B: one counter per window", fixed_bytes.unwrap_or(0)),
            Lang::Zh => format!("{} B：每个窗口一个计数器", fixed_bytes.unwrap_or(0)),
        },
        match ctx.lang {
            Lang::En => format!("{} B: one member per request admitted", log_bytes.unwrap_or(0)),
            Lang::Zh => format!("{} B：每个放行的请求一个成员", log_bytes.unwrap_or(0)),
        },
    ]);
    let fixed_how = if version.at_least(7, 0) {
        format!("MULTI, INCR, EXPIRE … {} NX, EXEC", KEY_TTL_SECS)
    } else {
        "EVALSHA: INCR, EXPIRE if 1".to_string()
    };
    report.finding(
        match ctx.lang {
            Lang::En => format!(
                "Limit {LIMIT} requests per {} s for user {USER}; 60 requests at injected times (seconds after a window boundary)",
                WINDOW_MS / 1_000
            ),
            Lang::Zh => format!(
                "用户 {USER} 每 {} 秒限 {LIMIT} 个请求；60 个请求，时间由调用方注入（自某个窗口边界起的秒数）",
                WINDOW_MS / 1_000
            ),
        },
        &[
            ctx.tr("requests", "请求"),
            &match ctx.lang {
                Lang::En => format!("fixed window allowed ({fixed_how})"),
                Lang::Zh => format!("固定窗口放行（{fixed_how}）"),
            },
            &match ctx.lang {
                Lang::En => format!("sliding log allowed ({SLIDING_HOW})"),
                Lang::Zh => format!("滑动日志放行（{SLIDING_HOW}）"),
            },
        ],
        rows,
    );
    report.note(
        NoteKind::Info,
        match ctx.lang {
            Lang::En => format!(
                "Keys: {} for each window, {} for the log. Time is passed in as an argument so the bursts land exactly on the boundary; in production the script reads the server's clock with redis.call('TIME'), so that app servers with skewed clocks agree. Expiry runs on the server's real clock, not on the injected one, so the keys here live {KEY_TTL_SECS} s; with the server's clock, one window is enough. Keys left without an expiry: {no_ttl} of {}.",
                short(&Limiters::fixed_key(ctx, &user, T0)).replace(&(T0 / WINDOW_MS).to_string(), "{now/1000}"),
                short(&log_key),
                keys.len()
            ),
            Lang::Zh => format!(
                "键：每个窗口一个 {}，日志用 {}。时间作为参数传入，突发请求才能正好落在边界上；生产环境中脚本用 redis.call('TIME') 读服务器时钟，这样时钟有偏差的各台应用服务器也能一致。过期按服务器的真实时钟计算，而不是注入的时间，所以这里的键保留 {KEY_TTL_SECS} 秒；用服务器时钟时，一个窗口的长度就够了。没有过期时间的键：{} 个中有 {no_ttl} 个。",
                short(&Limiters::fixed_key(ctx, &user, T0)).replace(&(T0 / WINDOW_MS).to_string(), "{now/1000}"),
                short(&log_key),
                keys.len()
            ),
        },
    );
    if !version.at_least(7, 0) {
        report.note(
            NoteKind::Info,
            match ctx.lang {
                Lang::En => format!(
                    "Redis {version} has no EXPIRE … NX (7.0+), so the fixed window is a Lua script that sets the expiry on the first INCR only. A plain EXPIRE on every request would keep pushing the expiry out."
                ),
                Lang::Zh => format!(
                    "Redis {version} 没有 EXPIRE … NX（7.0 起才有），所以固定窗口用 Lua 脚本实现，只在第一次 INCR 时设置过期时间。每个请求都执行普通的 EXPIRE 会不断推迟过期时间。"
                ),
            },
        );
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
            .op(
                "fixed-window-check",
                ctx.tr("fixed window check (1 round trip)", "固定窗口检查（1 次往返）"),
                Backend::Redis,
                || {
                    limiters.fixed(ctx, &mut *con.borrow_mut(), &timed_user, tick())?;
                    Ok(())
                },
            )
            .op(
                "sliding-log-check",
                ctx.tr("sliding log check, Lua (1 round trip)", "滑动日志检查，Lua（1 次往返）"),
                Backend::Redis,
                || {
                    let now = tick();
                    n += 1;
                    limiters.sliding(&mut *con.borrow_mut(), &timed_log, now, &format!("{now}-{n}"))?;
                    Ok(())
                },
            )
            .run()?,
    );
    report.compare("fixed-vs-sliding-check", group.get("fixed-window-check"), group.get("sliding-log-check"))?;
    report.note(
        NoteKind::Info,
        ctx.tr(
            "Between the two: the sliding-window counter (Cloudflare's) keeps this window's and the previous window's counters and weighs the previous one by how much of it still overlaps the sliding window: O(1) memory, a small approximation. A token bucket (or GCRA) in Lua allows short bursts up to a set size while holding the average rate.",
            "折中方案：滑动窗口计数器（Cloudflare 的做法）保存当前窗口和上一个窗口的计数，按上一个窗口与滑动窗口仍重叠的比例加权：内存 O(1)，误差很小。令牌桶（或 GCRA）用 Lua 实现，允许不超过设定大小的短时突发，同时保持平均速率。",
        ),
    );

    let text = match ctx.lang {
        Lang::En => format!(
            "Limit {LIMIT} per second: the fixed window let {fixed_max} requests through within one second ({} – {}), {}× the limit, because a new window starts with a fresh counter; the sliding log let at most {sliding_max} through in any second",
            ms(fixed_from),
            ms(fixed_to),
            fixed_max as f64 / LIMIT as f64
        ),
        Lang::Zh => format!(
            "每秒限 {LIMIT} 个：固定窗口在一秒之内（{} – {}）放行了 {fixed_max} 个请求，是限额的 {} 倍，因为新窗口的计数器从零开始；滑动日志在任意一秒内最多放行 {sliding_max} 个",
            ms(fixed_from),
            ms(fixed_to),
            fixed_max as f64 / LIMIT as f64
        ),
    };
    let holds = fixed_max == 2 * LIMIT && sliding_max == LIMIT && no_ttl == 0;
    report.claim(Claim::new("sliding-log-holds-limit", text, format!("{fixed_max} → {sliding_max}"), holds));
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

    fn label(self, ctx: &Ctx) -> &'static str {
        match self {
            Check::ThenIncr => ctx.tr("GET, check, then INCR (client side)", "先 GET、检查、再 INCR（在客户端判断）"),
            Check::IncrFirst => ctx.tr("fixed window: INCR, then compare the reply", "固定窗口：先 INCR，再比较返回值"),
            Check::Log => {
                ctx.tr("sliding log (Lua), unique member per request", "滑动日志（Lua），每个请求一个唯一成员")
            }
            Check::LogTimestampMember => {
                ctx.tr("sliding log (Lua), member = the timestamp alone", "滑动日志（Lua），成员只用时间戳")
            }
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
    let mut report = DemoReport::new(
        "limiter-race",
        ctx.tr(
            "Rate limiters under concurrency: the check and the count must be one step",
            "并发下的限流器：检查和计数必须是一步",
        ),
    );
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
    report.finding(
        match ctx.lang {
            Lang::En => format!(
                "{workers} app servers × {per_worker} requests = {requests} requests from user {USER} in the same millisecond; limit {LIMIT} per second"
            ),
            Lang::Zh => format!(
                "{workers} 台应用服务器 × 每台 {per_worker} 个请求 = 用户 {USER} 在同一毫秒内的 {requests} 个请求；每秒限 {LIMIT} 个"
            ),
        },
        &[ctx.tr("limiter", "限流方式"), ctx.tr("allowed", "放行"), ctx.tr("over the limit", "超出限额")],
        checks
            .iter()
            .zip(&allowed)
            .map(|(c, &a)| vec![c.label(ctx).to_string(), a.to_string(), a.saturating_sub(LIMIT).to_string()])
            .collect(),
    );
    report.note(
        NoteKind::Simulated,
        match ctx.lang {
            Lang::En => format!(
                "the client-side check pauses {} between its GET and its INCR, widening the gap the round trip already leaves (another call, a GC pause)",
                format_duration(CHECK_GAP)
            ),
            Lang::Zh => format!(
                "客户端判断的做法在 GET 和 INCR 之间暂停 {}，放大了网络往返本来就留下的空隙（中间的其他调用、一次 GC 停顿）",
                format_duration(CHECK_GAP)
            ),
        },
    );
    report.note(
        NoteKind::Info,
        ctx.tr(
            "INCR-first is atomic by construction: every request counts itself, and the reply tells it whether it is within the limit (it overcounts rejected requests, which is usually what you want). A script runs alone on the server, so the log's trim-count-add cannot interleave. Members of a sorted set are unique: two requests in the same millisecond with the timestamp as the member are one member, so the log under-counts.",
            "先 INCR 天然是原子的：每个请求都先计上自己，再由返回值判断是否超限（被拒绝的请求也计数，通常正合需要）。脚本在服务器上独占执行，所以日志的“清理-计数-添加”不会被打断。有序集合的成员是唯一的：同一毫秒内的两个请求如果只用时间戳作成员，就是同一个成员，日志因此少计。",
        ),
    );
    let text = match ctx.lang {
        Lang::En => format!(
            "{requests} simultaneous requests, limit {LIMIT}: GET-check-INCR from the client let {then_incr} through; INCR-first let {incr_first} and the sliding-log script {log}, exactly the limit. With the timestamp alone as the member, the log let {ts_member} through"
        ),
        Lang::Zh => format!(
            "{requests} 个同时到达的请求，限额 {LIMIT}：在客户端先 GET、检查再 INCR 放行了 {then_incr} 个；先 INCR 放行 {incr_first} 个，滑动日志脚本放行 {log} 个，正好等于限额。只用时间戳作成员时，日志放行了 {ts_member} 个"
        ),
    };
    let holds = then_incr > LIMIT && incr_first == LIMIT && log == LIMIT && ts_member > LIMIT;
    report.claim(Claim::new("atomic-check-holds-limit", text, format!("{then_incr} → {incr_first}"), holds));
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
