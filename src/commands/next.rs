//! `redis-learn next` (or `continue`): open the first lesson not done yet (its claims held and its
//! quiz passed).

use std::io::Write;

use anyhow::Result;

use crate::Outcome;
use crate::interrupt::Interrupt;
use crate::lesson::Catalogue;
use crate::settings::Settings;

pub fn run(settings: &Settings, catalogue: &Catalogue, interrupt: &Interrupt, out: &mut impl Write) -> Result<Outcome> {
    let progress = super::load_progress(settings);
    let next =
        catalogue.lessons().iter().find(|l| !progress.lesson(l.number).is_some_and(|p| p.done(!l.quiz.is_empty())));
    match next {
        Some(lesson) => super::lesson::run(settings, &lesson.number.to_string(), catalogue, interrupt, out),
        None => {
            writeln!(
                out,
                "{}",
                settings.lang.tr(
                    "Every lesson is completed. Revisit one with `redis-learn lesson N`, or start over with `redis-learn reset --all`.",
                    "所有课程都已完成。用 `redis-learn lesson N` 复习某一课，或用 `redis-learn reset --all` 从头开始。",
                )
            )?;
            Ok(Outcome::Success)
        }
    }
}
