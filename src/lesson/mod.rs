//! Lessons as data: the file model (one TOML file per lesson under `lessons/`), the catalogue
//! (embedded in the binary, or read from `--lessons-dir`), and validation.
//!
//! The format is documented in `lessons/README.md`.

mod catalogue;
mod model;
pub mod notes;
mod validate;

pub use catalogue::{Catalogue, EMBEDDED, parse_all, read_dir, summary};
pub use model::{FORMAT_VERSION, Lesson, LessonText, QuestionText, QuizItem};
pub use notes::Notes;
pub use validate::{gaps, is_language_code, validate, warnings};
