//! Lost updates: K workers, M read-modify-write steps each, on one Redis balance: without a lock,
//! with the lock, and with INCRBY.

use anyhow::Result;

use super::LONG_TTL;
use super::race::{Guard, balance_key, pause_note, race_headers, race_row, redis_race};
use crate::demo::{Ctx, DemoReport, NoteKind};
use crate::measure::Claim;
use crate::text::Text;

/// K workers, M read-modify-write steps each, on one Redis balance: without a lock, with the lock,
/// and with INCRBY.
pub fn lost_updates(ctx: &Ctx) -> Result<DemoReport> {
    let mut report = DemoReport::new("lost-updates", Text::msg("title"));
    let (workers, steps) = (ctx.n(8, 4), ctx.n(250, 40));
    report.note(NoteKind::Simulated, pause_note());
    let guards = [Guard::RedisNone, Guard::RedisLock, Guard::RedisIncrby];
    let mut results = Vec::new();
    for guard in guards {
        results.push(redis_race(ctx, guard, workers, steps)?);
    }
    let [none, locked, incrby] = [results[0], results[1], results[2]];
    report.table(
        Text::msg("race")
            .fact("workers", workers)
            .fact("steps", steps)
            .fact("total", none.expected)
            .fact("key", balance_key()),
        race_headers(),
        guards.iter().zip(&results).map(|(g, r)| race_row(*g, r)).collect(),
    );
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
