//! Login sessions with sliding expiry (the notes' general role 5, 会话存储): a hash per session whose
//! TTL every request pushes forward, against a SQLite table with an `expires_at` column. Expired
//! sessions vanish from Redis with no sweeper; the SQL rows stay until a DELETE sweep. `HSET` alone
//! does not move a TTL, and set members never expire: the user's session index keeps dead ids until
//! someone cleans it.

use std::time::{Duration, Instant};

use anyhow::{Context, Result, ensure};
use redis::ConnectionLike;
use rusqlite::{Connection, OptionalExtension, params};

use super::pacing::{Attempt, Gaps, Pacer, attempt_key, pttl_text, stalled, with_retries};
use crate::demo::support::{count_existing, millis, new_id, now_ms, pttl, sql_count};
use crate::demo::{Ctx, DemoReport, NoteKind};
use crate::measure::{Backend, Claim, Verdict, format_count};
use crate::sql::{self, Durability};
use crate::text::{Fact, Text};

/// The session TTL (30 minutes in production), scaled down.
const TTL: Duration = Duration::from_millis(500);
/// How often an active user sends a request.
const REQUEST_EVERY: Duration = Duration::from_millis(100);
/// How long the users are active: well past one TTL.
const ACTIVE_FOR: Duration = Duration::from_millis(800);
/// Each user is logged in on these devices (one session each).
const DEVICES: [&str; 4] = ["web", "ios", "android", "desktop"];

/// One request: load the session and push its expiry forward, atomically, so that a session that
/// expired a moment ago is not brought back by HSET (HSET on a missing key creates it, with no TTL).
/// ARGV[2] = 0 updates last_seen only: the pitfall. Replies the uid, or nil when the session is gone.
const TOUCH_SCRIPT: &str = "local uid = redis.call('HGET', KEYS[1], 'uid') \
     if not uid then return false end \
     redis.call('HSET', KEYS[1], 'last_seen', ARGV[1]) \
     if ARGV[2] ~= '0' then redis.call('PEXPIRE', KEYS[1], ARGV[2]) end \
     return uid";

const SCHEMA: &str = "
CREATE TABLE sessions (
    sid        TEXT PRIMARY KEY,
    uid        INTEGER NOT NULL,
    device     TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    last_seen  INTEGER NOT NULL,
    expires_at INTEGER NOT NULL
);
CREATE INDEX sessions_expires_at ON sessions (expires_at);
CREATE INDEX sessions_uid ON sessions (uid);";

/// A request with sliding expiry: only a live session slides.
const SQL_TOUCH: &str = "UPDATE sessions SET last_seen = ?1, expires_at = ?1 + ?2 WHERE sid = ?3 AND expires_at > ?1";
/// The pitfall's twin: last_seen moves, the expiry does not.
const SQL_TOUCH_LAST_SEEN: &str = "UPDATE sessions SET last_seen = ?1 WHERE sid = ?2 AND expires_at > ?1";
/// The sweeper a SQL session table needs.
const SQL_SWEEP: &str = "DELETE FROM sessions WHERE expires_at <= ?1";

/// What a session's user does during the demo.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Habit {
    /// Requests run HSET last_seen + PEXPIRE: sliding expiry.
    Sliding,
    /// Requests run HSET last_seen only: the TTL still counts from login.
    HsetOnly,
    /// No requests: the user closed the tab.
    Idle,
}

impl Habit {
    const ALL: [Habit; 3] = [Habit::Sliding, Habit::HsetOnly, Habit::Idle];

    /// Half the sessions slide, a quarter touch last_seen only, a quarter go idle.
    fn of(i: usize) -> Habit {
        match i % 4 {
            0 | 1 => Habit::Sliding,
            2 => Habit::HsetOnly,
            _ => Habit::Idle,
        }
    }

    fn index(self) -> usize {
        match self {
            Habit::Sliding => 0,
            Habit::HsetOnly => 1,
            Habit::Idle => 2,
        }
    }

    /// The message naming what its requests run.
    fn message(self) -> &'static str {
        match self {
            Habit::Sliding => "habit.sliding",
            Habit::HsetOnly => "habit.hset-only",
            Habit::Idle => "habit.idle",
        }
    }
}

struct Session {
    sid: String,
    uid: usize,
    habit: Habit,
    key: String,
}

/// What one habit's sessions came to.
#[derive(Debug, Default, Clone, Copy)]
struct HabitCounts {
    sessions: usize,
    requests: usize,
    redis_logged_out: usize,
    sql_logged_out: usize,
    /// Session keys that still exist at the end (EXISTS).
    redis_left: usize,
    /// SQLite rows still there at the end, and how many of them are expired.
    sql_rows: usize,
    sql_expired: usize,
    /// PTTL of the habit's first session at the end.
    pttl: i64,
}

/// One attempt's result, with the database and keys the rest of the demo works on.
struct Outcome {
    /// The longest time a sliding session went between two refresh rounds.
    max_gap: Duration,
    user_keys: Vec<String>,
    counts: [HabitCounts; 3],
    db: Connection,
    /// When the counts were taken (application clock, ms).
    counted_at: i64,
    touch_sha: String,
}

/// Create the sessions on both sides, run the users' requests for [`ACTIVE_FOR`], and count.
fn scenario(ctx: &Ctx, attempt: usize, n: usize) -> Result<Attempt<Outcome>> {
    let mut con = ctx.connect()?;
    let touch_sha = redis::Script::new(TOUCH_SCRIPT).load(&mut con).context("SCRIPT LOAD of the touch script")?;
    let path = ctx.scratch.join(format!("sessions-{attempt}.db"));
    let mut db = sql::open_file(&path, Durability::Off)?;
    db.execute_batch(SCHEMA).context("creating the sessions table")?;
    let ttl_ms = millis(TTL);

    let sessions: Vec<Session> = (0..n)
        .map(|i| {
            let sid = new_id();
            let key = attempt_key(ctx, attempt, &format!("sess:{sid}"));
            Session { sid, uid: 1000 + i / DEVICES.len(), habit: Habit::of(i), key }
        })
        .collect();
    let users = n.div_ceil(DEVICES.len());
    let user_keys: Vec<String> =
        (0..users).map(|u| attempt_key(ctx, attempt, &format!("user:{}:sessions", 1000 + u))).collect();

    // Login: the hash, its TTL and the user's index, in one MULTI so no session exists without a TTL.
    let setup_started = Instant::now();
    let now = now_ms()?;
    let mut pipe = redis::pipe();
    pipe.atomic();
    for (i, s) in sessions.iter().enumerate() {
        let device = DEVICES[i % DEVICES.len()];
        pipe.cmd("HSET")
            .arg(&s.key)
            .arg("uid")
            .arg(s.uid)
            .arg("device")
            .arg(device)
            .arg("created_at")
            .arg(now)
            .arg("last_seen")
            .arg(now)
            .ignore();
        pipe.cmd("PEXPIRE").arg(&s.key).arg(ttl_ms).ignore();
        pipe.cmd("SADD").arg(&user_keys[s.uid - 1000]).arg(&s.sid).ignore();
    }
    pipe.exec(&mut con).context("creating the sessions")?;
    {
        let tx = db.transaction()?;
        {
            let mut insert = tx.prepare(
                "INSERT INTO sessions (sid, uid, device, created_at, last_seen, expires_at) VALUES (?1, ?2, ?3, ?4, ?4, ?5)",
            )?;
            for (i, s) in sessions.iter().enumerate() {
                insert.execute(params![s.sid, s.uid as i64, DEVICES[i % DEVICES.len()], now, now + ttl_ms])?;
            }
        }
        tx.commit()?;
    }

    let mut counts = [HabitCounts::default(); 3];
    for s in &sessions {
        counts[s.habit.index()].sessions += 1;
    }
    let mut out_redis = vec![false; n];
    let mut out_sql = vec![false; n];
    let mut pacer = Pacer::new(REQUEST_EVERY);
    let mut gaps = Gaps::new(setup_started);
    let started = Instant::now();
    while started.elapsed() < ACTIVE_FOR {
        pacer.wait(ctx)?;
        let round = Instant::now();
        let now = now_ms()?;
        let active: Vec<usize> = (0..n).filter(|&i| sessions[i].habit != Habit::Idle && !out_redis[i]).collect();
        let mut pipe = redis::pipe();
        for &i in &active {
            let slide = if sessions[i].habit == Habit::Sliding { ttl_ms } else { 0 };
            pipe.cmd("EVALSHA").arg(&touch_sha).arg(1).arg(&sessions[i].key).arg(now).arg(slide);
        }
        let replies: Vec<Option<String>> = pipe.query(&mut con).context("session requests")?;
        for (&i, reply) in active.iter().zip(&replies) {
            let c = &mut counts[sessions[i].habit.index()];
            c.requests += 1;
            if reply.is_none() {
                out_redis[i] = true;
                c.redis_logged_out += 1;
            }
        }
        let tx = db.transaction()?;
        {
            let mut touch = tx.prepare_cached(SQL_TOUCH)?;
            let mut touch_last_seen = tx.prepare_cached(SQL_TOUCH_LAST_SEEN)?;
            for (i, s) in sessions.iter().enumerate() {
                if s.habit == Habit::Idle || out_sql[i] {
                    continue;
                }
                let changed = match s.habit {
                    Habit::Sliding => touch.execute(params![now, ttl_ms, s.sid])?,
                    _ => touch_last_seen.execute(params![now, s.sid])?,
                };
                if changed == 0 {
                    out_sql[i] = true;
                    counts[s.habit.index()].sql_logged_out += 1;
                }
            }
        }
        tx.commit()?;
        gaps.refreshed(round);
    }
    if stalled(gaps.max(), TTL) {
        return Ok(Attempt::Stalled(gaps.max()));
    }

    // Count, right away: which session keys exist, which rows are there and which expired.
    let counted_at = now_ms()?;
    for habit in Habit::ALL {
        let keys: Vec<String> = sessions.iter().filter(|s| s.habit == habit).map(|s| s.key.clone()).collect();
        let c = &mut counts[habit.index()];
        c.redis_left = count_existing(&mut con, &keys)?;
        c.pttl = match keys.first() {
            Some(k) => pttl(&mut con, k)?,
            None => -2,
        };
    }
    {
        let mut row = db.prepare("SELECT expires_at FROM sessions WHERE sid = ?1")?;
        for s in &sessions {
            let expires_at: Option<i64> = row.query_row([&s.sid], |r| r.get(0)).optional()?;
            if let Some(expires_at) = expires_at {
                let c = &mut counts[s.habit.index()];
                c.sql_rows += 1;
                c.sql_expired += usize::from(expires_at <= counted_at);
            }
        }
    }
    Ok(Attempt::Done(Outcome { max_gap: gaps.max(), user_keys, counts, db, counted_at, touch_sha }))
}

/// Dead session ids in the users' index sets: members whose session key no longer exists, per set.
fn dead_members(
    con: &mut impl ConnectionLike,
    key_of: &dyn Fn(&str) -> String,
    user_keys: &[String],
) -> Result<Vec<(String, Vec<String>)>> {
    let mut pipe = redis::pipe();
    for k in user_keys {
        pipe.cmd("SMEMBERS").arg(k);
    }
    let members: Vec<Vec<String>> = pipe.query(con)?;
    let mut pipe = redis::pipe();
    for sid in members.iter().flatten() {
        pipe.cmd("EXISTS").arg(key_of(sid));
    }
    let exists: Vec<bool> = if members.iter().all(Vec::is_empty) { Vec::new() } else { pipe.query(con)? };
    let mut flags = exists.into_iter();
    let mut dead = Vec::new();
    for (k, sids) in user_keys.iter().zip(members) {
        let gone: Vec<String> = sids.into_iter().filter(|_| !flags.next().unwrap_or(true)).collect();
        if !gone.is_empty() {
            dead.push((k.clone(), gone));
        }
    }
    Ok(dead)
}

/// Lazy cleanup of the users' index sets: SREM the dead ids; then how many of them are still members
/// (SMISMEMBER), which must be none.
fn remove_dead(con: &mut impl ConnectionLike, dead: &[(String, Vec<String>)]) -> Result<usize> {
    if dead.is_empty() {
        return Ok(0);
    }
    let mut pipe = redis::pipe();
    for (k, sids) in dead {
        pipe.cmd("SREM").arg(k).arg(sids).ignore();
    }
    pipe.exec(con).context("removing dead session ids")?;
    let mut pipe = redis::pipe();
    for (k, sids) in dead {
        pipe.cmd("SMISMEMBER").arg(k).arg(sids);
    }
    let still: Vec<Vec<bool>> = pipe.query(con)?;
    Ok(still.iter().flatten().filter(|&&m| m).count())
}

/// Sessions with a sliding TTL; the same in a SQL table; the sweep SQL needs and Redis does not.
pub fn session_expiry(ctx: &Ctx) -> Result<DemoReport> {
    let mut report = DemoReport::new("session-expiry", Text::msg("title"));
    let n = ctx.n(1_000, 200);
    let mut attempt_used = 0;
    let out = with_retries(&mut report, TTL, |attempt| {
        attempt_used = attempt;
        scenario(ctx, attempt, n)
    })?;
    let Outcome { max_gap, user_keys, counts, mut db, counted_at, touch_sha } = out;
    let mut con = ctx.connect()?;

    // The users' index sets right away, before the sliding sessions expire too.
    let key_of = |sid: &str| attempt_key(ctx, attempt_used, &format!("sess:{sid}"));
    let dead = dead_members(&mut con, &key_of, &user_keys)?;
    let dead_before: usize = dead.iter().map(|(_, sids)| sids.len()).sum();
    let dead_after = remove_dead(&mut con, &dead)?;

    let [sliding, hset_only, idle] = counts;
    let expired = hset_only.sessions + idle.sessions;
    let plain = |n: usize| Text::Plain(format_count(n as u64));
    report.table(
        Text::msg("habits")
            .fact("n", n)
            .fact("ttl_ms", millis(TTL))
            .fact("users", user_keys.len())
            .fact("devices", DEVICES.len())
            .fact("every_ms", millis(REQUEST_EVERY))
            .fact("active_ms", millis(ACTIVE_FOR))
            .fact("max_gap", max_gap),
        &["runs", "sessions", "requests", "logged-out", "keys-left", "pttl", "rows-left"],
        Habit::ALL
            .iter()
            .map(|&h| {
                let c = counts[h.index()];
                vec![
                    Text::msg(h.message()),
                    plain(c.sessions),
                    plain(c.requests),
                    Text::Plain(format!("{} / {}", c.redis_logged_out, c.sql_logged_out)),
                    plain(c.redis_left),
                    pttl_text(c.pttl),
                    Text::Plain(format!(
                        "{} ({})",
                        format_count(c.sql_rows as u64),
                        format_count(c.sql_expired as u64)
                    )),
                ]
            })
            .collect(),
    );
    report.note(
        NoteKind::Simulated,
        Text::msg("scaled").fact("ttl_ms", millis(TTL)).fact("every_ms", millis(REQUEST_EVERY)),
    );
    report.note(NoteKind::Info, Text::msg("touch-script"));

    // Timings: one request on each side, and the sweep only SQL needs.
    // A fresh login to time requests against (the demo's sessions stopped sliding a while ago).
    let ttl_ms = millis(TTL);
    let probe_sid = new_id();
    let probe_key = attempt_key(ctx, attempt_used, &format!("sess:{probe_sid}"));
    let login = now_ms()?;
    let mut pipe = redis::pipe();
    pipe.atomic()
        .cmd("HSET")
        .arg(&probe_key)
        .arg(&[("uid", "999"), ("device", "web")])
        .ignore()
        .cmd("PEXPIRE")
        .arg(&probe_key)
        .arg(ttl_ms)
        .ignore();
    pipe.exec(&mut con).context("logging in the timing probe")?;
    let login = login.max(now_ms()?);
    db.execute(
        "INSERT INTO sessions (sid, uid, device, created_at, last_seen, expires_at) VALUES (?1, 999, 'web', ?2, ?2, ?3)",
        params![probe_sid, login, login + ttl_ms],
    )?;
    // Both requests take turns in rounds, so a busy moment hits both alike.
    let group = report.measured_group(
        ctx.sampler
            .group()
            .op("redis-touch", "Redis EVALSHA touch", Backend::Redis, || {
                let uid: Option<String> = redis::cmd("EVALSHA")
                    .arg(&touch_sha)
                    .arg(1)
                    .arg(&probe_key)
                    .arg(now_ms()?)
                    .arg(ttl_ms)
                    .query(&mut con)?;
                ensure!(uid.is_some(), "the probe session expired while it was being touched");
                Ok(())
            })
            .op("sqlite-touch", "SQLite UPDATE", Backend::Sqlite, || {
                let changed = db.execute(SQL_TOUCH, params![now_ms()?, ttl_ms, probe_sid])?;
                ensure!(changed == 1, "the probe session row expired while it was being touched");
                Ok(())
            })
            .run()?,
    );
    redis::cmd("DEL").arg(&probe_key).exec(&mut con)?;
    db.execute("DELETE FROM sessions WHERE sid = ?1", [&probe_sid])?;
    let (redis_touch, sql_touch) = (group.get("redis-touch"), group.get("sqlite-touch"));
    let in_process = report.compare("sqlite-touch-vs-redis-touch", sql_touch, redis_touch)?;
    let expired_rows = hset_only.sql_expired + idle.sql_expired;
    let sweep = report.measured(ctx.sampler.measure("sqlite-sweep", "SQLite DELETE", Backend::Sqlite, || {
        let tx = db.transaction()?;
        let deleted = tx.execute(SQL_SWEEP, [counted_at])?;
        ensure!(deleted == expired_rows, "the sweep deleted {deleted} rows, expected {expired_rows}");
        tx.rollback()?;
        Ok(())
    })?);
    let swept = db.execute(SQL_SWEEP, [counted_at])?;
    let rows_after = sql_count(&db, "SELECT COUNT(*) FROM sessions", [])?;
    // A note, not a claim: the two sides are close, and which one wins depends on the machine; the
    // interval says which one did here, or that this run cannot tell.
    let note = match (in_process.status == Verdict::Clear, in_process.ratio >= 1.0) {
        (false, _) => Text::msg("touch-no-clear-difference").fact("ratio", in_process.measured()),
        (true, true) => Text::msg("touch-sqlite-faster").fact("ratio", Fact::Ratio(in_process.ratio)),
        (true, false) => Text::msg("touch-redis-faster").fact("ratio", Fact::Ratio(1.0 / in_process.ratio)),
    };
    report.note(NoteKind::Info, note.fact("sqlite", sql_touch.p50()).fact("redis", redis_touch.p50()));
    report.note(NoteKind::Info, Text::msg("expiry-in-server"));

    let redis_expired_left = hset_only.redis_left + idle.redis_left;
    let sql_expired_before = hset_only.sql_expired + idle.sql_expired + sliding.sql_expired;
    let holds = redis_expired_left == 0
        && sliding.redis_left == sliding.sessions
        && sql_expired_before == expired
        && hset_only.sql_rows + idle.sql_rows == expired
        && swept == expired
        && rows_after == sliding.sessions;
    report.claim(
        Claim::new(
            "expired-sessions-vanish-without-sweeper",
            "",
            format!("SQL {} / Redis {}", sql_expired_before, redis_expired_left),
            holds,
        )
        .fact("redis_left", redis_expired_left)
        .fact("expired", expired)
        .fact("active_left", sliding.redis_left)
        .fact("active", sliding.sessions)
        .fact("sql_expired", sql_expired_before)
        .fact("n", n)
        .fact("sweep", sweep.p50())
        .fact("swept", swept),
    );

    let holds = hset_only.redis_logged_out == hset_only.sessions
        && hset_only.sessions > 0
        && sliding.redis_logged_out == 0
        && sliding.sql_logged_out == 0;
    report.claim(
        Claim::new(
            "hset-does-not-move-ttl",
            "",
            format!("{} → {}", hset_only.redis_logged_out, sliding.redis_logged_out),
            holds,
        )
        .fact("hset_out", hset_only.redis_logged_out)
        .fact("hset", hset_only.sessions)
        .fact("sliding_out", sliding.redis_logged_out)
        .fact("sliding", sliding.sessions),
    );

    let holds = dead_before >= expired && dead_after == 0;
    report.claim(
        Claim::new("set-members-never-expire", "", format!("{dead_before} → {dead_after}"), holds)
            .fact("dead", dead_before)
            .fact("left", dead_after),
    );
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn db_with(rows: &[(&str, i64)]) -> Connection {
        let db = Connection::open_in_memory().unwrap();
        db.execute_batch(SCHEMA).unwrap();
        for (sid, expires_at) in rows {
            db.execute("INSERT INTO sessions VALUES (?1, 1, 'web', 0, 0, ?2)", params![sid, expires_at]).unwrap();
        }
        db
    }

    #[test]
    fn habits_split_half_quarter_quarter() {
        let counts = (0..1_000).fold([0; 3], |mut acc, i| {
            acc[Habit::of(i).index()] += 1;
            acc
        });
        assert_eq!(counts, [500, 250, 250]);
    }

    #[test]
    fn only_a_live_session_slides() {
        let db = db_with(&[("live", 1_500), ("dead", 900)]);
        assert_eq!(db.execute(SQL_TOUCH, params![1_000, 400, "live"]).unwrap(), 1);
        assert_eq!(db.execute(SQL_TOUCH, params![1_000, 400, "dead"]).unwrap(), 0);
        let live: i64 = db.query_row("SELECT expires_at FROM sessions WHERE sid = 'live'", [], |r| r.get(0)).unwrap();
        assert_eq!(live, 1_400);
    }

    #[test]
    fn touching_last_seen_leaves_the_expiry() {
        let db = db_with(&[("s", 1_500)]);
        assert_eq!(db.execute(SQL_TOUCH_LAST_SEEN, params![1_000, "s"]).unwrap(), 1);
        let (seen, expires): (i64, i64) =
            db.query_row("SELECT last_seen, expires_at FROM sessions", [], |r| Ok((r.get(0)?, r.get(1)?))).unwrap();
        assert_eq!((seen, expires), (1_000, 1_500));
        assert_eq!(db.execute(SQL_TOUCH_LAST_SEEN, params![1_500, "s"]).unwrap(), 0);
    }

    #[test]
    fn the_sweep_takes_only_expired_rows() {
        let db = db_with(&[("a", 100), ("b", 200), ("c", 300)]);
        assert_eq!(db.execute(SQL_SWEEP, [200]).unwrap(), 2);
        let left: i64 = db.query_row("SELECT COUNT(*) FROM sessions", [], |r| r.get(0)).unwrap();
        assert_eq!(left, 1);
    }
}
