//! The workload SQL wins: a join + aggregate. "Volume, trades and distinct traders per token over
//! the last 80 trades, top 10" is one query in SQL. Redis has no joins: the same answer needs the
//! trades' ids from a sorted set, every trade's hash, every token's hash, and GROUP BY, SUM,
//! COUNT(DISTINCT), ORDER BY and LIMIT written again in application code. We do exactly that, and
//! count the round trips.

use std::cell::RefCell;
use std::collections::HashMap;
use std::hint::black_box;

use anyhow::{Context, Result, ensure};
use redis::{ConnectionLike, RedisResult, Value};
use rusqlite::Connection;

use super::data::{self, Aggregate, TOP, Token, TokenVolume, Trade};
use super::shared::{load_redis, oriented_ratio, p50};
use super::tables::{self, Lit, Networked, TOKEN_COLUMNS, token_rows};
use crate::demo::{Ctx, DemoReport, NoteKind};
use crate::measure::{Backend, Claim, format_count};
use crate::sql::remote::{Param, Prepared, SqlServer, Val};
use crate::sql::{self, Durability};
use crate::text::{Fact, Text};

/// Trades in the join's window: the same in quick and full runs, so the round trips are too.
const JOIN_TRADES: usize = 80;
/// The naive app join must lose to one SQL query by at least this much: it makes 1 + 80 + M
/// round trips where SQL makes one, so the measured gap is far wider.
const NAIVE_MIN_RATIO: f64 = 5.0;
/// The SQL server's one query must beat the naive app join (1 against 1 + 80 + M round trips) by
/// at least this much.
const NET_MIN_RATIO: f64 = 2.0;

/// Counts what crosses the network: one round trip per command sent alone, one per pipeline.
pub struct Counted<'a, C> {
    inner: &'a mut C,
    pub round_trips: u64,
    pub commands: u64,
}

impl<'a, C: ConnectionLike> Counted<'a, C> {
    pub fn new(inner: &'a mut C) -> Counted<'a, C> {
        Counted { inner, round_trips: 0, commands: 0 }
    }
}

impl<C: ConnectionLike> ConnectionLike for Counted<'_, C> {
    fn req_packed_command(&mut self, cmd: &[u8]) -> RedisResult<Value> {
        self.round_trips += 1;
        self.commands += 1;
        self.inner.req_packed_command(cmd)
    }

    fn req_packed_commands(&mut self, cmd: &[u8], offset: usize, count: usize) -> RedisResult<Vec<Value>> {
        self.round_trips += 1;
        self.commands += (offset + count) as u64;
        self.inner.req_packed_commands(cmd, offset, count)
    }

    fn get_db(&self) -> i64 {
        self.inner.get_db()
    }

    fn check_connection(&mut self) -> bool {
        self.inner.check_connection()
    }

    fn is_open(&self) -> bool {
        self.inner.is_open()
    }
}

/// Where the Redis side keeps things: `{ns}:trade:{id}` hashes, the `{ns}:trades:by_ts` index,
/// and `{ns}:tokenmeta:{id}` hashes.
struct Keys {
    trade: String,
    by_ts: String,
    token: String,
    modern: bool,
}

impl Keys {
    fn trade(&self, id: i64) -> String {
        format!("{}{id}", self.trade)
    }

    fn token(&self, id: i64) -> String {
        format!("{}{id}", self.token)
    }

    /// The trade ids in `[from, to)`: `ZRANGE … BYSCORE` (or `ZRANGEBYSCORE` before 6.2).
    fn window(&self, from: i64, to: i64) -> redis::Cmd {
        let mut cmd = redis::cmd(if self.modern { "ZRANGE" } else { "ZRANGEBYSCORE" });
        cmd.arg(&self.by_ts).arg(from).arg(format!("({to}"));
        if self.modern {
            cmd.arg("BYSCORE");
        }
        cmd
    }
}

/// The app-side join, one command per round trip, as code written without thinking about the
/// network looks: fetch the ids, then each trade, then each token.
fn naive(con: &mut impl ConnectionLike, keys: &Keys, from: i64, to: i64) -> Result<Vec<TokenVolume>> {
    let ids: Vec<i64> = keys.window(from, to).query(con)?;
    let mut agg = Aggregate::default();
    for id in ids {
        let trade: HashMap<String, String> = redis::cmd("HGETALL").arg(keys.trade(id)).query(con)?;
        let field = |name: &str| trade.get(name).with_context(|| format!("trade {id} has no {name}"));
        agg.add(field("token_id")?.parse()?, field("wallet")?.clone(), field("amount")?.parse()?);
    }
    let mut symbols = HashMap::new();
    for token_id in agg.token_ids() {
        let symbol: Option<String> = redis::cmd("HGET").arg(keys.token(token_id)).arg("symbol").query(con)?;
        symbols.insert(token_id, symbol.with_context(|| format!("token {token_id} has no symbol"))?);
    }
    Ok(agg.finish(&symbols, TOP))
}

/// The same join with pipelines: the ids, then all trades in one pipeline, then all tokens in one.
fn pipelined(con: &mut impl ConnectionLike, keys: &Keys, from: i64, to: i64) -> Result<Vec<TokenVolume>> {
    let ids: Vec<i64> = keys.window(from, to).query(con)?;
    let mut pipe = redis::pipe();
    for &id in &ids {
        pipe.cmd("HMGET").arg(keys.trade(id)).arg("token_id").arg("wallet").arg("amount");
    }
    let trades: Vec<(i64, String, i64)> = pipe.query(con)?;
    let mut agg = Aggregate::default();
    for (token_id, wallet, amount) in trades {
        agg.add(token_id, wallet, amount);
    }
    let token_ids = agg.token_ids();
    let mut pipe = redis::pipe();
    for &id in &token_ids {
        pipe.cmd("HGET").arg(keys.token(id)).arg("symbol");
    }
    let names: Vec<String> = pipe.query(con)?;
    let symbols = token_ids.into_iter().zip(names).collect();
    Ok(agg.finish(&symbols, TOP))
}

fn remote_join(server: &mut SqlServer, stmt: &Prepared, from: i64, to: i64) -> Result<Vec<TokenVolume>> {
    server.query(stmt, &[Param::Int(from), Param::Int(to)])?.iter().map(|r| volume_of(r)).collect()
}

fn sqlite_join(db: &Connection, sql: &str, from: i64, to: i64) -> Result<Vec<TokenVolume>> {
    let mut stmt = db.prepare_cached(sql)?;
    let rows = stmt.query_map([from, to], |r| {
        Ok(TokenVolume {
            token_id: r.get(0)?,
            symbol: r.get(1)?,
            trades: r.get(2)?,
            volume: r.get(3)?,
            wallets: r.get(4)?,
        })
    })?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

fn volume_of(row: &[Val]) -> Result<TokenVolume> {
    ensure!(row.len() == 5, "expected 5 columns, got {}", row.len());
    Ok(TokenVolume {
        token_id: row[0].int()?,
        symbol: row[1].text()?,
        trades: row[2].int()?,
        volume: row[3].int()?,
        wallets: row[4].int()?,
    })
}

fn trade_rows(trades: &[Trade]) -> Vec<Vec<Lit>> {
    trades
        .iter()
        .map(|t| vec![Lit::I(t.id), Lit::I(t.token_id), Lit::S(t.wallet.clone()), Lit::I(t.amount), Lit::I(t.ts)])
        .collect()
}

const TRADE_COLUMNS: [&str; 5] = ["id", "token_id", "wallet", "amount", "ts"];

fn load(ctx: &Ctx, con: &mut impl ConnectionLike, keys: &Keys, tokens: &[Token], trades: &[Trade]) -> Result<()> {
    let mut cmds = Vec::with_capacity(tokens.len() + trades.len() * 2);
    for t in tokens {
        let mut cmd = redis::cmd("HSET");
        cmd.arg(keys.token(t.id)).arg("symbol").arg(&t.record.symbol).arg("chain").arg(t.chain);
        cmd.arg("address").arg(&t.address);
        cmds.push(cmd);
    }
    for t in trades {
        let mut cmd = redis::cmd("HSET");
        cmd.arg(keys.trade(t.id)).arg("token_id").arg(t.token_id).arg("wallet").arg(&t.wallet);
        cmd.arg("amount").arg(t.amount).arg("ts").arg(t.ts);
        cmds.push(cmd);
    }
    for chunk in trades.chunks(500) {
        let mut cmd = redis::cmd("ZADD");
        cmd.arg(&keys.by_ts);
        for t in chunk {
            cmd.arg(t.ts).arg(t.id);
        }
        cmds.push(cmd);
    }
    load_redis(ctx, con, cmds)
}

/// `1234567` hundredths → `12,345.67`.
fn usdt(hundredths: i64) -> String {
    format!("{}.{:02}", format_count(hundredths.unsigned_abs() / 100), hundredths.unsigned_abs() % 100)
}

/// Join + aggregate: one SQL query against app code over Redis hashes, round trips counted.
pub fn join_in_app(ctx: &Ctx) -> Result<DemoReport> {
    let mut report = DemoReport::new("join-in-app", Text::msg("title"));
    let mut net = Networked::open(ctx)?;
    let mut con = ctx.connect()?;
    let n_tokens = ctx.n(5_000, 1_000);
    let tokens = data::tokens(n_tokens);
    let trades = data::trades(ctx.n(20_000, 3_000), n_tokens);
    let keys = Keys {
        trade: ctx.key("trade:"),
        by_ts: ctx.key("trades:by_ts"),
        token: ctx.key("tokenmeta:"),
        modern: ctx.version().at_least(6, 2),
    };
    load(ctx, &mut con, &keys, &tokens, &trades)?;
    let mut db = sql::open_file(&ctx.scratch.join("join.db"), Durability::Off)?;
    let token_table = token_rows(&tokens);
    let trade_table = trade_rows(&trades);
    tables::sqlite_load(&mut db, &tables::TOKENS, &TOKEN_COLUMNS, &token_table)?;
    tables::sqlite_load(&mut db, &tables::TRADES, &TRADE_COLUMNS, &trade_table)?;
    let sqlite_sql = tables::join_sql("trades", "tokens", |s| s.to_string());

    let (from, to) = data::last_window(&trades, JOIN_TRADES);
    let expected = data::expected_top(&trades, &tokens, from, to);
    let distinct_tokens = {
        let mut ids: Vec<i64> = trades.iter().filter(|t| t.ts >= from && t.ts < to).map(|t| t.token_id).collect();
        ids.sort_unstable();
        ids.dedup();
        ids.len() as u64
    };

    // Once, counted: what each approach sends, and whether it gets the right answer.
    let mut counted = Counted::new(&mut con);
    let naive_same = naive(&mut counted, &keys, from, to)? == expected;
    let (naive_trips, naive_commands) = (counted.round_trips, counted.commands);
    let mut counted = Counted::new(&mut con);
    let piped_same = pipelined(&mut counted, &keys, from, to)? == expected;
    let (piped_trips, piped_commands) = (counted.round_trips, counted.commands);
    let sqlite_same = sqlite_join(&db, &sqlite_sql, from, to)? == expected;

    report.table(
        Text::msg("answer").fact("top", TOP).fact("trades", JOIN_TRADES),
        &["symbol", "trades", "volume", "traders"],
        expected
            .iter()
            .map(|r| vec![r.symbol.clone(), r.trades.to_string(), usdt(r.volume), r.wallets.to_string()])
            .map(|row| row.into_iter().map(Text::Plain).collect())
            .collect(),
    );

    // The SQL server's side, loaded and checked before anything is timed.
    let mut remote = None;
    if let Some(net) = net.as_mut() {
        net.load(&tables::TOKENS, &TOKEN_COLUMNS, &token_table)?;
        net.load(&tables::TRADES, &TRADE_COLUMNS, &trade_table)?;
        let dialect = net.server.dialect();
        let sql = tables::join_sql(&net.name("trades"), &net.name("tokens"), |s| dialect.cast_int(s));
        let stmt = net.server.prepare(&sql)?;
        let label = format!("{}: JOIN + GROUP BY", net.label());
        let name = net.server.name().to_string();
        let same_net = remote_join(&mut net.server, &stmt, from, to)? == expected;
        remote = Some((&mut net.server, stmt, label, name, same_net));
    }

    // SQLite, both app joins and (with --sql-url) the SQL server take turns in rounds.
    let con = RefCell::new(con);
    let mut group = ctx
        .sampler
        .group()
        .op("sqlite-join", "SQLite JOIN", Backend::Sqlite, || {
            black_box(sqlite_join(&db, &sqlite_sql, from, to)?);
            Ok(())
        })
        .op("app-join-naive", format!("app join, {naive_trips} RT"), Backend::App, || {
            black_box(naive(&mut *con.borrow_mut(), &keys, from, to)?);
            Ok(())
        })
        .op("app-join-pipelined", format!("app join, {piped_trips} RT"), Backend::App, || {
            black_box(pipelined(&mut *con.borrow_mut(), &keys, from, to)?);
            Ok(())
        });
    let mut remote_same = None;
    if let Some((server, stmt, label, name, same_net)) = remote {
        remote_same = Some((name, same_net));
        group = group.op("sql-server-join", label, Backend::NetworkSql, move || {
            black_box(remote_join(server, &stmt, from, to)?);
            Ok(())
        });
    }
    let group = report.measured_group(group.run()?);
    let (sqlite, naive_m, piped_m) =
        (group.get("sqlite-join"), group.get("app-join-naive"), group.get("app-join-pipelined"));
    let vs_naive = report.compare("sqlite-vs-app-join-naive", sqlite, naive_m)?;
    report.compare("sqlite-vs-app-join-pipelined", sqlite, piped_m)?;

    let yes_no = |ok: bool| Text::msg(if ok { "sent.yes" } else { "sent.no" });
    let mut rows = vec![
        vec![
            Text::msg("sent.sqlite"),
            Text::msg("sent.in-process"),
            "1".into(),
            p50(sqlite).into(),
            yes_no(sqlite_same),
        ],
        vec![
            Text::msg("sent.naive"),
            format_count(naive_trips).into(),
            format_count(naive_commands).into(),
            p50(naive_m).into(),
            yes_no(naive_same),
        ],
        vec![
            Text::msg("sent.pipelined"),
            format_count(piped_trips).into(),
            format_count(piped_commands).into(),
            p50(piped_m).into(),
            yes_no(piped_same),
        ],
    ];

    let expected_trips = 1 + JOIN_TRADES as u64 + distinct_tokens;
    let all_same = sqlite_same && naive_same && piped_same;
    let (ratio, faster) = oriented_ratio(vs_naive.ratio);
    let facts = |claim: Claim| {
        claim
            .fact("sqlite", sqlite.p50())
            .fact("naive", naive_m.p50())
            .fact("round_trips", naive_trips)
            .fact("trades", JOIN_TRADES)
            .fact("tokens", distinct_tokens)
            .fact("top", TOP)
            .fact("ratio", Fact::Ratio(ratio))
            .fact("faster", faster)
    };
    report.claim(facts(if naive_trips == expected_trips && all_same {
        Claim::ratio_above("sql-join-beats-naive-app-join", "", &vs_naive, NAIVE_MIN_RATIO)
    } else {
        Claim::new(
            "sql-join-beats-naive-app-join",
            "",
            format!("{naive_trips}/{expected_trips} RT, {}", if all_same { "same rows" } else { "DIFFERENT rows" }),
            false,
        )
    }));
    report.claim(
        Claim::new(
            "pipelining-cuts-round-trips",
            "",
            format!("{naive_trips} → {piped_trips} RT"),
            piped_trips == 3 && all_same,
        )
        .fact("naive", naive_trips)
        .fact("pipelined", piped_trips)
        .fact("trades", JOIN_TRADES),
    );

    if let Some((name, same_net)) = remote_same {
        let remote = group.get("sql-server-join");
        rows.push(vec![
            Text::msg("sent.server").fact("name", name.as_str()),
            "1".into(),
            "1".into(),
            p50(remote).into(),
            yes_no(same_net),
        ]);
        let net_vs_naive = report.compare("sql-server-vs-app-join-naive", remote, naive_m)?;
        report.compare("sql-server-vs-app-join-pipelined", remote, piped_m)?;
        let (ratio, faster) = oriented_ratio(net_vs_naive.ratio);
        let claim = if same_net {
            Claim::ratio_above("sql-server-join-beats-naive-app-join", "", &net_vs_naive, NET_MIN_RATIO)
        } else {
            Claim::new("sql-server-join-beats-naive-app-join", "", "DIFFERENT rows", false)
        };
        report.claim(
            claim
                .fact("name", name.as_str())
                .fact("server", remote.p50())
                .fact("round_trips", naive_trips)
                .fact("naive", naive_m.p50())
                .fact("ratio", Fact::Ratio(ratio))
                .fact("faster", faster),
        );
    }
    report.table_with_headers(
        Text::msg("sent"),
        vec![
            Text::msg("sent.header-approach"),
            Text::msg("sent.header-round-trips"),
            Text::msg("sent.header-commands"),
            "p50".into(),
            Text::msg("sent.header-right"),
        ],
        rows,
    );
    report.note(NoteKind::Info, Text::msg("lua-instead"));
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn usdt_has_two_decimals_and_separators() {
        assert_eq!(usdt(1_234_567), "12,345.67");
        assert_eq!(usdt(5), "0.05");
    }
}
