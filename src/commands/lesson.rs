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
use crate::pause::Choice;
use crate::render::json::{self, LessonRef, LessonRun};
use crate::render::{Styles, text::Printer, text::gap};
use crate::server::{self, Namespace, RedisHandle};
use crate::settings::{Scale, Settings};
use crate::text::Text;

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
    p.wrap_commands = settings.stdout_tty && settings.trace == crate::server::TraceDetail::Short;
    let text = lesson.text(lang);
    if !settings.json {
        let heading = lang.say(Text::msg("lesson.heading").fact("number", lesson.number).fact("title", &text.title));
        p.rule(&heading)?;
        p.wrapped_dim(&lang.say(Text::msg("lesson.source").fact("source", lesson.source_in(lang))), "", "  ")?;
        p.blank()?;
        p.prose(&text.intro)?;
    }

    let Some(mut redis) = redis else {
        // No Redis anywhere: still teach the text and the quiz, then say how to get one.
        p.blank()?;
        p.wrapped(
            &format!(
                "{}{}{}",
                p.styles.fail(&lang.word("lesson.no-redis")),
                gap(&lang.word("lesson.no-redis")),
                lang.word("lesson.get-redis")
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

    let namespace = redis.new_namespace();
    if !settings.json {
        let shared_default = matches!(settings.redis, crate::settings::RedisChoice::Default(_));
        server_banner(&mut p, &redis, &namespace, shared_default)?;
    }
    let mut progress = super::load_progress(settings);
    let scale = match settings.scale {
        Scale::Full => "full",
        Scale::Quick => "quick",
    };
    let mut spinner = Spinner::start(settings, &lang.word("lesson.getting-ready"), None);
    let mut started = std::time::Instant::now();
    let mut took: Vec<(String, f64)> = Vec::new();
    let run = demo::run_demos(settings, lesson, &redis, &namespace, interrupt, |event| {
        if settings.json {
            return Ok(Flow::Go);
        }
        match event {
            RunEvent::Floor(p50) => {
                spinner.suspend(|| {
                    let line = lang.say(
                        Text::msg("lesson.floor-start")
                            .fact("p50", p50)
                            .fact("placement", settings.placement.describe(lang)),
                    );
                    p.wrapped_dim(&line, "", "  ")
                })?;
            }
            RunEvent::Starting(i, name) => {
                spinner.stop();
                if i > 0 && settings.pause {
                    let prompt =
                        lang.say(Text::msg("lesson.next-demo").fact("next", i + 1).fact("demos", lesson.demos.len()));
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
                p.subrule(
                    &lang.say(
                        Text::msg("lesson.demo-heading")
                            .fact("index", i + 1)
                            .fact("demos", lesson.demos.len())
                            .fact("title", report.title.to_string()),
                    ),
                )?;
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
            (Some(start), Some(end)) => lang.say(Text::msg("lesson.floor-end").fact("end", end).fact("start", start)),
            _ => String::new(),
        };
        let (held, total, inconclusive) = (totals.held, totals.total, totals.inconclusive);
        let inconclusive = if inconclusive > 0 {
            lang.say(Text::msg("lesson.summary-inconclusive").fact("n", inconclusive))
        } else {
            String::new()
        };
        let keys = keys_line(cleanup.removed, cleanup.left, namespace.prefix());
        let mut summary = lang.say(
            Text::msg("lesson.summary")
                .fact("held", held)
                .fact("total", total)
                .fact("inconclusive", inconclusive)
                .fact("keys", lang.say(keys)),
        );
        if noisy {
            summary.push_str(&lang.word("lesson.summary-noisy"));
        }
        p.blank()?;
        if run.swept.keys > 0 {
            let line = lang.say(Text::msg("lesson.swept").fact("keys", run.swept.keys));
            p.wrapped_dim(&line, "", "  ")?;
        }
        if !floor_line.is_empty() {
            p.wrapped_dim(&floor_line, "", "  ")?;
        }
        if let Some(after) = run.stopped_after {
            let line = lang.say(
                Text::msg("lesson.stopped")
                    .fact("after", after)
                    .fact("demos", lesson.demos.len())
                    .fact("number", lesson.number)
                    .fact("flags", settings.repeat_flags()),
            );
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
            let cli = redis_cli_command(&redis, &namespace);
            let line = lang.say(
                Text::msg("lesson.kept")
                    .fact("kept", cleanup.kept)
                    .fact("prefix", namespace.prefix())
                    .fact("minutes", minutes),
            );
            p.wrapped(&line, "", "  ")?;
            p.line(&format!("  {cli} --scan --pattern '{}*'", namespace.prefix()))?;
            p.line(&format!("  {cli}"))?;
            if let Some(kept) = &kept_server {
                let line = lang
                    .say(Text::msg("lesson.kept-server").fact("port", kept.port.to_string()).fact("minutes", minutes));
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
/// On a cluster: the node that holds the run's keys (`--scan` sees one node's keys only), with `-c`
/// to follow redirections.
fn redis_cli_command(redis: &RedisHandle, namespace: &Namespace) -> String {
    let info = redis.client().get_connection_info();
    let mut cli = match info.addr() {
        redis::ConnectionAddr::Unix(path) => format!("redis-cli -s {}", path.display()),
        redis::ConnectionAddr::Tcp(host, port) if redis.is_cluster() => {
            let (host, port) = redis.node_address(namespace).unwrap_or((host.clone(), *port));
            format!("redis-cli -c -h {host} -p {port}")
        }
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
        let line = lang.say(
            Text::msg("lesson.private-server")
                .fact("version", info.version.to_string())
                .fact("port", private.port().to_string())
                .fact("why", why),
        );
        p.wrapped_dim(&line, "", "  ")?;
    } else {
        let line = lang.say(
            Text::msg("lesson.server")
                .fact("flavour", info.flavour.to_string())
                .fact("version", info.version.to_string())
                .fact("url", info.url.as_str())
                .fact("prefix", namespace.prefix()),
        );
        p.wrapped_dim(&line, "", "  ")?;
        if redis.is_cluster() {
            p.wrapped_dim(&lang.word("lesson.cluster"), "", "  ")?;
        }
        if shared_default {
            p.wrapped_dim(&lang.word("lesson.shared-default"), "", "  ")?;
        }
    }
    Ok(())
}

/// The takeaways, then the quiz (at a terminal, after a pause) or how to take it; the quiz's
/// outcome when it was taken.
fn finish_text(p: &mut Printer<impl Write>, lesson: &Lesson, settings: &Settings) -> Result<Option<Outcome>> {
    let lang = settings.lang;
    p.subrule(&lang.word("lesson.takeaways"))?;
    p.prose(&lesson.text(lang).outro)?;
    p.blank()?;
    if lesson.quiz.is_empty() {
        return Ok(None);
    }
    let mut take = settings.quiz && settings.interactive;
    if take && settings.pause {
        let prompt = lang.say(Text::msg("lesson.start-quiz").fact("questions", lesson.quiz.len()));
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
    let hint =
        lang.say(Text::msg("lesson.quiz-hint").fact("number", lesson.number).fact("flags", settings.repeat_flags()));
    p.wrapped_dim(&hint, "", "  ")?;
    Ok(None)
}

/// A spinner on stderr while a demo runs, only at a terminal: the demo's title, the time so far,
/// and (from the second run on) how much is left by the time the same demo took last time. It
/// leaves the screen however the run ends, Ctrl-C included (see [`crate::render::progress_bar`]).
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
        let bar =
            indicatif::ProgressBar::with_draw_target(None, crate::render::progress_bar::stderr()).with_style(style);
        bar.set_message(format!("{title}…"));
        bar.enable_steady_tick(std::time::Duration::from_millis(100));
        crate::render::progress_bar::on_screen(Some(&bar));
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
            crate::render::progress_bar::on_screen(None);
            bar.finish_and_clear();
        }
    }
}

impl Drop for Spinner {
    fn drop(&mut self) {
        self.stop();
    }
}

/// The footer's word on the run's keys: how many were removed and left, or that none were written
/// (a lesson whose demos run on servers of their own).
fn keys_line(removed: usize, left: usize, prefix: &str) -> Text {
    if removed == 0 && left == 0 {
        Text::msg("lesson.no-keys").fact("prefix", prefix)
    } else {
        Text::msg("lesson.keys-removed").fact("removed", removed).fact("prefix", prefix).fact("left", left)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::i18n::Lang;

    #[test]
    fn the_footer_says_so_when_no_key_was_written() {
        let say = |lang: Lang, removed, left| lang.say(keys_line(removed, left, "redis-learn:1a2b:"));
        assert_eq!(say(Lang::En, 0, 0), "no keys were written under redis-learn:1a2b:");
        assert_eq!(say(Lang::Zh, 0, 0), "redis-learn:1a2b: 下没有写入任何键");
        assert_eq!(say(Lang::En, 10, 0), "10 keys written under redis-learn:1a2b: were removed, 0 left");
        assert_eq!(say(Lang::En, 1, 0), "1 key written under redis-learn:1a2b: was removed, 0 left");
    }
}
