//! One command per core type, with TYPE and OBJECT ENCODING: the values are structures the server
//! itself understands.

use anyhow::Result;
use redis::Commands;

use crate::demo::support::short;
use crate::demo::{Ctx, DemoReport, NoteKind};
use crate::measure::Claim;
use crate::text::Text;

/// One command per core type, with what TYPE and OBJECT ENCODING report.
pub fn core_types(ctx: &Ctx) -> Result<DemoReport> {
    let mut report = DemoReport::new("core-types", Text::msg("title"));
    let mut con = ctx.connect()?;
    let token = ctx.key("token:eth:0x6982508145454ce325ddbe47a25d4ec3d2311933");
    let counter = ctx.key("stats:api_calls");
    let subs = ctx.key("ws:sub:kline:PEPE-USDT:1m");
    let queue = ctx.key("queue:tx-check");
    let clients = ctx.key("user:42:clients");
    let kline = ctx.key("kline:PEPE-USDT:1m");
    let events = ctx.key("events:trades");

    redis::cmd("SET")
        .arg(&token)
        .arg(r#"{"symbol":"PEPE","decimals":18,"price":"0.00001234"}"#)
        .arg("EX")
        .arg(2_592_000)
        .exec(&mut con)?;
    redis::cmd("INCR").arg(&counter).exec(&mut con)?;
    redis::cmd("HSET").arg(&subs).arg("client-a").arg("1732600000").arg("client-b").arg("1732600042").exec(&mut con)?;
    let _: i64 = con.rpush(&queue, &["tx:0xaa01", "tx:0xaa02", "tx:0xaa03"])?;
    let _: i64 = con.sadd(&clients, &["c-7f3a", "c-91bd"])?;
    let _: i64 = con.zadd_multiple(
        &kline,
        &[
            (1_732_600_000_000_i64, "1732600000000|1234|1240|1230|1238|5000"),
            (1_732_600_060_000, "1732600060000|1238|1239|1236|1237|4200"),
        ],
    )?;
    let _: String =
        redis::cmd("XADD").arg(&events).arg("*").arg("token").arg("PEPE").arg("side").arg("buy").query(&mut con)?;

    // (the type we wrote, its key, the command, and what the notes use it for: `use.<key name>`)
    let cases = [
        ("string", &token, format!("SET {} '{{...json...}}' EX 2592000", short(&token)), "use.token"),
        ("string", &counter, format!("INCR {}", short(&counter)), "use.counter"),
        ("hash", &subs, format!("HSET {} client-a ... client-b ...", short(&subs)), "use.subscriptions"),
        ("list", &queue, format!("RPUSH {} tx:0xaa01 ...", short(&queue)), "use.queue"),
        ("set", &clients, format!("SADD {} c-7f3a c-91bd", short(&clients)), "use.clients"),
        ("zset", &kline, format!("ZADD {} 1732600000000 ...", short(&kline)), "use.kline"),
        ("stream", &events, format!("XADD {} * token PEPE side buy", short(&events)), "use.stream"),
    ];
    let mut rows = Vec::new();
    let mut matched = 0;
    for (expected, key, command, use_in_notes) in &cases {
        let kind: String = redis::cmd("TYPE").arg(key.as_str()).query(&mut con)?;
        let encoding: String = redis::cmd("OBJECT").arg("ENCODING").arg(key.as_str()).query(&mut con)?;
        if kind == *expected {
            matched += 1;
        }
        rows.push(vec![
            Text::Plain(command.clone()),
            Text::Plain(kind),
            Text::Plain(encoding),
            Text::msg(use_in_notes),
        ]);
    }
    report.table_with_headers(
        Text::msg("types"),
        vec![Text::msg("types.header-command"), "TYPE".into(), "OBJECT ENCODING".into(), Text::msg("types.header-use")],
        rows,
    );
    let ttl: i64 = con.ttl(&token)?;
    report.note(NoteKind::Info, Text::msg("ttl").fact("ttl", ttl));
    report.note(NoteKind::Info, Text::msg("encoding"));
    report.claim(
        Claim::new("type-matches-structure", "", format!("{matched}/{}", cases.len()), matched == cases.len())
            .fact("matched", matched)
            .fact("keys", cases.len()),
    );
    Ok(report)
}
