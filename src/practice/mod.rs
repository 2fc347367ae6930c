//! Hands-on practice (`redis-learn practice N`): the learner types Redis commands, and each task of
//! the lesson (`[[task]]` in its file) is checked on the server's state after every command.
//!
//! [`Session`] is the engine: it runs the tasks' setups, sends lines to Redis, formats replies like
//! `redis-cli`, and keeps which tasks passed and how many hints each used. The script runner and
//! the interactive prompt (in `commands::practice`) drive it.

pub mod reply;
pub mod task;

use std::time::Duration;

use redis::{Client, Connection};

pub use task::{Check, Task, TaskText};

use crate::i18n::Lang;
use crate::lesson::Lesson;

/// Commands this prompt does not send (lower case): they would hold the connection, or stop the
/// sandbox under the learner.
const NOT_HERE: [&str; 7] = ["subscribe", "psubscribe", "ssubscribe", "monitor", "shutdown", "sync", "psync"];

/// Where one task stands.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TaskState {
    pub passed: bool,
    pub skipped: bool,
    pub hints_used: usize,
}

/// What a typed line produced.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reply {
    /// The server's reply (an error reply included), formatted like `redis-cli`.
    Server(String),
    /// Not sent: why, in one line.
    Refused(String),
}

/// One practice run of a lesson on one connection.
pub struct Session<'a> {
    pub lesson: &'a Lesson,
    pub lang: Lang,
    pub states: Vec<TaskState>,
    con: Connection,
}

impl<'a> Session<'a> {
    /// Connect to `url` and run every task's setup, in order.
    pub fn start(lesson: &'a Lesson, lang: Lang, url: &str) -> redis::RedisResult<Session<'a>> {
        let client = Client::open(url)?;
        let con = client.get_connection_with_timeout(Duration::from_secs(5))?;
        con.set_read_timeout(Some(Duration::from_secs(30)))?;
        let mut session = Session { lesson, lang, states: vec![TaskState::default(); lesson.tasks.len()], con };
        for i in 0..lesson.tasks.len() {
            session.setup(i)?;
        }
        Ok(session)
    }

    fn setup(&mut self, index: usize) -> redis::RedisResult<()> {
        for line in &self.lesson.tasks[index].setup {
            let args =
                reply::split(line).map_err(|e| redis::RedisError::from((redis::ErrorKind::Client, "setup", e)))?;
            let mut cmd = redis::Cmd::new();
            for a in args {
                cmd.arg(a);
            }
            cmd.query::<redis::Value>(&mut self.con)?;
        }
        Ok(())
    }

    /// The task to work on: the first neither passed nor skipped.
    pub fn current(&self) -> Option<usize> {
        self.states.iter().position(|s| !s.passed && !s.skipped)
    }

    pub fn task(&self, index: usize) -> &Task {
        &self.lesson.tasks[index]
    }

    pub fn all_passed(&self) -> bool {
        self.states.iter().all(|s| s.passed)
    }

    /// Send one typed line. `Ok(None)` for a blank line; `Err` only when the connection failed.
    pub fn execute(&mut self, line: &str) -> redis::RedisResult<Option<Reply>> {
        let args = match reply::split(line) {
            Ok(args) if args.is_empty() => return Ok(None),
            Ok(args) => args,
            Err(e) => return Ok(Some(Reply::Refused(format!("(error) {e}")))),
        };
        let name = String::from_utf8_lossy(&args[0]).to_ascii_uppercase();
        if NOT_HERE.contains(&name.to_ascii_lowercase().as_str()) {
            let en =
                format!("{name} is not available in this prompt (it would hold the connection or stop the server)");
            let zh = format!("此提示符中不能使用 {name}（它会占住连接或停掉服务器）");
            return Ok(Some(Reply::Refused(self.lang.tr(&en, &zh).to_string())));
        }
        let mut cmd = redis::Cmd::new();
        for a in &args {
            cmd.arg(a.as_slice());
        }
        match cmd.query::<redis::Value>(&mut self.con) {
            Ok(value) => Ok(Some(Reply::Server(reply::format(&value)))),
            Err(e) if e.is_io_error() || e.is_timeout() || e.is_connection_dropped() => Err(e),
            Err(e) => Ok(Some(Reply::Server(reply::format_error(&e)))),
        }
    }

    /// Check every task not yet passed; returns those that pass now (a pass is kept).
    pub fn check(&mut self) -> redis::RedisResult<Vec<usize>> {
        let mut newly = Vec::new();
        for i in 0..self.states.len() {
            if self.states[i].passed {
                continue;
            }
            let mut all = true;
            for check in &self.lesson.tasks[i].checks {
                if !check.holds(&mut self.con, &|k| k.to_string())? {
                    all = false;
                    break;
                }
            }
            if all {
                self.states[i].passed = true;
                newly.push(i);
            }
        }
        Ok(newly)
    }

    /// The next hint of the current task (counted), or `None` when none is left.
    pub fn hint(&mut self) -> Option<(usize, String)> {
        let i = self.current()?;
        let hints = &self.task(i).text(self.lang).hints;
        let used = self.states[i].hints_used;
        let hint = hints.get(used)?.clone();
        self.states[i].hints_used += 1;
        Some((i, hint))
    }

    /// Leave the current task for later (it still passes if its state is reached).
    pub fn skip(&mut self) -> Option<usize> {
        let i = self.current()?;
        self.states[i].skipped = true;
        Some(i)
    }

    /// Delete the current task's keys and run its setup again.
    pub fn reset(&mut self) -> redis::RedisResult<Option<usize>> {
        let Some(i) = self.current() else { return Ok(None) };
        let keys = self.task(i).keys.clone();
        if !keys.is_empty() {
            redis::cmd("DEL").arg(&keys).query::<i64>(&mut self.con)?;
        }
        self.setup(i)?;
        Ok(Some(i))
    }
}
