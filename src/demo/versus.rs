//! Lesson 10 (notes, Q3: "Redis vs MySQL: when to use Redis"): the same workloads on Redis, on
//! SQLite in this process, and on a networked SQL server when `--sql-url` names one, in one table,
//! with the winner and the ratio measured in this run. Then the join Redis cannot do (done in app
//! code over hashes, round trips counted), and what a crash loses under each persistence setting.

mod crash;
mod data;
mod join;
mod tables;

use std::hint::black_box;

use anyhow::{Context, Result, ensure};
use rand::SeedableRng;
use rand::rngs::Xoshiro256PlusPlus;
use rand::seq::SliceRandom;
use redis::ConnectionLike;
use rusqlite::{Connection, OptionalExtension, params};

pub use self::crash::crash_durability;
use self::data::{Token, TokenRecord, Trader};
pub use self::join::join_in_app;
use self::tables::{Lit, Networked, as_refs, query};
use super::klines::codec::{self, Candle};
use super::klines::series::{self, MARKETS, MINUTE_MS};
use super::{Ctx, DemoReport, NoteKind};
use crate::i18n::Lang;
use crate::measure::{
    Backend, Claim, Comparison, Measurement, Verdict, format_count, format_duration, format_ratio,
    format_ratio_interval,
};
use crate::sql::remote::{Param, Prepared, SqlServer};
use crate::sql::{self, Durability};
use crate::text::Text;

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
/// Commands per pipeline when loading.
const LOAD_CHUNK: usize = 1_000;
/// Below this ratio of a synced commit to an unsynced one, the disk acknowledges fsync from a
/// cache (or RAM), and the counter claim only reports the measured winner.
const MIN_SYNC_COST: f64 = 3.0;

/// The sorted set's rank must beat `COUNT(*)` of the higher volumes by at least this much: O(log N)
/// against a walk over half the board, a gap far wider than this.
const RANK_MIN_RATIO: f64 = 2.0;

/// How to show the networked column when `--sql-url` was not given.
const NOT_CONFIGURED_EN: &str = "not configured (pass --sql-url mysql://root@127.0.0.1:3306/test)";
const NOT_CONFIGURED_ZH: &str = "未配置（可传入 --sql-url mysql://root@127.0.0.1:3306/test）";

/// One row of the scorecard.
struct ScoreRow {
    workload: String,
    redis: String,
    sqlite: String,
    net: String,
    vs_sqlite: String,
    vs_net: String,
    same: String,
}

impl ScoreRow {
    fn cells(self) -> Vec<String> {
        vec![self.workload, self.redis, self.sqlite, self.net, self.vs_sqlite, self.vs_net, self.same]
    }

    /// A row with Redis and SQLite measured (`vs_sqlite`: the winner and the ratio); the networked
    /// column says how to configure one.
    fn new(
        ctx: &Ctx,
        workload: String,
        redis: &Measurement,
        sqlite: &Measurement,
        vs_sqlite: String,
        same: bool,
    ) -> ScoreRow {
        ScoreRow {
            workload,
            redis: p50(redis),
            sqlite: p50(sqlite),
            net: not_configured(ctx),
            vs_sqlite,
            vs_net: "—".into(),
            same: same_cell(ctx, same, None),
        }
    }

    /// Fill the networked columns.
    fn networked(&mut self, ctx: &Ctx, remote: &Measurement, vs_net: String, same: bool, same_net: bool) {
        self.net = p50(remote);
        self.vs_net = vs_net;
        self.same = same_cell(ctx, same, Some(same_net));
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
    let mut report = DemoReport::new(
        "workload-table",
        ctx.tr("Six workloads: Redis, SQLite, and a SQL server", "六种负载：Redis、SQLite 与 SQL 服务器"),
    );
    // A bad --sql-url fails first, before any work.
    let mut net = Networked::open(ctx)?;
    let mut con = ctx.connect()?;
    let mut db = sql::open_file(&ctx.scratch.join("versus.db"), Durability::Off)?;
    let net_header = match &net {
        Some(n) => n.label(),
        None => ctx.tr("networked SQL", "网络 SQL 服务器").to_string(),
    };
    let vs_net_header = match &net {
        Some(n) => format!("Redis vs {}", n.server.name()),
        None => ctx.tr("Redis vs networked SQL", "Redis vs 网络 SQL").to_string(),
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
    report.claim(Claim::new(
        "same-answers-everywhere",
        ctx.tr(
            "Fair comparison: on every workload, every store returned the same answers before it was timed (the \"same results\" column)",
            "比较是公平的：每种负载在计时之前，各存储返回的答案都完全相同（见“结果一致”一列）",
        ),
        same_cell(ctx, all_same, None),
        all_same,
    ));
    let rows: Vec<Vec<String>> = rows.into_iter().map(ScoreRow::cells).collect();
    report.findings.insert(
        0,
        crate::demo::Finding {
            title: ctx
                .tr(
                    "Scorecard (p50 of this run; ratio = slower ÷ faster)",
                    "成绩单（本次运行的 p50；倍数 = 慢者 ÷ 快者）",
                )
                .into(),
            headers: vec![
                ctx.tr("workload", "负载").into(),
                "Redis".into(),
                ctx.tr("SQLite (in process)", "SQLite（进程内）").into(),
                net_header.into(),
                "Redis vs SQLite".into(),
                vs_net_header.into(),
                ctx.tr("same results", "结果一致").into(),
            ],
            rows: rows.into_iter().map(|row| row.into_iter().map(Text::Plain).collect()).collect(),
        },
    );
    match &net {
        Some(n) => report.note(
            NoteKind::Info,
            match ctx.lang {
                Lang::En => format!(
                    "The SQL server is {} at {}, over TCP like Redis. Its tables are named redis_learn_<run>_* and are dropped at the end.",
                    n.server.product(),
                    n.server.url()
                ),
                Lang::Zh => format!(
                    "SQL 服务器是 {}（{}），和 Redis 一样走 TCP。它的表名为 redis_learn_<run>_*，结束时删除。",
                    n.server.product(),
                    n.server.url()
                ),
            },
        ),
        None => report.note(
            NoteKind::Info,
            match ctx.lang {
                Lang::En => format!("Networked SQL: {NOT_CONFIGURED_EN}. No claim depends on it."),
                Lang::Zh => format!("网络 SQL 服务器：{NOT_CONFIGURED_ZH}。没有任何结论依赖它。"),
            },
        ),
    }
    Ok(report)
}

/// A p50 for a table cell.
fn p50(m: &Measurement) -> String {
    format_duration(m.p50())
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
fn versus(ctx: &Ctx, a_name: &str, b_name: &str, c: &Comparison) -> String {
    match oriented(a_name, b_name, c) {
        Some((winner, _, measured)) => format!("{winner} {measured}"),
        None => format!("{} ({})", ctx.tr("no clear difference", "无明显差别"), c.measured()),
    }
}

/// `4.2× faster` / `4.2× slower` (`快 4.2×` / `慢 4.2×`): a ratio worded by its direction.
fn faster_or_slower(ctx: &Ctx, ratio: f64) -> String {
    let faster = ratio >= 1.0;
    let r = format_ratio(if faster { ratio } else { 1.0 / ratio });
    match (ctx.lang, faster) {
        (Lang::En, true) => format!("{r} faster"),
        (Lang::En, false) => format!("{r} slower"),
        (Lang::Zh, true) => format!("快 {r}"),
        (Lang::Zh, false) => format!("慢 {r}"),
    }
}

/// A note, not a claim (the lesson predicts no winner here): which side was faster in this run.
fn measured_note(
    ctx: &Ctx,
    workload: &str,
    a: (&str, &Measurement),
    b: (&str, &Measurement),
    c: &Comparison,
) -> String {
    match (oriented(a.0, b.0, c), ctx.lang) {
        (Some((winner, _, measured)), Lang::En) => format!(
            "{workload}: {winner} was faster in this run, {} {} vs {} {} at p50 ({measured})",
            a.0,
            p50(a.1),
            b.0,
            p50(b.1)
        ),
        (Some((winner, _, measured)), Lang::Zh) => {
            format!(
                "{workload}：本次运行 {winner} 更快，p50 {} {} 对 {} {}（{measured}）",
                a.0,
                p50(a.1),
                b.0,
                p50(b.1)
            )
        }
        (None, Lang::En) => format!(
            "{workload}: no clear difference in this run, {} {} vs {} {} at p50 (ratio {})",
            a.0,
            p50(a.1),
            b.0,
            p50(b.1),
            c.measured()
        ),
        (None, Lang::Zh) => format!(
            "{workload}：本次运行看不出明显差别，p50 {} {} 对 {} {}（比值 {}）",
            a.0,
            p50(a.1),
            b.0,
            p50(b.1),
            c.measured()
        ),
    }
}

/// A claim that `winner` beats `loser` by more than `threshold` (`c` compares winner against
/// loser), with the reason; worded by the measured direction.
#[allow(clippy::too_many_arguments)]
fn expected_winner(
    ctx: &Ctx,
    id: &str,
    workload: &str,
    winner: (&str, &Measurement),
    loser: (&str, &Measurement),
    c: &Comparison,
    threshold: f64,
    why: &str,
) -> Claim {
    let won = c.ratio > 1.0;
    let text = match (ctx.lang, won) {
        (Lang::En, true) => format!(
            "{workload}: {} wins, {} vs {} at p50 ({}): {why}",
            winner.0,
            p50(winner.1),
            p50(loser.1),
            format_ratio(c.ratio)
        ),
        (Lang::En, false) => format!(
            "{workload}: {} was expected to win ({why}), but measured {} vs {} at p50",
            winner.0,
            p50(winner.1),
            p50(loser.1)
        ),
        (Lang::Zh, true) => format!(
            "{workload}：{} 胜出，p50 {} 对 {}（{}）：{why}",
            winner.0,
            p50(winner.1),
            p50(loser.1),
            format_ratio(c.ratio)
        ),
        (Lang::Zh, false) => {
            format!("{workload}：本应 {} 胜出（{why}），实测 p50 却是 {} 对 {}", winner.0, p50(winner.1), p50(loser.1))
        }
    };
    Claim::ratio_above(id, text, c, threshold)
}

fn same_cell(ctx: &Ctx, same: bool, same_net: Option<bool>) -> String {
    let word = |ok: bool| if ok { ctx.tr("yes", "是") } else { ctx.tr("NO", "否") };
    match same_net {
        Some(net) => format!("{} / {}", word(same), word(net)),
        None => word(same).to_string(),
    }
}

fn not_configured(ctx: &Ctx) -> String {
    ctx.tr("not configured", "未配置").to_string()
}

/// Send `cmds` in pipelines of [`LOAD_CHUNK`] commands.
fn load_redis(ctx: &Ctx, con: &mut impl ConnectionLike, cmds: Vec<redis::Cmd>) -> Result<()> {
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

/// `{ns}:token:{chain}:{address}`: the notes' token cache key.
fn token_key(ctx: &Ctx, t: &Token) -> String {
    ctx.key(&format!("token:{}:{}", t.chain, t.address))
}

fn token_rows(tokens: &[Token]) -> Vec<Vec<Lit>> {
    tokens
        .iter()
        .map(|t| {
            vec![
                Lit::I(t.id),
                Lit::S(t.chain.to_string()),
                Lit::S(t.address.clone()),
                Lit::S(t.record.symbol.clone()),
                Lit::I(t.record.decimals),
                Lit::I(t.record.price),
            ]
        })
        .collect()
}

const TOKEN_COLUMNS: [&str; 6] = ["id", "chain", "address", "symbol", "decimals", "price"];

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
        let label = match ctx.lang {
            Lang::En => format!("{}: the same SELECT, prepared", net.label()),
            Lang::Zh => format!("{}：同样的 SELECT（预编译）", net.label()),
        };
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
        .op(
            "redis-get",
            ctx.tr("GET token:{chain}:{address} + JSON decode", "GET token:{chain}:{address} + 解析 JSON"),
            Backend::Redis,
            || {
                black_box(redis_get(con, *next_redis.next().unwrap_or(&0))?);
                Ok(())
            },
        )
        .one_round_trip()
        .op(
            "sqlite-pk-read",
            ctx.tr("SQLite: SELECT by (chain, address), unique index", "SQLite：按 (chain, address) 唯一索引 SELECT"),
            Backend::Sqlite,
            || {
                black_box(sqlite_get(db, *next_sqlite.next().unwrap_or(&0))?);
                Ok(())
            },
        );
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

    let workload = ctx.tr("Key read", "按键读取");
    let title = match ctx.lang {
        Lang::En => format!("{workload} ({} tokens)", format_count(tokens.len() as u64)),
        Lang::Zh => format!("{workload}（{} 个 token）", format_count(tokens.len() as u64)),
    };
    let mut row = ScoreRow::new(ctx, title, redis, sqlite, versus(ctx, "SQLite", "Redis", &sqlite_vs_redis), same);
    s.report.claim(expected_winner(
        ctx,
        "sqlite-beats-redis-key-read",
        workload,
        ("SQLite", sqlite),
        ("Redis", redis),
        &sqlite_vs_redis,
        1.0,
        ctx.tr(
            "in-process SQLite makes no network round trip, and Redis must",
            "进程内的 SQLite 不需要网络往返，而 Redis 每次都要",
        ),
    ));

    if let Some(r) = remote {
        let net_m = group.get("sql-server-pk-read");
        let vs_net = s.report.compare("redis-vs-sql-server-key-read", redis, net_m)?;
        s.all_same &= r.same;
        row.networked(ctx, net_m, versus(ctx, "Redis", &r.name, &vs_net), same, r.same);
        s.report.claim(expected_winner(
            ctx,
            "redis-beats-sql-server-key-read",
            workload,
            ("Redis", redis),
            (&r.name, net_m),
            &vs_net,
            1.0,
            ctx.tr(
                "both pay a network round trip, and Redis does less work per request",
                "两边都要付一次网络往返，而 Redis 每个请求做的事更少",
            ),
        ));
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
    let market = MARKETS[0];
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
        let label = match ctx.lang {
            Lang::En => format!("{}: the same range, prepared", net.label()),
            Lang::Zh => format!("{}：同样的范围查询（预编译）", net.label()),
        };
        let name = net.server.name().to_string();
        remote = Some(Remote { server: &mut net.server, stmt, label, name, same: same_net });
    }

    let (con, db) = (&mut *s.con, &*s.db);
    let (mut next_redis, mut next_sqlite, mut next_net) =
        (starts.iter().cycle(), starts.iter().cycle(), starts.iter().cycle());
    let mut group = ctx
        .sampler
        .group()
        .op(
            "redis-zrange",
            match (ctx.lang, modern) {
                (Lang::En, true) => format!("ZRANGE … BYSCORE, {WINDOW} candles + decode"),
                (Lang::En, false) => format!("ZRANGEBYSCORE, {WINDOW} candles + decode"),
                (Lang::Zh, true) => format!("ZRANGE … BYSCORE，{WINDOW} 根 K 线 + 解码"),
                (Lang::Zh, false) => format!("ZRANGEBYSCORE，{WINDOW} 根 K 线 + 解码"),
            },
            Backend::Redis,
            || {
                black_box(redis_range(con, *next_redis.next().unwrap_or(&0))?);
                Ok(())
            },
        )
        .op(
            "sqlite-pk-range",
            match ctx.lang {
                Lang::En => format!("SQLite: primary-key range, {WINDOW} rows"),
                Lang::Zh => format!("SQLite：主键范围查询，{WINDOW} 行"),
            },
            Backend::Sqlite,
            || {
                black_box(sqlite_range(db, *next_sqlite.next().unwrap_or(&0))?);
                Ok(())
            },
        );
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
    let workload = match ctx.lang {
        Lang::En => format!("Range ({WINDOW} one-minute K-lines)"),
        Lang::Zh => format!("范围查询（{WINDOW} 根 1 分钟 K 线）"),
    };
    let mut row = ScoreRow::new(ctx, workload.clone(), redis, sqlite, versus(ctx, "Redis", "SQLite", &vs_sqlite), same);
    s.report.note(NoteKind::Info, measured_note(ctx, &workload, ("Redis", redis), ("SQLite", sqlite), &vs_sqlite));

    if let Some(r) = remote {
        let net_m = group.get("sql-server-pk-range");
        let vs_net = s.report.compare("redis-vs-sql-server-range", redis, net_m)?;
        s.all_same &= r.same;
        row.networked(ctx, net_m, versus(ctx, "Redis", &r.name, &vs_net), same, r.same);
        s.report.note(NoteKind::Info, measured_note(ctx, &workload, ("Redis", redis), (&r.name, net_m), &vs_net));
    }
    Ok(vec![row])
}

/// Top-N and rank on a board of traders by 24 h volume: a sorted set against an indexed column.
fn leaderboard(s: &mut Sides) -> Result<Vec<ScoreRow>> {
    let ctx = s.ctx;
    let traders = data::traders(ctx.n(50_000, 20_000));
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
        .op(
            "sqlite-top10",
            ctx.tr("SQLite: ORDER BY volume DESC LIMIT 10 (index)", "SQLite：ORDER BY volume DESC LIMIT 10（走索引）"),
            Backend::Sqlite,
            || {
                black_box(sqlite_top(db)?);
                Ok(())
            },
        );
    if let Some((product, _, server, top_stmt, ..)) = remote.as_mut() {
        let (server, top_stmt) = (&mut **server, &*top_stmt);
        group = group.op(
            "sql-server-top10",
            match ctx.lang {
                Lang::En => format!("{product}: ORDER BY … LIMIT 10"),
                Lang::Zh => format!("{product}：ORDER BY … LIMIT 10"),
            },
            Backend::NetworkSql,
            move || {
                black_box(remote_top(server, top_stmt)?);
                Ok(())
            },
        );
    }
    let top_group = s.report.measured_group(group.run()?);

    // Rank: the same, on the same wallets in the lower half of the board.
    let (con, db) = (&mut *s.con, &*s.db);
    let (mut next_redis, mut next_sqlite, mut next_net) =
        (probes.iter().cycle(), probes.iter().cycle(), probes.iter().cycle());
    let mut group = ctx
        .sampler
        .group()
        .op(
            "redis-zrevrank",
            ctx.tr("ZREVRANK (lower half of the board)", "ZREVRANK（榜单下半部分）"),
            Backend::Redis,
            || {
                black_box(redis_rank(con, next_redis.next().map_or("", String::as_str))?);
                Ok(())
            },
        )
        .op(
            "sqlite-count-rank",
            ctx.tr("SQLite: COUNT(*) of higher volumes (index)", "SQLite：COUNT(*) 统计更高的成交额（走索引）"),
            Backend::Sqlite,
            || {
                black_box(sqlite_rank(db, next_sqlite.next().map_or("", String::as_str))?);
                Ok(())
            },
        );
    if let Some((product, _, server, _, rank_stmt, ..)) = remote.as_mut() {
        let (server, rank_stmt) = (&mut **server, &*rank_stmt);
        group = group.op(
            "sql-server-count-rank",
            match ctx.lang {
                Lang::En => format!("{product}: COUNT(*) of higher volumes"),
                Lang::Zh => format!("{product}：COUNT(*) 统计更高的成交额"),
            },
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

    let n = format_count(traders.len() as u64);
    let (top_workload, rank_workload) = match ctx.lang {
        Lang::En => (format!("Top 10 of {n} traders"), format!("Rank of one trader among {n}")),
        Lang::Zh => (format!("{n} 个交易者中的前 10 名"), format!("{n} 个交易者中某人的排名")),
    };
    let mut top_row = ScoreRow::new(
        ctx,
        top_workload.clone(),
        redis_top_m,
        sqlite_top_m,
        versus(ctx, "Redis", "SQLite", &top_vs),
        same_top,
    );
    let mut rank_row = ScoreRow::new(
        ctx,
        rank_workload.clone(),
        redis_rank_m,
        sqlite_rank_m,
        versus(ctx, "Redis", "SQLite", &rank_vs),
        same_rank,
    );
    let rank_why = ctx.tr(
        "the sorted set finds a rank in O(log N); COUNT(*) walks every index entry above the wallet",
        "有序集合以 O(log N) 求出排名；COUNT(*) 要逐个走过该钱包之上的所有索引项",
    );
    s.report.note(
        NoteKind::Info,
        measured_note(ctx, &top_workload, ("Redis", redis_top_m), ("SQLite", sqlite_top_m), &top_vs),
    );
    s.report.claim(expected_winner(
        ctx,
        "sorted-set-rank-beats-sqlite-count",
        &rank_workload,
        ("Redis", redis_rank_m),
        ("SQLite", sqlite_rank_m),
        &rank_vs,
        RANK_MIN_RATIO,
        rank_why,
    ));

    if let Some((_, name, _, _, _, same_top_net, same_rank_net)) = remote {
        let (top_m, rank_m) = (top_group.get("sql-server-top10"), rank_group.get("sql-server-count-rank"));
        let top_net = s.report.compare("redis-vs-sql-server-top10", redis_top_m, top_m)?;
        let rank_net = s.report.compare("redis-vs-sql-server-rank", redis_rank_m, rank_m)?;
        s.all_same &= same_top_net && same_rank_net;
        top_row.networked(ctx, top_m, versus(ctx, "Redis", &name, &top_net), same_top, same_top_net);
        rank_row.networked(ctx, rank_m, versus(ctx, "Redis", &name, &rank_net), same_rank, same_rank_net);
        s.report
            .note(NoteKind::Info, measured_note(ctx, &top_workload, ("Redis", redis_top_m), (&name, top_m), &top_net));
        s.report.claim(expected_winner(
            ctx,
            "sorted-set-rank-beats-sql-server-count",
            &rank_workload,
            ("Redis", redis_rank_m),
            (&name, rank_m),
            &rank_net,
            RANK_MIN_RATIO,
            rank_why,
        ));
    }
    s.report.note(
        NoteKind::Info,
        ctx.tr(
            "Top 10 is cheap in SQL too: an index is already in order, so LIMIT 10 reads 10 entries. The sorted set's edge is the rank of anyone (and ZINCRBY keeping the order as volumes change), not the head of the list.",
            "前 10 名在 SQL 里同样便宜：索引本来就是有序的，LIMIT 10 只读 10 项。有序集合真正的优势在于任意成员的排名（以及成交额变化时 ZINCRBY 自动维持顺序），而不是榜首。",
        ),
    );
    Ok(vec![top_row, rank_row])
}

/// Counter: a hot counter incremented over and over. `INCR` against a durable `UPDATE` commit.
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
    // Increments sent, per store (warm-up included): each counter must end exactly there.
    let (mut redis_n, mut durable_n, mut no_sync_n, mut memory_n, mut net_n) = (0_i64, 0_i64, 0_i64, 0_i64, 0_i64);
    let mut remote = None;
    if let Some(net) = s.net.as_deref_mut() {
        let rows = vec![vec![Lit::S(name.into()), Lit::I(0)]];
        net.load(&tables::COUNTERS, &["name", "n"], &rows)?;
        let names = net.names(&["counters"]);
        let inc = net.server.prepare(&query(tables::INCREMENT_SQL, &as_refs(&names)))?;
        let read = net.server.prepare(&query(tables::COUNTER_SQL, &as_refs(&names)))?;
        let label = match ctx.lang {
            Lang::En => format!("{}: UPDATE … n = n + 1, autocommit", net.label()),
            Lang::Zh => format!("{}：UPDATE … n = n + 1，自动提交", net.label()),
        };
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
        .op(
            "sqlite-durable-update",
            ctx.tr(
                "SQLite: UPDATE … n = n + 1, durable commit (synchronous=FULL)",
                "SQLite：UPDATE … n = n + 1，持久化提交（synchronous=FULL）",
            ),
            Backend::Sqlite,
            || bump(&mut durable_inc, name, &mut durable_n),
        )
        .op(
            "sqlite-no-sync-update",
            ctx.tr(
                "SQLite: the same UPDATE, synchronous=OFF (no fsync)",
                "SQLite：同样的 UPDATE，synchronous=OFF（不 fsync）",
            ),
            Backend::Sqlite,
            || bump(&mut no_sync_inc, name, &mut no_sync_n),
        )
        .op(
            "sqlite-memory-update",
            ctx.tr("SQLite in memory (this process only)", "SQLite 内存库（仅本进程可见）"),
            Backend::Sqlite,
            || bump(&mut memory_inc, name, &mut memory_n),
        );
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
    let value =
        |db: &Connection| -> Result<Option<i64>> { Ok(db.query_row(&read_sql, [name], |r| r.get(0)).optional()?) };
    let exact = redis_value == redis_n
        && value(&durable_db)? == Some(durable_n)
        && value(&no_sync_db)? == Some(no_sync_n)
        && value(&memory_db)? == Some(memory_n);
    let (redis, durable, no_sync, memory) = (
        group.get("redis-incr"),
        group.get("sqlite-durable-update"),
        group.get("sqlite-no-sync-update"),
        group.get("sqlite-memory-update"),
    );
    let vs_durable = s.report.compare("redis-vs-sqlite-durable-counter", redis, durable)?;
    // What the disk sync costs here: some disks (and virtual disks) acknowledge a sync from a cache.
    let sync_cost = s.report.compare("no-sync-vs-durable-counter", no_sync, durable)?;
    let fs_type = sql::filesystem_type(ctx.scratch).unwrap_or_else(|| "unknown".to_string());
    let workload = ctx.tr("Counter (hot row, +1 each)", "计数器（热点行，每次 +1）");
    let mut row =
        ScoreRow::new(ctx, workload.to_string(), redis, durable, versus(ctx, "Redis", "SQLite", &vs_durable), exact);
    row.sqlite = match ctx.lang {
        Lang::En => format!("{} (durable)", p50(durable)),
        Lang::Zh => format!("{}（持久化）", p50(durable)),
    };
    if sql::is_memory_filesystem(&fs_type) {
        s.report.note(
            NoteKind::Caveat,
            match ctx.lang {
                Lang::En => format!("The SQLite file is on {fs_type}, in RAM: fsync costs nothing here, so the durable commit is not really durable. Set TMPDIR to a directory on a disk to see its true cost."),
                Lang::Zh => format!("SQLite 文件位于 {fs_type}（内存文件系统）：这里 fsync 不花时间，“持久化提交”并不真正持久。把 TMPDIR 设为磁盘上的目录才能看到真实代价。"),
            },
        );
        s.report.note(NoteKind::Info, measured_note(ctx, workload, ("Redis", redis), ("SQLite", durable), &vs_durable));
    } else if sync_cost.above(MIN_SYNC_COST) != Some(true) {
        s.report.note(
            NoteKind::Caveat,
            match ctx.lang {
                Lang::En => format!(
                    "A durable commit cost only {} more than one without fsync here ({} vs {}): this disk acknowledges syncs from a cache, so the durable line shows less than a real disk would.",
                    sync_cost.measured(),
                    p50(durable),
                    p50(no_sync)
                ),
                Lang::Zh => format!(
                    "在这里，持久化提交只比不 fsync 的提交慢 {}（{} 对 {}）：这块磁盘从缓存里确认同步，所以“持久化”那一行比真实磁盘上的代价小。",
                    sync_cost.measured(),
                    p50(durable),
                    p50(no_sync)
                ),
            },
        );
        s.report.note(NoteKind::Info, measured_note(ctx, workload, ("Redis", redis), ("SQLite", durable), &vs_durable));
    } else {
        s.report.claim(expected_winner(
            ctx,
            "incr-beats-durable-commit",
            workload,
            ("Redis", redis),
            ("SQLite", durable),
            &vs_durable,
            1.0,
            ctx.tr(
                "INCR changes a number in RAM; a durable commit waits for the disk every time",
                "INCR 只改内存里的一个数字；持久化提交每次都要等磁盘",
            ),
        ));
    }
    s.report.note(
        NoteKind::Info,
        match ctx.lang {
            Lang::En => format!(
                "A counter in this process's memory is faster still ({} p50), but no other process or server sees it, and it dies with the process; Redis's INCR is shared by every server and atomic. The price: without AOF, Redis's count is only in RAM (the crash demo measures it). The SQLite file is on {fs_type}.",
                p50(memory),
            ),
            Lang::Zh => format!(
                "本进程内存里的计数器更快（p50 {}），但其他进程和服务器看不到它，进程一退出就没了；Redis 的 INCR 被所有服务器共享，而且是原子的。代价是：不开 AOF 时，Redis 的计数只在内存里（崩溃演示会测量这一点）。SQLite 文件所在的文件系统：{fs_type}。",
                p50(memory),
            ),
        },
    );

    let mut exact_net = None;
    if let Some((product, server, _, read, _)) = remote {
        let value = server.query(&read, &[Param::Text(name)])?.first().context("no counter row")?[0].int()?;
        let net_m = group.get("sql-server-update");
        let vs_net = s.report.compare("redis-vs-sql-server-counter", redis, net_m)?;
        row.networked(ctx, net_m, versus(ctx, "Redis", &product, &vs_net), exact, value == net_n);
        exact_net = Some(value == net_n);
        s.report.claim(expected_winner(
            ctx,
            "incr-beats-sql-server-update",
            workload,
            ("Redis", redis),
            (&product, net_m),
            &vs_net,
            1.0,
            ctx.tr(
                "INCR changes a number in RAM; the SQL server runs and commits a transaction for every UPDATE",
                "INCR 只改内存里的一个数字；SQL 服务器每次 UPDATE 都要执行并提交一个事务",
            ),
        ));
    }
    let all_exact = exact && exact_net.unwrap_or(true);
    s.all_same &= all_exact;
    s.report.claim(Claim::new(
        "counters-are-exact",
        match ctx.lang {
            Lang::En => format!(
                "Every counter ended exactly at the number of increments sent to it (Redis: {redis_value} of {redis_n})"
            ),
            Lang::Zh => {
                format!("每个计数器的最终值都恰好等于发给它的自增次数（Redis：{redis_n} 次中的 {redis_value}）")
            }
        },
        format!("{redis_value}/{redis_n}"),
        all_exact,
    ));
    Ok(vec![row])
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
    let now_ms = || -> i64 {
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_millis() as i64)
    };
    let expires_at = now_ms() + SESSION_TTL_MS as i64;
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
        s.db.query_row("SELECT COUNT(*) FROM sessions WHERE expires_at > ?1", [now_ms()], |r| r.get(0))?;
    let net_left = match s.net.as_deref_mut() {
        Some(net) => {
            let name = net.name("sessions");
            let stmt = net.server.prepare(&format!("SELECT COUNT(*) FROM {name}"))?;
            Some(net.server.query(&stmt, &[])?.first().context("no row")?[0].int()?)
        }
        None => None,
    };
    let n = SESSIONS as i64;
    let left = |count: i64| match ctx.lang {
        Lang::En => format!("{count} of {n} left"),
        Lang::Zh => format!("剩 {count}/{n}"),
    };
    let until_delete = |count: i64| match ctx.lang {
        Lang::En => format!("{count} of {n} left (until DELETE)"),
        Lang::Zh => format!("剩 {count}/{n}（直到 DELETE）"),
    };
    let holds = redis_left == 0 && sqlite_left == n && sqlite_live == 0 && net_left.is_none_or(|c| c == n);
    let workload = match ctx.lang {
        Lang::En => format!("TTL data ({SESSIONS} sessions, {SESSION_TTL_MS} ms TTL)"),
        Lang::Zh => format!("带过期时间的数据（{SESSIONS} 个会话，TTL {SESSION_TTL_MS} ms）"),
    };
    s.report.claim(Claim::new(
        "ttl-expires-without-sweeper",
        match ctx.lang {
            Lang::En => format!(
                "TTL data: {SESSION_WAIT_MS} ms after writing {SESSIONS} sessions with PX {SESSION_TTL_MS}, Redis holds {redis_left} of them, with no cleanup job; the SQL table still holds {sqlite_left} rows ({sqlite_live} still valid): every read must filter on expires_at, and a sweeper must DELETE them"
            ),
            Lang::Zh => format!(
                "带过期时间的数据：以 PX {SESSION_TTL_MS} 写入 {SESSIONS} 个会话，{SESSION_WAIT_MS} ms 后 Redis 里还剩 {redis_left} 个，无需任何清理任务；SQL 表里仍有 {sqlite_left} 行（其中 {sqlite_live} 行未过期）：每次读取都得按 expires_at 过滤，还要有清理任务去 DELETE"
            ),
        },
        format!("{redis_left} vs {sqlite_left}"),
        holds,
    ));
    let swept = s.db.execute("DELETE FROM sessions WHERE expires_at <= ?1", [now_ms()])?;
    s.report.note(
        NoteKind::Info,
        match ctx.lang {
            Lang::En => format!("The SQL side's sweeper, DELETE FROM sessions WHERE expires_at <= now, removed {swept} rows: a job you must schedule, and that scans or indexes expires_at."),
            Lang::Zh => format!("SQL 一侧的清理任务 DELETE FROM sessions WHERE expires_at <= now 删除了 {swept} 行：这是一个需要你自己调度的任务，还得扫描 expires_at 或为它建索引。"),
        },
    );
    let redis_wins = ctx.tr("Redis (no sweeper)", "Redis（无需清理）").to_string();
    Ok(vec![ScoreRow {
        workload,
        redis: left(redis_left),
        sqlite: until_delete(sqlite_left),
        net: match net_left {
            Some(c) => until_delete(c),
            None => not_configured(ctx),
        },
        vs_sqlite: redis_wins.clone(),
        vs_net: if net_left.is_some() { redis_wins } else { "—".into() },
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
    fn not_configured_says_how_to_configure() {
        assert!(NOT_CONFIGURED_EN.contains("--sql-url mysql://root@127.0.0.1:3306/test"));
        assert!(NOT_CONFIGURED_ZH.contains("--sql-url mysql://root@127.0.0.1:3306/test"));
    }
}
