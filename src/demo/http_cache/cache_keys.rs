//! Demo `http-cache-keys`: the key must be the request's meaning, not its spelling.

use std::collections::HashSet;

use anyhow::Result;

use super::cache::{Policy, Source, fetch_through, simulated_note};
use super::key::{Request, naive_key};
use super::upstream::{self, Upstream, hex_id};
use crate::demo::{Ctx, DemoReport, NoteKind};
use crate::measure::{Backend, Claim};
use crate::text::Text;

/// A request or key made short enough for a table row, keeping what differs between spellings:
/// the standard origin and the API path prefix are elided, long hex ids and digests abbreviated.
fn compact(text: &str) -> String {
    let mut text = text.replacen(upstream::BASE_URL, "", 1);
    if let Some(start) = text.find("/api/v5/explorer/")
        && let Some(len) = text[start + "/api/v5/explorer/".len()..].find('/')
    {
        text.replace_range(start..start + "/api/v5/explorer/".len() + len + 1, "…/");
    }
    // Any run of 16 or more hex digits (an address, a tx hash, a digest): first 4 … last 4.
    let mut out = String::with_capacity(text.len());
    let mut run = String::new();
    let flush = |run: &mut String, out: &mut String| {
        if run.len() >= 16 {
            out.push_str(&run[..4]);
            out.push('…');
            out.push_str(&run[run.len() - 4..]);
        } else {
            out.push_str(run);
        }
        run.clear();
    };
    for c in text.chars() {
        if c.is_ascii_hexdigit() {
            run.push(c);
        } else {
            flush(&mut run, &mut out);
            out.push(c);
        }
    }
    flush(&mut run, &mut out);
    out
}

/// Five spellings of two requests: five keys (and five upstream calls) when the raw URL is the key,
/// two when the request is normalised first.
pub fn request_keys(ctx: &Ctx) -> Result<DemoReport> {
    let mut report = DemoReport::new("http-cache-keys", Text::msg("title"));
    report.note(NoteKind::Simulated, simulated_note());
    let address = hex_id("whale", 40);
    // The same address in capitals: hex is case-insensitive (EIP-55 checksums mix the cases).
    let capitals = format!("0x{}", address[2..].to_ascii_uppercase());
    let base = format!("{}{}", upstream::BASE_URL, upstream::PATH_ADDRESS);
    let chain = format!("{}{}", upstream::BASE_URL, upstream::PATH_CHAIN);
    let spellings: Vec<(&str, String)> = vec![
        ("GET", format!("{base}?chainShortName=eth&address={address}")),
        ("get", format!("https://WWW.OKLINK.COM{}?address={capitals}&chainShortName=eth", upstream::PATH_ADDRESS)),
        ("GET", format!("{base}?address={address}&chainShortName=eth&_=1738250000123")),
        ("GET", format!("{chain}?chainShortName=eth")),
        ("GET", format!("{chain}?t=1738250000456&chainShortName=%65th")),
    ];
    let mut con = ctx.connect()?;
    let mut rows = Vec::new();
    let mut summary = Vec::new();
    for normalise in [false, true] {
        let upstream = Upstream::new(4);
        let mut keys = HashSet::new();
        let mut hits = 0;
        for (method, url) in &spellings {
            ctx.check_interrupt()?;
            let request = Request::parse(method, url)?;
            let suffix = if normalise { request.cache_key() } else { naive_key(method, url) };
            let key = ctx.key(&format!("keys:{suffix}"));
            let (_, source) = fetch_through(&mut con, &upstream, &request, &key, Policy::Honour)?;
            hits += usize::from(source == Source::Hit);
            keys.insert(key);
            if normalise {
                rows.push(vec![
                    Text::Plain(format!("{method} {}", compact(url))),
                    Text::Plain(compact(&suffix)),
                    Text::msg(match source {
                        Source::Upstream => "miss-upstream-call",
                        _ => "hit",
                    }),
                ]);
            }
        }
        let keys: Vec<String> = keys.into_iter().collect();
        let stored: i64 = redis::cmd("EXISTS").arg(&keys).query(&mut con)?;
        summary.push((keys.len(), stored, upstream.calls(), hits));
    }
    report.table(Text::msg("spellings"), &["request", "key", "result"], rows);
    let label = |normalise: bool| Text::msg(if normalise { "scheme-normalised" } else { "scheme-raw-url" });
    report.table(
        Text::msg("schemes"),
        &["scheme", "keys", "upstream-calls", "hits"],
        summary
            .iter()
            .enumerate()
            .map(|(i, (_, stored, calls, hits))| {
                vec![
                    label(i == 1),
                    Text::Plain(stored.to_string()),
                    Text::Plain(calls.to_string()),
                    Text::Plain(hits.to_string()),
                ]
            })
            .collect(),
    );
    report.note(NoteKind::Info, Text::msg("normalising"));

    // What normalising costs next to the round trip it saves.
    let (method, url) = &spellings[1];
    let key = ctx.key(&format!("keys:{}", Request::parse(method, url)?.cache_key()));
    let group = report.measured_group(
        ctx.sampler
            .group()
            .op("key-build", "key", Backend::App, || {
                std::hint::black_box(Request::parse(method, url)?.cache_key());
                Ok(())
            })
            .op("get", "GET", Backend::Redis, || {
                redis::cmd("GET").arg(&key).query::<Option<String>>(&mut con)?;
                Ok(())
            })
            .one_round_trip()
            .run()?,
    );
    report.compare("key-build-vs-get", group.get("key-build"), group.get("get"))?;

    let (naive, normalised) = (summary[0], summary[1]);
    let holds = naive.1 == 5 && naive.2 == 5 && normalised.1 == 2 && normalised.2 == 2 && normalised.3 == 3;
    report.claim(
        Claim::new("normalised-key-per-request", "", format!("{} → {}", naive.1, normalised.1), holds)
            .fact("raw_keys", naive.1)
            .fact("raw_calls", naive.2)
            .fact("keys", normalised.1)
            .fact("calls", normalised.2)
            .fact("hits", normalised.3),
    );
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn compact_keeps_what_differs() {
        let url = format!(
            "{}{}?address=0x4838B106FCe9647Bdf1E7877BF73cE8B0BAD5f97&t=1",
            upstream::BASE_URL,
            upstream::PATH_ADDRESS
        );
        assert_eq!(compact(&url), "…/address-summary?address=0x4838…5f97&t=1");
        assert_eq!(
            compact("http:www.oklink.com:sha256:4ddda5b03d16cd5d077d6007"),
            "http:www.oklink.com:sha256:4ddd…6007"
        );
        assert_eq!(
            compact("https://WWW.OKLINK.COM/api/v5/explorer/blockchain/summary?chainShortName=eth"),
            "https://WWW.OKLINK.COM…/summary?chainShortName=eth"
        );
    }
}
