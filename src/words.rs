//! The tool's own words (headings, prompts, summaries, hints): `lessons/ui.toml`, one table of
//! messages per language, filled by the same named-placeholder formatter as the lesson files
//! ([`crate::render::message`]). The lessons' words live in the lesson files; these are the ones
//! every lesson shares.
//!
//! Embedded in the binary; `--lessons-dir DIR` reads `DIR/ui.toml` instead when there is one, so an
//! instructor can reword the interface, or add a language (`[fr]`), without recompiling. A message
//! a language lacks is shown in English; `redis-learn check` lists the gaps.
//!
//! The catalogue is installed once per process, by [`crate::run`] (see [`install`]), because the
//! printers and prompts that use it are deep in the call tree; until then (unit tests) the built-in
//! file is used.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::OnceLock;

use serde::Deserialize;

use crate::error::UserError;
use crate::i18n::Lang;
use crate::text::Text;

/// The file name, in `lessons/` and in a `--lessons-dir`.
pub const FILE_NAME: &str = "ui.toml";
const EMBEDDED: &str = include_str!("../lessons/ui.toml");

/// `ui.toml`: `format_version`, then a table of messages per language code (`[en]`, `[zh]`, …).
#[derive(Debug, Clone, Deserialize)]
pub struct Words {
    pub format_version: u32,
    #[serde(flatten)]
    pub languages: BTreeMap<String, BTreeMap<String, String>>,
    /// A third language (`--lang fr`) tried before English.
    #[serde(skip)]
    extra: Option<String>,
}

static INSTALLED: OnceLock<Words> = OnceLock::new();

impl Words {
    /// The built-in words.
    pub fn embedded() -> Words {
        Words::parse(FILE_NAME, EMBEDDED).expect("the built-in lessons/ui.toml parses (a unit test checks it)")
    }

    /// The built-in words, or `DIR/ui.toml` when a lessons directory has one.
    /// Errors: the file cannot be read or is not a valid words file ([`UserError::BadLessonFile`]).
    pub fn load(dir: Option<&Path>) -> Result<Words, UserError> {
        match dir.map(|d| d.join(FILE_NAME)).filter(|p| p.exists()) {
            Some(path) => {
                let name = path.display().to_string();
                let text = std::fs::read_to_string(&path)
                    .map_err(|e| UserError::BadLessonFile { path: name.clone(), reason: e.to_string() })?;
                Words::parse(&name, &text)
            }
            None => Ok(Words::embedded()),
        }
    }

    fn parse(name: &str, text: &str) -> Result<Words, UserError> {
        let bad = |reason: String| UserError::BadLessonFile { path: name.to_string(), reason };
        let words: Words = toml::from_str(text).map_err(|e| bad(e.to_string().trim_end().replace('\n', " ")))?;
        if words.format_version != 1 {
            return Err(bad(format!("format_version {} (this redis-learn reads 1)", words.format_version)));
        }
        if !words.languages.contains_key("en") {
            return Err(bad("no [en] table: English is the fallback for every other language".to_string()));
        }
        Ok(words)
    }

    /// The template of `id` in `lang` (the third language first when one was asked for, then
    /// English); None when even English lacks it.
    pub fn template(&self, lang: Lang, id: &str) -> Option<&str> {
        let in_code = |code: &str| self.languages.get(code).and_then(|table| table.get(id)).map(String::as_str);
        let first = match (lang, &self.extra) {
            (Lang::En, Some(code)) => in_code(code),
            _ => None,
        };
        first.or_else(|| in_code(lang.code())).or_else(|| in_code("en"))
    }

    /// What is wrong with the file, one line each: a message another language has that English
    /// lacks, or whose placeholders differ from English's.
    pub fn problems(&self) -> Vec<String> {
        let en = &self.languages["en"];
        let mut problems = Vec::new();
        for (code, table) in &self.languages {
            for (id, template) in table {
                let Ok(names) = crate::render::message::placeholders(template) else {
                    problems.push(format!("[{code}] {id}: a brace is not closed or not doubled"));
                    continue;
                };
                match en.get(id).map(|t| crate::render::message::placeholders(t)) {
                    None => problems.push(format!("[{code}] {id}: English has no such message")),
                    Some(Ok(en_names)) if en_names != names => problems
                        .push(format!("[{code}] {id}: placeholders {names:?} differ from English's {en_names:?}")),
                    _ => {}
                }
            }
        }
        problems
    }

    /// Messages English has and `code` lacks (shown in English).
    pub fn gaps(&self, code: &str) -> Vec<&str> {
        let other = self.languages.get(code);
        self.languages["en"]
            .keys()
            .filter(|id| other.is_none_or(|t| !t.contains_key(*id)))
            .map(String::as_str)
            .collect()
    }
}

/// Make `words` the catalogue for this process, with `extra` (a third language's code) tried before
/// English. The first call wins; later calls (tests that run several commands in one process) keep it.
pub fn install(mut words: Words, extra: Option<&str>) {
    words.extra = extra.map(str::to_string);
    let _ = INSTALLED.set(words);
}

fn installed() -> &'static Words {
    INSTALLED.get_or_init(Words::embedded)
}

/// The template of the interface's message `id` in `lang` (English where it has none), for code that
/// fills it with facts itself.
pub fn template(lang: Lang, id: &str) -> Option<&'static str> {
    installed().template(lang, id)
}

/// The interface's message `id`, to be filled with facts and said later (an error's words, say).
pub fn msg(id: &str) -> Text {
    Text::msg(id)
}

impl Lang {
    /// The interface's message `id` in this language (English where it has none).
    pub fn word(self, id: &str) -> String {
        self.say(Text::msg(id))
    }

    /// The interface's message, filled with the text's facts. A message missing even in English,
    /// or a placeholder without a fact, shows as `[id]` (a unit test keeps every id the code uses in
    /// the file).
    pub fn say(self, text: Text) -> String {
        match text {
            Text::Plain(s) => s,
            Text::Message { key, facts } => installed()
                .template(self, &key)
                .and_then(|template| crate::render::message::fill(template, &facts).ok())
                .unwrap_or_else(|| format!("[{key}]")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_built_in_words_have_no_problems_and_chinese_has_every_message() {
        let words = Words::embedded();
        assert_eq!(words.problems(), Vec::<String>::new());
        assert_eq!(words.gaps("zh"), Vec::<&str>::new());
    }

    /// Every `word("…")` and `say(Text::msg("…")` in the code names a message of the file.
    #[test]
    fn every_id_the_code_uses_is_in_the_file() {
        let words = Words::embedded();
        let mut missing = Vec::new();
        let mut seen = 0;
        let mut stack = vec![std::path::PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/src"))];
        while let Some(dir) = stack.pop() {
            for entry in std::fs::read_dir(&dir).unwrap() {
                let path = entry.unwrap().path();
                if path.is_dir() {
                    stack.push(path);
                    continue;
                }
                let source = std::fs::read_to_string(&path).unwrap();
                for pattern in [".word(\"", ".say(Text::msg(\"", "words::msg(\""] {
                    for (at, _) in source.match_indices(pattern) {
                        let rest = &source[at + pattern.len()..];
                        let id = &rest[..rest.find('"').unwrap()];
                        seen += 1;
                        if words.template(Lang::En, id).is_none() {
                            missing.push(format!("{}: {id}", path.display()));
                        }
                    }
                }
            }
        }
        assert!(seen > 20, "found only {seen} uses: has the calling convention changed?");
        assert_eq!(missing, Vec::<String>::new());
    }

    #[test]
    fn a_third_language_falls_back_to_english_message_by_message() {
        let mut words = Words::parse(
            "ui.toml",
            "format_version = 1\n[en]\n\"a\" = \"one {n}\"\n\"b\" = \"two\"\n[fr]\n\"a\" = \"un {n}\"\n",
        )
        .unwrap();
        words.extra = Some("fr".to_string());
        assert_eq!(words.template(Lang::En, "a"), Some("un {n}"));
        assert_eq!(words.template(Lang::En, "b"), Some("two"));
        assert_eq!(words.template(Lang::Zh, "a"), Some("one {n}"));
        assert_eq!(words.gaps("fr"), vec!["b"]);
    }

    #[test]
    fn placeholders_that_differ_from_english_are_a_problem() {
        let words =
            Words::parse("ui.toml", "format_version = 1\n[en]\n\"a\" = \"{n} keys\"\n[zh]\n\"a\" = \"{m} 个键\"\n")
                .unwrap();
        assert_eq!(words.problems().len(), 1, "{:?}", words.problems());
    }
}
