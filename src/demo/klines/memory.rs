//! Demo `kline-memory`: the same day of candles as JSON and as compact members, in one key and in
//! bucket keys: OBJECT ENCODING and MEMORY USAGE for each, and the listpack threshold crossed live.

use anyhow::Result;
use redis::ConnectionLike;

use super::codec::{self, Candle};
use super::series::{self, markets};
use super::zset::{
    ListpackLimits, bucket_candles, bucket_key, compact_encoding, encoding, kline_key, listpack_limits, load, members,
    memory_usage, predicted_encoding, zcard,
};
use super::{DAY, INTERVAL, table};
use crate::demo::{Ctx, DemoReport, NoteKind};
use crate::measure::{Claim, format_count};
use crate::text::{Fact, Text};

/// Past this `zset-max-listpack-entries`, the threshold experiment is skipped (too many members).
const MAX_THRESHOLD_EXPERIMENT: u64 = 10_000;

/// One storage layout measured: keys, members, what OBJECT ENCODING says, and MEMORY USAGE.
struct Stored {
    keys: usize,
    candles: usize,
    longest: usize,
    encodings: Vec<String>,
    bytes: u64,
    as_predicted: bool,
}

/// Load each (key, pairs), then read back encodings and exact memory.
fn store(
    ctx: &Ctx,
    con: &mut impl ConnectionLike,
    limits: &ListpackLimits,
    layout: &[(String, Vec<(u64, String)>)],
) -> Result<Stored> {
    let mut stored = Stored { keys: 0, candles: 0, longest: 0, encodings: Vec::new(), bytes: 0, as_predicted: true };
    for (key, pairs) in layout {
        ctx.check_interrupt()?;
        load(con, key, pairs)?;
        let longest = pairs.iter().map(|(_, m)| m.len()).max().unwrap_or(0);
        let observed = encoding(con, key)?;
        stored.as_predicted &=
            observed == predicted_encoding(limits, ctx.version(), pairs.len() as u64, longest as u64);
        if !stored.encodings.contains(&observed) {
            stored.encodings.push(observed);
        }
        stored.bytes += memory_usage(con, key)?;
        stored.keys += 1;
        stored.candles += pairs.len();
        stored.longest = stored.longest.max(longest);
    }
    Ok(stored)
}

fn percent(part: u64, whole: u64) -> f64 {
    if whole == 0 { f64::NAN } else { part as f64 / whole as f64 * 100.0 }
}

/// The same candles as JSON members and as compact members, in one key and in bucket keys:
/// OBJECT ENCODING and MEMORY USAGE … SAMPLES 0 for each, and the 128-member threshold live.
pub fn kline_memory(ctx: &Ctx) -> Result<DemoReport> {
    let mut report = DemoReport::new("kline-memory", Text::msg("title"));
    let mut con = ctx.connect()?;
    let version = ctx.version();
    let limits = listpack_limits(&mut con, version);
    let bucket = bucket_candles(limits.entries);
    let market = markets()[0];
    let day = series::random_walk(&market, DAY);
    let small = &day[..bucket as usize];
    let sym = market.symbol;
    let one = |suffix: &str, candles: &[Candle], encode: fn(&Candle) -> String| {
        vec![(kline_key(ctx, sym, suffix), members(candles, encode))]
    };
    let json_small = store(ctx, &mut con, &limits, &one(":json-bucket", small, codec::encode_json))?;
    let compact_small = store(ctx, &mut con, &limits, &one(":compact-bucket", small, codec::encode))?;
    let json_day = store(ctx, &mut con, &limits, &one(":json-day", &day, codec::encode_json))?;
    let compact_day = store(ctx, &mut con, &limits, &one(":compact-day", &day, codec::encode))?;
    let bucketed: Vec<(String, Vec<(u64, String)>)> = day
        .chunks(bucket as usize)
        .map(|chunk| (bucket_key(ctx, sym, bucket, chunk[0].open_ms), members(chunk, codec::encode)))
        .collect();
    let compact_buckets = store(ctx, &mut con, &limits, &bucketed)?;

    // The SQL side, for scale: the same day's rows, and the pages they take.
    let mut db = table::open(&ctx.scratch.join("klines-size.db"))?;
    table::insert_all(&mut db, sym, INTERVAL, &day)?;
    let sqlite_bytes = table::size_bytes(&db)?;

    let row = |label: Text, s: &Stored, json: &Stored| {
        let figures = [
            s.keys.to_string(),
            format_count(s.candles as u64),
            format!("{} B", s.longest),
            s.encodings.join(", "),
            format_count(s.bytes),
            format!("{:.1}", s.bytes as f64 / s.candles.max(1) as f64),
            format!("{:.0}%", percent(s.bytes, json.bytes)),
        ];
        std::iter::once(label).chain(figures.map(Text::Plain)).collect::<Vec<_>>()
    };
    let mut rows = vec![
        row(Text::msg("layouts.json-bucket").fact("bucket", bucket), &json_small, &json_small),
        row(Text::msg("layouts.compact-bucket").fact("bucket", bucket), &compact_small, &json_small),
        row(Text::msg("layouts.json-day"), &json_day, &json_day),
        row(Text::msg("layouts.compact-day"), &compact_day, &json_day),
        row(
            Text::msg("layouts.compact-buckets").fact("keys", compact_buckets.keys).fact("bucket", bucket),
            &compact_buckets,
            &json_day,
        ),
    ];
    let sqlite_figures = [
        "—".to_string(),
        format_count(DAY as u64),
        "—".into(),
        "B-tree".into(),
        format_count(sqlite_bytes),
        format!("{:.1}", sqlite_bytes as f64 / DAY as f64),
        format!("{:.0}%", percent(sqlite_bytes, json_day.bytes)),
    ];
    rows.push(std::iter::once(Text::msg("layouts.sqlite")).chain(sqlite_figures.map(Text::Plain)).collect());
    report.table_with_headers(
        Text::msg("layouts"),
        vec![
            Text::msg("layouts.header-layout"),
            Text::msg("layouts.header-keys"),
            Text::msg("layouts.header-candles"),
            Text::msg("layouts.header-longest"),
            "OBJECT ENCODING".into(),
            Text::msg("layouts.header-bytes"),
            Text::msg("layouts.header-bytes-per-candle"),
            Text::msg("layouts.header-vs-json"),
        ],
        rows,
    );
    let c = day[0];
    report.table(
        Text::msg("one-candle"),
        &["encoding", "bytes", "member"],
        vec![
            vec!["JSON".into(), codec::encode_json(&c).len().to_string().into(), codec::encode_json(&c).into()],
            vec![Text::msg("one-candle.compact"), codec::encode(&c).len().to_string().into(), codec::encode(&c).into()],
        ],
    );

    // The threshold, live: fill a key to the limit, add one, remove it again.
    let compact = compact_encoding(version);
    let mut crossed = false;
    let mut flipped = true;
    if limits.entries >= 1 && limits.entries <= MAX_THRESHOLD_EXPERIMENT {
        let key = kline_key(ctx, sym, ":threshold");
        let candles = series::random_walk(&market, limits.entries as usize + 1);
        let (fill, extra) = candles.split_at(limits.entries as usize);
        load(&mut con, &key, &members(fill, codec::encode))?;
        let at_limit = encoding(&mut con, &key)?;
        let mut threshold_rows = Vec::new();
        threshold_rows.push(vec![
            Text::msg("threshold.fill").fact("entries", limits.entries),
            zcard(&mut con, &key)?.to_string().into(),
            at_limit.clone().into(),
        ]);
        let member = codec::encode(&extra[0]);
        redis::cmd("ZADD").arg(&key).arg(extra[0].open_ms).arg(&member).exec(&mut con)?;
        let past = encoding(&mut con, &key)?;
        threshold_rows.push(vec![
            Text::msg("threshold.one-more"),
            zcard(&mut con, &key)?.to_string().into(),
            past.clone().into(),
        ]);
        redis::cmd("ZREM").arg(&key).arg(&member).exec(&mut con)?;
        let back = encoding(&mut con, &key)?;
        threshold_rows.push(vec![
            Text::msg("threshold.remove"),
            zcard(&mut con, &key)?.to_string().into(),
            back.clone().into(),
        ]);
        let fits = codec::encode(&extra[0]).len() as u64 <= limits.value
            && fill.iter().all(|c| codec::encode(c).len() as u64 <= limits.value);
        flipped = !fits || (at_limit == compact && past == "skiplist");
        crossed = true;
        report.table_with_headers(
            Text::msg("threshold").fact("entries", limits.entries),
            vec![Text::msg("threshold.header-step"), "ZCARD".into(), "OBJECT ENCODING".into()],
            threshold_rows,
        );
        report.note(NoteKind::Info, Text::msg("no-way-back").fact("entries", limits.entries).fact("encoding", back));
    }
    report.note(
        NoteKind::Info,
        Text::msg(if limits.from_server { "limits-from-server" } else { "limits-assumed" })
            .fact("entries", limits.entries)
            .fact("value", limits.value),
    );
    report.note(NoteKind::Info, Text::msg("sqlite-not-ram"));

    // Claims.
    let small_pct = percent(compact_small.bytes, json_small.bytes);
    let default_shape = json_small.encodings == ["skiplist"] && compact_small.encodings == [compact];
    let small_holds = compact_small.bytes < json_small.bytes && (!default_shape || small_pct <= 50.0);
    let clen = codec::encode(&c).len() as u64;
    let jlen = codec::encode_json(&c).len() as u64;
    report.claim(
        Claim::new("compact-members-save-memory", "", format!("{small_pct:.0}%"), small_holds)
            .fact("bucket", bucket)
            .fact("compact_member", Fact::Bytes(clen))
            .fact("compact_encoding", compact_small.encodings.join(","))
            .fact("percent", Fact::Percent(small_pct / 100.0))
            .fact("json_member", Fact::Bytes(jlen))
            .fact("json_encoding", json_small.encodings.join(","))
            .fact("compact_bytes", compact_small.bytes)
            .fact("json_bytes", json_small.bytes),
    );
    let day_pct = percent(compact_day.bytes, json_day.bytes);
    let buckets_pct = percent(compact_buckets.bytes, json_day.bytes);
    let buckets_can_be_compact = limits.fits(bucket, compact_buckets.longest as u64);
    let day_holds =
        compact_day.bytes < json_day.bytes && (!buckets_can_be_compact || compact_buckets.bytes < compact_day.bytes);
    report.claim(
        Claim::new("listpack-buckets-save-most", "", format!("{day_pct:.0}% → {buckets_pct:.0}%"), day_holds)
            .fact("candles", DAY)
            .fact("day_encoding", compact_day.encodings.join(","))
            .fact("day_percent", Fact::Percent(day_pct / 100.0))
            .fact("keys", compact_buckets.keys)
            .fact("bucket", bucket)
            .fact("buckets_encoding", compact_buckets.encodings.join(","))
            .fact("buckets_percent", Fact::Percent(buckets_pct / 100.0)),
    );
    let all = [&json_small, &compact_small, &json_day, &compact_day, &compact_buckets];
    let keys: usize = all.iter().map(|s| s.keys).sum();
    let rule_holds = all.iter().all(|s| s.as_predicted) && flipped;
    // `crossed` is 1 when the threshold was crossed live above (the message adds a clause then).
    report.claim(
        Claim::new("encoding-follows-the-rule", "", format!("{keys}/{keys}"), rule_holds)
            .fact("keys", keys)
            .fact("compact", compact)
            .fact("entries", limits.entries)
            .fact("value", limits.value)
            .fact("json_member", Fact::Bytes(jlen))
            .fact("crossed", u64::from(crossed)),
    );
    Ok(report)
}
