//! `redis-learn check`: validate lesson files and report every problem (for lesson authors).

use std::io::Write;

use anyhow::Result;

use crate::Outcome;
use crate::lesson::{EMBEDDED, Notes, validate, warnings};
use crate::settings::Settings;

pub fn run(settings: &Settings, out: &mut impl Write) -> Result<Outcome> {
    let files: Vec<(String, String)> = match &settings.lessons_dir {
        Some(dir) => crate::lesson::read_dir(dir)?,
        None => EMBEDDED.iter().map(|(n, t)| (format!("lessons/{n}"), t.to_string())).collect(),
    };
    let (lessons, parse_problems) = crate::lesson::parse_all(&files);
    let mut problems: Vec<String> = parse_problems.iter().map(|p| p.to_string()).collect();
    problems.extend(
        validate(&lessons, &crate::demo::names()).into_iter().map(|(path, reason)| format!("{path}: {reason}")),
    );
    let numbers: Vec<u32> = lessons.iter().map(|(_, l)| l.number).collect();
    match Notes::load(settings.lessons_dir.as_deref()) {
        Ok(notes) => problems.extend(notes.problems(&numbers)),
        Err(err) => problems.push(crate::error::describe(&err, settings.lang)),
    }
    let warnings = warnings(&lessons);
    for problem in &problems {
        writeln!(out, "✘ {problem}")?;
    }
    for (path, warning) in &warnings {
        writeln!(out, "⚠ {path}: {warning}")?;
    }
    writeln!(out, "{} files checked, {} problems, {} warnings", files.len(), problems.len(), warnings.len())?;
    Ok(if problems.is_empty() { Outcome::Success } else { Outcome::Failed })
}
