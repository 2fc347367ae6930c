//! `redis-learn doctor`: which Redis would be used, whether redis-server is on PATH, the SQLite
//! version, and what was decided about the terminal. Exit 0 when a lesson could run its demos.

use std::io::Write;

use anyhow::Result;
use serde::Serialize;

use crate::Outcome;
use crate::cli::DoctorArgs;
use crate::render::json;
use crate::server::{self, redis_server_path};
use crate::settings::{RedisChoice, Settings};

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
    /// Earlier runs whose keys are still on this server (from the run journal).
    runs_left: usize,
    /// With --clean: what was removed.
    swept: Option<server::Swept>,
}

pub fn run(settings: &Settings, args: &DoctorArgs, out: &mut impl Write) -> Result<Outcome> {
    let connected = server::connect(&settings.redis, settings.allow_remote);
    let journal = server::Journal::new(settings.state_dir.as_deref());
    let (mut runs_left, mut swept) = (0, None);
    if let Ok(handle) = &connected
        && !handle.info().private
    {
        if args.clean {
            swept = Some(journal.sweep(handle.client(), &handle.info().url)?);
        }
        runs_left = journal.left_on(&handle.info().url).len();
    }
    let (redis_ok, url, version, private, problem) = match &connected {
        Ok(handle) => {
            (true, Some(handle.info().url.clone()), Some(handle.info().version.clone()), handle.info().private, None)
        }
        Err(err) => (false, None, None, false, Some(err.to_string())),
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
        runs_left,
        swept,
    };
    drop(connected); // a private server started for the check stops here
    if settings.json {
        json::print(out, &doc)?;
    } else {
        let lang = settings.lang;
        let t = |en: &'static str, zh: &'static str| lang.tr(en, zh);
        let mark = |ok: bool| if ok { "✔" } else { "✘" };
        let how = match &settings.redis {
            RedisChoice::Explicit(_) => "--redis / REDIS_URL",
            RedisChoice::Private => "--private",
            RedisChoice::Default(_) => t(
                "default: 127.0.0.1:6379, else a private redis-server",
                "默认：127.0.0.1:6379，否则启动私有 redis-server",
            ),
        };
        writeln!(out, "{} Redis ({how})", mark(doc.redis_ok))?;
        match (&doc.redis_url, &doc.redis_problem) {
            (Some(url), _) => writeln!(
                out,
                "    {url} · {} {} · {}",
                t("version", "版本"),
                doc.redis_version.as_deref().unwrap_or("?"),
                if doc.private {
                    t("private server started by redis-learn (stopped again)", "redis-learn 启动的私有实例（已停止）")
                } else {
                    t("existing server: demos touch only their own keys", "已有的服务端：演示只动自己的键")
                }
            )?,
            (None, Some(problem)) => writeln!(out, "    {problem}")?,
            _ => {}
        }
        writeln!(
            out,
            "{} {} {}",
            mark(doc.redis_server_on_path.is_some()),
            t("redis-server on PATH:", "PATH 中的 redis-server："),
            doc.redis_server_on_path.as_deref().unwrap_or(t("no", "无"))
        )?;
        writeln!(out, "✔ SQLite {} ({})", doc.sqlite_version, t("bundled", "内置"))?;
        if doc.networked_sql {
            writeln!(
                out,
                "✔ {}",
                t("MySQL/PostgreSQL clients for --sql-url", "用于 --sql-url 的 MySQL/PostgreSQL 客户端")
            )?;
        } else {
            writeln!(
                out,
                "  {}",
                t(
                    "--sql-url (MySQL/PostgreSQL): not in this build; add --features networked-sql",
                    "--sql-url（MySQL/PostgreSQL）：这个构建不含；构建时加 --features networked-sql"
                )
            )?;
        }
        writeln!(
            out,
            "  {} {}",
            t("temp dir filesystem:", "临时目录文件系统："),
            doc.scratch_filesystem.as_deref().unwrap_or("unknown")
        )?;
        writeln!(
            out,
            "  {} {} · {} {} · {} {}",
            t("terminal:", "终端："),
            if doc.interactive {
                t("interactive", "交互式")
            } else {
                t("not interactive (quizzes need --answers)", "非交互（测验需要 --answers）")
            },
            t("color:", "颜色："),
            doc.color,
            t("language:", "语言："),
            doc.lang.code()
        )?;
        writeln!(out, "  {} {}", t("placement:", "CPU 安排："), doc.placement_text)?;
        if let Some(swept) = doc.swept {
            match lang {
                crate::i18n::Lang::En => {
                    writeln!(out, "✔ removed {} keys that {} interrupted runs had left", swept.keys, swept.runs)?
                }
                crate::i18n::Lang::Zh => {
                    writeln!(out, "✔ 已删除 {} 次中断的运行留下的 {} 个键", swept.runs, swept.keys)?
                }
            }
        }
        if doc.runs_left > 0 {
            match lang {
                crate::i18n::Lang::En => writeln!(
                    out,
                    "✘ {} interrupted runs left keys on this Redis: `redis-learn doctor --clean` removes them",
                    doc.runs_left
                )?,
                crate::i18n::Lang::Zh => writeln!(
                    out,
                    "✘ 有 {} 次中断的运行在这个 Redis 上留下了键：`redis-learn doctor --clean` 可删除",
                    doc.runs_left
                )?,
            }
        }
        let lessons = match &settings.lessons_dir {
            Some(_) => doc.lessons.as_str(),
            None => t("built in", "内置"),
        };
        writeln!(out, "  {} {}", t("lessons:", "课程："), lessons)?;
        if let Some(dir) = &settings.state_dir {
            writeln!(out, "  {} {}", t("progress:", "进度文件："), dir.join(crate::progress::FILE_NAME).display())?;
        }
    }
    Ok(if doc.redis_ok { Outcome::Success } else { Outcome::Usage })
}
