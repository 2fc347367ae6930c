//! `redis-learn notes [LESSON]`: the passage of the study notes a lesson teaches — the Chinese
//! original, and with `--lang en` an English rendering followed by the original.

use std::io::Write;

use anyhow::Result;
use serde::Serialize;

use crate::Outcome;
use crate::cli::NotesArgs;
use crate::i18n::Lang;
use crate::lesson::{Catalogue, Notes};
use crate::render::{Styles, json, text::Printer};
use crate::settings::Settings;
use crate::text::Text;

#[derive(Serialize)]
struct PassageJson<'a> {
    lessons: &'a [u32],
    source: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    source_en: Option<&'a str>,
    zh: &'a str,
    en: &'a str,
}

pub fn run(settings: &Settings, args: &NotesArgs, catalogue: &Catalogue, out: &mut impl Write) -> Result<Outcome> {
    let notes = Notes::load(settings.lessons_dir.as_deref())?;
    let (heading, passages) = match &args.lesson {
        Some(query) => {
            let lesson = catalogue.find(query)?;
            let title = &lesson.text(settings.lang).title;
            let heading =
                settings.lang.say(Text::msg("notes.lesson-heading").fact("number", lesson.number).fact("title", title));
            (heading, notes.for_lesson(lesson.number))
        }
        None => (settings.lang.word("notes.heading"), notes.passages.iter().collect()),
    };
    if settings.json {
        let doc: Vec<PassageJson> = passages
            .iter()
            .map(|p| PassageJson {
                lessons: &p.lessons,
                source: &p.source,
                source_en: p.source_en.as_deref(),
                zh: &p.zh,
                en: &p.en,
            })
            .collect();
        json::print(out, &doc)?;
        return Ok(Outcome::Success);
    }
    let lang = settings.lang;
    let mut p = Printer::new(out, Styles::new(settings.color), lang, settings.width);
    p.rule(&heading)?;
    for passage in passages {
        p.subrule(passage.source(lang))?;
        lines(&mut p, passage.text(lang))?;
        if lang == Lang::En {
            p.blank()?;
            p.line(&p.styles.dim(&lang.word("notes.original")).to_string())?;
            lines(&mut p, &passage.zh)?;
        }
    }
    Ok(Outcome::Success)
}

/// The notes line by line, as they were written (numbered items stay on their own lines), wrapped
/// with a hanging indent; Markdown's `**` emphasis marks are dropped.
fn lines(p: &mut Printer<impl Write>, text: &str) -> Result<()> {
    for line in text.lines() {
        let indent = line.len() - line.trim_start().len();
        let pad = " ".repeat(indent + 3);
        let options = textwrap::Options::new(p.width).subsequent_indent(&pad);
        let plain = line.replace("**", "");
        for wrapped in textwrap::wrap(&plain, options) {
            p.line(&wrapped)?;
        }
    }
    Ok(())
}
