//! Demo `kline-updates`: members are unique by value. The open candle updated with plain ZADD piles
//! up members at one score (replace it atomically instead), and flat candles without the timestamp
//! in the member collapse into one.

use std::cell::{Cell, RefCell};

use anyhow::{Context, Result, anyhow, bail};
use redis::ConnectionLike;

use super::codec::{self, Candle};
use super::series::{self, MINUTE_MS, markets};
use super::zset::{kline_key, load, members, redis_range, zcard, zcount_at};
use super::{INTERVAL, table};
use crate::demo::{Ctx, DemoReport, NoteKind};
use crate::measure::{Backend, Claim};
use crate::text::Text;

/// Trades that update the still-open candle in the update demo.
const OPEN_CANDLE_TRADES: usize = 60;
/// Flat candles of an illiquid token.
const FLAT_CANDLES: usize = 50;
/// Replace the candle at ARGV[1] (a score) with member ARGV[2], atomically, on the server.
const REPLACE_CANDLE_LUA: &str = "redis.call('ZREMRANGEBYSCORE', KEYS[1], ARGV[1], ARGV[1])
return redis.call('ZADD', KEYS[1], ARGV[1], ARGV[2])";

/// Two ways members-are-unique bites: the open candle updated with plain ZADD piles up members at
/// one score; flat candles without the timestamp collapse into one member.
pub fn kline_updates(ctx: &Ctx) -> Result<DemoReport> {
    let mut report = DemoReport::new("kline-updates", Text::msg("title"));
    let mut con = ctx.connect()?;
    let version = ctx.version();
    let modern = version.at_least(6, 2);
    let market = markets()[0];
    let sym = market.symbol;
    let closed = series::random_walk(&market, 30);
    let last = closed.last().copied().ok_or_else(|| anyhow!("no candles"))?;
    let open_ms = last.open_ms + MINUTE_MS;
    let updates = series::open_candle_updates(open_ms, last.close, OPEN_CANDLE_TRADES, 0x6b6c_00ff);
    let latest = updates.last().copied().ok_or_else(|| anyhow!("no updates"))?;
    let closed_members = members(&closed, codec::encode);
    let replace = redis::Script::new(REPLACE_CANDLE_LUA);

    let naive = kline_key(ctx, sym, ":naive");
    let multi = kline_key(ctx, sym, ":multi");
    let lua = kline_key(ctx, sym, ":lua");
    for key in [&naive, &multi, &lua] {
        load(&mut con, key, &closed_members)?;
    }
    let atomic_replace = |con: &mut dyn ConnectionLike, key: &str, c: &Candle| -> Result<()> {
        redis::pipe()
            .atomic()
            .cmd("ZREMRANGEBYSCORE")
            .arg(key)
            .arg(c.open_ms)
            .arg(c.open_ms)
            .ignore()
            .cmd("ZADD")
            .arg(key)
            .arg(c.open_ms)
            .arg(codec::encode(c))
            .ignore()
            .exec(con)?;
        Ok(())
    };
    let lua_replace = |con: &mut dyn ConnectionLike, key: &str, c: &Candle| -> Result<()> {
        let _: i64 = replace.key(key).arg(c.open_ms).arg(codec::encode(c)).invoke(con)?;
        Ok(())
    };
    let mut naive_added = 0_u64;
    for c in &updates {
        ctx.check_interrupt()?;
        let added: u64 = redis::cmd("ZADD").arg(&naive).arg(c.open_ms).arg(codec::encode(c)).query(&mut con)?;
        naive_added += added;
        atomic_replace(&mut con, &multi, c)?;
        lua_replace(&mut con, &lua, c)?;
    }
    let mut db = table::open(&ctx.scratch.join("klines-updates.db"))?;
    table::insert_all(&mut db, sym, INTERVAL, &closed)?;
    for c in &updates {
        table::upsert(&db, sym, INTERVAL, c)?;
    }

    // What a reader of the last five minutes gets from each.
    let window_from = open_ms - 4 * MINUTE_MS;
    let window_to = open_ms + MINUTE_MS;
    let mut counts = Vec::new();
    let mut rows = Vec::new();
    for (key, how) in [(&naive, "open-candle.plain"), (&multi, "open-candle.multi"), (&lua, "open-candle.lua")] {
        let at = zcount_at(&mut con, key, open_ms)?;
        let window = redis_range(&mut con, key, window_from, window_to, modern)?;
        let newest = window.iter().rev().find(|c| c.open_ms == open_ms).copied();
        counts.push((at, window.len(), newest == Some(latest) && at == 1));
        rows.push(vec![
            Text::msg(how),
            at.to_string().into(),
            window.len().to_string().into(),
            Text::msg(if at == 1 && newest == Some(latest) { "open-candle.yes" } else { "open-candle.which-one" }),
        ]);
    }
    let sql_at = table::count_at(&db, sym, INTERVAL, open_ms)?;
    let sql_window = table::range(&db, sym, INTERVAL, window_from, window_to)?;
    let sql_ok = sql_at == 1 && sql_window.last() == Some(&latest);
    rows.push(vec![
        Text::msg("open-candle.sqlite"),
        sql_at.to_string().into(),
        sql_window.len().to_string().into(),
        Text::msg(if sql_ok { "open-candle.yes" } else { "open-candle.no" }),
    ]);
    report.table(
        Text::msg("open-candle").fact("trades", OPEN_CANDLE_TRADES),
        &["how", "at-open-time", "window", "once"],
        rows,
    );

    // Timings per update: correctness costs no extra round trip. The four writers take turns in
    // rounds on one connection (and SQLite), so a busy moment hits all of them alike.
    let i = Cell::new(0_usize);
    let next = || {
        let n = i.get();
        i.set(n + 1);
        let mut c = updates[n % updates.len()];
        c.volume += n as u64 * 1_000_000; // a new state every time
        c
    };
    let con = RefCell::new(con);
    let group = report.measured_group(
        ctx.sampler
            .group()
            .op("plain-zadd", "ZADD", Backend::Redis, || {
                let c = next();
                redis::cmd("ZADD").arg(&naive).arg(c.open_ms).arg(codec::encode(&c)).exec(&mut *con.borrow_mut())?;
                Ok(())
            })
            .op("multi-replace", "MULTI/EXEC", Backend::Redis, || {
                atomic_replace(&mut *con.borrow_mut(), &multi, &next())
            })
            .op("lua-replace", "EVALSHA", Backend::Redis, || lua_replace(&mut *con.borrow_mut(), &lua, &next()))
            .op("sqlite-upsert", "SQLite upsert", Backend::Sqlite, || table::upsert(&db, sym, INTERVAL, &next()))
            .run()?,
    );
    let mut con = con.into_inner();
    let (plain, multi_m, lua_m, sql_m) =
        (group.get("plain-zadd"), group.get("multi-replace"), group.get("lua-replace"), group.get("sqlite-upsert"));
    let replace_cost = report.compare("multi-vs-plain-zadd", multi_m, plain)?;
    report.compare("multi-vs-lua", multi_m, lua_m)?;
    report.compare("sqlite-upsert-vs-multi", sql_m, multi_m)?;
    report.claim(
        Claim::ratio_below("replace-costs-one-round-trip", "", &replace_cost.inverted(), 2.0)
            .fact("multi", multi_m.p50())
            .fact("plain", plain.p50()),
    );
    let timed = plain.stats.samples + multi_m.stats.samples + lua_m.stats.samples + sql_m.stats.samples;
    let after = [zcount_at(&mut con, &multi, open_ms)?, zcount_at(&mut con, &lua, open_ms)?];
    let sql_after = table::count_at(&db, sym, INTERVAL, open_ms)?;

    let [(naive_at, naive_window, _), (multi_at, _, multi_ok), (lua_at, _, lua_ok)] = counts[..] else {
        bail!("expected three update strategies");
    };
    let update_holds = naive_at == OPEN_CANDLE_TRADES as u64
        && naive_added == OPEN_CANDLE_TRADES as u64
        && multi_ok
        && lua_ok
        && sql_ok
        && after == [1, 1]
        && sql_after == 1;
    report.claim(
        Claim::new("replace-keeps-one-candle", "", format!("{naive_at} → {multi_at}"), update_holds)
            .fact("trades", OPEN_CANDLE_TRADES)
            .fact("plain_at", naive_at)
            .fact("plain_window", naive_window)
            .fact("multi_at", multi_at)
            .fact("lua_at", lua_at)
            .fact("sql_at", sql_at)
            .fact("multi_after", after[0])
            .fact("lua_after", after[1])
            .fact("sql_after", sql_after)
            .fact("timed", timed as u64),
    );
    report.note(NoteKind::Info, Text::msg("zadd-finds-by-bytes"));

    // Flat candles: an illiquid token, nobody trades for FLAT_CANDLES minutes.
    let flat_sym = "DUST-USDT";
    let flat = series::flat(series::START_MS, FLAT_CANDLES, 4_200);
    let without = kline_key(ctx, flat_sym, ":no-ts");
    let with = kline_key(ctx, flat_sym, "");
    let mut pipe = redis::pipe();
    pipe.cmd("DEL").arg(&without).arg(&with).ignore();
    for c in &flat {
        // One ZADD per minute, as a live writer would send them.
        pipe.cmd("ZADD").arg(&without).arg(c.open_ms).arg(codec::encode_without_time(c)).ignore();
        pipe.cmd("ZADD").arg(&with).arg(c.open_ms).arg(codec::encode(c)).ignore();
    }
    pipe.exec(&mut con).context("writing flat candles")?;
    let (card_without, card_with) = (zcard(&mut con, &without)?, zcard(&mut con, &with)?);
    let lone = codec::encode_without_time(&flat[0]);
    let lone_score: Option<u64> = redis::cmd("ZSCORE").arg(&without).arg(&lone).query(&mut con)?;
    let last_flat = flat.last().map(|c| c.open_ms).unwrap_or_default();
    report.table_with_headers(
        Text::msg("flat").fact("candles", FLAT_CANDLES).fact("symbol", flat_sym),
        vec![Text::msg("flat.header-member"), "ZCARD".into(), Text::msg("flat.header-first-score")],
        vec![
            vec![
                Text::msg("flat.without-timestamp").fact("member", lone),
                card_without.to_string().into(),
                Text::msg("flat.moved").fact("score", lone_score.unwrap_or_default().to_string()),
            ],
            vec![
                Text::msg("flat.with-timestamp").fact("member", codec::encode(&flat[0])),
                card_with.to_string().into(),
                flat[0].open_ms.to_string().into(),
            ],
        ],
    );
    let flat_holds = card_without == 1 && card_with == FLAT_CANDLES as u64 && lone_score == Some(last_flat);
    report.claim(
        Claim::new("timestamp-keeps-flat-candles-apart", "", format!("{card_without} → {card_with}"), flat_holds)
            .fact("candles", FLAT_CANDLES)
            .fact("without", card_without)
            .fact("with", card_with),
    );
    Ok(report)
}
