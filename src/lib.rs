//! redis-learn: an interactive course on what Redis is for, and when to use it instead of SQL, that
//! proves every point with a live, measured demo.
//!
//! `main` parses the command line and calls [`run`]; everything else lives behind this library so
//! that integration tests and benchmarks reach the same code.

pub mod bench;
pub mod cli;
pub mod commands;
pub mod demo;
pub mod error;
pub mod fixtures;
pub mod i18n;
pub mod interrupt;
pub mod lesson;
pub mod measure;
pub mod pause;
pub mod practice;
pub mod process;
pub mod progress;
pub mod quiz;
pub mod render;
pub mod server;
pub mod settings;
pub mod sql;
pub mod text;
pub mod words;

use std::io::Write;

use anyhow::Result;

use crate::cli::{Cli, Command};
use crate::interrupt::Interrupt;
use crate::lesson::Catalogue;
use crate::settings::Settings;
use crate::text::Text;

/// How a successful run ended; errors are the third way (see [`error`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Everything held.
    Success,
    /// A claim did not hold, a demo failed, or a quiz was not passed.
    Failed,
    /// An environment problem that was already reported on stdout (e.g. by `doctor`).
    Usage,
}

impl Outcome {
    pub fn exit_code(self) -> u8 {
        match self {
            Outcome::Success => error::EXIT_OK,
            Outcome::Failed => error::EXIT_FAILED,
            Outcome::Usage => error::EXIT_USAGE,
        }
    }
}

/// Run one command line.
pub fn run(cli: Cli, out: &mut impl Write) -> Result<Outcome> {
    let mut settings = Settings::resolve(&cli.global());
    words::install(words::Words::load(settings.lessons_dir.as_deref())?, settings.lesson_lang.as_deref());
    // Before any thread or child process starts: they inherit the placement.
    settings.placement = measure::Placement::apply(settings.pin_same_cpu);
    // A `--sql-url` this build cannot use, or that is no SQL URL, stops the run before its first
    // line, whichever command was given it.
    if let Some(url) = &settings.sql_url {
        sql::remote::check_url(url)?;
    }
    // Private redis-servers that a killed run left behind stop now, whatever the command.
    server::sweep_orphans(&std::env::temp_dir());
    let interrupt = Interrupt::new();
    interrupt.install();
    match cli.command {
        Some(Command::Check(_)) => commands::check::run(&settings, out),
        Some(Command::Doctor(args)) => commands::doctor::run(&settings, &args, out),
        Some(Command::Completions(args)) => commands::shell::completions(args.shell, out),
        Some(Command::Man(args)) => commands::shell::man(args.dir.as_deref(), out),
        command => {
            let mut catalogue = Catalogue::load(settings.lessons_dir.as_deref())?;
            report_catalogue(&settings, &mut catalogue);
            match command {
                None => {
                    if !settings.json {
                        writeln!(out, "{}\n", settings.lang.word("welcome"))?;
                    }
                    commands::list::run(&settings, &catalogue, out)
                }
                Some(Command::List(_)) => commands::list::run(&settings, &catalogue, out),
                Some(Command::Lesson(args)) => {
                    commands::lesson::run(&settings, &args.lesson, &catalogue, &interrupt, out)
                }
                Some(Command::Quiz(args)) => commands::quiz::run(&settings, &args, &catalogue, out),
                Some(Command::Practice(args)) => commands::practice::run(&settings, &args, &catalogue, out),
                Some(Command::Notes(args)) => commands::notes::run(&settings, &args, &catalogue, out),
                Some(Command::Bench(args)) => commands::bench::run(&settings, &args, &catalogue, &interrupt, out),
                Some(Command::Next(_)) => commands::next::run(&settings, &catalogue, &interrupt, out),
                Some(Command::Reset(args)) => commands::reset::run(&settings, &args, &catalogue, out),
                Some(Command::Check(_) | Command::Doctor(_) | Command::Completions(_) | Command::Man(_)) => {
                    unreachable!("handled above")
                }
            }
        }
    }
}

/// Say on stderr, one line each, which lesson files were left out, and whether the lessons have
/// the third language asked for (`--lang fr`); then show that language in English's place.
fn report_catalogue(settings: &Settings, catalogue: &mut Catalogue) {
    let dir = settings.lessons_dir.as_ref().map_or(String::new(), |d| format!(" --lessons-dir {}", d.display()));
    for (path, reason) in catalogue.skipped() {
        let text = Text::msg("lessons.left-out").fact("path", path).fact("reason", reason).fact("dir", dir.as_str());
        eprintln!("{}", settings.lang.say(text));
    }
    if let Some(code) = &settings.lesson_lang
        && !catalogue.show_in(code)
    {
        eprintln!("{}", settings.lang.say(Text::msg("lessons.no-language").fact("code", code.as_str())));
    }
}
