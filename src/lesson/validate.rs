//! Lesson-file checks beyond parsing: unique numbers and slugs, demos that exist, the same entries in
//! every language, and quizzes with exactly one right answer and an explanation per question.

use std::collections::{BTreeSet, HashMap};

use super::model::{EN, FORMAT_VERSION, Lesson};

/// Messages: keyed by one of the lesson's demos, well formed, and the same messages with the same
/// placeholders in every language as in English.
fn check_messages(lesson: &Lesson, demos: &BTreeSet<&str>) -> Vec<String> {
    use crate::render::message::placeholders;
    let mut problems = Vec::new();
    let Some(en) = lesson.text.get(EN) else { return problems };
    for (code, text) in &lesson.text {
        for (key, template) in &text.messages {
            let demo = key.split_once('.').map(|(d, _)| d);
            if !demo.is_some_and(|d| d == "lesson" || demos.contains(d)) {
                problems.push(format!(
                    "[text.{code}.messages] {key:?}: a key is <demo>.<id> (one of this lesson's demos) or lesson.<id>"
                ));
            }
            let names = match placeholders(template) {
                Ok(names) => names,
                Err(e) => {
                    problems.push(format!("[text.{code}.messages] {key:?}: {e}"));
                    continue;
                }
            };
            match en.messages.get(key).map(|t| placeholders(t)) {
                None => problems.push(format!("[text.{code}.messages] {key:?} has no English message")),
                Some(Ok(en_names)) if en_names != names => problems.push(format!(
                    "[text.{code}.messages] {key:?} uses {names:?}; the English message uses {en_names:?}"
                )),
                _ => {}
            }
        }
    }
    problems
}

/// What a translation lacks, which English fills in: one phrase per kind of gap (`"title"`,
/// `"3 demo intros"`, `"12 messages"`, `"2 quiz questions"`). Empty when it is complete.
pub fn gaps(lesson: &Lesson, code: &str) -> Vec<String> {
    let (Some(en), text) = (lesson.text.get(EN), lesson.text.get(code)) else { return Vec::new() };
    let mut gaps = Vec::new();
    let empty = super::model::LessonText::default();
    let text = text.unwrap_or(&empty);
    for (field, value) in
        [("title", &text.title), ("summary", &text.summary), ("intro", &text.intro), ("outro", &text.outro)]
    {
        if value.trim().is_empty() {
            gaps.push(field.to_string());
        }
    }
    let mut count = |n: usize, one: &str, other: &str| {
        if n > 0 {
            gaps.push(format!("{n} {}", if n == 1 { one } else { other }));
        }
    };
    count(en.demo_intros.keys().filter(|d| !text.demo_intros.contains_key(*d)).count(), "demo intro", "demo intros");
    count(en.messages.keys().filter(|k| !text.messages.contains_key(*k)).count(), "message", "messages");
    count(lesson.quiz.iter().filter(|q| !q.text.contains_key(code)).count(), "quiz question", "quiz questions");
    gaps
}

/// A language code: `en`, `zh`, `fr`, `pt-br`, `zh-tw` (lower-case letters, then `-` parts).
pub fn is_language_code(code: &str) -> bool {
    let mut parts = code.split('-');
    let primary = parts.next().unwrap_or_default();
    (2..=3).contains(&primary.len())
        && primary.chars().all(|c| c.is_ascii_lowercase())
        && parts.all(|p| (2..=8).contains(&p.len()) && p.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit()))
}

/// Words that point at an option by its place, which shuffling changes.
fn position_reference(explanation: &str) -> Option<&'static str> {
    const PHRASES: &[&str] = &[
        "first option",
        "second option",
        "third option",
        "fourth option",
        "last option",
        "option a",
        "option b",
        "option c",
        "option d",
        "第一个选项",
        "第二个选项",
        "第三个选项",
        "第四个选项",
        "最后一个选项",
        "选项 a",
        "选项 b",
        "选项 c",
        "选项 d",
    ];
    let lower = explanation.to_lowercase();
    PHRASES.iter().copied().find(|p| lower.contains(p))
}

/// Warnings that do not make a lesson invalid: a translation that lacks words (English is shown
/// there), and a quiz in which the right answer is the longest option (in English) in more than
/// half of the questions, so length gives the answer away.
pub fn warnings(lessons: &[(String, Lesson)]) -> Vec<(String, String)> {
    let mut warnings = Vec::new();
    for (path, lesson) in lessons {
        for code in lesson.text.keys().filter(|c| c.as_str() != EN) {
            let gaps = gaps(lesson, code);
            if !gaps.is_empty() {
                warnings
                    .push((path.clone(), format!("[text.{code}] lacks {}: English is shown there", gaps.join(", "))));
            }
        }
        let longest = lesson
            .quiz
            .iter()
            .filter(|item| {
                let Some(text) = item.text.get(EN) else { return false };
                let len = |o: &String| o.chars().count();
                let right = text.options.get(item.answer).map_or(0, len);
                text.options.iter().enumerate().all(|(i, o)| i == item.answer || len(o) < right)
            })
            .count();
        if longest * 2 > lesson.quiz.len() {
            warnings.push((
                path.clone(),
                format!(
                    "the right answer is the longest option in {longest} of {} quiz questions: length gives it away",
                    lesson.quiz.len()
                ),
            ));
        }
    }
    warnings
}

/// A quiz needs at least this many questions.
pub const MIN_QUESTIONS: usize = 5;

/// Every problem found, as (file, what is wrong). Empty means valid.
pub fn validate(lessons: &[(String, Lesson)], demo_names: &[&str]) -> Vec<(String, String)> {
    let mut problems = Vec::new();
    let mut numbers: HashMap<u32, &str> = HashMap::new();
    let mut slugs: HashMap<&str, &str> = HashMap::new();
    for (path, lesson) in lessons {
        let mut problem = |reason: String| problems.push((path.clone(), reason));
        if let Some(other) = numbers.insert(lesson.number, path) {
            problem(format!("lesson number {} is also used by {other}", lesson.number));
        }
        if let Some(other) = slugs.insert(&lesson.slug, path) {
            problem(format!("slug {:?} is also used by {other}", lesson.slug));
        }
        for reason in check_lesson(lesson, demo_names) {
            problem(reason);
        }
    }
    problems
}

fn check_lesson(lesson: &Lesson, demo_names: &[&str]) -> Vec<String> {
    let mut problems = Vec::new();
    if lesson.format_version != FORMAT_VERSION {
        problems.push(format!(
            "format_version {} is not supported (this build reads {FORMAT_VERSION})",
            lesson.format_version
        ));
    }
    if lesson.number == 0 {
        problems.push("number must be 1 or more".into());
    }
    if lesson.slug.is_empty() || !lesson.slug.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
    {
        problems.push(format!("slug {:?} must be lower-case kebab-case", lesson.slug));
    }
    if lesson.demos.is_empty() {
        problems.push("a lesson names at least one demo".into());
    }
    for demo in &lesson.demos {
        if !demo_names.contains(&demo.as_str()) {
            problems.push(format!("demo {demo:?} does not exist (known: {})", demo_names.join(", ")));
        }
    }
    let demos: BTreeSet<&str> = lesson.demos.iter().map(String::as_str).collect();
    if demos.len() != lesson.demos.len() {
        problems.push("a demo is named twice".into());
    }
    if !lesson.text.contains_key(EN) {
        problems.push("English text ([text.en]) is required".into());
    }
    for (code, text) in &lesson.text {
        if !is_language_code(code) {
            problems.push(format!("[text.{code}]: a language is a code such as en, zh, fr or pt-br"));
        }
        let intros: BTreeSet<&str> = text.demo_intros.keys().map(String::as_str).collect();
        if code == EN {
            // English is complete: every other language falls back to it.
            for (field, value) in
                [("title", &text.title), ("summary", &text.summary), ("intro", &text.intro), ("outro", &text.outro)]
            {
                if value.trim().is_empty() {
                    problems.push(format!("[text.{code}] {field} is empty"));
                }
            }
            if intros != demos {
                problems.push(format!(
                    "[text.{code}.demo_intros] must have exactly one entry per demo: has {:?}, demos are {:?}",
                    intros, demos
                ));
            }
        } else if let Some(extra) = intros.difference(&demos).next() {
            problems.push(format!("[text.{code}.demo_intros] {extra:?} is not one of this lesson's demos {demos:?}"));
        }
        let paragraphs_en = lesson.text.get(EN).map(|en| paragraphs(&en.intro));
        if let Some(n) = paragraphs_en
            && !text.intro.trim().is_empty()
            && paragraphs(&text.intro) != n
        {
            problems.push(format!("[text.{code}] intro has {} paragraphs, English has {n}", paragraphs(&text.intro)));
        }
    }
    problems.extend(check_messages(lesson, &demos));
    // Tasks need English and, when the lesson has it, Chinese (the two complete languages); a third
    // language may leave tasks out, and English is shown there.
    let languages: Vec<&str> = ["en", "zh"].into_iter().filter(|c| *c == EN || lesson.text.contains_key(*c)).collect();
    problems.extend(crate::practice::task::problems(&lesson.tasks, &languages));
    if lesson.quiz.len() < MIN_QUESTIONS {
        problems.push(format!("the quiz has {} questions; at least {MIN_QUESTIONS} are needed", lesson.quiz.len()));
    }
    for (i, item) in lesson.quiz.iter().enumerate() {
        let q = i + 1;
        if !item.text.contains_key(EN) {
            problems.push(format!("quiz question {q} has no English text ([quiz.text.en])"));
        }
        if let Some(code) = item.text.keys().find(|c| !lesson.text.contains_key(*c)) {
            problems.push(format!("quiz question {q} has text in {code:?}, but the lesson has no [text.{code}]"));
        }
        let option_counts: BTreeSet<usize> = item.text.values().map(|t| t.options.len()).collect();
        if option_counts.len() > 1 {
            problems.push(format!("quiz question {q} has a different number of options per language"));
        }
        for (code, text) in &item.text {
            let fields = [&text.question, &text.explanation].into_iter().chain(&text.options);
            for field in fields.filter(|f| f.contains(super::model::DEMO_REF)) {
                let start = field.find(super::model::DEMO_REF).unwrap_or_default();
                let reference: String = field[start..].chars().take_while(|&c| c != '}').chain(['}']).collect();
                problems.push(format!(
                    "quiz question {q} ({code}): {reference} is not a demo of this lesson with a title ({{demo:NAME}} takes a name from `demos`)"
                ));
            }
            if text.options.len() < 2 || text.options.len() > 6 {
                problems.push(format!("quiz question {q} ({code}) needs 2 to 6 options"));
            }
            if item.answer >= text.options.len() {
                problems.push(format!(
                    "quiz question {q} ({code}): answer {} is not an option index (0 to {})",
                    item.answer,
                    text.options.len().saturating_sub(1)
                ));
            }
            let distinct: BTreeSet<&str> = text.options.iter().map(|o| o.trim()).collect();
            if distinct.len() != text.options.len() {
                problems.push(format!("quiz question {q} ({code}) has two identical options, so two right answers"));
            }
            if text.question.trim().is_empty() || text.explanation.trim().is_empty() {
                problems.push(format!("quiz question {q} ({code}) needs a question and an explanation"));
            }
            if let Some(phrase) = position_reference(&text.explanation) {
                problems.push(format!(
                    "quiz question {q} ({code}): the explanation says {phrase:?}, but options are shuffled: name the option by what it says"
                ));
            }
            if text.options.iter().any(|o| o.trim().is_empty()) {
                problems.push(format!("quiz question {q} ({code}) has an empty option"));
            }
        }
    }
    problems
}

/// Paragraphs are separated by blank lines.
pub fn paragraphs(text: &str) -> usize {
    text.split("\n\n").filter(|p| !p.trim().is_empty()).count()
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = r#"
format_version = 1
number = 7
slug = "sample"
source = "Q2"
demos = ["alpha"]

[text.en]
title = "Sample"
summary = "A sample"
intro = "One.\n\nTwo."
outro = "Done."
demo_intros = { alpha = "Watch this." }
"#;

    fn question(answer: usize, options: &[&str]) -> String {
        let options: Vec<String> = options.iter().map(|o| format!("{o:?}")).collect();
        format!(
            "\n[[quiz]]\nanswer = {answer}\n[quiz.text.en]\nquestion = \"Q?\"\noptions = [{}]\nexplanation = \"Because.\"\n",
            options.join(", ")
        )
    }

    fn lesson(extra: &str) -> Lesson {
        let mut text = GOOD.to_string();
        for _ in 0..MIN_QUESTIONS {
            text.push_str(&question(1, &["a", "b", "c"]));
        }
        text.push_str(extra);
        Lesson::parse(&text).unwrap()
    }

    fn problems(lessons: Vec<Lesson>) -> Vec<String> {
        let named: Vec<(String, Lesson)> = lessons.into_iter().enumerate().map(|(i, l)| (format!("f{i}"), l)).collect();
        validate(&named, &["alpha", "beta"]).into_iter().map(|(_, p)| p).collect()
    }

    #[test]
    fn a_good_lesson_has_no_problems() {
        assert_eq!(problems(vec![lesson("")]), Vec::<String>::new());
    }

    #[test]
    fn answer_out_of_range_is_caught() {
        let p = problems(vec![lesson(&question(3, &["a", "b", "c"]))]);
        assert!(p.iter().any(|p| p.contains("answer 3 is not an option")), "{p:?}");
    }

    #[test]
    fn identical_options_mean_two_right_answers() {
        let p = problems(vec![lesson(&question(0, &["same", "same", "other"]))]);
        assert!(p.iter().any(|p| p.contains("two identical options")), "{p:?}");
    }

    #[test]
    fn unknown_demo_and_duplicate_numbers_are_caught() {
        let mut a = lesson("");
        a.demos = vec!["nope".into()];
        let p = problems(vec![a, lesson("")]);
        assert!(p.iter().any(|p| p.contains("demo \"nope\" does not exist")), "{p:?}");
        assert!(p.iter().any(|p| p.contains("lesson number 7 is also used")), "{p:?}");
        assert!(p.iter().any(|p| p.contains("slug \"sample\" is also used")), "{p:?}");
    }

    #[test]
    fn a_missing_translation_is_caught() {
        let zh = "\n[text.zh]\ntitle = \"样例\"\nsummary = \"样例\"\nintro = \"一。\"\noutro = \"完。\"\ndemo_intros = { alpha = \"看。\" }\n";
        let text = GOOD.replace("[text.en]", &format!("{zh}\n[text.en]"));
        let lesson = Lesson::parse(&text).unwrap();
        let p = problems(vec![lesson]);
        assert!(p.iter().any(|p| p.contains("intro has 1 paragraphs, English has 2")), "{p:?}");
    }

    #[test]
    fn unknown_fields_are_parse_errors() {
        let err = Lesson::parse(&format!("{GOOD}\ncolour = \"red\"\n")).unwrap_err();
        assert!(err.contains("colour"), "{err}");
    }

    #[test]
    fn too_few_questions_is_caught() {
        let lesson = Lesson::parse(GOOD).unwrap();
        let p = problems(vec![lesson]);
        assert!(p.iter().any(|p| p.contains("at least 5")), "{p:?}");
    }
}
