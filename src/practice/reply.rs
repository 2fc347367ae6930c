//! Reading a typed command line and printing a reply the way `redis-cli` does.

use redis::Value;

/// Split a line into arguments like `redis-cli`: spaces separate, `"…"` may hold spaces and the
/// escapes `\" \\ \n \r \t \xHH`, `'…'` holds text as typed (`\'` is a quote). `Err` for an
/// unbalanced quote.
pub fn split(line: &str) -> Result<Vec<Vec<u8>>, String> {
    let mut args = Vec::new();
    let mut chars = line.chars().peekable();
    loop {
        while chars.peek().is_some_and(|c| c.is_whitespace()) {
            chars.next();
        }
        let Some(&first) = chars.peek() else { return Ok(args) };
        let mut arg = Vec::new();
        if first == '"' || first == '\'' {
            chars.next();
            let mut closed = false;
            while let Some(c) = chars.next() {
                if c == first {
                    closed = true;
                    break;
                }
                if c == '\\' {
                    let Some(e) = chars.next() else { break };
                    if first == '\'' {
                        if e != '\'' {
                            arg.push(b'\\');
                        }
                        push_char(&mut arg, e);
                        continue;
                    }
                    match e {
                        'n' => arg.push(b'\n'),
                        'r' => arg.push(b'\r'),
                        't' => arg.push(b'\t'),
                        'x' => {
                            let hex: String = chars.by_ref().take(2).collect();
                            match u8::from_str_radix(&hex, 16) {
                                Ok(b) => arg.push(b),
                                Err(_) => return Err(format!("bad escape \\x{hex}")),
                            }
                        }
                        other => push_char(&mut arg, other),
                    }
                } else {
                    push_char(&mut arg, c);
                }
            }
            if !closed {
                return Err("unbalanced quotes".to_string());
            }
            if chars.peek().is_some_and(|c| !c.is_whitespace()) {
                return Err("a closing quote must be followed by a space".to_string());
            }
        } else {
            while let Some(&c) = chars.peek() {
                if c.is_whitespace() {
                    break;
                }
                push_char(&mut arg, c);
                chars.next();
            }
        }
        args.push(arg);
    }
}

fn push_char(buf: &mut Vec<u8>, c: char) {
    let mut tmp = [0u8; 4];
    buf.extend_from_slice(c.encode_utf8(&mut tmp).as_bytes());
}

/// A reply as `redis-cli` prints it (no trailing newline).
pub fn format(value: &Value) -> String {
    let mut out = String::new();
    write_value(&mut out, value, 0);
    out
}

/// Does `redis-cli` print this command's reply raw (its text as is, not quoted)? Its own list:
/// INFO, LOLWUT, CLIENT LIST/INFO, CLUSTER NODES/INFO, MEMORY DOCTOR/MALLOC-STATS, LATENCY
/// DOCTOR/GRAPH and DEBUG HTSTATS(-KEY)/CLIENT-EVICTION, whose replies are text of many lines.
pub fn prints_raw(args: &[Vec<u8>]) -> bool {
    let word = |i: usize| args.get(i).map(|a| String::from_utf8_lossy(a).to_ascii_lowercase()).unwrap_or_default();
    let (name, sub, n) = (word(0), word(1), args.len());
    match name.as_str() {
        "info" | "lolwut" => true,
        "client" => n >= 2 && ["list", "info"].contains(&sub.as_str()),
        "cluster" => n == 2 && ["nodes", "info"].contains(&sub.as_str()),
        "memory" => n >= 2 && ["doctor", "malloc-stats"].contains(&sub.as_str()),
        "latency" => (n == 2 && sub == "doctor") || (n == 3 && sub == "graph"),
        "debug" => n >= 2 && ["htstats", "htstats-key", "client-eviction"].contains(&sub.as_str()),
        _ => false,
    }
}

/// A reply of a command `redis-cli` prints raw ([`prints_raw`]): a text reply as its lines
/// (`\r\n` ends a line like `\n`, without the final line break); anything else as [`format()`].
pub fn format_raw(value: &Value) -> String {
    match value {
        Value::BulkString(bytes) => lines(&String::from_utf8_lossy(bytes)),
        Value::VerbatimString { text, .. } => lines(text),
        Value::SimpleString(s) => lines(s),
        other => format(other),
    }
}

/// Text as lines: `\r\n` becomes `\n`, and the last line break goes (the printer adds its own).
fn lines(text: &str) -> String {
    text.replace("\r\n", "\n").trim_end_matches('\n').to_string()
}

/// A server error as `redis-cli` prints it: `(error) ERR unknown command …`.
pub fn format_error(err: &redis::RedisError) -> String {
    match (err.code(), err.detail()) {
        (Some(code), Some(detail)) => format!("(error) {code} {detail}"),
        (Some(code), None) => format!("(error) {code}"),
        _ => format!("(error) {err}"),
    }
}

fn write_value(out: &mut String, value: &Value, indent: usize) {
    match value {
        Value::Nil => out.push_str("(nil)"),
        Value::Int(i) => out.push_str(&format!("(integer) {i}")),
        Value::BulkString(bytes) => out.push_str(&quote(bytes)),
        Value::SimpleString(s) => out.push_str(s),
        Value::Okay => out.push_str("OK"),
        Value::Double(d) => out.push_str(&format!("(double) {d}")),
        Value::Boolean(b) => out.push_str(if *b { "(true)" } else { "(false)" }),
        Value::VerbatimString { text, .. } => out.push_str(&lines(text)),
        Value::BigNumber(n) => out.push_str(&format!("(big number) {n:?}")),
        Value::ServerError(e) => {
            out.push_str("(error) ");
            out.push_str(e.code());
            if let Some(d) = e.details() {
                out.push(' ');
                out.push_str(d);
            }
        }
        Value::Array(items) | Value::Set(items) | Value::Push { data: items, .. } => {
            write_items(out, items.iter().collect(), indent)
        }
        Value::Map(pairs) => {
            let flat: Vec<&Value> = pairs.iter().flat_map(|(k, v)| [k, v]).collect();
            write_items(out, flat, indent)
        }
        Value::Attribute { data, .. } => write_value(out, data, indent),
        other => out.push_str(&format!("{other:?}")),
    }
}

fn write_items(out: &mut String, items: Vec<&Value>, indent: usize) {
    if items.is_empty() {
        out.push_str("(empty array)");
        return;
    }
    let width = items.len().to_string().len();
    for (i, item) in items.iter().enumerate() {
        if i > 0 {
            out.push('\n');
            out.push_str(&" ".repeat(indent));
        }
        let label = format!("{:>width$}) ", i + 1);
        out.push_str(&label);
        write_value(out, item, indent + label.len());
    }
}

/// `"text"` with `redis-cli`'s escapes for quotes, backslashes and bytes that are not printable.
fn quote(bytes: &[u8]) -> String {
    let mut out = String::from("\"");
    match std::str::from_utf8(bytes) {
        Ok(text) => {
            for c in text.chars() {
                match c {
                    '"' => out.push_str("\\\""),
                    '\\' => out.push_str("\\\\"),
                    '\n' => out.push_str("\\n"),
                    '\r' => out.push_str("\\r"),
                    '\t' => out.push_str("\\t"),
                    c if c.is_control() => out.push_str(&format!("\\x{:02x}", c as u32)),
                    c => out.push(c),
                }
            }
        }
        Err(_) => {
            for &b in bytes {
                match b {
                    b'"' => out.push_str("\\\""),
                    b'\\' => out.push_str("\\\\"),
                    0x20..=0x7e => out.push(b as char),
                    _ => out.push_str(&format!("\\x{b:02x}")),
                }
            }
        }
    }
    out.push('"');
    out
}

/// A reply as a learner may write it down: its items, flattened, without `redis-cli`'s decorations.
pub fn words(value: &Value) -> Vec<String> {
    let mut out = Vec::new();
    fn walk(value: &Value, out: &mut Vec<String>) {
        match value {
            Value::Nil => out.push("nil".into()),
            Value::Int(n) => out.push(n.to_string()),
            Value::Double(d) => out.push(d.to_string()),
            Value::Boolean(b) => out.push(if *b { "1".into() } else { "0".into() }),
            Value::BulkString(b) => out.push(String::from_utf8_lossy(b).into_owned()),
            Value::SimpleString(s) => out.push(s.clone()),
            Value::Okay => out.push("OK".into()),
            Value::Array(items) | Value::Set(items) => items.iter().for_each(|v| walk(v, out)),
            Value::Map(pairs) => pairs.iter().for_each(|(k, v)| {
                walk(k, out);
                walk(v, out);
            }),
            Value::ServerError(e) => {
                out.push("(error)".into());
                out.push(e.code().to_string());
            }
            other => out.push(format!("{other:?}")),
        }
    }
    walk(value, &mut out);
    out
}

/// Does a learner's prediction say the same as this reply? `-2`, `(integer) -2`; `abc`, `"abc"`;
/// `nil`, `(nil)`; `OK`; an array as its items in order (`a b`, or `1) "a" 2) "b"`); an error as
/// `(error)` or its code (`WRONGTYPE`). Case does not matter.
pub fn predicted(prediction: &str, value: &Value) -> bool {
    let Ok(args) = split(prediction) else { return false };
    let said: Vec<String> = args
        .iter()
        .map(|a| String::from_utf8_lossy(a).to_string())
        .filter(|w| {
            let index = w.strip_suffix(')').is_some_and(|n| !n.is_empty() && n.bytes().all(|c| c.is_ascii_digit()));
            !index && !["(integer)", "(empty", "array)", "(double)"].contains(&w.to_ascii_lowercase().as_str())
        })
        .map(|w| if w.eq_ignore_ascii_case("(nil)") { "nil".to_string() } else { w })
        .collect();
    let mut want = words(value);
    if let Value::ServerError(_) = value {
        // `(error)` alone, or the code with or without `(error)`.
        let code = want[1].clone();
        return said.iter().any(|w| w.eq_ignore_ascii_case("(error)") || w.eq_ignore_ascii_case(&code));
    }
    if want.len() != said.len() {
        return false;
    }
    want.iter_mut().zip(&said).all(|(w, s)| w.eq_ignore_ascii_case(s))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_like_redis_cli() {
        let args = split(r#"SET k "a b\n" 'c\'d' x"#).unwrap();
        assert_eq!(args, vec![b"SET".to_vec(), b"k".to_vec(), b"a b\n".to_vec(), b"c'd".to_vec(), b"x".to_vec()]);
        assert!(split(r#"SET k "open"#).is_err());
        assert!(split("   ").unwrap().is_empty());
    }

    #[test]
    fn predictions_match_replies_however_they_are_written() {
        assert!(predicted("-2", &Value::Int(-2)));
        assert!(predicted("(integer) -2", &Value::Int(-2)));
        assert!(!predicted("2", &Value::Int(-2)));
        assert!(predicted("nil", &Value::Nil) && predicted("(nil)", &Value::Nil));
        assert!(predicted("ok", &Value::Okay));
        assert!(predicted(r#""a b""#, &Value::BulkString(b"a b".to_vec())));
        let array = Value::Array(vec![Value::BulkString(b"a".to_vec()), Value::BulkString(b"b".to_vec())]);
        assert!(predicted("a b", &array) && predicted(r#"1) "a" 2) "b""#, &array));
        assert!(!predicted("b a", &array));
        assert!(predicted("(empty array)", &Value::Array(vec![])));
    }

    #[test]
    fn text_replies_of_info_and_client_list_print_as_lines_like_redis_cli() {
        let args = |line: &str| split(line).unwrap();
        for raw in ["INFO", "info keyspace", "CLIENT LIST", "client info", "CLUSTER NODES", "LOLWUT", "MEMORY DOCTOR"] {
            assert!(prints_raw(&args(raw)), "{raw}");
        }
        for quoted in ["GET info", "CLIENT GETNAME", "ECHO x", "CLUSTER NODES x"] {
            assert!(!prints_raw(&args(quoted)), "{quoted}");
        }
        let info = Value::BulkString(b"# Keyspace\r\ndb0:keys=2,expires=0,avg_ttl=0\r\n".to_vec());
        assert_eq!(format_raw(&info), "# Keyspace\ndb0:keys=2,expires=0,avg_ttl=0");
        // The same text from any other command stays one quoted string, as redis-cli prints it.
        assert_eq!(format(&info), r##""# Keyspace\r\ndb0:keys=2,expires=0,avg_ttl=0\r\n""##);
        assert_eq!(format_raw(&Value::Int(3)), "(integer) 3");
    }

    #[test]
    fn formats_nested_arrays_nil_and_integers() {
        let v = Value::Array(vec![
            Value::BulkString(b"a".to_vec()),
            Value::Array(vec![Value::Int(1), Value::Nil]),
            Value::Array(vec![]),
        ]);
        assert_eq!(format(&v), "1) \"a\"\n2) 1) (integer) 1\n   2) (nil)\n3) (empty array)");
        assert_eq!(format(&Value::Okay), "OK");
        assert_eq!(format(&Value::BulkString(b"say \"hi\"".to_vec())), r#""say \"hi\"""#);
    }
}
