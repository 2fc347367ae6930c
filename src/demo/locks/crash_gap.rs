//! The crash gap: the notes' SETNX then EXPIRE, with a crash between the two, against one
//! `SET NX PX`.

use std::thread;
use std::time::{Duration, Instant};

use anyhow::{Result, anyhow, ensure};

use super::lock::RedisLock;
use super::{JOB, SHORT_TTL, WAIT_LIMIT};
use crate::demo::support::{millis, new_id, pttl};
use crate::demo::{Ctx, DemoReport, NoteKind};
use crate::measure::{Claim, format_duration};
use crate::text::{Fact, Text};

/// The notes' SETNX-then-EXPIRE: a crash between the two leaves a lock that never expires.
/// `SET NX PX` sets both in one command.
pub fn crash_gap(ctx: &Ctx) -> Result<DemoReport> {
    let mut report = DemoReport::new("crash-gap", Text::msg("title"));
    let ttl_ms = millis(SHORT_TTL);
    let window = SHORT_TTL * 2;

    // The notes' way. Client A wins SETNX and dies before it can send EXPIRE.
    let naive_key = ctx.key(&format!("lock:job:{JOB}:setnx"));
    {
        let mut a = ctx.connect()?;
        let won: i64 = redis::cmd("SETNX").arg(&naive_key).arg(new_id()).query(&mut a)?;
        ensure!(won == 1, "the first SETNX on a fresh key did not win");
        // A crashes here: its connection closes and `EXPIRE key ...` is never sent.
    }
    let mut b = ctx.connect()?;
    let naive_ttl: i64 = redis::cmd("TTL").arg(&naive_key).query(&mut b)?;
    let start = Instant::now();
    let (mut tries, mut naive_wins) = (0_u64, 0_u64);
    while start.elapsed() < window {
        ctx.check_interrupt()?;
        tries += 1;
        let won: i64 = redis::cmd("SETNX").arg(&naive_key).arg(new_id()).query(&mut b)?;
        if won == 1 {
            naive_wins += 1;
            break;
        }
        thread::sleep(Duration::from_millis(5));
    }
    let naive_ttl_after: i64 = redis::cmd("TTL").arg(&naive_key).query(&mut b)?;

    // The fix: one command sets the value and the expiry. A crashes right after it.
    let safe = RedisLock::new(ctx.key(&format!("lock:job:{JOB}")), SHORT_TTL);
    let first = {
        let mut a = ctx.connect()?;
        safe.try_acquire(&mut a)?.ok_or_else(|| anyhow!("the first SET NX PX on a fresh key did not win"))?
    };
    // Normally about 200 ms; -2 only if this machine stalled past the TTL before B looked.
    let pttl = pttl(&mut b, safe.key())?;
    let refused_while_held = safe.try_acquire(&mut b)?.is_none();
    let mut safe_tries = 1_u64;
    let second = loop {
        ctx.check_interrupt()?;
        if let Some(lease) = safe.try_acquire(&mut b)? {
            break Some(lease);
        }
        safe_tries += 1;
        if first.acquired_at.elapsed() > WAIT_LIMIT {
            break None;
        }
        thread::sleep(Duration::from_millis(5));
    };
    let reacquired_after = second.as_ref().map(|l| l.acquired_at.duration_since(first.acquired_at));
    if let Some(lease) = &second {
        safe.release(&mut b, lease)?;
    }

    // PTTL as Redis replies it: milliseconds left, or -2 once the key is gone.
    let pttl_shown = if pttl == -2 { "-2".to_string() } else { format!("{pttl} ms") };
    let safe_try = match reacquired_after {
        Some(after) => Text::msg(if refused_while_held { "steps.won-after-nil" } else { "steps.won-after" })
            .fact("after", after)
            .fact("tries", safe_tries),
        None => Text::msg("steps.never-won"),
    };
    report.table_with_headers(
        Text::msg("steps"),
        vec![Text::msg("steps.header-step"), Text::msg("steps.header-notes"), "SET key token NX PX".into()],
        vec![
            vec![Text::msg("steps.a-acquires"), "SETNX → 1".into(), Text::Plain(format!("SET … NX PX {ttl_ms} → OK"))],
            vec![Text::msg("steps.a-crashes"), Text::msg("steps.expire-never-sent"), Text::msg("steps.nothing-left")],
            vec![
                Text::msg("steps.b-reads-ttl"),
                Text::Plain(format!("TTL → {naive_ttl}")),
                Text::msg(if pttl == -2 { "steps.pttl-expired" } else { "steps.pttl" }).fact("pttl", pttl),
            ],
            vec![
                Text::msg("steps.b-tries"),
                Text::msg("steps.naive-tries").fact("wins", naive_wins).fact("tries", tries).fact("window", window),
                safe_try,
            ],
            vec![Text::msg("steps.ttl-afterwards"), Text::Plain(format!("TTL → {naive_ttl_after}")), "—".into()],
        ],
    );
    report.note(NoteKind::Info, Text::msg("setnx-deprecated"));
    let naive_holds = naive_ttl == -1 && naive_ttl_after == -1 && naive_wins == 0 && tries > 0;
    report.claim(
        Claim::new(
            "setnx-crash-leaves-lock-forever",
            "",
            format!("TTL {naive_ttl}, {naive_wins}/{tries}"),
            naive_holds,
        )
        .fact("ttl", naive_ttl)
        .fact("wins", naive_wins)
        .fact("tries", tries)
        .fact("window", window),
    );
    // The point is that the lock carries an expiry (not -1) and frees itself; the nil reply while it
    // is held is shown in the table but not required, since a stalled machine could miss the window.
    let safe_holds = pttl != -1 && pttl <= ttl_ms && reacquired_after.is_some();
    let after = reacquired_after.map(format_duration).unwrap_or_else(|| "—".to_string());
    report.claim(
        Claim::new("set-nx-px-lock-expires", "", format!("PTTL {pttl_shown}, {after}"), safe_holds)
            .fact("ttl_ms", ttl_ms)
            .fact("pttl", pttl_shown.as_str())
            .fact("after", reacquired_after.map_or_else(|| Fact::from("—"), Fact::from)),
    );
    Ok(report)
}
