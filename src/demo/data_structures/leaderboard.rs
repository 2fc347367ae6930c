//! Leaderboards (排行榜): trade volume per trader in a sorted set (有序集合). ZINCRBY adds a trade,
//! `ZRANGE … REV WITHSCORES` reads the top N, ZREVRANK finds one trader's place in O(log N). The SQL
//! side keeps the same totals in an indexed table: top N is an index walk that stops after N rows,
//! but a rank is a COUNT of every row ahead, so its work grows with the rank.

use std::cell::RefCell;
use std::time::Instant;

use anyhow::{Context, Result, anyhow, ensure};
use rand::rngs::Xoshiro256PlusPlus;
use rand::{RngExt, SeedableRng};
use rand_distr::{Distribution, LogNormal, Zipf};
use redis::ConnectionLike;
use rusqlite::{Connection, OptionalExtension, StatementStatus, params};

use crate::demo::support::short;
use crate::demo::support::{mix, who_wins};
use crate::demo::{Ctx, DemoReport, NoteKind};
use crate::measure::{Backend, Claim, format_count, format_duration};
use crate::server::Version;
use crate::sql::{self, Durability};
use crate::text::{Fact, Text};

/// Trades per trader on average (every trader trades once; the rest go to a Zipf-skewed few).
const TRADES_PER_TRADER: usize = 4;
/// Traders whose rank and score are checked on both sides, besides the first, middle and last.
const SAMPLED: usize = 200;
/// How many places the top list shows.
const TOP: usize = 10;
const SEED: u64 = 0x0006_b0a2_d5ee;
/// ZINCRBYs per pipeline while loading.
const LOAD_CHUNK: usize = 1_000;

/// A trader's wallet, shortened: a hash for the look, the index at the end to keep them unique.
fn trader(i: usize) -> String {
    format!("0x{:08x}{:06x}", (mix(i as u64) >> 32) as u32, i)
}

/// The day's trades: (trader index, volume in whole USDT). Every trader trades once, then the rest of
/// the trades go to traders drawn from a Zipf distribution (a few whales trade most); sizes are
/// log-normal (median about 400 USDT). Seeded: the same every run.
fn trades(traders: usize) -> Result<Vec<(usize, u64)>> {
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(SEED);
    let who = Zipf::new(traders as f64, 1.0).map_err(|e| anyhow!("zipf: {e}"))?;
    let size = LogNormal::<f64>::new(6.0, 1.2).map_err(|e| anyhow!("log-normal: {e}"))?;
    let amount = |rng: &mut Xoshiro256PlusPlus| size.sample(rng).round().max(1.0) as u64;
    let mut out = Vec::with_capacity(traders * TRADES_PER_TRADER);
    for i in 0..traders {
        let a = amount(&mut rng);
        out.push((i, a));
    }
    for _ in 0..traders * (TRADES_PER_TRADER - 1) {
        let i = (who.sample(&mut rng) as usize).clamp(1, traders) - 1;
        let a = amount(&mut rng);
        out.push((i, a));
    }
    Ok(out)
}

/// `ZRANGE key start stop REV WITHSCORES` (6.2+), or the older `ZREVRANGE`.
fn rev_range(
    con: &mut impl ConnectionLike,
    version: Version,
    key: &str,
    start: i64,
    stop: i64,
) -> Result<Vec<(String, u64)>> {
    let mut cmd = if version.at_least(6, 2) { redis::cmd("ZRANGE") } else { redis::cmd("ZREVRANGE") };
    cmd.arg(key).arg(start).arg(stop);
    if version.at_least(6, 2) {
        cmd.arg("REV");
    }
    let rows: Vec<(String, f64)> = cmd.arg("WITHSCORES").query(con)?;
    Ok(rows.into_iter().map(|(m, s)| (m, s as u64)).collect())
}

const SCHEMA: &str = "DROP TABLE IF EXISTS volumes;
CREATE TABLE volumes (trader TEXT PRIMARY KEY, volume INTEGER NOT NULL) WITHOUT ROWID;
CREATE INDEX volumes_by_volume ON volumes (volume, trader);";

const UPSERT_SQL: &str = "INSERT INTO volumes (trader, volume) VALUES (?1, ?2)
    ON CONFLICT (trader) DO UPDATE SET volume = volume + excluded.volume";

/// The top N, highest first; ties in reverse byte order of the trader, as ZRANGE … REV orders them.
const TOP_SQL: &str = "SELECT trader, volume FROM volumes ORDER BY volume DESC, trader DESC LIMIT ?1";

/// A trader's 0-based place: how many rows come after it in (volume, trader) order. The index
/// answers it, but by counting every entry past the trader's.
const RANK_SQL: &str =
    "SELECT COUNT(*) FROM volumes WHERE (volume, trader) > ((SELECT volume FROM volumes WHERE trader = ?1), ?1)";

/// The neighbours around a place: OFFSET walks past every row ahead, too.
const AROUND_SQL: &str = "SELECT trader, volume FROM volumes ORDER BY volume DESC, trader DESC LIMIT ?1 OFFSET ?2";

fn sql_top(db: &Connection, n: usize) -> Result<Vec<(String, u64)>> {
    let mut stmt = db.prepare_cached(TOP_SQL)?;
    let rows = stmt.query_map([n as i64], |r| Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)? as u64)))?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

fn sql_around(db: &Connection, from: u64, n: usize) -> Result<Vec<(String, u64)>> {
    let mut stmt = db.prepare_cached(AROUND_SQL)?;
    let rows =
        stmt.query_map(params![n as i64, from as i64], |r| Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)? as u64)))?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

/// A trader's rank and the SQLite VM steps it took (a count of the work, independent of timing).
fn sql_rank(db: &Connection, who: &str) -> Result<(u64, u64)> {
    let mut stmt = db.prepare_cached(RANK_SQL)?;
    stmt.reset_status(StatementStatus::VmStep);
    let rank: i64 = stmt.query_row([who], |r| r.get(0))?;
    let steps = stmt.get_status(StatementStatus::VmStep);
    Ok((rank as u64, u64::try_from(steps).unwrap_or(0)))
}

fn sql_volume(db: &Connection, who: &str) -> Result<Option<u64>> {
    Ok(db
        .prepare_cached("SELECT volume FROM volumes WHERE trader = ?1")?
        .query_row([who], |r| r.get::<_, i64>(0))
        .optional()?
        .map(|v| v as u64))
}

fn load_sql(db: &mut Connection, trades: &[(usize, u64)]) -> Result<()> {
    db.execute_batch(SCHEMA)?;
    let tx = db.transaction()?;
    {
        let mut upsert = tx.prepare(UPSERT_SQL)?;
        for &(i, amount) in trades {
            upsert.execute(params![trader(i), amount as i64])?;
        }
    }
    tx.commit()?;
    Ok(())
}

fn load_redis(ctx: &Ctx, con: &mut impl ConnectionLike, key: &str, trades: &[(usize, u64)]) -> Result<()> {
    redis::cmd("DEL").arg(key).exec(con)?;
    for chunk in trades.chunks(LOAD_CHUNK) {
        ctx.check_interrupt()?;
        let mut pipe = redis::pipe();
        for &(i, amount) in chunk {
            pipe.cmd("ZINCRBY").arg(key).arg(amount).arg(trader(i)).ignore();
        }
        pipe.exec(con).with_context(|| format!("loading {key}"))?;
    }
    Ok(())
}

/// 1-based place for display.
fn place(rank: u64) -> String {
    format!("#{}", format_count(rank + 1))
}

/// Load a day of trades into both, check that both give the same answers, then time them.
pub fn leaderboard(ctx: &Ctx) -> Result<DemoReport> {
    let mut report = DemoReport::new("leaderboard", Text::msg("title"));
    let version = ctx.version();
    let traders = ctx.n(100_000, 10_000);
    let trades = trades(traders)?;
    let key = ctx.key("leaderboard:volume:2026-11-26");
    let mut con = ctx.connect()?;
    let start = Instant::now();
    load_redis(ctx, &mut con, &key, &trades)?;
    let redis_load = start.elapsed();
    let mut db = sql::open_file(&ctx.scratch.join("structures-leaderboard.db"), Durability::Off)?;
    let start = Instant::now();
    load_sql(&mut db, &trades)?;
    let sql_load = start.elapsed();

    // Correctness first: the same answers from both sides.
    let members: u64 = redis::cmd("ZCARD").arg(&key).query(&mut con)?;
    let rows: u64 = db.query_row("SELECT COUNT(*) FROM volumes", [], |r| r.get::<_, i64>(0))? as u64;
    let mut mismatches = Vec::new();
    if members != rows {
        mismatches.push(format!("{members} members vs {rows} rows"));
    }
    let redis_top = rev_range(&mut con, version, &key, 0, TOP as i64 - 1)?;
    let sql_top_rows = sql_top(&db, TOP)?;
    if redis_top != sql_top_rows {
        mismatches.push("top 10".to_string());
    }
    let first = redis_top.first().map(|(m, _)| m.clone()).ok_or_else(|| anyhow!("the board is empty"))?;
    let last = rev_range(&mut con, version, &key, -1, -1)?
        .pop()
        .map(|(m, _)| m)
        .ok_or_else(|| anyhow!("the board is empty"))?;
    let middle = rev_range(&mut con, version, &key, (members / 2) as i64, (members / 2) as i64)?
        .pop()
        .map(|(m, _)| m)
        .ok_or_else(|| anyhow!("the board has no middle"))?;
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(SEED ^ 1);
    let mut sample = vec![first.clone(), middle.clone(), last.clone()];
    sample.extend((0..SAMPLED).map(|_| trader(rng.random_range(0..traders))));
    let mut pipe = redis::pipe();
    for who in &sample {
        pipe.cmd("ZREVRANK").arg(&key).arg(who).cmd("ZSCORE").arg(&key).arg(who);
    }
    let replies: Vec<(Option<u64>, Option<f64>)> = pipe.query(&mut con)?;
    let mut steps = Vec::new();
    for (who, (rank, score)) in sample.iter().zip(&replies) {
        let (sql_rank_of, vm_steps) = sql_rank(&db, who)?;
        let volume = sql_volume(&db, who)?;
        steps.push(vm_steps);
        if *rank != Some(sql_rank_of) || score.map(|s| s as u64) != volume {
            mismatches.push(format!("{who}: Redis {rank:?}/{score:?}, SQL {sql_rank_of}/{volume:?}"));
        }
    }
    let middle_rank = members / 2;
    let around_from = middle_rank.saturating_sub(2);
    let redis_around = rev_range(&mut con, version, &key, around_from as i64, around_from as i64 + 4)?;
    if redis_around != sql_around(&db, around_from, 5)? {
        mismatches.push("around the middle".to_string());
    }
    let ties = redis_top.windows(2).filter(|w| w[0].1 == w[1].1).count()
        + redis_around.windows(2).filter(|w| w[0].1 == w[1].1).count();
    let checked = 2 + 2 * sample.len() + 1;
    let (steps_first, steps_last) = (steps[0], steps[2]);

    let top_cmd = if version.at_least(6, 2) {
        format!("ZRANGE {} 0 {} REV WITHSCORES", short(&key), TOP - 1)
    } else {
        format!("ZREVRANGE {} 0 {} WITHSCORES", short(&key), TOP - 1)
    };
    let figure = |v: u64| Text::Plain(format_count(v));
    let mut rows: Vec<Vec<Text>> = redis_top
        .iter()
        .enumerate()
        .map(|(i, (m, v))| vec![Text::Plain(place(i as u64)), Text::from(m), figure(*v)])
        .collect();
    rows.push(vec!["…".into(), "…".into(), "…".into()]);
    rows.extend(redis_around.iter().enumerate().map(|(i, (m, v))| {
        let who = if *m == middle { Text::msg("top.middle").fact("trader", m.as_str()) } else { Text::from(m) };
        vec![Text::Plain(place(around_from + i as u64)), who, figure(*v)]
    }));
    report.table(Text::msg("top").fact("command", top_cmd), &["place", "trader", "volume"], rows);
    let board_bytes: Option<u64> = redis::cmd("MEMORY").arg("USAGE").arg(&key).arg("SAMPLES").arg(0).query(&mut con)?;
    let encoding: String = redis::cmd("OBJECT").arg("ENCODING").arg(&key).query(&mut con)?;
    let page = |name: &str| -> Result<i64> { Ok(db.pragma_query_value(None, name, |r| r.get(0))?) };
    let sql_bytes = (page("page_count")? * page("page_size")?) as u64;
    report.table(
        Text::msg("load").fact("trades", trades.len()).fact("traders", traders),
        &["side", "how", "time", "size"],
        vec![
            vec![
                "Redis".into(),
                Text::msg("load.redis-how").fact("chunk", LOAD_CHUNK).fact("encoding", encoding),
                Text::Plain(format_duration(redis_load)),
                Text::msg("load.redis-size").fact("bytes", Fact::Bytes(board_bytes.unwrap_or(0))),
            ],
            vec![
                "SQLite".into(),
                Text::msg("load.sqlite-how"),
                Text::Plain(format_duration(sql_load)),
                Text::msg("load.sqlite-size").fact("bytes", Fact::Bytes(sql_bytes)),
            ],
        ],
    );

    // Timings. Reads first, on the data just checked; updates last.
    // The reads take turns in rounds (one Redis connection, one SQLite connection, shared).
    let shared = RefCell::new(con);
    let zrevrank = |who: &str| -> Result<()> {
        let rank: Option<u64> = redis::cmd("ZREVRANK").arg(&key).arg(who).query(&mut *shared.borrow_mut())?;
        ensure!(rank.is_some(), "{who} is not on the board");
        Ok(())
    };
    let reads = report.measured_group(
        ctx.sampler
            .group()
            .op("top-redis", "ZRANGE … REV WITHSCORES", Backend::Redis, || {
                let top = rev_range(&mut *shared.borrow_mut(), version, &key, 0, TOP as i64 - 1)?;
                ensure!(top.len() == TOP, "short top list");
                Ok(())
            })
            .op("top-sqlite", "SQLite ORDER BY volume DESC LIMIT 10", Backend::Sqlite, || {
                ensure!(sql_top(&db, TOP)?.len() == TOP, "short top list");
                Ok(())
            })
            .op("rank-first-redis", "ZREVRANK #1", Backend::Redis, || zrevrank(&first))
            .op("rank-first-sqlite", "SQLite COUNT #1", Backend::Sqlite, || {
                sql_rank(&db, &first)?;
                Ok(())
            })
            .op("rank-last-redis", "ZREVRANK last", Backend::Redis, || zrevrank(&last))
            .op("rank-last-sqlite", "SQLite COUNT last", Backend::Sqlite, || {
                sql_rank(&db, &last)?;
                Ok(())
            })
            .run()?,
    );
    let (top_redis, top_sql) = (reads.get("top-redis"), reads.get("top-sqlite"));
    let top_cmp = report.compare("top-redis-vs-sqlite", top_redis, top_sql)?;
    let (rank_first_redis, rank_first_sql) = (reads.get("rank-first-redis"), reads.get("rank-first-sqlite"));
    report.compare("rank-first-redis-vs-sqlite", rank_first_redis, rank_first_sql)?;
    let (rank_last_redis, rank_last_sql) = (reads.get("rank-last-redis"), reads.get("rank-last-sqlite"));
    let rank_last_cmp = report.compare("rank-last-redis-vs-sqlite", rank_last_redis, rank_last_sql)?;

    // Updates last, in a group of their own: they change the board the reads measured.
    let mut con = shared.into_inner();
    let rng = RefCell::new(Xoshiro256PlusPlus::seed_from_u64(SEED ^ 2));
    let next_trade = || {
        let mut rng = rng.borrow_mut();
        (trader(rng.random_range(0..traders)), rng.random_range(1..5_000_u64))
    };
    let updates = report.measured_group(
        ctx.sampler
            .group()
            .op("update-redis", "ZINCRBY", Backend::Redis, || {
                let (who, amount) = next_trade();
                redis::cmd("ZINCRBY").arg(&key).arg(amount).arg(who).exec(&mut con)?;
                Ok(())
            })
            .op("update-sqlite", "SQLite upsert", Backend::Sqlite, || {
                let (who, amount) = next_trade();
                db.prepare_cached(UPSERT_SQL)?.execute(params![who, amount as i64])?;
                Ok(())
            })
            .run()?,
    );
    let (update_redis, update_sql) = (updates.get("update-redis"), updates.get("update-sqlite"));
    let update_cmp = report.compare("update-redis-vs-sqlite", update_redis, update_sql)?;

    report.note(NoteKind::Info, who_wins("top-10", &top_cmp, top_redis, top_sql));
    report.note(NoteKind::Info, Text::msg("index-walk"));
    report.note(NoteKind::Info, who_wins("one-trade", &update_cmp, update_redis, update_sql));
    report.note(NoteKind::Info, who_wins("last-rank", &rank_last_cmp, rank_last_redis, rank_last_sql));
    report.note(NoteKind::Info, Text::msg("why-ranks-differ"));
    if mismatches.is_empty() {
        report.note(NoteKind::Info, Text::msg("ties").fact("ties", ties));
    } else {
        report.note(NoteKind::Caveat, Text::msg("mismatches").fact("mismatches", mismatches.join("; ")));
    }

    // A correctness check, not a finding: shown as a note when the answers match, a failed claim when
    // they do not.
    if mismatches.is_empty() {
        report.note(
            NoteKind::Info,
            Text::msg("same-answers")
                .fact("sampled", sample.len())
                .fact("random", SAMPLED)
                .fact("checked", checked)
                .fact("mismatches", mismatches.len()),
        );
    } else {
        report.claim(
            Claim::new("same-answers", "", format!("{} / {checked}", mismatches.len()), false)
                .fact("sampled", sample.len())
                .fact("random", SAMPLED)
                .fact("checked", checked)
                .fact("mismatches", mismatches.len()),
        );
    }

    let growth = steps_last as f64 / steps_first.max(1) as f64;
    // Decided by counted work, not by timing: at least one step per row ahead, and far more than #1.
    let holds = steps_last >= members.saturating_sub(1) && steps_last > 100 * steps_first.max(1);
    report.claim(
        Claim::new(
            "sql-rank-work-grows",
            "",
            format!("{} → {} steps", format_count(steps_first), format_count(steps_last)),
            holds,
        )
        .fact("steps_first", steps_first)
        .fact("steps_last", steps_last)
        .fact("members", members)
        .fact("growth", Fact::Ratio(growth))
        .fact("sql_first", rank_first_sql.p50())
        .fact("sql_last", rank_last_sql.p50())
        .fact("redis_first", rank_first_redis.p50())
        .fact("redis_last", rank_last_redis.p50()),
    );
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn board(n: usize) -> Connection {
        let mut db = Connection::open_in_memory().unwrap();
        let data: Vec<(usize, u64)> = (0..n).map(|i| (i, (i % 7) as u64 * 10 + 1)).collect();
        load_sql(&mut db, &data).unwrap();
        db
    }

    #[test]
    fn traders_are_unique_and_data_is_seeded() {
        let all: std::collections::HashSet<String> = (0..100_000).map(trader).collect();
        assert_eq!(all.len(), 100_000);
        let a = trades(1_000).unwrap();
        assert_eq!(a, trades(1_000).unwrap());
        assert_eq!(a.len(), 4_000);
        assert!(a.iter().all(|&(i, v)| i < 1_000 && v >= 1));
    }

    #[test]
    fn sql_rank_counts_rows_ahead_with_ties_in_reverse_order() {
        let db = board(50);
        let top = sql_top(&db, 50).unwrap();
        for (i, (who, _)) in top.iter().enumerate() {
            assert_eq!(sql_rank(&db, who).unwrap().0, i as u64, "{who}");
        }
        // Ties (7 volume classes over 50 traders) are ordered by trader, descending.
        for w in top.windows(2) {
            assert!(w[0].1 > w[1].1 || (w[0].1 == w[1].1 && w[0].0 > w[1].0));
        }
        assert_eq!(sql_around(&db, 10, 3).unwrap(), top[10..13].to_vec());
    }

    #[test]
    fn rank_uses_the_index_and_its_work_grows_with_the_rank() {
        let db = board(5_000);
        let plan: String = db
            .prepare(&format!("EXPLAIN QUERY PLAN {RANK_SQL}"))
            .unwrap()
            .query_map(["x"], |r| r.get::<_, String>(3))
            .unwrap()
            .collect::<rusqlite::Result<Vec<_>>>()
            .unwrap()
            .join("; ");
        assert!(plan.contains("COVERING INDEX volumes_by_volume"), "{plan}");
        let top = sql_top(&db, 5_000).unwrap();
        let (_, first) = sql_rank(&db, &top[0].0).unwrap();
        let (_, last) = sql_rank(&db, &top[4_999].0).unwrap();
        assert!(last >= 4_999 && last > 100 * first, "{first} → {last}");
    }
}
