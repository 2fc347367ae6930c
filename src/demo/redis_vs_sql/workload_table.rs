//! Demo `workload-table`: key read, range, top-N, rank, counter and TTL data on Redis, on SQLite
//! in this process, and on a networked SQL server when `--sql-url` names one: one scorecard, with
//! the winner and the ratio measured in this run.

use std::hint::black_box;

use anyhow::{Context, Result, ensure};
use rand::SeedableRng;
use rand::rngs::Xoshiro256PlusPlus;
use rand::seq::SliceRandom;
use rusqlite::{Connection, OptionalExtension, params};

use super::data::{self, Token, TokenRecord, Trader};
use super::shared::{load_redis, p50};
use super::tables::{self, Lit, Networked, TOKEN_COLUMNS, as_refs, query, token_rows};
use crate::demo::klines::codec::{self, Candle};
use crate::demo::klines::series::{self, MINUTE_MS, markets};
use crate::demo::support::now_ms;
use crate::demo::{Ctx, DemoReport, NoteKind};
use crate::error::UserError;
use crate::measure::{Backend, Claim, Comparison, Measurement, Verdict, format_ratio_interval};
use crate::server::PrivateServer;
use crate::sql::remote::{Param, Prepared, SqlServer};
use crate::sql::{self, Durability};
use crate::text::{Fact, Text};

/// The token cache's TTL in the notes: 30 days.
const TOKEN_TTL_S: u64 = 2_592_000;
/// Records compared across backends before anything is timed.
const VERIFY: usize = 200;
/// Candles in the range workload's window: one hour of 1-minute candles.
const WINDOW: usize = 60;
/// Candles loaded: one day.
const DAY_CANDLES: usize = 1_440;
/// Wallets whose rank is asked, all in the lower half of the board.
const RANK_PROBES: usize = 50;
/// The TTL workload: sessions written with a short TTL, then counted after it passed.
const SESSIONS: usize = 200;
const SESSION_TTL_MS: u64 = 100;
const SESSION_WAIT_MS: u64 = 150;
/// Below this ratio of a synced commit to an unsynced one, the disk acknowledges fsync from a
/// cache (or RAM), and the counter rows only report what was measured.
const MIN_SYNC_COST: f64 = 3.0;
/// What `appendfsync always` must cost INCR where the disk does sync. Lower than the commits'
/// ratio: INCR also pays a round trip, which on a busy 2-core machine reaches 60–90 µs, the size of
/// a fast disk's sync (a CI run measured 155 µs against 65.7 µs: 2.26×).
const MIN_ALWAYS_COST: f64 = 1.5;
/// Connect and command limits on the private `appendfsync always` server.
const PRIVATE_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);

/// The sorted set's rank must beat `COUNT(*)` of the higher volumes by at least this much: O(log N)
/// against a walk over half the board, a gap far wider than this.
const RANK_MIN_RATIO: f64 = 2.0;

/// The `--sql-url` the notes suggest when none was given (the message `no-server` shows it).
const SQL_URL_EXAMPLE: &str = "mysql://root@127.0.0.1:3306/test";

/// One row of the scorecard.
struct ScoreRow {
    workload: Text,
    redis: Text,
    sqlite: Text,
    net: Text,
    vs_sqlite: Text,
    vs_net: Text,
    same: Text,
}

impl ScoreRow {
    fn cells(self) -> Vec<Text> {
        vec![self.workload, self.redis, self.sqlite, self.net, self.vs_sqlite, self.vs_net, self.same]
    }

    /// A row with Redis and SQLite measured (`vs_sqlite`: the winner and the ratio); the networked
    /// column says how to configure one.
    fn new(workload: Text, redis: &Measurement, sqlite: &Measurement, vs_sqlite: Text, same: bool) -> ScoreRow {
        ScoreRow {
            workload,
            redis: p50(redis).into(),
            sqlite: p50(sqlite).into(),
            net: Text::msg("not-configured"),
            vs_sqlite,
            vs_net: "—".into(),
            same: same_cell(same, None),
        }
    }

    /// Fill the networked columns.
    fn networked(&mut self, remote: &Measurement, vs_net: Text, same: bool, same_net: bool) {
        self.net = p50(remote).into();
        self.vs_net = vs_net;
        self.same = same_cell(same, Some(same_net));
    }
}

/// The networked SQL server's side of one workload, loaded and checked before anything is timed.
struct Remote<'s> {
    server: &'s mut SqlServer,
    stmt: Prepared,
    label: String,
    name: String,
    same: bool,
}

struct Sides<'a, 'c> {
    ctx: &'a Ctx<'c>,
    report: &'a mut DemoReport,
    con: &'a mut crate::server::TracedConnection,
    db: &'a mut Connection,
    net: Option<&'a mut Networked>,
    modern: bool,
    /// Did every store return the same answers on every workload so far?
    all_same: bool,
}

/// Key read, range, top-N, rank, counter and TTL data on Redis, SQLite and (when given) a
/// networked SQL server: one table, a winner and a ratio per workload.
pub fn workload_table(ctx: &Ctx) -> Result<DemoReport> {
    let mut report = DemoReport::new("workload-table", Text::msg("title"));
    // A bad --sql-url fails first, before any work.
    let mut net = Networked::open(ctx)?;
    let mut con = ctx.connect()?;
    let mut db = sql::open_file(&ctx.scratch.join("versus.db"), Durability::Off)?;
    let net_header = match &net {
        Some(n) => Text::Plain(n.label()),
        None => Text::msg("scorecard.header-net"),
    };
    let vs_net_header = match &net {
        Some(n) => Text::Plain(format!("Redis vs {}", n.server.name())),
        None => Text::msg("scorecard.header-vs-net"),
    };
    let mut sides = Sides {
        ctx,
        report: &mut report,
        con: &mut con,
        db: &mut db,
        net: net.as_mut(),
        modern: ctx.version().at_least(6, 2),
        all_same: true,
    };
    let mut rows = key_read(&mut sides)?;
    rows.extend(range(&mut sides)?);
    rows.extend(leaderboard(&mut sides)?);
    rows.extend(counter(&mut sides)?);
    rows.extend(ttl_data(&mut sides)?);
    let all_same = sides.all_same;
    report.claim(Claim::new("same-answers-everywhere", "", if all_same { "✓" } else { "✗" }, all_same));
    let rows: Vec<Vec<Text>> = rows.into_iter().map(ScoreRow::cells).collect();
    report.findings.insert(
        0,
        crate::demo::Finding {
            id: Some("scorecard".to_string()),
            columns: Vec::new(),
            title: Text::msg("scorecard"),
            headers: vec![
                Text::msg("scorecard.header-workload"),
                "Redis".into(),
                Text::msg("scorecard.header-sqlite"),
                net_header,
                "Redis vs SQLite".into(),
                vs_net_header,
                Text::msg("scorecard.header-same"),
            ],
            rows,
        },
    );
    match &net {
        Some(n) => report
            .note(NoteKind::Info, Text::msg("server").fact("product", n.server.product()).fact("url", n.server.url())),
        None => report.note(NoteKind::Info, Text::msg("no-server").fact("example", SQL_URL_EXAMPLE)),
    }
    Ok(report)
}

/// Which side of `c` (a against b) was faster, and `c`'s ratio and interval turned to read as
/// "the winner by this much". None when the interval covers 1.
fn oriented<'n>(a_name: &'n str, b_name: &'n str, c: &Comparison) -> Option<(&'n str, &'n str, String)> {
    match c.status {
        Verdict::NoClearDifference => None,
        Verdict::Clear if c.ratio >= 1.0 => Some((a_name, b_name, c.measured())),
        Verdict::Clear => {
            Some((b_name, a_name, format_ratio_interval(1.0 / c.ratio, 1.0 / c.ratio_high, 1.0 / c.ratio_low)))
        }
    }
}

/// `SQLite 4.70× [4.10–5.20]`: who was faster in comparison `c` (a against b), by how much, with
/// its 95% interval; or that this run saw no clear difference.
fn versus(a_name: &str, b_name: &str, c: &Comparison) -> Text {
    match oriented(a_name, b_name, c) {
        Some((winner, _, measured)) => Text::Plain(format!("{winner} {measured}")),
        None => Text::msg("no-clear-difference").fact("measured", c.measured()),
    }
}

/// A note, not a claim (the lesson predicts no winner here): which side was faster in this run,
/// the message `note.<workload>.clear` or `note.<workload>.unclear`.
fn measured_note(workload: &str, a: (&str, &Measurement), b: (&str, &Measurement), c: &Comparison) -> Text {
    let text = match oriented(a.0, b.0, c) {
        Some((winner, _, measured)) => {
            Text::msg(&format!("note.{workload}.clear")).fact("winner", winner).fact("measured", measured)
        }
        None => Text::msg(&format!("note.{workload}.unclear")).fact("measured", c.measured()),
    };
    text.fact("a", a.0).fact("a_p50", a.1.p50()).fact("b", b.0).fact("b_p50", b.1.p50())
}

/// A claim that the winner beats the loser by more than `threshold` (`c` compares winner against
/// loser). Its message (the claim id) names the workload and the reason, and chooses its words
/// with `{won|…|…}` (1 when the winner was faster in this run).
fn expected_winner(id: &str, winner: &Measurement, loser: &Measurement, c: &Comparison, threshold: f64) -> Claim {
    Claim::ratio_above(id, "", c, threshold)
        .fact("winner", winner.p50())
        .fact("loser", loser.p50())
        .fact("ratio", Fact::Ratio(c.ratio))
        .fact("won", u64::from(c.ratio > 1.0))
}

fn same_cell(same: bool, same_net: Option<bool>) -> Text {
    let word = |ok: bool| if ok { "yes" } else { "no" };
    match same_net {
        Some(net) => Text::msg(&format!("same.{}-{}", word(same), word(net))),
        None => Text::msg(&format!("same.{}", word(same))),
    }
}

/// `{ns}:token:{chain}:{address}`: the notes' token cache key.
fn token_key(ctx: &Ctx, t: &Token) -> String {
    ctx.key(&format!("token:{}:{}", t.chain, t.address))
}

fn record_of(row: &[crate::sql::remote::Val]) -> Result<TokenRecord> {
    ensure!(row.len() == 3, "expected 3 columns, got {}", row.len());
    Ok(TokenRecord { symbol: row[0].text()?, decimals: row[1].int()?, price: row[2].int()? })
}

/// Key read: the token record by its key. Redis `GET` + JSON against SQLite's unique index.
fn key_read(s: &mut Sides) -> Result<Vec<ScoreRow>> {
    let ctx = s.ctx;
    let tokens = data::tokens(ctx.n(5_000, 1_000));
    let keys: Vec<String> = tokens.iter().map(|t| token_key(ctx, t)).collect();
    let cmds = tokens
        .iter()
        .zip(&keys)
        .map(|(t, key)| {
            let json = serde_json::to_string(&t.record).unwrap_or_default();
            let mut cmd = redis::cmd("SET");
            cmd.arg(key).arg(json).arg("EX").arg(TOKEN_TTL_S);
            cmd
        })
        .collect();
    load_redis(ctx, s.con, cmds)?;
    let rows = token_rows(&tokens);
    tables::sqlite_load(s.db, &tables::TOKENS, &TOKEN_COLUMNS, &rows)?;
    let sqlite_sql = query(tables::KEY_READ_SQL, &[("tokens", "tokens")]);
    let mut order: Vec<usize> = (0..tokens.len()).collect();
    order.shuffle(&mut Xoshiro256PlusPlus::seed_from_u64(10));

    let redis_get = |con: &mut crate::server::TracedConnection, i: usize| -> Result<TokenRecord> {
        let json: Option<String> = redis::cmd("GET").arg(&keys[i]).query(con)?;
        Ok(serde_json::from_str(&json.with_context(|| format!("{} is missing", keys[i]))?)?)
    };
    let sqlite_get = |db: &Connection, i: usize| -> Result<TokenRecord> {
        let t = &tokens[i];
        let mut stmt = db.prepare_cached(&sqlite_sql)?;
        Ok(stmt.query_row(params![t.chain, t.address], |r| {
            Ok(TokenRecord { symbol: r.get(0)?, decimals: r.get(1)?, price: r.get(2)? })
        })?)
    };
    let net_get = |server: &mut SqlServer, stmt: &Prepared, i: usize| -> Result<TokenRecord> {
        let t = &tokens[i];
        let rows = server.query(stmt, &[Param::Text(t.chain), Param::Text(&t.address)])?;
        record_of(rows.first().context("no row")?)
    };
    let mut same = true;
    for &i in order.iter().take(VERIFY) {
        same &= redis_get(s.con, i)? == tokens[i].record && sqlite_get(s.db, i)? == tokens[i].record;
    }
    let mut remote = None;
    if let Some(net) = s.net.as_deref_mut() {
        net.load(&tables::TOKENS, &TOKEN_COLUMNS, &rows)?;
        let names = net.names(&["tokens"]);
        let stmt = net.server.prepare(&query(tables::KEY_READ_SQL, &as_refs(&names)))?;
        let mut same_net = true;
        for &i in order.iter().take(VERIFY) {
            same_net &= net_get(&mut net.server, &stmt, i)? == tokens[i].record;
        }
        let label = format!("{}: SELECT … WHERE chain = ? AND address = ?", net.label());
        let name = net.server.name().to_string();
        remote = Some(Remote { server: &mut net.server, stmt, label, name, same: same_net });
    }

    // Redis, SQLite and the SQL server take turns in rounds, on the same shuffled keys.
    let (con, db) = (&mut *s.con, &*s.db);
    let (mut next_redis, mut next_sqlite, mut next_net) =
        (order.iter().cycle(), order.iter().cycle(), order.iter().cycle());
    let mut group = ctx
        .sampler
        .group()
        .op("redis-get", "GET + JSON", Backend::Redis, || {
            black_box(redis_get(con, *next_redis.next().unwrap_or(&0))?);
            Ok(())
        })
        .one_round_trip()
        .op("sqlite-pk-read", "SQLite SELECT", Backend::Sqlite, || {
            black_box(sqlite_get(db, *next_sqlite.next().unwrap_or(&0))?);
            Ok(())
        });
    if let Some(r) = remote.as_mut() {
        let (server, stmt) = (&mut *r.server, &r.stmt);
        group = group.op("sql-server-pk-read", r.label.clone(), Backend::NetworkSql, move || {
            black_box(net_get(server, stmt, *next_net.next().unwrap_or(&0))?);
            Ok(())
        });
    }
    let group = s.report.measured_group(group.run()?);
    let (redis, sqlite) = (group.get("redis-get"), group.get("sqlite-pk-read"));
    let sqlite_vs_redis = s.report.compare("sqlite-vs-redis-key-read", sqlite, redis)?;
    s.all_same &= same;

    let workload = Text::msg("workload.key-read").fact("tokens", tokens.len());
    let mut row = ScoreRow::new(workload, redis, sqlite, versus("SQLite", "Redis", &sqlite_vs_redis), same);
    s.report.claim(expected_winner("sqlite-beats-redis-key-read", sqlite, redis, &sqlite_vs_redis, 1.0));

    if let Some(r) = remote {
        let net_m = group.get("sql-server-pk-read");
        let vs_net = s.report.compare("redis-vs-sql-server-key-read", redis, net_m)?;
        s.all_same &= r.same;
        row.networked(net_m, versus("Redis", &r.name, &vs_net), same, r.same);
        s.report.claim(
            expected_winner("redis-beats-sql-server-key-read", redis, net_m, &vs_net, 1.0)
                .fact("name", r.name.as_str()),
        );
    }
    Ok(vec![row])
}

fn candle_of(row: &[crate::sql::remote::Val]) -> Result<Candle> {
    ensure!(row.len() == 6, "expected 6 columns, got {}", row.len());
    let u = |i: usize| -> Result<u64> { Ok(u64::try_from(row[i].int()?)?) };
    Ok(Candle { open_ms: u(0)?, open: u(1)?, high: u(2)?, low: u(3)?, close: u(4)?, volume: u(5)? })
}

/// Range: one hour of 1-minute candles. `ZRANGE … BYSCORE` against the primary-key range.
fn range(s: &mut Sides) -> Result<Vec<ScoreRow>> {
    let ctx = s.ctx;
    let market = markets()[0];
    let candles = series::random_walk(&market, DAY_CANDLES);
    let key = ctx.key(&format!("kline:{}:1m", market.symbol));
    let mut cmds = Vec::new();
    for chunk in candles.chunks(500) {
        let mut cmd = redis::cmd("ZADD");
        cmd.arg(&key);
        for c in chunk {
            cmd.arg(c.open_ms).arg(codec::encode(c));
        }
        cmds.push(cmd);
    }
    load_redis(ctx, s.con, cmds)?;
    let rows: Vec<Vec<Lit>> = candles
        .iter()
        .map(|c| {
            let i = |v: u64| Lit::I(v as i64);
            vec![Lit::S(market.symbol.into()), i(c.open_ms), i(c.open), i(c.high), i(c.low), i(c.close), i(c.volume)]
        })
        .collect();
    let columns = ["symbol", "ts", "open", "high", "low", "close", "volume"];
    tables::sqlite_load(s.db, &tables::KLINES, &columns, &rows)?;
    let sqlite_sql = query(tables::RANGE_SQL, &[("klines", "klines")]);
    let starts: Vec<usize> = (0..97).map(|i| (i * 37) % (DAY_CANDLES - WINDOW)).collect();
    let window = |start: usize| {
        let from = candles[start].open_ms;
        (from, from + WINDOW as u64 * MINUTE_MS)
    };
    let modern = s.modern;
    let redis_range = |con: &mut crate::server::TracedConnection, start: usize| -> Result<Vec<Candle>> {
        let (from, to) = window(start);
        let mut cmd = redis::cmd(if modern { "ZRANGE" } else { "ZRANGEBYSCORE" });
        cmd.arg(&key).arg(from).arg(format!("({to}"));
        if modern {
            cmd.arg("BYSCORE");
        }
        let members: Vec<String> = cmd.query(con)?;
        members.iter().map(|m| Ok(codec::decode(m)?)).collect()
    };
    let sqlite_range = |db: &Connection, start: usize| -> Result<Vec<Candle>> {
        let (from, to) = window(start);
        let mut stmt = db.prepare_cached(&sqlite_sql)?;
        let rows = stmt.query_map(params![market.symbol, from as i64, to as i64], |r| {
            let u = |i: usize| r.get::<_, i64>(i).map(|v| v as u64);
            Ok(Candle { open_ms: u(0)?, open: u(1)?, high: u(2)?, low: u(3)?, close: u(4)?, volume: u(5)? })
        })?;
        Ok(rows.collect::<rusqlite::Result<Vec<Candle>>>()?)
    };
    let net_range = |server: &mut SqlServer, stmt: &Prepared, start: usize| -> Result<Vec<Candle>> {
        let (from, to) = window(start);
        let rows = server.query(stmt, &[Param::Text(market.symbol), Param::Int(from as i64), Param::Int(to as i64)])?;
        rows.iter().map(|r| candle_of(r)).collect()
    };
    let expected = |start: usize| &candles[start..start + WINDOW];
    let mut same = true;
    for &start in starts.iter().take(20) {
        same &= redis_range(s.con, start)? == expected(start) && sqlite_range(s.db, start)? == expected(start);
    }
    let mut remote = None;
    if let Some(net) = s.net.as_deref_mut() {
        net.load(&tables::KLINES, &columns, &rows)?;
        let names = net.names(&["klines"]);
        let stmt = net.server.prepare(&query(tables::RANGE_SQL, &as_refs(&names)))?;
        let mut same_net = true;
        for &start in starts.iter().take(20) {
            same_net &= net_range(&mut net.server, &stmt, start)? == expected(start);
        }
        let label = format!("{}: SELECT … ts >= ? AND ts < ?", net.label());
        let name = net.server.name().to_string();
        remote = Some(Remote { server: &mut net.server, stmt, label, name, same: same_net });
    }

    let (con, db) = (&mut *s.con, &*s.db);
    let (mut next_redis, mut next_sqlite, mut next_net) =
        (starts.iter().cycle(), starts.iter().cycle(), starts.iter().cycle());
    let mut group = ctx
        .sampler
        .group()
        .op("redis-zrange", if modern { "ZRANGE … BYSCORE" } else { "ZRANGEBYSCORE" }, Backend::Redis, || {
            black_box(redis_range(con, *next_redis.next().unwrap_or(&0))?);
            Ok(())
        })
        .op("sqlite-pk-range", "SQLite range", Backend::Sqlite, || {
            black_box(sqlite_range(db, *next_sqlite.next().unwrap_or(&0))?);
            Ok(())
        });
    if let Some(r) = remote.as_mut() {
        let (server, stmt) = (&mut *r.server, &r.stmt);
        group = group.op("sql-server-pk-range", r.label.clone(), Backend::NetworkSql, move || {
            black_box(net_range(server, stmt, *next_net.next().unwrap_or(&0))?);
            Ok(())
        });
    }
    let group = s.report.measured_group(group.run()?);
    let (redis, sqlite) = (group.get("redis-zrange"), group.get("sqlite-pk-range"));
    let vs_sqlite = s.report.compare("redis-vs-sqlite-range", redis, sqlite)?;
    s.all_same &= same;
    let workload = Text::msg("workload.range").fact("candles", WINDOW);
    let mut row = ScoreRow::new(workload, redis, sqlite, versus("Redis", "SQLite", &vs_sqlite), same);
    s.report.note(NoteKind::Info, measured_note("range", ("Redis", redis), ("SQLite", sqlite), &vs_sqlite));

    if let Some(r) = remote {
        let net_m = group.get("sql-server-pk-range");
        let vs_net = s.report.compare("redis-vs-sql-server-range", redis, net_m)?;
        s.all_same &= r.same;
        row.networked(net_m, versus("Redis", &r.name, &vs_net), same, r.same);
        s.report.note(NoteKind::Info, measured_note("range", ("Redis", redis), (&r.name, net_m), &vs_net));
    }
    Ok(vec![row])
}

/// Top-N and rank on a board of traders by 24 h volume: a sorted set against an indexed column.
fn leaderboard(s: &mut Sides) -> Result<Vec<ScoreRow>> {
    let ctx = s.ctx;
    let traders = data::traders(ctx.n(100_000, 50_000));
    let ranks = data::ranks(&traders);
    let key = ctx.key("rank:volume:24h");
    let mut cmds = Vec::new();
    for chunk in traders.chunks(500) {
        let mut cmd = redis::cmd("ZADD");
        cmd.arg(&key);
        for t in chunk {
            cmd.arg(t.volume).arg(&t.wallet);
        }
        cmds.push(cmd);
    }
    load_redis(ctx, s.con, cmds)?;
    let rows: Vec<Vec<Lit>> = traders.iter().map(|t| vec![Lit::S(t.wallet.clone()), Lit::I(t.volume)]).collect();
    tables::sqlite_load(s.db, &tables::TRADERS, &["wallet", "volume"], &rows)?;

    let mut by_rank: Vec<&Trader> = traders.iter().collect();
    by_rank.sort_by_key(|t| std::cmp::Reverse(t.volume));
    let top: Vec<(String, i64)> = by_rank.iter().take(10).map(|t| (t.wallet.clone(), t.volume)).collect();
    let half = traders.len() / 2;
    let probes: Vec<String> =
        (0..RANK_PROBES).map(|i| by_rank[half + i * (traders.len() - half) / RANK_PROBES].wallet.clone()).collect();

    let modern = s.modern;
    let redis_top = |con: &mut crate::server::TracedConnection| -> Result<Vec<(String, i64)>> {
        let cmd = if modern {
            let mut cmd = redis::cmd("ZRANGE");
            cmd.arg(&key).arg(0).arg(9).arg("REV").arg("WITHSCORES");
            cmd
        } else {
            let mut cmd = redis::cmd("ZREVRANGE");
            cmd.arg(&key).arg(0).arg(9).arg("WITHSCORES");
            cmd
        };
        Ok(cmd.query(con)?)
    };
    let redis_rank = |con: &mut crate::server::TracedConnection, wallet: &str| -> Result<i64> {
        let rank: Option<i64> = redis::cmd("ZREVRANK").arg(&key).arg(wallet).query(con)?;
        rank.with_context(|| format!("{wallet} is not on the board"))
    };
    let top_sql = query(tables::TOP_SQL, &[("traders", "traders")]);
    let rank_sql = query(tables::RANK_SQL, &[("traders", "traders")]);
    let sqlite_top = |db: &Connection| -> Result<Vec<(String, i64)>> {
        let mut stmt = db.prepare_cached(&top_sql)?;
        let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    };
    let sqlite_rank = |db: &Connection, wallet: &str| -> Result<i64> {
        Ok(db.prepare_cached(&rank_sql)?.query_row([wallet], |r| r.get(0))?)
    };
    let remote_top = |server: &mut SqlServer, stmt: &Prepared| -> Result<Vec<(String, i64)>> {
        server.query(stmt, &[])?.iter().map(|r| Ok((r[0].text()?, r[1].int()?))).collect()
    };
    let remote_rank = |server: &mut SqlServer, stmt: &Prepared, wallet: &str| -> Result<i64> {
        server.query(stmt, &[Param::Text(wallet)])?.first().context("no row")?[0].int()
    };
    let same_top = redis_top(s.con)? == top && sqlite_top(s.db)? == top;
    let mut same_rank = true;
    for wallet in &probes {
        same_rank &= redis_rank(s.con, wallet)? == ranks[wallet] && sqlite_rank(s.db, wallet)? == ranks[wallet];
    }
    // The SQL server: loaded and checked first. (product label, name, server, top, rank, same top, same rank)
    let mut remote = None;
    if let Some(net) = s.net.as_deref_mut() {
        net.load(&tables::TRADERS, &["wallet", "volume"], &rows)?;
        let names = net.names(&["traders"]);
        let top_stmt = net.server.prepare(&query(tables::TOP_SQL, &as_refs(&names)))?;
        let rank_stmt = net.server.prepare(&query(tables::RANK_SQL, &as_refs(&names)))?;
        let same_top_net = remote_top(&mut net.server, &top_stmt)? == top;
        let mut same_rank_net = true;
        for wallet in &probes {
            same_rank_net &= remote_rank(&mut net.server, &rank_stmt, wallet)? == ranks[wallet];
        }
        let (product, name) = (net.label(), net.server.name().to_string());
        remote = Some((product, name, &mut net.server, top_stmt, rank_stmt, same_top_net, same_rank_net));
    }

    // Top 10: Redis, SQLite and the SQL server take turns in rounds.
    let (con, db) = (&mut *s.con, &*s.db);
    let mut group = ctx
        .sampler
        .group()
        .op(
            "redis-top10",
            if modern { "ZRANGE … 0 9 REV WITHSCORES" } else { "ZREVRANGE … 0 9 WITHSCORES" },
            Backend::Redis,
            || {
                black_box(redis_top(con)?);
                Ok(())
            },
        )
        .op("sqlite-top10", "SQLite ORDER BY volume DESC LIMIT 10", Backend::Sqlite, || {
            black_box(sqlite_top(db)?);
            Ok(())
        });
    if let Some((product, _, server, top_stmt, ..)) = remote.as_mut() {
        let (server, top_stmt) = (&mut **server, &*top_stmt);
        group =
            group.op("sql-server-top10", format!("{product}: ORDER BY … LIMIT 10"), Backend::NetworkSql, move || {
                black_box(remote_top(server, top_stmt)?);
                Ok(())
            });
    }
    let top_group = s.report.measured_group(group.run()?);

    // Rank: the same, on the same wallets in the lower half of the board.
    let (con, db) = (&mut *s.con, &*s.db);
    let (mut next_redis, mut next_sqlite, mut next_net) =
        (probes.iter().cycle(), probes.iter().cycle(), probes.iter().cycle());
    let mut group = ctx
        .sampler
        .group()
        .op("redis-zrevrank", "ZREVRANK", Backend::Redis, || {
            black_box(redis_rank(con, next_redis.next().map_or("", String::as_str))?);
            Ok(())
        })
        .op("sqlite-count-rank", "SQLite COUNT(*)", Backend::Sqlite, || {
            black_box(sqlite_rank(db, next_sqlite.next().map_or("", String::as_str))?);
            Ok(())
        });
    if let Some((product, _, server, _, rank_stmt, ..)) = remote.as_mut() {
        let (server, rank_stmt) = (&mut **server, &*rank_stmt);
        group = group.op(
            "sql-server-count-rank",
            format!("{product}: SELECT COUNT(*) … WHERE volume > …"),
            Backend::NetworkSql,
            move || {
                black_box(remote_rank(server, rank_stmt, next_net.next().map_or("", String::as_str))?);
                Ok(())
            },
        );
    }
    let rank_group = s.report.measured_group(group.run()?);

    let (redis_top_m, sqlite_top_m) = (top_group.get("redis-top10"), top_group.get("sqlite-top10"));
    let (redis_rank_m, sqlite_rank_m) = (rank_group.get("redis-zrevrank"), rank_group.get("sqlite-count-rank"));
    let top_vs = s.report.compare("redis-vs-sqlite-top10", redis_top_m, sqlite_top_m)?;
    let rank_vs = s.report.compare("redis-vs-sqlite-rank", redis_rank_m, sqlite_rank_m)?;
    s.all_same &= same_top && same_rank;

    let top_workload = Text::msg("workload.top10").fact("traders", traders.len());
    let rank_workload = Text::msg("workload.rank").fact("traders", traders.len());
    let mut top_row =
        ScoreRow::new(top_workload, redis_top_m, sqlite_top_m, versus("Redis", "SQLite", &top_vs), same_top);
    let mut rank_row =
        ScoreRow::new(rank_workload, redis_rank_m, sqlite_rank_m, versus("Redis", "SQLite", &rank_vs), same_rank);
    s.report.note(NoteKind::Info, measured_note("top10", ("Redis", redis_top_m), ("SQLite", sqlite_top_m), &top_vs));
    s.report.claim(
        expected_winner("sorted-set-rank-beats-sqlite-count", redis_rank_m, sqlite_rank_m, &rank_vs, RANK_MIN_RATIO)
            .fact("traders", traders.len()),
    );

    if let Some((_, name, _, _, _, same_top_net, same_rank_net)) = remote {
        let (top_m, rank_m) = (top_group.get("sql-server-top10"), rank_group.get("sql-server-count-rank"));
        let top_net = s.report.compare("redis-vs-sql-server-top10", redis_top_m, top_m)?;
        let rank_net = s.report.compare("redis-vs-sql-server-rank", redis_rank_m, rank_m)?;
        s.all_same &= same_top_net && same_rank_net;
        top_row.networked(top_m, versus("Redis", &name, &top_net), same_top, same_top_net);
        rank_row.networked(rank_m, versus("Redis", &name, &rank_net), same_rank, same_rank_net);
        s.report.note(NoteKind::Info, measured_note("top10", ("Redis", redis_top_m), (&name, top_m), &top_net));
        s.report.claim(
            expected_winner("sorted-set-rank-beats-sql-server-count", redis_rank_m, rank_m, &rank_net, RANK_MIN_RATIO)
                .fact("traders", traders.len())
                .fact("name", name.as_str()),
        );
    }
    s.report.note(NoteKind::Info, Text::msg("top10-is-cheap"));
    Ok(vec![top_row, rank_row])
}

/// Counter: one counter incremented over and over by one client, compared like for like. INCR
/// against an UPDATE whose commit does not wait for the disk (SQLite `synchronous=OFF`), and INCR on
/// a private server with `appendfsync always` against commits that do (SQLite `synchronous=FULL` in
/// WAL mode, and a SQL server's UPDATE, which commits durably by default).
fn counter(s: &mut Sides) -> Result<Vec<ScoreRow>> {
    let ctx = s.ctx;
    let key = ctx.key("stats:trades:count");
    let name = "trades:count";
    let increment_sql = query(tables::INCREMENT_SQL, &[("counters", "counters")]);
    let read_sql = query(tables::COUNTER_SQL, &[("counters", "counters")]);
    let open = |db: Connection| -> Result<Connection> {
        db.execute_batch(&tables::COUNTERS.ddl("counters"))?;
        db.execute("INSERT INTO counters (name, n) VALUES (?1, 0)", [name])?;
        Ok(db)
    };
    let durable_db = open(sql::open_file(&ctx.scratch.join("counter.db"), Durability::Full)?)?;
    let no_sync_db = open(sql::open_file(&ctx.scratch.join("counter-nosync.db"), Durability::Off)?)?;
    let memory_db = open(sql::open_memory()?)?;
    let (mut durable_inc, mut no_sync_inc, mut memory_inc) =
        (durable_db.prepare(&increment_sql)?, no_sync_db.prepare(&increment_sql)?, memory_db.prepare(&increment_sql)?);
    // The learner's Redis as it is configured: is its AOF on? (INFO, read only.)
    let persistence: redis::InfoDict = redis::cmd("INFO").arg("persistence").query(s.con)?;
    let aof_on = persistence.get::<u64>("aof_enabled").unwrap_or(0);
    // INCR that waits for the disk: a private server of our own with `appendfsync always`.
    let always = match PrivateServer::start_with(&["--appendonly", "yes", "--appendfsync", "always"]) {
        Ok(server) => Some(server),
        Err(UserError::NoRedisAvailable) => None,
        Err(e) => return Err(anyhow::Error::new(e).context("the durable counter row starts a redis-server of its own")),
    };
    let mut always_con = match &always {
        Some(server) => Some(
            server
                .traced_connection(&ctx.trace, PRIVATE_TIMEOUT)
                .context("connecting to the demo's own redis-server")?,
        ),
        None => None,
    };
    // Increments sent, per store (warm-up included): each counter must end exactly there.
    let (mut redis_n, mut always_n, mut durable_n, mut no_sync_n, mut memory_n, mut net_n) =
        (0_i64, 0_i64, 0_i64, 0_i64, 0_i64, 0_i64);
    let mut remote = None;
    if let Some(net) = s.net.as_deref_mut() {
        let rows = vec![vec![Lit::S(name.into()), Lit::I(0)]];
        net.load(&tables::COUNTERS, &["name", "n"], &rows)?;
        let names = net.names(&["counters"]);
        let inc = net.server.prepare(&query(tables::INCREMENT_SQL, &as_refs(&names)))?;
        let read = net.server.prepare(&query(tables::COUNTER_SQL, &as_refs(&names)))?;
        let label = format!("{}: UPDATE … n = n + 1", net.label());
        remote = Some((net.server.name().to_string(), &mut net.server, inc, read, label));
    }

    // Every store takes turns in rounds: a disk that is busy for a moment slows all of them.
    let con = &mut *s.con;
    let mut group = ctx
        .sampler
        .group()
        .op("redis-incr", "INCR stats:trades:count", Backend::Redis, || {
            redis::cmd("INCR").arg(&key).exec(con)?;
            redis_n += 1;
            Ok(())
        })
        .one_round_trip()
        .op("sqlite-durable-update", "SQLite synchronous=FULL", Backend::Sqlite, || {
            bump(&mut durable_inc, name, &mut durable_n)
        })
        .one_disk_sync()
        .op("sqlite-no-sync-update", "SQLite synchronous=OFF", Backend::Sqlite, || {
            bump(&mut no_sync_inc, name, &mut no_sync_n)
        })
        .op("sqlite-memory-update", "SQLite :memory:", Backend::Sqlite, || bump(&mut memory_inc, name, &mut memory_n));
    if let Some(always_con) = always_con.as_mut() {
        let (key, always_n) = (&key, &mut always_n);
        group = group
            .op("redis-incr-always", "INCR, appendfsync always", Backend::Redis, move || {
                redis::cmd("INCR").arg(key).exec(always_con)?;
                *always_n += 1;
                Ok(())
            })
            .one_disk_sync();
    }
    if let Some((_, server, inc, _, label)) = remote.as_mut() {
        let (server, inc) = (&mut **server, &*inc);
        let net_n = &mut net_n;
        group = group.op("sql-server-update", label.clone(), Backend::NetworkSql, move || {
            server.execute(inc, &[Param::Text(name)])?;
            *net_n += 1;
            Ok(())
        });
    }
    let group = s.report.measured_group(group.run()?);
    drop((durable_inc, no_sync_inc, memory_inc));
    let redis_value: i64 = redis::cmd("GET").arg(&key).query(s.con)?;
    let always_value: Option<i64> = match always_con.as_mut() {
        Some(con) => Some(redis::cmd("GET").arg(&key).query(con)?),
        None => None,
    };
    let value =
        |db: &Connection| -> Result<Option<i64>> { Ok(db.query_row(&read_sql, [name], |r| r.get(0)).optional()?) };
    let exact_no_sync = redis_value == redis_n && value(&no_sync_db)? == Some(no_sync_n);
    let exact_durable = always_value.is_none_or(|v| v == always_n) && value(&durable_db)? == Some(durable_n);
    let exact = exact_no_sync && exact_durable && value(&memory_db)? == Some(memory_n);
    let (redis, durable, no_sync, memory) = (
        group.get("redis-incr"),
        group.get("sqlite-durable-update"),
        group.get("sqlite-no-sync-update"),
        group.get("sqlite-memory-update"),
    );
    let fs_type = sql::filesystem_type(ctx.scratch).unwrap_or_else(|| "unknown".to_string());

    // Row 1: nobody waits for the disk.
    let vs_no_sync = s.report.compare("redis-vs-sqlite-no-sync-counter", redis, no_sync)?;
    let mut no_sync_row = ScoreRow::new(
        Text::msg("workload.counter-no-sync"),
        redis,
        no_sync,
        versus("Redis", "SQLite", &vs_no_sync),
        exact_no_sync,
    );
    no_sync_row.sqlite = Text::msg("no-sync-p50").fact("p50", no_sync.p50());
    s.report.note(NoteKind::Info, Text::msg("counter-rows").fact("aof", aof_on));
    s.report.note(NoteKind::Info, measured_note("counter-no-sync", ("Redis", redis), ("SQLite", no_sync), &vs_no_sync));

    // Row 2: both wait for the disk on every increment.
    let mut durable_row = ScoreRow::new(
        Text::msg("workload.counter-durable"),
        redis,
        durable,
        Text::Plain("—".to_string()),
        exact_durable,
    );
    durable_row.sqlite = Text::msg("durable-p50").fact("p50", durable.p50());
    // What the disk sync costs here: some disks (and virtual disks) acknowledge a sync from a cache.
    let sync_cost = s.report.compare("no-sync-vs-durable-counter", no_sync, durable)?;
    let always_m = always.as_ref().map(|_| group.get("redis-incr-always"));
    match always_m {
        Some(always_m) => {
            let vs_durable = s.report.compare("redis-always-vs-sqlite-durable-counter", always_m, durable)?;
            durable_row.redis = Text::msg("always-p50").fact("p50", always_m.p50());
            durable_row.vs_sqlite = versus("Redis", "SQLite", &vs_durable);
            s.report.note(
                NoteKind::Info,
                measured_note("counter-durable", ("Redis", always_m), ("SQLite", durable), &vs_durable),
            );
            let fsync_cost = s.report.compare("incr-vs-incr-always", redis, always_m)?;
            let aof_fs = always
                .as_ref()
                .and_then(|server| sql::filesystem_type(server.dir()))
                .unwrap_or_else(|| "unknown".to_string());
            let real_disk = !sql::is_memory_filesystem(&fs_type)
                && !sql::is_memory_filesystem(&aof_fs)
                && sync_cost.above(MIN_SYNC_COST) == Some(true);
            if real_disk {
                s.report.claim(
                    Claim::ratio_above("always-pays-a-sync", "", &fsync_cost, MIN_ALWAYS_COST)
                        .fact("always", always_m.p50())
                        .fact("plain", redis.p50())
                        .fact("ratio", Fact::Ratio(fsync_cost.ratio))
                        .fact("fs", aof_fs.as_str()),
                );
            } else {
                s.report.note(
                    NoteKind::Info,
                    Text::msg("always-sync-cost")
                        .fact("always", always_m.p50())
                        .fact("plain", redis.p50())
                        .fact("measured", fsync_cost.measured())
                        .fact("fs", aof_fs.as_str()),
                );
            }
        }
        None => {
            durable_row.redis = Text::msg("no-private-server");
            s.report.note(NoteKind::Caveat, Text::msg("counter-no-private-server"));
        }
    }
    if sql::is_memory_filesystem(&fs_type) {
        s.report.note(NoteKind::Caveat, Text::msg("counter-tmpfs").fact("fs", fs_type.as_str()));
    } else if sync_cost.above(MIN_SYNC_COST) != Some(true) {
        s.report.note(
            NoteKind::Caveat,
            Text::msg("sync-from-cache")
                .fact("measured", sync_cost.measured())
                .fact("durable", durable.p50())
                .fact("no_sync", no_sync.p50()),
        );
    }
    s.report.note(
        NoteKind::Info,
        Text::msg("in-process-counter").fact("memory", memory.p50()).fact("fs", fs_type.as_str()),
    );

    let mut exact_net = None;
    if let Some((product, server, _, read, _)) = remote {
        let value = server.query(&read, &[Param::Text(name)])?.first().context("no counter row")?[0].int()?;
        let net_m = group.get("sql-server-update");
        let same_net = value == net_n;
        exact_net = Some(same_net);
        match always_m {
            Some(always_m) => {
                let vs_net = s.report.compare("redis-always-vs-sql-server-counter", always_m, net_m)?;
                durable_row.networked(net_m, versus("Redis", &product, &vs_net), exact_durable, same_net);
                s.report.note(
                    NoteKind::Info,
                    measured_note("counter-net", ("Redis", always_m), (&product, net_m), &vs_net),
                );
            }
            None => durable_row.networked(net_m, "—".into(), exact_durable, same_net),
        }
        no_sync_row.net = "—".into();
    }
    let all_exact = exact && exact_net.unwrap_or(true);
    s.all_same &= all_exact;
    s.report.claim(
        Claim::new("counters-are-exact", "", format!("{redis_value}/{redis_n}"), all_exact)
            .fact("value", redis_value)
            .fact("sent", redis_n),
    );
    drop(always_con);
    drop(always);
    Ok(vec![no_sync_row, durable_row])
}

/// One autocommitted `UPDATE … n = n + 1` (one transaction per increment), counted.
fn bump(stmt: &mut rusqlite::Statement, name: &str, n: &mut i64) -> Result<()> {
    stmt.execute([name])?;
    *n += 1;
    Ok(())
}

/// TTL data: sessions that must disappear on their own. Counts, not timings.
fn ttl_data(s: &mut Sides) -> Result<Vec<ScoreRow>> {
    let ctx = s.ctx;
    let keys: Vec<String> = (0..SESSIONS).map(|i| ctx.key(&format!("session:{i:04}"))).collect();
    let cmds = keys
        .iter()
        .map(|k| {
            let mut cmd = redis::cmd("SET");
            cmd.arg(k).arg(r#"{"uid":42,"device":"web"}"#).arg("PX").arg(SESSION_TTL_MS);
            cmd
        })
        .collect();
    let expires_at = now_ms()? + SESSION_TTL_MS as i64;
    let rows: Vec<Vec<Lit>> = (0..SESSIONS)
        .map(|i| vec![Lit::S(format!("s{i:04}")), Lit::S(r#"{"uid":42,"device":"web"}"#.into()), Lit::I(expires_at)])
        .collect();
    load_redis(ctx, s.con, cmds)?;
    tables::sqlite_load(s.db, &tables::SESSIONS, &["id", "data", "expires_at"], &rows)?;
    if let Some(net) = s.net.as_deref_mut() {
        net.load(&tables::SESSIONS, &["id", "data", "expires_at"], &rows)?;
    }
    std::thread::sleep(std::time::Duration::from_millis(SESSION_WAIT_MS));
    ctx.check_interrupt()?;

    let mut pipe = redis::pipe();
    for k in &keys {
        pipe.cmd("EXISTS").arg(k);
    }
    let exists: Vec<i64> = pipe.query(s.con)?;
    let redis_left: i64 = exists.iter().sum();
    let sqlite_left: i64 = s.db.query_row("SELECT COUNT(*) FROM sessions", [], |r| r.get(0))?;
    let sqlite_live: i64 =
        s.db.query_row("SELECT COUNT(*) FROM sessions WHERE expires_at > ?1", [now_ms()?], |r| r.get(0))?;
    let net_left = match s.net.as_deref_mut() {
        Some(net) => {
            let name = net.name("sessions");
            let stmt = net.server.prepare(&format!("SELECT COUNT(*) FROM {name}"))?;
            Some(net.server.query(&stmt, &[])?.first().context("no row")?[0].int()?)
        }
        None => None,
    };
    let n = SESSIONS as i64;
    let left = |count: i64| Text::msg("ttl.left").fact("count", count).fact("n", n);
    let until_delete = |count: i64| Text::msg("ttl.until-delete").fact("count", count).fact("n", n);
    let holds = redis_left == 0 && sqlite_left == n && sqlite_live == 0 && net_left.is_none_or(|c| c == n);
    let workload = Text::msg("workload.ttl").fact("sessions", SESSIONS).fact("ttl_ms", SESSION_TTL_MS);
    s.report.claim(
        Claim::new("ttl-expires-without-sweeper", "", format!("{redis_left} vs {sqlite_left}"), holds)
            .fact("wait_ms", SESSION_WAIT_MS)
            .fact("sessions", SESSIONS)
            .fact("ttl_ms", SESSION_TTL_MS)
            .fact("redis_left", redis_left)
            .fact("sqlite_left", sqlite_left)
            .fact("sqlite_live", sqlite_live),
    );
    let swept = s.db.execute("DELETE FROM sessions WHERE expires_at <= ?1", [now_ms()?])?;
    s.report.note(NoteKind::Info, Text::msg("sweeper").fact("swept", swept));
    Ok(vec![ScoreRow {
        workload,
        redis: left(redis_left),
        sqlite: until_delete(sqlite_left),
        net: match net_left {
            Some(c) => until_delete(c),
            None => Text::msg("not-configured"),
        },
        vs_sqlite: Text::msg("ttl.redis-wins"),
        vs_net: if net_left.is_some() { Text::msg("ttl.redis-wins") } else { "—".into() },
        same: "—".into(),
    }])
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::measure::Kind;
    use std::time::Duration;

    /// A comparison of two measurements taken in one group: `a_us` and `b_us` per round.
    fn compare(a_us: &[u64], b_us: &[u64]) -> Comparison {
        let rounds =
            |us: &[u64]| -> Vec<Vec<Duration>> { us.iter().map(|&u| vec![Duration::from_micros(u)]).collect() };
        let m = |id: &str, us: &[u64]| {
            Measurement::from_rounds(id, id, Backend::Redis, Kind::Throughput, 77, 1, &rounds(us)).unwrap()
        };
        Comparison::of("a-vs-b", &m("a", a_us), &m("b", b_us)).unwrap()
    }

    #[test]
    fn versus_names_the_faster_side() {
        let ctx_free = |c: &Comparison| oriented("Redis", "SQLite", c).map(|(w, _, m)| format!("{w} {m}"));
        assert_eq!(ctx_free(&compare(&[50; 10], &[5; 10])).as_deref(), Some("SQLite 10.0× [10.0–10.0]"));
        assert_eq!(ctx_free(&compare(&[40; 10], &[800; 10])).as_deref(), Some("Redis 20.0× [20.0–20.0]"));
        let even = compare(&[10, 12, 8, 10, 11, 9, 10, 10, 12, 8], &[11, 10, 9, 10, 12, 8, 10, 11, 9, 10]);
        assert_eq!(ctx_free(&even), None);
    }

    #[test]
    fn the_example_url_is_a_mysql_url() {
        assert_eq!(SQL_URL_EXAMPLE, "mysql://root@127.0.0.1:3306/test");
    }
}
