//! `redis-learn practice N`: type Redis commands on a private server (or, with `--redis`, on your own
//! with every key confined to the run's namespace); each task of the lesson is checked on the server's
//! state after every command. At a terminal, a prompt with history and
//! completion; without one, `--script FILE|-`; `--solution` prints the reference commands.

use std::io::{Read, Write};
use std::path::Path;

use anyhow::{Context, Result, bail};

use crate::Outcome;
use crate::lesson::{Catalogue, Lesson};
use crate::pause::Choice;
use crate::practice::{Reply, Session};
use crate::render::Styles;
use crate::server::{self, Journal, Namespace, NamespaceGuard, RedisHandle};
use crate::settings::{RedisChoice, Settings};
use crate::text::Text;

pub fn run(
    settings: &Settings,
    args: &crate::cli::PracticeArgs,
    catalogue: &Catalogue,
    out: &mut impl Write,
) -> Result<Outcome> {
    let lesson = catalogue.find(&args.lesson)?;
    if lesson.tasks.is_empty() {
        bail!("{}", settings.lang.say(Text::msg("practice.no-tasks").fact("lesson", lesson.number)));
    }
    if args.solution {
        for task in &lesson.tasks {
            writeln!(out, "# {}: {}", task.id, task.text(settings.lang).title)?;
            for line in &task.solution {
                writeln!(out, "{line}")?;
            }
        }
        return Ok(Outcome::Success);
    }
    practise(settings, lesson, args.script.as_deref(), out)
}

/// Offer the lesson's practice after its quiz, at a terminal (Enter: practise · q: not now), or
/// say how to start it. Nothing when the lesson has no tasks.
pub fn offer(settings: &Settings, lesson: &Lesson, out: &mut impl Write) -> Result<()> {
    if lesson.tasks.is_empty() || settings.json {
        return Ok(());
    }
    let lang = settings.lang;
    let styles = Styles::new(settings.color);
    let n = lesson.number;
    if settings.interactive && settings.pause {
        writeln!(out)?;
        let prompt = lang.say(Text::msg("practice.offer").fact("lesson", n).fact("tasks", lesson.tasks.len()));
        match crate::pause::wait(&prompt, styles, out)? {
            Choice::Go => {
                practise(settings, lesson, None, out)?;
                return Ok(());
            }
            Choice::Stop => {}
            Choice::Interrupt => return Err(crate::error::UserError::Interrupted.into()),
        }
    }
    let line = lang.say(Text::msg("practice.offer-later").fact("lesson", n).fact("flags", settings.repeat_flags()));
    writeln!(out, "{}", styles.dim(&line))?;
    Ok(())
}

/// Practise `lesson`: from a script (`from`: a path, `-` for stdin), else at the prompt.
pub fn practise(settings: &Settings, lesson: &Lesson, from: Option<&Path>, out: &mut impl Write) -> Result<Outcome> {
    // A private sandbox by default; with an explicit --redis, the learner's own server, with every
    // key confined to this run's namespace (removed at the end, swept if a crash left it).
    let (redis, confine) = match &settings.redis {
        RedisChoice::Explicit(_) => {
            let handle = server::connect(&settings.redis, settings.allow_remote)?;
            (handle, Some(Namespace::new_run()))
        }
        _ => (server::connect(&RedisChoice::Private, false)?, None),
    };
    let mut keys = confine.as_ref().map(|ns| Keys::open(settings, &redis, ns)).transpose()?;
    let mut session = Session::start(lesson, settings.lang, redis.client(), confine).context("practice setup")?;
    let outcome = match from {
        Some(path) => {
            let text = if path.as_os_str() == "-" {
                let mut text = String::new();
                std::io::stdin().read_to_string(&mut text)?;
                text
            } else {
                std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?
            };
            script(settings, &mut session, &text, out)
        }
        None if settings.interactive && !settings.json => interactive(settings, &mut session, out),
        None => Err(anyhow::anyhow!("{}", settings.lang.word("practice.needs-terminal"))),
    };
    let left = match &mut keys {
        Some(keys) => keys.clean()?,
        None => 0,
    };
    outcome?;
    let outcome = summary(settings, &session, left, out)?;
    record(settings, &session);
    drop(redis); // stops a private server
    Ok(outcome)
}

/// The namespace of a practice run on a learner's own server, noted in the run journal before
/// anything is written under it, and removed (then forgotten) at the end; on drop too.
struct Keys {
    guard: NamespaceGuard,
    journal: Journal,
}

impl Keys {
    fn open(settings: &Settings, redis: &RedisHandle, namespace: &Namespace) -> Result<Keys> {
        let journal = Journal::new(settings.state_dir.as_deref());
        let server = &redis.info().url;
        let _ = journal.sweep(redis.client(), server);
        journal.open_run(namespace, server).context("writing the run journal")?;
        Ok(Keys { guard: NamespaceGuard::new(redis.client().clone(), namespace.clone()), journal })
    }

    /// Remove every key; the number left (0 unless the server stopped answering).
    fn clean(&mut self) -> Result<usize> {
        let cleanup = self.guard.clean()?;
        if cleanup.left == 0 {
            self.journal.close_run(self.guard.namespace()).context("updating the run journal")?;
        }
        Ok(cleanup.left)
    }
}

/// `predict REPLY` (any case) → `REPLY`.
fn prediction_of(line: &str) -> Option<&str> {
    let (word, rest) = line.trim().split_once(char::is_whitespace)?;
    word.eq_ignore_ascii_case("predict").then(|| rest.trim())
}

/// The command a prediction ran, its reply, and the verdict.
fn show_prediction(
    lang: crate::i18n::Lang,
    styles: &Styles,
    done: Option<&crate::practice::Prediction>,
    out: &mut impl Write,
) -> Result<()> {
    let Some(done) = done else {
        writeln!(out, "{}", lang.word("practice.no-prediction"))?;
        return Ok(());
    };
    writeln!(out, "> {}", done.command)?;
    let (Reply::Server(r) | Reply::Refused(r)) = &done.reply;
    writeln!(out, "{r}")?;
    if done.right {
        writeln!(out, "{}", styles.pass(&lang.word("practice.predicted-right")))?;
    } else {
        writeln!(out, "{}", styles.fail(&lang.word("practice.predicted-wrong")))?;
    }
    Ok(())
}

/// Save tasks done and hints used.
fn record(settings: &Settings, session: &Session) {
    let mut progress = super::load_progress(settings);
    let done: Vec<(String, usize)> = session
        .lesson
        .tasks
        .iter()
        .zip(&session.states)
        .filter(|(_, s)| s.passed)
        .map(|(t, s)| (t.id.clone(), s.hints_used))
        .collect();
    progress.record_practice(session.lesson.number, &done);
    super::save_progress(&mut progress);
}

/// Run a script: one command a line, `#` comments, `predict REPLY`, and the prompt's own words
/// (`hint`, `skip`, `reset`, `tasks`/`list`, `help`, `quit`; `solution` is ignored: see `--solution`).
fn script(settings: &Settings, session: &mut Session, text: &str, out: &mut impl Write) -> Result<()> {
    let lang = settings.lang;
    let styles = Styles::new(settings.color);
    let text_mode = !settings.json;
    tell_shadowed(session, settings, out)?;
    for raw in text.lines() {
        let line = raw.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        // The prompt's own words, as at the prompt; none of them reaches Redis.
        match prompt_word(line) {
            Some(Word::Hint) => {
                if let Some((_, hint)) = session.hint()
                    && text_mode
                {
                    let label = lang.word("practice.hint");
                    writeln!(out, "{label}{}{hint}", crate::render::text::gap(&label))?;
                }
                continue;
            }
            Some(Word::Skip) => {
                session.skip();
                continue;
            }
            Some(Word::Reset) => {
                session.reset().context("practice reset")?;
                continue;
            }
            Some(Word::Quit) => break,
            Some(Word::Help) => {
                if text_mode {
                    writeln!(out, "> {line}")?;
                    prose(out, settings, &lang.word("practice.help"), |l: &str| l.to_string())?;
                }
                continue;
            }
            Some(Word::Tasks) => {
                if text_mode {
                    writeln!(out, "> {line}")?;
                    write_tasks(session, lang, &styles, out)?;
                }
                continue;
            }
            // A script asks nobody to confirm: `--solution` prints the reference commands.
            Some(Word::Solution) => continue,
            None => {}
        }
        if let Some(prediction) = prediction_of(line) {
            let done = session.predict(prediction).context("practice")?;
            if text_mode {
                writeln!(out, "> {line}")?;
                show_prediction(lang, &styles, done.as_ref(), out)?;
            }
            announce_checks(session, settings, &styles, out)?;
            continue;
        }
        let reply = session.execute(line).context("practice")?;
        if text_mode {
            writeln!(out, "> {line}")?;
            match reply {
                Some(Reply::Server(r)) => writeln!(out, "{r}")?,
                Some(Reply::Refused(r)) => prose(out, settings, &r, |l: &str| l.to_string())?,
                None => {}
            }
        }
        announce_checks(session, settings, &styles, out)?;
    }
    Ok(())
}

/// Check the tasks and name, in text mode, the ones this command passed and those whose state is
/// right without the command they ask for; the tasks passed.
fn announce_checks(
    session: &mut Session,
    settings: &Settings,
    styles: &Styles,
    out: &mut impl Write,
) -> Result<Vec<usize>> {
    let lang = settings.lang;
    let checked = session.check().context("practice check")?;
    if !settings.json {
        for &i in &checked.passed {
            let title = &session.task(i).text(lang).title;
            let line = lang.say(Text::msg("practice.task-passed").fact("title", title));
            prose(out, settings, &line, |l| styles.pass(l).to_string())?;
        }
        for &i in &checked.needs_command {
            prose(out, settings, &session.needs_command(i), |l| styles.fail(l).to_string())?;
        }
    }
    Ok(checked.passed)
}

/// On a learner's own server, say before anything is typed which task keys the server holds too:
/// the practice's copies live apart, and the server's are left alone.
fn tell_shadowed(session: &mut Session, settings: &Settings, out: &mut impl Write) -> Result<()> {
    let shadowed = session.shadowed().context("practice setup")?;
    if shadowed.is_empty() || settings.json {
        return Ok(());
    }
    let keys = shadowed.join(", ");
    let prefix = session.namespace().map(|ns| ns.prefix().to_string()).unwrap_or_default();
    let line = settings.lang.say(
        Text::msg("practice.shadowed").fact("keys", keys.as_str()).fact("count", shadowed.len()).fact("prefix", prefix),
    );
    let mut printer =
        crate::render::text::Printer::new(&mut *out, Styles::new(settings.color), settings.lang, settings.width);
    printer.prose(&line)?;
    Ok(())
}

fn summary(settings: &Settings, session: &Session, keys_left: usize, out: &mut impl Write) -> Result<Outcome> {
    let lang = settings.lang;
    let passed = session.all_passed();
    if settings.json {
        let tasks: Vec<_> = session
            .lesson
            .tasks
            .iter()
            .zip(&session.states)
            .enumerate()
            .map(|(i, (t, s))| {
                let mut task = serde_json::json!({
                    "id": t.id, "title": t.text(lang).title, "passed": s.passed, "hints_used": s.hints_used,
                });
                if !session.available(i) {
                    task["available"] = false.into();
                }
                if t.predict.is_some() {
                    task["wrong_predictions"] = s.wrong_predictions.into();
                }
                task
            })
            .collect();
        let mut doc = serde_json::json!({ "lesson": session.lesson.number, "tasks": tasks, "passed": passed });
        if let Some(ns) = session.namespace() {
            doc["namespace"] = ns.prefix().into();
            doc["keys_left"] = keys_left.into();
        }
        writeln!(out, "{}", serde_json::to_string_pretty(&doc)?)?;
    } else {
        let styles = Styles::new(settings.color);
        writeln!(out)?;
        for (i, (t, s)) in session.lesson.tasks.iter().zip(&session.states).enumerate() {
            if !session.available(i) {
                let why = lang.word("practice.needs-private");
                prose(out, settings, &format!("– {} — {} ({why})", t.id, t.text(lang).title), |l| l.to_string())?;
                continue;
            }
            let mark = if s.passed { styles.pass("✓") } else { styles.fail("✗") };
            prose(out, settings, &format!("{mark} {} — {}", t.id, t.text(lang).title), |l| l.to_string())?;
        }
        let n = session.states.iter().filter(|s| s.passed).count();
        let total = (0..session.states.len()).filter(|&i| session.available(i)).count();
        let line = lang.say(Text::msg("practice.total").fact("passed", n).fact("total", total));
        prose(out, settings, &line, |l| l.to_string())?;
        if let Some(ns) = session.namespace() {
            let line = lang.say(Text::msg("practice.keys-removed").fact("prefix", ns.prefix()).fact("left", keys_left));
            prose(out, settings, &line, |l| styles.dim(l).to_string())?;
        }
    }
    Ok(if passed { Outcome::Success } else { Outcome::Failed })
}

/// Check the tasks; name the ones this command passed, then show the next task.
fn check_and_announce(session: &mut Session, settings: &Settings, styles: &Styles, out: &mut impl Write) -> Result<()> {
    let newly = announce_checks(session, settings, styles, out)?;
    if !newly.is_empty() {
        show_task(session, settings, styles, out)?;
    }
    Ok(())
}

fn show_task(session: &Session, settings: &Settings, styles: &Styles, out: &mut impl Write) -> Result<()> {
    let lang = settings.lang;
    match session.current() {
        Some(i) => {
            let text = session.task(i).text(lang);
            let total = session.states.len();
            writeln!(out, "\n{} {}", styles.heading(&format!("[{}/{total}]", i + 1)), styles.heading(&text.title))?;
            let mut printer =
                crate::render::text::Printer::new(&mut *out, Styles::new(settings.color), lang, settings.width);
            printer.prose(&text.goal)?;
            if let Some(command) = &session.task(i).predict {
                let line = lang.say(Text::msg("practice.predict").fact("command", command.as_str()));
                printer.prose(&line)?;
            }
        }
        None if session.all_passed() => writeln!(out, "\n{}", lang.word("practice.all-passed"))?,
        None => writeln!(out, "\n{}", lang.word("practice.none-left"))?,
    }
    Ok(())
}

fn interactive(settings: &Settings, session: &mut Session, out: &mut impl Write) -> Result<()> {
    let config = rustyline::Config::builder().max_history_size(HISTORY_SIZE)?.auto_add_history(false).build();
    let mut editor: rustyline::Editor<completion::Names, rustyline::history::DefaultHistory> =
        rustyline::Editor::with_config(config).context("line editor")?;
    editor.set_helper(Some(completion::Names));
    // The commands typed in earlier sessions (Up, Ctrl-R), kept in the state directory.
    let history = settings.state_dir.as_ref().map(|dir| dir.join(HISTORY_FILE));
    if let Some(path) = &history {
        let _ = editor.load_history(path);
    }
    let result = prompt_loop(settings, session, &mut editor, out);
    if let Some(path) = &history
        && std::fs::create_dir_all(path.parent().unwrap_or(Path::new("."))).is_ok()
        && let Err(e) = editor.save_history(path)
    {
        eprintln!("warning: could not save the practice history to {}: {e}", path.display());
    }
    result
}

/// The practice prompt's history, in the state directory.
pub const HISTORY_FILE: &str = "practice-history.txt";
/// Lines kept in it.
const HISTORY_SIZE: usize = 1000;

/// A word of the prompt's own (anything else goes to Redis, `predict REPLY` aside); `help` lists
/// them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Word {
    Quit,
    Help,
    Hint,
    Solution,
    Skip,
    Reset,
    Tasks,
}

/// The prompt's words; `list` is `tasks` by another name (Redis has no LIST command).
const WORDS: [(&str, Word); 9] = [
    ("quit", Word::Quit),
    ("exit", Word::Quit),
    ("help", Word::Help),
    ("hint", Word::Hint),
    ("solution", Word::Solution),
    ("skip", Word::Skip),
    ("reset", Word::Reset),
    ("tasks", Word::Tasks),
    ("list", Word::Tasks),
];

fn prompt_word(line: &str) -> Option<Word> {
    WORDS.iter().find(|(name, _)| line.trim().eq_ignore_ascii_case(name)).map(|&(_, word)| word)
}

fn prompt_loop(
    settings: &Settings,
    session: &mut Session,
    editor: &mut rustyline::Editor<completion::Names, rustyline::history::DefaultHistory>,
    out: &mut impl Write,
) -> Result<()> {
    use rustyline::error::ReadlineError;
    let lang = settings.lang;
    let styles = Styles::new(settings.color);
    let n = session.lesson.number;
    let banner = match session.namespace() {
        None => lang.say(Text::msg("practice.banner-private").fact("lesson", n)),
        Some(ns) => lang.say(Text::msg("practice.banner-confined").fact("lesson", n).fact("prefix", ns.prefix())),
    };
    let mut printer = crate::render::text::Printer::new(&mut *out, Styles::new(settings.color), lang, settings.width);
    printer.prose(&banner)?;
    tell_shadowed(session, settings, out)?;
    show_task(session, settings, &styles, out)?;
    loop {
        out.flush()?;
        let line = match editor.readline("redis> ") {
            Ok(line) => line,
            Err(ReadlineError::Interrupted) => continue,
            Err(ReadlineError::Eof) => break,
            Err(e) => return Err(e.into()),
        };
        let trimmed = line.trim();
        if trimmed.is_empty() {
            continue;
        }
        let _ = editor.add_history_entry(trimmed);
        if let Some(prediction) = prediction_of(trimmed) {
            let done = session.predict(prediction).context("practice")?;
            show_prediction(lang, &styles, done.as_ref(), out)?;
            check_and_announce(session, settings, &styles, out)?;
            continue;
        }
        match prompt_word(trimmed) {
            Some(Word::Quit) => break,
            Some(Word::Help) => prose(out, settings, &lang.word("practice.help"), |l: &str| l.to_string())?,
            Some(Word::Hint) => match session.hint() {
                Some((i, hint)) => {
                    let n = session.states[i].hints_used;
                    let total = session.task(i).text(lang).hints.len();
                    let label = lang.say(Text::msg("practice.hint-count").fact("n", n).fact("total", total));
                    let text = format!("{label}{}{hint}", crate::render::text::gap(&label));
                    let lines = crate::render::text::wrap(&text, settings.width, "", "  ");
                    for (k, wrapped) in lines.iter().enumerate() {
                        // The label alone is styled, as before.
                        match wrapped.strip_prefix(label.as_str()).filter(|_| k == 0) {
                            Some(after) => writeln!(out, "{}{after}", styles.heading(&label))?,
                            None => writeln!(out, "{wrapped}")?,
                        }
                    }
                }
                None => writeln!(out, "{}", lang.word("practice.no-more-hints"))?,
            },
            Some(Word::Solution) => {
                if let Some(i) = session.current() {
                    let answer = editor.readline(&lang.word("practice.show-solution")).unwrap_or_default();
                    if answer.trim().eq_ignore_ascii_case("y") {
                        for cmd in &session.task(i).solution {
                            writeln!(out, "  {cmd}")?;
                        }
                    }
                }
            }
            Some(Word::Skip) => {
                session.skip();
                show_task(session, settings, &styles, out)?;
            }
            Some(Word::Reset) => {
                session.reset().context("practice reset")?;
                writeln!(out, "{}", lang.word("practice.task-reset"))?;
            }
            Some(Word::Tasks) => write_tasks(session, lang, &styles, out)?,
            None => {
                match session.execute(trimmed).context("practice")? {
                    Some(Reply::Server(r)) => writeln!(out, "{r}")?,
                    Some(Reply::Refused(r)) => prose(out, settings, &r, |l: &str| l.to_string())?,
                    None => {}
                }
                check_and_announce(session, settings, &styles, out)?;
            }
        }
    }
    Ok(())
}

/// Words for the learner (a refusal, a notice, the help), each line through `style`. At a terminal
/// they are wrapped at its width between words, and a line with columns (`  hint        the next
/// hint`) continues under its second column; in a pipe or a file each stays one line, for scripts.
/// What Redis replied is printed as it is, never through this.
fn prose(out: &mut impl Write, settings: &Settings, text: &str, style: impl Fn(&str) -> String) -> Result<()> {
    for line in text.lines() {
        if !settings.stdout_tty {
            writeln!(out, "{}", style(line))?;
            continue;
        }
        let width = settings.width;
        let indent = line.len() - line.trim_start().len();
        let column = line[indent..].find("  ").map(|gap| {
            let after = &line[indent + gap..];
            indent + gap + (after.len() - after.trim_start().len())
        });
        let (first, rest) = (" ".repeat(indent), " ".repeat(column.unwrap_or(indent + 2)));
        for wrapped in crate::render::text::wrap(line.trim_start(), width, &first, &rest) {
            writeln!(out, "{}", style(&wrapped))?;
        }
    }
    Ok(())
}

/// `tasks` (or `list`): each task with ✓ passed, - skipped, and the hints it took.
fn write_tasks(session: &Session, lang: crate::i18n::Lang, styles: &Styles, out: &mut impl Write) -> Result<()> {
    for (i, (t, s)) in session.lesson.tasks.iter().zip(&session.states).enumerate() {
        let mark = if s.passed {
            styles.pass("✓").to_string()
        } else if s.skipped {
            "-".to_string()
        } else {
            " ".to_string()
        };
        let hints = lang.say(Text::msg("practice.hints-used").fact("hints", s.hints_used));
        writeln!(out, "{mark} {}. {} ({hints})", i + 1, t.text(lang).title)?;
    }
    Ok(())
}

mod completion {
    //! Tab completes command names (Redis's and the prompt's own words).
    use rustyline::completion::{Completer, Pair};
    use rustyline::highlight::Highlighter;
    use rustyline::hint::Hinter;
    use rustyline::validate::Validator;
    use rustyline::{Context, Helper};

    const WORDS: &[&str] = &[
        "APPEND",
        "DECR",
        "DECRBY",
        "DEL",
        "EVAL",
        "EVALSHA",
        "EXISTS",
        "EXPIRE",
        "EXPIREAT",
        "GET",
        "GETDEL",
        "GETEX",
        "GETSET",
        "HDEL",
        "HEXISTS",
        "HGET",
        "HGETALL",
        "HINCRBY",
        "HKEYS",
        "HLEN",
        "HMGET",
        "HSET",
        "HSETNX",
        "HVALS",
        "INCR",
        "INCRBY",
        "INFO",
        "LLEN",
        "LPOP",
        "LPUSH",
        "LRANGE",
        "LTRIM",
        "MGET",
        "MSET",
        "MULTI",
        "EXEC",
        "DISCARD",
        "WATCH",
        "UNWATCH",
        "OBJECT",
        "PERSIST",
        "PEXPIRE",
        "PING",
        "PTTL",
        "PUBLISH",
        "RPOP",
        "RPUSH",
        "SADD",
        "SCAN",
        "SCARD",
        "SET",
        "SETNX",
        "SISMEMBER",
        "SMEMBERS",
        "SREM",
        "STRLEN",
        "TTL",
        "TYPE",
        "XADD",
        "XGROUP",
        "XINFO",
        "XLEN",
        "XRANGE",
        "XREAD",
        "XREADGROUP",
        "XTRIM",
        "ZADD",
        "ZCARD",
        "ZCOUNT",
        "ZINCRBY",
        "ZRANGE",
        "ZRANGEBYSCORE",
        "ZREM",
        "ZREMRANGEBYSCORE",
        "ZREVRANGE",
        "ZSCORE",
        "CONFIG",
        "DBSIZE",
        "hint",
        "solution",
        "skip",
        "reset",
        "tasks",
        "list",
        "predict",
        "help",
        "quit",
    ];

    pub struct Names;

    impl Helper for Names {}
    impl Highlighter for Names {}
    impl Validator for Names {}
    impl Hinter for Names {
        type Hint = String;
    }

    impl Completer for Names {
        type Candidate = Pair;
        fn complete(&self, line: &str, pos: usize, _: &Context<'_>) -> rustyline::Result<(usize, Vec<Pair>)> {
            let before = &line[..pos];
            if before.contains(' ') {
                return Ok((pos, Vec::new()));
            }
            let upper = before.to_ascii_uppercase();
            let lower = before.to_ascii_lowercase();
            let pairs = WORDS
                .iter()
                .filter(|w| w.starts_with(&upper) || w.starts_with(&lower))
                .map(|w| {
                    let word = if before.chars().next().is_some_and(|c| c.is_ascii_lowercase())
                        && w.chars().all(|c| !c.is_ascii_lowercase())
                    {
                        w.to_ascii_lowercase()
                    } else {
                        w.to_string()
                    };
                    Pair { display: word.clone(), replacement: format!("{word} ") }
                })
                .collect();
            Ok((0, pairs))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::i18n::Lang;

    #[test]
    fn list_is_tasks_by_another_name() {
        assert_eq!(prompt_word("list"), Some(Word::Tasks));
        assert_eq!(prompt_word(" TASKS "), Some(Word::Tasks));
        assert_eq!(prompt_word("get list"), None);
    }

    /// `help` names every word the prompt takes (and `predict`), nothing else, one a line, and its
    /// descriptions start in one column, in every language (the names are ASCII, so the column is
    /// the same on screen whatever the width of the text after it).
    #[test]
    fn help_lists_the_prompts_words_in_one_column() {
        for lang in [Lang::En, Lang::Zh] {
            let help = lang.word("practice.help");
            let rows: Vec<&str> = help.lines().filter(|l| l.starts_with("  ")).collect();
            let mut columns = std::collections::BTreeSet::new();
            let mut named = Vec::new();
            for row in &rows {
                let name = row.split_whitespace().next().unwrap();
                named.push(name.to_string());
                let after = if name == "predict" { "predict R" } else { name };
                let rest = &row[2 + after.len()..];
                let column = 2 + after.len() + (rest.len() - rest.trim_start().len());
                columns.insert(column);
                assert!(!rest.trim().contains("  "), "{lang:?}: a second column in {row:?}");
            }
            assert_eq!(columns.len(), 1, "{lang:?}: descriptions start at columns {columns:?}:\n{help}");
            for (name, word) in WORDS {
                let listed = named.iter().any(|n| prompt_word(n) == Some(word));
                assert!(listed, "{lang:?}: help does not list {name}");
            }
            for name in &named {
                assert!(name == "predict" || prompt_word(name).is_some(), "{lang:?}: help lists {name}, not a word");
            }
            assert!(help.contains("list"), "{lang:?}: help does not say that list is tasks");
        }
    }
}
