//! `redis-learn list`: every lesson with its number, slug, title and summary.

use std::io::Write;

use anyhow::Result;

use crate::Outcome;
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
                    completed: progress.lesson(l.number).is_some_and(|p| p.completed),
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
    let done = catalogue.lessons().iter().filter(|l| progress.lesson(l.number).is_some_and(|p| p.completed)).count();
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
                let mut parts = vec![if state.completed {
                    p.styles.pass(lang.tr("✔ done", "✔ 已完成")).to_string()
                } else {
                    lang.tr("started", "已开始").to_string()
                }];
                if let Some(best) = state.best_quiz {
                    parts.push(format!("{} {}/{}", lang.tr("quiz", "测验"), best.score, best.total));
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
        p.line(&format!(
            "{}  {}  {}  {status}",
            p.styles.heading(&number),
            p.styles.heading(&text.title),
            p.styles.dim(&format!("({})", lesson.slug))
        ))?;
        p.line(&format!("    {}", text.summary))?;
    }
    p.blank()?;
    let hint = lang.tr(
        "Start with `redis-learn lesson 1` (or `redis-learn next`). Add --quick for a shorter run, --no-quiz to skip the quiz.",
        "从 `redis-learn lesson 1`（或 `redis-learn next`）开始。加 --quick 跑得更快，加 --no-quiz 跳过测验。",
    );
    p.line(&p.styles.dim(hint).to_string())?;
    Ok(Outcome::Success)
}

/// How many of the lesson's practice tasks were passed at least once.
fn practised(progress: &crate::progress::Progress, lesson: &crate::lesson::Lesson) -> usize {
    progress.lesson(lesson.number).map_or(0, |p| lesson.tasks.iter().filter(|t| p.practice.contains_key(&t.id)).count())
}
