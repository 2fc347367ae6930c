//! The serde model of a lesson file. Unknown fields are errors, so a typo in a lesson file is caught
//! by `redis-learn check` and by the tests, not silently ignored.

use std::collections::BTreeMap;

use serde::Deserialize;

use crate::i18n::Lang;

/// The lesson-file format this build reads.
pub const FORMAT_VERSION: u32 = 1;

/// One lesson: what it teaches (per language), which demos prove it, and its quiz.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Lesson {
    pub format_version: u32,
    /// What learners type: `redis-learn lesson 2`.
    pub number: u32,
    /// Also accepted: `redis-learn lesson cache-aside`.
    pub slug: String,
    /// Where in the study notes this comes from, e.g. `Q2 · model/redismodel/token.go`: the line
    /// shown under the title, unless the language's text has a `source` of its own.
    pub source: String,
    /// Demo names, run in this order; each must exist in the demo registry.
    pub demos: Vec<String>,
    /// The lesson's words, keyed by language code (`en`, `zh`, or any other such as `fr`, `pt-br`);
    /// English is required and complete, other languages may be partial: what they lack is shown
    /// in English (see [`Lesson::fill_from_english`]).
    pub text: BTreeMap<String, LessonText>,
    #[serde(default)]
    pub quiz: Vec<QuizItem>,
    /// Hands-on practice tasks (`[[task]]`), checked on the server's state: `redis-learn practice N`.
    #[serde(default, rename = "task")]
    pub tasks: Vec<crate::practice::Task>,
}

/// A lesson's words in one language. Every field may be left out of a translation (`check` warns);
/// English must have them all.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LessonText {
    pub title: String,
    /// One line for `redis-learn list`.
    pub summary: String,
    /// Where in the study notes the lesson comes from, in this language; empty: the lesson's
    /// top-level `source`.
    pub source: String,
    /// Shown before the demos. Paragraphs are separated by blank lines; `- ` starts a bullet.
    pub intro: String,
    /// Shown before each demo, keyed by demo name.
    pub demo_intros: BTreeMap<String, String>,
    /// Shown after the demos: what to take away.
    pub outro: String,
    /// What the demos say, keyed `<demo>.<id>` (a title, a claim, a note, a measurement label, a
    /// table heading), with `{name}` placeholders that the demo's facts fill; see lessons/README.md.
    #[serde(default)]
    pub messages: BTreeMap<String, String>,
}

/// One quiz question. The right answer is an index into the options, the same in every language.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct QuizItem {
    /// Index (from 0) of the one right option.
    pub answer: usize,
    /// Keyed by language code, as [`Lesson::text`]; a language a question lacks is shown in English.
    pub text: BTreeMap<String, QuestionText>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct QuestionText {
    pub question: String,
    pub options: Vec<String>,
    /// Why the right option is right, and why a tempting wrong one is wrong.
    pub explanation: String,
}

/// In quiz text, `{demo:NAME}` stands for the title of the lesson's demo NAME, quoted, in the
/// question's language: a learner knows demos by the titles they saw, not by their internal names.
pub const DEMO_REF: &str = "{demo:";

impl Lesson {
    /// Parse a lesson file. The error is the TOML parser's own report: several lines, with the line
    /// and column and a caret under the problem.
    pub fn parse(source: &str) -> Result<Lesson, String> {
        let lesson: Lesson = toml::from_str(source).map_err(|e| e.to_string().trim_end().to_string())?;
        Ok(lesson.with_demo_titles())
    }

    /// Replace every `{demo:NAME}` in the quiz with that demo's title (see [`DEMO_REF`]), in the
    /// question's language, else in English; a name with no title is left as written, for
    /// validation to report.
    fn with_demo_titles(mut self) -> Lesson {
        let mut titles = BTreeMap::new();
        for code in self.text.keys() {
            for demo in &self.demos {
                let key = format!("{demo}.title");
                let title = self.text.get(code).and_then(|t| t.messages.get(&key));
                if let Some(title) = title.or_else(|| self.text.get(EN).and_then(|t| t.messages.get(&key))) {
                    titles.insert((code.clone(), format!("{DEMO_REF}{demo}}}")), format!("“{title}”"));
                }
            }
        }
        for item in &mut self.quiz {
            for (code, text) in &mut item.text {
                let fields = [&mut text.question, &mut text.explanation].into_iter().chain(text.options.iter_mut());
                for field in fields {
                    if field.contains(DEMO_REF) {
                        for ((_, reference), title) in titles.iter().filter(|((c, _), _)| c == code) {
                            *field = field.replace(reference.as_str(), title);
                        }
                    }
                }
            }
        }
        self
    }

    /// The text in `lang`, or English if this lesson has no such translation.
    pub fn text(&self, lang: Lang) -> &LessonText {
        self.text_in(lang.code())
    }

    /// Where in the study notes this lesson comes from, in `lang` when its text says, else the
    /// top-level `source`.
    pub fn source_in(&self, lang: Lang) -> &str {
        let own = &self.text(lang).source;
        if own.trim().is_empty() { &self.source } else { own }
    }

    /// The text in the language `code`, or English.
    pub fn text_in(&self, code: &str) -> &LessonText {
        self.text.get(code).or_else(|| self.text.get(EN)).expect("validated: every lesson has English text")
    }

    /// Fill what each translation lacks (a title, an intro, a demo's intro) from English, so that a
    /// partial translation shows English where it has no words of its own. Messages and quiz
    /// questions fall back when they are looked up. Run after validation (which warns about gaps).
    pub fn fill_from_english(&mut self) {
        let Some(en) = self.text.get(EN).cloned() else { return };
        for (_, text) in self.text.iter_mut().filter(|(code, _)| code.as_str() != EN) {
            text.fill_from(&en);
        }
    }

    /// Show the language `code` (a third language such as `fr`, which the code's own strings do
    /// not have) in English's place: each of its words replaces the English one, and English stays
    /// where it has none. Returns whether this lesson has any text in `code`.
    pub fn show_in_place_of_english(&mut self, code: &str) -> bool {
        let Some(mut other) = self.text.get(code).cloned() else { return code == EN };
        if let Some(en) = self.text.get(EN) {
            other.fill_from(en);
            for (key, template) in &en.messages {
                other.messages.entry(key.clone()).or_insert_with(|| template.clone());
            }
        }
        self.text.insert(EN.to_string(), other);
        for item in &mut self.quiz {
            if let Some(q) = item.text.get(code).cloned() {
                item.text.insert(EN.to_string(), q);
            }
        }
        true
    }
}

impl LessonText {
    /// Take from `en` every field this text leaves empty, and every demo intro it lacks.
    fn fill_from(&mut self, en: &LessonText) {
        for (field, english) in [
            (&mut self.title, &en.title),
            (&mut self.summary, &en.summary),
            (&mut self.intro, &en.intro),
            (&mut self.outro, &en.outro),
        ] {
            if field.trim().is_empty() {
                field.clone_from(english);
            }
        }
        for (demo, intro) in &en.demo_intros {
            self.demo_intros.entry(demo.clone()).or_insert_with(|| intro.clone());
        }
    }
}

/// The language every lesson must have in full.
pub const EN: &str = "en";

impl Lesson {
    /// The template of `key` (`<demo>.<id>`) in `lang`, else in English.
    pub fn message(&self, lang: Lang, key: &str) -> Option<String> {
        let in_lang = self.text.get(lang.code()).and_then(|t| t.messages.get(key));
        in_lang.or_else(|| self.text.get(EN).and_then(|t| t.messages.get(key))).cloned()
    }
}

impl QuizItem {
    pub fn text(&self, lang: Lang) -> &QuestionText {
        self.text.get(lang.code()).or_else(|| self.text.get(EN)).expect("validated: every question has English text")
    }
}
