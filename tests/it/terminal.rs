//! The learner's terminal, for real: each test runs the binary in a tmux pane (a real tty of a
//! chosen size), sends keys, and reads the screen. They need tmux, so they are ignored in a plain
//! `cargo test`; CI (.ci/run) installs tmux and runs them with `--ignored`. Run with `--ignored`
//! where tmux is missing, each says so on stderr and passes without testing anything.

use std::path::Path;
use std::time::{Duration, Instant};

use crate::support;
use crate::support::{Server, Test};
use redis_learn::i18n::Lang;
use redis_learn::lesson::Catalogue;
use redis_learn::quiz::Attempt;
use serde_json::Value;

const BIN: &str = env!("CARGO_BIN_EXE_redis-learn");
const NEEDS_TMUX: &str = "needs tmux (Debian: apt install tmux); .ci/run installs it and runs the ignored tests";

/// One tmux session running one command line of the binary; killed on drop.
struct Pane {
    session: String,
}

impl Pane {
    /// Start `redis-learn ARGS` in a `cols`×`rows` pane with a clean environment. These tests are
    /// ignored unless asked for; asked for without tmux, they fail (never pass by returning early).
    fn start(cols: u16, rows: u16, env: &[(&str, &str)], args: &[&str]) -> Pane {
        assert!(which::which("tmux").is_ok(), "tmux is not on PATH ({NEEDS_TMUX})");
        static COUNT: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        let n = COUNT.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        let session = format!("redis-learn-term-{}-{n}", std::process::id());
        let env: Vec<String> = env.iter().map(|(k, v)| format!("{k}={v}")).collect();
        let command = format!(
            "env -i PATH={path} TERM=xterm-256color LANG=C.UTF-8 NO_COLOR=1 {env} {BIN} {args}; echo EXIT=$?; sleep 600",
            path = std::env::var("PATH").unwrap_or_default(),
            env = env.join(" "),
            args = args.join(" ")
        );
        let pane = Pane { session };
        let (cols, rows) = (cols.to_string(), rows.to_string());
        pane.tmux(&["new-session", "-d", "-s", &pane.session, "-x", &cols, "-y", &rows, &command]);
        pane.tmux(&["set-option", "-t", &pane.session, "history-limit", "10000"]);
        pane
    }

    fn tmux(&self, args: &[&str]) -> String {
        let out = std::process::Command::new("tmux").args(args).output().unwrap();
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// The screen and its history, one physical row a line (as the learner sees it).
    fn screen(&self) -> String {
        self.tmux(&["capture-pane", "-p", "-t", &self.session, "-S", "-10000"])
    }

    /// The screen and its history with the lines the terminal wrapped joined again (`-J`): each line
    /// as the program printed it.
    fn printed_lines(&self) -> String {
        self.tmux(&["capture-pane", "-p", "-J", "-t", &self.session, "-S", "-10000"])
    }

    /// Wait until `needle` is on the screen; the screen then.
    fn wait_for(&self, needle: &str) -> String {
        let deadline = Instant::now() + Duration::from_secs(120);
        loop {
            let text = self.screen();
            if text.contains(needle) {
                return text;
            }
            assert!(Instant::now() < deadline, "never saw {needle:?} on the screen:\n{text}");
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    fn keys(&self, keys: &[&str]) {
        for key in keys {
            self.tmux(&["send-keys", "-t", &self.session, key]);
            std::thread::sleep(Duration::from_millis(60));
        }
    }

    /// tmux's own view of the terminal: is the cursor shown?
    fn cursor_visible(&self) -> bool {
        self.tmux(&["display-message", "-p", "-t", &self.session, "#{cursor_flag}"]).trim() == "1"
    }
}

impl Drop for Pane {
    fn drop(&mut self) {
        self.tmux(&["kill-session", "-t", &self.session]);
    }
}

fn state_env(dir: &Path) -> String {
    dir.display().to_string()
}

fn letter(index: usize) -> String {
    ((b'a' + index as u8) as char).to_string()
}

/// Wait for question `i` (from 0) of `total` and its key line, after the answer to the one before.
fn wait_for_question(pane: &Pane, i: usize, total: usize) {
    pane.wait_for(&format!("{}/{total} ", i + 1));
    let deadline = Instant::now() + Duration::from_secs(20);
    while !pane.screen().rsplit(&format!("{}/{total} ", i + 1)).next().unwrap_or_default().contains("Ctrl-C: stop") {
        assert!(Instant::now() < deadline, "no key line under question {}:\n{}", i + 1, pane.screen());
        std::thread::sleep(Duration::from_millis(50));
    }
    std::thread::sleep(Duration::from_millis(100));
}

#[test]
#[ignore = "needs tmux (Debian: apt install tmux); .ci/run installs it and runs the ignored tests"]
fn a_paused_lesson_waits_for_enter_between_demos_and_q_stops_it() {
    let server = Server::start(&[]);
    let state = tempfile::tempdir().unwrap();
    let _serial = support::heavy();
    let url = server.url();
    let state_dir = state_env(state.path());
    let env = [("REDIS_URL", url.as_str()), ("REDIS_LEARN_STATE_DIR", state_dir.as_str())];
    let pane = Pane::start(120, 40, &env, &["lesson", "1", "--quick", "--no-quiz"]);
    pane.wait_for("Enter: next demo (2 of 3) · q: stop the lesson");
    std::thread::sleep(Duration::from_millis(500));
    assert!(!pane.screen().contains("Demo 2/3"), "the lesson went on without waiting:\n{}", pane.screen());
    pane.keys(&["Enter"]);
    pane.wait_for("Demo 2/3");
    pane.wait_for("Enter: next demo (3 of 3)");
    pane.keys(&["q"]);
    let text = pane.wait_for("EXIT=");
    assert!(text.contains("You stopped the lesson after demo 2 of 3"), "{text}");
    assert!(!text.contains("Demo 3/3"), "{text}");
    assert!(!text.contains("Enter: next demo"), "a pause line was left on the screen:\n{text}");
    assert!(text.contains("EXIT=0"), "{text}");
    assert_eq!(server.our_keys(), 0, "a stopped lesson still removes its keys");
}

#[test]
#[ignore = "needs tmux (Debian: apt install tmux); .ci/run installs it and runs the ignored tests"]
fn digits_and_letters_select_the_quiz_options() {
    let attempt = Attempt::new(Catalogue::embedded().unwrap().find("1").unwrap(), Lang::En, 5);
    let total = attempt.questions.len();
    let state = tempfile::tempdir().unwrap();
    let state_dir = state_env(state.path());
    let env = [("REDIS_LEARN_STATE_DIR", state_dir.as_str())];
    let pane = Pane::start(120, 40, &env, &["quiz", "1", "--seed", "5"]);
    for (i, q) in attempt.questions.iter().enumerate() {
        wait_for_question(&pane, i, total);
        let menu = pane.screen();
        assert!(menu.contains("1) a) ") && menu.contains("4) d) "), "options are numbered and lettered:\n{menu}");
        assert!(menu.contains("Enter: answer"), "a key line:\n{menu}");
        // Digits on even questions, the letters --answers uses on odd ones; Enter answers.
        let key = if i % 2 == 0 { (q.correct + 1).to_string() } else { letter(q.correct) };
        pane.keys(&[&key, "Enter"]);
    }
    // The quiz then offers the lesson's practice; q declines and says how to start it later.
    pane.wait_for("Enter: practise lesson 1 hands-on");
    pane.keys(&["q"]);
    let text = pane.wait_for("EXIT=");
    assert!(text.contains("Practise hands-on: redis-learn practice 1"), "{text}");
    assert!(text.contains(&format!("Score: {total} of {total}")), "{text}");
    assert!(!text.contains('✘'), "{text}");
    assert!(text.contains("EXIT=0"), "{text}");
    // Each question is on the screen once.
    let first = &attempt.questions[0].question[..30];
    assert_eq!(text.matches(first).count(), 1, "question printed more than once:\n{text}");
}

#[test]
#[ignore = "needs tmux (Debian: apt install tmux); .ci/run installs it and runs the ignored tests"]
fn ctrl_c_in_the_quiz_exits_130_shows_the_cursor_and_keeps_the_answers() {
    let attempt = Attempt::new(Catalogue::embedded().unwrap().find("1").unwrap(), Lang::En, 5);
    let total = attempt.questions.len();
    let state = tempfile::tempdir().unwrap();
    let state_dir = state_env(state.path());
    let env = [("REDIS_LEARN_STATE_DIR", state_dir.as_str())];
    let pane = Pane::start(100, 40, &env, &["quiz", "1", "--seed", "5"]);
    for i in 0..2 {
        wait_for_question(&pane, i, total);
        pane.keys(&[&(attempt.questions[i].correct + 1).to_string(), "Enter"]);
    }
    wait_for_question(&pane, 2, total);
    pane.keys(&["Escape"]);
    std::thread::sleep(Duration::from_millis(300));
    assert!(!pane.screen().contains("EXIT="), "Esc must not quit the quiz:\n{}", pane.screen());
    pane.keys(&["C-c"]);
    let text = pane.wait_for("EXIT=");
    assert!(text.contains("EXIT=130"), "{text}");
    assert!(text.contains("your 2 answers so far are kept"), "{text}");
    assert!(!text.contains("needs a terminal"), "{text}");
    assert!(pane.cursor_visible(), "the cursor was left hidden:\n{text}");
    let file: Value =
        serde_json::from_str(&std::fs::read_to_string(state.path().join("progress.json")).unwrap()).unwrap();
    assert_eq!(file["lessons"]["1"]["quiz_partial"]["answers"].as_array().unwrap().len(), 2, "{file}");
    drop(pane);
    // `list` says where the stopped quiz stands.
    Test::new()
        .args(["list", "--state-dir", &state_dir])
        .run()
        .success()
        .stdout_contains(&format!("quiz in progress, 2/{total} answered"));

    // The next `quiz 1` goes on from question 3.
    let pane = Pane::start(100, 40, &env, &["quiz", "1"]);
    pane.wait_for("Going on with the quiz you stopped: 2 of 7 answered.");
    for i in 2..total {
        wait_for_question(&pane, i, total);
        pane.keys(&[&(attempt.questions[i].correct + 1).to_string(), "Enter"]);
    }
    pane.wait_for("Enter: practise lesson 1 hands-on");
    pane.keys(&["q"]);
    let text = pane.wait_for("EXIT=");
    assert!(text.contains(&format!("Score: {total} of {total}")), "{text}");
    assert!(!text.contains("1/7 "), "the answered questions were asked again:\n{text}");
}

#[test]
#[ignore = "needs tmux (Debian: apt install tmux); .ci/run installs it and runs the ignored tests"]
fn a_failed_quiz_fails_the_lesson_and_list_does_not_say_done() {
    let server = Server::start(&[]);
    let state = tempfile::tempdir().unwrap();
    let _serial = support::heavy();
    let catalogue = Catalogue::embedded().unwrap();
    let lesson = catalogue.find("1").unwrap();
    let url = server.url();
    let state_dir = state_env(state.path());
    let env = [("REDIS_URL", url.as_str()), ("REDIS_LEARN_STATE_DIR", state_dir.as_str())];
    let pane = Pane::start(220, 50, &env, &["lesson", "1", "--quick"]);
    for demo in 2..=lesson.demos.len() {
        pane.wait_for(&format!("Enter: next demo ({demo} of {})", lesson.demos.len()));
        pane.keys(&["Enter"]);
    }
    pane.wait_for("Enter: start the quiz");
    pane.keys(&["Enter"]);
    let total = lesson.quiz.len();
    for (i, item) in lesson.quiz.iter().enumerate() {
        wait_for_question(&pane, i, total);
        // The options are shuffled: find the right one on the screen, and pick another.
        let right = &item.text(Lang::En).options[item.answer];
        let screen = pane.screen();
        let shown = screen.rsplit(&format!("{}/{total} ", i + 1)).next().unwrap();
        // Wrapped options continue on indented lines: join them again.
        let shown = shown.split_whitespace().collect::<Vec<_>>().join(" ");
        let k = (0..4)
            .find(|k| shown.contains(&format!("{}) {}) {right}", k + 1, letter(*k))))
            .unwrap_or_else(|| panic!("the right option {right:?} is not on the screen:\n{shown}"));
        pane.keys(&[&((k + 1) % 4 + 1).to_string(), "Enter"]);
    }
    pane.wait_for("Enter: practise lesson 1 hands-on");
    pane.keys(&["q"]);
    let text = pane.wait_for("EXIT=");
    assert!(text.contains(&format!("Score: 0 of {total}")), "{text}");
    assert!(text.contains("EXIT=1"), "a failed quiz must fail the lesson:\n{text}");

    let state_dir = state.path().display().to_string();
    let list = Test::new().args(["list", "--state-dir", &state_dir]).run().success();
    list.stdout_contains(&format!("quiz 0/{total}, not yet passed"));
    assert!(!list.stdout.contains("✔ done"), "{}", list.stdout);
    let doc = Test::new().args(["list", "--json", "--state-dir", &state_dir]).run().success().json();
    assert_eq!(doc[0]["claims_held"], true, "the claims held, so the quiz is what failed: {doc}");
    assert_eq!(doc[0]["completed"], false);
}

/// Every line the learner sees at 60 columns: no number is split across two lines (in text or in a
/// table cell), in English and in Chinese.
#[test]
#[ignore = "needs tmux (Debian: apt install tmux); .ci/run installs it and runs the ignored tests"]
fn at_60_columns_no_number_is_split_across_lines() {
    let server = Server::start(&[]);
    let _serial = support::heavy();
    let url = server.url();
    for lang in ["en", "zh"] {
        let state = tempfile::tempdir().unwrap();
        let state_dir = state_env(state.path());
        let env = [("REDIS_URL", url.as_str()), ("REDIS_LEARN_STATE_DIR", state_dir.as_str())];
        let args = ["lesson", "2", "--quick", "--no-pause", "--no-quiz", "--lang", lang];
        let pane = Pane::start(60, 50, &env, &args);
        let text = pane.wait_for("EXIT=");
        // A claim may fail on a busy machine (exit 1); the layout is what this test is about.
        assert!(text.contains("EXIT=0") || text.contains("EXIT=1"), "{text}");
        let lines = visible_lines_outside_the_command_trace(&text);
        for pair in lines.windows(2) {
            let (a, b) = (pair[0].trim_end(), pair[1].trim_start());
            if a.starts_with(['│', '┆']) && b.starts_with(['│', '┆']) {
                // A new row has every cell filled; a row's continuation has some empty.
                if cells(b).iter().all(|c| !c.is_empty()) {
                    continue;
                }
                for (x, y) in cells(a).iter().zip(cells(b)) {
                    assert!(
                        !(ends_in_number(x) && y.starts_with(|c: char| c.is_ascii_digit())),
                        "a number split across table rows ({lang}):\n{a}\n{}\n\n{text}",
                        pair[1]
                    );
                    assert!(
                        !(x.starts_with(|c: char| c.is_ascii_digit())
                            && x.ends_with(|c: char| c.is_ascii_digit())
                            && y.starts_with(|c: char| c.is_alphabetic())),
                        "a number parted from its unit in a table ({lang}):\n{a}\n{}\n\n{text}",
                        pair[1]
                    );
                }
            } else {
                // A line's own marker (`  → `, `  • `, `  ✔  `) is not part of a number before it.
                let indent = pair[1].len() - b.len();
                let b = if indent <= 2 { b.trim_start_matches(['→', '•', '✔', '✘', '?', ' ']) } else { b };
                assert!(
                    !(ends_in_number(a) && b.starts_with(|c: char| c.is_ascii_digit())),
                    "a number split across lines ({lang}):\n{a}\n{}\n\n{text}",
                    pair[1]
                );
            }
        }
    }
}

/// At 60 columns, the terminal itself never has to break a line: table titles, cells and the
/// commands sent are wrapped between words by the printer (a command's continuation is indented), and
/// no Chinese line or cell starts with a closing `）`.
#[test]
#[ignore = "needs tmux (Debian: apt install tmux); .ci/run installs it and runs the ignored tests"]
fn at_60_columns_titles_cells_and_commands_wrap_between_words() {
    let server = Server::start(&[]);
    let _serial = support::heavy();
    let url = server.url();
    for (lesson, lang) in [("4", "en"), ("1", "zh")] {
        let state = tempfile::tempdir().unwrap();
        let state_dir = state_env(state.path());
        let env = [("REDIS_URL", url.as_str()), ("REDIS_LEARN_STATE_DIR", state_dir.as_str())];
        let args = ["lesson", lesson, "--quick", "--no-pause", "--no-quiz", "--lang", lang];
        let pane = Pane::start(60, 50, &env, &args);
        let screen = pane.wait_for("EXIT=");
        assert!(screen.contains("EXIT=0") || screen.contains("EXIT=1"), "{screen}");
        let printed = pane.printed_lines();
        for line in printed.lines() {
            // Wider than the pane: the terminal had to break it, wherever its edge fell.
            assert!(console::measure_text_width(line.trim_end()) <= 60, "a line the terminal broke ({lang}):\n{line}");
            let cells = line.split(['│', '┆']).map(str::trim_start);
            assert!(!cells.clone().any(|c| c.starts_with('）')), "a closing ） starts a line or cell ({lang}): {line}");
        }
        if lang == "en" {
            assert!(screen.contains("one row of a SQLite file"), "{screen}");
        }
    }
}

/// At 60 columns, the practice prompt's own words (help, a held-back command, a hint) wrap between
/// words; a Redis reply is printed as it is.
#[test]
#[ignore = "needs tmux (CI installs it): the prompt in a real terminal"]
fn at_60_columns_the_practice_prompts_words_wrap_between_words() {
    let state = tempfile::tempdir().unwrap();
    let state_dir = state_env(state.path());
    let env = [("REDIS_LEARN_STATE_DIR", state_dir.as_str())];
    let pane = Pane::start(60, 60, &env, &["practice", "2", "--private"]);
    pane.wait_for("redis>");
    pane.keys(&["help", "Enter"]);
    pane.wait_for("quit");
    pane.keys(&["TTL token:eth:0xc0de", "Enter"]);
    pane.wait_for("held back");
    pane.keys(&["hint", "Enter"]);
    pane.wait_for("1/2");
    pane.keys(&["quit", "Enter"]);
    let screen = pane.wait_for("EXIT=");
    for line in pane.printed_lines().lines() {
        assert!(console::measure_text_width(line.trim_end()) <= 60, "a line the terminal broke:\n{line}\n{screen}");
    }
    assert!(screen.contains("held back: task 4"), "{screen}");
}

/// The screen's lines, without the "Commands sent" blocks (a command is wrapped at spaces and at the
/// `:` of a key, and a token longer than a line, such as a long hex id, is cut where the line ends).
fn visible_lines_outside_the_command_trace(text: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut in_trace = false;
    for line in text.lines() {
        if line.starts_with("Commands sent") || line.starts_with("发送的命令") {
            in_trace = true;
        } else if in_trace && (line.contains("commands in all") || line.contains("条命令：")) {
            in_trace = false;
        } else if !in_trace {
            out.push(line);
        }
    }
    out
}

/// A table row's cells (without the empty strings outside its borders).
fn cells(row: &str) -> Vec<String> {
    let parts: Vec<String> = row.split(['│', '┆']).map(|c| c.trim().to_string()).collect();
    parts[1..parts.len().saturating_sub(1).max(1)].to_vec()
}

/// Ends in a digit or in something a number goes on after (`1.`, `336,`, `1.1×–`).
fn ends_in_number(text: &str) -> bool {
    let t = text.trim_end();
    let mut chars = t.chars().rev();
    match chars.next() {
        Some(c) if c.is_ascii_digit() => true,
        Some('.' | ',' | '–' | '-') => chars.next().is_some_and(|c| c.is_ascii_digit() || c == '×'),
        _ => false,
    }
}

/// After a quiz, Enter opens the lesson's practice prompt; what is typed there is kept in the
/// state directory, and the next session's Up key brings it back.
#[test]
#[ignore = "needs tmux (Debian: apt install tmux); .ci/run installs it and runs the ignored tests"]
fn the_quiz_offers_practice_and_the_prompt_keeps_its_history() {
    let attempt = Attempt::new(Catalogue::embedded().unwrap().find("1").unwrap(), Lang::En, 5);
    let total = attempt.questions.len();
    let state = tempfile::tempdir().unwrap();
    let state_dir = state_env(state.path());
    let dead = support::dead_url();
    let env = [("REDIS_LEARN_STATE_DIR", state_dir.as_str()), ("REDIS_LEARN_DEFAULT_URL", dead.as_str())];
    let pane = Pane::start(120, 40, &env, &["quiz", "1", "--seed", "5"]);
    for (i, q) in attempt.questions.iter().enumerate() {
        wait_for_question(&pane, i, total);
        pane.keys(&[&(q.correct + 1).to_string(), "Enter"]);
    }
    pane.wait_for("Enter: practise lesson 1 hands-on (3 tasks)");
    pane.keys(&["Enter"]);
    pane.wait_for("redis>");
    pane.tmux(&["send-keys", "-t", &pane.session, "-l", "SET session:42 abc EX 60"]);
    pane.keys(&["Enter"]);
    pane.wait_for("✓ task passed: A session that expires by itself");
    pane.tmux(&["send-keys", "-t", &pane.session, "-l", "quit"]);
    pane.keys(&["Enter"]);
    let text = pane.wait_for("EXIT=");
    assert!(text.contains("1/3 tasks passed"), "{text}");
    assert!(text.contains("EXIT=0"), "the quiz passed; its exit code is the quiz's:\n{text}");
    let history = std::fs::read_to_string(state.path().join("practice-history.txt")).unwrap();
    assert!(history.contains("SET session:42 abc EX 60"), "{history}");
    drop(pane);

    let pane = Pane::start(120, 40, &env, &["practice", "1"]);
    pane.wait_for("redis>");
    pane.keys(&["Up", "Up"]);
    let screen = pane.wait_for("redis> SET session:42 abc EX 60");
    assert!(screen.contains("redis> SET session:42 abc EX 60"), "{screen}");
    pane.keys(&["C-u"]);
    pane.tmux(&["send-keys", "-t", &pane.session, "-l", "quit"]);
    pane.keys(&["Enter"]);
    pane.wait_for("EXIT=");
}

/// `redis-learn completions SHELL` written where the README says, in a scratch HOME.
fn completion_script(shell: &str, file: &Path) {
    let out = std::process::Command::new(BIN).args(["completions", shell]).output().unwrap();
    assert!(out.status.success(), "completions {shell}: {}", String::from_utf8_lossy(&out.stderr));
    std::fs::create_dir_all(file.parent().unwrap()).unwrap();
    std::fs::write(file, out.stdout).unwrap();
}

/// The bash script, sourced by bash, completes a subcommand and a subcommand's flag (bash is
/// always there, so this one is not ignored).
#[test]
fn bash_completion_completes_subcommands_and_their_flags() {
    let home = tempfile::tempdir().unwrap();
    let file = home.path().join("redis-learn.bash");
    completion_script("bash", &file);
    let script = format!(
        r#"source '{}'
COMP_WORDS=(redis-learn pra); COMP_CWORD=1; COMP_LINE='redis-learn pra'; COMP_POINT=${{#COMP_LINE}}
_redis__learn redis-learn pra redis-learn; echo "1:${{COMPREPLY[*]}}"
COMP_WORDS=(redis-learn practice 1 --scr); COMP_CWORD=3; COMP_LINE='redis-learn practice 1 --scr'; COMP_POINT=${{#COMP_LINE}}
_redis__learn redis-learn --scr 1; echo "2:${{COMPREPLY[*]}}""#,
        file.display()
    );
    let out = std::process::Command::new("bash").args(["--norc", "--noprofile", "-c", &script]).output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{text}{}", String::from_utf8_lossy(&out.stderr));
    assert!(text.contains("1:practice\n"), "{text}");
    assert!(text.contains("2:--script\n"), "{text}");
}

/// The fish script, loaded by fish, completes a subcommand and a subcommand's flag.
#[test]
#[ignore = "needs fish (Debian: apt install fish); .ci/run installs it and runs the ignored tests"]
fn fish_completion_completes_subcommands_and_their_flags() {
    assert!(which::which("fish").is_ok(), "fish is not on PATH (Debian: apt install fish)");
    let home = tempfile::tempdir().unwrap();
    let file = home.path().join(".config/fish/completions/redis-learn.fish");
    completion_script("fish", &file);
    let script = format!(
        "source '{}'; complete -C 'redis-learn pra'; echo ---; complete -C 'redis-learn practice 1 --scr'",
        file.display()
    );
    let out = std::process::Command::new("fish")
        .args(["--no-config", "-c", &script])
        .env("HOME", home.path())
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{text}{}", String::from_utf8_lossy(&out.stderr));
    let (subcommands, flags) = text.split_once("---").unwrap();
    assert!(subcommands.lines().any(|l| l.starts_with("practice\t")), "{text}");
    assert!(flags.lines().any(|l| l.starts_with("--script\t")), "{text}");
}

/// The zsh function, installed on fpath as the README says, completes at a real zsh prompt (tmux):
/// Tab turns `redis-learn pra` into `redis-learn practice`, and `--scr` into `--script`.
#[test]
#[ignore = "needs zsh and tmux (Debian: apt install zsh tmux); .ci/run installs them and runs the ignored tests"]
fn zsh_completion_completes_at_a_real_prompt() {
    assert!(which::which("zsh").is_ok(), "zsh is not on PATH (Debian: apt install zsh)");
    assert!(which::which("tmux").is_ok(), "tmux is not on PATH ({NEEDS_TMUX})");
    let home = tempfile::tempdir().unwrap();
    let zfunc = home.path().join(".zfunc");
    completion_script("zsh", &zfunc.join("_redis-learn"));
    let bin_dir = Path::new(BIN).parent().unwrap();
    let session = format!("redis-learn-zsh-{}", std::process::id());
    let command = format!(
        "env -i HOME={home} TERM=xterm-256color PATH={bin}:{path} zsh -f",
        home = home.path().display(),
        bin = bin_dir.display(),
        path = std::env::var("PATH").unwrap_or_default(),
    );
    let pane = Pane { session };
    pane.tmux(&["new-session", "-d", "-s", &pane.session, "-x", "120", "-y", "40", &command]);
    let type_text = |text: &str| {
        pane.tmux(&["send-keys", "-t", &pane.session, "-l", text]);
    };
    type_text(&format!("fpath=({} $fpath); autoload -U compinit; compinit -u -D; PS1='zsh> '; clear", zfunc.display()));
    pane.keys(&["Enter"]);
    pane.wait_for("zsh> ");
    type_text("redis-learn pra");
    pane.keys(&["Tab"]);
    pane.wait_for("zsh> redis-learn practice");
    type_text("1 --scr");
    pane.keys(&["Tab"]);
    pane.wait_for("zsh> redis-learn practice 1 --script");
}

/// Ctrl-C while a demo's spinner turns: the terminal echoes `^C` at the end of the spinner's line,
/// and the spinner must still leave the screen, so the error line is not under a stale spinner.
#[test]
#[ignore = "needs tmux (Debian: apt install tmux); .ci/run installs it and runs the ignored tests"]
fn ctrl_c_during_a_demo_leaves_no_spinner_on_screen() {
    let server = Server::start(&[]);
    let state = tempfile::tempdir().unwrap();
    let _serial = support::heavy();
    let url = server.url();
    let state_dir = state_env(state.path());
    let env = [("REDIS_URL", url.as_str()), ("REDIS_LEARN_STATE_DIR", state_dir.as_str())];
    let pane = Pane::start(100, 40, &env, &["lesson", "2", "--no-pause", "--no-quiz"]);
    // Demo 1 has printed its report; demo 2 (seconds long in a full run) has its spinner up.
    pane.wait_for("Demo 1/");
    pane.wait_for("commands in all");
    let spinning = |text: &str| text.lines().any(|l| l.starts_with(|c: char| ('\u{2800}'..='\u{28ff}').contains(&c)));
    let deadline = Instant::now() + Duration::from_secs(30);
    while !spinning(&pane.screen()) {
        assert!(Instant::now() < deadline, "no spinner on the screen:\n{}", pane.screen());
        std::thread::sleep(Duration::from_millis(50));
    }
    pane.keys(&["C-c"]);
    let text = pane.wait_for("EXIT=");
    assert!(text.contains("EXIT=130"), "{text}");
    assert!(!spinning(&text), "the spinner's line stayed on the screen:\n{text}");
}
