//! The round trip every command pays, how a pipeline amortises it, and what INFO says about this
//! server.

use std::cell::RefCell;

use anyhow::{Context, Result};
use redis::{Commands, InfoDict};

use crate::demo::{Ctx, DemoReport, NoteKind};
use crate::measure::{Backend, Claim};
use crate::text::{Fact, Text};

/// Commands in the pipelined batch.
const PIPELINE_DEPTH: u32 = 100;

/// PING round trip, pipelining, and what INFO says about this server.
pub fn round_trip(ctx: &Ctx) -> Result<DemoReport> {
    let mut report = DemoReport::new("round-trip", Text::msg("title"));
    let mut con = ctx.connect()?;
    let info: InfoDict = redis::cmd("INFO").query(&mut con).context("INFO")?;
    let field = |name: &str| info.get::<String>(name).unwrap_or_else(|| "—".to_string());
    let maxmemory = match field("maxmemory").as_str() {
        "0" => Text::msg("maxmemory-unlimited"),
        _ => Text::Plain(field("maxmemory_human")),
    };
    // INFO field, its value, and what it tells you (the message `info.<field>`).
    let fields = [
        "redis_version",
        "used_memory_human",
        "maxmemory",
        "maxmemory_policy",
        "aof_enabled",
        "rdb_changes_since_last_save",
        "connected_clients",
    ];
    let rows = fields
        .iter()
        .map(|&name| {
            let value = if name == "maxmemory" { maxmemory.clone() } else { info_value(name, field(name)) };
            vec![Text::from(name), value, Text::msg(&format!("info.{name}"))]
        })
        .collect();
    report.table(Text::msg("info"), &["field", "value", "meaning"], rows);

    let key = ctx.key("hello");
    let _: () = con.set(&key, "world")?;
    let mut pipe = redis::pipe();
    for _ in 0..PIPELINE_DEPTH {
        pipe.get(&key);
    }
    // PING, GET and the pipeline take turns in rounds, so a busy moment hits all three alike.
    let con = RefCell::new(con);
    let group = report.measured_group(
        ctx.sampler
            .group()
            .op("ping", "PING", Backend::Redis, || {
                redis::cmd("PING").exec(&mut *con.borrow_mut())?;
                Ok(())
            })
            .one_round_trip()
            .op("get", "GET", Backend::Redis, || {
                let _: Option<String> = con.borrow_mut().get(&key)?;
                Ok(())
            })
            .one_round_trip()
            .batch("get-pipelined", format!("{PIPELINE_DEPTH} × GET"), Backend::Redis, PIPELINE_DEPTH, || {
                let _: Vec<Option<String>> = pipe.query(&mut *con.borrow_mut())?;
                Ok(())
            })
            .run()?,
    );
    let (get, pipelined) = (group.get("get"), group.get("get-pipelined"));
    report.compare("ping-vs-get", group.get("ping"), get)?;
    // Per GET: the pipeline's share of one batch against a GET with a round trip of its own.
    let saving = report.compare("pipelined-vs-get", pipelined, get)?;
    report.claim(
        Claim::ratio_above("pipeline-amortises-round-trip", "", &saving, 2.0)
            .fact("depth", PIPELINE_DEPTH)
            .fact("per_command", pipelined.p50_per_op())
            .fact("ratio", Fact::Ratio(saving.ratio))
            .fact("get", get.p50()),
    );
    report.note(NoteKind::Info, Text::msg("get-is-the-trip"));
    Ok(report)
}

/// An INFO value as the table shows it: counts with separators, like every other count (`59,460`).
fn info_value(name: &str, raw: String) -> Text {
    let count = matches!(name, "rdb_changes_since_last_save" | "connected_clients");
    match raw.parse::<u64>() {
        Ok(n) if count => Text::Plain(crate::measure::format_count(n)),
        _ => Text::Plain(raw),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn info_counts_get_separators_and_versions_do_not() {
        assert_eq!(info_value("rdb_changes_since_last_save", "59460".into()).as_str(), "59,460");
        assert_eq!(info_value("connected_clients", "3".into()).as_str(), "3");
        assert_eq!(info_value("aof_enabled", "0".into()).as_str(), "0");
        assert_eq!(info_value("redis_version", "7.0.15".into()).as_str(), "7.0.15");
    }
}
