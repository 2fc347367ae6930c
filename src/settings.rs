//! Raw arguments and environment, resolved once into [`Settings`]: color, terminal, JSON mode, scale,
//! language, the Redis target and the lessons source. Nothing downstream reads env vars or asks
//! whether a stream is a terminal.

use std::io::IsTerminal;
use std::path::PathBuf;

use crate::cli::{ColorChoice, GlobalArgs, LangChoice, PinChoice};
use crate::i18n::Lang;

/// Env var that replaces the default Redis address probed when no URL is given (used by tests, so
/// that they never depend on a server at 127.0.0.1:6379).
pub const DEFAULT_URL_ENV: &str = "REDIS_LEARN_DEFAULT_URL";
/// Env var for tests: every timed sample takes the same fixed time (a fake clock) and measurements
/// are tiny, so that the words a lesson prints can be snapshot-tested. Never for learners.
pub const FAKE_CLOCK_ENV: &str = "REDIS_LEARN_TEST_FAKE_CLOCK";
/// The address tried first when no URL is given.
pub const DEFAULT_URL: &str = "redis://127.0.0.1:6379";

/// How many operations a demo runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scale {
    Full,
    Quick,
}

impl Scale {
    /// Pick the full or the quick figure.
    pub fn pick(self, full: usize, quick: usize) -> usize {
        match self {
            Scale::Full => full,
            Scale::Quick => quick,
        }
    }
}

/// Which Redis to use.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RedisChoice {
    /// `--redis` or `REDIS_URL`: use exactly this one, fail clearly if it does not answer.
    Explicit(String),
    /// `--private`: always start our own.
    Private,
    /// Nothing said: try the default address, else start a private one.
    Default(String),
}

/// Everything the commands need to know about how they were asked to run.
#[derive(Debug, Clone)]
pub struct Settings {
    pub color: bool,
    pub json: bool,
    pub scale: Scale,
    pub quiz: bool,
    pub lang: Lang,
    /// `--lang fr` (any language but en and zh): the lesson files' words in that language replace
    /// English where they exist; the tool's own words stay in English.
    pub lesson_lang: Option<String>,
    /// Both stdin and stdout are terminals: prompts and progress bars are allowed.
    pub interactive: bool,
    /// Wait for Enter between demos and before the quiz: at a terminal, without --json or --no-pause.
    pub pause: bool,
    pub redis: RedisChoice,
    pub allow_remote: bool,
    pub lessons_dir: Option<PathBuf>,
    /// Columns to wrap text at.
    pub width: usize,
    /// stdout is a terminal, so `width` is its width (else a pipe or a file, and 100).
    pub stdout_tty: bool,
    /// Where progress is kept; `None` when no data dir can be found (progress then lives in memory).
    pub state_dir: Option<PathBuf>,
    /// A networked SQL server to compare against, when the learner names one.
    pub sql_url: Option<String>,
    /// `--pin same-cpu`: measure on one CPU (see [`crate::measure::placement`]).
    pub pin_same_cpu: bool,
    /// Tests only ([`FAKE_CLOCK_ENV`]): time every sample with a fake clock.
    pub fake_clock: bool,
    /// Where this run measures: set once by [`crate::run`] when it applies `pin_same_cpu`.
    pub placement: crate::measure::Placement,
    /// How much of each command the "commands sent" lines show (`--trace`).
    pub trace: crate::server::TraceDetail,
    /// `--keep MINUTES`: leave the lesson's keys with this TTL instead of removing them.
    pub keep: Option<std::time::Duration>,
}

impl Settings {
    pub fn resolve(args: &GlobalArgs) -> Settings {
        let stdout_tty = std::io::stdout().is_terminal();
        let interactive = stdout_tty && std::io::stdin().is_terminal() && !is_ci();
        let color = match args.color {
            ColorChoice::Always => true,
            ColorChoice::Never => false,
            ColorChoice::Auto => stdout_tty && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty()),
        };
        let lang = resolve_lang(args);
        let redis = if args.private {
            RedisChoice::Private
        } else if let Some(url) = args.redis.as_ref().filter(|u| !u.is_empty()) {
            RedisChoice::Explicit(url.clone())
        } else {
            RedisChoice::Default(std::env::var(DEFAULT_URL_ENV).unwrap_or_else(|_| DEFAULT_URL.to_string()))
        };
        Settings {
            color,
            json: args.json,
            scale: if args.quick { Scale::Quick } else { Scale::Full },
            quiz: !args.no_quiz,
            lang,
            lesson_lang: args.lang.as_ref().map(|l| l.0.clone()).filter(|code| Lang::from_code(code).is_none()),
            interactive,
            pause: interactive && !args.json && !args.no_pause,
            redis,
            allow_remote: args.allow_remote,
            lessons_dir: args.lessons_dir.clone(),
            width: console::Term::stdout().size_checked().map_or(100, |(_, cols)| usize::from(cols)),
            stdout_tty,
            state_dir: args.state_dir.clone().or_else(|| dirs::data_dir().map(|d| d.join("redis-learn"))),
            sql_url: args.sql_url.clone().filter(|u| !u.is_empty()),
            pin_same_cpu: args.pin == PinChoice::SameCpu,
            fake_clock: std::env::var_os(FAKE_CLOCK_ENV).is_some_and(|v| v == "1"),
            placement: crate::measure::Placement::None {
                cpus: std::thread::available_parallelism().map_or(1, |n| n.get()),
            },
            trace: match args.trace {
                crate::cli::TraceChoice::Short => crate::server::TraceDetail::Short,
                crate::cli::TraceChoice::Full => crate::server::TraceDetail::Full,
            },
            keep: args.keep.map(|minutes| std::time::Duration::from_secs(u64::from(minutes) * 60)),
        }
    }
}

impl Settings {
    /// The flags a hint must repeat for the command it suggests to read the same lessons:
    /// ` --lessons-dir DIR` and, for a third language, ` --lang CODE` (empty for the built-in lessons).
    pub fn repeat_flags(&self) -> String {
        let mut flags = String::new();
        if let Some(dir) = &self.lessons_dir {
            let dir = dir.display().to_string();
            let quoted = if dir.contains([' ', '\'', '"']) { format!("'{}'", dir.replace('\'', "'\\''")) } else { dir };
            flags.push_str(&format!(" --lessons-dir {quoted}"));
        }
        if let Some(code) = &self.lesson_lang {
            flags.push_str(&format!(" --lang {code}"));
        }
        flags
    }
}

/// `--lang`, else `REDIS_LEARN_LANG` (both via clap), else the locale.
pub fn resolve_lang(args: &GlobalArgs) -> Lang {
    match &args.lang {
        Some(LangChoice(code)) => Lang::from_code(code).unwrap_or(Lang::En),
        None => Lang::from_locale(&locale()),
    }
}

fn is_ci() -> bool {
    std::env::var_os("CI").is_some_and(|v| !v.is_empty() && v != "false" && v != "0")
}

/// The locale the way POSIX ranks it: LC_ALL, then LC_MESSAGES, then LANG.
fn locale() -> String {
    ["LC_ALL", "LC_MESSAGES", "LANG"]
        .iter()
        .filter_map(|name| std::env::var(name).ok())
        .find(|v| !v.is_empty())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scale_picks_the_right_figure() {
        assert_eq!(Scale::Full.pick(10_000, 500), 10_000);
        assert_eq!(Scale::Quick.pick(10_000, 500), 500);
    }
}
