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
    let heading = match lang {
        crate::i18n::Lang::En => format!("Quiz {} · {title}", lesson.number),
        crate::i18n::Lang::Zh => format!("第 {} 课测验 · {title}", lesson.number),
    };
    p.rule(&heading)?;
    let example: Vec<String> = attempt.questions.iter().map(|_| "a".to_string()).collect();
    let how = match (lang, attempt.seed) {
        (crate::i18n::Lang::En, None) => format!(
            "Options in the lesson file's order, as --answers grades them: redis-learn quiz {}{} --answers {}",
            lesson.number,
            settings.repeat_flags(),
            example.join(",")
        ),
        (crate::i18n::Lang::En, Some(seed)) => format!(
            "Options shuffled by --seed {seed}, as --answers grades them with the same seed: redis-learn quiz {}{} --seed {seed} --answers {}",
            lesson.number,
            settings.repeat_flags(),
            example.join(",")
        ),
        (crate::i18n::Lang::Zh, None) => format!(
            "选项按课程文件中的顺序排列，与 --answers 评分时一致：redis-learn quiz {}{} --answers {}",
            lesson.number,
            settings.repeat_flags(),
            example.join(",")
        ),
        (crate::i18n::Lang::Zh, Some(seed)) => format!(
            "选项按 --seed {seed} 打乱，与带同一 seed 的 --answers 评分时一致：redis-learn quiz {}{} --seed {seed} --answers {}",
            lesson.number,
            settings.repeat_flags(),
            example.join(",")
        ),
    };
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
            let line = match settings.lang {
                crate::i18n::Lang::En => format!(
                    "Going on with the quiz you stopped: {} of {} answered.",
                    partial.answers.len(),
                    lesson.quiz.len()
                ),
                crate::i18n::Lang::Zh => {
                    format!("继续上次停下的测验：已答 {} / {} 题。", partial.answers.len(), lesson.quiz.len())
                }
            };
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
            p.styles.pass(lang.tr("passed", "通过"))
        } else {
            p.styles.fail(lang.tr("not passed yet", "尚未通过"))
        };
        let score = match lang {
            crate::i18n::Lang::En => format!(
                "Score: {} of {} — {verdict} (pass mark {}%)",
                result.score,
                result.total,
                crate::quiz::PASS_PERCENT
            ),
            crate::i18n::Lang::Zh => format!(
                "得分：{} / {} —— {verdict}（及格线 {}%）",
                result.score,
                result.total,
                crate::quiz::PASS_PERCENT
            ),
        };
        p.wrapped(&score, "", "  ")?;
        if best && result.score > 0 {
            p.wrapped_dim(
                lang.tr("Your best score for this quiz so far.", "这是你在这个测验上的最好成绩。"),
                "",
                "  ",
            )?;
        }
        let missed: Vec<_> = result.missed().collect();
        if !missed.is_empty() {
            p.line(&p.styles.heading(lang.tr("To review:", "需要复习：")).to_string())?;
            for q in missed {
                let number = format!("  {}. ", q.number);
                p.wrapped(&q.question, &number, &" ".repeat(number.len()))?;
                let answer = format!("{} {}) {}", lang.tr("answer:", "答案："), q.correct, q.correct_text);
                p.wrapped(&answer, "     ", "       ")?;
                p.wrapped_dim(&q.explanation, "     ", "     ")?;
            }
        }
    }
    Ok(if result.passed { Outcome::Success } else { Outcome::Failed })
}
