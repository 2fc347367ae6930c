//! Self-check quizzes: shuffling and grading are pure ([`Attempt`], [`QuizResult`]); the prompt
//! module is the only place that talks to a terminal (dialoguer).

mod grade;
pub mod prompt;

pub use grade::{Attempt, PASS_PERCENT, QuestionResult, QuizResult, ShuffledQuestion, parse_answers};
