//! Errors a learner can fix, each one line that says what to do, and the exit codes they map to.
//!
//! Plumbing failures travel as `anyhow::Error` with context; [`exit_code`] and [`render`] are the one
//! place that turns any error into text and an exit code.

use std::fmt::Write as _;

use thiserror::Error;

use crate::i18n::Lang;

/// Everything went as promised.
pub const EXIT_OK: u8 = 0;
/// A claim did not hold, a demo failed, or a quiz was not passed.
pub const EXIT_FAILED: u8 = 1;
/// A usage or environment problem: bad arguments, no Redis, no terminal for a quiz.
pub const EXIT_USAGE: u8 = 2;
/// Stopped by Ctrl-C (128 + SIGINT), after cleaning up; SIGTERM gives 143 and SIGHUP 129.
pub const EXIT_INTERRUPTED: u8 = 130;

/// How to get a Redis, in one line.
pub const GET_REDIS_HINT: &str = "install one (Debian/Ubuntu: `sudo apt install redis-server`, macOS: `brew install redis`, \
     or `docker run -p 6379:6379 redis`) or pass --redis URL";

/// How to get a Redis, in one line, in Chinese.
pub const GET_REDIS_HINT_ZH: &str = "请安装一个（Debian/Ubuntu：`sudo apt install redis-server`，macOS：`brew install redis`，\
     或 `docker run -p 6379:6379 redis`），或用 --redis URL 指定";

#[derive(Debug, Error)]
pub enum UserError {
    #[error("no lesson {query:?}: try one of {known} (see `redis-learn list`)")]
    LessonNotFound { query: String, known: String },

    #[error("{url:?} is not a Redis URL ({reason}); use the form redis://HOST:PORT[/DB]")]
    BadRedisUrl { url: String, reason: String },

    #[error("refusing to use {host}: it is not on this machine. Pass --allow-remote if you really mean it")]
    RemoteNotAllowed { host: String },

    #[error(
        "no Redis answered at {url} ({reason}): start it, or pass --redis URL, or --private to start a private one"
    )]
    RedisDown { url: String, reason: String },

    #[error("the Redis at {url} needs a password: put it in the URL, redis://:PASSWORD@HOST:PORT")]
    AuthRequired { url: String },

    #[error("the Redis at {url} refused the password: check the password (and user) in the URL")]
    AuthFailed { url: String },

    #[error(
        "the Redis at {url} stopped answering ({reason}) during {during}: check that it runs and is not paused, then rerun; keys left behind are removed by the next run"
    )]
    ServerStopped { url: String, reason: String, during: String },

    #[error(
        "the Redis user at {url} may not run {command} (NOPERM): give it the ACL in README's \"Any Redis\" section, or pass --private"
    )]
    NoPermission { url: String, command: String },

    #[error("the Redis at {url} is full (OOM: used memory is at maxmemory): free some memory, or pass --private")]
    OutOfMemory { url: String },

    #[error("the Redis at {url} is still loading its data set ({eta}): try again when it has finished")]
    Loading { url: String, eta: String },

    #[error(
        "the Redis at {url} is busy running a script (BUSY): wait for it to finish (or SCRIPT KILL it), then rerun"
    )]
    BusyScript { url: String },

    #[error(
        "the Redis at {url} refused the connection: max number of clients reached; close some clients, or pass --private"
    )]
    MaxClients { url: String },

    #[error(
        "the Redis at {url} is in protected mode and refuses clients without a password: set one (requirepass) and put it in the URL, or pass --private"
    )]
    ProtectedMode { url: String },

    #[error(
        "the Redis at {url} (version {version}) does not know {command}: this demo needs a newer Redis; pass --private to use the redis-server on PATH"
    )]
    UnknownCommand { url: String, version: String, command: String },

    #[error(
        "the Redis at {url} is a Redis Cluster node: the lessons do not run on a cluster yet; pass --private, or --redis with a standalone server"
    )]
    ClusterMode { url: String },

    #[error(
        "the Redis at {url} is a read-only replica (of {primary}): lessons write keys, so point --redis at the primary, or pass --private"
    )]
    ReadOnlyReplica { url: String, primary: String },

    #[error(
        "the Redis at {url} has {free} left below its maxmemory of {limit} (policy {policy}): the demos could push other clients' keys out or make their writes fail; pass --private"
    )]
    NoHeadroom { url: String, free: String, limit: String, policy: String },

    #[error(
        "{url:?} is not a SQL URL ({reason}); use mysql://USER[:PASSWORD]@HOST:PORT/DB or postgres://USER@HOST:PORT/DB"
    )]
    BadSqlUrl { url: String, reason: String },

    #[error(
        "could not use the SQL server at {url} ({reason}): start it, fix --sql-url, or leave --sql-url out to compare with SQLite only"
    )]
    SqlUnavailable { url: String, reason: String },

    #[error(
        "this build has no MySQL/PostgreSQL client for {url}: rebuild with `cargo install --path . --features networked-sql` (or `cargo run --release --features networked-sql -- ...`), or leave --sql-url out to compare with SQLite only"
    )]
    SqlNotBuilt { url: String },

    #[error("no Redis at 127.0.0.1:6379 and no `redis-server` on PATH to start a private one: {GET_REDIS_HINT}")]
    NoRedisAvailable,

    #[error("could not start a private redis-server: {reason}")]
    PrivateServerFailed { reason: String },

    #[error("the quiz needs a terminal, or answers: pass --answers b,a,c,... or one letter a line on stdin")]
    NoTerminal,

    #[error("reset needs a confirmation: run it at a terminal, or add --yes")]
    NeedsConfirmation,

    #[error(
        "--keep needs a Redis that outlives the run, and this one is a private redis-server that stops when the lesson ends: name a server with --redis (e.g. redis://127.0.0.1:6379)"
    )]
    KeepNeedsServer,

    #[error("bench: {reason}")]
    BadBench { reason: String },

    #[error("bad answers {given:?}: {reason}")]
    BadAnswers { given: String, reason: String },

    #[error("lesson file {path}: {reason}")]
    BadLessonFile { path: String, reason: String },

    #[error("interrupted; the demo's keys were cleaned up")]
    Interrupted,

    #[error(
        "quiz stopped: your {answered} answers so far are kept; `redis-learn quiz {lesson}` continues from question {next}"
    )]
    QuizStopped { lesson: u32, answered: usize, next: usize },
}

impl UserError {
    /// The message in the learner's language (English is the `Display` text).
    pub fn message(&self, lang: Lang) -> String {
        if lang == Lang::En {
            return self.to_string();
        }
        match self {
            UserError::LessonNotFound { query, known } => {
                format!("没有课程 {query:?}：可选 {known}（见 `redis-learn list`）")
            }
            UserError::BadRedisUrl { url, reason } => {
                format!("{url:?} 不是 Redis URL（{reason}）；请使用 redis://HOST:PORT[/DB] 的形式")
            }
            UserError::RemoteNotAllowed { host } => {
                format!("拒绝使用 {host}：它不在本机。确实要用的话请加 --allow-remote")
            }
            UserError::RedisDown { url, reason } => {
                format!(
                    "{url} 没有 Redis 应答（{reason}）：请启动它，或用 --redis URL 指定，或用 --private 启动私有实例"
                )
            }
            UserError::AuthRequired { url } => {
                format!("{url} 的 Redis 需要密码：请写进 URL，例如 redis://:PASSWORD@HOST:PORT")
            }
            UserError::AuthFailed { url } => format!("{url} 的 Redis 拒绝了密码：请检查 URL 中的密码（和用户名）"),
            UserError::ServerStopped { url, reason, during } => format!(
                "{url} 的 Redis 在{during}时停止了应答（{reason}）：请确认它在运行且没有被暂停，然后重跑；留下的键会在下次运行时清除"
            ),
            UserError::NoPermission { url, command } => format!(
                "{url} 的 Redis 用户无权执行 {command}（NOPERM）：请按 README “Any Redis” 一节给它配置 ACL，或加 --private"
            ),
            UserError::OutOfMemory { url } => {
                format!("{url} 的 Redis 已满（OOM：内存用量达到 maxmemory）：请释放一些内存，或加 --private")
            }
            UserError::Loading { url, eta } => format!("{url} 的 Redis 仍在加载数据（{eta}）：请等它加载完再试"),
            UserError::BusyScript { url } => {
                format!("{url} 的 Redis 正在执行脚本（BUSY）：请等它结束（或 SCRIPT KILL），然后重跑")
            }
            UserError::MaxClients { url } => {
                format!("{url} 的 Redis 拒绝连接：客户端数已达上限；请关闭一些客户端，或加 --private")
            }
            UserError::ProtectedMode { url } => format!(
                "{url} 的 Redis 处于保护模式，拒绝没有密码的客户端：请设置密码（requirepass）并写进 URL，或加 --private"
            ),
            UserError::UnknownCommand { url, version, command } => format!(
                "{url} 的 Redis（版本 {version}）不认识 {command}：这个演示需要更新的 Redis；加 --private 可使用 PATH 中的 redis-server"
            ),
            UserError::ClusterMode { url } => format!(
                "{url} 的 Redis 是 Redis Cluster 节点：课程暂时不能在集群上运行；请加 --private，或用 --redis 指定单机服务端"
            ),
            UserError::ReadOnlyReplica { url, primary } => format!(
                "{url} 的 Redis 是只读副本（主节点 {primary}）：课程要写键，请用 --redis 指向主节点，或加 --private"
            ),
            UserError::NoHeadroom { url, free, limit, policy } => format!(
                "{url} 的 Redis 距离 maxmemory（{limit}，策略 {policy}）只剩 {free}：演示可能把其他客户端的键挤出去或让它们写入失败；请加 --private"
            ),
            UserError::BadSqlUrl { url, reason } => format!(
                "{url:?} 不是 SQL URL（{reason}）；请使用 mysql://USER[:PASSWORD]@HOST:PORT/DB 或 postgres://USER@HOST:PORT/DB 的形式"
            ),
            UserError::SqlNotBuilt { url } => format!(
                "这个构建没有 MySQL/PostgreSQL 客户端，无法连接 {url}：请用 `cargo install --path . --features networked-sql`（或 `cargo run --release --features networked-sql -- ...`）重新构建，或去掉 --sql-url 只与 SQLite 比较"
            ),
            UserError::SqlUnavailable { url, reason } => format!(
                "无法使用 {url} 的 SQL 服务器（{reason}）：请启动它，或修正 --sql-url，或去掉 --sql-url 只与 SQLite 比较"
            ),
            UserError::NoRedisAvailable => format!(
                "127.0.0.1:6379 上没有 Redis，PATH 中也没有可启动私有实例的 `redis-server`：{GET_REDIS_HINT_ZH}"
            ),
            UserError::PrivateServerFailed { reason } => format!("无法启动私有 redis-server：{reason}"),
            UserError::NoTerminal => {
                "测验需要终端或答案：请用 --answers b,a,c,... 传入，或在标准输入中每行一个字母".to_string()
            }
            UserError::NeedsConfirmation => "reset 需要确认：请在终端中运行，或加 --yes".to_string(),
            UserError::KeepNeedsServer => "--keep 需要一个比本次运行活得更久的 Redis，而这里是课程结束就停止的私有 redis-server：请用 --redis 指定一个服务端（例如 redis://127.0.0.1:6379）".to_string(),
            UserError::BadAnswers { given, reason } => format!("答案 {given:?} 有误：{reason}"),
            UserError::BadLessonFile { path, reason } => format!("课程文件 {path}：{reason}"),
            UserError::Interrupted => "已中断；演示写入的键已清理".to_string(),
            UserError::BadBench { reason } => format!("bench：{reason}"),
            UserError::QuizStopped { lesson, answered, next } => {
                format!("测验已停止：已答的 {answered} 题都已保存；`redis-learn quiz {lesson}` 会从第 {next} 题继续")
            }
        }
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
    format!("{}{}", lang.tr("error: ", "错误："), describe(err, lang))
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
