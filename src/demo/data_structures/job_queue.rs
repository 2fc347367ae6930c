//! Queues (队列): the notes' on-chain tx-check jobs in a list. LPUSH + BRPOP loses the job a consumer
//! held when it crashed; BLMOVE into a per-consumer processing list keeps it there until LREM, so a
//! reaper can hand it back (at-least-once). The SQL side is a jobs table with a status column: the
//! claimed row survives a crash too, but a consumer cannot block on a table — it polls.

use std::collections::HashSet;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};

use anyhow::{Result, ensure};
use redis::ConnectionLike;
use rusqlite::{Connection, OptionalExtension, params};

use crate::demo::support::short;
use crate::demo::support::{SQL_WAIT, mix, who_wins};
use crate::demo::{Ctx, DemoReport, NoteKind, run_together};
use crate::measure::{Backend, Claim, format_count};
use crate::server::Version;
use crate::sql::{self, Durability};
use crate::text::Text;

/// The job whose consumer is killed right after taking it (the first time it is taken).
const CRASH_JOB: u64 = 37;
/// The queue, as the tx-check service would name it.
const QUEUE: &str = "queue:tx-check";

/// A job: its number and the transaction to check, e.g. `37:0x5be1…`.
fn job(id: u64) -> String {
    format!("{id}:0x{:016x}{:016x}", mix(id), mix(id ^ 0x5eed))
}

fn job_id(job: &str) -> Option<u64> {
    job.split_once(':')?.0.parse().ok()
}

/// A worker's own connection to the SQLite file.
fn open_sql_worker(path: &Path) -> Result<Connection> {
    sql::open_worker(path, SQL_WAIT)
}

fn consumer_name(i: usize) -> String {
    format!("tx-check-{}", i + 1)
}

/// The block timeout for BRPOP/BLMOVE: a fraction of a second where the server takes one (6.0+),
/// else the smallest whole second. A worker stops when a pop times out on an empty queue.
fn block_timeout(version: Version) -> &'static str {
    if version.at_least(6, 0) { "0.2" } else { "1" }
}

/// How the consumers take jobs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    /// LPUSH + BRPOP: the job leaves Redis when it is popped.
    Pop,
    /// LPUSH + BLMOVE into `processing:{consumer}`, LREM when done, a reaper for dead consumers.
    Move,
    /// A SQLite jobs table: claim with UPDATE … RETURNING, mark done, a reaper resets dead claims.
    Table,
}

/// What one kind of queue went through.
#[derive(Debug, Default)]
struct Outcome {
    jobs: u64,
    /// Every job id processed to the end, across all consumers and the recovery pass.
    processed: Vec<u64>,
    /// Jobs still held for the crashed consumer when the others had drained the queue.
    stranded: u64,
    /// Jobs the reaper handed back.
    recovered: u64,
}

impl Outcome {
    fn distinct(&self) -> u64 {
        self.processed.iter().collect::<HashSet<_>>().len() as u64
    }

    fn lost(&self) -> u64 {
        self.jobs.saturating_sub(self.distinct())
    }

    fn duplicates(&self) -> u64 {
        self.processed.len() as u64 - self.distinct()
    }
}

/// What one consumer did before its queue ran dry or it "crashed".
#[derive(Debug, Default)]
struct Consumed {
    processed: Vec<u64>,
    crashed: bool,
}

/// "Crash" the consumer that takes [`CRASH_JOB`] — once: the armed flag is spent by the first taker.
fn crashes_on(id: u64, armed: &AtomicBool) -> bool {
    id == CRASH_JOB && armed.swap(false, Ordering::SeqCst)
}

/// BRPOP until a pop times out; the job is gone from Redis the moment it is popped.
fn pop_worker(ctx: &Ctx, con: &mut impl ConnectionLike, queue: &str, armed: &AtomicBool) -> Result<Consumed> {
    let mut out = Consumed::default();
    let timeout = block_timeout(ctx.version());
    loop {
        ctx.check_interrupt()?;
        let popped: Option<(String, String)> = redis::cmd("BRPOP").arg(queue).arg(timeout).query(con)?;
        let Some((_, job)) = popped else { return Ok(out) };
        let id = job_id(&job).ok_or_else(|| anyhow::anyhow!("unexpected job {job:?}"))?;
        if crashes_on(id, armed) {
            out.crashed = true; // killed here: the job was popped and never finished
            return Ok(out);
        }
        out.processed.push(id);
    }
}

/// Move the oldest job into this consumer's processing list (BLMOVE, 6.2+; BRPOPLPUSH before).
fn take_reliably(
    con: &mut impl ConnectionLike,
    version: Version,
    queue: &str,
    processing: &str,
) -> Result<Option<String>> {
    let timeout = block_timeout(version);
    let cmd = if version.at_least(6, 2) {
        let mut c = redis::cmd("BLMOVE");
        c.arg(queue).arg(processing).arg("RIGHT").arg("LEFT").arg(timeout);
        c
    } else {
        let mut c = redis::cmd("BRPOPLPUSH");
        c.arg(queue).arg(processing).arg(timeout);
        c
    };
    Ok(cmd.query(con)?)
}

/// BLMOVE until a take times out; LREM from the processing list once a job is done.
fn move_worker(
    ctx: &Ctx,
    con: &mut impl ConnectionLike,
    queue: &str,
    processing: &str,
    armed: &AtomicBool,
) -> Result<Consumed> {
    let mut out = Consumed::default();
    loop {
        ctx.check_interrupt()?;
        let Some(job) = take_reliably(con, ctx.version(), queue, processing)? else { return Ok(out) };
        let id = job_id(&job).ok_or_else(|| anyhow::anyhow!("unexpected job {job:?}"))?;
        if crashes_on(id, armed) {
            out.crashed = true; // killed here: the job stays in our processing list
            return Ok(out);
        }
        out.processed.push(id);
        let removed: i64 = redis::cmd("LREM").arg(processing).arg(1).arg(&job).query(con)?;
        ensure!(removed == 1, "job {id} was not in {processing}");
    }
}

/// The reaper: move everything in a dead consumer's processing list back to the head of the queue
/// (LMOVE, 6.2+; RPOPLPUSH, which puts it at the tail, before). Returns how many it moved.
fn reap_list(con: &mut impl ConnectionLike, version: Version, processing: &str, queue: &str) -> Result<u64> {
    let mut moved = 0;
    loop {
        let job: Option<String> = if version.at_least(6, 2) {
            redis::cmd("LMOVE").arg(processing).arg(queue).arg("RIGHT").arg("RIGHT").query(con)?
        } else {
            redis::cmd("RPOPLPUSH").arg(processing).arg(queue).query(con)?
        };
        if job.is_none() {
            return Ok(moved);
        }
        moved += 1;
    }
}

fn fill_queue(con: &mut impl ConnectionLike, queue: &str, jobs: u64) -> Result<()> {
    redis::cmd("DEL").arg(queue).exec(con)?;
    for chunk in (1..=jobs).collect::<Vec<_>>().chunks(500) {
        let mut cmd = redis::cmd("LPUSH");
        cmd.arg(queue);
        for &id in chunk {
            cmd.arg(job(id));
        }
        cmd.exec(con)?;
    }
    Ok(())
}

/// N jobs, K consumers; one is killed after taking [`CRASH_JOB`]. Then, for BLMOVE, the reaper and
/// one recovery consumer.
fn redis_run(ctx: &Ctx, kind: Kind, jobs: u64, workers: usize) -> Result<Outcome> {
    let version = ctx.version();
    let queue = ctx.key(&format!("{QUEUE}:{}", if kind == Kind::Pop { "brpop" } else { "blmove" }));
    let processing = |i: usize| ctx.key(&format!("{QUEUE}:processing:{}", consumer_name(i)));
    let mut con = ctx.connect()?;
    fill_queue(&mut con, &queue, jobs)?;
    let armed = AtomicBool::new(true);
    let (results, _) = run_together(
        workers,
        |_| ctx.connect(),
        |i, mut con| match kind {
            Kind::Move => move_worker(ctx, &mut con, &queue, &processing(i), &armed),
            _ => pop_worker(ctx, &mut con, &queue, &armed),
        },
    )?;
    let mut out = Outcome { jobs, ..Outcome::default() };
    for r in &results {
        out.processed.extend(&r.processed);
    }
    if kind == Kind::Move {
        for (i, r) in results.iter().enumerate() {
            let held: u64 = redis::cmd("LLEN").arg(processing(i)).query(&mut con)?;
            if r.crashed {
                out.stranded += held;
                // A real reaper finds dead consumers by their expired heartbeat key (lesson 8).
                out.recovered += reap_list(&mut con, version, &processing(i), &queue)?;
            } else {
                ensure!(held == 0, "a healthy consumer left {held} job(s) in its processing list");
            }
        }
        if out.recovered > 0 {
            let recovery = consumer_name(workers);
            let again =
                move_worker(ctx, &mut con, &queue, &ctx.key(&format!("{QUEUE}:processing:{recovery}")), &armed)?;
            out.processed.extend(again.processed);
        }
    }
    Ok(out)
}

const JOBS_SCHEMA: &str = "CREATE TABLE IF NOT EXISTS jobs (
    id INTEGER PRIMARY KEY, tx_hash TEXT NOT NULL, status TEXT NOT NULL DEFAULT 'queued', worker TEXT);
CREATE INDEX IF NOT EXISTS jobs_by_status ON jobs (status, id);";

/// Claim the oldest queued job for `worker`, in one statement (SQLite runs one writer at a time).
fn claim(con: &Connection, worker: &str) -> Result<Option<(u64, String)>> {
    Ok(con
        .prepare_cached(
            "UPDATE jobs SET status = 'running', worker = ?1
             WHERE id = (SELECT id FROM jobs WHERE status = 'queued' ORDER BY id LIMIT 1)
             RETURNING id, tx_hash",
        )?
        .query_row([worker], |r| Ok((r.get::<_, i64>(0)? as u64, r.get(1)?)))
        .optional()?)
}

fn finish(con: &Connection, id: u64, worker: &str) -> Result<()> {
    let changed = con
        .prepare_cached("UPDATE jobs SET status = 'done' WHERE id = ?1 AND worker = ?2")?
        .execute(params![id as i64, worker])?;
    ensure!(changed == 1, "job {id} was not running for {worker}");
    Ok(())
}

/// Claim until nothing is queued. A live consumer would sleep and poll again here: a table cannot
/// block a reader until a row arrives.
fn table_worker(ctx: &Ctx, con: &Connection, worker: &str, armed: &AtomicBool) -> Result<Consumed> {
    let mut out = Consumed::default();
    loop {
        ctx.check_interrupt()?;
        let Some((id, _tx_hash)) = claim(con, worker)? else { return Ok(out) };
        if crashes_on(id, armed) {
            out.crashed = true; // killed here: the row stays 'running' under our name
            return Ok(out);
        }
        out.processed.push(id);
        finish(con, id, worker)?;
    }
}

fn table_run(ctx: &Ctx, path: &Path, jobs: u64, workers: usize) -> Result<Outcome> {
    let mut setup = open_sql_worker(path)?;
    let tx = setup.transaction()?;
    tx.execute("DELETE FROM jobs", [])?;
    {
        let mut insert = tx.prepare("INSERT INTO jobs (id, tx_hash) VALUES (?1, ?2)")?;
        for id in 1..=jobs {
            insert.execute(params![id as i64, job(id)])?;
        }
    }
    tx.commit()?;
    let armed = AtomicBool::new(true);
    let (results, _) =
        run_together(workers, |_| open_sql_worker(path), |i, con| table_worker(ctx, &con, &consumer_name(i), &armed))?;
    let mut out = Outcome { jobs, ..Outcome::default() };
    for (i, r) in results.iter().enumerate() {
        out.processed.extend(&r.processed);
        if r.crashed {
            let name = consumer_name(i);
            out.stranded +=
                setup.query_row("SELECT COUNT(*) FROM jobs WHERE status = 'running' AND worker = ?1", [&name], |r| {
                    r.get::<_, i64>(0)
                })? as u64;
            out.recovered += setup.execute(
                "UPDATE jobs SET status = 'queued', worker = NULL WHERE status = 'running' AND worker = ?1",
                [&name],
            )? as u64;
        }
    }
    if out.recovered > 0 {
        let again = table_worker(ctx, &setup, &consumer_name(workers), &armed)?;
        out.processed.extend(again.processed);
    }
    Ok(out)
}

/// N tx-check jobs through three queues, one consumer killed mid-job in each; then one job timed
/// through Redis and through the table.
pub fn job_queue(ctx: &Ctx) -> Result<DemoReport> {
    let mut report = DemoReport::new("job-queue", Text::msg("title"));
    let version = ctx.version();
    let jobs = ctx.n(1_000, 200) as u64;
    let workers = ctx.n(4, 3);
    let pop = redis_run(ctx, Kind::Pop, jobs, workers)?;
    let moved = redis_run(ctx, Kind::Move, jobs, workers)?;
    let path = ctx.scratch.join("structures-jobs.db");
    sql::open_file(&path, Durability::Off)?.execute_batch(JOBS_SCHEMA)?;
    let table = table_run(ctx, &path, jobs, workers)?;

    let take = if version.at_least(6, 2) { "BLMOVE" } else { "BRPOPLPUSH" };
    let timeout = block_timeout(version);
    let label = |kind: Kind| match kind {
        Kind::Pop => Text::Plain(format!("LPUSH + BRPOP … {timeout}")),
        Kind::Move => Text::msg("queue.move").fact("take", take),
        Kind::Table => Text::msg("queue.table"),
    };
    let rows = [(Kind::Pop, &pop), (Kind::Move, &moved), (Kind::Table, &table)]
        .iter()
        .map(|(kind, o)| {
            vec![
                label(*kind),
                Text::Plain(format_count(o.distinct())),
                Text::Plain(o.stranded.to_string()),
                Text::Plain(o.recovered.to_string()),
                Text::Plain(o.lost().to_string()),
                Text::Plain(o.duplicates().to_string()),
            ]
        })
        .collect();
    report.table(
        Text::msg("crash")
            .fact("jobs", jobs)
            .fact("queue", short(&ctx.key(QUEUE)))
            .fact("workers", workers)
            .fact("crash_job", CRASH_JOB),
        &["queue", "done", "kept", "handed-back", "lost", "done-twice"],
        rows,
    );
    report.note(NoteKind::Simulated, Text::msg("simulated-crash").fact("crash_job", CRASH_JOB));
    report.note(NoteKind::Info, Text::msg("timeouts").fact("timeout", timeout));

    // One job end to end, uncontended: producer, consumer take, consumer done.
    let mut con = ctx.connect()?;
    let queue = ctx.key(&format!("{QUEUE}:timed"));
    let processing = ctx.key(&format!("{QUEUE}:processing:timed"));
    let payload = job(1);
    let db = open_sql_worker(&path)?;
    // Both queues take turns in rounds, each on its own connection.
    let group = report.measured_group(
        ctx.sampler
            .group()
            .op("redis-job", format!("LPUSH, {take}, LREM"), Backend::Redis, || {
                redis::cmd("LPUSH").arg(&queue).arg(&payload).exec(&mut con)?;
                let got = take_reliably(&mut con, version, &queue, &processing)?;
                ensure!(got.as_deref() == Some(payload.as_str()), "the timed job did not come back");
                let removed: i64 = redis::cmd("LREM").arg(&processing).arg(1).arg(&payload).query(&mut con)?;
                ensure!(removed == 1, "the timed job was not in the processing list");
                Ok(())
            })
            .op("sqlite-job", "SQLite INSERT, UPDATE, UPDATE", Backend::Sqlite, || {
                db.prepare_cached("INSERT INTO jobs (tx_hash) VALUES (?1)")?.execute([&payload])?;
                let (id, _) = claim(&db, "timed")?.ok_or_else(|| anyhow::anyhow!("the timed job was not queued"))?;
                finish(&db, id, "timed")
            })
            .run()?,
    );
    let (redis_job, sql_job) = (group.get("redis-job"), group.get("sqlite-job"));
    let per_job = report.compare("redis-job-vs-sqlite-job", redis_job, sql_job)?;
    report.note(NoteKind::Info, who_wins("per-job", &per_job, redis_job, sql_job).fact("take", take));
    report.note(NoteKind::Info, Text::msg("waiting"));

    let holds = pop.lost() == 1
        && pop.duplicates() == 0
        && moved.stranded == 1
        && moved.recovered == 1
        && moved.lost() == 0
        && moved.duplicates() == 0;
    report.claim(
        Claim::new("processing-list-survives-crash", "", format!("{} → {}", pop.lost(), moved.lost()), holds)
            .fact("crash_job", CRASH_JOB)
            .fact("pop_lost", pop.lost())
            .fact("jobs", jobs)
            .fact("take", take)
            .fact("kept", moved.stranded)
            .fact("handed_back", moved.recovered)
            .fact("move_lost", moved.lost())
            .fact("done_twice", moved.duplicates()),
    );
    let holds = table.stranded == 1 && table.recovered == 1 && table.lost() == 0 && table.duplicates() == 0;
    report.claim(
        Claim::new("jobs-table-survives-crash", "", format!("{} → {}", table.stranded, table.lost()), holds)
            .fact("kept", table.stranded)
            .fact("handed_back", table.recovered)
            .fact("lost", table.lost())
            .fact("jobs", jobs),
    );
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jobs_carry_their_number_and_are_unique() {
        assert_eq!(job_id(&job(37)), Some(37));
        let all: HashSet<String> = (1..=5_000).map(job).collect();
        assert_eq!(all.len(), 5_000);
        assert_eq!(job_id("nonsense"), None);
    }

    #[test]
    fn only_the_first_taker_of_the_crash_job_crashes() {
        let armed = AtomicBool::new(true);
        assert!(!crashes_on(36, &armed));
        assert!(crashes_on(CRASH_JOB, &armed));
        assert!(!crashes_on(CRASH_JOB, &armed), "the redelivered job must be processed");
    }

    #[test]
    fn lost_and_duplicates_come_from_the_processed_ids() {
        let o = Outcome { jobs: 5, processed: vec![1, 2, 2, 4, 5], ..Outcome::default() };
        assert_eq!((o.distinct(), o.lost(), o.duplicates()), (4, 1, 1));
    }

    #[test]
    fn block_timeouts_are_fractional_only_where_supported() {
        assert_eq!(block_timeout(Version(7, 0, 15)), "0.2");
        assert_eq!(block_timeout(Version(5, 0, 7)), "1");
    }

    #[test]
    fn a_crashed_table_worker_leaves_its_row_running_and_the_reaper_requeues_it() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("j.db");
        sql::open_file(&path, Durability::Off).unwrap().execute_batch(JOBS_SCHEMA).unwrap();
        let con = open_sql_worker(&path).unwrap();
        for id in 1..=3_u64 {
            con.execute("INSERT INTO jobs (id, tx_hash) VALUES (?1, ?2)", params![id as i64, job(id)]).unwrap();
        }
        assert_eq!(claim(&con, "a").unwrap().map(|(id, _)| id), Some(1));
        assert_eq!(claim(&con, "b").unwrap().map(|(id, _)| id), Some(2));
        finish(&con, 2, "b").unwrap();
        assert!(finish(&con, 1, "b").is_err(), "b finished a's job");
        let requeued = con
            .execute("UPDATE jobs SET status = 'queued', worker = NULL WHERE status = 'running' AND worker = 'a'", []);
        assert_eq!(requeued.unwrap(), 1);
        assert_eq!(claim(&con, "c").unwrap().map(|(id, _)| id), Some(1));
    }
}
