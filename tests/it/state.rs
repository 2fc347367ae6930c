//! What runs leave behind and share: progress written by runs at the same time, the run journal
//! after a broken pipe, what `doctor` says is left, scratch directories after a forced exit, and
//! the progress file's backups.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::time::Duration;

use crate::support;
use crate::support::{Server, Test};
use redis_learn::lesson::Catalogue;
use serde_json::Value;

fn progress_file(state: &Path) -> Value {
    serde_json::from_str(&std::fs::read_to_string(state.join("progress.json")).unwrap()).unwrap()
}

fn journal_runs(state: &Path) -> Vec<Value> {
    let text = std::fs::read_to_string(state.join("runs.json")).unwrap_or_else(|_| r#"{"runs": []}"#.into());
    serde_json::from_str::<Value>(&text).unwrap()["runs"].as_array().unwrap().clone()
}

/// Letters for every question of a quiz (the score does not matter here).
fn any_answers(lesson: &str) -> String {
    let catalogue = Catalogue::embedded().unwrap();
    vec!["a"; catalogue.find(lesson).unwrap().quiz.len()].join(",")
}

#[test]
fn quizzes_taken_at_the_same_time_record_every_attempt() {
    let state = tempfile::tempdir().unwrap();
    let state_dir = state.path().display().to_string();
    let rounds = 10;
    std::thread::scope(|scope| {
        for lesson in ["2", "3", "4"] {
            for _ in 0..rounds {
                let (state_dir, answers) = (&state_dir, any_answers(lesson));
                scope.spawn(move || {
                    let out = Test::new().args(["quiz", lesson, "--answers", &answers, "--state-dir", state_dir]).run();
                    assert!(matches!(out.status.code(), Some(0 | 1)), "{out:?}");
                    assert!(out.stderr.is_empty(), "{}", out.stderr);
                });
            }
        }
    });
    let file = progress_file(state.path());
    for lesson in ["2", "3", "4"] {
        assert_eq!(file["lessons"][lesson]["quiz_attempts"], rounds, "lesson {lesson}: {file}");
    }
}

#[test]
#[ignore = "slow (~6 s, one lesson run): CI runs it; locally `cargo test --release -- --include-ignored`"]
fn a_quiz_taken_while_a_lesson_runs_survives_the_lessons_save() {
    let server = Server::start(&[]);
    let state = tempfile::tempdir().unwrap();
    let state_dir = state.path().display().to_string();
    let _serial = support::heavy();
    let mut lesson = Test::new().args(["lesson", "2", "--no-quiz", "--state-dir", &state_dir]).redis(&server).spawn();
    // The lesson has loaded the progress (it is writing keys): take a quiz in "another terminal".
    support::wait_for_our_keys(&server);
    Test::new().args(["quiz", "3", "--answers", &any_answers("3"), "--state-dir", &state_dir]).run();
    assert_eq!(progress_file(state.path())["lessons"]["3"]["quiz_attempts"], 1);
    assert!(lesson.try_wait().unwrap().is_none(), "the lesson ended before the quiz: nothing was tested");
    let status = support::wait_with_timeout(&mut lesson, Duration::from_secs(120));
    assert!(matches!(status.code(), Some(0 | 1)), "{status:?}: {}", support::stderr_of(&mut lesson));
    let file = progress_file(state.path());
    assert_eq!(file["lessons"]["3"]["quiz_attempts"], 1, "the lesson's save lost the quiz: {file}");
    assert_eq!(file["lessons"]["2"]["runs"], 1, "{file}");
}

/// `redis-learn lesson 2 | head`: the run stops at its next line, removes its keys, closes its
/// journal entry (so `doctor` has nothing to report), says nothing, and exits 141.
#[test]
fn a_broken_pipe_cleans_up_closes_the_journal_and_exits_quietly() {
    let server = Server::start(&[]);
    let state = tempfile::tempdir().unwrap();
    let state_dir = state.path().display().to_string();
    let _serial = support::heavy();
    let mut child = Test::new()
        .args(["lesson", "2", "--quick", "--no-quiz", "--state-dir", &state_dir])
        .redis(&server)
        .spawn_piped();
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    let mut line = String::new();
    while !line.contains("Demo 1/") {
        line.clear();
        assert!(stdout.read_line(&mut line).unwrap() > 0, "the lesson ended before its first demo");
    }
    assert!(server.our_keys() > 0, "no key written yet: the pipe would break before there was anything to clean");
    assert_eq!(journal_runs(state.path()).len(), 1, "the run is not in the journal");
    drop(stdout); // the reader goes away, as `head` does
    let status = support::wait_with_timeout(&mut child, Duration::from_secs(60));
    let stderr = support::stderr_of(&mut child);
    assert_eq!(status.code(), Some(141), "{status:?}: {stderr}");
    assert_eq!(stderr, "", "a broken pipe must end quietly");
    assert_eq!(server.our_keys(), 0, "keys were left behind");
    assert_eq!(journal_runs(state.path()), Vec::<Value>::new(), "the journal still lists the run");
    Test::new().args(["doctor", "--state-dir", &state_dir]).redis(&server).run().success().stdout_lacks("interrupted");
}

/// `doctor` reports the keys that interrupted runs left and that are still there, as a warning
/// (exit 0: the next lesson removes them), and says nothing about a run whose keys are gone.
#[test]
fn doctor_reports_the_keys_that_are_really_left() {
    let server = Server::start(&[]);
    let state = tempfile::tempdir().unwrap();
    let state_dir = state.path().display().to_string();
    let dead = |run_id: &str| serde_json::json!({"run_id": run_id, "server": server.url(), "pid": 999_999_999u32, "started_unix": 0});
    let journal = serde_json::json!({"version": 1, "runs": [dead("dead01"), dead("gone02")]});
    std::fs::write(state.path().join("runs.json"), journal.to_string()).unwrap();
    let mut con = server.client();
    for i in 0..3 {
        redis::cmd("SET").arg(format!("redis-learn:dead01:k{i}")).arg(i).exec(&mut con).unwrap();
    }
    let doctor = || Test::new().args(["doctor", "--state-dir", &state_dir]).redis(&server);
    let out = doctor().run().success();
    out.stdout_contains("! 1 interrupted run left 3 keys on this Redis").stdout_lacks("✘");
    let doc = doctor().args(["--json"]).run().success().json();
    assert_eq!((doc["runs_left"].clone(), doc["keys_left"].clone()), (Value::from(1), Value::from(3)), "{doc}");
    Test::new()
        .args(["doctor", "--lang", "zh", "--state-dir", &state_dir])
        .redis(&server)
        .run()
        .success()
        .stdout_contains("有 1 次中断的运行在这个 Redis 上留下了 3 个键");
    redis::cmd("DEL")
        .arg("redis-learn:dead01:k0")
        .arg("redis-learn:dead01:k1")
        .arg("redis-learn:dead01:k2")
        .exec(&mut con)
        .unwrap();
    doctor().run().success().stdout_lacks("interrupted");
    let doc = doctor().args(["--json"]).run().success().json();
    assert_eq!((doc["runs_left"].clone(), doc["keys_left"].clone()), (Value::from(0), Value::from(0)), "{doc}");
}

fn scratch_dirs(temp: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(temp)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with("redis-learn-"))
        .collect();
    names.sort();
    names
}

/// Ctrl-C with the server frozen: the watchdog ends the process, and the run's scratch directory
/// (its SQLite files) goes with it. A run first sweeps what dead runs left, never a live run's.
#[test]
fn a_forced_exit_leaves_no_scratch_dir_and_runs_sweep_what_dead_ones_left() {
    let server = Server::start(&[]);
    let temp = tempfile::tempdir().unwrap();
    let tmpdir = temp.path().display().to_string();
    // A dead run's directory (its pid is above Linux's pid_max) and a live one's (this test's).
    let dead = temp.path().join("redis-learn-run-999999999-AbC123");
    let live = temp.path().join(format!("redis-learn-run-{}-XyZ789", std::process::id()));
    for dir in [&dead, &live] {
        std::fs::create_dir(dir).unwrap();
        std::fs::write(dir.join("tokens.db"), "x").unwrap();
    }
    let state = tempfile::tempdir().unwrap();
    let state_dir = state.path().display().to_string();
    let _serial = support::heavy();
    let mut child = Test::new()
        .args(["lesson", "6", "--no-quiz", "--state-dir", &state_dir])
        .env("TMPDIR", &tmpdir)
        .redis(&server)
        .spawn();
    support::wait_for_our_keys(&server);
    let own = format!("redis-learn-run-{}-", child.id());
    assert!(scratch_dirs(temp.path()).iter().any(|n| n.starts_with(&own)), "{:?}", scratch_dirs(temp.path()));
    server.freeze();
    std::thread::sleep(Duration::from_millis(300));
    support::interrupt(&child);
    let status = support::wait_with_timeout(&mut child, Duration::from_secs(15));
    server.thaw();
    let stderr = support::stderr_of(&mut child);
    assert_eq!(status.code(), Some(130), "{status:?}: {stderr}");
    assert!(stderr.contains("did not answer"), "not the watchdog's exit, nothing tested: {stderr}");
    let live_name = live.file_name().unwrap().to_string_lossy().into_owned();
    assert_eq!(scratch_dirs(temp.path()), vec![live_name], "the dead run's or this run's directory is left");
}

/// `kill -9` leaves the scratch directory; the next run removes it.
#[test]
fn the_next_run_removes_the_scratch_dir_of_a_killed_one() {
    let server = Server::start(&[]);
    let temp = tempfile::tempdir().unwrap();
    let tmpdir = temp.path().display().to_string();
    let _serial = support::heavy();
    let mut child =
        Test::new().args(["lesson", "2", "--quick", "--no-quiz"]).env("TMPDIR", &tmpdir).redis(&server).spawn();
    support::wait_for_our_keys(&server);
    support::signal(child.id(), "-KILL");
    let _ = support::wait_with_timeout(&mut child, Duration::from_secs(10));
    assert_eq!(scratch_dirs(temp.path()).len(), 1, "{:?}", scratch_dirs(temp.path()));
    Test::new()
        .args(["lesson", "1", "--quick", "--no-quiz", "--json"])
        .env("TMPDIR", &tmpdir)
        .env("REDIS_LEARN_TEST_FAKE_CLOCK", "1")
        .redis(&server)
        .run();
    assert_eq!(scratch_dirs(temp.path()), Vec::<String>::new());
}

/// A quiz stopped with Ctrl-C (its answers kept) shows in `list` as in progress.
#[test]
fn list_shows_a_stopped_quiz_as_in_progress() {
    let state = tempfile::tempdir().unwrap();
    let state_dir = state.path().display().to_string();
    let total = Catalogue::embedded().unwrap().find("1").unwrap().quiz.len();
    let file = serde_json::json!({"format_version": 1, "lessons": {"1": {"completed": true, "runs": 1,
        "quiz_partial": {"seed": 5, "answers": [0, 2, 1]}}}});
    std::fs::write(state.path().join("progress.json"), file.to_string()).unwrap();
    let out = Test::new().args(["list", "--state-dir", &state_dir]).run().success();
    out.stdout_contains(&format!("started · quiz in progress, 3/{total} answered")).stdout_lacks("quiz not taken yet");
    Test::new()
        .args(["list", "--lang", "zh", "--state-dir", &state_dir])
        .run()
        .success()
        .stdout_contains(&format!("测验进行中，已答 3/{total} 题"));
    let doc = Test::new().args(["list", "--json", "--state-dir", &state_dir]).run().success().json();
    assert_eq!((doc[0]["quiz_answered"].clone(), doc[1]["quiz_answered"].clone()), (3.into(), Value::Null));
}

#[test]
fn bad_answers_on_stdin_are_shown_on_one_line() {
    let out = Test::new().args(["quiz", "1"]).stdin("c\na\n").run().code(2);
    out.stderr_contains("bad answers \"c,a\": 2 answers for");
    assert_eq!(out.stderr.trim_end().lines().count(), 1, "{}", out.stderr);
}

/// A backup never replaces an earlier one: with backups already named for this second and the
/// next few, the damaged file gets a name of its own.
#[test]
fn a_damaged_progress_file_never_overwrites_an_earlier_backup() {
    let state = tempfile::tempdir().unwrap();
    let state_dir = state.path().display().to_string();
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs();
    for second in now..now + 5 {
        std::fs::write(state.path().join(format!("progress.json.backup-{second}")), "earlier").unwrap();
    }
    std::fs::write(state.path().join("progress.json"), "{ damaged").unwrap();
    Test::new().args(["list", "--state-dir", &state_dir]).run().success().stderr_contains("kept it as");
    let mut kept: Vec<String> = std::fs::read_dir(state.path())
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.file_name().unwrap().to_string_lossy().starts_with("progress.json.backup-"))
        .map(|p| std::fs::read_to_string(p).unwrap())
        .collect();
    kept.sort();
    assert_eq!(kept, ["earlier"; 5].into_iter().chain(["{ damaged"]).collect::<Vec<_>>(), "a backup was overwritten");
}

/// The `server.pid` of the private server that run `owner` started in `temp`, once it is there.
fn private_server_pid_file(temp: &Path, owner: u32) -> std::path::PathBuf {
    let prefix = format!("redis-learn-srv-{owner}-");
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    loop {
        let found = scratch_dirs(temp).into_iter().find(|n| n.starts_with(&prefix));
        if let Some(pid_file) = found.map(|n| temp.join(n).join("server.pid")).filter(|f| f.exists()) {
            return pid_file;
        }
        assert!(std::time::Instant::now() < deadline, "no private server dir: {:?}", scratch_dirs(temp));
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// `kill -9` on a lesson leaves its private redis-server running (nothing is left to stop it); the
/// next command, whatever it is, stops that server and removes its directory.
#[test]
fn the_next_command_stops_a_private_server_a_killed_run_left() {
    let temp = tempfile::tempdir().unwrap();
    let tmpdir = temp.path().display().to_string();
    let _serial = support::heavy();
    let mut child =
        Test::new().args(["lesson", "2", "--quick", "--no-quiz", "--private"]).env("TMPDIR", &tmpdir).spawn();
    let pid_file = private_server_pid_file(temp.path(), child.id());
    std::thread::sleep(Duration::from_millis(500));
    let server_pid: u32 = std::fs::read_to_string(&pid_file).unwrap().trim().parse().unwrap();
    support::signal(child.id(), "-KILL");
    let _ = support::wait_with_timeout(&mut child, Duration::from_secs(10));
    let running = |pid: u32| std::fs::read(format!("/proc/{pid}/cmdline")).is_ok_and(|c| !c.is_empty());
    assert!(running(server_pid), "the private server did not outlive its run: nothing to test");
    Test::new().args(["list"]).env("TMPDIR", &tmpdir).run().success();
    assert!(!running(server_pid), "the orphaned redis-server {server_pid} still runs");
    assert!(
        !scratch_dirs(temp.path()).iter().any(|n| n.starts_with("redis-learn-srv-")),
        "{:?}",
        scratch_dirs(temp.path())
    );
}

/// Ctrl-C while this run's own private server is frozen: the watchdog kills it, and says that
/// nothing is left (there is no journal entry to sweep, the keys went with the server).
#[test]
#[ignore = "slow (~4 s): CI runs it; locally `cargo test --release -- --include-ignored`"]
fn ctrl_c_with_a_frozen_private_server_says_nothing_is_left() {
    let temp = tempfile::tempdir().unwrap();
    let tmpdir = temp.path().display().to_string();
    let _serial = support::heavy();
    let mut child = Test::new().args(["lesson", "2", "--no-quiz", "--private"]).env("TMPDIR", &tmpdir).spawn();
    let pid_file = private_server_pid_file(temp.path(), child.id());
    std::thread::sleep(Duration::from_millis(1500));
    let server_pid: u32 = std::fs::read_to_string(&pid_file).unwrap().trim().parse().unwrap();
    support::signal(server_pid, "-STOP");
    std::thread::sleep(Duration::from_millis(300));
    support::interrupt(&child);
    let status = support::wait_with_timeout(&mut child, Duration::from_secs(15));
    let stderr = support::stderr_of(&mut child);
    assert_eq!(status.code(), Some(130), "{status:?}: {stderr}");
    assert!(stderr.contains("did not answer"), "not the watchdog's exit, nothing tested: {stderr}");
    assert!(stderr.contains("this run's own redis-server, stopped now with its keys"), "{stderr}");
    assert!(!stderr.contains("may be left"), "{stderr}");
    let running = std::fs::read(format!("/proc/{server_pid}/cmdline")).is_ok_and(|c| !c.is_empty());
    assert!(!running, "the frozen private server {server_pid} still runs");
}
