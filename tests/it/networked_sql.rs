//! Lesson 10 against a networked SQL server (`--sql-url`): MySQL/MariaDB from
//! `REDIS_LEARN_TEST_MYSQL_URL` and PostgreSQL from `REDIS_LEARN_TEST_POSTGRES_URL`. Those two need a
//! server and a build with the `networked-sql` cargo feature, so they are ignored in a plain
//! `cargo test`; `.ci/run` runs them with `--features networked-sql --ignored` and the variables set
//! (and fails them if a variable or the feature is missing). Also what every learner sees without
//! one, and the one-line errors for a bad, remote or unreachable `--sql-url`.

use crate::support;
use crate::support::{Server, Test};
use redis_learn::sql::remote::{Param, SqlServer};
use serde_json::Value;

const MYSQL_VAR: &str = "REDIS_LEARN_TEST_MYSQL_URL";
const POSTGRES_VAR: &str = "REDIS_LEARN_TEST_POSTGRES_URL";

/// The URL in `var`; a test that asked for a server and has none fails, it never passes empty.
fn url_from(var: &str) -> String {
    if !redis_learn::sql::remote::BUILT_IN {
        panic!("this test needs the clients: run it with --features networked-sql");
    }
    match std::env::var(var) {
        Ok(url) if !url.trim().is_empty() => url,
        _ => panic!("{var} is not set: point it at a server (e.g. mysql://root@127.0.0.1:3306/test)"),
    }
}

/// Tables named after the run that are still on the server.
fn tables_left(url: &str, run: &str) -> i64 {
    let mut server = SqlServer::connect(url, false).unwrap();
    let stmt = server.prepare("SELECT COUNT(*) FROM information_schema.tables WHERE table_name LIKE ?").unwrap();
    let pattern = format!("redis_learn_{run}_%");
    server.query(&stmt, &[Param::Text(&pattern)]).unwrap()[0][0].int().unwrap()
}

/// Lesson 10 with `--sql-url`: every claim holds, the SQL server is in the timings and the
/// scorecard, no key is left behind, and the run's tables are dropped.
fn lesson_10_against(url: &str, product: &[&str]) {
    let server = Server::start(&[]);
    let _serial = support::heavy();
    let out = Test::new().args(["lesson", "10", "--quick", "--json", "--sql-url", url]).redis(&server).run();
    let doc = out.clone().success().json();
    let claims: Vec<&Value> =
        doc["demos"].as_array().unwrap().iter().flat_map(|d| d["claims"].as_array().unwrap()).collect();
    for claim in &claims {
        assert_ne!(claim["status"], "failed", "{}", claim["text"]);
    }
    assert_eq!(doc["keys_left"], 0);
    let networked: Vec<&Value> = doc["demos"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|d| d["measurements"].as_array().unwrap())
        .filter(|m| m["backend"] == "network-sql")
        .collect();
    assert!(networked.len() >= 6, "too few networked SQL timings: {}", networked.len());
    for m in &networked {
        let label = m["label"].as_str().unwrap();
        assert!(product.iter().any(|p| label.contains(p)), "{label}");
    }
    // Networked claims join the SQLite ones: more than without --sql-url.
    let texts: Vec<&str> = claims.iter().map(|c| c["text"].as_str().unwrap()).collect();
    assert!(texts.iter().any(|t| product.iter().any(|p| t.contains(p))), "no claim names the server: {texts:?}");
    let scorecard = &doc["demos"][0]["findings"][0];
    assert!(scorecard["headers"].to_string().contains("(TCP)"), "{scorecard}");
    let run = doc["namespace"].as_str().unwrap().split(':').nth(1).unwrap().to_string();
    assert_eq!(tables_left(url, &run), 0, "the run's tables were not dropped");
}

#[test]
#[ignore = "needs a MySQL/MariaDB server in REDIS_LEARN_TEST_MYSQL_URL and --features networked-sql; .ci/run provides both"]
fn lesson_10_compares_with_mysql() {
    lesson_10_against(&url_from(MYSQL_VAR), &["MySQL", "MariaDB"]);
}

#[test]
#[ignore = "needs a PostgreSQL server in REDIS_LEARN_TEST_POSTGRES_URL and --features networked-sql; .ci/run provides both"]
fn lesson_10_compares_with_postgres() {
    lesson_10_against(&url_from(POSTGRES_VAR), &["PostgreSQL"]);
}

#[test]
#[ignore = "slow (~6 s): CI runs it; locally `cargo test --release -- --include-ignored`"]
fn without_a_sql_url_the_column_says_how_to_add_one() {
    let server = Server::start(&[]);
    let _serial = support::heavy();
    let out = Test::new().args(["lesson", "10", "--quick", "--no-quiz"]).redis(&server).run().success();
    out.stdout_contains("not configured (pass --sql-url mysql://root@127.0.0.1:3306/test)")
        .stdout_contains("Scorecard")
        .stdout_contains("kill -9")
        .stdout_contains("claims held");
}

#[test]
fn a_bad_remote_or_unreachable_sql_url_is_one_line_and_exit_2() {
    let server = Server::start(&[]);
    let port = redis_learn::server::free_port().unwrap();
    // A build without the clients (the default) says how to get them; one with them tries to connect.
    let (unreachable, remote) = if redis_learn::sql::remote::BUILT_IN {
        ("could not use the SQL server", "--allow-remote")
    } else {
        ("--features networked-sql", "--features networked-sql")
    };
    let cases = [
        (format!("mysql://root@127.0.0.1:{port}/test"), unreachable),
        (format!("postgres://root@127.0.0.1:{port}/test"), unreachable),
        ("mysql://root@10.9.8.7:3306/test".to_string(), remote),
        ("redis://127.0.0.1:6379".to_string(), "is not a SQL URL"),
    ];
    for (url, expected) in cases {
        let out = Test::new().args(["lesson", "10", "--quick", "--no-quiz", "--sql-url", &url]).redis(&server).run();
        let out = out.code(2);
        out.no_panic().stderr_contains(expected);
        let errors: Vec<&str> = out.stderr.lines().filter(|l| l.starts_with("error")).collect();
        assert_eq!(errors.len(), 1, "{url}: {}", out.stderr);
    }
    // The same, in Chinese.
    let url = format!("mysql://root@127.0.0.1:{port}/test");
    let out = Test::new()
        .args(["lesson", "10", "--quick", "--no-quiz", "--lang", "zh", "--sql-url", &url])
        .redis(&server)
        .run()
        .code(2);
    out.stderr_contains(if redis_learn::sql::remote::BUILT_IN { "无法使用" } else { "networked-sql" });
    assert_eq!(server.dbsize(), 0, "a refused --sql-url must stop before any key is written");
    // What can be told without connecting stops any lesson before its first line: a URL that is
    // no SQL URL, and (in a build without the clients) any SQL URL, even for a lesson that has no
    // SQL server column.
    let mut early = vec![("redis://127.0.0.1:6379".to_string(), "is not a SQL URL")];
    if !redis_learn::sql::remote::BUILT_IN {
        early.push((url, "--features networked-sql"));
    }
    for (url, expected) in early {
        for lesson in ["1", "10"] {
            let out = Test::new()
                .args(["lesson", lesson, "--quick", "--no-quiz", "--sql-url", &url])
                .redis(&server)
                .run()
                .code(2);
            out.stderr_contains(expected);
            assert_eq!(out.stdout, "", "lesson {lesson} printed before refusing {url}");
        }
    }
}
