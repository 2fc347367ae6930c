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
use crate::practice::{Confinement, Reply, Session};
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
        bail!(
            "{}",
            settings.lang.tr(
                &format!("lesson {} has no practice tasks yet", lesson.number),
                &format!("第 {} 课还没有练习题", lesson.number),
            )
        );
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
        let prompt = match lang {
            crate::i18n::Lang::En => {
                format!("Enter: practise lesson {n} hands-on ({} tasks) · q: not now", lesson.tasks.len())
            }
            crate::i18n::Lang::Zh => format!("Enter：动手练习第 {n} 课（{} 个任务）· q：以后再练", lesson.tasks.len()),
        };
        match crate::pause::wait(&prompt, styles, out)? {
            Choice::Go => {
                practise(settings, lesson, None, out)?;
                return Ok(());
            }
            Choice::Stop => {}
            Choice::Interrupt => return Err(crate::error::UserError::Interrupted.into()),
        }
    }
    let line = match lang {
        crate::i18n::Lang::En => format!("Practise hands-on: redis-learn practice {n}{}", settings.repeat_flags()),
        crate::i18n::Lang::Zh => format!("动手练习：redis-learn practice {n}{}", settings.repeat_flags()),
    };
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
    let mut session = Session::start(lesson, settings.lang, redis.client(), confine.map(Confinement::new))
        .context("practice setup")?;
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
        None => Err(anyhow::anyhow!(
            "{}",
            settings.lang.tr(
                "practice needs a terminal, or a script: pass --script FILE (or - for stdin)",
                "练习需要终端，或者脚本：传 --script FILE（或 - 表示标准输入）",
            )
        )),
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
        writeln!(out, "{}", lang.tr("No task asks for a prediction now.", "现在没有需要预测的任务。"))?;
        return Ok(());
    };
    writeln!(out, "> {}", done.command)?;
    let (Reply::Server(r) | Reply::Refused(r)) = &done.reply;
    writeln!(out, "{r}")?;
    if done.right {
        writeln!(out, "{}", styles.pass(lang.tr("✓ as you predicted", "✓ 和你预测的一样")))?;
    } else {
        writeln!(
            out,
            "{}",
            styles.fail(lang.tr(
                "✗ not what you predicted: `reset` sets the task up again to predict once more",
                "✗ 和你预测的不一样：`reset` 重新准备这个任务，可以再预测一次",
            ))
        )?;
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

/// Run a script: one command a line, `#` comments, `hint`, `skip`, `reset` and `predict REPLY` allowed.
fn script(settings: &Settings, session: &mut Session, text: &str, out: &mut impl Write) -> Result<()> {
    let lang = settings.lang;
    let styles = Styles::new(settings.color);
    let text_mode = !settings.json;
    for raw in text.lines() {
        let line = raw.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        match line.to_ascii_lowercase().as_str() {
            "hint" => {
                if let Some((_, hint)) = session.hint()
                    && text_mode
                {
                    writeln!(out, "{} {hint}", lang.tr("hint:", "提示："))?;
                }
                continue;
            }
            "skip" => {
                session.skip();
                continue;
            }
            "reset" => {
                session.reset().context("practice reset")?;
                continue;
            }
            _ => {}
        }
        if let Some(prediction) = prediction_of(line) {
            let done = session.predict(prediction).context("practice")?;
            if text_mode {
                writeln!(out, "> {line}")?;
                show_prediction(lang, &styles, done.as_ref(), out)?;
            }
            for i in session.check().context("practice check")? {
                if text_mode {
                    let title = &session.task(i).text(lang).title;
                    writeln!(out, "{} {title}", styles.pass(lang.tr("✓ task passed:", "✓ 任务通过：")))?;
                }
            }
            continue;
        }
        let reply = session.execute(line).context("practice")?;
        if text_mode {
            writeln!(out, "> {line}")?;
            match reply {
                Some(Reply::Server(r)) | Some(Reply::Refused(r)) => writeln!(out, "{r}")?,
                None => {}
            }
        }
        for i in session.check().context("practice check")? {
            if text_mode {
                let title = &session.task(i).text(lang).title;
                writeln!(out, "{} {title}", styles.pass(lang.tr("✓ task passed:", "✓ 任务通过：")))?;
            }
        }
    }
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
                let why = lang.tr(
                    "needs the private server (CONFIG is refused on yours): leave out --redis",
                    "需要私有服务器（你的服务器上不能用 CONFIG）：去掉 --redis",
                );
                writeln!(out, "– {} — {} ({why})", t.id, t.text(lang).title)?;
                continue;
            }
            let mark = if s.passed { styles.pass("✓") } else { styles.fail("✗") };
            writeln!(out, "{mark} {} — {}", t.id, t.text(lang).title)?;
        }
        let n = session.states.iter().filter(|s| s.passed).count();
        let total = (0..session.states.len()).filter(|&i| session.available(i)).count();
        writeln!(out, "{}", lang.tr(&format!("{n}/{total} tasks passed"), &format!("通过 {n}/{total} 个任务")))?;
        if let Some(ns) = session.namespace() {
            let line = match lang {
                crate::i18n::Lang::En => format!("Practice keys under {} removed, {keys_left} left.", ns.prefix()),
                crate::i18n::Lang::Zh => format!("{} 下的练习键已删除，剩余 {keys_left} 个。", ns.prefix()),
            };
            writeln!(out, "{}", styles.dim(&line))?;
        }
    }
    Ok(if passed { Outcome::Success } else { Outcome::Failed })
}

/// Check the tasks; name the ones this command passed, then show the next task.
fn check_and_announce(session: &mut Session, settings: &Settings, styles: &Styles, out: &mut impl Write) -> Result<()> {
    let lang = settings.lang;
    let newly = session.check().context("practice check")?;
    for &i in &newly {
        let passed = lang.say(Text::msg("practice.task-passed").fact("title", &session.task(i).text(lang).title));
        writeln!(out, "{}", styles.pass(&passed))?;
    }
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
                let line = match lang {
                    crate::i18n::Lang::En => format!(
                        "Predict, then run: what will `{command}` reply? Type `predict` and the reply you expect (e.g. `predict (integer) 1`); then it runs."
                    ),
                    crate::i18n::Lang::Zh => format!(
                        "先预测，再运行：`{command}` 会回复什么？输入 `predict` 加上你预期的回复（例如 `predict (integer) 1`），然后它才运行。"
                    ),
                };
                printer.prose(&line)?;
            }
        }
        None if session.all_passed() => writeln!(
            out,
            "\n{}",
            lang.tr("Every task passed. `quit` to leave.", "所有任务都通过了。输入 `quit` 退出。")
        )?,
        None => writeln!(
            out,
            "\n{}",
            lang.tr(
                "No task left (some were skipped). `quit` to leave.",
                "没有剩下的任务（有跳过的）。输入 `quit` 退出。"
            )
        )?,
    }
    Ok(())
}

const HELP_EN: &str = "Type Redis commands; each task is checked on the server after every command.
  hint      the next hint for this task        solution  the reference commands (asks first)
  skip      leave this task for later          reset     delete this task's keys and set it up again
  tasks     every task and where it stands      help      this text
  predict R for a \"predict, then run\" task: R is the reply you expect; then the command runs
  quit      leave (progress is saved)";
const HELP_ZH: &str = "输入 Redis 命令；每条命令之后都会在服务器上检查任务。
  hint      本任务的下一条提示                  solution  参考命令（先确认）
  skip      先跳过这个任务                      reset     删除本任务的键并重新准备
  tasks     所有任务及其状态                    help      本说明
  predict R 用于“先预测再运行”的任务：R 是你预期的回复；然后命令才运行
  quit      退出（进度会保存）";

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
    let banner = match (session.namespace(), lang) {
        (None, crate::i18n::Lang::En) => format!(
            "Practice, lesson {n}: a private redis-server just for you (type anything, FLUSHALL included). `help` lists the commands."
        ),
        (None, crate::i18n::Lang::Zh) => {
            format!("第 {n} 课练习：一个只属于你的私有 redis-server（随便输入，FLUSHALL 也行）。输入 `help` 查看命令。")
        }
        (Some(ns), crate::i18n::Lang::En) => format!(
            "Practice, lesson {n}, on your server: the keys you name are kept apart under {} (you see them without it) and removed at the end; commands that act on the whole server are refused. `help` lists the commands.",
            ns.prefix()
        ),
        (Some(ns), crate::i18n::Lang::Zh) => format!(
            "第 {n} 课练习，在你的服务器上：你用到的键单独存放在 {} 下（显示时不带这个前缀），结束时删除；作用于整个服务器的命令会被拒绝。输入 `help` 查看命令。",
            ns.prefix()
        ),
    };
    let mut printer = crate::render::text::Printer::new(&mut *out, Styles::new(settings.color), lang, settings.width);
    printer.prose(&banner)?;
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
        match trimmed.to_ascii_lowercase().as_str() {
            "quit" | "exit" => break,
            "help" => writeln!(out, "{}", lang.tr(HELP_EN, HELP_ZH))?,
            "hint" => match session.hint() {
                Some((i, hint)) => {
                    let n = session.states[i].hints_used;
                    let total = session.task(i).text(lang).hints.len();
                    writeln!(out, "{} {hint}", styles.heading(&format!("{} {n}/{total}:", lang.tr("hint", "提示"))))?
                }
                None => writeln!(out, "{}", lang.tr("No more hints for this task.", "这个任务没有更多提示了。"))?,
            },
            "solution" => {
                if let Some(i) = session.current() {
                    let answer = editor
                        .readline(lang.tr("Show the reference commands? [y/N] ", "显示参考命令？[y/N] "))
                        .unwrap_or_default();
                    if answer.trim().eq_ignore_ascii_case("y") {
                        for cmd in &session.task(i).solution {
                            writeln!(out, "  {cmd}")?;
                        }
                    }
                }
            }
            "skip" => {
                session.skip();
                show_task(session, settings, &styles, out)?;
            }
            "reset" => {
                session.reset().context("practice reset")?;
                writeln!(out, "{}", lang.tr("This task's keys were reset.", "本任务的键已重置。"))?;
            }
            "tasks" => {
                for (i, (t, s)) in session.lesson.tasks.iter().zip(&session.states).enumerate() {
                    let mark = if s.passed {
                        styles.pass("✓").to_string()
                    } else if s.skipped {
                        "-".to_string()
                    } else {
                        " ".to_string()
                    };
                    writeln!(
                        out,
                        "{mark} {}. {} ({} {})",
                        i + 1,
                        t.text(lang).title,
                        s.hints_used,
                        lang.tr("hints", "条提示")
                    )?;
                }
            }
            _ => {
                if let Some(Reply::Server(r) | Reply::Refused(r)) = session.execute(trimmed).context("practice")? {
                    writeln!(out, "{r}")?;
                }
                check_and_announce(session, settings, &styles, out)?;
            }
        }
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
