//! Hands-on practice (`redis-learn practice N`): the learner types Redis commands, and each task of
//! the lesson (`[[task]]` in its file) is checked on the server's state after every command.
//!
//! [`Session`] is the engine: it runs the tasks' setups, sends lines to Redis, formats replies like
//! `redis-cli`, and keeps which tasks passed and how many hints each used. The script runner and
//! the interactive prompt (in `commands::practice`) drive it.
//!
//! Checks read the server's state; a `used` check also reads the commands this session sent (a
//! counter set to 3 with SET is the right state reached without the point of the task). A
//! "predict, then run" task holds back every command on its keys until the prediction is made, so
//! the reply cannot be looked up first.

pub mod confine;
pub mod reply;
pub mod task;

use std::time::Duration;

use redis::{Client, Connection};

pub use confine::{Confinement, Refusal};
pub use task::{Check, Task, TaskText};

use crate::i18n::Lang;
use crate::lesson::Lesson;
use crate::words;

/// Commands this prompt does not send (lower case): they would hold the connection, or stop the
/// sandbox under the learner.
const NOT_HERE: [&str; 7] = ["subscribe", "psubscribe", "ssubscribe", "monitor", "shutdown", "sync", "psync"];

/// Where one task stands.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TaskState {
    pub passed: bool,
    pub skipped: bool,
    pub hints_used: usize,
    /// A "predict, then run" task: the learner predicted its reply right.
    pub predicted: bool,
    pub wrong_predictions: usize,
    /// A "predict, then run" task: its command ran (the learner has seen the reply), so commands
    /// on its keys are no longer held back. `reset` holds them back again.
    pub revealed: bool,
    /// The learner was told that the state is right but the task's command was not used.
    pub told_command: bool,
}

/// What one round of checks found.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Checked {
    /// Tasks that pass now.
    pub passed: Vec<usize>,
    /// Tasks whose state is right, reached without the command they ask for (each told once).
    pub needs_command: Vec<usize>,
}

/// Commands kept for `used` checks, at most (a long script forgets the oldest).
const SENT_KEPT: usize = 10_000;

/// A command's outcome before it is printed.
enum Sent {
    /// `raw`: a command `redis-cli` prints raw (INFO, CLIENT LIST, …).
    Value {
        value: redis::Value,
        raw: bool,
    },
    Error(redis::RedisError),
    Refused(Reply),
}

/// What a `predict` line did: the task, the command run, its reply and whether the prediction
/// matched.
#[derive(Debug, Clone)]
pub struct Prediction {
    pub task: usize,
    pub command: String,
    pub reply: Reply,
    pub right: bool,
}

/// What a typed line produced.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reply {
    /// The server's reply (an error reply included), formatted like `redis-cli`.
    Server(String),
    /// Not sent: why, in one line.
    Refused(String),
}

impl Reply {
    /// The line for a command that confinement refused.
    pub fn refused(refusal: &Refusal, lang: Lang) -> Reply {
        let text = match refusal {
            Refusal::WholeServer(name) => words::msg("practice.refused-whole-server").fact("command", name.as_str()),
            Refusal::Keys => words::msg("practice.refused-keys"),
            Refusal::ScanNeedsMatch => words::msg("practice.refused-scan-needs-match"),
            Refusal::SortPattern => words::msg("practice.refused-sort-pattern"),
            Refusal::ForeignKey(key) => words::msg("practice.refused-foreign-key").fact("key", key.as_str()),
            Refusal::Unconfinable(why) => words::msg("practice.refused-unconfinable").fact("why", why.as_str()),
            Refusal::Script(why) => words::msg("practice.refused-script").fact("why", why.as_str()),
            Refusal::UnknownScript => words::msg("practice.refused-unknown-script"),
        };
        Reply::Refused(lang.say(text))
    }
}

/// Hold back a command on a "predict, then run" task's keys until the prediction is made.
struct HeldBack {
    task: usize,
    key: String,
}

/// One practice run of a lesson on one connection.
pub struct Session<'a> {
    pub lesson: &'a Lesson,
    pub lang: Lang,
    pub states: Vec<TaskState>,
    /// The learner's connection.
    con: Connection,
    /// A second connection for checks and key look-ups (the learner's may be inside MULTI).
    probe: Connection,
    /// On a learner's own server: the namespace every key is moved into.
    confine: Option<Confinement>,
    /// The commands the server accepted, as sent (keys prefixed on a learner's server), oldest
    /// first: what `used` checks read.
    sent: std::collections::VecDeque<Vec<Vec<u8>>>,
}

impl<'a> Session<'a> {
    /// Connect and run every task's setup, in order. With `namespace`, every key goes under it (a
    /// learner's own server); without, the server is a private sandbox.
    pub fn start(
        lesson: &'a Lesson,
        lang: Lang,
        client: &Client,
        namespace: Option<crate::server::Namespace>,
    ) -> redis::RedisResult<Session<'a>> {
        let open = || -> redis::RedisResult<Connection> {
            let con = client.get_connection_with_timeout(Duration::from_secs(5))?;
            con.set_read_timeout(Some(Duration::from_secs(30)))?;
            con.set_write_timeout(Some(Duration::from_secs(30)))?;
            Ok(con)
        };
        let mut session = Session {
            lesson,
            lang,
            states: vec![TaskState::default(); lesson.tasks.len()],
            con: open()?,
            probe: open()?,
            confine: None,
            sent: Default::default(),
        };
        if let Some(namespace) = namespace {
            // Every key a task names is the practice's own, even where the server holds one of the
            // same name: the checked keys, and those its setup, solution and predicted command use.
            let mut confine = Confinement::new(namespace, lesson.tasks.iter().flat_map(|t| t.keys.clone()));
            for task in &lesson.tasks {
                let lines = task.setup.iter().chain(&task.solution).chain(&task.predict);
                for line in lines.filter(|l| !l.trim_start().to_ascii_lowercase().starts_with("predict ")) {
                    if let Ok(args) = reply::split(line)
                        && !args.is_empty()
                    {
                        confine.add_task_keys(&args, &mut session.probe)?;
                    }
                }
            }
            session.confine = Some(confine);
        }
        for i in 0..lesson.tasks.len() {
            if session.available(i) {
                session.setup(i)?;
            }
        }
        Ok(session)
    }

    /// Can task `index` be done here? A task whose checks read the server's configuration needs
    /// the private server: CONFIG is refused on a learner's own.
    pub fn available(&self, index: usize) -> bool {
        self.confine.is_none() || self.lesson.tasks[index].checks.iter().all(|c| c.key().is_some())
    }

    /// The namespace keys live under on a learner's own server.
    pub fn namespace(&self) -> Option<&crate::server::Namespace> {
        self.confine.as_ref().map(Confinement::namespace)
    }

    /// On a learner's own server: the tasks' keys that the server also holds under the same name
    /// (left alone; the practice's copies live apart). Empty on a private server.
    pub fn shadowed(&mut self) -> redis::RedisResult<Vec<String>> {
        match &self.confine {
            Some(confine) => confine.shadowed(&mut self.probe),
            None => Ok(Vec::new()),
        }
    }

    fn setup(&mut self, index: usize) -> redis::RedisResult<()> {
        for line in &self.lesson.tasks[index].setup {
            let mut args =
                reply::split(line).map_err(|e| redis::RedisError::from((redis::ErrorKind::Client, "setup", e)))?;
            if let Some(confine) = &mut self.confine {
                args = confine.rewrite(&args, &mut self.probe, false)?.map_err(|refusal| {
                    redis::RedisError::from((redis::ErrorKind::Client, "setup", format!("{line}: {refusal:?}")))
                })?;
            }
            let mut cmd = redis::Cmd::new();
            for a in args {
                cmd.arg(a);
            }
            cmd.query::<redis::Value>(&mut self.con)?;
        }
        Ok(())
    }

    /// The task to work on: the first available one neither passed nor skipped.
    pub fn current(&self) -> Option<usize> {
        (0..self.states.len()).find(|&i| self.available(i) && !self.states[i].passed && !self.states[i].skipped)
    }

    pub fn task(&self, index: usize) -> &Task {
        &self.lesson.tasks[index]
    }

    /// Every task that can be done here passed.
    pub fn all_passed(&self) -> bool {
        (0..self.states.len()).all(|i| !self.available(i) || self.states[i].passed)
    }

    /// Send one typed line. `Ok(None)` for a blank line; `Err` only when the connection failed.
    pub fn execute(&mut self, line: &str) -> redis::RedisResult<Option<Reply>> {
        Ok(self.send(line)?.map(|sent| match sent {
            Sent::Value { value, raw: true } => Reply::Server(reply::format_raw(&value)),
            Sent::Value { value, raw: false } => Reply::Server(reply::format(&value)),
            Sent::Error(e) => Reply::Server(reply::format_error(&e)),
            Sent::Refused(reply) => reply,
        }))
    }

    fn send(&mut self, line: &str) -> redis::RedisResult<Option<Sent>> {
        let args = match reply::split(line) {
            Ok(args) if args.is_empty() => return Ok(None),
            Ok(args) => args,
            Err(e) => return Ok(Some(Sent::Refused(Reply::Refused(format!("(error) {e}"))))),
        };
        let name = String::from_utf8_lossy(&args[0]).to_ascii_uppercase();
        if NOT_HERE.contains(&name.to_ascii_lowercase().as_str()) {
            let line = self.lang.say(words::msg("practice.not-here").fact("command", name.as_str()));
            return Ok(Some(Sent::Refused(Reply::Refused(line))));
        }
        if let Some(held) = self.held_back(&args) {
            let command = self.lesson.tasks[held.task].predict.clone().unwrap_or_default();
            let line = self.lang.say(
                words::msg("practice.held-back")
                    .fact("task", held.task + 1)
                    .fact("command", command.as_str())
                    .fact("key", held.key.as_str()),
            );
            return Ok(Some(Sent::Refused(Reply::Refused(line))));
        }
        let raw = reply::prints_raw(&args);
        let args = match &mut self.confine {
            Some(confine) => match confine.rewrite(&args, &mut self.probe, true)? {
                Ok(args) => args,
                Err(refusal) => return Ok(Some(Sent::Refused(Reply::refused(&refusal, self.lang)))),
            },
            None => args,
        };
        let mut cmd = redis::Cmd::new();
        for a in &args {
            cmd.arg(a.as_slice());
        }
        match cmd.query::<redis::Value>(&mut self.con) {
            Ok(value) => {
                if self.sent.len() == SENT_KEPT {
                    self.sent.pop_front();
                }
                self.sent.push_back(args);
                let value = match &self.confine {
                    Some(confine) => confine.unprefix(value),
                    None => value,
                };
                Ok(Some(Sent::Value { value, raw }))
            }
            Err(e) if e.is_io_error() || e.is_timeout() || e.is_connection_dropped() => Err(e),
            Err(e) => Ok(Some(Sent::Error(e))),
        }
    }

    /// The open "predict, then run" task whose keys this typed command names, if its prediction is
    /// still to be made: the command waits, or its reply would give the answer away.
    fn held_back(&self, args: &[Vec<u8>]) -> Option<HeldBack> {
        (0..self.states.len()).find_map(|i| {
            let state = &self.states[i];
            let task = &self.lesson.tasks[i];
            if task.predict.is_none() || state.passed || state.revealed || !self.available(i) {
                return None;
            }
            let server_name = |k: &str| self.confine.as_ref().map_or_else(|| k.to_string(), |c| c.key(k));
            task.keys
                .iter()
                .find(|k| args[1..].iter().any(|a| a == k.as_bytes() || *a == server_name(k).as_bytes()))
                .map(|k| HeldBack { task: i, key: k.clone() })
        })
    }

    /// The task a `predict` line is for: the current one if it predicts, else the first open one
    /// that does.
    pub fn predicting(&self) -> Option<usize> {
        let open = |i: usize| self.available(i) && !self.states[i].passed && self.lesson.tasks[i].predict.is_some();
        self.current().filter(|&i| open(i)).or_else(|| (0..self.states.len()).find(|&i| open(i)))
    }

    /// "Predict, then run": run the predicting task's command and compare its reply with the
    /// learner's `prediction`. `Ok(None)` when no task asks for a prediction.
    pub fn predict(&mut self, prediction: &str) -> redis::RedisResult<Option<Prediction>> {
        let Some(task) = self.predicting() else { return Ok(None) };
        let command = self.lesson.tasks[task].predict.clone().unwrap_or_default();
        self.states[task].revealed = true;
        let (reply, right) = match self.send(&command)? {
            Some(Sent::Value { value, .. }) => {
                (Reply::Server(reply::format(&value)), reply::predicted(prediction, &value))
            }
            Some(Sent::Error(e)) => {
                let code = e.code().unwrap_or("ERR").to_string();
                let right = reply::split(prediction).is_ok_and(|words| {
                    words.iter().any(|w| w.eq_ignore_ascii_case(b"(error)") || w.eq_ignore_ascii_case(code.as_bytes()))
                });
                (Reply::Server(reply::format_error(&e)), right)
            }
            Some(Sent::Refused(reply)) => (reply, false),
            None => (Reply::Refused(String::new()), false),
        };
        let state = &mut self.states[task];
        if right {
            state.predicted = true;
        } else {
            state.wrong_predictions += 1;
        }
        Ok(Some(Prediction { task, command, reply, right }))
    }

    /// Check every task not yet passed: those that pass now (a pass is kept), and those whose
    /// state is right but reached without the command the task asks for (told once per task).
    pub fn check(&mut self) -> redis::RedisResult<Checked> {
        let mut checked = Checked::default();
        let confine = self.confine.as_ref();
        let key = |k: &str| confine.map_or_else(|| k.to_string(), |c| c.key(k));
        let sent: Vec<&[Vec<u8>]> = self.sent.iter().map(Vec::as_slice).collect();
        for i in 0..self.states.len() {
            if self.states[i].passed
                || !(confine.is_none() || self.lesson.tasks[i].checks.iter().all(|c| c.key().is_some()))
            {
                continue;
            }
            // The server's state first, then the commands used.
            let (state, used): (Vec<&Check>, Vec<&Check>) =
                self.lesson.tasks[i].checks.iter().partition(|c| !matches!(c, Check::Used { .. }));
            let mut all = self.lesson.tasks[i].predict.is_none() || self.states[i].predicted;
            for check in state {
                if !all || !check.holds(&mut self.probe, &key, &sent)? {
                    all = false;
                    break;
                }
            }
            if !all {
                continue;
            }
            let mut missing = false;
            for check in used {
                missing |= !check.holds(&mut self.probe, &key, &sent)?;
            }
            if !missing {
                self.states[i].passed = true;
                checked.passed.push(i);
            } else if !self.states[i].told_command {
                self.states[i].told_command = true;
                checked.needs_command.push(i);
            }
        }
        Ok(checked)
    }

    /// What the learner is told when task `index`'s state is right but its command was not used.
    pub fn needs_command(&self, index: usize) -> String {
        let task = &self.lesson.tasks[index];
        let (keys, commands): (Vec<&str>, Vec<String>) = task
            .checks
            .iter()
            .filter_map(|c| match c {
                Check::Used { key, commands } => Some((key.as_str(), commands.join(" / "))),
                _ => None,
            })
            .unzip();
        self.lang.say(
            words::msg("practice.needs-command").fact("key", keys.join(", ")).fact("commands", commands.join(", ")),
        )
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
        let keys: Vec<String> = match &self.confine {
            Some(confine) => self.task(i).keys.iter().map(|k| confine.key(k)).collect(),
            None => self.task(i).keys.clone(),
        };
        if !keys.is_empty() {
            redis::cmd("DEL").arg(&keys).query::<i64>(&mut self.probe)?;
        }
        // The commands sent so far on these keys no longer count for its `used` checks.
        self.sent.retain(|args| !args[1..].iter().any(|a| keys.iter().any(|k| a == k.as_bytes())));
        self.setup(i)?;
        let state = &mut self.states[i];
        state.predicted = false;
        state.revealed = false;
        state.told_command = false;
        Ok(Some(i))
    }
}
