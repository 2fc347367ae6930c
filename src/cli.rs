//! The command line, as clap derive types. Doc comments here are the `--help` text.
//!
//! Guidelines: global flags live on [`Cli`] and work before or after the subcommand; every flag that
//! also has an environment variable names it in `env = ...`; nothing here decides anything — raw
//! arguments become [`crate::settings::Settings`] in one place.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

/// Learn what Redis is for, and when to use it instead of SQL — every claim measured live.
///
/// Each lesson explains one Redis role from the study notes, runs a real demo against a real Redis
/// and the same job on embedded SQL (SQLite), prints both timings side by side, checks its claim with
/// a measured number, and ends with a short quiz.
#[derive(Debug, Parser)]
#[command(name = "redis-learn", version, propagate_version = true)]
#[command(
    after_help = "Exit codes: 0 ok · 1 a claim or quiz did not pass · 2 usage or environment error · 130 interrupted"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,

    #[command(flatten)]
    pub global: GlobalArgs,
}

#[derive(Debug, Args)]
pub struct GlobalArgs {
    /// Redis to use, e.g. redis://127.0.0.1:6379 or redis://:PASSWORD@127.0.0.1:6380/0
    /// [default: 127.0.0.1:6379 if it answers, else a private redis-server]
    #[arg(long, global = true, env = "REDIS_URL", value_name = "URL")]
    pub redis: Option<String>,

    /// Always start a private redis-server on a free loopback port (needs redis-server on PATH);
    /// takes precedence over --redis and REDIS_URL
    #[arg(long, global = true)]
    pub private: bool,

    /// Allow a Redis that is not on this machine (demos write keys under their own prefix only)
    #[arg(long, global = true)]
    pub allow_remote: bool,

    /// A networked SQL server to compare against as well as SQLite, in lessons that use one
    /// (e.g. mysql://root@127.0.0.1:3306/test or postgres://postgres@127.0.0.1:5432/test)
    #[arg(long, global = true, env = "REDIS_LEARN_SQL_URL", value_name = "URL")]
    pub sql_url: Option<String>,

    /// When to use colors
    #[arg(long, global = true, value_enum, default_value_t = ColorChoice::Auto, value_name = "WHEN")]
    pub color: ColorChoice,

    /// Print one JSON document instead of text (for grading scripts and slides)
    #[arg(long, global = true)]
    pub json: bool,

    /// Fewer operations per measurement (still enough samples for p50/p99): for CI and the impatient
    #[arg(long, global = true)]
    pub quick: bool,

    /// Where measuring threads run: same-cpu pins this process, its threads and any redis-server it
    /// starts to one CPU (Linux), so a round trip costs no cross-CPU wake-up and numbers repeat;
    /// none lets the OS place them
    #[arg(long, global = true, value_enum, default_value_t = PinChoice::None, env = "REDIS_LEARN_PIN", value_name = "WHERE")]
    pub pin: PinChoice,

    /// Do not end a lesson with its quiz
    #[arg(long, global = true)]
    pub no_quiz: bool,

    /// Language of lessons and messages [default: from LANG/LC_ALL, else en]
    #[arg(long, global = true, value_parser = parse_lang, env = "REDIS_LEARN_LANG", value_name = "LANG")]
    pub lang: Option<LangChoice>,

    /// Where progress is kept [default: the XDG data dir, e.g. ~/.local/share/redis-learn]
    #[arg(long, global = true, env = "REDIS_LEARN_STATE_DIR", value_name = "DIR")]
    pub state_dir: Option<PathBuf>,

    /// Load lesson files from this directory instead of the built-in ones (for lesson authors)
    #[arg(long, global = true, env = "REDIS_LEARN_LESSONS_DIR", value_name = "DIR")]
    pub lessons_dir: Option<PathBuf>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// List the lessons
    List,
    /// Run a lesson: explanation, live demo against Redis and SQLite, measured claims, quiz
    Lesson(LessonArgs),
    /// Run a lesson's self-check quiz on its own
    Quiz(QuizArgs),
    /// Practise a lesson hands-on: type Redis commands on a private server, each task checked on its state
    Practice(PracticeArgs),
    /// Show the passage of the study notes a lesson teaches (all of them without a lesson)
    Notes(NotesArgs),
    /// Open the first lesson you have not completed yet
    #[command(alias = "continue")]
    Next,
    /// Forget progress: one lesson, or everything with --all
    Reset(ResetArgs),
    /// Run lessons' demos back to back and export every measurement (for a class, for slides)
    Bench(BenchArgs),
    /// Show which Redis and SQLite would be used, and whether a lesson can run
    Doctor(DoctorArgs),
    /// Check lesson files (all built-in ones, or those in --lessons-dir) and report every problem
    Check,
}

#[derive(Debug, Args)]
pub struct LessonArgs {
    /// Lesson number or slug, e.g. 2 or cache-aside
    pub lesson: String,
}

#[derive(Debug, Args)]
pub struct QuizArgs {
    /// Lesson number or slug
    pub lesson: String,

    /// Answers without a terminal, comma-separated letters in question order, e.g. b,a,c,d,a
    /// (without this and without a terminal, one answer a line is read from stdin)
    #[arg(long, value_name = "LETTERS")]
    pub answers: Option<String>,

    /// Seed for shuffling the options (same seed, same order)
    #[arg(long)]
    pub seed: Option<u64>,
}

#[derive(Debug, Args)]
pub struct PracticeArgs {
    /// Lesson number or slug
    pub lesson: String,

    /// Run commands from FILE (- for stdin), one a line (`#` comments, `hint` and `skip` allowed),
    /// checking every task after each; exit 0 when all passed, 1 when not
    #[arg(long, value_name = "FILE", conflicts_with = "solution")]
    pub script: Option<PathBuf>,

    /// Print every task's reference commands, in a form --script accepts
    #[arg(long)]
    pub solution: bool,
}

#[derive(Debug, Args)]
pub struct BenchArgs {
    /// Lesson numbers or slugs [default: every lesson]
    pub lessons: Vec<String>,

    /// Output format (--json prints JSON)
    #[arg(long, value_enum, default_value_t = ExportFormat::Text)]
    pub format: ExportFormat,

    /// Write the export to this file instead of stdout
    #[arg(long, short, value_name = "FILE")]
    pub output: Option<PathBuf>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ExportFormat {
    /// Tables for the terminal
    Text,
    /// Markdown tables, ready for slides
    Markdown,
    /// One row per measurement, for spreadsheets
    Csv,
}

#[derive(Debug, Args)]
pub struct NotesArgs {
    /// Lesson number or slug [default: every passage, in the notes' order]
    pub lesson: Option<String>,
}

#[derive(Debug, Args)]
pub struct DoctorArgs {
    /// Remove the keys that interrupted runs left on this Redis (from the run journal in the state
    /// directory; only keys under their own `redis-learn:<run>:` prefix)
    #[arg(long)]
    pub clean: bool,
}

#[derive(Debug, Args)]
pub struct ResetArgs {
    /// Lesson number or slug to forget
    #[arg(required_unless_present = "all", conflicts_with = "all")]
    pub lesson: Option<String>,

    /// Forget every lesson's progress
    #[arg(long)]
    pub all: bool,

    /// Do not ask for confirmation (needed without a terminal)
    #[arg(long, short)]
    pub yes: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ColorChoice {
    Auto,
    Always,
    Never,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum PinChoice {
    /// One CPU for this process, its threads and the redis-server it starts
    SameCpu,
    /// Let the operating system place everything
    None,
}

/// `--lang`: `en` and `zh` are complete (lessons and the tool's own words); any other code, such as
/// `fr`, shows what the lesson files have in that language (`--lessons-dir`) and English elsewhere.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LangChoice(pub String);

fn parse_lang(value: &str) -> Result<LangChoice, String> {
    let code = value.trim().to_ascii_lowercase().replace('_', "-");
    if crate::lesson::is_language_code(&code) {
        Ok(LangChoice(code))
    } else {
        Err("a language code such as en, zh, or one your lesson files add (fr, pt-br)".to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn cli_definition_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn global_flags_work_after_the_subcommand() {
        let cli = Cli::try_parse_from(["redis-learn", "lesson", "2", "--quick", "--json"]).unwrap();
        assert!(cli.global.quick && cli.global.json);
    }

    #[test]
    fn no_subcommand_is_allowed() {
        let cli = Cli::try_parse_from(["redis-learn"]).unwrap();
        assert!(cli.command.is_none());
    }
}
