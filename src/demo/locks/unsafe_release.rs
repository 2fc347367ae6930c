//! Releasing a lock that is no longer yours: a plain DEL removes whoever holds the lock now;
//! compare-and-delete does not.

use std::time::Duration;

use anyhow::{Result, anyhow};

use super::lock::RedisLock;
use super::{LONG_TTL, SHORT_TTL};
use crate::demo::support::{millis, wait_until_gone};
use crate::demo::{Ctx, DemoReport, NoteKind};
use crate::measure::{Claim, format_duration};
use crate::text::Text;

/// What one release scenario observed.
struct ReleaseOutcome {
    /// How long A's slow work ran until its lock expired.
    a_worked: Duration,
    /// The reply to A's release (`DEL`: keys deleted; compare-and-delete: 1 or 0).
    reply: i64,
    /// Did B's lock survive A's release?
    b_survived: bool,
    /// Could a third worker C then acquire while B was still working?
    c_acquired: bool,
}

/// A holds the lock (PX 200) and works past its TTL; B acquires; A "releases"; C tries.
fn release_scenario(ctx: &Ctx, tx_hash: &str, compare: bool) -> Result<ReleaseOutcome> {
    let tag = if compare { "cad" } else { "del" };
    let key = ctx.key(&format!("lock:tx-check:{tx_hash}:{tag}"));
    let short = RedisLock::new(key.clone(), SHORT_TTL);
    let long = RedisLock::new(key.clone(), LONG_TTL);
    let (mut a, mut b, mut c) = (ctx.connect()?, ctx.connect()?, ctx.connect()?);
    let lease_a = short.try_acquire(&mut a)?.ok_or_else(|| anyhow!("A could not take a fresh lock"))?;
    let a_worked = wait_until_gone(ctx, &mut a, &key, |_| Ok(()))?;
    let lease_b = long.try_acquire(&mut b)?.ok_or_else(|| anyhow!("B could not take the expired lock"))?;
    let reply = if compare {
        i64::from(short.release(&mut a, &lease_a)?)
    } else {
        redis::cmd("DEL").arg(&key).query(&mut a)?
    };
    let holder: Option<String> = redis::cmd("GET").arg(&key).query(&mut b)?;
    let b_survived = holder.as_deref() == Some(lease_b.token.as_str());
    let lease_c = long.try_acquire(&mut c)?;
    if let Some(lease) = &lease_c {
        long.release(&mut c, lease)?;
    }
    long.release(&mut b, &lease_b)?;
    Ok(ReleaseOutcome { a_worked, reply, b_survived, c_acquired: lease_c.is_some() })
}

/// Releasing with a plain DEL removes whoever holds the lock now; compare-and-delete does not.
pub fn unsafe_release(ctx: &Ctx) -> Result<DemoReport> {
    let mut report = DemoReport::new("unsafe-release", Text::msg("title"));
    let tx_hash = "0x7a3f9c21d4e8b6a05f1c2e3d4b5a69788f0e1d2c3b4a5968778695a4b3c2d1e0";
    let plain = release_scenario(ctx, tx_hash, false)?;
    let safe = release_scenario(ctx, tx_hash, true)?;
    let yes_no = |b: bool| Text::msg(if b { "yes" } else { "no" });
    report.table(
        Text::msg("release").fact("ttl_ms", millis(SHORT_TTL)),
        &["a-release", "a-worked", "reply", "b-survived", "c-acquired"],
        [("release.del", &plain), ("release.compare-and-delete", &safe)]
            .iter()
            .map(|(label, o)| {
                vec![
                    Text::msg(label),
                    Text::Plain(format_duration(o.a_worked)),
                    Text::Plain(o.reply.to_string()),
                    yes_no(o.b_survived),
                    yes_no(o.c_acquired),
                ]
            })
            .collect(),
    );
    let version = ctx.version();
    report.note(
        NoteKind::Info,
        Text::msg(if version.at_least(8, 4) { "delex-available" } else { "lua-release" })
            .fact("version", version.to_string()),
    );
    let foreign = |o: &ReleaseOutcome| u64::from(!o.b_survived);
    let holds = foreign(&plain) == 1 && foreign(&safe) == 0 && plain.reply == 1 && safe.reply == 0;
    let holders = |o: &ReleaseOutcome| 1 + u64::from(o.c_acquired);
    report.claim(
        Claim::new(
            "compare-and-delete-spares-next-holder",
            "",
            format!("{} → {}", foreign(&plain), foreign(&safe)),
            holds,
        )
        .fact("deleted_del", foreign(&plain))
        .fact("holders_del", holders(&plain))
        .fact("deleted_cad", foreign(&safe))
        .fact("reply_cad", safe.reply)
        .fact("holders_cad", holders(&safe)),
    );
    Ok(report)
}
