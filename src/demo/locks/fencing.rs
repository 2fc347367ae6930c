//! Fencing tokens: a lock that expired mid-work lets two holders overlap; a fence checked by the
//! resource itself rejects the stale writer.

use anyhow::{Context, Result, anyhow, ensure};
use rusqlite::{Connection, params};

use super::lock::{Lease, RedisLock};
use super::{SHORT_TTL, WAIT_LIMIT};
use crate::demo::support::{millis, new_id, wait_until_gone};
use crate::demo::{Ctx, DemoReport, NoteKind};
use crate::measure::Claim;
use crate::sql::{self, Durability};
use crate::text::Text;

/// The protected resource: a tx-check row that records who checked a transaction and with which
/// fencing token.
const TX_CHECKS_SCHEMA: &str = "CREATE TABLE IF NOT EXISTS tx_checks (
    tx_hash TEXT PRIMARY KEY, status TEXT NOT NULL, checked_by TEXT NOT NULL, fence INTEGER NOT NULL)";

/// Write a check result. With `check_fence`, the row accepts it only if `fence` is higher than the
/// last fence it saw — in the same statement, so the check and the write are atomic. Returns whether
/// the write was applied.
fn write_tx_check(
    db: &Connection,
    tx_hash: &str,
    status: &str,
    by: &str,
    fence: u64,
    check_fence: bool,
) -> Result<bool> {
    let fence = i64::try_from(fence).context("fence out of range")?;
    let sql = if check_fence {
        "UPDATE tx_checks SET status = ?2, checked_by = ?3, fence = ?4 WHERE tx_hash = ?1 AND fence < ?4"
    } else {
        "UPDATE tx_checks SET status = ?2, checked_by = ?3, fence = ?4 WHERE tx_hash = ?1"
    };
    Ok(db.execute(sql, params![tx_hash, status, by, fence])? == 1)
}

fn tx_check_row(db: &Connection, tx_hash: &str) -> Result<(String, String, i64)> {
    Ok(db.query_row("SELECT status, checked_by, fence FROM tx_checks WHERE tx_hash = ?1", [tx_hash], |r| {
        Ok((r.get(0)?, r.get(1)?, r.get(2)?))
    })?)
}

/// What the fencing scenario counted, for one kind of resource.
#[derive(Debug, Default)]
struct FenceOutcome {
    overlaps: u64,
    stale_applied: u64,
    stale_rejected: u64,
    /// The first transaction's row at the end: (status, checked_by, fence).
    final_row: Option<(String, String, i64)>,
    fences: Vec<(u64, u64)>,
}

/// For each transaction: A takes the lock with a fence, pauses past the TTL; B takes it (higher
/// fence) and records its result; A wakes up and writes its stale result.
fn fencing_scenario(ctx: &Ctx, db_path: &std::path::Path, check_fence: bool, rounds: usize) -> Result<FenceOutcome> {
    let (mut a, mut b, mut watch) = (ctx.connect()?, ctx.connect()?, ctx.connect()?);
    let (db_a, db_b) = (sql::open_worker(db_path, WAIT_LIMIT)?, sql::open_worker(db_path, WAIT_LIMIT)?);
    let mut out = FenceOutcome::default();
    for round in 0..rounds {
        ctx.check_interrupt()?;
        let tx_hash = format!("0x{}{}", new_id(), new_id());
        db_a.execute(
            "INSERT INTO tx_checks (tx_hash, status, checked_by, fence) VALUES (?1, 'pending', '', 0)",
            [&tx_hash],
        )?;
        let lock = RedisLock::new(ctx.key(&format!("lock:tx-check:{tx_hash}")), SHORT_TTL);
        let lease_a = lock.try_acquire_fenced(&mut a)?.ok_or_else(|| anyhow!("A could not take a fresh lock"))?;
        // A reads the chain ("pending, no receipt yet") and then stalls: a GC pause, a slow RPC.
        wait_until_gone(ctx, &mut watch, lock.key(), |_| Ok(()))?;
        let lease_b: Lease = lock.try_acquire_fenced(&mut b)?.ok_or_else(|| anyhow!("B could not take the lock"))?;
        out.overlaps += 1; // A still believes it holds the lock
        let (fence_a, fence_b) = (lease_a.fence.unwrap_or(0), lease_b.fence.unwrap_or(0));
        out.fences.push((fence_a, fence_b));
        ensure!(
            write_tx_check(&db_b, &tx_hash, "confirmed", "B", fence_b, check_fence)?,
            "B's fresh write was refused"
        );
        lock.release(&mut b, &lease_b)?;
        // A wakes up and writes the conclusion it reached before the pause.
        if write_tx_check(&db_a, &tx_hash, "dropped", "A", fence_a, check_fence)? {
            out.stale_applied += 1;
        } else {
            out.stale_rejected += 1;
        }
        lock.release(&mut a, &lease_a)?;
        if round == 0 {
            out.final_row = Some(tx_check_row(&db_a, &tx_hash)?);
        }
    }
    Ok(out)
}

/// Expiry during a pause lets two holders overlap; a fencing token lets the resource reject the
/// stale one.
pub fn fencing(ctx: &Ctx) -> Result<DemoReport> {
    let mut report = DemoReport::new("fencing", Text::msg("title"));
    let path = ctx.scratch.join("locks-tx-checks.db");
    sql::open_file(&path, Durability::Off)?.execute_batch(TX_CHECKS_SCHEMA)?;
    let rounds = ctx.n(3, 1);
    let plain = fencing_scenario(ctx, &path, false, rounds)?;
    let fenced = fencing_scenario(ctx, &path, true, rounds)?;
    // The row's columns as stored: data, shown as they are.
    let row_text = |o: &FenceOutcome| {
        o.final_row
            .as_ref()
            .map(|(status, by, fence)| format!("{status} ({by}, fence {fence})"))
            .unwrap_or_else(|| "—".to_string())
    };
    let fences_text = |o: &FenceOutcome| o.fences.first().map(|(a, b)| format!("{a} / {b}")).unwrap_or_default();
    let row = |label: Text, o: &FenceOutcome| {
        vec![
            label,
            Text::Plain(fences_text(o)),
            Text::Plain(o.overlaps.to_string()),
            Text::Plain(o.stale_applied.to_string()),
            Text::Plain(o.stale_rejected.to_string()),
            Text::Plain(row_text(o)),
        ]
    };
    report.table(
        Text::msg("checks").fact("rounds", rounds).fact("ttl_ms", millis(SHORT_TTL)),
        &["row", "fences", "overlaps", "applied", "rejected", "final-row"],
        vec![row(Text::msg("checks.no-fence-check"), &plain), row("… AND fence < ?".into(), &fenced)],
    );
    report.note(NoteKind::Simulated, Text::msg("pause"));
    report.note(NoteKind::Info, Text::msg("fence-from-incr"));
    report.note(NoteKind::Caveat, Text::msg("efficiency-lock"));
    let rounds_u64 = rounds as u64;
    let holds = plain.overlaps == rounds_u64
        && fenced.overlaps == rounds_u64
        && plain.stale_applied == rounds_u64
        && fenced.stale_applied == 0
        && fenced.stale_rejected == rounds_u64
        && fenced.stale_rejected >= 1;
    report.claim(
        Claim::new(
            "fence-rejects-stale-writer",
            "",
            format!("{} → {}", plain.stale_applied, fenced.stale_applied),
            holds,
        )
        .fact("overlaps", plain.overlaps)
        .fact("rounds", rounds)
        .fact("applied_plain", plain.stale_applied)
        .fact("rejected_fenced", fenced.stale_rejected)
        .fact("applied_fenced", fenced.stale_applied),
    );
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tx_db() -> Connection {
        let db = Connection::open_in_memory().unwrap();
        db.execute_batch(TX_CHECKS_SCHEMA).unwrap();
        db.execute("INSERT INTO tx_checks VALUES ('0xabc', 'pending', '', 0)", []).unwrap();
        db
    }

    #[test]
    fn a_fenced_row_accepts_only_rising_fences() {
        let db = tx_db();
        assert!(write_tx_check(&db, "0xabc", "confirmed", "B", 34, true).unwrap());
        assert!(!write_tx_check(&db, "0xabc", "dropped", "A", 33, true).unwrap(), "stale fence accepted");
        assert!(!write_tx_check(&db, "0xabc", "again", "B", 34, true).unwrap(), "equal fence accepted");
        assert_eq!(tx_check_row(&db, "0xabc").unwrap(), ("confirmed".into(), "B".into(), 34));
        assert!(write_tx_check(&db, "0xabc", "final", "C", 35, true).unwrap());
    }

    #[test]
    fn an_unfenced_row_takes_the_stale_write() {
        let db = tx_db();
        assert!(write_tx_check(&db, "0xabc", "confirmed", "B", 34, false).unwrap());
        assert!(write_tx_check(&db, "0xabc", "dropped", "A", 33, false).unwrap());
        assert_eq!(tx_check_row(&db, "0xabc").unwrap(), ("dropped".into(), "A".into(), 33));
    }
}
