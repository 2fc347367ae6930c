//! The command line, as clap derive types. Doc comments here are the `--help` text.
//!
//! Guidelines: each subcommand takes only the flags that apply to it (small flag groups, flattened),
//! after the subcommand; a flag that does not apply is a usage error. Every flag that also has an
//! environment variable names it in `env = ...`; nothing here decides anything — the flags are
//! gathered into [`GlobalArgs`] and become [`crate::settings::Settings`] in one place.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

/// Learn what Redis is for, and when to use it instead of SQL — every claim measured live.
///
/// Each lesson explains one Redis role from the study notes, runs a real demo against a real Redis
/// and the same job on embedded SQL (SQLite), prints both timings side by side, checks its claim with
/// a measured number, and ends with a short quiz.
#[derive(Debug, Parser)]
#[command(name = "redis-learn", version, propagate_version = true)]
#[command(args_conflicts_with_subcommands = true, subcommand_precedence_over_arg = true)]
#[command(
    after_help = "Flags go after the subcommand: `redis-learn lesson 2 --quick`; `redis-learn SUBCOMMAND --help` shows the flags it takes.\n\nExample: redis-learn lesson 1 --quick\n\nExit codes: 0 ok · 1 a claim or quiz did not pass · 2 usage or environment error · 130 interrupted"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,

    /// Without a subcommand: a welcome and the lesson list, which take `list`'s flags.
    #[command(flatten)]
    pub list: ListArgs,
}

impl Cli {
    /// The flags this command line gave, in one struct for [`crate::settings::Settings::resolve`];
    /// what a subcommand does not take keeps its default.
    pub fn global(&self) -> GlobalArgs {
        let mut g = GlobalArgs::default();
        match &self.command {
            None => self.list.apply(&mut g),
            Some(command) => command.apply(&mut g),
        }
        g
    }
}

/// A parse error as the learner should see it: [`without_env_in_usage`], then
/// [`without_dash_dash_tip`].
pub fn tidy(err: clap::Error) -> clap::Error {
    without_dash_dash_tip(without_env_in_usage(err))
}

/// clap's error for a flag a subcommand does not take, when the subcommand has a positional argument
/// (`redis-learn quiz 1 --no-quiz`), adds "tip: to pass '--no-quiz' as a value, use '-- --no-quiz'".
/// No argument of this tool is a value that starts with a dash, so that tip only misleads: drop it,
/// and keep clap's other tips (a flag with a similar name).
pub fn without_dash_dash_tip(mut err: clap::Error) -> clap::Error {
    use clap::error::{ContextKind, ContextValue, ErrorKind};
    if err.kind() != ErrorKind::UnknownArgument {
        return err;
    }
    if let Some(ContextValue::StyledStrs(tips)) = err.remove(ContextKind::Suggested) {
        let kept: Vec<_> = tips.into_iter().filter(|tip| !tip.to_string().contains("as a value, use '")).collect();
        if !kept.is_empty() {
            err.insert(ContextKind::Suggested, ContextValue::StyledStrs(kept));
        }
    }
    err
}

/// clap's usage line in a "missing argument" error names every argument it saw, values taken from
/// the environment included (`Usage: redis-learn lesson --redis <URL> <LESSON>` with `REDIS_URL`
/// set), as if they were needed. Parse the same command line once more without environment
/// variables and take that error, whose usage line shows only what the learner typed.
pub fn without_env_in_usage(err: clap::Error) -> clap::Error {
    use clap::CommandFactory;
    use clap::error::ErrorKind;
    if err.kind() != ErrorKind::MissingRequiredArgument {
        return err;
    }
    fn strip(command: clap::Command) -> clap::Command {
        command.mut_args(|arg| arg.env(None)).mut_subcommands(strip)
    }
    match strip(Cli::command()).try_get_matches_from(std::env::args_os()) {
        Err(plain) if plain.kind() == ErrorKind::MissingRequiredArgument => plain,
        _ => err,
    }
}

/// Every flag any subcommand takes, resolved into [`crate::settings::Settings`] in one place. Not a
/// clap type: each subcommand declares only the flags that apply to it (see [`Command`]).
#[derive(Debug, Clone, Default)]
pub struct GlobalArgs {
    pub redis: Option<String>,
    pub private: bool,
    pub allow_remote: bool,
    pub sql_url: Option<String>,
    pub color: ColorChoice,
    pub json: bool,
    pub quick: bool,
    pub pin: PinChoice,
    pub no_quiz: bool,
    pub no_pause: bool,
    pub lang: Option<LangChoice>,
    pub state_dir: Option<PathBuf>,
    pub lessons_dir: Option<PathBuf>,
    pub trace: TraceChoice,
    pub keep: Option<u32>,
}

/// A group of flags that copies itself into [`GlobalArgs`].
trait Apply {
    fn apply(&self, g: &mut GlobalArgs);
}

#[derive(Debug, Clone, Default, Args)]
#[command(next_help_heading = "Redis")]
pub struct RedisFlags {
    /// Redis to use, e.g. redis://127.0.0.1:6379 or redis://:PASSWORD@127.0.0.1:6380/0
    /// [default: 127.0.0.1:6379 if it answers, else a private redis-server]
    #[arg(long, env = "REDIS_URL", value_name = "URL")]
    pub redis: Option<String>,

    /// Always start a private redis-server on a free loopback port (needs redis-server on PATH);
    /// takes precedence over --redis and REDIS_URL
    #[arg(long)]
    pub private: bool,

    /// Allow a Redis that is not on this machine (demos write keys under their own prefix only)
    #[arg(long)]
    pub allow_remote: bool,

    /// Where measuring threads run: same-cpu pins this process, its threads and any redis-server it
    /// starts to one CPU (Linux), so a round trip costs no cross-CPU wake-up and numbers repeat;
    /// none lets the OS place them
    #[arg(long, value_enum, default_value_t = PinChoice::None, env = "REDIS_LEARN_PIN", value_name = "WHERE")]
    pub pin: PinChoice,
}

impl Apply for RedisFlags {
    fn apply(&self, g: &mut GlobalArgs) {
        g.redis.clone_from(&self.redis);
        g.private = self.private;
        g.allow_remote = self.allow_remote;
        g.pin = self.pin;
    }
}

#[derive(Debug, Clone, Default, Args)]
#[command(next_help_heading = "Measuring")]
pub struct MeasureFlags {
    /// Fewer operations per measurement (still enough samples for p50/p99): for CI and the impatient
    #[arg(long)]
    pub quick: bool,

    /// A networked SQL server to compare against as well as SQLite, in lessons that use one
    /// (e.g. mysql://root@127.0.0.1:3306/test or postgres://postgres@127.0.0.1:5432/test)
    #[arg(long, env = "REDIS_LEARN_SQL_URL", value_name = "URL")]
    pub sql_url: Option<String>,
}

impl Apply for MeasureFlags {
    fn apply(&self, g: &mut GlobalArgs) {
        g.quick = self.quick;
        g.sql_url.clone_from(&self.sql_url);
    }
}

#[derive(Debug, Clone, Default, Args)]
#[command(next_help_heading = "Output")]
pub struct DisplayFlags {
    /// Print one JSON document instead of text (for grading scripts and slides)
    #[arg(long)]
    pub json: bool,

    /// When to use colors
    #[arg(long, value_enum, default_value_t = ColorChoice::Auto, value_name = "WHEN")]
    pub color: ColorChoice,
}

impl Apply for DisplayFlags {
    fn apply(&self, g: &mut GlobalArgs) {
        g.json = self.json;
        g.color = self.color;
    }
}

/// A flag group of one optional flag that copies itself into the [`GlobalArgs`] field of the same
/// name: `one_flag!(Name, "Help heading", field: Type, #[arg(..)] with its doc comment)`.
macro_rules! one_flag {
    ($name:ident, $heading:literal, $(#[$attr:meta])* $field:ident: $ty:ty) => {
        #[derive(Debug, Clone, Default, Args)]
        #[command(next_help_heading = $heading)]
        pub struct $name {
            $(#[$attr])*
            pub $field: Option<$ty>,
        }

        impl Apply for $name {
            fn apply(&self, g: &mut GlobalArgs) {
                g.$field.clone_from(&self.$field);
            }
        }
    };
}

one_flag!(
    LangFlag,
    "Output",
    /// Language of lessons and messages: en or zh; another code (fr, pt-br) shows what your lesson
    /// files have in it, English elsewhere [default: from LANG/LC_ALL, else en]
    #[arg(long, value_parser = LangParser, env = "REDIS_LEARN_LANG", value_name = "LANG", hide_possible_values = true)]
    lang: LangChoice
);

one_flag!(
    StateDirFlag,
    "Files",
    /// Where progress is kept [default: the XDG data dir, e.g. ~/.local/share/redis-learn]
    #[arg(long, env = "REDIS_LEARN_STATE_DIR", value_name = "DIR")]
    state_dir: PathBuf
);

one_flag!(
    LessonsDirFlag,
    "Files",
    /// Load lesson files from this directory instead of the built-in ones (for lesson authors)
    #[arg(long, env = "REDIS_LEARN_LESSONS_DIR", value_name = "DIR")]
    lessons_dir: PathBuf
);

/// The flags of a command that runs lessons (`lesson`, `next`).
#[derive(Debug, Clone, Default, Args)]
pub struct RunFlags {
    /// Do not end the lesson with its quiz
    #[arg(long)]
    pub no_quiz: bool,

    /// Do not wait for Enter between demos and before the quiz (there is no pause without a terminal
    /// or with --json anyway)
    #[arg(long)]
    pub no_pause: bool,

    /// How the commands sent are shown: short cuts long keys and values, full prints every
    /// argument whole (to copy into redis-cli)
    #[arg(long, value_enum, default_value_t = TraceChoice::Short, value_name = "HOW")]
    pub trace: TraceChoice,

    /// Keep the lesson's keys for MINUTES (with that TTL) instead of removing them, and print the
    /// redis-cli command that reaches them; a private redis-server stays up that long, then stops
    /// itself (the next lesson or `reset` stops it sooner)
    #[arg(long, value_name = "MINUTES", value_parser = clap::value_parser!(u32).range(1..=1440))]
    pub keep: Option<u32>,

    #[command(flatten)]
    pub measure: MeasureFlags,
    #[command(flatten)]
    pub redis: RedisFlags,
    #[command(flatten)]
    pub display: DisplayFlags,
    #[command(flatten)]
    pub lang: LangFlag,
    #[command(flatten)]
    pub state_dir: StateDirFlag,
    #[command(flatten)]
    pub lessons_dir: LessonsDirFlag,
}

impl Apply for RunFlags {
    fn apply(&self, g: &mut GlobalArgs) {
        g.no_quiz = self.no_quiz;
        g.no_pause = self.no_pause;
        g.trace = self.trace;
        g.keep = self.keep;
        apply_all(g, &[&self.measure, &self.redis, &self.display, &self.lang, &self.state_dir, &self.lessons_dir]);
    }
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// List the lessons
    #[command(after_help = "Example: redis-learn list --json")]
    List(ListArgs),
    /// Run a lesson: explanation, live demo against Redis and SQLite, measured claims, quiz
    #[command(after_help = "Example: redis-learn lesson cache-aside --quick --no-quiz")]
    Lesson(LessonArgs),
    /// Run a lesson's self-check quiz on its own
    #[command(after_help = "Example: redis-learn quiz 2 --seed 7 --answers b,a,c,d,a,b,c --json")]
    Quiz(QuizArgs),
    /// Practise a lesson hands-on: type Redis commands, each task checked on the server's state (a private
    /// server, or with --redis your own, every key confined to the run's namespace)
    #[command(after_help = "Example: redis-learn practice 4 --solution | redis-learn practice 4 --script - --json")]
    Practice(PracticeArgs),
    /// Show the passage of the study notes a lesson teaches (all of them without a lesson)
    #[command(after_help = "Example: redis-learn notes 4 --lang zh")]
    Notes(NotesArgs),
    /// Open the first lesson you have not completed yet
    #[command(alias = "continue", after_help = "Example: redis-learn next --quick")]
    Next(RunFlags),
    /// Forget progress: one lesson, or everything with --all
    #[command(after_help = "Example: redis-learn reset 2 --yes")]
    Reset(ResetArgs),
    /// Run lessons' demos back to back, or an instructor scenario's sweep, and export every measurement
    #[command(after_help = "Example: redis-learn bench --scenario pipeline --param depth=1,16,256 --plot pipeline.svg")]
    Bench(BenchArgs),
    /// Show which Redis and SQLite would be used, and whether a lesson can run
    #[command(after_help = "Example: redis-learn doctor --redis redis://127.0.0.1:6380")]
    Doctor(DoctorArgs),
    /// Check lesson files (all built-in ones, or those in --lessons-dir) and report every problem
    #[command(after_help = "Example: redis-learn check --lessons-dir my-lessons/")]
    Check(CheckArgs),
    /// Print a shell's completion script for redis-learn
    #[command(
        after_help = "Example: redis-learn completions bash > ~/.local/share/bash-completion/completions/redis-learn"
    )]
    Completions(CompletionsArgs),
    /// Print the manual page (roff), or write one page per subcommand into a directory
    #[command(after_help = "Example: redis-learn man > redis-learn.1 && man ./redis-learn.1")]
    Man(ManArgs),
}

impl Command {
    fn apply(&self, g: &mut GlobalArgs) {
        match self {
            Command::List(args) => args.apply(g),
            Command::Lesson(args) => args.run.apply(g),
            Command::Next(run) => run.apply(g),
            Command::Quiz(args) => apply_all(g, &[&args.display, &args.lang, &args.state_dir, &args.lessons_dir]),
            Command::Practice(args) => {
                apply_all(g, &[&args.redis, &args.display, &args.lang, &args.state_dir, &args.lessons_dir])
            }
            Command::Notes(args) => apply_all(g, &[&args.display, &args.lang, &args.lessons_dir]),
            Command::Reset(args) => apply_all(g, &[&args.lang, &args.state_dir, &args.lessons_dir]),
            Command::Bench(args) => apply_all(
                g,
                &[&args.measure, &args.redis, &args.display, &args.lang, &args.state_dir, &args.lessons_dir],
            ),
            Command::Doctor(args) => {
                apply_all(g, &[&args.redis, &args.display, &args.lang, &args.state_dir, &args.lessons_dir])
            }
            Command::Check(args) => apply_all(g, &[&args.display, &args.lang, &args.lessons_dir]),
            Command::Completions(_) | Command::Man(_) => {}
        }
    }
}

/// Copy several flag groups into [`GlobalArgs`].
fn apply_all(g: &mut GlobalArgs, groups: &[&dyn Apply]) {
    for group in groups {
        group.apply(g);
    }
}

#[derive(Debug, Clone, Default, Args)]
pub struct ListArgs {
    #[command(flatten)]
    pub display: DisplayFlags,
    #[command(flatten)]
    pub lang: LangFlag,
    #[command(flatten)]
    pub state_dir: StateDirFlag,
    #[command(flatten)]
    pub lessons_dir: LessonsDirFlag,
}

impl Apply for ListArgs {
    fn apply(&self, g: &mut GlobalArgs) {
        apply_all(g, &[&self.display, &self.lang, &self.state_dir, &self.lessons_dir]);
    }
}

#[derive(Debug, Args)]
pub struct LessonArgs {
    /// Lesson number or slug, e.g. 2 or cache-aside
    pub lesson: String,

    #[command(flatten)]
    pub run: RunFlags,
}

#[derive(Debug, Args)]
pub struct QuizArgs {
    /// Lesson number or slug
    pub lesson: String,

    /// Answers without a terminal, comma-separated letters in question order, e.g. b,a,c,d,a
    /// (without this and without a terminal, one answer a line is read from stdin)
    #[arg(long, value_name = "LETTERS")]
    pub answers: Option<String>,

    /// Seed for shuffling the options (same seed, same order); without it, --answers and --print
    /// use the options in the lesson file's order
    #[arg(long)]
    pub seed: Option<u64>,

    /// Print the questions with lettered options, in the order --answers uses, and exit
    #[arg(long, conflicts_with = "answers")]
    pub print: bool,

    #[command(flatten)]
    pub display: DisplayFlags,
    #[command(flatten)]
    pub lang: LangFlag,
    #[command(flatten)]
    pub state_dir: StateDirFlag,
    #[command(flatten)]
    pub lessons_dir: LessonsDirFlag,
}

#[derive(Debug, Args)]
pub struct CompletionsArgs {
    /// The shell to complete in
    #[arg(value_enum)]
    pub shell: clap_complete::Shell,
}

#[derive(Debug, Args)]
pub struct ManArgs {
    /// Write redis-learn.1 and a page per subcommand (redis-learn-lesson.1, ...) into this directory
    /// instead of printing the main page
    #[arg(long, value_name = "DIR")]
    pub dir: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct CheckArgs {
    #[command(flatten)]
    pub display: DisplayFlags,
    #[command(flatten)]
    pub lang: LangFlag,
    #[command(flatten)]
    pub lessons_dir: LessonsDirFlag,
}

#[derive(Debug, Args)]
pub struct PracticeArgs {
    /// Lesson number or slug
    pub lesson: String,

    /// Run commands from FILE (- for stdin), one a line (`#` comments; `hint`, `skip`, `reset` and
    /// `predict REPLY` allowed),
    /// checking every task after each; exit 0 when all passed, 1 when not
    #[arg(long, value_name = "FILE", conflicts_with = "solution")]
    pub script: Option<PathBuf>,

    /// Print every task's reference commands, in a form --script accepts
    #[arg(long)]
    pub solution: bool,

    #[command(flatten)]
    pub redis: PracticeRedisFlags,
    #[command(flatten)]
    pub display: DisplayFlags,
    #[command(flatten)]
    pub lang: LangFlag,
    #[command(flatten)]
    pub state_dir: StateDirFlag,
    #[command(flatten)]
    pub lessons_dir: LessonsDirFlag,
}

/// The Redis flags of `practice`: which server, and nothing about measuring (it times nothing).
#[derive(Debug, Clone, Default, Args)]
#[command(next_help_heading = "Redis")]
pub struct PracticeRedisFlags {
    /// Practise on your own Redis, e.g. redis://127.0.0.1:6379, with every key you name kept under
    /// the run's namespace and removed at the end [default: a private redis-server]
    #[arg(long, env = "REDIS_URL", value_name = "URL")]
    pub redis: Option<String>,

    /// Use a private redis-server even when --redis or REDIS_URL is given (needs redis-server on PATH)
    #[arg(long)]
    pub private: bool,

    /// Allow a --redis that is not on this machine (keys still confined to the run's namespace)
    #[arg(long)]
    pub allow_remote: bool,
}

impl Apply for PracticeRedisFlags {
    fn apply(&self, g: &mut GlobalArgs) {
        g.redis.clone_from(&self.redis);
        g.private = self.private;
        g.allow_remote = self.allow_remote;
    }
}

#[derive(Debug, Args)]
pub struct BenchArgs {
    /// Lesson numbers or slugs [default: every lesson]
    #[arg(conflicts_with_all = ["scenario", "calibrate"])]
    pub lessons: Vec<String>,

    /// Run an instructor scenario instead of lessons: a sweep with a claim, e.g. pipeline
    #[arg(long, value_enum, value_name = "NAME")]
    pub scenario: Option<crate::bench::ScenarioName>,

    /// A scenario parameter and its values, e.g. depth=1,16 (repeat for a cartesian product)
    #[arg(long = "param", value_name = "KEY=V1,V2", requires = "scenario")]
    pub params: Vec<String>,

    /// Draw the sweep into this .svg or .png file (latency and throughput against the parameter)
    #[arg(long, value_name = "FILE.svg|FILE.png", requires = "scenario")]
    pub plot: Option<PathBuf>,

    /// Keep this run as a named baseline (in the state directory)
    #[arg(long, value_name = "NAME", requires = "scenario")]
    pub save_baseline: Option<String>,

    /// Compare this run with a saved baseline
    #[arg(long, value_name = "NAME", requires = "scenario")]
    pub baseline: Option<String>,

    /// Measure our overhead against redis-benchmark on the same server (GET, 1 client, -P 16 and -P 1)
    #[arg(long, conflicts_with = "scenario")]
    pub calibrate: bool,

    /// Output format (--json prints JSON)
    #[arg(long, value_enum, default_value_t = ExportFormat::Text)]
    pub format: ExportFormat,

    /// Write the export to this file instead of stdout
    #[arg(long, short, value_name = "FILE")]
    pub output: Option<PathBuf>,

    #[command(flatten)]
    pub measure: MeasureFlags,
    #[command(flatten)]
    pub redis: RedisFlags,
    #[command(flatten)]
    pub display: DisplayFlags,
    #[command(flatten)]
    pub lang: LangFlag,
    #[command(flatten)]
    pub state_dir: StateDirFlag,
    #[command(flatten)]
    pub lessons_dir: LessonsDirFlag,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ExportFormat {
    /// Tables for the terminal
    Text,
    /// Markdown tables, ready for slides
    Markdown,
    /// One row per measurement, for spreadsheets
    Csv,
    /// One JSON document (as --json)
    Json,
}

#[derive(Debug, Args)]
pub struct NotesArgs {
    /// Lesson number or slug [default: every passage, in the notes' order]
    pub lesson: Option<String>,

    #[command(flatten)]
    pub display: DisplayFlags,
    #[command(flatten)]
    pub lang: LangFlag,
    #[command(flatten)]
    pub lessons_dir: LessonsDirFlag,
}

#[derive(Debug, Args)]
pub struct DoctorArgs {
    /// Remove the keys that interrupted runs left on this Redis (from the run journal in the state
    /// directory; only keys under their own `redis-learn:<run>:` prefix)
    #[arg(long)]
    pub clean: bool,

    #[command(flatten)]
    pub redis: RedisFlags,
    #[command(flatten)]
    pub display: DisplayFlags,
    #[command(flatten)]
    pub lang: LangFlag,
    #[command(flatten)]
    pub state_dir: StateDirFlag,
    #[command(flatten)]
    pub lessons_dir: LessonsDirFlag,
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

    #[command(flatten)]
    pub lang: LangFlag,
    #[command(flatten)]
    pub state_dir: StateDirFlag,
    #[command(flatten)]
    pub lessons_dir: LessonsDirFlag,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, ValueEnum)]
pub enum ColorChoice {
    #[default]
    Auto,
    Always,
    Never,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, ValueEnum)]
pub enum PinChoice {
    /// One CPU for this process, its threads and the redis-server it starts
    SameCpu,
    /// Let the operating system place everything
    #[default]
    None,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, ValueEnum)]
pub enum TraceChoice {
    /// Long arguments shortened, long commands cut after a dozen arguments
    #[default]
    Short,
    /// Every argument whole
    Full,
}

/// `--lang`: `en` and `zh` are complete (lessons and the tool's own words); any other code, such as
/// `fr`, shows what the lesson files have in that language (`--lessons-dir`) and English elsewhere.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LangChoice(pub String);

/// Parses `--lang`: any language code; `en` and `zh` are offered in help and completions.
#[derive(Debug, Clone, Copy)]
struct LangParser;

impl clap::builder::TypedValueParser for LangParser {
    type Value = LangChoice;

    fn parse_ref(
        &self,
        cmd: &clap::Command,
        arg: Option<&clap::Arg>,
        value: &std::ffi::OsStr,
    ) -> Result<LangChoice, clap::Error> {
        let code = value.to_string_lossy().trim().to_ascii_lowercase().replace('_', "-");
        if crate::lesson::is_language_code(&code) {
            return Ok(LangChoice(code));
        }
        let name = arg.map_or_else(|| "--lang".to_string(), ToString::to_string);
        let message = format!(
            "invalid value '{}' for '{name}': a language code such as en, zh, or one your lesson files add (fr, pt-br)\n",
            value.to_string_lossy()
        );
        Err(clap::Error::raw(clap::error::ErrorKind::ValueValidation, message).with_cmd(cmd))
    }

    fn possible_values(&self) -> Option<Box<dyn Iterator<Item = clap::builder::PossibleValue> + '_>> {
        Some(Box::new(["en", "zh"].into_iter().map(clap::builder::PossibleValue::new)))
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
        assert!(cli.global().quick && cli.global().json);
    }

    #[test]
    fn a_flag_that_does_not_apply_is_an_error() {
        for args in [
            &["redis-learn", "quiz", "1", "--no-quiz"][..],
            &["redis-learn", "check", "--quick"],
            &["redis-learn", "list", "--redis", "redis://127.0.0.1:6379"],
            &["redis-learn", "reset", "1", "--json"],
        ] {
            let err = Cli::try_parse_from(args).unwrap_err();
            assert_eq!(err.kind(), clap::error::ErrorKind::UnknownArgument, "{args:?}: {err}");
        }
        let err = Cli::try_parse_from(["redis-learn", "--json", "lesson", "1"]).unwrap_err();
        assert_eq!(err.kind(), clap::error::ErrorKind::ArgumentConflict, "{err}");
    }

    #[test]
    fn a_flag_of_another_subcommand_gets_no_dash_dash_tip() {
        let err = tidy(Cli::try_parse_from(["redis-learn", "quiz", "1", "--no-quiz"]).unwrap_err());
        let text = err.render().to_string();
        assert!(text.contains("unexpected argument '--no-quiz'") && !text.contains("as a value"), "{text}");
        // A similar flag is still suggested.
        let err = tidy(Cli::try_parse_from(["redis-learn", "quiz", "1", "--seeds", "3"]).unwrap_err());
        assert!(err.render().to_string().contains("--seed"), "{}", err.render());
    }

    #[test]
    fn without_a_subcommand_the_list_flags_apply() {
        let cli = Cli::try_parse_from(["redis-learn", "--json", "--lang", "zh"]).unwrap();
        assert!(cli.command.is_none() && cli.global().json);
        assert_eq!(cli.global().lang, Some(LangChoice("zh".to_string())));
    }

    #[test]
    fn no_subcommand_is_allowed() {
        let cli = Cli::try_parse_from(["redis-learn"]).unwrap();
        assert!(cli.command.is_none());
    }
}
