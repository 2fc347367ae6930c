//! Every lesson file: embedded, parses, validates, and is complete in every language.

use std::collections::BTreeSet;

use redis_learn::i18n::Lang;
use redis_learn::lesson::{Catalogue, EMBEDDED};

#[test]
fn every_file_in_lessons_is_embedded() {
    let on_disk: BTreeSet<String> = std::fs::read_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/lessons"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|name| {
            name.ends_with(".toml")
                && name != redis_learn::lesson::notes::FILE_NAME
                && name != redis_learn::words::FILE_NAME
        })
        .collect();
    let embedded: BTreeSet<String> = EMBEDDED.iter().map(|(name, _)| name.to_string()).collect();
    assert_eq!(on_disk, embedded, "add new lesson files to EMBEDDED in src/lesson/catalogue.rs");
}

#[test]
fn the_built_in_lessons_parse_and_validate() {
    let catalogue = Catalogue::embedded().unwrap_or_else(|e| panic!("{e:#}"));
    assert!(catalogue.lessons().len() >= 2);
}

#[test]
fn every_lesson_is_complete_in_every_language() {
    // The files as written (the catalogue fills a translation's gaps from English).
    let files: Vec<(String, String)> = EMBEDDED.iter().map(|(n, t)| (n.to_string(), t.to_string())).collect();
    let (lessons, problems) = redis_learn::lesson::parse_all(&files);
    assert!(problems.is_empty(), "{problems:?}");
    for (file, lesson) in &lessons {
        for lang in Lang::ALL {
            assert!(lesson.text.contains_key(lang.code()), "{file} has no [text.{}]", lang.code());
            let gaps = redis_learn::lesson::gaps(lesson, lang.code());
            assert!(gaps.is_empty(), "{file}: [text.{}] lacks {}", lang.code(), gaps.join(", "));
        }
    }
}

#[test]
fn chinese_text_is_chinese() {
    let is_cjk = |c: char| ('\u{4e00}'..='\u{9fff}').contains(&c);
    let catalogue = Catalogue::embedded().unwrap();
    for lesson in catalogue.lessons() {
        let zh = lesson.text(Lang::Zh);
        for paragraph in zh.intro.split("\n\n").chain(zh.outro.split("\n\n")).filter(|p| !p.trim().is_empty()) {
            assert!(paragraph.chars().any(is_cjk), "lesson {}: an untranslated paragraph: {paragraph}", lesson.number);
        }
        let source = lesson.text(Lang::Zh).source.as_str();
        assert!(source.chars().any(is_cjk), "lesson {}: [text.zh] needs a source line in Chinese", lesson.number);
        let en = lesson.source_in(Lang::En);
        assert!(!en.chars().any(is_cjk), "lesson {}: the English source line quotes Chinese: {en}", lesson.number);
        for item in &lesson.quiz {
            let q = item.text(Lang::Zh);
            assert!(q.question.chars().any(is_cjk), "lesson {}: untranslated question: {}", lesson.number, q.question);
            assert!(q.explanation.chars().any(is_cjk), "lesson {}: untranslated explanation", lesson.number);
        }
    }
}

#[test]
fn quizzes_cite_demos_by_their_titles_not_their_internal_names() {
    let catalogue = Catalogue::embedded().unwrap();
    for lesson in catalogue.lessons() {
        for lang in Lang::ALL {
            for item in &lesson.quiz {
                let q = item.text(lang);
                for field in [&q.question, &q.explanation].into_iter().chain(&q.options) {
                    assert!(!field.contains("{demo:"), "lesson {}: unresolved {field}", lesson.number);
                    for demo in &lesson.demos {
                        for internal in [format!("{demo} demo"), format!("{demo} 演示"), format!("{demo}演示")] {
                            assert!(!field.contains(&internal), "lesson {}: {internal:?} in {field}", lesson.number);
                        }
                    }
                }
            }
        }
    }
}

#[test]
fn a_demo_reference_to_no_demo_is_a_problem() {
    let (_, text) = EMBEDDED[0];
    let broken = text.replacen("{demo:core-types}", "{demo:no-such-demo}", 1);
    assert_ne!(broken, text, "lesson 1 cites a demo with {{demo:core-types}}");
    let err = Catalogue::from_files(vec![("01.toml".into(), broken)]).unwrap_err();
    assert!(format!("{err:#}").contains("{demo:no-such-demo}"), "{err:#}");
}

#[test]
fn summaries_end_alike_without_a_full_stop() {
    let catalogue = Catalogue::embedded().unwrap();
    for lesson in catalogue.lessons() {
        for lang in Lang::ALL {
            let summary = &lesson.text(lang).summary;
            assert!(
                !summary.ends_with(['.', '。']),
                "lesson {}: its summary ends with a full stop: {summary}",
                lesson.number
            );
        }
    }
}

/// A question writes its large numbers alike: `1,000` beside `2,000`, not beside `2000` (outside
/// code spans).
#[test]
fn a_quiz_question_writes_its_numbers_alike() {
    let catalogue = Catalogue::embedded().unwrap();
    for lesson in catalogue.lessons() {
        for lang in Lang::ALL {
            for item in &lesson.quiz {
                let q = item.text(lang);
                let text = std::iter::once(q.question.as_str()).chain(q.options.iter().map(String::as_str));
                let text: Vec<&str> = text.collect();
                let text = text.join(" ");
                // Code spans (`INCR counter:2026-11-26`) are left out: a key is not a count.
                let prose: String = text.split('`').step_by(2).collect::<Vec<_>>().join(" ");
                let numbers: Vec<&str> = prose
                    .split(|c: char| !(c.is_ascii_digit() || c == ','))
                    .map(|n| n.trim_matches(','))
                    .filter(|n| n.len() >= 4 && n.chars().next().is_some_and(|c| c.is_ascii_digit()))
                    .collect();
                let separated = numbers.iter().any(|n| n.contains(','));
                let bare: Vec<&&str> =
                    numbers.iter().filter(|n| !n.contains(',') && (4..=6).contains(&n.len())).collect();
                assert!(
                    !separated || bare.is_empty(),
                    "lesson {}: {bare:?} beside separated numbers in: {text}",
                    lesson.number
                );
            }
        }
    }
}

/// README's flag table says which subcommands take each flag: the same as the CLI, for every row
/// that names one flag.
#[test]
fn the_readme_flag_table_matches_the_cli() {
    use clap::CommandFactory;
    let readme = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md")).unwrap();
    let cli = redis_learn::cli::Cli::command();
    let all: Vec<String> = cli.get_subcommands().map(|c| c.get_name().to_string()).collect();
    let takes =
        |sub: &str, flag: &str| cli.find_subcommand(sub).unwrap().get_arguments().any(|a| a.get_long() == Some(flag));
    let table = readme.split("\n## Flags\n").nth(1).unwrap().split("\n## ").next().unwrap();
    let mut rows = 0;
    for row in table.lines().filter(|l| l.starts_with("| `--")) {
        let cells: Vec<&str> = row.split(" | ").collect();
        let flags: Vec<&str> = cells[0].matches("`--").collect();
        if flags.len() != 1 {
            continue;
        }
        let flag = cells[0].trim_start_matches("| `--").split([' ', '`']).next().unwrap();
        let named: Vec<String> = match cells[1].strip_prefix("all but ") {
            Some(but) => all.iter().filter(|s| !but.split(", ").any(|b| b == s.as_str())).cloned().collect(),
            None => cells[1].split(", ").map(str::to_string).collect(),
        };
        for sub in &all {
            assert_eq!(named.contains(sub), takes(sub, flag), "README: --{flag} and {sub}: {}", cells[1]);
        }
        rows += 1;
    }
    assert!(rows >= 10, "{rows} rows read");
}
