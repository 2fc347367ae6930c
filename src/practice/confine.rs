//! Key confinement for practice on a learner's own server (`practice N --redis URL`): every key a
//! typed command names is moved under the run's namespace (the learner keeps typing and seeing
//! unprefixed names), the server's own key specifications (`COMMAND GETKEYS`) find the keys and
//! confirm, after the rewrite, that every key is inside; what cannot be confined is refused with a
//! [`Refusal`], before anything is sent.
//!
//! What cannot be confined: commands that act on the whole server or on another database (by name,
//! [`WHOLE_SERVER`]), keyless commands outside a small read-only list ([`KEYLESS_OK`]), `KEYS`,
//! `SCAN` without `MATCH`, `SORT … BY/GET` (it reads keys named by a pattern), a command naming a
//! key that already exists outside the namespace (it is the server's own data, not practice's),
//! and scripts whose body may reach keys it did not declare (see [`script_problem`]).
//!
//! The keys the lesson's tasks name are the practice's own, always: typed, they go under the
//! namespace like any other, and are never refused because the server happens to hold a key of the
//! same name (that key is left alone; the task's copy lives apart, so the task can be done).

use std::collections::HashSet;

use redis::{Connection, Value};

use crate::server::Namespace;

/// Commands refused by name on a learner's server (lower case): they act on the whole server, its
/// configuration, other clients or another database, or read keys no key specification names.
pub const WHOLE_SERVER: [&str; 28] = [
    "flushall",
    "flushdb",
    "config",
    "debug",
    "shutdown",
    "select",
    "swapdb",
    "move",
    "migrate",
    "save",
    "bgsave",
    "bgrewriteaof",
    "replicaof",
    "slaveof",
    "client",
    "acl",
    "module",
    "function",
    "fcall",
    "fcall_ro",
    "randomkey",
    "failover",
    "cluster",
    "latency",
    "slowlog",
    "reset",
    "hello",
    "auth",
];

/// Keyless commands that only read about the server or frame a transaction (lower case).
pub const KEYLESS_OK: [&str; 11] =
    ["ping", "echo", "time", "info", "dbsize", "multi", "exec", "discard", "unwatch", "lastsave", "lolwut"];

/// Commands a script may call on a learner's server: their only key is their first argument.
pub const SCRIPT_SINGLE_KEY: [&str; 62] = [
    "get",
    "set",
    "setnx",
    "setex",
    "psetex",
    "getdel",
    "getex",
    "getset",
    "append",
    "strlen",
    "incr",
    "incrby",
    "incrbyfloat",
    "decr",
    "decrby",
    "expire",
    "pexpire",
    "expireat",
    "pexpireat",
    "persist",
    "ttl",
    "pttl",
    "type",
    "hget",
    "hset",
    "hsetnx",
    "hdel",
    "hincrby",
    "hgetall",
    "hmget",
    "hexists",
    "hlen",
    "hkeys",
    "hvals",
    "sadd",
    "srem",
    "sismember",
    "smembers",
    "scard",
    "zadd",
    "zrem",
    "zincrby",
    "zscore",
    "zrange",
    "zrangebyscore",
    "zremrangebyscore",
    "zcard",
    "zcount",
    "lpush",
    "rpush",
    "lpop",
    "rpop",
    "lrange",
    "llen",
    "ltrim",
    "lindex",
    "xadd",
    "xlen",
    "xrange",
    "xtrim",
    "publish",
    "object",
];

/// Commands a script may call when every argument is a declared key.
pub const SCRIPT_ALL_KEYS: [&str; 5] = ["del", "unlink", "exists", "touch", "mget"];

/// Why a typed command was not sent (the printer turns it into one line).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// Acts on the whole server, its configuration, other clients or another database.
    WholeServer(String),
    /// `KEYS` walks every key of the server.
    Keys,
    /// `SCAN` without `MATCH` would list the server's own keys.
    ScanNeedsMatch,
    /// `SORT … BY/GET` reads keys named by a pattern.
    SortPattern,
    /// This key exists on the server outside the practice's namespace.
    ForeignKey(String),
    /// The server could not say which keys the command uses.
    Unconfinable(String),
    /// A script whose body may reach keys it did not declare.
    Script(String),
    /// `EVALSHA` of a script this practice has not checked.
    UnknownScript,
}

/// The namespace of one practice run on a learner's server, the tasks' keys, and the scripts
/// checked so far.
pub struct Confinement {
    namespace: Namespace,
    /// The names the lesson's tasks use (unprefixed): never refused as the server's own.
    task_keys: HashSet<Vec<u8>>,
    scripts: HashSet<String>,
}

impl Confinement {
    /// `task_keys`: the keys the lesson's tasks name, as the learner types them.
    pub fn new(namespace: Namespace, task_keys: impl IntoIterator<Item = String>) -> Confinement {
        let task_keys = task_keys.into_iter().map(String::into_bytes).collect();
        Confinement { namespace, task_keys, scripts: HashSet::new() }
    }

    pub fn namespace(&self) -> &Namespace {
        &self.namespace
    }

    /// The server's name of a task's key.
    pub fn key(&self, name: &str) -> String {
        if self.namespace.owns(name) { name.to_string() } else { self.namespace.key(name) }
    }

    /// `args` with every key moved under the namespace, or why it cannot be. `probe` is a second
    /// connection (the learner's may be inside MULTI). `typed`: a learner's line (a key that exists
    /// outside the namespace is refused, unless a task names it); `false` for a task's setup.
    pub fn rewrite(
        &mut self,
        args: &[Vec<u8>],
        probe: &mut Connection,
        typed: bool,
    ) -> redis::RedisResult<Result<Vec<Vec<u8>>, Refusal>> {
        let name = String::from_utf8_lossy(&args[0]).to_ascii_lowercase();
        let sub = args.get(1).map(|a| String::from_utf8_lossy(a).to_ascii_lowercase()).unwrap_or_default();
        if name == "keys" {
            return Ok(Err(Refusal::Keys));
        }
        if WHOLE_SERVER.contains(&name.as_str()) {
            return Ok(Err(Refusal::WholeServer(name.to_ascii_uppercase())));
        }
        let mut out = args.to_vec();
        match name.as_str() {
            "scan" => {
                let Some(at) = (2..args.len()).step_by(2).find(|&i| args[i].eq_ignore_ascii_case(b"match")) else {
                    return Ok(Err(Refusal::ScanNeedsMatch));
                };
                let Some(pattern) = args.get(at + 1) else { return Ok(Err(Refusal::ScanNeedsMatch)) };
                out[at + 1] = self.prefixed(pattern);
                return Ok(Ok(out));
            }
            "publish" | "spublish" if args.len() == 3 => {
                // Channels are not keys, but others' subscribers listen on them.
                out[1] = self.prefixed(&args[1]);
                return Ok(Ok(out));
            }
            "script" if sub == "load" && args.len() == 3 => {
                let body = String::from_utf8_lossy(&args[2]);
                if let Some(problem) = script_problem(&body) {
                    return Ok(Err(Refusal::Script(problem)));
                }
                self.scripts.insert(redis::Script::new(&body).get_hash().to_string());
                return Ok(Ok(out));
            }
            "script" if sub == "exists" => return Ok(Ok(out)),
            "script" => return Ok(Err(Refusal::WholeServer("SCRIPT".into()))),
            "eval" | "eval_ro" | "evalsha" | "evalsha_ro" => return self.script_call(args, probe, typed),
            "copy" if args.iter().skip(3).any(|a| a.eq_ignore_ascii_case(b"db")) => {
                return Ok(Err(Refusal::WholeServer("COPY … DB".into())));
            }
            "sort" | "sort_ro"
                if args.iter().skip(2).any(|a| a.eq_ignore_ascii_case(b"by") || a.eq_ignore_ascii_case(b"get")) =>
            {
                return Ok(Err(Refusal::SortPattern));
            }
            _ => {}
        }
        let keys = match getkeys(probe, args)? {
            Keys::Found(keys) => keys,
            Keys::None if KEYLESS_OK.contains(&name.as_str()) || (name == "command" && !sub.is_empty()) => {
                return Ok(Ok(out));
            }
            Keys::None => return Ok(Err(Refusal::WholeServer(name.to_ascii_uppercase()))),
            // The server will refuse it too (unknown command, wrong number of arguments): send it,
            // so that the learner sees the server's own error.
            Keys::ServerRefuses => return Ok(Ok(out)),
            Keys::Unknown(reason) => return Ok(Err(Refusal::Unconfinable(reason))),
        };
        // Positions of the keys, in order (the key specifications list them in argument order).
        let mut from = 1;
        for key in &keys {
            let Some(at) = (from..args.len()).find(|&i| &args[i] == key) else {
                return Ok(Err(Refusal::Unconfinable("its keys could not be located".into())));
            };
            if typed && self.foreign(key, probe)? {
                return Ok(Err(Refusal::ForeignKey(String::from_utf8_lossy(key).into_owned())));
            }
            out[at] = self.prefixed(key);
            from = at + 1;
        }
        // The server's own reading of the rewritten command: every key must be ours now.
        match getkeys(probe, &out)? {
            Keys::Found(now) if now.iter().all(|k| self.inside(k)) => Ok(Ok(out)),
            _ => Ok(Err(Refusal::Unconfinable("a key would stay outside this practice".into()))),
        }
    }

    /// `EVAL body numkeys key… arg…` (and `EVALSHA`, `*_RO`): declared keys move under the
    /// namespace; the body may touch only declared keys.
    fn script_call(
        &mut self,
        args: &[Vec<u8>],
        probe: &mut Connection,
        typed: bool,
    ) -> redis::RedisResult<Result<Vec<Vec<u8>>, Refusal>> {
        if args.len() < 3 {
            return Ok(Ok(args.to_vec())); // the server's arity error
        }
        let by_sha = args[0].to_ascii_lowercase().starts_with(b"evalsha");
        let body = String::from_utf8_lossy(&args[1]).into_owned();
        if by_sha {
            if !self.scripts.contains(&body.to_ascii_lowercase()) {
                return Ok(Err(Refusal::UnknownScript));
            }
        } else if let Some(problem) = script_problem(&body) {
            return Ok(Err(Refusal::Script(problem)));
        }
        let Some(numkeys) = std::str::from_utf8(&args[2]).ok().and_then(|n| n.parse::<usize>().ok()) else {
            return Ok(Ok(args.to_vec())); // the server's own error about numkeys
        };
        if 3 + numkeys > args.len() {
            return Ok(Ok(args.to_vec()));
        }
        let mut out = args.to_vec();
        for at in 3..3 + numkeys {
            if typed && self.foreign(&args[at], probe)? {
                return Ok(Err(Refusal::ForeignKey(String::from_utf8_lossy(&args[at]).into_owned())));
            }
            out[at] = self.prefixed(&args[at]);
        }
        if !by_sha {
            self.scripts.insert(redis::Script::new(&body).get_hash().to_string());
        }
        Ok(Ok(out))
    }

    /// A reply as the learner should see it: our prefix taken off every name in it.
    pub fn unprefix(&self, value: Value) -> Value {
        let prefix = self.namespace.prefix().as_bytes();
        match value {
            Value::BulkString(b) if b.starts_with(prefix) => Value::BulkString(b[prefix.len()..].to_vec()),
            Value::SimpleString(s) if s.starts_with(self.namespace.prefix()) => {
                Value::SimpleString(s[prefix.len()..].to_string())
            }
            Value::Array(items) => Value::Array(items.into_iter().map(|v| self.unprefix(v)).collect()),
            Value::Set(items) => Value::Set(items.into_iter().map(|v| self.unprefix(v)).collect()),
            Value::Map(pairs) => {
                Value::Map(pairs.into_iter().map(|(k, v)| (self.unprefix(k), self.unprefix(v))).collect())
            }
            other => other,
        }
    }

    /// Count the keys a task's command line names (its setup, solution or predicted command) as
    /// task keys too. A line the server cannot read adds nothing.
    pub fn add_task_keys(&mut self, args: &[Vec<u8>], probe: &mut Connection) -> redis::RedisResult<()> {
        if let Keys::Found(keys) = getkeys(probe, args)? {
            self.task_keys.extend(keys);
        }
        Ok(())
    }

    /// The task keys that also exist on the server outside the namespace, unprefixed and sorted:
    /// the server's own keys of the same name, which this practice leaves alone.
    pub fn shadowed(&self, probe: &mut Connection) -> redis::RedisResult<Vec<String>> {
        let mut names = Vec::new();
        for key in &self.task_keys {
            if !self.inside(key) && exists(probe, key)? {
                names.push(String::from_utf8_lossy(key).into_owned());
            }
        }
        names.sort();
        Ok(names)
    }

    /// A typed key that is the server's own: outside the namespace, named by no task, and present.
    fn foreign(&self, key: &[u8], probe: &mut Connection) -> redis::RedisResult<bool> {
        Ok(!self.inside(key) && !self.task_keys.contains(key) && exists(probe, key)?)
    }

    fn inside(&self, key: &[u8]) -> bool {
        key.starts_with(self.namespace.prefix().as_bytes())
    }

    fn prefixed(&self, key: &[u8]) -> Vec<u8> {
        if self.inside(key) {
            return key.to_vec();
        }
        let mut full = self.namespace.prefix().as_bytes().to_vec();
        full.extend_from_slice(key);
        full
    }
}

/// What `COMMAND GETKEYS` said.
enum Keys {
    Found(Vec<Vec<u8>>),
    /// The command takes no key.
    None,
    /// An unknown command or a wrong number of arguments: the server refuses it anyway.
    ServerRefuses,
    Unknown(String),
}

fn getkeys(probe: &mut Connection, args: &[Vec<u8>]) -> redis::RedisResult<Keys> {
    if args.len() == 1 {
        // `COMMAND GETKEYS` needs an argument after the name: ask the command table instead. A
        // command that may be typed alone (arity 1 or -1) takes no key then.
        let info: Vec<Value> = redis::cmd("COMMAND").arg("INFO").arg(args[0].as_slice()).query(probe)?;
        return Ok(match info.first() {
            Some(Value::Array(fields)) => match fields.get(1) {
                Some(Value::Int(1 | -1)) => Keys::None,
                _ => Keys::ServerRefuses,
            },
            _ => Keys::ServerRefuses,
        });
    }
    let mut cmd = redis::cmd("COMMAND");
    cmd.arg("GETKEYS");
    for a in args {
        cmd.arg(a.as_slice());
    }
    match cmd.query::<Vec<Vec<u8>>>(probe) {
        Ok(keys) if keys.is_empty() => Ok(Keys::None),
        Ok(keys) => Ok(Keys::Found(keys)),
        Err(e) if e.is_io_error() || e.is_timeout() || e.is_connection_dropped() => Err(e),
        Err(e) => {
            let text = e.to_string();
            Ok(if text.contains("no key arguments") {
                Keys::None
            } else if text.contains("Invalid command") || text.contains("Invalid number of arguments") {
                Keys::ServerRefuses
            } else {
                Keys::Unknown(e.detail().unwrap_or("COMMAND GETKEYS failed").to_string())
            })
        }
    }
}

fn exists(probe: &mut Connection, key: &[u8]) -> redis::RedisResult<bool> {
    Ok(redis::cmd("EXISTS").arg(key).query::<i64>(probe)? > 0)
}

/// Why a Lua script might reach a key it did not declare, or `None` when every `redis.call` and
/// `redis.pcall` in it names a command from [`SCRIPT_SINGLE_KEY`] with `KEYS[n]` as its key (or one
/// from [`SCRIPT_ALL_KEYS`] with only `KEYS[n]` arguments), and nothing else reaches `redis`.
pub fn script_problem(body: &str) -> Option<String> {
    for escape in ["_G", "_ENV", "getfenv", "setfenv", "loadstring", "load(", "rawget", "rawset", "dofile", "require"] {
        if body.contains(escape) {
            return Some(format!("it uses {escape}"));
        }
    }
    let ident = |c: u8| c.is_ascii_alphanumeric() || c == b'_';
    let bytes = body.as_bytes();
    let mut from = 0;
    while let Some(pos) = body[from..].find("redis") {
        let at = from + pos;
        from = at + "redis".len();
        if (at > 0 && (ident(bytes[at - 1]) || bytes[at - 1] == b'.')) || bytes.get(from).is_some_and(|&c| ident(c)) {
            continue; // part of another name
        }
        let rest = &body[from..];
        let call = ["call(", "pcall("].iter().find_map(|c| rest.strip_prefix('.')?.strip_prefix(c));
        if let Some(inner) = call {
            let Some((args, _)) = call_args(inner) else {
                return Some("a redis.call is not closed".into());
            };
            let Some(name) = args.first().and_then(|a| literal(a)).map(|n| n.to_ascii_lowercase()) else {
                return Some("a redis.call names its command through a variable".into());
            };
            let is_key = |a: &String| {
                a.strip_prefix("KEYS[")
                    .and_then(|r| r.strip_suffix(']'))
                    .is_some_and(|n| !n.is_empty() && n.bytes().all(|c| c.is_ascii_digit()))
            };
            let ok = if SCRIPT_ALL_KEYS.contains(&name.as_str()) {
                args.len() > 1 && args[1..].iter().all(is_key)
            } else if SCRIPT_SINGLE_KEY.contains(&name.as_str()) {
                args.get(1).is_some_and(is_key)
            } else {
                false
            };
            if !ok {
                return Some(format!("its call to {} does not take its key from KEYS[n]", name.to_ascii_uppercase()));
            }
            continue;
        }
        let harmless = [".sha1hex(", ".status_reply(", ".error_reply(", ".log(", ".LOG_"];
        if !harmless.iter().any(|h| rest.starts_with(h)) {
            return Some("it uses redis.* in a way that cannot be checked".into());
        }
    }
    None
}

/// The top-level arguments of a call whose opening parenthesis is just before `text`, trimmed, and
/// the text after its closing parenthesis. `None` when it does not close.
fn call_args(text: &str) -> Option<(Vec<String>, &str)> {
    let mut args = Vec::new();
    let mut current = String::new();
    let mut depth = 0_i32;
    let mut quote: Option<char> = None;
    let mut chars = text.char_indices();
    while let Some((i, c)) = chars.next() {
        if let Some(q) = quote {
            current.push(c);
            if c == '\\' {
                if let Some((_, next)) = chars.next() {
                    current.push(next);
                }
            } else if c == q {
                quote = None;
            }
            continue;
        }
        match c {
            '\'' | '"' => {
                quote = Some(c);
                current.push(c);
            }
            '(' | '[' | '{' => {
                depth += 1;
                current.push(c);
            }
            ')' if depth == 0 => {
                if !current.trim().is_empty() || !args.is_empty() {
                    args.push(current.trim().to_string());
                }
                return Some((args, &text[i + 1..]));
            }
            ')' | ']' | '}' => {
                depth -= 1;
                current.push(c);
            }
            ',' if depth == 0 => args.push(std::mem::take(&mut current).trim().to_string()),
            c => current.push(c),
        }
    }
    None
}

/// `'GET'` or `"GET"` → `GET`.
fn literal(arg: &str) -> Option<&str> {
    let inner = arg.strip_prefix('\'').and_then(|a| a.strip_suffix('\''));
    inner.or_else(|| arg.strip_prefix('"').and_then(|a| a.strip_suffix('"')))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_compare_and_delete_script_declares_its_keys() {
        let release = "if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end return 0";
        assert_eq!(script_problem(release), None);
        assert_eq!(script_problem("return redis.call(\"SET\", KEYS[2], ARGV[1], 'PX', 3000)"), None);
    }

    #[test]
    fn scripts_that_could_reach_other_keys_are_refused() {
        for body in [
            "return redis.call('DEL', 'user:1')",
            "return redis.call('DEL', ARGV[1])",
            "return redis.call('DEL', KEYS[1], ARGV[1])",
            "return redis.call('FLUSHALL')",
            "return redis.call('RENAME', KEYS[1], ARGV[1])",
            "local c = 'DEL' return redis.call(c, KEYS[1])",
            "local r = redis return r.call('DEL', 'x')",
            "return _G['redis'].call('DEL', 'x')",
            "return redis.call('GET', KEYS[1]",
        ] {
            assert!(script_problem(body).is_some(), "{body}");
        }
    }
}
