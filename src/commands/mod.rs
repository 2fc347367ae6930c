//! One module per subcommand, one entry function each. They wire settings, lessons, demos and
//! printers together; the logic lives in those modules.

pub mod check;
pub mod doctor;
pub mod lesson;
pub mod list;
pub mod quiz;
