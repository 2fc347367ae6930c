//! The words of `bench --scenario` output: messages in `words.toml` (English and Chinese, named
//! `{placeholders}` filled with typed facts by the lesson files' formatter), so that no sentence is
//! built in Rust. A missing message shows its key, which the unit test below rules out.

use std::collections::BTreeMap;
use std::sync::OnceLock;

use crate::i18n::Lang;
use crate::measure::Claim;
use crate::render::message::fill;
use crate::text::Facts;

use super::ScenarioName;

const WORDS: &str = include_str!("words.toml");

type Table = BTreeMap<String, BTreeMap<String, String>>;

fn table() -> &'static Table {
    static TABLE: OnceLock<Table> = OnceLock::new();
    TABLE.get_or_init(|| toml::from_str(WORDS).unwrap_or_default())
}

/// The template for `key` in `lang` (English when that language lacks it).
fn template(lang: Lang, key: &str) -> Option<&'static str> {
    let t = table();
    t.get(lang.code()).and_then(|m| m.get(key)).or_else(|| t.get("en").and_then(|m| m.get(key))).map(String::as_str)
}

/// The message `key` filled with `facts`; the key itself when it has no words (never a panic).
pub fn text(lang: Lang, key: &str, facts: &Facts) -> String {
    match template(lang, key) {
        Some(t) => fill(t, facts).unwrap_or_else(|e| format!("{key} ({e})")),
        None => key.to_string(),
    }
}

/// A message with no facts.
pub fn plain(lang: Lang, key: &str) -> String {
    text(lang, key, &Vec::new())
}

/// A series' label (`series.<id>`), or the id.
pub fn series(lang: Lang, id: &str) -> String {
    plain(lang, &format!("series.{id}"))
}

/// A scenario's title.
pub fn title(lang: Lang, name: ScenarioName) -> String {
    plain(lang, &format!("{}.title", name.id()))
}

/// A claim's sentence: `<scenario>.<message or id>` filled with its facts.
pub fn claim_text(lang: Lang, name: ScenarioName, claim: &Claim) -> String {
    let key = format!("{}.{}", name.id(), claim.message.as_deref().unwrap_or(&claim.id));
    text(lang, &key, &claim.facts)
}

/// A claim's headline: at most a few words, for slides (`<scenario>.<id>.short`).
pub fn claim_headline(lang: Lang, name: ScenarioName, claim: &Claim) -> String {
    let key = format!("{}.{}.short", name.id(), claim.message.as_deref().unwrap_or(&claim.id));
    text(lang, &key, &claim.facts)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::render::message::placeholders;

    #[test]
    fn words_parse_and_both_languages_have_the_same_keys_and_placeholders() {
        let t: Table = toml::from_str(WORDS).expect("words.toml parses");
        let en = &t["en"];
        let zh = &t["zh"];
        assert_eq!(en.keys().collect::<Vec<_>>(), zh.keys().collect::<Vec<_>>());
        for (key, e) in en {
            assert_eq!(placeholders(e).unwrap(), placeholders(&zh[key]).unwrap(), "{key}");
        }
    }

    #[test]
    fn every_scenario_has_a_title_and_every_series_a_label() {
        use clap::ValueEnum;
        for name in ScenarioName::value_variants() {
            assert!(template(Lang::En, &format!("{}.title", name.id())).is_some(), "{}", name.id());
        }
        for id in super::super::scenarios::SERIES {
            assert!(template(Lang::En, &format!("series.{id}")).is_some(), "series.{id}");
        }
    }
}
