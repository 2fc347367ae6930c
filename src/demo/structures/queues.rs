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

use super::{mix, open_sql_worker, short, who_wins};
use crate::demo::{Ctx, DemoReport, NoteKind, run_together};
use crate::i18n::Lang;
use crate::measure::{Backend, Claim, format_count};
use crate::server::Version;
use crate::sql::{self, Durability};

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
    let mut report = DemoReport::new(
        "job-queue",
        ctx.tr(
            "Queues: a consumer crashes holding a job — BRPOP, BLMOVE, a jobs table",
            "队列：消费者拿着任务崩溃——BRPOP、BLMOVE 与任务表",
        ),
    );
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
    let label = |kind: Kind| match (kind, ctx.lang) {
        (Kind::Pop, _) => format!("LPUSH + BRPOP … {timeout}"),
        (Kind::Move, Lang::En) => format!("LPUSH + {take} → processing list, LREM"),
        (Kind::Move, Lang::Zh) => format!("LPUSH + {take} → 处理中列表，LREM"),
        (Kind::Table, Lang::En) => "SQLite jobs table, status column".to_string(),
        (Kind::Table, Lang::Zh) => "SQLite 任务表，status 列".to_string(),
    };
    let rows = [(Kind::Pop, &pop), (Kind::Move, &moved), (Kind::Table, &table)]
        .iter()
        .map(|(kind, o)| {
            vec![
                label(*kind),
                format_count(o.distinct()),
                o.stranded.to_string(),
                o.recovered.to_string(),
                o.lost().to_string(),
                o.duplicates().to_string(),
            ]
        })
        .collect();
    report.finding(
        match ctx.lang {
            Lang::En => format!(
                "{} jobs on {}, {workers} consumers; whoever takes job #{CRASH_JOB} is killed right after taking it",
                format_count(jobs),
                short(&ctx.key(QUEUE))
            ),
            Lang::Zh => format!(
                "{} 个任务放入 {}，{workers} 个消费者；谁拿到第 {CRASH_JOB} 号任务，谁就在拿到后立刻被杀掉",
                format_count(jobs),
                short(&ctx.key(QUEUE))
            ),
        },
        &[
            ctx.tr("queue", "队列"),
            ctx.tr("jobs done", "完成的任务"),
            ctx.tr("kept for the dead consumer", "为死掉的消费者保留的"),
            ctx.tr("handed back by the reaper", "被回收器交还的"),
            ctx.tr("lost", "丢失"),
            ctx.tr("done twice", "重复处理"),
        ],
        rows,
    );
    report.note(
        NoteKind::Simulated,
        match ctx.lang {
            Lang::En => format!(
                "the \"crash\": the consumer that takes job #{CRASH_JOB} stops right there, as a killed process would, without finishing the job or telling anyone; processing a job is just recording its number"
            ),
            Lang::Zh => format!(
                "所谓“崩溃”：拿到第 {CRASH_JOB} 号任务的消费者就停在那里，像进程被杀掉一样，既不完成任务也不通知任何人；“处理”任务只是记下它的编号"
            ),
        },
    );
    report.note(
        NoteKind::Info,
        match ctx.lang {
            Lang::En => format!(
                "Every blocking pop carries a timeout ({timeout} s); a consumer stops when its pop times out on an empty queue. The connection's read timeout is longer than that, as it must be: a client that gives up first makes redis-rs skip the late reply, and a job popped into it is lost. Here the reaper runs once the other consumers are done; a real one finds dead consumers by their expired heartbeat keys (lesson 8) and moves their processing lists back."
            ),
            Lang::Zh => format!(
                "每个阻塞弹出都带超时（{timeout} 秒）；队列为空、弹出超时后消费者就停止。连接的读超时必须比它长：客户端先放弃的话，redis-rs 会跳过迟到的回复，其中弹出的任务也就丢了。这里回收器在其他消费者结束后运行一次；真实的回收器通过过期的心跳键（第 8 课）发现死掉的消费者，把它们的处理中列表移回队列。"
            ),
        },
    );

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
            .op(
                "redis-job",
                match ctx.lang {
                    Lang::En => format!("Redis: LPUSH, {take}, LREM (3 round trips)"),
                    Lang::Zh => format!("Redis：LPUSH、{take}、LREM（3 次往返）"),
                },
                Backend::Redis,
                || {
                    redis::cmd("LPUSH").arg(&queue).arg(&payload).exec(&mut con)?;
                    let got = take_reliably(&mut con, version, &queue, &processing)?;
                    ensure!(got.as_deref() == Some(payload.as_str()), "the timed job did not come back");
                    let removed: i64 = redis::cmd("LREM").arg(&processing).arg(1).arg(&payload).query(&mut con)?;
                    ensure!(removed == 1, "the timed job was not in the processing list");
                    Ok(())
                },
            )
            .op(
                "sqlite-job",
                ctx.tr(
                    "SQLite: INSERT, claim UPDATE … RETURNING, UPDATE done (3 commits)",
                    "SQLite：INSERT、认领 UPDATE … RETURNING、UPDATE 完成（3 次提交）",
                ),
                Backend::Sqlite,
                || {
                    db.prepare_cached("INSERT INTO jobs (tx_hash) VALUES (?1)")?.execute([&payload])?;
                    let (id, _) =
                        claim(&db, "timed")?.ok_or_else(|| anyhow::anyhow!("the timed job was not queued"))?;
                    finish(&db, id, "timed")
                },
            )
            .run()?,
    );
    let (redis_job, sql_job) = (group.get("redis-job"), group.get("sqlite-job"));
    let per_job = report.compare("redis-job-vs-sqlite-job", redis_job, sql_job)?;
    report.note(
        NoteKind::Info,
        match ctx.lang {
            Lang::En => format!(
                "Honestly, per job: {}. Both queues are cheap; what differs is waiting. An idle BLMOVE consumer sleeps on the server and wakes the moment a job arrives; a table consumer must poll, trading latency against empty queries (lesson 5 measures that). With many consumers, MySQL 8 and PostgreSQL claim rows with SELECT … FOR UPDATE SKIP LOCKED; SQLite has one writer at a time. Streams with a consumer group (XREADGROUP, XACK, XAUTOCLAIM; lesson 5) give the same at-least-once guarantee with the bookkeeping built in.",
                who_wins(ctx, &per_job, redis_job, sql_job)
            ),
            Lang::Zh => format!(
                "实话实说，按单个任务算：{}。两种队列都不贵，差别在于等待。空闲的 BLMOVE 消费者在服务器上阻塞等待，任务一到立刻被唤醒；任务表的消费者只能轮询，要在延迟和空查询之间取舍（第 5 课测过）。消费者很多时，MySQL 8 和 PostgreSQL 用 SELECT … FOR UPDATE SKIP LOCKED 认领行；SQLite 同一时刻只有一个写者。带消费者组的 Stream（XREADGROUP、XACK、XAUTOCLAIM；第 5 课）提供同样的至少一次保证，而且记账是内置的。",
                who_wins(ctx, &per_job, redis_job, sql_job)
            ),
        },
    );

    let holds = pop.lost() == 1
        && pop.duplicates() == 0
        && moved.stranded == 1
        && moved.recovered == 1
        && moved.lost() == 0
        && moved.duplicates() == 0;
    let text = match ctx.lang {
        Lang::En => format!(
            "A consumer killed after BRPOP took job #{CRASH_JOB} with it: lost {} of {} jobs. With {take} into its processing list the job was still there (kept: {}), the reaper moved it back (handed back: {}) and it was done: lost {}, done twice {}",
            pop.lost(),
            format_count(jobs),
            moved.stranded,
            moved.recovered,
            moved.lost(),
            moved.duplicates()
        ),
        Lang::Zh => format!(
            "BRPOP 之后被杀掉的消费者把第 {CRASH_JOB} 号任务带走了：{} 个任务丢失 {} 个。用 {take} 移入它的处理中列表时，任务仍在列表里（{} 个），回收器把它移回队列（交还 {} 个）并被完成：丢失 {} 个，重复处理 {} 个",
            format_count(jobs),
            pop.lost(),
            moved.stranded,
            moved.recovered,
            moved.lost(),
            moved.duplicates()
        ),
    };
    report.claim(Claim::new(
        "processing-list-survives-crash",
        text,
        format!("{} → {}", pop.lost(), moved.lost()),
        holds,
    ));
    let text = match ctx.lang {
        Lang::En => format!(
            "The jobs table keeps a claimed row too: after the crash {} row stayed 'running' under the dead consumer, the reaper set {} back to 'queued', and lost was {} of {}",
            table.stranded,
            table.recovered,
            table.lost(),
            format_count(jobs)
        ),
        Lang::Zh => format!(
            "任务表同样保留被认领的行：崩溃后有 {} 行以死掉的消费者的名义停在 'running'，回收器把 {} 行改回 'queued'，{} 个任务丢失 {} 个",
            table.stranded,
            table.recovered,
            format_count(jobs),
            table.lost()
        ),
    };
    let holds = table.stranded == 1 && table.recovered == 1 && table.lost() == 0 && table.duplicates() == 0;
    report.claim(Claim::new(
        "jobs-table-survives-crash",
        text,
        format!("{} → {}", table.stranded, table.lost()),
        holds,
    ));
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
