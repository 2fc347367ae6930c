//! Drawing results: text for people (styled by role, tables, wrapped paragraphs) and JSON for
//! scripts. Everything here takes values and an `impl Write`; nothing here measures or decides.

pub mod export;
pub mod json;
pub mod message;
pub mod progress_bar;
pub mod style;
pub mod text;

pub use style::Styles;
