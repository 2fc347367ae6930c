//! `redis-learn list`: every lesson with its number, slug, title and summary.

use std::io::Write;

use anyhow::Result;

use crate::Outcome;
use crate::lesson::Catalogue;
use crate::render::json::{self, ListEntry};
use crate::render::{Styles, text::Printer};
use crate::settings::Settings;
use crate::text::Text;

pub fn run(settings: &Settings, catalogue: &Catalogue, out: &mut impl Write) -> Result<Outcome> {
    let progress = super::load_progress(settings);
    if settings.json {
        let entries: Vec<ListEntry> = catalogue
            .lessons()
            .iter()
            .map(|l| {
                let text = l.text(settings.lang);
                ListEntry {
                    number: l.number,
                    slug: l.slug.clone(),
                    title: text.title.clone(),
                    summary: text.summary.clone(),
                    source: l.source_in(settings.lang).to_string(),
                    demos: l.demos.clone(),
                    questions: l.quiz.len(),
                    completed: progress.lesson(l.number).is_some_and(|p| p.done(!l.quiz.is_empty())),
                    claims_held: progress.lesson(l.number).is_some_and(|p| p.completed),
                    quiz_passed: progress.lesson(l.number).is_some_and(|p| p.quiz_passed()),
                    best_quiz: progress.lesson(l.number).and_then(|p| p.best_quiz),
                    quiz_answered: progress
                        .lesson(l.number)
                        .and_then(|p| p.quiz_partial.as_ref())
                        .map(|partial| partial.answers.len())
                        .filter(|&n| n < l.quiz.len()),
                    tasks: l.tasks.len(),
                    tasks_passed: practised(&progress, l),
                }
            })
            .collect();
        json::print(out, &entries)?;
        return Ok(Outcome::Success);
    }
    let mut p = Printer::new(out, Styles::new(settings.color), settings.lang, settings.width);
    let lang = settings.lang;
    p.rule(&lang.word("list.heading"))?;
    let done = catalogue
        .lessons()
        .iter()
        .filter(|l| progress.lesson(l.number).is_some_and(|p| p.done(!l.quiz.is_empty())))
        .count();
    let bar = crate::progress::bar(done, catalogue.lessons().len(), 20);
    p.line(&lang.say(Text::msg("list.progress").fact("bar", bar)))?;
    p.blank()?;
    for lesson in catalogue.lessons() {
        let text = lesson.text(lang);
        let number = format!("{:>2}", lesson.number);
        let status = match progress.lesson(lesson.number) {
            None => p.styles.dim(&lang.word("list.not-started")).to_string(),
            Some(state) => {
                let mut parts = vec![if state.done(!lesson.quiz.is_empty()) {
                    p.styles.pass(&lang.word("list.done")).to_string()
                } else {
                    lang.word("list.started")
                }];
                match state.best_quiz {
                    Some(best) if best.passes() => {
                        parts.push(
                            lang.say(Text::msg("list.quiz-passed").fact("score", best.score).fact("total", best.total)),
                        );
                    }
                    Some(best) => parts.push(
                        lang.say(Text::msg("list.quiz-not-passed").fact("score", best.score).fact("total", best.total)),
                    ),
                    None if state.completed && !lesson.quiz.is_empty() && state.quiz_partial.is_none() => {
                        parts.push(lang.word("list.quiz-not-taken"));
                    }
                    None => {}
                }
                // A quiz stopped with Ctrl-C: `quiz N` goes on from where it stopped.
                if let Some(partial) = &state.quiz_partial
                    && partial.answers.len() < lesson.quiz.len()
                {
                    parts.push(
                        lang.say(
                            Text::msg("list.quiz-in-progress")
                                .fact("answered", partial.answers.len())
                                .fact("total", lesson.quiz.len()),
                        ),
                    );
                }
                let passed = practised(&progress, lesson);
                if passed > 0 {
                    let hints: usize = state.practice.values().sum();
                    parts.push(
                        lang.say(
                            Text::msg("list.practice")
                                .fact("passed", passed)
                                .fact("tasks", lesson.tasks.len())
                                .fact("hints", hints),
                        ),
                    );
                }
                parts.join(" · ")
            }
        };
        let line = format!(
            "{}  {}  {}  {status}",
            p.styles.heading(&number),
            p.styles.heading(&text.title),
            p.styles.dim(&format!("({})", lesson.slug))
        );
        p.wrapped(&line, "", "      ")?;
        p.wrapped(&text.summary, "    ", "    ")?;
    }
    p.blank()?;
    // The lesson `redis-learn next` would open: the first one not completed.
    let next =
        catalogue.lessons().iter().find(|l| !progress.lesson(l.number).is_some_and(|p| p.done(!l.quiz.is_empty())));
    let started = catalogue.lessons().iter().any(|l| progress.lesson(l.number).is_some());
    let flags = settings.repeat_flags();
    let hint = lang.say(match (next, started) {
        (Some(l), false) => Text::msg("list.start").fact("number", l.number).fact("flags", flags.as_str()),
        (Some(l), true) => Text::msg("list.next")
            .fact("number", l.number)
            .fact("flags", flags.as_str())
            .fact("title", &l.text(lang).title),
        (None, _) => Text::msg("list.all-done"),
    });
    p.wrapped_dim(&hint, "", "  ")?;
    Ok(Outcome::Success)
}

/// How many of the lesson's practice tasks were passed at least once.
pub(crate) fn practised(progress: &crate::progress::Progress, lesson: &crate::lesson::Lesson) -> usize {
    progress.lesson(lesson.number).map_or(0, |p| lesson.tasks.iter().filter(|t| p.practice.contains_key(&t.id)).count())
}
