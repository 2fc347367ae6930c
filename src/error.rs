//! Errors a learner can fix, each one line that says what to do, and the exit codes they map to.
//!
//! Plumbing failures travel as `anyhow::Error` with context; [`exit_code`] and [`render`] are the one
//! place that turns any error into text and an exit code.

use std::fmt::Write as _;

use crate::i18n::Lang;
use crate::text::Text;
use crate::words;

/// Everything went as promised.
pub const EXIT_OK: u8 = 0;
/// A claim did not hold, a demo failed, or a quiz was not passed.
pub const EXIT_FAILED: u8 = 1;
/// A usage or environment problem: bad arguments, no Redis, no terminal for a quiz.
pub const EXIT_USAGE: u8 = 2;
/// Stopped by Ctrl-C (128 + SIGINT), after cleaning up; SIGTERM gives 143 and SIGHUP 129.
pub const EXIT_INTERRUPTED: u8 = 130;
/// The reader of stdout went away (`redis-learn lesson 2 | head`): 128 + SIGPIPE, as a shell reports
/// a program that a closed pipe stopped; the run cleaned up first and says nothing.
pub const EXIT_BROKEN_PIPE: u8 = 141;

/// What the learner can fix. The words of each are the message `error.<kebab-case name>` of
/// `lessons/ui.toml`, filled with the fields (see [`UserError::text`]); `Display` is the English.
#[derive(Debug)]
pub enum UserError {
    LessonNotFound {
        query: String,
        known: String,
    },

    BadRedisUrl {
        url: String,
        reason: String,
    },

    RemoteNotAllowed {
        host: String,
    },

    RedisDown {
        url: String,
        reason: String,
    },

    /// Something listens at the URL, and it is not a Redis that answers.
    NotRedis {
        url: String,
        sign: NotRedisSign,
    },

    /// The URL's database number is one the server does not have (`SELECT` refused it).
    NoSuchDb {
        url: String,
        db: i64,
    },

    AuthRequired {
        url: String,
    },

    AuthFailed {
        url: String,
    },

    ServerStopped {
        url: String,
        reason: String,
        during: String,
    },

    NoPermission {
        url: String,
        command: String,
    },

    OutOfMemory {
        url: String,
    },

    Loading {
        url: String,
        eta: String,
    },

    BusyScript {
        url: String,
    },

    MaxClients {
        url: String,
    },

    ProtectedMode {
        url: String,
    },

    UnknownCommand {
        url: String,
        version: String,
        command: String,
    },

    ClusterMode {
        url: String,
    },

    ClusterDown {
        url: String,
        state: String,
    },

    ReadOnlyReplica {
        url: String,
        primary: String,
    },

    NoHeadroom {
        url: String,
        free: String,
        limit: String,
        policy: String,
    },

    BadSqlUrl {
        url: String,
        reason: String,
    },

    SqlUnavailable {
        url: String,
        reason: String,
    },

    SqlNotBuilt {
        url: String,
    },

    NoRedisAvailable,

    PrivateServerFailed {
        reason: String,
    },

    NoTerminal,

    NeedsConfirmation,

    BadBench {
        reason: String,
    },

    PlotFormat {
        path: String,
    },

    NoPlotFonts {
        path: String,
    },

    PlotFontLacks {
        path: String,
        chars: String,
    },

    BadAnswers {
        given: String,
        reason: String,
    },

    BadLessonFile {
        path: String,
        reason: String,
    },

    Interrupted,

    QuizStopped {
        lesson: u32,
        answered: usize,
        next: usize,
    },
}

/// What gave away that the program at a Redis URL is not a Redis that answers, from the first
/// bytes it sent back to an inline `PING`.
#[derive(Debug, Clone, PartialEq)]
pub enum NotRedisSign {
    /// A reply starting `HTTP/`: a web server.
    Http,
    /// A greeting of protocol version 10 before any command: MySQL or MariaDB.
    MySql,
    /// The connection closed, or was reset, with no reply.
    Closed,
    /// The connection was accepted, and nothing came back: a paused server, or not Redis.
    Silent,
    /// Some other reply, its first bytes shown printable.
    Other(String),
}

impl std::fmt::Display for UserError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message(Lang::En))
    }
}

impl std::error::Error for UserError {}

impl UserError {
    /// The message, to be said in the learner's language: its id in `lessons/ui.toml` and the
    /// fields as facts.
    pub fn text(&self) -> Text {
        match self {
            UserError::LessonNotFound { query, known } => {
                words::msg("error.lesson-not-found").fact("query", query).fact("known", known)
            }
            UserError::BadRedisUrl { url, reason } => {
                words::msg("error.bad-redis-url").fact("url", url).fact("reason", reason)
            }
            UserError::RemoteNotAllowed { host } => words::msg("error.remote-not-allowed").fact("host", host),
            UserError::RedisDown { url, reason } => {
                words::msg("error.redis-down").fact("url", url).fact("reason", reason)
            }
            UserError::NotRedis { url, sign } => match sign {
                NotRedisSign::Http => words::msg("error.not-redis-http").fact("url", url),
                NotRedisSign::MySql => words::msg("error.not-redis-mysql").fact("url", url),
                NotRedisSign::Closed => words::msg("error.not-redis-closed").fact("url", url),
                NotRedisSign::Silent => words::msg("error.not-redis-silent").fact("url", url),
                NotRedisSign::Other(start) => words::msg("error.not-redis-other").fact("url", url).fact("start", start),
            },
            UserError::NoSuchDb { url, db } => words::msg("error.no-such-db").fact("url", url).fact("db", *db),
            UserError::AuthRequired { url } => words::msg("error.auth-required").fact("url", url),
            UserError::AuthFailed { url } => words::msg("error.auth-failed").fact("url", url),
            UserError::ServerStopped { url, reason, during } => {
                words::msg("error.server-stopped").fact("url", url).fact("reason", reason).fact("during", during)
            }
            UserError::NoPermission { url, command } => {
                words::msg("error.no-permission").fact("url", url).fact("command", command)
            }
            UserError::OutOfMemory { url } => words::msg("error.out-of-memory").fact("url", url),
            UserError::Loading { url, eta } => words::msg("error.loading").fact("url", url).fact("eta", eta),
            UserError::BusyScript { url } => words::msg("error.busy-script").fact("url", url),
            UserError::MaxClients { url } => words::msg("error.max-clients").fact("url", url),
            UserError::ProtectedMode { url } => words::msg("error.protected-mode").fact("url", url),
            UserError::UnknownCommand { url, version, command } => {
                words::msg("error.unknown-command").fact("url", url).fact("version", version).fact("command", command)
            }
            UserError::ClusterMode { url } => words::msg("error.cluster-mode").fact("url", url),
            UserError::ClusterDown { url, state } => {
                words::msg("error.cluster-down").fact("url", url).fact("state", state)
            }
            UserError::ReadOnlyReplica { url, primary } => {
                words::msg("error.read-only-replica").fact("url", url).fact("primary", primary)
            }
            UserError::NoHeadroom { url, free, limit, policy } => words::msg("error.no-headroom")
                .fact("url", url)
                .fact("free", free)
                .fact("limit", limit)
                .fact("policy", policy),
            UserError::BadSqlUrl { url, reason } => {
                words::msg("error.bad-sql-url").fact("url", url).fact("reason", reason)
            }
            UserError::SqlUnavailable { url, reason } => {
                words::msg("error.sql-unavailable").fact("url", url).fact("reason", reason)
            }
            UserError::SqlNotBuilt { url } => words::msg("error.sql-not-built").fact("url", url),
            UserError::NoRedisAvailable => words::msg("error.no-redis-available"),
            UserError::PrivateServerFailed { reason } => {
                words::msg("error.private-server-failed").fact("reason", reason)
            }
            UserError::NoTerminal => words::msg("error.no-terminal"),
            UserError::NeedsConfirmation => words::msg("error.needs-confirmation"),
            UserError::BadAnswers { given, reason } => {
                words::msg("error.bad-answers").fact("given", given).fact("reason", reason)
            }
            UserError::BadLessonFile { path, reason } => {
                words::msg("error.bad-lesson-file").fact("path", path).fact("reason", reason)
            }
            UserError::Interrupted => words::msg("error.interrupted"),
            UserError::BadBench { reason } => words::msg("error.bad-bench").fact("reason", reason),
            UserError::PlotFormat { path } => words::msg("error.plot-format").fact("path", path),
            UserError::NoPlotFonts { path } => words::msg("error.no-plot-fonts").fact("path", path),
            UserError::PlotFontLacks { path, chars } => {
                words::msg("error.plot-font-lacks").fact("path", path).fact("chars", chars)
            }
            UserError::QuizStopped { lesson, answered, next } => {
                words::msg("error.quiz-stopped").fact("lesson", *lesson).fact("answered", *answered).fact("next", *next)
            }
        }
    }

    /// The message in the learner's language.
    pub fn message(&self, lang: Lang) -> String {
        lang.say(self.text())
    }

    pub fn exit_code(&self) -> u8 {
        match self {
            UserError::Interrupted => crate::interrupt::exit_code(),
            UserError::QuizStopped { .. } => EXIT_INTERRUPTED,
            _ => EXIT_USAGE,
        }
    }
}

/// The exit code for an error that reached `main`.
pub fn exit_code(err: &anyhow::Error) -> u8 {
    match err.downcast_ref::<UserError>() {
        Some(user) => user.exit_code(),
        // Anything else is an environment problem we could not classify: still exit 2, never panic.
        None => EXIT_USAGE,
    }
}

/// One line (plus its causes, joined) for the terminal, in English.
pub fn render(err: &anyhow::Error) -> String {
    render_in(err, Lang::En)
}

/// One line for the terminal, in the learner's language where we wrote the message ourselves.
pub fn render_in(err: &anyhow::Error, lang: Lang) -> String {
    lang.say(crate::text::Text::msg("error").fact("message", describe(err, lang)))
}

/// What went wrong, without the `error:` prefix: our own message, or the error and its causes.
pub fn describe(err: &anyhow::Error, lang: Lang) -> String {
    if let Some(user) = err.downcast_ref::<UserError>() {
        return user.message(lang);
    }
    let mut line = clip(&err.to_string());
    for cause in err.chain().skip(1) {
        let cause = clip(&cause.to_string());
        // redis errors often repeat their cause in their own text: say it once.
        if !line.contains(&cause) {
            let _ = write!(line, ": {cause}");
        }
    }
    line.replace('\n', " ")
}

/// A server's reply can be kilobytes long (a pipeline's every error): keep a line readable.
const MAX_PART: usize = 240;

fn clip(text: &str) -> String {
    if text.chars().count() <= MAX_PART {
        return text.to_string();
    }
    let kept: String = text.chars().take(MAX_PART).collect();
    format!("{kept}… ({} bytes in all)", text.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn user_errors_are_one_line_and_exit_2() {
        let err = anyhow::Error::new(UserError::RemoteNotAllowed { host: "10.1.2.3".into() });
        let text = render(&err);
        assert!(!text.contains('\n'));
        assert!(text.contains("--allow-remote"));
        assert_eq!(exit_code(&err), EXIT_USAGE);
    }

    #[test]
    fn plumbing_errors_show_their_causes() {
        let err = anyhow::anyhow!("disk full").context("writing progress");
        assert_eq!(render(&err), "error: writing progress: disk full");
        assert_eq!(exit_code(&err), EXIT_USAGE);
    }

    #[test]
    fn every_message_has_a_chinese_line() {
        let err = anyhow::Error::new(UserError::AuthRequired { url: "redis://127.0.0.1:6379".into() });
        let zh = render_in(&err, Lang::Zh);
        assert!(zh.starts_with("错误：") && zh.contains("密码") && !zh.contains('\n'), "{zh}");
        assert!(UserError::NoRedisAvailable.message(Lang::Zh).contains("apt install redis-server"));
    }

    #[test]
    fn long_and_repeated_causes_are_cut_and_said_once() {
        let huge = "OOM command not allowed when used memory > 'maxmemory'. ".repeat(4_000);
        let err = anyhow::anyhow!(huge.clone()).context(huge.clone());
        let text = render(&err);
        assert!(text.len() < 600, "{}", text.len());
        assert_eq!(text.matches("bytes in all").count(), 1, "{text}");
        assert!(!text.contains('\n'));
    }

    #[test]
    fn interrupt_exits_130() {
        assert_eq!(exit_code(&UserError::Interrupted.into()), EXIT_INTERRUPTED);
    }
}
