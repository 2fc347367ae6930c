//! Optimistic transactions: the lost-update race again, now with `WATCH` + `MULTI`/`EXEC` and no
//! lock: EXEC replies nil when another client wrote the key after the WATCH, and the worker reads
//! again and retries. Next to no guard and the SET NX PX lock; then the same loop with two workers,
//! to show that the retries grow with contention.

use anyhow::Result;

use super::race::{Guard, RaceResult, race_each, redis_race};
use crate::demo::{Ctx, DemoReport, NoteKind};
use crate::measure::Claim;
use crate::text::{Fact, Text};

/// Workers in the low-contention run.
const FEW_WORKERS: usize = 2;

/// Retries per committed update.
fn per_update(r: &RaceResult) -> f64 {
    r.retries as f64 / r.expected.max(1) as f64
}

/// K workers, M read-modify-write steps each, on one Redis balance: with no guard, with WATCH +
/// MULTI/EXEC and retry, and with the SET NX PX lock; then WATCH again with two workers.
pub fn watch_multi(ctx: &Ctx) -> Result<DemoReport> {
    let mut report = DemoReport::new("watch-multi", Text::msg("title"));
    let (workers, steps) = (ctx.n(8, 4), ctx.n(250, 40));
    let [none, watched, locked] =
        race_each(ctx, &mut report, [Guard::RedisNone, Guard::RedisWatch, Guard::RedisLock], workers, steps)?;
    // The same loop with little contention: fewer conflicts, fewer retries.
    let few_steps = workers * steps / FEW_WORKERS;
    let few = redis_race(ctx, Guard::RedisWatch, FEW_WORKERS, few_steps)?;
    report.note(
        NoteKind::Info,
        Text::msg("contention")
            .fact("few", FEW_WORKERS)
            .fact("few_retries", few.retries)
            .fact("few_total", few.expected)
            .fact("few_per", Fact::Number(per_update(&few)))
            .fact("workers", workers)
            .fact("retries", watched.retries)
            .fact("total", watched.expected)
            .fact("per", Fact::Number(per_update(&watched))),
    );
    report.note(NoteKind::Info, Text::msg("how-watch-works"));
    let holds = none.lost() > 0 && watched.lost() == 0 && few.lost() == 0 && locked.lost() == 0;
    report.claim(
        Claim::new("watch-prevents-lost-updates", "", format!("{} → {}", none.lost(), watched.lost()), holds)
            .fact("workers", workers)
            .fact("lost_none", none.lost())
            .fact("total", none.expected)
            .fact("lost_watch", watched.lost())
            .fact("retries", watched.retries)
            .fact("lost_lock", locked.lost()),
    );
    Ok(report)
}
