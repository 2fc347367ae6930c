//! `redis-learn next` (or `continue`): open the first lesson not done yet (its claims held and its
//! quiz passed); once every lesson is done, the first lesson whose practice tasks are not all passed
//! (at a terminal, its prompt; otherwise the command that opens it).

use std::io::Write;

use anyhow::Result;

use crate::Outcome;
use crate::interrupt::Interrupt;
use crate::lesson::Catalogue;
use crate::settings::Settings;
use crate::text::Text;

pub fn run(settings: &Settings, catalogue: &Catalogue, interrupt: &Interrupt, out: &mut impl Write) -> Result<Outcome> {
    let progress = super::load_progress(settings);
    let next =
        catalogue.lessons().iter().find(|l| !progress.lesson(l.number).is_some_and(|p| p.done(!l.quiz.is_empty())));
    let practice_left = catalogue.lessons().iter().find(|l| super::list::practised(&progress, l) < l.tasks.len());
    match (next, practice_left) {
        (Some(lesson), _) => super::lesson::run(settings, &lesson.number.to_string(), catalogue, interrupt, out),
        (None, Some(lesson)) => {
            let (n, passed, total) = (lesson.number, super::list::practised(&progress, lesson), lesson.tasks.len());
            let line = settings.lang.say(
                Text::msg("next.practice-left")
                    .fact("number", n)
                    .fact("passed", passed)
                    .fact("total", total)
                    .fact("flags", settings.repeat_flags()),
            );
            writeln!(out, "{line}")?;
            if settings.interactive && !settings.json {
                return super::practice::practise(settings, lesson, None, out);
            }
            Ok(Outcome::Success)
        }
        (None, None) => {
            writeln!(out, "{}", settings.lang.word("list.all-done"))?;
            Ok(Outcome::Success)
        }
    }
}
