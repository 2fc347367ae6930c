//! `redis-learn quiz N`: the lesson's quiz at a terminal, or graded from `--answers` / stdin.

use std::io::{IsTerminal, Read, Write};

use anyhow::Result;

use crate::Outcome;
use crate::error::UserError;
use crate::lesson::{Catalogue, Lesson};
use crate::quiz::{Attempt, QuizResult, parse_answers, prompt};
use crate::render::{Styles, json};
use crate::settings::Settings;

pub fn run(
    settings: &Settings,
    args: &crate::cli::QuizArgs,
    catalogue: &Catalogue,
    out: &mut impl Write,
) -> Result<Outcome> {
    let lesson = catalogue.find(&args.lesson)?;
    let seed = args.seed.unwrap_or_else(rand::random);
    let attempt = Attempt::new(lesson, settings.lang, seed);
    let result = match &args.answers {
        Some(answers) => attempt.grade(&parse_answers(answers, &attempt)?),
        None if settings.interactive && !settings.json => return interactive(settings, lesson, Some(seed), out),
        None => {
            let mut stdin = std::io::stdin();
            if stdin.is_terminal() {
                return Err(UserError::NoTerminal.into());
            }
            let mut text = String::new();
            stdin.read_to_string(&mut text)?;
            if text.trim().is_empty() {
                return Err(UserError::NoTerminal.into());
            }
            attempt.grade(&parse_answers(&text, &attempt)?)
        }
    };
    report(settings, &result, out)
}

/// Ask at the terminal, print the score and what to review.
pub fn interactive(settings: &Settings, lesson: &Lesson, seed: Option<u64>, out: &mut impl Write) -> Result<Outcome> {
    let attempt = Attempt::new(lesson, settings.lang, seed.unwrap_or_else(rand::random));
    let result = prompt::ask(&attempt, settings.lang, Styles::new(settings.color), out)?;
    report(settings, &result, out)
}

fn report(settings: &Settings, result: &QuizResult, out: &mut impl Write) -> Result<Outcome> {
    let mut progress = super::load_progress(settings);
    let best = progress.record_quiz(result.lesson, result.score, result.total);
    super::save_progress(&mut progress);
    if settings.json {
        json::print(out, result)?;
    } else {
        let styles = Styles::new(settings.color);
        let lang = settings.lang;
        writeln!(out)?;
        let verdict = if result.passed {
            styles.pass(lang.tr("passed", "通过"))
        } else {
            styles.fail(lang.tr("not passed yet", "尚未通过"))
        };
        match lang {
            crate::i18n::Lang::En => writeln!(
                out,
                "Score: {} of {} — {verdict} (pass mark {}%)",
                result.score,
                result.total,
                crate::quiz::PASS_PERCENT
            )?,
            crate::i18n::Lang::Zh => writeln!(
                out,
                "得分：{} / {} —— {verdict}（及格线 {}%）",
                result.score,
                result.total,
                crate::quiz::PASS_PERCENT
            )?,
        }
        if best && result.score > 0 {
            writeln!(
                out,
                "{}",
                styles.dim(lang.tr("Your best score for this quiz so far.", "这是你在这个测验上的最好成绩。"))
            )?;
        }
        let missed: Vec<_> = result.missed().collect();
        if !missed.is_empty() {
            writeln!(out, "{}", styles.heading(lang.tr("To review:", "需要复习：")))?;
            for q in missed {
                writeln!(out, "  {}. {}", q.number, q.question)?;
                writeln!(out, "     {} {}) {}", lang.tr("answer:", "答案："), q.correct, q.correct_text)?;
                writeln!(out, "     {}", styles.dim(&q.explanation))?;
            }
        }
    }
    Ok(if result.passed { Outcome::Success } else { Outcome::Failed })
}
