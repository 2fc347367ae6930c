//! `redis-learn reset [N|--all]`: forget progress, after a confirmation at a terminal (`--yes`
//! without one).

use std::io::Write;

use anyhow::Result;

use crate::Outcome;
use crate::cli::ResetArgs;
use crate::error::UserError;
use crate::i18n::Lang;
use crate::lesson::Catalogue;
use crate::settings::Settings;

pub fn run(settings: &Settings, args: &ResetArgs, catalogue: &Catalogue, out: &mut impl Write) -> Result<Outcome> {
    let lesson = match &args.lesson {
        Some(query) => Some(catalogue.find(query)?.number),
        None => None,
    };
    let lang = settings.lang;
    // A private redis-server that `--keep` left running stops with a reset.
    for port in crate::server::kept::stop_all(settings.state_dir.as_deref()) {
        match lang {
            Lang::En => writeln!(out, "Stopped the private redis-server kept on port {port}.")?,
            Lang::Zh => writeln!(out, "已停止保留在端口 {port} 上的私有 redis-server。")?,
        }
    }
    let mut progress = super::load_progress(settings);
    // Nothing to forget: say so, and ask nothing.
    if !progress.has_progress(lesson) {
        match (lesson, lang) {
            (Some(n), Lang::En) => writeln!(out, "Lesson {n} has no progress to forget; nothing was changed.")?,
            (Some(n), Lang::Zh) => writeln!(out, "第 {n} 课还没有进度，无需清除；没有做任何更改。")?,
            (None, Lang::En) => writeln!(out, "There is no progress to forget; nothing was changed.")?,
            (None, Lang::Zh) => writeln!(out, "还没有任何进度，无需清除；没有做任何更改。")?,
        }
        return Ok(Outcome::Success);
    }
    let what = match (lesson, lang) {
        (Some(n), Lang::En) => format!("progress of lesson {n}"),
        (Some(n), Lang::Zh) => format!("第 {n} 课的进度"),
        (None, Lang::En) => "all progress".to_string(),
        (None, Lang::Zh) => "全部进度".to_string(),
    };
    if !args.yes {
        if !settings.interactive {
            return Err(UserError::NeedsConfirmation.into());
        }
        let prompt = match lang {
            Lang::En => format!("Forget {what}?"),
            Lang::Zh => format!("确定清除{what}？"),
        };
        let confirmed = dialoguer::Confirm::new()
            .with_prompt(prompt)
            .default(false)
            .interact_opt()
            .map_err(|_| UserError::NeedsConfirmation)?;
        if confirmed != Some(true) {
            writeln!(out, "{}", lang.tr("Nothing was changed.", "没有做任何更改。"))?;
            return Ok(Outcome::Success);
        }
    }
    progress.reset(lesson);
    super::save_progress(&mut progress);
    match lang {
        Lang::En => writeln!(out, "Forgot {what}.")?,
        Lang::Zh => writeln!(out, "已清除{what}。")?,
    }
    Ok(Outcome::Success)
}
