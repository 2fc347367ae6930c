//! The scenarios themselves. Each builds its data under the run's namespace (and in SQLite files in
//! the scratch dir), measures every point of the sweep interleaved in one group, and states its
//! claim as typed facts; the words are in `words.toml`.

mod threads;

use std::cell::RefCell;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use rusqlite::Connection;

use super::{Env, Outcome, ParamSpec, Point, PointResult, ScenarioName, SeriesResult, Unit};
use crate::measure::{Backend, Claim, ClaimStatus, Comparison, Measured, Measurement};

/// Every series id a scenario may report (each has a label in `words.toml`).
#[cfg_attr(not(test), allow(dead_code))]
pub const SERIES: &[&str] = &[
    "redis-get-pipelined",
    "redis-get",
    "sqlite-pk-read",
    "network-sql-pk-read",
    "sqlite-full-scan",
    "redis-set",
    "sqlite-commit",
    "redis-incr",
    "redis-get-set",
    "sqlite-update",
    "redis-zrangebyscore",
    "sqlite-range",
    "redis-lock-cycle",
    "sqlite-begin-immediate",
    "redis-fanout",
];

const fn param(
    key: &'static str,
    unit: Unit,
    full: &'static [&'static str],
    quick: &'static [&'static str],
    max: u64,
) -> ParamSpec {
    ParamSpec { key, unit, full, quick, max }
}

pub fn params(name: ScenarioName) -> &'static [ParamSpec] {
    const PIPELINE: &[ParamSpec] =
        &[param("depth", Unit::Count, &["1", "4", "16", "64", "256"], &["1", "4", "16", "64", "256"], 10_000)];
    const POINT_READ: &[ParamSpec] = &[param("keys", Unit::Count, &["10000"], &["1000"], 1_000_000)];
    const DATASET: &[ParamSpec] =
        &[param("keys", Unit::Count, &["1000", "10000", "100000", "1000000"], &["1000", "10000", "100000"], 2_000_000)];
    const VALUE: &[ParamSpec] =
        &[param("bytes", Unit::Bytes, &["16", "256", "4096", "65536", "1048576"], &["16", "4096", "1048576"], 8 << 20)];
    const CLIENTS: &[ParamSpec] = &[param("clients", Unit::Count, &["1", "2", "4", "8", "16"], &["1", "4", "16"], 256)];
    const DURABLE: &[ParamSpec] = &[param("fsync", Unit::Name, &["everysec", "always"], &["everysec", "always"], 0)];
    const ZSET: &[ParamSpec] = &[param("count", Unit::Count, &["10", "100", "1000"], &["10", "1000"], 10_000)];
    const FANOUT: &[ParamSpec] = &[param("subscribers", Unit::Count, &["1", "4", "16", "64"], &["1", "16"], 256)];
    match name {
        ScenarioName::Pipeline => PIPELINE,
        ScenarioName::PointRead => POINT_READ,
        ScenarioName::DatasetSize => DATASET,
        ScenarioName::ValueSize => VALUE,
        ScenarioName::Clients => CLIENTS,
        ScenarioName::DurableWrite => DURABLE,
        ScenarioName::ZsetRange => ZSET,
        ScenarioName::PubsubFanout => FANOUT,
        ScenarioName::Counter | ScenarioName::LockCycle => &[],
    }
}

pub fn run(env: &mut Env, name: ScenarioName, points: &[Point]) -> Result<Outcome> {
    let mut outcome = match name {
        ScenarioName::Pipeline => pipeline(env, points),
        ScenarioName::PointRead => point_read(env, points),
        ScenarioName::DatasetSize => dataset_size(env, points),
        ScenarioName::ValueSize => value_size(env, points),
        ScenarioName::Clients => threads::clients(env, points),
        ScenarioName::DurableWrite => durable_write(env, points),
        ScenarioName::Counter => counter(env, points),
        ScenarioName::ZsetRange => zset_range(env, points),
        ScenarioName::LockCycle => lock_cycle(env, points),
        ScenarioName::PubsubFanout => threads::fanout(env, points),
    }?;
    auto_comparisons(&mut outcome)?;
    Ok(outcome)
}

/// The id of one operation of the interleaved group: series and point index.
fn op_id(series: &str, i: usize) -> String {
    format!("{series}@{i}")
}

fn label(env: &Env, series: &str, point: &Point) -> String {
    let name = super::words::series(env.settings.lang, series);
    if point.0.is_empty() { name } else { format!("{name} ({})", point.label()) }
}

/// Split a group's measurements back into points.
fn split(measured: Measured, points: &[Point]) -> Vec<PointResult> {
    let mut out: Vec<PointResult> =
        points.iter().map(|p| PointResult { point: p.clone(), series: Vec::new() }).collect();
    for m in measured.0 {
        if let Some((series, i)) = m.id.rsplit_once('@')
            && let Ok(i) = i.parse::<usize>()
            && let Some(p) = out.get_mut(i)
        {
            p.series.push(SeriesResult::new(series, m.clone()));
        }
    }
    out
}

fn find<'a>(points: &'a [PointResult], series: &str, i: usize) -> Option<&'a Measurement> {
    points.get(i)?.series.iter().find(|s| s.series == series).map(|s| &s.m)
}

/// Compare `a` with `b` (a's ratio above 1: a was faster per operation), when both were measured.
fn compare(out: &mut Outcome, id: &str, a: (&str, usize), b: (&str, usize)) -> Result<Option<Comparison>> {
    let (Some(ma), Some(mb)) = (find(&out.points, a.0, a.1), find(&out.points, b.0, b.1)) else { return Ok(None) };
    let c = Comparison::of(id, ma, mb)?;
    if !out.comparisons.iter().any(|x| (x.a == c.a && x.b == c.b) || (x.a == c.b && x.b == c.a)) {
        out.comparisons.push(c.clone());
    }
    Ok(Some(c))
}

/// Within a point, the first series against each other one; along the sweep, each series' last
/// point against its first.
fn auto_comparisons(out: &mut Outcome) -> Result<()> {
    let n = out.points.len();
    for i in 0..n {
        let ids: Vec<String> = out.points[i].series.iter().map(|s| s.series.clone()).collect();
        for other in ids.iter().skip(1) {
            compare(out, &format!("{}-vs-{other}@{i}", ids[0]), (&ids[0], i), (other, i))?;
        }
    }
    if n > 1 {
        let ids: Vec<String> = out.points[0].series.iter().map(|s| s.series.clone()).collect();
        for id in &ids {
            compare(out, &format!("{id}@{}-vs-{id}@0", n - 1), (id, n - 1), (id, 0))?;
        }
    }
    Ok(())
}

/// Index of the point with the smallest and the largest value of `key`.
fn ends(points: &[Point], key: &str) -> (usize, usize) {
    let nums: Vec<u64> = points.iter().map(|p| p.num(key)).collect();
    let lo = (0..nums.len()).min_by_key(|&i| nums[i]).unwrap_or(0);
    let hi = (0..nums.len()).max_by_key(|&i| nums[i]).unwrap_or(0);
    (lo, hi)
}

fn pause_check(env: &Env) -> Result<()> {
    env.interrupt.check()?;
    crate::interrupt::heartbeat();
    Ok(())
}

/// SET `count` keys `prefix:0..count` to `value`, pipelined in chunks.
fn load_keys(env: &Env, con: &mut redis::Connection, prefix: &str, count: u64, value: &[u8]) -> Result<()> {
    let mut i = 0;
    while i < count {
        let mut pipe = redis::pipe();
        for j in i..(i + 1_000).min(count) {
            pipe.cmd("SET").arg(env.ns.key(&format!("{prefix}:{j}"))).arg(value).ignore();
        }
        pipe.exec(con).context("loading keys")?;
        i += 1_000;
        pause_check(env)?;
    }
    Ok(())
}

/// An in-memory table `name(id INTEGER PRIMARY KEY, v TEXT, tag INTEGER)` with `rows` rows.
fn load_table(env: &Env, sql: &Connection, name: &str, rows: u64) -> Result<()> {
    sql.execute_batch(&format!("CREATE TABLE {name} (id INTEGER PRIMARY KEY, v TEXT NOT NULL, tag INTEGER NOT NULL)"))?;
    let tx = sql.unchecked_transaction()?;
    {
        let mut insert = tx.prepare(&format!("INSERT INTO {name} (id, v, tag) VALUES (?1, ?2, ?3)"))?;
        for id in 0..rows {
            insert.execute(rusqlite::params![id as i64, "v", (id % 1_000) as i64])?;
            if id % 50_000 == 0 {
                pause_check(env)?;
            }
        }
    }
    tx.commit()?;
    Ok(())
}

/// Visits 0..n in a scattered order (a stride coprime with n), so reads are not all one key.
struct Cursor {
    at: u64,
    n: u64,
}

impl Cursor {
    fn new(n: u64) -> Cursor {
        Cursor { at: 0, n: n.max(1) }
    }

    fn next(&mut self) -> u64 {
        self.at = (self.at + 7_919) % self.n;
        self.at
    }
}

fn pipeline(env: &mut Env, points: &[Point]) -> Result<Outcome> {
    let con = RefCell::new(env.redis.raw_connection()?);
    let key = env.ns.key("pipeline:k");
    redis::cmd("SET").arg(&key).arg("v").exec(&mut *con.borrow_mut())?;
    let mut group = env.sampler().group();
    for (i, p) in points.iter().enumerate() {
        let depth = p.num("depth").max(1);
        let mut pipe = redis::pipe();
        for _ in 0..depth {
            pipe.cmd("GET").arg(&key);
        }
        let (con, label) = (&con, label(env, "redis-get-pipelined", p));
        group = group.batch(&op_id("redis-get-pipelined", i), label, Backend::Redis, depth as u32, move || {
            pipe.exec(&mut *con.borrow_mut())?;
            Ok(())
        });
        if depth == 1 {
            group = group.one_round_trip();
        }
    }
    let mut out = Outcome { points: split(group.run()?, points), ..Outcome::default() };
    let (lo, hi) = ends(points, "depth");
    let (d_lo, d_hi) = (points[lo].num("depth"), points[hi].num("depth"));
    if lo != hi
        && let Some(c) = compare(&mut out, "deep-vs-shallow", ("redis-get-pipelined", hi), ("redis-get-pipelined", lo))?
    {
        // A pipeline 16 deep or more shares one round trip among many commands: per command it must
        // cost under a quarter of an unpipelined one.
        let threshold = if d_lo == 1 && d_hi >= 16 { 4.0 } else { 1.0 };
        out.claims.push(
            Claim::ratio_above("per-op-cost-falls", "", &c, threshold)
                .fact("deep", d_hi)
                .fact("shallow", d_lo)
                .fact("ratio", crate::text::Fact::Ratio(c.ratio))
                .fact("threshold", crate::text::Fact::Ratio(threshold)),
        );
    }
    Ok(out)
}

fn point_read(env: &mut Env, points: &[Point]) -> Result<Outcome> {
    let n = points[0].num("keys").max(1);
    let con = RefCell::new(env.redis.raw_connection()?);
    load_keys(env, &mut con.borrow_mut(), "pr", n, b"v")?;
    let sql = crate::sql::open_memory()?;
    load_table(env, &sql, "pr", n)?;
    let mut remote = match &env.settings.sql_url {
        Some(url) => Some(RemoteTable::create(env, url, n)?),
        None => None,
    };
    let p = &points[0];
    let (mut c1, mut c2, mut c3) = (Cursor::new(n), Cursor::new(n), Cursor::new(n));
    let ns = env.ns.clone();
    let mut group = env
        .sampler()
        .group()
        .op(&op_id("redis-get", 0), label(env, "redis-get", p), Backend::Redis, || {
            let _: Option<String> =
                redis::cmd("GET").arg(ns.key(&format!("pr:{}", c1.next()))).query(&mut *con.borrow_mut())?;
            Ok(())
        })
        .one_round_trip()
        .op(&op_id("sqlite-pk-read", 0), label(env, "sqlite-pk-read", p), Backend::Sqlite, || {
            let mut st = sql.prepare_cached("SELECT v FROM pr WHERE id = ?1")?;
            let _: String = st.query_row([c2.next() as i64], |r| r.get(0))?;
            Ok(())
        });
    if let Some(remote) = remote.as_mut() {
        let network_label = label(env, "network-sql-pk-read", p);
        group = group
            .op(&op_id("network-sql-pk-read", 0), network_label, Backend::NetworkSql, move || remote.read(c3.next()));
    }
    let measured = group.run();
    let mut out = Outcome { points: split(measured?, points), ..Outcome::default() };
    if let Some(c) = compare(&mut out, "sqlite-vs-redis", ("sqlite-pk-read", 0), ("redis-get", 0))? {
        out.claims
            .push(Claim::ratio_above("in-process-wins", "", &c, 1.0).fact("ratio", crate::text::Fact::Ratio(c.ratio)));
    }
    if let Some(c) = compare(&mut out, "redis-vs-network-sql", ("redis-get", 0), ("network-sql-pk-read", 0))? {
        out.claims.push(
            Claim::ratio_above("redis-beats-network-sql", "", &c, 1.0).fact("ratio", crate::text::Fact::Ratio(c.ratio)),
        );
    } else {
        env.notes.push("no-sql-url".into());
    }
    Ok(out)
}

/// A table on the networked SQL server, named after the run, dropped on drop.
struct RemoteTable {
    server: crate::sql::remote::SqlServer,
    table: String,
    read: Option<crate::sql::remote::Prepared>,
}

impl RemoteTable {
    fn create(env: &Env, url: &str, rows: u64) -> Result<RemoteTable> {
        let mut server = crate::sql::remote::SqlServer::connect(url, env.settings.allow_remote)?;
        let table = format!("redis_learn_bench_{}", env.ns.run_id().replace('-', "_"));
        server.batch(&format!("CREATE TABLE {table} (id BIGINT PRIMARY KEY, v VARCHAR(16) NOT NULL)"))?;
        // From here on, dropping it (on any error too) drops the table.
        let mut this = RemoteTable { server, table, read: None };
        let mut done = 0;
        while done < rows {
            let chunk: Vec<String> = (done..(done + 500).min(rows)).map(|i| format!("({i}, 'v')")).collect();
            this.server.batch(&format!("INSERT INTO {} (id, v) VALUES {}", this.table, chunk.join(",")))?;
            done += 500;
            pause_check(env)?;
        }
        // `?` placeholders: the driver numbers them for PostgreSQL.
        this.read = Some(this.server.prepare(&format!("SELECT v FROM {} WHERE id = ?", this.table))?);
        Ok(this)
    }

    fn read(&mut self, id: u64) -> Result<()> {
        let Some(read) = &self.read else { bail!("the SQL server's table is not ready") };
        let rows = self.server.query(read, &[crate::sql::remote::Param::Int(id as i64)])?;
        if rows.is_empty() {
            bail!("row {id} missing on the SQL server");
        }
        Ok(())
    }
}

impl Drop for RemoteTable {
    fn drop(&mut self) {
        let _ = self.server.batch(&format!("DROP TABLE IF EXISTS {}", self.table));
    }
}

fn dataset_size(env: &mut Env, points: &[Point]) -> Result<Outcome> {
    let con = RefCell::new(env.redis.raw_connection()?);
    let sql = crate::sql::open_memory()?;
    for p in points {
        let n = p.num("keys");
        load_keys(env, &mut con.borrow_mut(), &format!("ds{n}"), n, b"v")?;
        load_table(env, &sql, &format!("ds{n}"), n)?;
    }
    let mut group = env.sampler().group();
    for (i, p) in points.iter().enumerate() {
        let n = p.num("keys");
        let (mut a, mut b, mut c) = (Cursor::new(n), Cursor::new(n), Cursor::new(1_000));
        let (con, sql, ns) = (&con, &sql, env.ns.clone());
        group = group
            .op(&op_id("redis-get", i), label(env, "redis-get", p), Backend::Redis, move || {
                let key = ns.key(&format!("ds{n}:{}", a.next()));
                let _: Option<String> = redis::cmd("GET").arg(key).query(&mut *con.borrow_mut())?;
                Ok(())
            })
            .one_round_trip()
            .op(&op_id("sqlite-pk-read", i), label(env, "sqlite-pk-read", p), Backend::Sqlite, move || {
                let mut st = sql.prepare_cached(&format!("SELECT v FROM ds{n} WHERE id = ?1"))?;
                let _: String = st.query_row([b.next() as i64], |r| r.get(0))?;
                Ok(())
            })
            .op(&op_id("sqlite-full-scan", i), label(env, "sqlite-full-scan", p), Backend::Sqlite, move || {
                let mut st = sql.prepare_cached(&format!("SELECT COUNT(*) FROM ds{n} WHERE tag = ?1"))?;
                let _: i64 = st.query_row([c.next() as i64], |r| r.get(0))?;
                Ok(())
            });
    }
    let mut out = Outcome { points: split(group.run()?, points), ..Outcome::default() };
    let (lo, hi) = ends(points, "keys");
    let growth = points[hi].num("keys") as f64 / points[lo].num("keys").max(1) as f64;
    if lo != hi {
        if let Some(c) = compare(&mut out, "get-large-vs-small", ("redis-get", hi), ("redis-get", lo))? {
            // GET at the largest size less than 2× the cost at the smallest.
            out.claims.push(
                Claim::ratio_below("get-stays-flat", "", &c.inverted(), 2.0)
                    .fact("small", points[lo].num("keys"))
                    .fact("large", points[hi].num("keys"))
                    .fact("slowdown", crate::text::Fact::Ratio(1.0 / c.ratio)),
            );
        }
        if let Some(c) = compare(&mut out, "scan-small-vs-large", ("sqlite-full-scan", lo), ("sqlite-full-scan", hi))? {
            let threshold = (growth / 10.0).max(1.0);
            out.claims.push(
                Claim::ratio_above("scan-grows", "", &c, threshold)
                    .fact("growth", crate::text::Fact::Ratio(growth))
                    .fact("ratio", crate::text::Fact::Ratio(c.ratio))
                    .fact("threshold", crate::text::Fact::Ratio(threshold)),
            );
        }
    }
    env.notes.push("no-keys-series".into());
    Ok(out)
}

/// The value size from which a GET's cost is claimed to be mostly bytes, not the round trip.
const BANDWIDTH_FROM: u64 = 64 * 1024;

fn value_size(env: &mut Env, points: &[Point]) -> Result<Outcome> {
    let con = RefCell::new(env.redis.raw_connection()?);
    let sql = crate::sql::open_memory()?;
    sql.execute_batch("CREATE TABLE blobs (id INTEGER PRIMARY KEY, v BLOB NOT NULL)")?;
    for p in points {
        let n = p.num("bytes");
        let value = vec![b'x'; n as usize];
        redis::cmd("SET").arg(env.ns.key(&format!("vs:{n}"))).arg(&value).exec(&mut *con.borrow_mut())?;
        sql.execute("INSERT INTO blobs (id, v) VALUES (?1, ?2)", rusqlite::params![n as i64, value])?;
    }
    let mut group = env.sampler().group();
    for (i, p) in points.iter().enumerate() {
        let n = p.num("bytes");
        let key = env.ns.key(&format!("vs:{n}"));
        let (con, sql) = (&con, &sql);
        group = group
            .op(&op_id("redis-get", i), label(env, "redis-get", p), Backend::Redis, move || {
                let v: Vec<u8> = redis::cmd("GET").arg(&key).query(&mut *con.borrow_mut())?;
                if v.len() as u64 != n {
                    bail!("GET returned {} bytes, expected {n}", v.len());
                }
                Ok(())
            })
            .op(&op_id("sqlite-pk-read", i), label(env, "sqlite-pk-read", p), Backend::Sqlite, move || {
                let mut st = sql.prepare_cached("SELECT v FROM blobs WHERE id = ?1")?;
                let v: Vec<u8> = st.query_row([n as i64], |r| r.get(0))?;
                if v.len() as u64 != n {
                    bail!("SQLite returned {} bytes, expected {n}", v.len());
                }
                Ok(())
            });
        if n <= 1_024 {
            group = group.one_round_trip();
        }
    }
    let mut out = Outcome { points: split(group.run()?, points), ..Outcome::default() };
    let (lo, hi) = ends(points, "bytes");
    if lo != hi
        && let Some(c) = compare(&mut out, "small-vs-large", ("redis-get", lo), ("redis-get", hi))?
    {
        let (small, large) = (points[lo].num("bytes"), points[hi].num("bytes"));
        // From 64 KiB on, moving the bytes costs more than the round trip; below it, a GET of any
        // size costs about one round trip.
        let claim = if large >= BANDWIDTH_FROM {
            Claim::ratio_above("bandwidth-matters", "", &c, 2.0)
        } else {
            let status = match c.above(2.0) {
                Some(false) => ClaimStatus::Held,
                Some(true) => ClaimStatus::Failed,
                None => ClaimStatus::Inconclusive,
            };
            Claim::with_status("round-trip-dominates", "", c.measured(), status)
        };
        out.claims.push(
            claim
                .fact("small", crate::text::Fact::Bytes(small))
                .fact("large", crate::text::Fact::Bytes(large))
                .fact("ratio", crate::text::Fact::Ratio(c.ratio)),
        );
    }
    Ok(out)
}

fn sqlite_file(env: &Env, name: &str, synchronous: &str) -> Result<Connection> {
    let path = env.scratch.path().join(format!("{name}.db"));
    let sql = Connection::open(&path).with_context(|| format!("opening {}", path.display()))?;
    sql.pragma_update_and_check(None, "journal_mode", "WAL", |r| r.get::<_, String>(0))?;
    sql.pragma_update(None, "synchronous", synchronous)?;
    sql.execute_batch("CREATE TABLE IF NOT EXISTS kv (k INTEGER PRIMARY KEY, v TEXT NOT NULL)")?;
    Ok(sql)
}

fn durable_write(env: &mut Env, points: &[Point]) -> Result<Outcome> {
    let fs = crate::sql::filesystem_type(env.scratch.path());
    if fs.as_deref().is_some_and(crate::sql::is_memory_filesystem) {
        env.notes.push("memory-filesystem".into());
    }
    let mut servers = Vec::new();
    let mut sqls = Vec::new();
    for p in points {
        let fsync = p.get("fsync");
        let server = crate::server::PrivateServer::start_with(&["--appendonly", "yes", "--appendfsync", fsync])?;
        let con = redis::Client::open(server.url())?.get_connection_with_timeout(Duration::from_secs(2))?;
        con.set_read_timeout(Some(Duration::from_secs(10)))?;
        con.set_write_timeout(Some(Duration::from_secs(10)))?;
        servers.push((server, RefCell::new(con)));
        let level = if fsync == "always" { "FULL" } else { "NORMAL" };
        sqls.push(sqlite_file(env, &format!("durable-{fsync}"), level)?);
    }
    let mut group = env.sampler().group();
    for (i, p) in points.iter().enumerate() {
        let key = env.ns.key("durable:k");
        let con = &servers[i].1;
        let sql = &sqls[i];
        let mut n = 0_i64;
        let syncs = p.get("fsync") == "always";
        group = group.op(&op_id("redis-set", i), label(env, "redis-set", p), Backend::Redis, move || {
            redis::cmd("SET").arg(&key).arg("v").exec(&mut *con.borrow_mut())?;
            Ok(())
        });
        if syncs {
            group = group.one_disk_sync();
        }
        group = group.op(&op_id("sqlite-commit", i), label(env, "sqlite-commit", p), Backend::Sqlite, move || {
            n += 1;
            sql.prepare_cached("INSERT OR REPLACE INTO kv (k, v) VALUES (?1, 'v')")?.execute([n % 1_000])?;
            Ok(())
        });
        if syncs {
            // synchronous=FULL: every commit waits for the disk.
            group = group.one_disk_sync();
        }
    }
    let mut out = Outcome { points: split(group.run()?, points), ..Outcome::default() };
    let every = points.iter().position(|p| p.get("fsync") == "everysec");
    let always = points.iter().position(|p| p.get("fsync") == "always");
    if let (Some(e), Some(a)) = (every, always)
        && let Some(c) = compare(&mut out, "everysec-vs-always", ("redis-set", e), ("redis-set", a))?
    {
        let mut claim =
            Claim::ratio_above("always-pays-a-sync", "", &c, 1.5).fact("ratio", crate::text::Fact::Ratio(c.ratio));
        if env.notes.iter().any(|n| n == "memory-filesystem") && claim.status == ClaimStatus::Failed {
            // fsync on tmpfs returns at once: this machine cannot show the cost.
            claim.status = ClaimStatus::Inconclusive;
        }
        out.claims.push(claim);
    }
    drop(servers);
    Ok(out)
}

fn counter(env: &mut Env, points: &[Point]) -> Result<Outcome> {
    let con = RefCell::new(env.redis.raw_connection()?);
    let key = env.ns.key("counter:hits");
    let sql = sqlite_file(env, "counter", "OFF")?;
    sql.execute("INSERT INTO kv (k, v) VALUES (1, '0')", [])?;
    let p = &points[0];
    let (k1, k2) = (key.clone(), key);
    let measured = env
        .sampler()
        .group()
        .op(&op_id("redis-incr", 0), label(env, "redis-incr", p), Backend::Redis, || {
            let _: i64 = redis::cmd("INCR").arg(&k1).query(&mut *con.borrow_mut())?;
            Ok(())
        })
        .one_round_trip()
        .op(&op_id("redis-get-set", 0), label(env, "redis-get-set", p), Backend::Redis, || {
            let mut c = con.borrow_mut();
            let v: Option<i64> = redis::cmd("GET").arg(&k2).query(&mut *c)?;
            redis::cmd("SET").arg(&k2).arg(v.unwrap_or(0) + 1).exec(&mut *c)?;
            Ok(())
        })
        .op(&op_id("sqlite-update", 0), label(env, "sqlite-update", p), Backend::Sqlite, || {
            sql.prepare_cached("UPDATE kv SET v = CAST(v AS INTEGER) + 1 WHERE k = 1")?.execute([])?;
            Ok(())
        })
        .run()?;
    let mut out = Outcome { points: split(measured, points), ..Outcome::default() };
    if let Some(c) = compare(&mut out, "incr-vs-get-set", ("redis-incr", 0), ("redis-get-set", 0))? {
        out.claims
            .push(Claim::ratio_above("incr-one-trip", "", &c, 1.3).fact("ratio", crate::text::Fact::Ratio(c.ratio)));
    }
    Ok(out)
}

fn zset_range(env: &mut Env, points: &[Point]) -> Result<Outcome> {
    const MEMBERS: u64 = 20_000;
    let con = RefCell::new(env.redis.raw_connection()?);
    let key = env.ns.key("zset:candles");
    let mut i = 0;
    while i < MEMBERS {
        let mut cmd = redis::cmd("ZADD");
        cmd.arg(&key);
        for j in i..(i + 1_000).min(MEMBERS) {
            cmd.arg(j).arg(format!("{j}:o:h:l:c"));
        }
        cmd.exec(&mut *con.borrow_mut())?;
        i += 1_000;
    }
    let sql = crate::sql::open_memory()?;
    sql.execute_batch("CREATE TABLE candles (ts INTEGER PRIMARY KEY, v TEXT NOT NULL)")?;
    {
        let tx = sql.unchecked_transaction()?;
        for j in 0..MEMBERS {
            tx.execute(
                "INSERT INTO candles (ts, v) VALUES (?1, ?2)",
                rusqlite::params![j as i64, format!("{j}:o:h:l:c")],
            )?;
        }
        tx.commit()?;
    }
    let mut group = env.sampler().group();
    for (i, p) in points.iter().enumerate() {
        let count = p.num("count");
        let (mut a, mut b) = (Cursor::new(MEMBERS - count), Cursor::new(MEMBERS - count));
        let (con, sql, key) = (&con, &sql, key.clone());
        group = group
            .op(&op_id("redis-zrangebyscore", i), label(env, "redis-zrangebyscore", p), Backend::Redis, move || {
                let start = a.next();
                let got: Vec<String> = redis::cmd("ZRANGEBYSCORE")
                    .arg(&key)
                    .arg(start)
                    .arg(start + count - 1)
                    .query(&mut *con.borrow_mut())?;
                if got.len() as u64 != count {
                    bail!("ZRANGEBYSCORE returned {} members, expected {count}", got.len());
                }
                Ok(())
            })
            .op(&op_id("sqlite-range", i), label(env, "sqlite-range", p), Backend::Sqlite, move || {
                let start = b.next() as i64;
                let mut st = sql.prepare_cached("SELECT v FROM candles WHERE ts BETWEEN ?1 AND ?2 ORDER BY ts")?;
                let got = st.query_map([start, start + count as i64 - 1], |r| r.get::<_, String>(0))?.count();
                if got as u64 != count {
                    bail!("SQLite returned {got} rows, expected {count}");
                }
                Ok(())
            });
    }
    let mut out = Outcome { points: split(group.run()?, points), ..Outcome::default() };
    let (lo, hi) = ends(points, "count");
    if lo != hi
        && let Some(c) = compare(&mut out, "short-vs-long", ("redis-zrangebyscore", lo), ("redis-zrangebyscore", hi))?
    {
        out.claims.push(
            Claim::ratio_above("cost-follows-range", "", &c, 2.0)
                .fact("short", points[lo].num("count"))
                .fact("long", points[hi].num("count"))
                .fact("ratio", crate::text::Fact::Ratio(c.ratio)),
        );
    }
    Ok(out)
}

/// Delete the lock only if it still holds our token (one atomic script).
const RELEASE: &str =
    "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) else return 0 end";

fn lock_cycle(env: &mut Env, points: &[Point]) -> Result<Outcome> {
    let con = RefCell::new(env.redis.raw_connection()?);
    let (lock, plain) = (env.ns.key("lock:order"), env.ns.key("lock:plain"));
    redis::cmd("SET").arg(&plain).arg("v").exec(&mut *con.borrow_mut())?;
    let script = redis::Script::new(RELEASE);
    let sql = sqlite_file(env, "lock", "NORMAL")?;
    sql.execute("INSERT INTO kv (k, v) VALUES (1, '0')", [])?;
    let p = &points[0];
    let mut token = 0_u64;
    let measured = env
        .sampler()
        .group()
        .op(&op_id("redis-lock-cycle", 0), label(env, "redis-lock-cycle", p), Backend::Redis, || {
            token += 1;
            let mut c = con.borrow_mut();
            let got: Option<String> =
                redis::cmd("SET").arg(&lock).arg(token).arg("NX").arg("PX").arg(5_000).query(&mut *c)?;
            if got.is_none() {
                bail!("the lock was already held");
            }
            let released: i64 = script.key(&lock).arg(token).invoke(&mut *c)?;
            if released != 1 {
                bail!("the lock was not ours to release");
            }
            Ok(())
        })
        .op(&op_id("redis-get", 0), label(env, "redis-get", p), Backend::Redis, || {
            let _: Option<String> = redis::cmd("GET").arg(&plain).query(&mut *con.borrow_mut())?;
            Ok(())
        })
        .one_round_trip()
        .op(&op_id("sqlite-begin-immediate", 0), label(env, "sqlite-begin-immediate", p), Backend::Sqlite, || {
            sql.execute_batch("BEGIN IMMEDIATE; UPDATE kv SET v = CAST(v AS INTEGER) + 1 WHERE k = 1; COMMIT;")?;
            Ok(())
        })
        .run()?;
    let mut out = Outcome { points: split(measured, points), ..Outcome::default() };
    if let Some(c) = compare(&mut out, "get-vs-lock", ("redis-get", 0), ("redis-lock-cycle", 0))? {
        out.claims
            .push(Claim::ratio_above("two-round-trips", "", &c, 1.3).fact("ratio", crate::text::Fact::Ratio(c.ratio)));
    }
    Ok(out)
}
