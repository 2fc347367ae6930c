//! The words every demo prints, in English and Chinese, as snapshots: each lesson runs on a private
//! server with a fake clock (every sample takes the same time, so comparisons and the messages chosen
//! from them are the same on every run), and every figure is replaced by `#` (counts from races
//! differ between runs; the words must not). A changed message in a lesson file shows up here.

use crate::support;
use crate::support::Test;
use serde_json::Value;

/// Notes whose message is chosen by the outcome of a real race between threads (a fake clock cannot
/// fix those): the snapshot names them instead of quoting them.
const OUTCOME_DEPENDENT: &[&str] = &["counters.contention"];

fn words(doc: &Value) -> String {
    let mut out = String::new();
    for demo in doc["demos"].as_array().unwrap() {
        let line = |out: &mut String, tag: &str, text: &Value| {
            out.push_str(&format!("{tag}: {}\n", text.as_str().unwrap_or_default()));
        };
        out.push_str(&format!("## {} — {}\n", demo["name"].as_str().unwrap(), demo["title"].as_str().unwrap()));
        // Tables: their titles and headings (rows are this run's data: random nodes, ids, counts).
        for finding in demo["findings"].as_array().unwrap() {
            line(&mut out, "table", &finding["title"]);
            let headers: Vec<&str> =
                finding["headers"].as_array().unwrap().iter().map(|h| h.as_str().unwrap()).collect();
            out.push_str(&format!("  | {} |\n", headers.join(" | ")));
        }
        for m in demo["measurements"].as_array().unwrap() {
            out.push_str(&format!("timing {}: {}\n", m["id"].as_str().unwrap(), m["label"].as_str().unwrap()));
        }
        for note in demo["notes"].as_array().unwrap() {
            let key = note["message"].as_str().unwrap_or("(plain)");
            if let Some(prefix) = OUTCOME_DEPENDENT.iter().find(|k| key.starts_with(*k)) {
                // Which of its messages a run shows depends on a real race's outcome: name the
                // prefix they share, not the one this run picked.
                out.push_str(&format!("{} {prefix}…: (depends on the run)\n", note["kind"].as_str().unwrap()));
            } else {
                line(&mut out, note["kind"].as_str().unwrap(), &note["text"]);
            }
        }
        for claim in demo["claims"].as_array().unwrap() {
            out.push_str(&format!("claim {}: {}\n", claim["id"].as_str().unwrap(), claim["text"].as_str().unwrap()));
        }
        for key in ["error", "skipped"] {
            if !demo[key].is_null() {
                line(&mut out, key, &demo[key]);
            }
        }
    }
    figures_out(&out)
}

/// Every figure becomes `#`, every time unit `<t>` (a delay may be µs in one run and ms in the
/// next) and every size unit `<bytes>`; random ids (hex with a digit: run prefixes, node ids) become
/// `#`; temp dir names go.
fn figures_out(text: &str) -> String {
    let text = hex_ids_out(&scratch_dirs_out(text));
    let text = numbers_out(&text);
    let mut out = text;
    for unit in [" µs", " ms", " s"] {
        for end in [" ", ")", ",", ".", ";", ":", "（", "）", "，", "。", "；", "：", "\n"] {
            out = out.replace(&format!("#{unit}{end}"), &format!("# <t>{end}"));
        }
    }
    // Sizes likewise: 660 KiB in one run may be 1.02 MiB in the next.
    for unit in [" B", " KiB", " MiB", " GiB"] {
        for end in [" ", ")", ",", ".", ";", ":", "（", "）", "，", "。", "；", "\n"] {
            out = out.replace(&format!("#{unit}{end}"), &format!("# <bytes>{end}"));
        }
    }
    out
}

/// A word made only of hex digits with at least one digit (`3fa2b1c0`, `f3bb`) becomes `#`.
fn hex_ids_out(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut word = String::new();
    let flush = |word: &mut String, out: &mut String| {
        let hex =
            word.len() >= 3 && word.chars().all(|c| c.is_ascii_hexdigit()) && word.chars().any(|c| c.is_ascii_digit());
        out.push_str(if hex && word.chars().any(|c| c.is_ascii_alphabetic()) { "#" } else { word });
        word.clear();
    };
    for ch in text.chars() {
        if ch.is_ascii_alphanumeric() {
            word.push(ch);
        } else {
            flush(&mut word, &mut out);
            out.push(ch);
        }
    }
    flush(&mut word, &mut out);
    out
}

fn numbers_out(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut in_number = false;
    for ch in text.chars() {
        let digit = ch.is_ascii_digit();
        let joins = in_number && (ch == ',' || ch == '.');
        if digit || joins {
            if !in_number {
                out.push('#');
                in_number = true;
            }
        } else {
            in_number = false;
            out.push(ch);
        }
    }
    out
}

fn snapshot_lesson(number: u32) {
    for lang in ["en", "zh"] {
        let _shared = support::fake_clock_run();
        let out = Test::new()
            .args(["lesson", &number.to_string(), "--quick", "--no-quiz", "--json", "--private", "--lang", lang])
            .env("REDIS_LEARN_TEST_FAKE_CLOCK", "1")
            .run();
        let doc = out.json();
        insta::assert_snapshot!(format!("lesson-{number:02}-{lang}"), words(&doc));
    }
}

#[test]
fn lesson_01_words() {
    snapshot_lesson(1);
}
#[test]
fn lesson_02_words() {
    snapshot_lesson(2);
}
#[test]
fn lesson_03_words() {
    snapshot_lesson(3);
}
#[test]
#[ignore = "slow (~4 s): CI runs it; locally `cargo test --release -- --include-ignored`"]
fn lesson_04_words() {
    snapshot_lesson(4);
}
#[test]
#[ignore = "slow (~8 s): CI runs it; locally `cargo test --release -- --include-ignored`"]
fn lesson_05_words() {
    snapshot_lesson(5);
}
#[test]
#[ignore = "slow (~7 s): CI runs it; locally `cargo test --release -- --include-ignored`"]
fn lesson_06_words() {
    snapshot_lesson(6);
}
#[test]
#[ignore = "slow (~4 s): CI runs it; locally `cargo test --release -- --include-ignored`"]
fn lesson_07_words() {
    snapshot_lesson(7);
}
#[test]
#[ignore = "slow (~10 s): CI runs it; locally `cargo test --release -- --include-ignored`"]
fn lesson_08_words() {
    snapshot_lesson(8);
}
#[test]
#[ignore = "slow (~10 s): CI runs it; locally `cargo test --release -- --include-ignored`"]
fn lesson_09_words() {
    snapshot_lesson(9);
}
#[test]
#[ignore = "slow (~5 s): CI runs it; locally `cargo test --release -- --include-ignored`"]
fn lesson_10_words() {
    snapshot_lesson(10);
}
#[test]
#[ignore = "slow (~40 s): CI runs it; locally `cargo test --release -- --include-ignored`"]
fn lesson_11_words() {
    snapshot_lesson(11);
}

/// `redis-learn-XXXXXX` for a scratch directory's name, `redis-learn-run-<pid>-<random>` (or an
/// older one's, `redis-learn-<random>`).
fn scratch_dirs_out(text: &str) -> String {
    const MARK: &str = "redis-learn-";
    let mut out = String::new();
    let mut rest = text;
    while let Some(i) = rest.find(MARK) {
        let after = &rest[i + MARK.len()..];
        // Past `run-<pid>-`, when it is there.
        let random = after
            .strip_prefix("run-")
            .and_then(|owned| owned.split_once('-'))
            .filter(|(pid, _)| !pid.is_empty() && pid.chars().all(|c| c.is_ascii_digit()))
            .map_or(after, |(_, random)| random);
        let name: String = random.chars().take_while(char::is_ascii_alphanumeric).collect();
        out.push_str(&rest[..i + MARK.len()]);
        if name.len() == 6 {
            out.push_str("XXXXXX");
            rest = &random[6..];
        } else {
            rest = after;
        }
    }
    out.push_str(rest);
    out
}

#[test]
fn figures_are_taken_out() {
    assert_eq!(figures_out("in /tmp/redis-learn-eDVMuB on"), "in /tmp/redis-learn-XXXXXX on");
    assert_eq!(figures_out("in /tmp/redis-learn-run-4242-eDVMuB on"), "in /tmp/redis-learn-XXXXXX on");
    assert_eq!(
        figures_out("took 1,234.5 µs for 3 keys at redis-learn:3fa2b1c0:x"),
        "took # <t> for # keys at redis-learn:#:x"
    );
    assert_eq!(figures_out("node ws-2-f3bb, 12 ms."), "node ws-#-#, # <t>.");
}
