//! `redis-learn reset [N|--all]`: forget progress, after a confirmation at a terminal (`--yes`
//! without one).

use std::io::Write;

use anyhow::Result;

use crate::Outcome;
use crate::cli::ResetArgs;
use crate::error::UserError;
use crate::lesson::Catalogue;
use crate::settings::Settings;
use crate::text::Text;

pub fn run(settings: &Settings, args: &ResetArgs, catalogue: &Catalogue, out: &mut impl Write) -> Result<Outcome> {
    let lesson = match &args.lesson {
        Some(query) => Some(catalogue.find(query)?.number),
        None => None,
    };
    let lang = settings.lang;
    let mut progress = super::load_progress(settings);
    // Nothing to forget: say so, and ask nothing.
    if !progress.has_progress(lesson) {
        let nothing = match lesson {
            Some(n) => Text::msg("reset.nothing-in-lesson").fact("number", n),
            None => Text::msg("reset.nothing"),
        };
        writeln!(out, "{}", lang.say(nothing))?;
        return Ok(Outcome::Success);
    }
    let what = lang.say(match lesson {
        Some(n) => Text::msg("reset.lesson").fact("number", n),
        None => Text::msg("reset.all"),
    });
    if !args.yes {
        if !settings.interactive {
            return Err(UserError::NeedsConfirmation.into());
        }
        let prompt = lang.say(Text::msg("reset.confirm").fact("what", what.as_str()));
        let confirmed = dialoguer::Confirm::new()
            .with_prompt(prompt)
            .default(false)
            .interact_opt()
            .map_err(|_| UserError::NeedsConfirmation)?;
        if confirmed != Some(true) {
            writeln!(out, "{}", lang.word("reset.unchanged"))?;
            return Ok(Outcome::Success);
        }
    }
    progress.reset(lesson);
    super::save_progress(&mut progress);
    writeln!(out, "{}", lang.say(Text::msg("reset.done").fact("what", what)))?;
    Ok(Outcome::Success)
}
