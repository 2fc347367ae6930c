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
    /// Where in the study notes this comes from, e.g. `Q2 · model/redismodel/token.go`.
    pub source: String,
    /// Demo names, run in this order; each must exist in the demo registry.
    pub demos: Vec<String>,
    /// The lesson's words, one entry per language; English is required.
    pub text: BTreeMap<Lang, LessonText>,
    #[serde(default)]
    pub quiz: Vec<QuizItem>,
}

/// A lesson's words in one language.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LessonText {
    pub title: String,
    /// One line for `redis-learn list`.
    pub summary: String,
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
    pub text: BTreeMap<Lang, QuestionText>,
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
    pub fn parse(source: &str) -> Result<Lesson, String> {
        let lesson: Lesson = toml::from_str(source).map_err(|e| e.to_string().trim_end().replace('\n', " "))?;
        Ok(lesson.with_demo_titles())
    }

    /// Replace every `{demo:NAME}` in the quiz with that demo's title (see [`DEMO_REF`]); a name
    /// with no title is left as written, for validation to report.
    fn with_demo_titles(mut self) -> Lesson {
        let mut titles = BTreeMap::new();
        for lang in Lang::ALL {
            for demo in &self.demos {
                if let Some(title) = self.message(lang, &format!("{demo}.title")) {
                    titles.insert((lang, format!("{DEMO_REF}{demo}}}")), format!("“{title}”"));
                }
            }
        }
        for item in &mut self.quiz {
            for (lang, text) in &mut item.text {
                let fields = [&mut text.question, &mut text.explanation].into_iter().chain(text.options.iter_mut());
                for field in fields {
                    if field.contains(DEMO_REF) {
                        for ((_, reference), title) in titles.iter().filter(|((l, _), _)| l == lang) {
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
        self.text.get(&lang).or_else(|| self.text.get(&Lang::En)).expect("validated: every lesson has English text")
    }
}

impl Lesson {
    /// The template of `key` (`<demo>.<id>`) in `lang`, else in English.
    pub fn message(&self, lang: Lang, key: &str) -> Option<String> {
        let in_lang = self.text.get(&lang).and_then(|t| t.messages.get(key));
        in_lang.or_else(|| self.text.get(&Lang::En).and_then(|t| t.messages.get(key))).cloned()
    }
}

impl QuizItem {
    pub fn text(&self, lang: Lang) -> &QuestionText {
        self.text.get(&lang).or_else(|| self.text.get(&Lang::En)).expect("validated: every question has English text")
    }
}
