//! `redis-learn lesson N`: the lesson's text, its live demos against Redis and SQLite, measured
//! claims, the cleanup of every key it wrote, and the quiz.

use std::io::Write;

use anyhow::Result;

use crate::Outcome;
use crate::demo;
use crate::demo::{Flow, RunEvent};
use crate::error::UserError;
use crate::interrupt::Interrupt;
use crate::lesson::{Catalogue, Lesson};
use crate::measure::{format_count, format_duration};
use crate::pause::Choice;
use crate::render::json::{self, LessonRef, LessonRun};
use crate::render::{Styles, text::Printer};
use crate::server::{self, Namespace, RedisHandle};
use crate::settings::{Scale, Settings};

pub fn run(
    settings: &Settings,
    query: &str,
    catalogue: &Catalogue,
    interrupt: &Interrupt,
    out: &mut impl Write,
) -> Result<Outcome> {
    let lesson = catalogue.find(query)?;
    // A private server an earlier `--keep` left running stops now (this run is the later one).
    server::kept::stop_all(settings.state_dir.as_deref());
    // Decide on Redis before printing anything: a bad URL or a server that is down is one line.
    let redis = match server::connect(&settings.redis, settings.allow_remote) {
        Ok(handle) => Some(handle),
        Err(UserError::NoRedisAvailable) if !settings.json => None,
        Err(err) => return Err(err.into()),
    };
    let lang = settings.lang;
    let mut p = Printer::new(out, Styles::new(settings.color), lang, settings.width);
    let text = lesson.text(lang);
    if !settings.json {
        let heading = match lang {
            crate::i18n::Lang::En => format!("Lesson {} · {}", lesson.number, text.title),
            crate::i18n::Lang::Zh => format!("第 {} 课 · {}", lesson.number, text.title),
        };
        p.rule(&heading)?;
        p.wrapped_dim(&format!("{} {}", lang.tr("from the notes:", "笔记出处："), lesson.source), "", "  ")?;
        p.blank()?;
        p.prose(&text.intro)?;
    }

    let Some(mut redis) = redis else {
        // No Redis anywhere: still teach the text and the quiz, then say how to get one.
        p.blank()?;
        p.wrapped(
            &format!(
                "{} {}",
                p.styles.fail(lang.tr("No Redis, so the live demos are skipped:", "没有 Redis，跳过现场演示：")),
                crate::error::GET_REDIS_HINT
            ),
            "",
            "  ",
        )?;
        for name in &lesson.demos {
            p.subrule(name)?;
            p.prose(&text.demo_intros[name])?;
        }
        finish_text(&mut p, lesson, settings)?;
        return Err(UserError::NoRedisAvailable.into());
    };

    let namespace = Namespace::new_run();
    if !settings.json {
        let shared_default = matches!(settings.redis, crate::settings::RedisChoice::Default(_));
        server_banner(&mut p, &redis, &namespace, shared_default)?;
    }
    let mut progress = super::load_progress(settings);
    let scale = match settings.scale {
        Scale::Full => "full",
        Scale::Quick => "quick",
    };
    let mut spinner = Spinner::start(settings, lang.tr("getting ready", "准备中"), None);
    let mut started = std::time::Instant::now();
    let mut took: Vec<(String, f64)> = Vec::new();
    let run = demo::run_demos(settings, lesson, &redis, &namespace, interrupt, |event| {
        if settings.json {
            return Ok(Flow::Go);
        }
        match event {
            RunEvent::Floor(p50) => {
                spinner.suspend(|| {
                    let line = match lang {
                        crate::i18n::Lang::En => format!(
                            "Round trip on this machine now: p50 {} (a PING; in-process SQLite does not pay it) · {}",
                            format_duration(p50),
                            settings.placement.describe(lang)
                        ),
                        crate::i18n::Lang::Zh => format!(
                            "此刻本机一次往返：p50 {}（一个 PING；进程内的 SQLite 不付这笔开销）· {}",
                            format_duration(p50),
                            settings.placement.describe(lang)
                        ),
                    };
                    p.wrapped_dim(&line, "", "  ")
                })?;
            }
            RunEvent::Starting(i, name) => {
                spinner.stop();
                if i > 0 && settings.pause {
                    let prompt = match lang {
                        crate::i18n::Lang::En => {
                            format!("Enter: next demo ({} of {}) · q: stop the lesson", i + 1, lesson.demos.len())
                        }
                        crate::i18n::Lang::Zh => {
                            format!("Enter：下一个演示（{}/{}）· q：结束本课", i + 1, lesson.demos.len())
                        }
                    };
                    match crate::pause::wait(&prompt, p.styles, &mut p.out)? {
                        Choice::Go => {}
                        Choice::Stop => return Ok(Flow::Stop),
                        Choice::Interrupt => {
                            // The run stops before the next demo and cleans up; then exits 130.
                            interrupt.trigger();
                            return Ok(Flow::Stop);
                        }
                    }
                }
                let estimate = progress.demo_seconds(lesson.number, &format!("{name}/{scale}"));
                spinner = Spinner::start(settings, &demo_title(lesson, lang, name), estimate);
                started = std::time::Instant::now();
            }
            RunEvent::Report(i, name, report) => {
                spinner.stop();
                took.push((format!("{name}/{scale}"), started.elapsed().as_secs_f64()));
                p.subrule(&format!("{} {}/{} · {}", lang.tr("Demo", "演示"), i + 1, lesson.demos.len(), report.title))?;
                p.prose(&text.demo_intros[name])?;
                p.demo(report)?;
                p.out.flush()?;
            }
            RunEvent::Noisy(warning) => spinner.suspend(|| p.caveat(&warning.text(lang)))?,
        }
        Ok(Flow::Go)
    })?;
    drop(spinner);
    if interrupt.is_set() {
        // Ctrl-C at a pause: the run stopped there and cleaned up.
        return Err(UserError::Interrupted.into());
    }
    let totals = run.claim_totals();
    let passed = run.passed();
    let noisy = run.noisy();
    let claims: Vec<_> = run.reports.iter().flat_map(|r| r.claims.iter().cloned()).collect();
    progress.record_run(lesson.number, passed, &claims);
    for (key, seconds) in took {
        progress.record_demo_seconds(lesson.number, key, seconds);
    }
    super::save_progress(&mut progress);
    let cleanup = run.cleanup;
    // `--keep` on a private server: it stays up (detached) for as long as the keys do.
    let kept_server = match settings.keep {
        Some(ttl) => redis.keep_private(ttl, settings.state_dir.as_deref()).transpose()?,
        None => None,
    };
    if settings.json {
        let doc = LessonRun {
            lesson: LessonRef::of(lesson, lang),
            lang,
            redis: Some(redis.info().clone()),
            sqlite_version: crate::sql::sqlite_version().to_string(),
            namespace: Some(namespace.prefix().to_string()),
            quick: settings.scale == Scale::Quick,
            placement: settings.placement,
            floor: Some(run.floor),
            noisy,
            warnings: run.warnings,
            demos: run.reports,
            claims: totals,
            swept: run.swept,
            keys_left: cleanup.left,
            keys_kept: settings.keep.map(|_| cleanup.kept),
            passed,
        };
        json::print(&mut p.out, &doc)?;
    } else {
        let floor_line = match (run.floor.start(), run.floor.end()) {
            (Some(start), Some(end)) => match lang {
                crate::i18n::Lang::En => {
                    format!(
                        "Round trip at the end: p50 {} (at the start: {})",
                        format_duration(end),
                        format_duration(start)
                    )
                }
                crate::i18n::Lang::Zh => {
                    format!("结束时一次往返：p50 {}（开始时：{}）", format_duration(end), format_duration(start))
                }
            },
            _ => String::new(),
        };
        let (held, total, inconclusive) = (totals.held, totals.total, totals.inconclusive);
        let mut summary = match lang {
            crate::i18n::Lang::En => format!(
                "{held} of {total} {} held{} · {} {} written under {} {} removed, {} left",
                if total == 1 { "claim" } else { "claims" },
                if inconclusive > 0 { format!(", {inconclusive} inconclusive") } else { String::new() },
                format_count(cleanup.removed as u64),
                if cleanup.removed == 1 { "key" } else { "keys" },
                namespace.prefix(),
                if cleanup.removed == 1 { "was" } else { "were" },
                format_count(cleanup.left as u64)
            ),
            crate::i18n::Lang::Zh => format!(
                "{total} 条结论中 {held} 条成立{} · {} 下写入的 {} 个键已删除，剩余 {} 个",
                if inconclusive > 0 { format!("，{inconclusive} 条无法判定") } else { String::new() },
                namespace.prefix(),
                format_count(cleanup.removed as u64),
                format_count(cleanup.left as u64)
            ),
        };
        if noisy {
            summary.push_str(lang.tr(" · noisy run: see the caveat above", " · 本次运行有噪声：见上方提示"));
        }
        p.blank()?;
        if run.swept.keys > 0 {
            let line = match lang {
                crate::i18n::Lang::En => {
                    format!(
                        "Removed {} {} that an earlier, interrupted run had left on this server.",
                        format_count(run.swept.keys as u64),
                        if run.swept.keys == 1 { "key" } else { "keys" }
                    )
                }
                crate::i18n::Lang::Zh => {
                    format!("已删除之前一次中断的运行留在这个服务端上的 {} 个键。", format_count(run.swept.keys as u64))
                }
            };
            p.wrapped_dim(&line, "", "  ")?;
        }
        if !floor_line.is_empty() {
            p.wrapped_dim(&floor_line, "", "  ")?;
        }
        if let Some(after) = run.stopped_after {
            let line = match lang {
                crate::i18n::Lang::En => format!(
                    "You stopped the lesson after demo {after} of {}; `redis-learn lesson {}{}` runs it all again.",
                    lesson.demos.len(),
                    lesson.number,
                    settings.repeat_flags()
                ),
                crate::i18n::Lang::Zh => format!(
                    "你在第 {after} 个演示（共 {} 个）后结束了本课；`redis-learn lesson {}{}` 会从头再跑一遍。",
                    lesson.demos.len(),
                    lesson.number,
                    settings.repeat_flags()
                ),
            };
            p.wrapped(&line, "", "  ")?;
        }
        let mark = if run.stopped_after.is_some() {
            p.styles.uncertain("–")
        } else if passed {
            p.styles.pass("✔")
        } else {
            p.styles.fail("✘")
        };
        p.wrapped(&format!("{mark} {summary}"), "", "  ")?;
        if let Some(ttl) = settings.keep {
            let minutes = ttl.as_secs() / 60;
            let cli = redis_cli_command(&redis);
            let line = match lang {
                crate::i18n::Lang::En => format!(
                    "--keep: {} {} stay under {} for {minutes} minutes (then they expire). Look at them with:",
                    format_count(cleanup.kept as u64),
                    if cleanup.kept == 1 { "key" } else { "keys" },
                    namespace.prefix()
                ),
                crate::i18n::Lang::Zh => format!(
                    "--keep：{} 下的 {} 个键保留 {minutes} 分钟（之后自动过期）。用下面的命令查看：",
                    namespace.prefix(),
                    format_count(cleanup.kept as u64)
                ),
            };
            p.wrapped(&line, "", "  ")?;
            p.line(&format!("  {cli} --scan --pattern '{}*'", namespace.prefix()))?;
            p.line(&format!("  {cli}"))?;
            if let Some(kept) = &kept_server {
                let line = match lang {
                    crate::i18n::Lang::En => format!(
                        "The private redis-server (port {}) stays up for {minutes} minutes, then stops itself; the next lesson or `redis-learn reset` stops it sooner.",
                        kept.port
                    ),
                    crate::i18n::Lang::Zh => format!(
                        "私有 redis-server（端口 {}）会继续运行 {minutes} 分钟，然后自行停止；下一次课程或 `redis-learn reset` 会提前停止它。",
                        kept.port
                    ),
                };
                p.wrapped(&line, "", "  ")?;
            }
        }
        if run.stopped_after.is_some() {
            drop(redis);
            return Ok(Outcome::Success);
        }
        if finish_text(&mut p, lesson, settings)? == Some(Outcome::Failed) {
            drop(redis);
            return Ok(Outcome::Failed);
        }
    }
    drop(redis); // stops a private server, after the cleanup above
    Ok(if passed { Outcome::Success } else { Outcome::Failed })
}

/// A demo's title from the lesson file, in the run's language (its name when it has none).
fn demo_title(lesson: &Lesson, lang: crate::i18n::Lang, name: &str) -> String {
    lesson.message(lang, &format!("{name}.title")).filter(|t| !t.contains('{')).unwrap_or_else(|| name.to_string())
}

/// The `redis-cli` command that reaches this server: host and port (or socket), database, user —
/// never the password (`--askpass` asks for it).
fn redis_cli_command(redis: &RedisHandle) -> String {
    let info = redis.client().get_connection_info();
    let mut cli = match info.addr() {
        redis::ConnectionAddr::Unix(path) => format!("redis-cli -s {}", path.display()),
        redis::ConnectionAddr::Tcp(host, port) => format!("redis-cli -h {host} -p {port}"),
        other => format!("redis-cli # {other}"),
    };
    let settings = info.redis_settings();
    if settings.db() != 0 {
        cli.push_str(&format!(" -n {}", settings.db()));
    }
    if let Some(user) = settings.username() {
        cli.push_str(&format!(" --user {user}"));
    }
    if settings.password().is_some() {
        cli.push_str(" --askpass");
    }
    cli
}

/// `shared_default`: nothing named a server and the default address answered, so the learner may
/// not know that other clients use it too.
fn server_banner(
    p: &mut Printer<impl Write>,
    redis: &RedisHandle,
    namespace: &Namespace,
    shared_default: bool,
) -> Result<()> {
    let info = redis.info();
    let lang = p.lang;
    p.blank()?;
    if let Some(private) = redis.private_server() {
        let why = redis.fallback_reason.clone().unwrap_or_else(|| "--private".to_string());
        let line = match lang {
            crate::i18n::Lang::En => format!(
                "Started a private redis-server {} on 127.0.0.1:{} ({why}); it stops when the lesson ends.",
                info.version,
                private.port()
            ),
            crate::i18n::Lang::Zh => format!(
                "已启动私有 redis-server {}，端口 127.0.0.1:{}（{why}）；课程结束时自动停止。",
                info.version,
                private.port()
            ),
        };
        p.wrapped_dim(&line, "", "  ")?;
    } else {
        let line = match lang {
            crate::i18n::Lang::En => format!(
                "{} {} at {}: this run only writes keys under {} and removes them at the end.",
                info.flavour,
                info.version,
                info.url,
                namespace.prefix()
            ),
            crate::i18n::Lang::Zh => format!(
                "{} {}（{}）：本次运行只写 {} 下的键，结束时全部删除。",
                info.flavour,
                info.version,
                info.url,
                namespace.prefix()
            ),
        };
        p.wrapped_dim(&line, "", "  ")?;
        if shared_default {
            let line = lang.tr(
                "This is the default server: other clients that use it share its CPU with this run and may skew the timings. For numbers of its own, run with --private (a redis-server for this run alone).",
                "这是默认的服务端：使用它的其他客户端与本次运行共享它的 CPU，可能让计时失真。想要不受干扰的数字，请加 --private（为本次运行单独启动一个 redis-server）。",
            );
            p.wrapped_dim(line, "", "  ")?;
        }
    }
    Ok(())
}

/// The takeaways, then the quiz (at a terminal, after a pause) or how to take it; the quiz's
/// outcome when it was taken.
fn finish_text(p: &mut Printer<impl Write>, lesson: &Lesson, settings: &Settings) -> Result<Option<Outcome>> {
    let lang = settings.lang;
    p.subrule(lang.tr("Takeaways", "要点"))?;
    p.prose(&lesson.text(lang).outro)?;
    p.blank()?;
    if lesson.quiz.is_empty() {
        return Ok(None);
    }
    let mut take = settings.quiz && settings.interactive;
    if take && settings.pause {
        let prompt = match lang {
            crate::i18n::Lang::En => format!("Enter: start the quiz ({} questions) · q: not now", lesson.quiz.len()),
            crate::i18n::Lang::Zh => format!("Enter：开始测验（{} 题）· q：以后再做", lesson.quiz.len()),
        };
        match crate::pause::wait(&prompt, p.styles, &mut p.out)? {
            Choice::Go => {}
            Choice::Stop => take = false,
            Choice::Interrupt => return Err(UserError::Interrupted.into()),
        }
    }
    if take {
        p.out.flush()?;
        return Ok(Some(super::quiz::interactive(settings, lesson, None, &mut p.out)?));
    }
    let hint = match lang {
        crate::i18n::Lang::En => {
            format!("Check yourself: redis-learn quiz {}{}", lesson.number, settings.repeat_flags())
        }
        crate::i18n::Lang::Zh => format!("自测一下：redis-learn quiz {}{}", lesson.number, settings.repeat_flags()),
    };
    p.wrapped_dim(&hint, "", "  ")?;
    Ok(None)
}

/// A spinner on stderr while a demo runs, only at a terminal: the demo's title, the time so far,
/// and (from the second run on) how much is left by the time the same demo took last time.
struct Spinner(Option<indicatif::ProgressBar>);

impl Spinner {
    fn start(settings: &Settings, title: &str, estimate: Option<f64>) -> Spinner {
        if !settings.interactive || settings.json || title.is_empty() {
            return Spinner(None);
        }
        let lang = settings.lang;
        let width = console::Term::stderr().size_checked().map_or(80, |(_, cols)| usize::from(cols));
        // Room for the spinner, the bar and the estimate: the title gets the rest.
        let room = width.saturating_sub(if estimate.is_some() { 36 } else { 14 }).max(10);
        let title = console::truncate_str(title, room, "…").into_owned();
        let style = match estimate {
            Some(seconds) => {
                let expected = std::time::Duration::from_secs_f64(seconds.max(0.1));
                indicatif::ProgressStyle::with_template("{spinner} {msg} {share} {left}")
                    .unwrap_or_else(|_| indicatif::ProgressStyle::default_spinner())
                    .with_key("share", move |state: &indicatif::ProgressState, w: &mut dyn std::fmt::Write| {
                        let done = (state.elapsed().as_secs_f64() / expected.as_secs_f64()).min(1.0);
                        let filled = (done * 10.0).round() as usize;
                        let _ = write!(w, "{}{}", "█".repeat(filled), "░".repeat(10 - filled));
                    })
                    .with_key("left", move |state: &indicatif::ProgressState, w: &mut dyn std::fmt::Write| {
                        let elapsed = state.elapsed();
                        let _ = match (expected.checked_sub(elapsed), lang) {
                            (Some(left), crate::i18n::Lang::En) => write!(w, "~{} s left", left.as_secs() + 1),
                            (Some(left), crate::i18n::Lang::Zh) => write!(w, "约剩 {} 秒", left.as_secs() + 1),
                            (None, crate::i18n::Lang::En) => {
                                write!(w, "{} s, longer than last time", elapsed.as_secs())
                            }
                            (None, crate::i18n::Lang::Zh) => write!(w, "{} 秒，比上次久", elapsed.as_secs()),
                        };
                    })
            }
            None => indicatif::ProgressStyle::with_template("{spinner} {msg} {elapsed}")
                .unwrap_or_else(|_| indicatif::ProgressStyle::default_spinner()),
        };
        let bar = indicatif::ProgressBar::new_spinner().with_style(style);
        bar.set_message(format!("{title}…"));
        bar.enable_steady_tick(std::time::Duration::from_millis(100));
        Spinner(Some(bar))
    }
}

impl Spinner {
    /// Print something while the spinner is hidden.
    fn suspend<T>(&self, f: impl FnOnce() -> T) -> T {
        match &self.0 {
            Some(bar) => bar.suspend(f),
            None => f(),
        }
    }

    fn stop(&mut self) {
        if let Some(bar) = self.0.take() {
            bar.finish_and_clear();
        }
    }
}

impl Drop for Spinner {
    fn drop(&mut self) {
        self.stop();
    }
}
