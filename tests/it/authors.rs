//! What a lesson author meets: `check` (strict, with the parser's line and caret, `--json`), a broken
//! file in `--lessons-dir` left out of the other commands with one warning line, and a partial third
//! language (`[text.fr]`) that shows its own words and English everywhere else.

use std::path::Path;

use crate::support;
use crate::support::{Server, Test};
use serde_json::Value;

const LESSON_1: &str = include_str!("../../lessons/01-what-is-redis.toml");
const LESSON_2: &str = include_str!("../../lessons/02-cache-aside.toml");

/// A partial French translation of lesson 1: a title, one demo's title, one quiz question (the
/// last one, which `[quiz.text.fr]` at the end of the file belongs to).
const FRENCH: &str = r#"
[text.fr]
title = "Qu'est-ce que Redis ?"

[text.fr.messages]
"round-trip.title" = "Un aller-retour, et ce que dit INFO"

[quiz.text.fr]
question = "Question en français ?"
options = ["un", "deux", "trois", "quatre"]
explanation = "Parce que."
"#;

fn lessons_dir(files: &[(&str, &str)]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    for (name, text) in files {
        std::fs::write(dir.path().join(name), text).unwrap();
    }
    dir
}

fn arg(path: &Path) -> String {
    path.display().to_string()
}

#[test]
fn check_passes_the_built_in_lessons_with_no_warning() {
    Test::new().args(["check"]).run().success().stdout_contains("0 problems, 0 warnings");
    let doc = Test::new().args(["check", "--json"]).run().success().json();
    assert_eq!(doc["ok"], true);
    assert_eq!(doc["problems"].as_array().unwrap().len(), 0, "{doc}");
    assert_eq!(doc["warnings"].as_array().unwrap().len(), 0, "{doc}");
    assert!(doc["files"].as_u64().unwrap() >= 10);
}

#[test]
fn a_broken_file_is_left_out_with_one_warning_and_check_shows_where() {
    let broken = LESSON_2.replacen("slug = ", "colour = \"red\"\nslug = ", 1);
    let dir = lessons_dir(&[("01-what-is-redis.toml", LESSON_1), ("02-broken.toml", &broken)]);
    let dir_arg = arg(dir.path());

    // `list` goes on with the good lesson and names the bad file once, with how to see why.
    let out = Test::new().args(["list", "--lessons-dir", &dir_arg]).run().success();
    out.stdout_contains("what-is-redis").stderr_contains("02-broken.toml").stderr_contains("check --lessons-dir");
    let warnings: Vec<&str> = out.stderr.lines().filter(|l| l.starts_with("warning")).collect();
    assert_eq!(warnings.len(), 1, "{}", out.stderr);
    assert!(!out.stdout.contains("cache-aside"), "{}", out.stdout);
    // Its hint names the flag that reads the same lessons again.
    out.stdout_contains(&format!("redis-learn lesson 1 --lessons-dir {dir_arg}"));

    // `check` is strict: the parser's report with its line number and caret, exit 1.
    let out = Test::new().args(["check", "--lessons-dir", &dir_arg]).run().code(1);
    out.stdout_contains("02-broken.toml").stdout_contains("line").stdout_contains("^").stdout_contains("colour");
    out.stdout_contains("2 files checked, 1 problem, 0 warnings");
    let doc = Test::new().args(["check", "--json", "--lessons-dir", &dir_arg]).run().code(1).json();
    assert_eq!(doc["ok"], false);
    let problems = doc["problems"].as_array().unwrap();
    assert_eq!(problems.len(), 1, "{doc}");
    assert!(problems[0]["file"].as_str().unwrap().ends_with("02-broken.toml"));
    assert!(problems[0]["message"].as_str().unwrap().contains("colour"));
}

#[test]
fn a_directory_of_only_broken_files_is_an_error() {
    let dir = lessons_dir(&[("01-bad.toml", "format_version = 1\nnumber = \"one\"\n")]);
    let out = Test::new().args(["list", "--lessons-dir", &arg(dir.path())]).run().code(2);
    out.stderr_contains("01-bad.toml").stderr_contains("line 2");
    assert_eq!(out.stderr.lines().count(), 1, "{}", out.stderr);
}

#[test]
fn a_partial_third_language_shows_its_words_and_english_elsewhere() {
    let french = format!("{LESSON_1}{FRENCH}");
    let dir = lessons_dir(&[("01-what-is-redis.toml", &french)]);
    let dir_arg = arg(dir.path());

    // `check` accepts it and says what English fills in.
    let out = Test::new().args(["check", "--lessons-dir", &dir_arg]).run().success();
    out.stdout_contains("[text.fr] lacks summary, intro, outro, 3 demo intros").stdout_contains("messages");

    let list = Test::new().args(["list", "--json", "--lang", "fr", "--lessons-dir", &dir_arg]).run().success().json();
    assert_eq!(list[0]["title"], "Qu'est-ce que Redis ?");

    let server = Server::start(&[]);
    let _serial = support::heavy();
    let out = Test::new()
        .args(["lesson", "1", "--quick", "--no-quiz", "--json", "--lang", "fr", "--lessons-dir", &dir_arg])
        .redis(&server)
        .run()
        .success();
    let doc: Value = out.json();
    let titles: Vec<&str> = doc["demos"].as_array().unwrap().iter().map(|d| d["title"].as_str().unwrap()).collect();
    assert_eq!(titles[0], "Un aller-retour, et ce que dit INFO", "{titles:?}");
    assert_eq!(titles[1], "Six core types, as the server stores them", "English where French has no words");

    // The quiz: the one French question, the others in English.
    let answers = vec!["a"; LESSON_1.matches("[[quiz]]").count()].join(",");
    let out = Test::new()
        .args(["quiz", "1", "--lang", "fr", "--lessons-dir", &dir_arg, "--answers", &answers, "--json"])
        .run();
    assert!(out.stdout.contains("Question en français ?"), "{}", out.stdout);
    assert!(out.stdout.contains("Parce que."), "{}", out.stdout);
}

#[test]
fn a_language_no_lesson_has_says_so_and_shows_english() {
    let out = Test::new().args(["list", "--lang", "fr"]).run().success();
    out.stdout_contains("what-is-redis").stderr_contains("no lesson file has [text.fr]");
    Test::new().args(["list", "--lang", "not a language"]).run().code(2).stderr_contains("language code");
}

/// The interface's own words are a file too: `DIR/ui.toml` rewords a heading in English and adds a
/// partial French that falls back to English message by message; `check` lists what French lacks,
/// and refuses a message whose placeholders differ from English's.
#[test]
fn the_interface_words_are_reworded_and_translated_from_ui_toml() {
    let builtin = include_str!("../../lessons/ui.toml");
    let reworded = builtin
        .replacen("\"list.heading\" = \"redis-learn · lessons\"", "\"list.heading\" = \"Our Redis course\"", 1)
        .replacen("[zh]", "[fr]\n\"list.progress\" = \"Progression : {bar}\"\n\n[zh]", 1);
    assert_ne!(reworded, builtin, "the built-in heading has moved: update this test");
    let dir = lessons_dir(&[("01-what-is-redis.toml", LESSON_1), ("ui.toml", &reworded)]);
    let dir_arg = arg(dir.path());

    let out = Test::new().args(["list", "--lessons-dir", &dir_arg]).run().success();
    out.stdout_contains("Our Redis course").stdout_contains("Progress:");
    let french = Test::new().args(["list", "--lang", "fr", "--lessons-dir", &dir_arg]).run().success();
    french.stdout_contains("Progression :").stdout_contains("Our Redis course");

    let check = Test::new().args(["check", "--lessons-dir", &dir_arg]).run().success();
    check.stdout_contains("[fr] lacks");

    let broken = reworded.replacen("\"Progression : {bar}\"", "\"Progression : {barre}\"", 1);
    let dir = lessons_dir(&[("01-what-is-redis.toml", LESSON_1), ("ui.toml", &broken)]);
    let check = Test::new().args(["check", "--lessons-dir", &arg(dir.path())]).run().code(1);
    check.stdout_contains("list.progress").stdout_contains("differ from English");
}
