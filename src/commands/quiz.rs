//! `redis-learn quiz N`: the lesson's quiz at a terminal, or graded from `--answers` / stdin, or
//! printed with `--print`. At a terminal, the quiz then offers the lesson's practice.
//!
//! Order of the options: `--answers`, stdin and `--print` use the lesson file's order unless
//! `--seed` names a shuffle, so the same letters always get the same score; at a terminal the
//! options are shuffled (by `--seed` when given).

use std::io::{IsTerminal, Read, Write};

use anyhow::Result;

use crate::Outcome;
use crate::error::UserError;
use crate::lesson::{Catalogue, Lesson};
use crate::progress::PartialQuiz;
use crate::quiz::{Attempt, QuizResult, letter, parse_answers, prompt};
use crate::render::json::{self, LessonRef, QuizSheet, SheetOption, SheetQuestion};
use crate::render::{Styles, text::Printer};
use crate::settings::Settings;
use crate::text::Text;

pub fn run(
    settings: &Settings,
    args: &crate::cli::QuizArgs,
    catalogue: &Catalogue,
    out: &mut impl Write,
) -> Result<Outcome> {
    let lesson = catalogue.find(&args.lesson)?;
    let attempt = Attempt::ordered(lesson, settings.lang, args.seed);
    if args.print {
        return print(settings, lesson, &attempt, out);
    }
    let result = match &args.answers {
        Some(answers) => attempt.grade(&parse_answers(answers, &attempt)?),
        None if settings.interactive && !settings.json => return interactive(settings, lesson, args.seed, out),
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

/// `--print`: the questions with lettered options, in the order `--answers` grades.
fn print(settings: &Settings, lesson: &Lesson, attempt: &Attempt, out: &mut impl Write) -> Result<Outcome> {
    let lang = settings.lang;
    if settings.json {
        let sheet = QuizSheet {
            lesson: LessonRef::of(lesson, lang),
            seed: attempt.seed,
            questions: attempt
                .questions
                .iter()
                .enumerate()
                .map(|(i, q)| SheetQuestion {
                    number: i + 1,
                    question: q.question.clone(),
                    options: q
                        .options
                        .iter()
                        .enumerate()
                        .map(|(k, text)| SheetOption { letter: letter(k), text: text.clone() })
                        .collect(),
                })
                .collect(),
        };
        json::print(out, &sheet)?;
        return Ok(Outcome::Success);
    }
    let mut p = Printer::new(out, Styles::new(settings.color), lang, settings.width);
    let title = &lesson.text(lang).title;
    let heading = lang.say(Text::msg("quiz.heading").fact("number", lesson.number).fact("title", title));
    p.rule(&heading)?;
    let how = match attempt.seed {
        None => Text::msg("quiz.print-in-order"),
        Some(seed) => Text::msg("quiz.print-shuffled").fact("seed", seed.to_string()),
    };
    let how = lang.say(
        how.fact("number", lesson.number).fact("flags", settings.repeat_flags()).fact("count", attempt.questions.len()),
    );
    p.wrapped_dim(&how, "", "  ")?;
    for (i, q) in attempt.questions.iter().enumerate() {
        p.blank()?;
        let number = format!("{}. ", i + 1);
        p.wrapped(&q.question, &number, &" ".repeat(number.len()))?;
        for (k, option) in q.options.iter().enumerate() {
            p.wrapped(option, &format!("   {}) ", letter(k)), "      ")?;
        }
    }
    Ok(Outcome::Success)
}

/// Ask at the terminal, print the score and what to review. A quiz stopped earlier (Ctrl-C) goes on
/// from its next question, with the same shuffle, unless another `--seed` is asked for.
pub fn interactive(settings: &Settings, lesson: &Lesson, seed: Option<u64>, out: &mut impl Write) -> Result<Outcome> {
    let mut progress = super::load_progress(settings);
    let partial = progress
        .lesson(lesson.number)
        .and_then(|l| l.quiz_partial.clone())
        .filter(|p| p.answers.len() < lesson.quiz.len() && (seed.is_none() || seed == p.seed));
    let (attempt, given) = match partial {
        Some(partial) => {
            let line = settings
                .lang
                .say(Text::msg("quiz.resume").fact("answered", partial.answers.len()).fact("total", lesson.quiz.len()));
            writeln!(out, "{}", Styles::new(settings.color).dim(&line))?;
            (Attempt::ordered(lesson, settings.lang, partial.seed), partial.answers)
        }
        None => (Attempt::new(lesson, settings.lang, seed.unwrap_or_else(rand::random)), Vec::new()),
    };
    let keep = |answers: &[usize]| {
        progress.record_partial_quiz(lesson.number, PartialQuiz { seed: attempt.seed, answers: answers.to_vec() });
        super::save_progress(&mut progress);
    };
    let result = prompt::ask(&attempt, settings.lang, Styles::new(settings.color), &given, keep, out)?;
    let outcome = report(settings, &result, out)?;
    // Then the hands-on part, when the lesson has tasks (its outcome is the practice's own).
    super::practice::offer(settings, lesson, out)?;
    Ok(outcome)
}

fn report(settings: &Settings, result: &QuizResult, out: &mut impl Write) -> Result<Outcome> {
    let mut progress = super::load_progress(settings);
    let best = progress.record_quiz(result.lesson, result.score, result.total);
    super::save_progress(&mut progress);
    if settings.json {
        json::print(out, result)?;
    } else {
        let lang = settings.lang;
        let mut p = Printer::new(out, Styles::new(settings.color), lang, settings.width);
        p.blank()?;
        let verdict = if result.passed {
            p.styles.pass(&lang.word("quiz.passed"))
        } else {
            p.styles.fail(&lang.word("quiz.not-passed"))
        };
        let score = lang.say(
            Text::msg("quiz.score")
                .fact("score", result.score)
                .fact("total", result.total)
                .fact("verdict", verdict.to_string())
                .fact("pass", crate::quiz::PASS_PERCENT.to_string()),
        );
        p.wrapped(&score, "", "  ")?;
        if best && result.score > 0 {
            p.wrapped_dim(&lang.word("quiz.best"), "", "  ")?;
        }
        let missed: Vec<_> = result.missed().collect();
        if !missed.is_empty() {
            p.line(&p.styles.heading(&lang.word("quiz.review")).to_string())?;
            for q in missed {
                let number = format!("  {}. ", q.number);
                p.wrapped(&q.question, &number, &" ".repeat(number.len()))?;
                let answer = lang.say(
                    Text::msg("quiz.answer")
                        .fact("letter", q.correct.to_string())
                        .fact("text", q.correct_text.as_str()),
                );
                p.wrapped(&answer, "     ", "       ")?;
                p.wrapped_dim(&q.explanation, "     ", "     ")?;
            }
        }
    }
    Ok(if result.passed { Outcome::Success } else { Outcome::Failed })
}
