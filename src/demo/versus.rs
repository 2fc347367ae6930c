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
use crate::measure::{Backend, Claim, Comparison, Measurement, format_count, format_duration, format_ratio};
use crate::sql::remote::{Param, SqlServer};
use crate::sql::{self, Durability};

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
}

/// Everything one workload needs.
/// The networked SQL server's side of one workload: its timing, and whether its answers were right.
struct NetSide {
    name: String,
    remote: Measurement,
    same: bool,
}

impl NetSide {
    /// Check `get` against `correct` on the first `verify` inputs, then time it cycling over `inputs`.
    fn measure<I: Copy, T>(
        sampler: &crate::measure::Sampler,
        server: &mut SqlServer,
        label: String,
        inputs: &[I],
        verify: usize,
        mut get: impl FnMut(&mut SqlServer, I) -> Result<T>,
        correct: impl Fn(I, &T) -> bool,
    ) -> Result<NetSide> {
        let name = server.name().to_string();
        let mut same = true;
        for &input in inputs.iter().take(verify) {
            same &= correct(input, &get(server, input)?);
        }
        let mut next = inputs.iter().cycle();
        let remote = sampler.measure(label, Backend::NetworkSql, || {
            if let Some(&input) = next.next() {
                black_box(get(server, input)?);
            }
            Ok(())
        })?;
        Ok(NetSide { name, remote, same })
    }
}

impl ScoreRow {
    /// A row with Redis and SQLite measured; the networked column says how to configure one.
    fn new(ctx: &Ctx, workload: String, redis: &Measurement, sqlite: &Measurement, same: bool) -> ScoreRow {
        ScoreRow {
            workload,
            redis: p50(redis),
            sqlite: p50(sqlite),
            net: not_configured(ctx),
            vs_sqlite: versus("Redis", redis, "SQLite", sqlite),
            vs_net: "—".into(),
            same: same_cell(ctx, same, None),
        }
    }

    /// Fill the networked columns from `net`; the claim is Redis against the networked server.
    fn networked(&mut self, ctx: &Ctx, workload: &str, redis: &Measurement, same: bool, net: &NetSide) -> Claim {
        self.net = p50(&net.remote);
        self.vs_net = versus("Redis", redis, &net.name, &net.remote);
        self.same = same_cell(ctx, same, Some(net.same));
        measured_winner(ctx, workload, ("Redis", redis), (&net.name, &net.remote), net.same)
    }
}

struct Sides<'a, 'c> {
    ctx: &'a Ctx<'c>,
    report: &'a mut DemoReport,
    con: &'a mut crate::server::TracedConnection,
    db: &'a mut Connection,
    net: Option<&'a mut Networked>,
    modern: bool,
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
    };
    let mut rows = key_read(&mut sides)?;
    rows.extend(range(&mut sides)?);
    rows.extend(leaderboard(&mut sides)?);
    rows.extend(counter(&mut sides)?);
    rows.extend(ttl_data(&mut sides)?);
    let rows: Vec<Vec<String>> = rows.into_iter().map(ScoreRow::cells).collect();
    report.findings.insert(
        0,
        crate::demo::Finding {
            title: ctx
                .tr(
                    "Scorecard (p50 of this run; ratio = slower ÷ faster)",
                    "成绩单（本次运行的 p50；倍数 = 慢者 ÷ 快者）",
                )
                .to_string(),
            headers: vec![
                ctx.tr("workload", "负载").to_string(),
                "Redis".to_string(),
                ctx.tr("SQLite (in process)", "SQLite（进程内）").to_string(),
                net_header,
                "Redis vs SQLite".to_string(),
                vs_net_header,
                ctx.tr("same results", "结果一致").to_string(),
            ],
            rows,
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

/// `SQLite 14.2×`: who was faster between two named measurements, and by how much.
fn versus(a_name: &str, a: &Measurement, b_name: &str, b: &Measurement) -> String {
    let c = Comparison::of(a, b);
    let winner = if c.faster == a.label { a_name } else { b_name };
    format!("{winner} {}", format_ratio(c.ratio_p50))
}

/// A claim that names whichever side won, with the ratio, and holds when both sides returned the
/// same answers (the timing itself decides nothing: the gap may be small).
fn measured_winner(ctx: &Ctx, workload: &str, a: (&str, &Measurement), b: (&str, &Measurement), same: bool) -> Claim {
    let c = Comparison::of(a.1, b.1);
    let (win, lose) = if c.faster == a.1.label { (a, b) } else { (b, a) };
    let text = match ctx.lang {
        Lang::En => format!(
            "{workload}: {} wins as measured, {} vs {} at p50 ({}); both returned {} answers",
            win.0,
            p50(win.1),
            p50(lose.1),
            format_ratio(c.ratio_p50),
            if same { "the same" } else { "DIFFERENT" }
        ),
        Lang::Zh => format!(
            "{workload}：实测 {} 胜出，p50 {} 对 {}（{}）；两边返回的结果{}",
            win.0,
            p50(win.1),
            p50(lose.1),
            format_ratio(c.ratio_p50),
            if same { "完全相同" } else { "不一致" }
        ),
    };
    Claim::new(text, format!("{} {}", win.0, format_ratio(c.ratio_p50)), same)
}

/// A claim that `winner` beats `loser` (a gap this lesson expects to be wide), with the reason;
/// it holds when the winner was faster and both returned the same answers.
fn expected_winner(
    ctx: &Ctx,
    workload: &str,
    winner: (&str, &Measurement),
    loser: (&str, &Measurement),
    why: &str,
    same: bool,
) -> Claim {
    let ratio = Comparison::speedup(winner.1, loser.1);
    let won = ratio > 1.0;
    let text = match (ctx.lang, won) {
        (Lang::En, true) => format!(
            "{workload}: {} wins, {} vs {} at p50 ({}): {why}",
            winner.0,
            p50(winner.1),
            p50(loser.1),
            format_ratio(ratio)
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
            format_ratio(ratio)
        ),
        (Lang::Zh, false) => {
            format!("{workload}：本应 {} 胜出（{why}），实测 p50 却是 {} 对 {}", winner.0, p50(winner.1), p50(loser.1))
        }
    };
    let same_text = match (ctx.lang, same) {
        (_, true) => String::new(),
        (Lang::En, false) => "; the answers DIFFERED".to_string(),
        (Lang::Zh, false) => "；两边结果不一致".to_string(),
    };
    Claim::new(format!("{text}{same_text}"), format_ratio(ratio), won && same)
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
    let mut same = true;
    for &i in order.iter().take(VERIFY) {
        same &= redis_get(s.con, i)? == tokens[i].record && sqlite_get(s.db, i)? == tokens[i].record;
    }
    let label_redis = ctx.tr("GET token:{chain}:{address} + JSON decode", "GET token:{chain}:{address} + 解析 JSON");
    let mut next = order.iter().cycle();
    let con = &mut *s.con;
    let redis = s.report.measured(ctx.sampler.measure(label_redis, Backend::Redis, || {
        black_box(redis_get(con, *next.next().unwrap_or(&0))?);
        Ok(())
    })?);
    let mut next = order.iter().cycle();
    let db = &*s.db;
    let sqlite = s.report.measured(ctx.sampler.measure(
        ctx.tr("SQLite: SELECT by (chain, address), unique index", "SQLite：按 (chain, address) 唯一索引 SELECT"),
        Backend::Sqlite,
        || {
            black_box(sqlite_get(db, *next.next().unwrap_or(&0))?);
            Ok(())
        },
    )?);

    let workload = ctx.tr("Key read", "按键读取");
    let title = match ctx.lang {
        Lang::En => format!("{workload} ({} tokens)", format_count(tokens.len() as u64)),
        Lang::Zh => format!("{workload}（{} 个 token）", format_count(tokens.len() as u64)),
    };
    let mut row = ScoreRow::new(ctx, title, &redis, &sqlite, same);
    s.report.claim(expected_winner(
        ctx,
        workload,
        ("SQLite", &sqlite),
        ("Redis", &redis),
        ctx.tr(
            "in-process SQLite makes no network round trip, and Redis must",
            "进程内的 SQLite 不需要网络往返，而 Redis 每次都要",
        ),
        same,
    ));

    if let Some(net) = s.net.as_deref_mut() {
        net.load(&tables::TOKENS, &TOKEN_COLUMNS, &rows)?;
        let names = net.names(&["tokens"]);
        let stmt = net.server.prepare(&query(tables::KEY_READ_SQL, &as_refs(&names)))?;
        let get = |server: &mut SqlServer, i: usize| -> Result<TokenRecord> {
            let t = &tokens[i];
            let rows = server.query(&stmt, &[Param::Text(t.chain), Param::Text(&t.address)])?;
            record_of(rows.first().context("no row")?)
        };
        let label = match ctx.lang {
            Lang::En => format!("{}: the same SELECT, prepared", net.label()),
            Lang::Zh => format!("{}：同样的 SELECT（预编译）", net.label()),
        };
        let side = NetSide::measure(&ctx.sampler, &mut net.server, label, &order, VERIFY, get, |i, record| {
            *record == tokens[i].record
        })?;
        s.report.measured(side.remote.clone());
        let claim = row.networked(ctx, workload, &redis, same, &side);
        s.report.claim(claim);
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
    let expected = |start: usize| &candles[start..start + WINDOW];
    let mut same = true;
    for &start in starts.iter().take(20) {
        same &= redis_range(s.con, start)? == expected(start) && sqlite_range(s.db, start)? == expected(start);
    }
    let mut next = starts.iter().cycle();
    let con = &mut *s.con;
    let redis = s.report.measured(ctx.sampler.measure(
        match (ctx.lang, modern) {
            (Lang::En, true) => format!("ZRANGE … BYSCORE, {WINDOW} candles + decode"),
            (Lang::En, false) => format!("ZRANGEBYSCORE, {WINDOW} candles + decode"),
            (Lang::Zh, true) => format!("ZRANGE … BYSCORE，{WINDOW} 根 K 线 + 解码"),
            (Lang::Zh, false) => format!("ZRANGEBYSCORE，{WINDOW} 根 K 线 + 解码"),
        },
        Backend::Redis,
        || {
            black_box(redis_range(con, *next.next().unwrap_or(&0))?);
            Ok(())
        },
    )?);
    let mut next = starts.iter().cycle();
    let db = &*s.db;
    let sqlite = s.report.measured(ctx.sampler.measure(
        match ctx.lang {
            Lang::En => format!("SQLite: primary-key range, {WINDOW} rows"),
            Lang::Zh => format!("SQLite：主键范围查询，{WINDOW} 行"),
        },
        Backend::Sqlite,
        || {
            black_box(sqlite_range(db, *next.next().unwrap_or(&0))?);
            Ok(())
        },
    )?);
    let workload = match ctx.lang {
        Lang::En => format!("Range ({WINDOW} one-minute K-lines)"),
        Lang::Zh => format!("范围查询（{WINDOW} 根 1 分钟 K 线）"),
    };
    let mut row = ScoreRow::new(ctx, workload.clone(), &redis, &sqlite, same);
    s.report.claim(measured_winner(ctx, &workload, ("Redis", &redis), ("SQLite", &sqlite), same));

    if let Some(net) = s.net.as_deref_mut() {
        net.load(&tables::KLINES, &columns, &rows)?;
        let names = net.names(&["klines"]);
        let stmt = net.server.prepare(&query(tables::RANGE_SQL, &as_refs(&names)))?;
        let get = |server: &mut SqlServer, start: usize| -> Result<Vec<Candle>> {
            let (from, to) = window(start);
            let rows =
                server.query(&stmt, &[Param::Text(market.symbol), Param::Int(from as i64), Param::Int(to as i64)])?;
            rows.iter().map(|r| candle_of(r)).collect()
        };
        let label = match ctx.lang {
            Lang::En => format!("{}: the same range, prepared", net.label()),
            Lang::Zh => format!("{}：同样的范围查询（预编译）", net.label()),
        };
        let side = NetSide::measure(&ctx.sampler, &mut net.server, label, &starts, 20, get, |start, candles| {
            candles.as_slice() == expected(start)
        })?;
        s.report.measured(side.remote.clone());
        let claim = row.networked(ctx, &workload, &redis, same, &side);
        s.report.claim(claim);
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
    let same_top = redis_top(s.con)? == top && sqlite_top(s.db)? == top;
    let mut same_rank = true;
    for wallet in &probes {
        same_rank &= redis_rank(s.con, wallet)? == ranks[wallet] && sqlite_rank(s.db, wallet)? == ranks[wallet];
    }

    let con = &mut *s.con;
    let redis_top_m = s.report.measured(ctx.sampler.measure(
        if modern { "ZRANGE … 0 9 REV WITHSCORES" } else { "ZREVRANGE … 0 9 WITHSCORES" },
        Backend::Redis,
        || {
            black_box(redis_top(con)?);
            Ok(())
        },
    )?);
    let db = &*s.db;
    let sqlite_top_m = s.report.measured(ctx.sampler.measure(
        ctx.tr("SQLite: ORDER BY volume DESC LIMIT 10 (index)", "SQLite：ORDER BY volume DESC LIMIT 10（走索引）"),
        Backend::Sqlite,
        || {
            black_box(sqlite_top(db)?);
            Ok(())
        },
    )?);
    let mut next = probes.iter().cycle();
    let con = &mut *s.con;
    let redis_rank_m = s.report.measured(ctx.sampler.measure(
        ctx.tr("ZREVRANK (lower half of the board)", "ZREVRANK（榜单下半部分）"),
        Backend::Redis,
        || {
            black_box(redis_rank(con, next.next().map_or("", String::as_str))?);
            Ok(())
        },
    )?);
    let mut next = probes.iter().cycle();
    let sqlite_rank_m = s.report.measured(ctx.sampler.measure(
        ctx.tr("SQLite: COUNT(*) of higher volumes (index)", "SQLite：COUNT(*) 统计更高的成交额（走索引）"),
        Backend::Sqlite,
        || {
            black_box(sqlite_rank(db, next.next().map_or("", String::as_str))?);
            Ok(())
        },
    )?);

    let n = format_count(traders.len() as u64);
    let (top_workload, rank_workload) = match ctx.lang {
        Lang::En => (format!("Top 10 of {n} traders"), format!("Rank of one trader among {n}")),
        Lang::Zh => (format!("{n} 个交易者中的前 10 名"), format!("{n} 个交易者中某人的排名")),
    };
    let mut top_row = ScoreRow::new(ctx, top_workload.clone(), &redis_top_m, &sqlite_top_m, same_top);
    let mut rank_row = ScoreRow::new(ctx, rank_workload.clone(), &redis_rank_m, &sqlite_rank_m, same_rank);
    let rank_why = ctx.tr(
        "the sorted set finds a rank in O(log N); COUNT(*) walks every index entry above the wallet",
        "有序集合以 O(log N) 求出排名；COUNT(*) 要逐个走过该钱包之上的所有索引项",
    );
    let mut claims = vec![
        measured_winner(ctx, &top_workload, ("Redis", &redis_top_m), ("SQLite", &sqlite_top_m), same_top),
        expected_winner(ctx, &rank_workload, ("Redis", &redis_rank_m), ("SQLite", &sqlite_rank_m), rank_why, same_rank),
    ];

    if let Some(net) = s.net.as_deref_mut() {
        net.load(&tables::TRADERS, &["wallet", "volume"], &rows)?;
        let names = net.names(&["traders"]);
        let top_stmt = net.server.prepare(&query(tables::TOP_SQL, &as_refs(&names)))?;
        let rank_stmt = net.server.prepare(&query(tables::RANK_SQL, &as_refs(&names)))?;
        let product = net.label();
        let name = net.server.name().to_string();
        let server = &mut net.server;
        let remote_top = |server: &mut SqlServer| -> Result<Vec<(String, i64)>> {
            server.query(&top_stmt, &[])?.iter().map(|r| Ok((r[0].text()?, r[1].int()?))).collect()
        };
        let remote_rank = |server: &mut SqlServer, wallet: &str| -> Result<i64> {
            server.query(&rank_stmt, &[Param::Text(wallet)])?.first().context("no row")?[0].int()
        };
        let same_top_net = remote_top(server)? == top;
        let mut same_rank_net = true;
        for wallet in &probes {
            same_rank_net &= remote_rank(server, wallet)? == ranks[wallet];
        }
        let top_m = s.report.measured(ctx.sampler.measure(
            match ctx.lang {
                Lang::En => format!("{product}: ORDER BY … LIMIT 10"),
                Lang::Zh => format!("{product}：ORDER BY … LIMIT 10"),
            },
            Backend::NetworkSql,
            || {
                black_box(remote_top(server)?);
                Ok(())
            },
        )?);
        let mut next = probes.iter().cycle();
        let rank_m = s.report.measured(ctx.sampler.measure(
            match ctx.lang {
                Lang::En => format!("{product}: COUNT(*) of higher volumes"),
                Lang::Zh => format!("{product}：COUNT(*) 统计更高的成交额"),
            },
            Backend::NetworkSql,
            || {
                black_box(remote_rank(server, next.next().map_or("", String::as_str))?);
                Ok(())
            },
        )?);
        top_row.net = p50(&top_m);
        top_row.vs_net = versus("Redis", &redis_top_m, &name, &top_m);
        top_row.same = same_cell(ctx, same_top, Some(same_top_net));
        rank_row.net = p50(&rank_m);
        rank_row.vs_net = versus("Redis", &redis_rank_m, &name, &rank_m);
        rank_row.same = same_cell(ctx, same_rank, Some(same_rank_net));
        claims.insert(1, measured_winner(ctx, &top_workload, ("Redis", &redis_top_m), (&name, &top_m), same_top_net));
        claims.push(expected_winner(
            ctx,
            &rank_workload,
            ("Redis", &redis_rank_m),
            (&name, &rank_m),
            rank_why,
            same_rank_net,
        ));
    }
    for claim in claims {
        s.report.claim(claim);
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
    let mut redis_n = 0_i64;
    let con = &mut *s.con;
    let redis = s.report.measured(ctx.sampler.measure("INCR stats:trades:count", Backend::Redis, || {
        redis::cmd("INCR").arg(&key).exec(con)?;
        redis_n += 1;
        Ok(())
    })?);
    let redis_value: i64 = redis::cmd("GET").arg(&key).query(s.con)?;

    let increment_sql = query(tables::INCREMENT_SQL, &[("counters", "counters")]);
    let read_sql = query(tables::COUNTER_SQL, &[("counters", "counters")]);
    let mut sqlite_case = |label: &str, db: Connection| -> Result<(Measurement, bool)> {
        db.execute_batch(&tables::COUNTERS.ddl("counters"))?;
        db.execute("INSERT INTO counters (name, n) VALUES (?1, 0)", [name])?;
        let mut n = 0_i64;
        let mut stmt = db.prepare(&increment_sql)?;
        let m = ctx.sampler.measure(label, Backend::Sqlite, || {
            stmt.execute([name])?; // autocommit: one transaction per increment
            n += 1;
            Ok(())
        })?;
        let value: Option<i64> = db.query_row(&read_sql, [name], |r| r.get(0)).optional()?;
        Ok((s.report.measured(m), value == Some(n)))
    };
    let (durable, durable_exact) = sqlite_case(
        ctx.tr(
            "SQLite: UPDATE … n = n + 1, durable commit (synchronous=FULL)",
            "SQLite：UPDATE … n = n + 1，持久化提交（synchronous=FULL）",
        ),
        sql::open_file(&ctx.scratch.join("counter.db"), Durability::Full)?,
    )?;
    let (no_sync, no_sync_exact) = sqlite_case(
        ctx.tr(
            "SQLite: the same UPDATE, synchronous=OFF (no fsync)",
            "SQLite：同样的 UPDATE，synchronous=OFF（不 fsync）",
        ),
        sql::open_file(&ctx.scratch.join("counter-nosync.db"), Durability::Off)?,
    )?;
    let (memory, memory_exact) = sqlite_case(
        ctx.tr("SQLite in memory (this process only)", "SQLite 内存库（仅本进程可见）"),
        sql::open_memory()?,
    )?;
    let exact = redis_value == redis_n && durable_exact && no_sync_exact && memory_exact;
    // What the disk sync costs here: some disks (and virtual disks) acknowledge a sync from a cache.
    let sync_cost = Comparison::speedup(&no_sync, &durable);
    let fs_type = sql::filesystem_type(ctx.scratch).unwrap_or_else(|| "unknown".to_string());
    let workload = ctx.tr("Counter (hot row, +1 each)", "计数器（热点行，每次 +1）");
    let mut row = ScoreRow::new(ctx, workload.to_string(), &redis, &durable, exact);
    row.sqlite = match ctx.lang {
        Lang::En => format!("{} (durable)", p50(&durable)),
        Lang::Zh => format!("{}（持久化）", p50(&durable)),
    };
    if sql::is_memory_filesystem(&fs_type) {
        s.report.note(
            NoteKind::Caveat,
            match ctx.lang {
                Lang::En => format!("The SQLite file is on {fs_type}, in RAM: fsync costs nothing here, so the durable commit is not really durable. Set TMPDIR to a directory on a disk to see its true cost."),
                Lang::Zh => format!("SQLite 文件位于 {fs_type}（内存文件系统）：这里 fsync 不花时间，“持久化提交”并不真正持久。把 TMPDIR 设为磁盘上的目录才能看到真实代价。"),
            },
        );
        s.report.claim(measured_winner(ctx, workload, ("Redis", &redis), ("SQLite", &durable), exact));
    } else if sync_cost < MIN_SYNC_COST {
        s.report.note(
            NoteKind::Caveat,
            match ctx.lang {
                Lang::En => format!(
                    "A durable commit cost only {} more than one without fsync here ({} vs {}): this disk acknowledges syncs from a cache, so the durable line shows less than a real disk would.",
                    format_ratio(sync_cost),
                    p50(&durable),
                    p50(&no_sync)
                ),
                Lang::Zh => format!(
                    "在这里，持久化提交只比不 fsync 的提交慢 {}（{} 对 {}）：这块磁盘从缓存里确认同步，所以“持久化”那一行比真实磁盘上的代价小。",
                    format_ratio(sync_cost),
                    p50(&durable),
                    p50(&no_sync)
                ),
            },
        );
        s.report.claim(measured_winner(ctx, workload, ("Redis", &redis), ("SQLite", &durable), exact));
    } else {
        s.report.claim(expected_winner(
            ctx,
            workload,
            ("Redis", &redis),
            ("SQLite", &durable),
            ctx.tr(
                "INCR changes a number in RAM; a durable commit waits for the disk every time",
                "INCR 只改内存里的一个数字；持久化提交每次都要等磁盘",
            ),
            exact,
        ));
    }
    s.report.note(
        NoteKind::Info,
        match ctx.lang {
            Lang::En => format!(
                "Every counter ended exactly at the number of increments sent ({}). A counter in this process's memory is faster still ({} p50), but no other process or server sees it, and it dies with the process; Redis's INCR is shared by every server and atomic. The price: without AOF, Redis's count is only in RAM (the crash demo measures it). The SQLite file is on {fs_type}.",
                if exact { "checked" } else { "NOT so" },
                p50(&memory),
            ),
            Lang::Zh => format!(
                "每个计数器的最终值都{}等于发出的自增次数。本进程内存里的计数器更快（p50 {}），但其他进程和服务器看不到它，进程一退出就没了；Redis 的 INCR 被所有服务器共享，而且是原子的。代价是：不开 AOF 时，Redis 的计数只在内存里（崩溃演示会测量这一点）。SQLite 文件所在的文件系统：{fs_type}。",
                if exact { "" } else { "不" },
                p50(&memory),
            ),
        },
    );

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
        let mut n = 0_i64;
        let server = &mut net.server;
        let remote = s.report.measured(ctx.sampler.measure(label, Backend::NetworkSql, || {
            server.execute(&inc, &[Param::Text(name)])?;
            n += 1;
            Ok(())
        })?);
        let value = net.server.query(&read, &[Param::Text(name)])?.first().context("no counter row")?[0].int()?;
        let product = net.server.name().to_string();
        row.net = p50(&remote);
        row.vs_net = versus("Redis", &redis, &product, &remote);
        row.same = same_cell(ctx, exact, Some(value == n));
        s.report.claim(measured_winner(ctx, workload, ("Redis", &redis), (&product, &remote), value == n));
    }
    Ok(vec![row])
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
    use crate::measure::Stats;
    use std::time::Duration;

    fn m(label: &str, p50_us: u64) -> Measurement {
        let us = Duration::from_micros(p50_us);
        let stats = Stats { samples: 100, min: us, p50: us, p99: us, max: us, mean: us };
        Measurement::new(label, Backend::Redis, stats, 1)
    }

    #[test]
    fn versus_names_the_faster_side() {
        assert_eq!(versus("Redis", &m("GET", 50), "SQLite", &m("SELECT", 5)), "SQLite 10.0×");
        assert_eq!(versus("Redis", &m("ZREVRANK", 40), "SQLite", &m("COUNT", 800)), "Redis 20.0×");
    }

    #[test]
    fn not_configured_says_how_to_configure() {
        assert!(NOT_CONFIGURED_EN.contains("--sql-url mysql://root@127.0.0.1:3306/test"));
        assert!(NOT_CONFIGURED_ZH.contains("--sql-url mysql://root@127.0.0.1:3306/test"));
    }
}
