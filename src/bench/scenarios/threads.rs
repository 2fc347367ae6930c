//! The two scenarios with threads: `clients` (N connections reading at once) and `pubsub-fanout`
//! (N subscriber connections). Points are still interleaved round by round, so ratios between them
//! get intervals like any other sweep.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, mpsc};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, anyhow, bail};

use super::{compare, ends, label, load_keys, op_id, split, sqlite_file};
use crate::bench::{Env, Outcome, Point, PointResult, SeriesResult};
use crate::measure::{Backend, Claim, Kind, Measurement, new_group};

/// More subscribers must take at least this much longer to reach (one connection written per
/// subscriber; on 2 cores 1 → 4 measured 1.34–1.50× while other tests ran, so not 1.5×).
const FANOUT_MIN_RATIO: f64 = 1.2;

/// Run `op` on `n` threads (thread t owns `cons[t]`) for `slice`; every operation's latency, and
/// operations per second all threads together.
fn slice<C: Send>(
    cons: &[Mutex<C>],
    n: usize,
    slice: Duration,
    op: &(dyn Fn(&mut C, u64) -> Result<()> + Sync),
) -> Result<(Vec<Duration>, f64)> {
    let start = Instant::now();
    let results: Vec<Result<Vec<Duration>>> = std::thread::scope(|s| {
        let handles: Vec<_> = cons[..n]
            .iter()
            .enumerate()
            .map(|(t, con)| {
                s.spawn(move || {
                    let mut con = con.lock().map_err(|_| anyhow!("a client thread panicked"))?;
                    let mut lat = Vec::with_capacity(256);
                    let mut i = t as u64 * 101;
                    let deadline = start + slice;
                    // At least one operation each, even when spawning took the whole slice.
                    loop {
                        let t0 = Instant::now();
                        op(&mut con, i)?;
                        lat.push(t0.elapsed());
                        i += 7_919;
                        if Instant::now() >= deadline {
                            break;
                        }
                    }
                    Ok(lat)
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap_or_else(|_| Err(anyhow!("a client thread panicked")))).collect()
    });
    let wall = start.elapsed().as_secs_f64();
    let mut all = Vec::new();
    for r in results {
        all.extend(r?);
    }
    let per_sec = if wall > 0.0 { all.len() as f64 / wall } else { 0.0 };
    Ok((all, per_sec))
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v.get(v.len().saturating_sub(1) / 2).copied().unwrap_or(0.0)
}

const KEYS: u64 = 1_000;

pub fn clients(env: &mut Env, points: &[Point]) -> Result<Outcome> {
    let budget = env.budget();
    let rounds = budget.rounds.max(6);
    // Each point and series gets this much wall time a round (at least 5 ms, so a round has samples).
    let per = (budget.target / rounds as u32).max(Duration::from_millis(5));
    let most = points.iter().map(|p| p.num("clients") as usize).max().unwrap_or(1).max(1);
    let mut first = env.redis.raw_connection()?;
    load_keys(env, &mut first, "cl", KEYS, b"v")?;
    let mut redis_cons = vec![Mutex::new(first)];
    for _ in 1..most {
        redis_cons.push(Mutex::new(env.redis.raw_connection().context("opening a client connection")?));
    }
    let writer = sqlite_file(env, "clients", "OFF")?;
    {
        let tx = writer.unchecked_transaction()?;
        for k in 0..KEYS {
            tx.execute("INSERT INTO kv (k, v) VALUES (?1, 'v')", [k as i64])?;
        }
        tx.commit()?;
    }
    let path = env.scratch.path().join("clients.db");
    let mut sql_cons = Vec::new();
    for _ in 0..most {
        sql_cons.push(Mutex::new(crate::sql::open_worker(&path, Duration::from_secs(5))?));
    }
    let ns = env.ns.clone();
    let redis_op = move |con: &mut redis::Connection, i: u64| -> Result<()> {
        let _: Option<String> = redis::cmd("GET").arg(ns.key(&format!("cl:{}", i % KEYS))).query(con)?;
        Ok(())
    };
    let sql_op = |con: &mut rusqlite::Connection, i: u64| -> Result<()> {
        let mut st = con.prepare_cached("SELECT v FROM kv WHERE k = ?1")?;
        let _: String = st.query_row([(i % KEYS) as i64], |r| r.get(0))?;
        Ok(())
    };
    // With --sql-url, a third series: the SQL server, one connection per client thread.
    let _table = match &env.settings.sql_url {
        Some(url) => Some(super::RemoteTable::create(env, url, KEYS)?),
        None => None,
    };
    let mut remote_cons = Vec::new();
    if let (Some(url), Some(table)) = (&env.settings.sql_url, &_table) {
        for _ in 0..most {
            let mut server = crate::sql::remote::SqlServer::connect(url, env.settings.allow_remote)?;
            let read = server.prepare(&format!("SELECT v FROM {} WHERE id = ?", table.table))?;
            remote_cons.push(Mutex::new((server, read)));
        }
    }
    let remote_op = |con: &mut (crate::sql::remote::SqlServer, crate::sql::remote::Prepared), i: u64| -> Result<()> {
        let rows = con.0.query(&con.1, &[crate::sql::remote::Param::Int((i % KEYS) as i64)])?;
        if rows.is_empty() {
            bail!("row {} missing on the SQL server", i % KEYS);
        }
        Ok(())
    };
    let kinds = if remote_cons.is_empty() { 2 } else { 3 };
    let n = points.len();
    // [point][series] → rounds of latencies, and per-round throughputs.
    let mut lat: Vec<Vec<Vec<Vec<Duration>>>> = vec![vec![Vec::new(); kinds]; n];
    let mut thr: Vec<Vec<Vec<f64>>> = vec![vec![Vec::new(); kinds]; n];
    for round in 0..rounds {
        let order: Vec<usize> = if round % 2 == 0 { (0..n).collect() } else { (0..n).rev().collect() };
        for i in order {
            env.interrupt.check()?;
            let c = points[i].num("clients") as usize;
            let (l, t) = slice(&redis_cons, c, per, &redis_op)?;
            lat[i][0].push(l);
            thr[i][0].push(t);
            let (l, t) = slice(&sql_cons, c, per, &sql_op)?;
            lat[i][1].push(l);
            thr[i][1].push(t);
            if kinds == 3 {
                let (l, t) = slice(&remote_cons, c, per, &remote_op)?;
                lat[i][2].push(l);
                thr[i][2].push(t);
            }
        }
    }
    let group = new_group();
    let mut results = Vec::new();
    for (i, p) in points.iter().enumerate() {
        let mut series = Vec::new();
        let all = [
            ("redis-get", Backend::Redis),
            ("sqlite-pk-read", Backend::Sqlite),
            ("network-sql-pk-read", Backend::NetworkSql),
        ];
        for (s, (id, backend)) in all.iter().take(kinds).enumerate() {
            let m = Measurement::from_rounds(
                op_id(id, i),
                label(env, id, p),
                *backend,
                Kind::Throughput,
                group,
                1,
                &lat[i][s],
            )?;
            let mut r = SeriesResult::new(id, m);
            r.throughput = Some(median(std::mem::take(&mut thr[i][s])));
            series.push(r);
        }
        results.push(PointResult { point: p.clone(), series });
    }
    let mut out = Outcome { points: results, ..Outcome::default() };
    let (lo, hi) = ends(points, "clients");
    if lo != hi
        && let Some(c) = compare(&mut out, "one-vs-many", ("redis-get", lo), ("redis-get", hi))?
    {
        let tput = |i: usize| out.points[i].series[0].throughput.unwrap_or(0.0);
        let claim = Claim::ratio_above("clients-wait", "", &c, 1.5)
            .fact("few", points[lo].num("clients"))
            .fact("many", points[hi].num("clients"))
            .fact("ratio", crate::text::Fact::Ratio(c.ratio))
            .fact("few_tput", tput(lo).round() as u64)
            .fact("many_tput", tput(hi).round() as u64);
        out.claims.push(claim);
    }
    Ok(out)
}

/// How long a subscriber waits for a message before it looks at the stop flag.
const READ_TIMEOUT: Duration = Duration::from_millis(100);
/// How long the publisher waits for every subscriber to have one message.
const DELIVERY_TIMEOUT: Duration = Duration::from_secs(5);

pub fn fanout(env: &mut Env, points: &[Point]) -> Result<Outcome> {
    let stop = AtomicBool::new(false);
    let ns = env.ns.clone();
    let result = std::thread::scope(|s| -> Result<Outcome> {
        // Whatever happens below, the subscribers stop before the scope waits for them.
        let _stop = StopOnDrop(&stop);
        let mut receivers = Vec::new();
        let mut handles = Vec::new();
        for p in points {
            let n = p.num("subscribers");
            let channel = ns.key(&format!("fan:{n}"));
            let (tx, rx) = mpsc::channel::<()>();
            for _ in 0..n {
                let con = env.redis.raw_connection().context("opening a subscriber connection")?;
                let (tx, channel, stop) = (tx.clone(), channel.clone(), &stop);
                handles.push(s.spawn(move || subscriber(con, &channel, tx, stop)));
            }
            receivers.push((channel, n, rx));
        }
        let mut publisher = env.redis.raw_connection()?;
        let deadline = Instant::now() + Duration::from_secs(10);
        for (channel, n, _) in &receivers {
            loop {
                env.interrupt.check()?;
                let (_, got): (String, u64) = redis::cmd("PUBSUB").arg("NUMSUB").arg(channel).query(&mut publisher)?;
                if got == *n {
                    break;
                }
                if Instant::now() > deadline {
                    bail!("PUBSUB NUMSUB {channel} is {got}, expected {n}: a subscriber did not register");
                }
                std::thread::sleep(Duration::from_millis(5));
            }
        }
        let publisher = std::cell::RefCell::new(publisher);
        let mut group = env.sampler().group();
        for (i, (p, (channel, n, rx))) in points.iter().zip(&receivers).enumerate() {
            let publisher = &publisher;
            group = group.op(&op_id("redis-fanout", i), label(env, "redis-fanout", p), Backend::Redis, move || {
                let reached: u64 = redis::cmd("PUBLISH").arg(channel).arg("m").query(&mut *publisher.borrow_mut())?;
                if reached != *n {
                    bail!("PUBLISH reached {reached} subscribers, expected {n}");
                }
                for _ in 0..*n {
                    rx.recv_timeout(DELIVERY_TIMEOUT).map_err(|_| anyhow!("a subscriber did not get the message"))?;
                }
                Ok(())
            });
        }
        let measured = group.run();
        stop.store(true, Ordering::SeqCst);
        for h in handles {
            h.join().map_err(|_| anyhow!("a subscriber thread panicked"))??;
        }
        Ok(Outcome { points: split(measured?, points), ..Outcome::default() })
    });
    stop.store(true, Ordering::SeqCst);
    let mut out = result?;
    let (lo, hi) = ends(points, "subscribers");
    if lo != hi
        && let Some(c) = compare(&mut out, "few-vs-many", ("redis-fanout", lo), ("redis-fanout", hi))?
    {
        out.claims.push(
            Claim::ratio_above("fanout-grows", "", &c, FANOUT_MIN_RATIO)
                .fact("threshold", crate::text::Fact::Ratio(FANOUT_MIN_RATIO))
                .fact("few", points[lo].num("subscribers"))
                .fact("many", points[hi].num("subscribers"))
                .fact("ratio", crate::text::Fact::Ratio(c.ratio)),
        );
    }
    Ok(out)
}

fn subscriber(mut con: redis::Connection, channel: &str, tx: mpsc::Sender<()>, stop: &AtomicBool) -> Result<()> {
    let mut ps = con.as_pubsub();
    ps.set_read_timeout(Some(READ_TIMEOUT))?;
    ps.subscribe(channel).with_context(|| format!("SUBSCRIBE {channel}"))?;
    while !stop.load(Ordering::SeqCst) {
        match ps.get_message() {
            Ok(_) => {
                let _ = tx.send(());
            }
            Err(e) if e.is_timeout() => {}
            Err(e) => return Err(e).context("reading Pub/Sub messages"),
        }
    }
    Ok(())
}

/// Sets the flag when dropped.
struct StopOnDrop<'a>(&'a AtomicBool);

impl Drop for StopOnDrop<'_> {
    fn drop(&mut self) {
        self.0.store(true, Ordering::SeqCst);
    }
}
