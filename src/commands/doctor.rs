//! `redis-learn doctor`: which Redis would be used, whether redis-server is on PATH, the SQLite
//! version, and what was decided about the terminal. Marks: `✔` fine, `!` a warning (a lesson runs,
//! see the line), `✘` a lesson cannot run its demos. Exit 0 when a lesson could run its demos (no
//! `✘`), 2 when it could not.

use std::io::Write;

use anyhow::Result;
use serde::Serialize;

use crate::Outcome;
use crate::cli::DoctorArgs;
use crate::render::json;
use crate::server::{self, redis_server_path};
use crate::settings::{RedisChoice, Settings};
use crate::text::Text;

#[derive(Debug, Serialize)]
struct Doctor {
    redis_ok: bool,
    redis_url: Option<String>,
    redis_version: Option<String>,
    private: bool,
    redis_problem: Option<String>,
    redis_server_on_path: Option<String>,
    sqlite_version: String,
    /// Whether this build has the MySQL/PostgreSQL clients (`--features networked-sql`).
    networked_sql: bool,
    interactive: bool,
    color: bool,
    lang: crate::i18n::Lang,
    lessons: String,
    scratch_filesystem: Option<String>,
    /// Where a run measures: `{"pin": "none", "cpus": 2}` or `{"pin": "same-cpu", "cpu": 1}`.
    placement: crate::measure::Placement,
    placement_text: String,
    /// Earlier runs whose keys are still on this server (from the run journal, counted on the server).
    runs_left: usize,
    /// Their keys, as found on the server now.
    keys_left: usize,
    /// With --clean: what was removed.
    swept: Option<server::Swept>,
}

pub fn run(settings: &Settings, args: &DoctorArgs, out: &mut impl Write) -> Result<Outcome> {
    let connected = server::connect(&settings.redis, settings.allow_remote);
    let journal = server::Journal::new(settings.state_dir.as_deref());
    let (mut left, mut swept) = (server::Swept::default(), None);
    if let Ok(handle) = &connected
        && !handle.info().private
    {
        if args.clean {
            swept = Some(journal.sweep(handle.client(), &handle.info().url)?);
        }
        // What is really there: a run whose entry outlived its keys left nothing to warn about.
        left = journal.keys_left_on(handle.client(), &handle.info().url)?;
    }
    let (redis_ok, url, version, private, problem) = match &connected {
        Ok(handle) => {
            (true, Some(handle.info().url.clone()), Some(handle.info().version.clone()), handle.info().private, None)
        }
        Err(err) => (false, None, None, false, Some(err.message(settings.lang))),
    };
    let doc = Doctor {
        redis_ok,
        redis_url: url,
        redis_version: version,
        private,
        redis_problem: problem,
        redis_server_on_path: redis_server_path().map(|p| p.display().to_string()),
        sqlite_version: crate::sql::sqlite_version().to_string(),
        networked_sql: crate::sql::remote::BUILT_IN,
        interactive: settings.interactive,
        color: settings.color,
        lang: settings.lang,
        lessons: settings.lessons_dir.as_ref().map_or_else(|| "built in".to_string(), |d| d.display().to_string()),
        scratch_filesystem: crate::sql::filesystem_type(&std::env::temp_dir()),
        placement: settings.placement,
        placement_text: settings.placement.describe(settings.lang),
        runs_left: left.runs,
        keys_left: left.keys,
        swept,
    };
    drop(connected); // a private server started for the check stops here
    if settings.json {
        json::print(out, &doc)?;
    } else {
        let lang = settings.lang;
        let t = |id: &str| lang.word(id);
        let mark = |ok: bool| if ok { "✔" } else { "✘" };
        // A lack that leaves the lessons running (some demos skipped) is a warning, not a failure.
        let warn = |ok: bool| if ok { "✔" } else { "!" };
        let how = match &settings.redis {
            RedisChoice::Explicit(_) => "--redis / REDIS_URL".to_string(),
            RedisChoice::Private => "--private".to_string(),
            RedisChoice::Default(_) => t("doctor.default-target"),
        };
        writeln!(out, "{} Redis ({how})", mark(doc.redis_ok))?;
        match (&doc.redis_url, &doc.redis_problem) {
            (Some(url), _) => writeln!(
                out,
                "    {url} · {} {} · {}",
                t("doctor.version"),
                doc.redis_version.as_deref().unwrap_or("?"),
                if doc.private { t("doctor.private") } else { t("doctor.existing") }
            )?,
            (None, Some(problem)) => writeln!(out, "    {problem}")?,
            _ => {}
        }
        writeln!(
            out,
            "{} {}",
            if doc.redis_ok {
                warn(doc.redis_server_on_path.is_some())
            } else {
                mark(doc.redis_server_on_path.is_some())
            },
            labelled(&t("doctor.on-path"), doc.redis_server_on_path.clone().unwrap_or_else(|| t("doctor.no")))
        )?;
        writeln!(out, "✔ SQLite {} ({})", doc.sqlite_version, t("doctor.bundled"))?;
        if doc.networked_sql {
            writeln!(out, "✔ {}", t("doctor.sql-clients"))?;
        } else {
            writeln!(out, "  {}", t("doctor.no-sql-clients"))?;
        }
        writeln!(out, "  {}", labelled(&t("doctor.temp-fs"), doc.scratch_filesystem.as_deref().unwrap_or("unknown")))?;
        writeln!(
            out,
            "  {} · {} · {}",
            labelled(
                &t("doctor.terminal"),
                if doc.interactive { t("doctor.interactive") } else { t("doctor.not-interactive") }
            ),
            labelled(&t("doctor.color"), doc.color),
            labelled(&t("doctor.language"), doc.lang.code())
        )?;
        writeln!(out, "  {}", labelled(&t("doctor.placement"), &doc.placement_text))?;
        if let Some(swept) = doc.swept {
            let line = Text::msg("doctor.swept").fact("keys", swept.keys).fact("runs", swept.runs);
            writeln!(out, "✔ {}", lang.say(line))?;
        }
        if doc.keys_left > 0 {
            let line = Text::msg("doctor.runs-left").fact("runs", doc.runs_left).fact("keys", doc.keys_left);
            writeln!(out, "! {}", lang.say(line))?;
        }
        let lessons = match &settings.lessons_dir {
            Some(_) => doc.lessons.clone(),
            None => t("doctor.built-in"),
        };
        writeln!(out, "  {}", labelled(&t("doctor.lessons"), lessons))?;
        if let Some(dir) = &settings.state_dir {
            writeln!(out, "  {}", labelled(&t("doctor.progress"), dir.join(crate::progress::FILE_NAME).display()))?;
        }
    }
    Ok(if doc.redis_ok { Outcome::Success } else { Outcome::Usage })
}

/// A label and its value: `terminal: interactive`, and in Chinese `终端：交互式`, with no space
/// after a full-width colon.
fn labelled(label: &str, value: impl std::fmt::Display) -> String {
    format!("{label}{}{value}", crate::render::text::gap(label))
}
