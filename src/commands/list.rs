//! `redis-learn list`: every lesson with its number, slug, title and summary.

use std::io::Write;

use anyhow::Result;

use crate::Outcome;
use crate::lesson::Catalogue;
use crate::render::json::{self, ListEntry};
use crate::render::{Styles, text::Printer};
use crate::settings::Settings;

pub fn run(settings: &Settings, catalogue: &Catalogue, out: &mut impl Write) -> Result<Outcome> {
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
                }
            })
            .collect();
        json::print(out, &entries)?;
        return Ok(Outcome::Success);
    }
    let mut p = Printer::new(out, Styles::new(settings.color), settings.lang, settings.width);
    p.rule(settings.lang.tr("redis-learn · lessons", "redis-learn · 课程列表"))?;
    for lesson in catalogue.lessons() {
        let text = lesson.text(settings.lang);
        let number = format!("{:>2}", lesson.number);
        p.line(&format!(
            "{}  {}  {}",
            p.styles.heading(&number),
            p.styles.heading(&text.title),
            p.styles.dim(&format!("({})", lesson.slug))
        ))?;
        p.line(&format!("    {}", text.summary))?;
    }
    p.blank()?;
    p.line(
        &p.styles
            .dim(settings.lang.tr(
                "Start with `redis-learn lesson 1`. Add --quick for a shorter run, --no-quiz to skip the quiz.",
                "从 `redis-learn lesson 1` 开始。加 --quick 跑得更快，加 --no-quiz 跳过测验。",
            ))
            .to_string(),
    )?;
    Ok(Outcome::Success)
}
