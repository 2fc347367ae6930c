//! Lost updates: K workers, M read-modify-write steps each, on one Redis balance: without a lock,
//! with the lock, and with INCRBY.

use anyhow::Result;

use super::LONG_TTL;
use super::race::{Guard, race_each};
use crate::demo::{Ctx, DemoReport, NoteKind};
use crate::measure::Claim;
use crate::text::Text;

/// K workers, M read-modify-write steps each, on one Redis balance: without a lock, with the lock,
/// and with INCRBY.
pub fn lost_updates(ctx: &Ctx) -> Result<DemoReport> {
    let mut report = DemoReport::new("lost-updates", Text::msg("title"));
    let (workers, steps) = (ctx.n(8, 4), ctx.n(250, 40));
    let [none, locked, incrby] =
        race_each(ctx, &mut report, [Guard::RedisNone, Guard::RedisLock, Guard::RedisIncrby], workers, steps)?;
    if locked.expired > 0 {
        report.note(
            NoteKind::Caveat,
            Text::msg("lock-expired").fact("n", locked.expired).fact("ttl_s", LONG_TTL.as_secs()),
        );
    }
    report.note(NoteKind::Info, Text::msg("lock-costs-throughput"));
    let holds = none.lost() > 0 && locked.lost() == 0 && incrby.lost() == 0;
    report.claim(
        Claim::new("lock-prevents-lost-updates", "", format!("{} → {}", none.lost(), locked.lost()), holds)
            .fact("workers", workers)
            .fact("lost_none", none.lost())
            .fact("total", none.expected)
            .fact("lost_lock", locked.lost())
            .fact("lost_incrby", incrby.lost()),
    );
    Ok(report)
}
