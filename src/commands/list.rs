//! `redis-learn list`: every lesson with its number, slug, title and summary.

use std::io::Write;

use anyhow::Result;

use crate::Outcome;
use crate::i18n::Lang;
use crate::lesson::Catalogue;
use crate::render::json::{self, ListEntry};
use crate::render::{Styles, text::Printer};
use crate::settings::Settings;

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
                    source: l.source.clone(),
                    demos: l.demos.clone(),
                    questions: l.quiz.len(),
                    completed: progress.lesson(l.number).is_some_and(|p| p.done(!l.quiz.is_empty())),
                    claims_held: progress.lesson(l.number).is_some_and(|p| p.completed),
                    quiz_passed: progress.lesson(l.number).is_some_and(|p| p.quiz_passed()),
                    best_quiz: progress.lesson(l.number).and_then(|p| p.best_quiz),
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
    p.rule(lang.tr("redis-learn · lessons", "redis-learn · 课程列表"))?;
    let done = catalogue
        .lessons()
        .iter()
        .filter(|l| progress.lesson(l.number).is_some_and(|p| p.done(!l.quiz.is_empty())))
        .count();
    p.line(&format!(
        "{} {}",
        lang.tr("Progress:", "进度："),
        crate::progress::bar(done, catalogue.lessons().len(), 20)
    ))?;
    p.blank()?;
    for lesson in catalogue.lessons() {
        let text = lesson.text(lang);
        let number = format!("{:>2}", lesson.number);
        let status = match progress.lesson(lesson.number) {
            None => p.styles.dim(lang.tr("not started", "未开始")).to_string(),
            Some(state) => {
                let mut parts = vec![if state.done(!lesson.quiz.is_empty()) {
                    p.styles.pass(lang.tr("✔ done", "✔ 已完成")).to_string()
                } else {
                    lang.tr("started", "已开始").to_string()
                }];
                match state.best_quiz {
                    Some(best) if best.passes() => {
                        parts.push(format!("{} {}/{}", lang.tr("quiz", "测验"), best.score, best.total));
                    }
                    Some(best) => parts.push(match lang {
                        crate::i18n::Lang::En => format!("quiz {}/{}, not yet passed", best.score, best.total),
                        crate::i18n::Lang::Zh => format!("测验 {}/{}，尚未通过", best.score, best.total),
                    }),
                    None if state.completed && !lesson.quiz.is_empty() => {
                        parts.push(lang.tr("quiz not taken yet", "还没做测验").to_string());
                    }
                    None => {}
                }
                let passed = practised(&progress, lesson);
                if passed > 0 {
                    let hints: usize = state.practice.values().sum();
                    parts.push(format!(
                        "{} {passed}/{} ({hints} {})",
                        lang.tr("practice", "练习"),
                        lesson.tasks.len(),
                        lang.tr("hints", "条提示")
                    ));
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
    let hint = match (next, started, lang) {
        (Some(l), false, Lang::En) => format!(
            "Start with `redis-learn lesson {}{flags}` (or `redis-learn next{flags}`). Add --quick for a shorter run, --no-quiz to skip the quiz.",
            l.number
        ),
        (Some(l), false, Lang::Zh) => {
            format!("从 `redis-learn lesson {}{flags}`（或 `redis-learn next{flags}`）开始。加 --quick 跑得更快，加 --no-quiz 跳过测验。", l.number)
        }
        (Some(l), true, Lang::En) => format!(
            "Next: `redis-learn lesson {}{flags}` ({}), or `redis-learn next{flags}`. Add --quick for a shorter run.",
            l.number,
            l.text(lang).title
        ),
        (Some(l), true, Lang::Zh) => {
            format!("下一课：`redis-learn lesson {}{flags}`（{}），或 `redis-learn next{flags}`。加 --quick 跑得更快。", l.number, l.text(lang).title)
        }
        (None, _, _) => lang
            .tr(
                "Every lesson is completed. Revisit one with `redis-learn lesson N`, or start over with `redis-learn reset --all`.",
                "所有课程都已完成。用 `redis-learn lesson N` 复习某一课，或用 `redis-learn reset --all` 从头开始。",
            )
            .to_string(),
    };
    p.wrapped_dim(&hint, "", "  ")?;
    Ok(Outcome::Success)
}

/// How many of the lesson's practice tasks were passed at least once.
pub(crate) fn practised(progress: &crate::progress::Progress, lesson: &crate::lesson::Lesson) -> usize {
    progress.lesson(lesson.number).map_or(0, |p| lesson.tasks.iter().filter(|t| p.practice.contains_key(&t.id)).count())
}
