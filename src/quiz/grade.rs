//! Shuffle a lesson's questions' options per attempt (seedable), and grade answers.

use rand::SeedableRng;
use rand::rngs::Xoshiro256PlusPlus;
use rand::seq::SliceRandom;
use serde::Serialize;

use crate::error::UserError;
use crate::i18n::Lang;
use crate::lesson::Lesson;

/// A quiz is passed with at least this share of right answers.
pub const PASS_PERCENT: usize = 80;

/// One question as shown in this attempt: options in shuffled order.
#[derive(Debug, Clone, Serialize)]
pub struct ShuffledQuestion {
    pub question: String,
    pub options: Vec<String>,
    /// Index of the right option in the shuffled order.
    pub correct: usize,
    pub explanation: String,
}

/// An attempt at a lesson's quiz: the questions with their options shuffled by `seed`, or in the
/// lesson file's order without one (what `quiz N --answers` grades and `quiz N --print` shows).
#[derive(Debug, Clone, Serialize)]
pub struct Attempt {
    pub lesson: u32,
    pub seed: Option<u64>,
    pub questions: Vec<ShuffledQuestion>,
}

impl Attempt {
    /// Options shuffled by `seed` (same seed, same order).
    pub fn new(lesson: &Lesson, lang: Lang, seed: u64) -> Attempt {
        Attempt::ordered(lesson, lang, Some(seed))
    }

    /// Options in the lesson file's order: the same letters always get the same score.
    pub fn in_file_order(lesson: &Lesson, lang: Lang) -> Attempt {
        Attempt::ordered(lesson, lang, None)
    }

    /// Shuffled by `seed` when there is one, else in file order.
    pub fn ordered(lesson: &Lesson, lang: Lang, seed: Option<u64>) -> Attempt {
        let mut rng = seed.map(Xoshiro256PlusPlus::seed_from_u64);
        let questions = lesson
            .quiz
            .iter()
            .map(|item| {
                let text = item.text(lang);
                let mut order: Vec<usize> = (0..text.options.len()).collect();
                if let Some(rng) = rng.as_mut() {
                    order.shuffle(rng);
                }
                ShuffledQuestion {
                    question: text.question.clone(),
                    options: order.iter().map(|&i| text.options[i].clone()).collect(),
                    correct: order.iter().position(|&i| i == item.answer).expect("the answer is one of the options"),
                    explanation: text.explanation.clone(),
                }
            })
            .collect();
        Attempt { lesson: lesson.number, seed, questions }
    }

    /// Grade chosen option indices (one per question, in order).
    pub fn grade(&self, chosen: &[usize]) -> QuizResult {
        let questions: Vec<QuestionResult> = self
            .questions
            .iter()
            .zip(chosen)
            .enumerate()
            .map(|(i, (q, &choice))| QuestionResult {
                number: i + 1,
                question: q.question.clone(),
                chosen: letter(choice),
                chosen_text: q.options.get(choice).cloned().unwrap_or_default(),
                correct: letter(q.correct),
                correct_text: q.options[q.correct].clone(),
                right: choice == q.correct,
                explanation: q.explanation.clone(),
            })
            .collect();
        let score = questions.iter().filter(|q| q.right).count();
        let total = self.questions.len();
        QuizResult {
            lesson: self.lesson,
            seed: self.seed,
            score,
            total,
            passed: score * 100 >= total * PASS_PERCENT,
            questions,
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct QuestionResult {
    pub number: usize,
    pub question: String,
    pub chosen: char,
    pub chosen_text: String,
    pub correct: char,
    pub correct_text: String,
    pub right: bool,
    pub explanation: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct QuizResult {
    pub lesson: u32,
    /// `None`: the options were in the lesson file's order.
    pub seed: Option<u64>,
    pub score: usize,
    pub total: usize,
    pub passed: bool,
    pub questions: Vec<QuestionResult>,
}

impl QuizResult {
    pub fn missed(&self) -> impl Iterator<Item = &QuestionResult> {
        self.questions.iter().filter(|q| !q.right)
    }
}

/// `a` for 0, `b` for 1, ...
pub fn letter(index: usize) -> char {
    (b'a' + index as u8) as char
}

/// Parse answers given as letters (`b,a,c` or one a line) for an attempt.
pub fn parse_answers(text: &str, attempt: &Attempt) -> Result<Vec<usize>, UserError> {
    let given: Vec<&str> = text.split([',', '\n', ' ', '\t', '\r']).map(str::trim).filter(|s| !s.is_empty()).collect();
    let bad = |reason: String| UserError::BadAnswers { given: shown(&given), reason };
    if given.len() != attempt.questions.len() {
        return Err(bad(format!("{} answers for {} questions", given.len(), attempt.questions.len())));
    }
    given
        .iter()
        .zip(&attempt.questions)
        .enumerate()
        .map(|(i, (answer, q))| {
            let mut chars = answer.chars();
            match (chars.next().map(|c| c.to_ascii_lowercase()), chars.next()) {
                (Some(c @ 'a'..='z'), None) if ((c as u8 - b'a') as usize) < q.options.len() => {
                    Ok((c as u8 - b'a') as usize)
                }
                _ => Err(bad(format!("answer {} must be a letter from a to {}", i + 1, letter(q.options.len() - 1)))),
            }
        })
        .collect()
}

/// The answers as the error shows them, on one line: comma-separated, control characters escaped,
/// and cut after 60 characters (a whole file piped in by mistake).
fn shown(given: &[&str]) -> String {
    const LIMIT: usize = 60;
    let joined: String = given.join(",").chars().flat_map(char::escape_debug).collect();
    match joined.char_indices().nth(LIMIT) {
        Some((cut, _)) => format!("{}…", &joined[..cut]),
        None => joined,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lesson::Catalogue;

    fn lesson() -> Lesson {
        Catalogue::embedded().unwrap().lessons()[0].clone()
    }

    #[test]
    fn the_same_seed_gives_the_same_order_and_the_right_answer_moves_with_it() {
        let l = lesson();
        let a = Attempt::new(&l, Lang::En, 42);
        let b = Attempt::new(&l, Lang::En, 42);
        assert_eq!(
            a.questions.iter().map(|q| q.correct).collect::<Vec<_>>(),
            b.questions.iter().map(|q| q.correct).collect::<Vec<_>>()
        );
        for (q, item) in a.questions.iter().zip(&l.quiz) {
            assert_eq!(q.options[q.correct], item.text(Lang::En).options[item.answer]);
        }
    }

    #[test]
    fn different_seeds_shuffle_differently() {
        let l = lesson();
        let orders: std::collections::BTreeSet<Vec<usize>> = (0..20)
            .map(|seed| Attempt::new(&l, Lang::En, seed).questions.iter().map(|q| q.correct).collect())
            .collect();
        assert!(orders.len() > 1);
    }

    #[test]
    fn grading_counts_right_answers_and_applies_the_pass_mark() {
        let attempt = Attempt::new(&lesson(), Lang::En, 1);
        let all_right: Vec<usize> = attempt.questions.iter().map(|q| q.correct).collect();
        let result = attempt.grade(&all_right);
        assert_eq!((result.score, result.passed), (attempt.questions.len(), true));
        let all_wrong: Vec<usize> = attempt.questions.iter().map(|q| (q.correct + 1) % q.options.len()).collect();
        let result = attempt.grade(&all_wrong);
        assert_eq!((result.score, result.passed), (0, false));
        assert_eq!(result.missed().count(), attempt.questions.len());
    }

    #[test]
    fn without_a_seed_the_options_keep_the_file_order() {
        let l = lesson();
        let attempt = Attempt::in_file_order(&l, Lang::En);
        for (q, item) in attempt.questions.iter().zip(&l.quiz) {
            assert_eq!(q.options, item.text(Lang::En).options);
            assert_eq!(q.correct, item.answer);
        }
        assert_eq!(attempt.seed, None);
    }

    #[test]
    fn answers_parse_from_commas_or_lines() {
        let attempt = Attempt::new(&lesson(), Lang::En, 1);
        let n = attempt.questions.len();
        let letters = vec!["a"; n];
        assert_eq!(parse_answers(&letters.join(","), &attempt).unwrap(), vec![0; n]);
        assert_eq!(parse_answers(&letters.join("\n").to_uppercase(), &attempt).unwrap(), vec![0; n]);
        assert!(parse_answers("a,b", &attempt).is_err());
        let mut bad = letters.clone();
        bad[0] = "z";
        assert!(parse_answers(&bad.join(","), &attempt).is_err());
    }

    #[test]
    fn bad_answers_are_shown_on_one_line() {
        let attempt = Attempt::new(&lesson(), Lang::En, 1);
        let message = |text: &str| parse_answers(text, &attempt).unwrap_err().message(Lang::En);
        let lines = message("c\na\n");
        assert!(lines.starts_with("bad answers \"c,a\": 2 answers for"), "{lines}");
        let control = message("a\x1b[31m\n\"b");
        assert!(!control.contains('\x1b') && control.contains("\\u{1b}") && control.contains("\\\"b"), "{control}");
        let long = message(&"b\n".repeat(500));
        assert!(long.contains("…") && long.len() < 200, "{long}");
        for m in [lines, control, long] {
            assert!(!m.contains(['\n', '\r']), "{m}");
        }
    }
}
