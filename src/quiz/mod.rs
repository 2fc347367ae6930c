//! Self-check quizzes: shuffling and grading are pure ([`Attempt`], [`QuizResult`]); the prompt
//! module is the only place that reads the quiz's keys at a terminal.

mod grade;
pub mod prompt;

pub use grade::{Attempt, PASS_PERCENT, QuestionResult, QuizResult, ShuffledQuestion, letter, parse_answers};
