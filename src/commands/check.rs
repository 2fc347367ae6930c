//! `redis-learn check`: validate lesson files and report every problem (for lesson authors). This is
//! the strict reader: the other commands leave a bad file out with a one-line warning, `check`
//! shows the parser's whole report (line, column and a caret) and exits 1.

use std::io::Write;

use anyhow::Result;
use serde::Serialize;

use crate::Outcome;
use crate::lesson::{EMBEDDED, Notes, validate, warnings};
use crate::settings::Settings;
use crate::text::Text;

/// One finding: the file and what is wrong with it (several lines for a parse error).
#[derive(Debug, Serialize)]
struct Finding {
    file: String,
    message: String,
}

/// What `check --json` prints.
#[derive(Debug, Serialize)]
struct Report {
    files: usize,
    problems: Vec<Finding>,
    warnings: Vec<Finding>,
    ok: bool,
}

pub fn run(settings: &Settings, out: &mut impl Write) -> Result<Outcome> {
    let files: Vec<(String, String)> = match &settings.lessons_dir {
        Some(dir) => crate::lesson::read_dir(dir)?,
        None => EMBEDDED.iter().map(|(n, t)| (format!("lessons/{n}"), t.to_string())).collect(),
    };
    let (lessons, parse_problems) = crate::lesson::parse_all(&files);
    let mut problems: Vec<Finding> = parse_problems
        .into_iter()
        .map(|p| match p {
            crate::error::UserError::BadLessonFile { path, reason } => Finding { file: path, message: reason },
            other => Finding { file: String::new(), message: other.to_string() },
        })
        .collect();
    problems
        .extend(validate(&lessons, &crate::demo::names()).into_iter().map(|(file, message)| Finding { file, message }));
    let numbers: Vec<u32> = lessons.iter().map(|(_, l)| l.number).collect();
    let notes_file = crate::lesson::notes::FILE_NAME.to_string();
    // The notes are checked against the lessons when they come with them: the built-in file, or a
    // notes.toml in the directory (a directory without one uses the built-in notes unchecked).
    let own_notes = settings.lessons_dir.as_ref().is_none_or(|d| d.join(&notes_file).exists());
    match Notes::load(settings.lessons_dir.as_deref()) {
        Ok(_) if !own_notes => {}
        Ok(notes) => problems.extend(notes.problems(&numbers).into_iter().map(|message| Finding {
            file: notes_file.clone(),
            message: message.trim_start_matches(&format!("{notes_file}: ")).to_string(),
        })),
        Err(err) => problems.push(Finding { file: notes_file, message: crate::error::describe(&err, settings.lang) }),
    }
    let mut warnings: Vec<Finding> =
        warnings(&lessons).into_iter().map(|(file, message)| Finding { file, message }).collect();
    // The interface's words: the built-in file, or DIR/ui.toml when the directory has one.
    let words_file = match &settings.lessons_dir {
        Some(dir) if dir.join(crate::words::FILE_NAME).exists() => {
            dir.join(crate::words::FILE_NAME).display().to_string()
        }
        _ => format!("lessons/{}", crate::words::FILE_NAME),
    };
    match crate::words::Words::load(settings.lessons_dir.as_deref()) {
        Ok(words) => {
            problems.extend(words.problems().into_iter().map(|message| Finding { file: words_file.clone(), message }));
            for code in words.languages.keys().filter(|code| *code != "en") {
                let gaps = words.gaps(code);
                if !gaps.is_empty() {
                    // The first few by name: the file itself shows the rest.
                    let named = gaps.iter().take(5).copied().collect::<Vec<_>>().join(", ");
                    let more = if gaps.len() > 5 { ", …" } else { "" };
                    let message = format!(
                        "[{code}] lacks {} of English's messages (shown in English): {named}{more}",
                        gaps.len()
                    );
                    warnings.push(Finding { file: words_file.clone(), message });
                }
            }
        }
        Err(err) => {
            problems.push(Finding { file: words_file, message: crate::error::describe(&err.into(), settings.lang) })
        }
    }
    let report = Report { files: files.len(), ok: problems.is_empty(), problems, warnings };
    if settings.json {
        serde_json::to_writer_pretty(&mut *out, &report)?;
        writeln!(out)?;
    } else {
        for (mark, finding) in report.problems.iter().map(|f| ("✘", f)).chain(report.warnings.iter().map(|f| ("⚠", f)))
        {
            let mut lines = finding.message.lines();
            writeln!(out, "{mark} {}: {}", finding.file, lines.next().unwrap_or_default())?;
            for line in lines {
                writeln!(out, "    {line}")?;
            }
        }
        writeln!(out, "{}", totals(settings.lang, report.files, report.problems.len(), report.warnings.len()))?;
    }
    Ok(if report.ok { Outcome::Success } else { Outcome::Failed })
}

/// `3 files checked, 1 problem, 0 warnings`.
fn totals(lang: crate::i18n::Lang, files: usize, problems: usize, warnings: usize) -> String {
    lang.say(Text::msg("check.totals").fact("files", files).fact("problems", problems).fact("warnings", warnings))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn totals_are_plural_only_when_they_should_be() {
        assert_eq!(totals(crate::i18n::Lang::En, 1, 1, 0), "1 file checked, 1 problem, 0 warnings");
        assert_eq!(totals(crate::i18n::Lang::En, 10, 2, 1), "10 files checked, 2 problems, 1 warning");
    }
}
