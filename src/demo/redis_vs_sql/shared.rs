//! What the demos of lesson 10 share: loading the data set into Redis in pipelines, and how a
//! timing or a ratio is shown.

use anyhow::{Context, Result};
use redis::ConnectionLike;

use crate::demo::Ctx;
use crate::measure::{Measurement, format_duration};

/// Commands per pipeline when loading.
const LOAD_CHUNK: usize = 1_000;

/// Send `cmds` in pipelines of [`LOAD_CHUNK`] commands.
pub(super) fn load_redis(ctx: &Ctx, con: &mut impl ConnectionLike, cmds: Vec<redis::Cmd>) -> Result<()> {
    for chunk in cmds.chunks(LOAD_CHUNK) {
        ctx.check_interrupt()?;
        let mut pipe = redis::pipe();
        for cmd in chunk {
            pipe.add_command(cmd.clone()).ignore();
        }
        pipe.exec(con).context("loading the data set into Redis")?;
    }
    Ok(())
}

/// A p50 for a table cell.
pub(super) fn p50(m: &Measurement) -> String {
    format_duration(m.p50())
}

/// A ratio turned to read as "by this much", and 1 when it means faster (0: slower), for a
/// message's `{faster|…|…}` choice.
pub(super) fn oriented_ratio(ratio: f64) -> (f64, u64) {
    if ratio >= 1.0 { (ratio, 1) } else { (1.0 / ratio, 0) }
}
