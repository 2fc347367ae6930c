//! A practice task as written in a lesson file (`[[task]]`), and its checks. A check reads the
//! server's state (types, TTLs, values, members and scores, encodings, what a second client can do),
//! never the text the learner typed: any correct way passes. One kind, `used`, asks for the way
//! too, when the way is the lesson's point (an atomic INCR, not a SET of the total): it reads the
//! commands the server accepted from this session, never their spelling.

use std::collections::BTreeMap;

use redis::{Connection, Value};
use serde::Deserialize;

use crate::i18n::Lang;
const EN: &str = "en";

/// One task: what to do (per language), how it is checked, and a reference solution.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Task {
    /// Unique in its lesson, kebab-case: `cache-session`.
    pub id: String,
    /// Commands run before the task starts, and again on `reset` (e.g. another node's lock).
    #[serde(default)]
    pub setup: Vec<String>,
    /// The keys this task works on: `reset` deletes them (then runs `setup` again).
    #[serde(default)]
    pub keys: Vec<String>,
    /// Reference commands, one per entry, in a form `--script` accepts.
    pub solution: Vec<String>,
    /// "Predict, then run": the command whose reply the learner predicts (`predict REPLY` at the
    /// prompt or in a script); the task passes when the prediction matches the server's reply and
    /// every check (if any) holds.
    #[serde(default)]
    pub predict: Option<String>,
    /// Every check must hold for the task to pass.
    #[serde(rename = "check", default)]
    pub checks: Vec<Check>,
    /// Title, goal and hints, keyed by language code.
    pub text: BTreeMap<String, TaskText>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TaskText {
    pub title: String,
    /// What to do, with the data to use; shown when the task starts.
    pub goal: String,
    /// Revealed one at a time by `hint`; at least two.
    pub hints: Vec<String>,
}

/// A declarative check on the server's state.
#[derive(Debug, Clone, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum Check {
    /// The key exists.
    Exists { key: String },
    /// The key does not exist.
    Missing { key: String },
    /// `TYPE key` is `is` (string, list, set, zset, hash, stream).
    Type { key: String, is: String },
    /// The key has a TTL between `min` and `max` seconds (inclusive; `PTTL` rounded up).
    TtlBetween { key: String, min: u64, max: u64 },
    /// The key exists and has no TTL.
    NoTtl { key: String },
    /// `GET key` is `value`.
    Value { key: String, value: String },
    /// The string at `key` is JSON, and the value at `pointer` (RFC 6901, e.g. `/symbol`) equals
    /// `value` (a TOML string, number or boolean).
    JsonField { key: String, pointer: String, value: serde_json::Value },
    /// `OBJECT ENCODING key` is one of `is` (e.g. `["int"]`, `["listpack", "ziplist"]`).
    Encoding { key: String, is: Vec<String> },
    /// The number of elements (STRLEN, LLEN, SCARD, ZCARD, HLEN or XLEN, by type) is `count`.
    Len { key: String, count: u64 },
    /// `HGET key field` is `value`.
    HashField { key: String, field: String, value: String },
    /// The set holds exactly these members.
    SetMembers { key: String, members: Vec<String> },
    /// The sorted set holds exactly these members with these scores, in this order.
    ZsetMembers { key: String, members: Vec<String>, scores: Vec<f64> },
    /// The sorted set has exactly one member at `score`, and it is `member`.
    ZsetAt { key: String, score: f64, member: String },
    /// The list holds exactly these items, head first.
    ListItems { key: String, items: Vec<String> },
    /// A second client's `SET key <probe> NX PX 1000` fails: someone holds the lock.
    LockHeldByOther { key: String },
    /// The stream has a consumer group named `group`.
    StreamGroup { key: String, group: String },
    /// `CONFIG GET param` is `value` (e.g. appendonly `yes`).
    ConfigIs { param: String, value: String },
    /// `CONFIG GET param` contains each of these characters (e.g. notify-keyspace-events `Ex`).
    ConfigHas { param: String, chars: String },
    /// The server accepted, in this session, one of `commands` naming `key`: `"INCR"`, or a name
    /// and one of its words, `"ZADD INCR"`. Checked after the state checks: a right state reached
    /// another way is told what the task asks for.
    Used { key: String, commands: Vec<String> },
}

impl Task {
    pub fn text(&self, lang: Lang) -> &TaskText {
        self.text.get(lang.code()).or_else(|| self.text.get(EN)).expect("validated: every task has English text")
    }
}

impl Check {
    /// The keys this check reads.
    pub fn key(&self) -> Option<&str> {
        match self {
            Check::Exists { key }
            | Check::Missing { key }
            | Check::Type { key, .. }
            | Check::TtlBetween { key, .. }
            | Check::NoTtl { key }
            | Check::Value { key, .. }
            | Check::JsonField { key, .. }
            | Check::Encoding { key, .. }
            | Check::Len { key, .. }
            | Check::HashField { key, .. }
            | Check::SetMembers { key, .. }
            | Check::ZsetMembers { key, .. }
            | Check::ZsetAt { key, .. }
            | Check::ListItems { key, .. }
            | Check::LockHeldByOther { key }
            | Check::StreamGroup { key, .. }
            | Check::Used { key, .. } => Some(key),
            Check::ConfigHas { .. } | Check::ConfigIs { .. } => None,
        }
    }

    /// Problems with the check itself (for `redis-learn check`).
    pub fn problem(&self) -> Option<String> {
        match self {
            Check::TtlBetween { min, max, .. } if min > max => Some("ttl_between: min is above max".into()),
            Check::ZsetMembers { members, scores, .. } if members.len() != scores.len() => {
                Some("zset_members: members and scores differ in length".into())
            }
            Check::Encoding { is, .. } if is.is_empty() => Some("encoding: `is` is empty".into()),
            Check::JsonField { pointer, .. } if !pointer.is_empty() && !pointer.starts_with('/') => {
                Some("json_field: pointer must start with / (e.g. /symbol)".into())
            }
            Check::Used { commands, .. } if commands.is_empty() => Some("used: `commands` is empty".into()),
            Check::Used { commands, .. }
                if commands.iter().any(|c| !(1..=2).contains(&c.split_whitespace().count())) =>
            {
                Some("used: each command is a name, or a name and one word (\"ZADD INCR\")".into())
            }
            _ => None,
        }
    }

    /// Does the server's state satisfy this check? `key` maps a task's key to the server's key;
    /// `sent` is every command the server accepted from the learner, as sent, oldest first.
    pub fn holds(
        &self,
        con: &mut Connection,
        key: &dyn Fn(&str) -> String,
        sent: &[&[Vec<u8>]],
    ) -> redis::RedisResult<bool> {
        Ok(match self {
            Check::Exists { key: k } => exists(con, &key(k))?,
            Check::Missing { key: k } => !exists(con, &key(k))?,
            Check::Type { key: k, is } => type_of(con, &key(k))? == *is,
            Check::TtlBetween { key: k, min, max } => {
                let ms: i64 = redis::cmd("PTTL").arg(key(k)).query(con)?;
                if ms < 0 {
                    false
                } else {
                    let secs = (ms as u64).div_ceil(1000);
                    (*min..=*max).contains(&secs)
                }
            }
            Check::NoTtl { key: k } => redis::cmd("PTTL").arg(key(k)).query::<i64>(con)? == -1,
            Check::Value { key: k, value } => {
                type_of(con, &key(k))? == "string"
                    && redis::cmd("GET").arg(key(k)).query::<Option<String>>(con)?.as_deref() == Some(value)
            }
            Check::JsonField { key: k, pointer, value } => {
                if type_of(con, &key(k))? != "string" {
                    return Ok(false);
                }
                let text: String = redis::cmd("GET").arg(key(k)).query(con)?;
                serde_json::from_str::<serde_json::Value>(&text)
                    .ok()
                    .and_then(|doc| doc.pointer(pointer).cloned())
                    .is_some_and(|found| found == *value || same_number(&found, value))
            }
            Check::Encoding { key: k, is } => match redis::cmd("OBJECT").arg("ENCODING").arg(key(k)).query(con)? {
                Value::BulkString(b) => is.iter().any(|e| e.as_bytes() == b.as_slice()),
                Value::SimpleString(s) => is.contains(&s),
                _ => false,
            },
            Check::Len { key: k, count } => {
                let name = match type_of(con, &key(k))?.as_str() {
                    "string" => "STRLEN",
                    "list" => "LLEN",
                    "set" => "SCARD",
                    "zset" => "ZCARD",
                    "hash" => "HLEN",
                    "stream" => "XLEN",
                    _ => return Ok(false),
                };
                redis::cmd(name).arg(key(k)).query::<u64>(con)? == *count
            }
            Check::HashField { key: k, field, value } => {
                type_of(con, &key(k))? == "hash"
                    && redis::cmd("HGET").arg(key(k)).arg(field).query::<Option<String>>(con)?.as_deref() == Some(value)
            }
            Check::SetMembers { key: k, members } => {
                if type_of(con, &key(k))? != "set" {
                    return Ok(false);
                }
                let mut have: Vec<String> = redis::cmd("SMEMBERS").arg(key(k)).query(con)?;
                let mut want = members.clone();
                have.sort();
                want.sort();
                have == want
            }
            Check::ZsetMembers { key: k, members, scores } => {
                if type_of(con, &key(k))? != "zset" {
                    return Ok(false);
                }
                let have: Vec<(String, f64)> =
                    redis::cmd("ZRANGE").arg(key(k)).arg(0).arg(-1).arg("WITHSCORES").query(con)?;
                have.len() == members.len()
                    && have.iter().zip(members.iter().zip(scores)).all(|((m, s), (wm, ws))| m == wm && s == ws)
            }
            Check::ZsetAt { key: k, score, member } => {
                if type_of(con, &key(k))? != "zset" {
                    return Ok(false);
                }
                let have: Vec<String> =
                    redis::cmd("ZRANGE").arg(key(k)).arg(*score).arg(*score).arg("BYSCORE").query(con)?;
                have == [member.clone()]
            }
            Check::ListItems { key: k, items } => {
                type_of(con, &key(k))? == "list"
                    && redis::cmd("LRANGE").arg(key(k)).arg(0).arg(-1).query::<Vec<String>>(con)? == *items
            }
            Check::LockHeldByOther { key: k } => {
                // A second node tries to take the lock. If it gets it, the lock was free: give it
                // back (only if it is still the probe's) and fail.
                let probe = "redis-learn-practice-probe";
                let got: Option<String> =
                    redis::cmd("SET").arg(key(k)).arg(probe).arg("NX").arg("PX").arg(1000).query(con)?;
                if got.is_some() {
                    redis::cmd("EVAL")
                        .arg("if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end return 0")
                        .arg(1)
                        .arg(key(k))
                        .arg(probe)
                        .query::<i64>(con)?;
                    false
                } else {
                    true
                }
            }
            Check::StreamGroup { key: k, group } => {
                if type_of(con, &key(k))? != "stream" {
                    return Ok(false);
                }
                let groups: Vec<Value> = redis::cmd("XINFO").arg("GROUPS").arg(key(k)).query(con)?;
                groups.iter().any(|g| match g {
                    Value::Array(fields) => fields.windows(2).any(|w| {
                        matches!(&w[0], Value::BulkString(n) if n == b"name")
                            && matches!(&w[1], Value::BulkString(v) if v == group.as_bytes())
                    }),
                    Value::Map(pairs) => pairs.iter().any(|(n, v)| {
                        matches!(n, Value::BulkString(n) if n == b"name")
                            && matches!(v, Value::BulkString(v) if v == group.as_bytes())
                    }),
                    _ => false,
                })
            }
            Check::Used { key: k, commands } => {
                let name = key(k);
                sent.iter().any(|args| {
                    let names_key = args[1..].iter().any(|a| a == name.as_bytes());
                    names_key
                        && commands.iter().any(|c| {
                            let mut words = c.split_whitespace();
                            let command = words.next().unwrap_or_default();
                            args[0].eq_ignore_ascii_case(command.as_bytes())
                                && words.all(|w| args[1..].iter().any(|a| a.eq_ignore_ascii_case(w.as_bytes())))
                        })
                })
            }
            Check::ConfigIs { param, value } => {
                let pair: Vec<String> = redis::cmd("CONFIG").arg("GET").arg(param).query(con)?;
                pair.get(1) == Some(value)
            }
            Check::ConfigHas { param, chars } => {
                let pair: Vec<String> = redis::cmd("CONFIG").arg("GET").arg(param).query(con)?;
                let value = pair.get(1).cloned().unwrap_or_default();
                chars.chars().all(|c| {
                    value.contains(c) || (c.is_ascii_lowercase() && value.contains('A') && "g$lshzxetdm".contains(c))
                })
            }
        })
    }
}

/// `18` and `18.0` are the same number in JSON.
fn same_number(a: &serde_json::Value, b: &serde_json::Value) -> bool {
    matches!((a.as_f64(), b.as_f64()), (Some(x), Some(y)) if x == y)
}

fn exists(con: &mut Connection, key: &str) -> redis::RedisResult<bool> {
    Ok(redis::cmd("EXISTS").arg(key).query::<i64>(con)? == 1)
}

fn type_of(con: &mut Connection, key: &str) -> redis::RedisResult<String> {
    redis::cmd("TYPE").arg(key).query(con)
}

/// Problems with a lesson's tasks, for `redis-learn check`: ids, checks, hints and solutions.
pub fn problems(tasks: &[Task], languages: &[&str]) -> Vec<String> {
    let mut problems = Vec::new();
    let mut seen = std::collections::BTreeSet::new();
    for task in tasks {
        let id = &task.id;
        if !seen.insert(id.as_str()) {
            problems.push(format!("task {id:?} is defined twice"));
        }
        if task.checks.is_empty() && task.predict.is_none() {
            problems.push(format!("task {id:?} has no [[task.check]] (nor a `predict` command)"));
        }
        if let Some(command) = &task.predict {
            if super::reply::split(command).map_or(true, |args| args.is_empty()) {
                problems.push(format!("task {id:?}: predict {command:?} is not a command"));
            }
            if !task.solution.iter().any(|line| line.trim_start().to_ascii_lowercase().starts_with("predict ")) {
                problems.push(format!("task {id:?} predicts a reply, but its solution has no `predict REPLY` line"));
            }
        }
        if task.solution.iter().all(|c| c.trim().is_empty()) {
            problems.push(format!("task {id:?} has no reference solution"));
        }
        if task.keys.is_empty() && task.checks.iter().any(|c| c.key().is_some()) {
            problems.push(format!("task {id:?} names no keys (reset deletes them)"));
        }
        for check in &task.checks {
            if let Some(p) = check.problem() {
                problems.push(format!("task {id:?}: {p}"));
            }
            if let Some(k) = check.key()
                && !task.keys.iter().any(|t| t == k)
            {
                problems.push(format!("task {id:?}: check reads {k:?}, which is not in its keys"));
            }
        }
        for code in languages {
            match task.text.get(*code) {
                None => problems.push(format!("task {id:?} has no [task.text.{code}]")),
                Some(t) => {
                    if t.title.trim().is_empty() || t.goal.trim().is_empty() {
                        problems.push(format!("task {id:?} ({code}) needs a title and a goal"));
                    }
                    if t.hints.iter().filter(|h| !h.trim().is_empty()).count() < 2 {
                        problems.push(format!("task {id:?} ({code}) needs at least 2 hints"));
                    }
                }
            }
        }
    }
    problems
}
