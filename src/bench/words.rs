//! The words of `bench --scenario` output: messages `bench.*` in `lessons/ui.toml` (English and
//! Chinese, named `{placeholders}` filled with typed facts by the lesson files' formatter), so that no sentence is
//! built in Rust. A missing message shows its key, which the unit test below rules out.

use crate::i18n::Lang;
use crate::measure::Claim;
use crate::render::message::fill;
use crate::text::Facts;

use super::ScenarioName;

/// The template for `key` in `lang`: the message `bench.<key>` of `lessons/ui.toml` (so
/// `--lessons-dir DIR/ui.toml` rewords it), English when that language lacks it.
fn template(lang: Lang, key: &str) -> Option<&'static str> {
    crate::words::template(lang, &format!("bench.{key}"))
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
