//! The message formatter: a lesson file's template with named placeholders, filled with a demo's
//! facts. Deliberately small (no crate): the messages need values and an English plural, nothing
//! else, and a Fluent bundle per lesson would bring a runtime and a syntax for authors to learn.
//!
//! Syntax:
//! - `{name}`: the fact `name`, formatted by its kind (counts get separators, durations a unit);
//! - `{name|one|other}`: `one` when the fact is the number 1, else `other` (for English plurals:
//!   `{n} {n|key|keys}`); either side may be empty;
//! - `{{` and `}}`: literal braces.

use std::collections::BTreeSet;

use crate::text::{Fact, Facts};

/// Fill `template` with `facts`. Errors: a placeholder with no fact, or a brace left open.
pub fn fill(template: &str, facts: &Facts) -> Result<String, String> {
    let mut out = String::with_capacity(template.len() + 16);
    let mut rest = template;
    while let Some(i) = rest.find(['{', '}']) {
        out.push_str(&rest[..i]);
        let tail = &rest[i..];
        if let Some(after) = tail.strip_prefix("{{") {
            out.push('{');
            rest = after;
        } else if let Some(after) = tail.strip_prefix("}}") {
            out.push('}');
            rest = after;
        } else if tail.starts_with('}') {
            return Err("a '}' with no '{' (write '}}' for a brace)".to_string());
        } else {
            let end = tail.find('}').ok_or("a '{' that is never closed (write '{{' for a brace)")?;
            out.push_str(&placeholder(&tail[1..end], facts)?);
            rest = &tail[end + 1..];
        }
    }
    out.push_str(rest);
    Ok(out)
}

fn placeholder(inside: &str, facts: &Facts) -> Result<String, String> {
    let mut parts = inside.split('|');
    let name = parts.next().unwrap_or_default().trim();
    let fact = lookup(name, facts)?;
    match (parts.next(), parts.next()) {
        (None, _) => Ok(fact.format()),
        (Some(one), Some(other)) => Ok(if fact.is_one() { one } else { other }.to_string()),
        (Some(_), None) => Err(format!("{{{inside}}} needs two choices: {{{name}|one|other}}")),
    }
}

fn lookup<'a>(name: &str, facts: &'a Facts) -> Result<&'a Fact, String> {
    facts.iter().find(|(n, _)| n == name).map(|(_, f)| f).ok_or_else(|| {
        let known: Vec<&str> = facts.iter().map(|(n, _)| n.as_str()).collect();
        format!(
            "no fact {{{name}}} (the demo gives: {})",
            if known.is_empty() { "none".to_string() } else { known.join(", ") }
        )
    })
}

/// The placeholder names a template uses (for `check`: every language must use the same ones).
pub fn placeholders(template: &str) -> Result<BTreeSet<String>, String> {
    let mut names = BTreeSet::new();
    let mut rest = template;
    while let Some(i) = rest.find(['{', '}']) {
        let tail = &rest[i..];
        if let Some(after) = tail.strip_prefix("{{").or_else(|| tail.strip_prefix("}}")) {
            rest = after;
        } else if tail.starts_with('}') {
            return Err("a '}' with no '{' (write '}}' for a brace)".to_string());
        } else {
            let end = tail.find('}').ok_or("a '{' that is never closed (write '{{' for a brace)")?;
            let name = tail[1..end].split('|').next().unwrap_or_default().trim();
            if name.is_empty() {
                return Err("an empty placeholder {}".to_string());
            }
            names.insert(name.to_string());
            rest = &tail[end + 1..];
        }
    }
    Ok(names)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn facts() -> Facts {
        vec![
            ("n".to_string(), Fact::Count(1)),
            ("keys".to_string(), Fact::Count(2_500)),
            ("p50".to_string(), Fact::Duration(Duration::from_micros(41))),
        ]
    }

    #[test]
    fn placeholders_plurals_and_braces() {
        let text = fill("{keys} {keys|key|keys} in {p50}; {n} {n|time|times} {{literally}}", &facts()).unwrap();
        assert_eq!(text, "2,500 keys in 41.0 µs; 1 time {literally}");
    }

    #[test]
    fn a_missing_fact_names_what_the_demo_gives() {
        let err = fill("{ratio}", &facts()).unwrap_err();
        assert_eq!(err, "no fact {ratio} (the demo gives: n, keys, p50)");
        assert!(fill("{n", &facts()).is_err());
        assert!(fill("n}", &facts()).is_err());
        assert!(fill("{n|one}", &facts()).is_err());
    }

    #[test]
    fn placeholder_names_are_listed() {
        let names = placeholders("{a} and {b|x|y} but {{not}} {a}").unwrap();
        assert_eq!(names.into_iter().collect::<Vec<_>>(), ["a", "b"]);
        assert!(placeholders("{}").is_err());
    }
}
