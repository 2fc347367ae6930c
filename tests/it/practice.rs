//! `redis-learn practice N`: tasks checked on the state of a private redis-server. Each run starts
//! its own server on a free loopback port; nothing here touches 127.0.0.1:6379.

use crate::support;
use crate::support::{Server, Test};
use redis_learn::lesson::Catalogue;
use serde_json::Value;

fn lessons_with_tasks() -> Vec<u32> {
    Catalogue::embedded().unwrap().lessons().iter().filter(|l| !l.tasks.is_empty()).map(|l| l.number).collect()
}

fn solution(lesson: u32) -> String {
    Test::new().args(["practice", &lesson.to_string(), "--solution"]).run().success().stdout
}

fn run_script(lesson: u32, script: &str) -> (i32, Value) {
    let out = Test::new().args(["practice", &lesson.to_string(), "--script", "-", "--json"]).stdin(script).run();
    out.no_panic();
    let code = out.status.code().unwrap();
    (code, out.json())
}

/// A script on a learner's own server (`REDIS_URL`): keys confined to the run's namespace.
fn run_script_on(server: &Server, lesson: u32, script: &str) -> (i32, Value) {
    let out = Test::new()
        .args(["practice", &lesson.to_string(), "--script", "-", "--json"])
        .redis(server)
        .stdin(script)
        .run();
    out.no_panic();
    (out.status.code().unwrap(), out.json())
}

fn task<'a>(doc: &'a Value, id: &str) -> &'a Value {
    doc["tasks"].as_array().unwrap().iter().find(|t| t["id"] == id).unwrap_or_else(|| panic!("no task {id}"))
}

#[test]
fn every_lesson_has_at_least_three_tasks() {
    let have = lessons_with_tasks();
    for n in 1..=10 {
        assert!(have.contains(&n), "lesson {n} has no tasks: {have:?}");
    }
    for lesson in Catalogue::embedded().unwrap().lessons().iter().filter(|l| !l.tasks.is_empty()) {
        assert!(lesson.tasks.len() >= 3, "lesson {} has {} tasks", lesson.number, lesson.tasks.len());
    }
}

#[test]
fn the_reference_solution_passes_every_task() {
    for lesson in lessons_with_tasks() {
        let (code, doc) = run_script(lesson, &solution(lesson));
        assert_eq!(doc["lesson"], lesson);
        assert_eq!(doc["passed"], true, "lesson {lesson}: {doc:#}");
        assert_eq!(code, 0);
        for t in doc["tasks"].as_array().unwrap() {
            assert_eq!(t["passed"], true, "lesson {lesson} task {}", t["id"]);
            assert_eq!(t["hints_used"], 0);
            assert!(t["title"].as_str().is_some_and(|s| !s.is_empty()));
        }
    }
}

#[test]
fn an_empty_script_fails_every_task() {
    for lesson in lessons_with_tasks() {
        let (code, doc) = run_script(lesson, "# nothing typed\n\n");
        assert_eq!(code, 1, "lesson {lesson}");
        assert_eq!(doc["passed"], false);
        assert!(doc["tasks"].as_array().unwrap().iter().all(|t| t["passed"] == false), "lesson {lesson}: {doc:#}");
    }
}

#[test]
fn plausible_wrong_answers_fail_their_task() {
    let cases: [(u32, &str, &str); 14] = [
        // No TTL: the session never expires.
        (1, "session-with-ttl", "SET session:42 abc"),
        // A list keeps duplicates and the stale client.
        (1, "user-clients-set", "RPUSH user:42:clients c-7f3a c-91bd"),
        // A plain ZADD adds a second member at the same open time.
        (3, "update-without-duplicate", "ZADD kline:BTC-USDT:1m 1700000120000 1700000120000|203|208|202|207|65"),
        // SETNX and no expiry: a crash leaves the lock forever.
        (4, "take-lock-with-expiry", "SETNX lock:job:kline-aggregate tok-a1"),
        // DEL releases someone else's lock too (a pass is kept once reached, so the foreign lock
        // goes first here, in the order the goal names them).
        (4, "release-only-your-own", "DEL lock:tx-check:0x9f\nDEL lock:report"),
        // Overwriting the hash loses user_id.
        (7, "sliding-expiry", "DEL sess:7b1e\nHSET sess:7b1e last_seen 1700000900\nEXPIRE sess:7b1e 1800"),
        // Only PUBLISH: nothing is kept for the node that was offline.
        (5, "latest-candle-for-latecomers", "PUBLISH ws:broadcast 1700000060000|104|106|103|105|320"),
        // No hash tag: on a cluster the two keys land in different slots.
        (11, "user-keys-in-one-slot", "SADD user:1001:clients c-7f3a\nHSET user:1001:subs ticker:ETH-USDT c-7f3a"),
        // The lock without an expiry: a crashed worker holds it for ever.
        (11, "lock-and-fence-in-one-script", "SET {job:settle}:lock worker-a NX\nINCR {job:settle}:fence"),
        // The right state, written without the atomic command the task is about: a SET of the
        // total is the read-modify-write that loses updates when servers race.
        (1, "count-api-calls", "SET stats:api_calls 3"),
        (4, "add-without-lost-update", "GET balance\nSET balance 62"),
        (6, "leaderboard", "ZADD leaderboard:volume:2026-11-26 550 0xbb 100 0xcc"),
        (6, "rate-limit-window", "SET ratelimit:1001:1795651200 1 EX 2"),
        (11, "lock-and-fence-in-one-script", "SET {job:settle}:lock worker-a NX PX 30000\nSET {job:settle}:fence 42"),
    ];
    for (lesson, id, script) in cases {
        let (code, doc) = run_script(lesson, script);
        assert_eq!(code, 1);
        assert_eq!(task(&doc, id)["passed"], false, "lesson {lesson} {id} passed with {script:?}");
    }
}

#[test]
fn predict_then_run_passes_on_the_right_prediction_only() {
    // Lesson 2's plain SET has no expiry: TTL replies -1, however the learner writes it.
    for right in ["predict -1", "predict (integer) -1", "PREDICT   -1"] {
        let (_, doc) = run_script(2, right);
        let t = task(&doc, "predict-ttl-of-plain-set");
        assert_eq!(t["passed"], true, "{right}: {doc:#}");
        assert_eq!(t["wrong_predictions"], 0);
    }
    // A wrong prediction fails, even when the command is run afterwards; it is counted.
    let (code, doc) = run_script(2, "predict 2592000\nTTL token:eth:0xc0de\n");
    assert_eq!(code, 1);
    let t = task(&doc, "predict-ttl-of-plain-set");
    assert_eq!((t["passed"].clone(), t["wrong_predictions"].clone()), (false.into(), 1.into()));
    // `reset` sets the current task up again; then a right prediction passes.
    let (_, doc) = run_script(2, "skip\nskip\nskip\npredict OK\nreset\npredict -1\n");
    let t = task(&doc, "predict-ttl-of-plain-set");
    assert_eq!((t["passed"].clone(), t["wrong_predictions"].clone()), (true.into(), 1.into()));
    // Lesson 4: the second SET NX replies nil, and the holder keeps its lock.
    let (_, doc) = run_script(4, "predict OK\n");
    assert_eq!(task(&doc, "predict-second-taker")["passed"], false);
    let out = Test::new().args(["practice", "4", "--script", "-"]).stdin("predict nil\n").run().code(1);
    out.stdout_contains("> predict nil\n> SET lock:job:settle tok-a1 NX PX 30000\n(nil)\n✓ as you predicted\n")
        .stdout_contains("✓ task passed: Predict: a second node asks for a lock that is taken");
}

#[test]
fn hints_are_counted_and_skip_moves_on() {
    let (code, doc) = run_script(1, "hint\nhint\nSET session:42 abc EX 60\nskip\nhint\n");
    assert_eq!(code, 1);
    assert_eq!(task(&doc, "session-with-ttl")["hints_used"], 2);
    assert_eq!(task(&doc, "session-with-ttl")["passed"], true);
    assert_eq!(task(&doc, "count-api-calls")["hints_used"], 0, "skipped before its hint");
    assert_eq!(task(&doc, "user-clients-set")["hints_used"], 1);
}

/// The prompt's own words work in a script as at the prompt; none reaches Redis.
#[test]
fn a_script_takes_the_prompts_words() {
    let script = "list\nhelp\nSET session:42 abc EX 60\ntasks\nsolution\nquit\nINCR stats:api_calls\n";
    let out = Test::new().args(["practice", "1", "--script", "-"]).stdin(script).run().code(1);
    out.stdout_contains("> list\n  1. A session that expires by itself (0 hints)\n")
        .stdout_contains("> help\nType Redis commands")
        .stdout_contains("> tasks\n✓ 1. A session that expires by itself (0 hints)\n  2. Count API calls")
        .stdout_lacks("ERR unknown command")
        .stdout_lacks("INCR stats:api_calls")
        .stdout_contains("1/3 tasks passed");
}

#[test]
fn text_mode_prints_replies_like_redis_cli() {
    let script = "SET session:42 abc EX 60\nGET nothing-here\nSADD s a\nSMEMBERS s\nINCR session:42\nNOSUCHCOMMAND x\nSUBSCRIBE ws:broadcast\n";
    let out = Test::new().args(["practice", "1", "--script", "-"]).stdin(script).run().code(1);
    out.stdout_contains("> SET session:42 abc EX 60\nOK\n")
        .stdout_contains("✓ task passed: A session that expires by itself")
        .stdout_contains("(nil)")
        .stdout_contains("(integer) 1")
        .stdout_contains("1) \"a\"")
        .stdout_contains("(error) ERR value is not an integer or out of range")
        .stdout_contains("(error) ERR unknown command")
        .stdout_contains("SUBSCRIBE is not available in this prompt")
        .stdout_contains("1/3 tasks passed");
}

#[test]
fn solution_is_printed_in_the_learners_language() {
    let out = Test::new().args(["practice", "4", "--solution", "--lang", "zh"]).run().success();
    out.stdout_contains("# take-lock-with-expiry: 加锁")
        .stdout_contains("SET lock:job:kline-aggregate tok-a1 NX PX 30000");
}

#[test]
fn progress_keeps_the_tasks_passed() {
    let state = tempfile::tempdir().unwrap();
    let dir = state.path().to_str().unwrap();
    Test::new()
        .args(["practice", "1", "--script", "-", "--json", "--state-dir", dir])
        .stdin("SET session:42 abc EX 60\n")
        .run()
        .code(1);
    let progress: Value =
        serde_json::from_str(&std::fs::read_to_string(state.path().join("progress.json")).unwrap()).unwrap();
    assert_eq!(progress["lessons"]["1"]["practice"]["session-with-ttl"], 0, "{progress:#}");
}

#[test]
fn without_a_terminal_or_a_script_it_is_a_usage_error() {
    Test::new().args(["practice", "1"]).run().code(2).stderr_contains("--script");
}

/// The prompt at a real terminal (tmux): type a command, see the reply, ask for a hint, pass a task.
#[test]
#[ignore = "needs tmux (Debian: apt install tmux); .ci/run installs it and runs the ignored tests"]
fn the_interactive_prompt_runs_in_a_terminal() {
    let state = tempfile::tempdir().unwrap();
    let session = format!("redis-learn-practice-{}", std::process::id());
    let tmux = |args: &[&str]| std::process::Command::new("tmux").args(args).output().unwrap();
    let command = format!(
        "env -u REDIS_URL -u CI REDIS_LEARN_STATE_DIR={} REDIS_LEARN_DEFAULT_URL={} NO_COLOR=1 LANG=C.UTF-8 {} practice 1; sleep 5",
        state.path().display(),
        support::dead_url(),
        env!("CARGO_BIN_EXE_redis-learn"),
    );
    assert!(tmux(&["new-session", "-d", "-s", &session, "-x", "120", "-y", "50", &command]).status.success());
    let screen = || String::from_utf8_lossy(&tmux(&["capture-pane", "-p", "-t", &session]).stdout).into_owned();
    let wait_for = |needle: &str| {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(15);
        loop {
            let text = screen();
            if text.contains(needle) {
                return text;
            }
            if std::time::Instant::now() > deadline {
                let _ = tmux(&["kill-session", "-t", &session]);
                panic!("never saw {needle:?}; the screen:\n{text}");
            }
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
    };
    let type_line = |line: &str| {
        tmux(&["send-keys", "-t", &session, "-l", line]);
        tmux(&["send-keys", "-t", &session, "Enter"]);
    };
    wait_for("redis>");
    type_line("GET session:42");
    wait_for("(nil)");
    type_line("hint");
    wait_for("hint 1/2:");
    // `help` lists the prompt's words; `list` is `tasks` by another name (not sent to Redis).
    type_line("help");
    wait_for("(also: list)");
    type_line("list");
    wait_for("1. A session that expires by itself (1 hint)");
    type_line("SET session:42 abc EX 60");
    wait_for("✓ task passed: A session that expires by itself");
    wait_for("[2/3]");
    type_line("quit");
    wait_for("1/3 tasks passed");
    let _ = tmux(&["kill-session", "-t", &session]);
    let progress = std::fs::read_to_string(state.path().join("progress.json")).unwrap();
    assert!(progress.contains("session-with-ttl"), "{progress}");
}

#[test]
fn on_a_learners_server_every_solution_passes_and_others_data_is_untouched() {
    let server = Server::start(&["--enable-debug-command", "yes"]);
    server.fill_with_someone_elses_data();
    let before = server.fingerprint();
    for lesson in lessons_with_tasks() {
        let (code, doc) = run_script_on(&server, lesson, &solution(lesson));
        assert_eq!(code, 0, "lesson {lesson}: {doc:#}");
        assert_eq!(doc["passed"], true, "lesson {lesson}: {doc:#}");
        assert_eq!(doc["keys_left"], 0, "lesson {lesson}");
        assert!(doc["namespace"].as_str().is_some_and(|n| n.starts_with("redis-learn:")), "{doc:#}");
        for t in doc["tasks"].as_array().unwrap() {
            // CONFIG is refused on a learner's server: tasks that check configuration say so.
            let available = t["available"] != false;
            assert_eq!(t["passed"], available, "lesson {lesson} task {}", t["id"]);
        }
        assert_eq!(server.fingerprint(), before, "lesson {lesson} changed someone else's data");
        assert_eq!(server.our_keys(), 0, "lesson {lesson} left keys");
    }
    // Lesson 10's configuration tasks are the ones set aside.
    let (_, doc) = run_script_on(&server, 10, "");
    assert_eq!(task(&doc, "turn-on-aof")["available"], false);
    assert!(task(&doc, "cache-the-row").get("available").is_none());
}

#[test]
fn on_a_learners_server_what_cannot_be_confined_is_refused_in_one_line_each() {
    let server = Server::start(&["--enable-debug-command", "yes"]);
    server.fill_with_someone_elses_data();
    let before = server.fingerprint();
    let refused = [
        "FLUSHALL",
        "FLUSHDB ASYNC",
        "KEYS *",
        "SCAN 0",
        "SCAN 0 COUNT 1000",
        "DEL user:1:name",
        "SET session:keep stolen",
        "RENAME user:42:clients user:2:name",
        "CONFIG SET maxmemory 1mb",
        "DEBUG SLEEP 0",
        "SELECT 1",
        "SWAPDB 0 1",
        "MOVE user:42:clients 1",
        "COPY user:42:clients copied DB 1",
        "RANDOMKEY",
        "CLIENT KILL TYPE normal",
        "SCRIPT FLUSH",
        "FUNCTION FLUSH",
        "SORT queue:jobs BY nosort GET *",
        "EVAL \"return redis.call('DEL', 'user:1:name')\" 0",
        "EVAL \"return redis.call('DEL', ARGV[1])\" 0 user:1:name",
        "EVALSHA 0123456789abcdef0123456789abcdef01234567 0",
        "BGSAVE",
    ];
    let mut script = refused.join("\n");
    // Confined, not refused: the learner's names live apart from the server's own.
    script.push_str("\nSET session:42 abc EX 60\nSCAN 0 MATCH * COUNT 100000\nPUBLISH ws:broadcast hello\n");
    let out = Test::new().args(["practice", "1", "--script", "-"]).redis(&server).stdin(&script).run().code(1);
    let lines: Vec<&str> = out.stdout.lines().collect();
    for command in refused {
        let at = lines.iter().position(|l| *l == format!("> {command}")).unwrap_or_else(|| panic!("{command}"));
        assert!(lines[at + 1].starts_with("refused on your server: "), "{command}: {}", lines[at + 1]);
        assert!(lines[at + 2].starts_with("> "), "{command}: more than one line");
    }
    out.stdout_contains("> SET session:42 abc EX 60\nOK\n✓ task passed")
        .stdout_contains("refused on your server: user:1:name is one of the server's own keys")
        .stdout_contains("refused on your server: KEYS walks every key")
        .stdout_contains("removed, 0 left.");
    // SCAN lists the practice's keys only, by the names the learner typed (in the server's order;
    // COUNT covers the whole keyspace in one call).
    let at = lines.iter().position(|l| *l == "> SCAN 0 MATCH * COUNT 100000").unwrap();
    let mut listed: Vec<String> = lines[at + 2..at + 4]
        .iter()
        .map(|l| l.trim_start_matches("2) ").trim().split_once(") ").unwrap().1.to_string())
        .collect();
    listed.sort();
    assert_eq!(listed, ["\"session:42\"", "\"user:42:clients\""]);
    assert_eq!(server.fingerprint(), before);
    assert_eq!(server.our_keys(), 0);
}

#[test]
fn next_points_at_practice_left_once_every_lesson_is_done() {
    let state = tempfile::tempdir().unwrap();
    let catalogue = Catalogue::embedded().unwrap();
    let mut lessons = serde_json::Map::new();
    for lesson in catalogue.lessons() {
        let q = lesson.quiz.len();
        let mut entry = serde_json::json!({ "completed": true, "best_quiz": { "score": q, "total": q } });
        if lesson.number == 1 {
            // Lesson 1's practice is done; lesson 2's is the first left.
            let tasks: serde_json::Map<String, Value> = lesson.tasks.iter().map(|t| (t.id.clone(), 0.into())).collect();
            entry["practice"] = tasks.into();
        }
        lessons.insert(lesson.number.to_string(), entry);
    }
    let file = serde_json::json!({ "format_version": 1, "lessons": lessons });
    std::fs::write(state.path().join("progress.json"), file.to_string()).unwrap();
    let dir = state.path().to_str().unwrap();
    let tasks = catalogue.find("2").unwrap().tasks.len();
    Test::new().args(["next", "--state-dir", dir]).run().success().stdout_contains(&format!(
        "Every lesson is completed; lesson 2's practice has 0 of {tasks} tasks passed: redis-learn practice 2"
    ));
}

#[test]
fn a_right_state_without_the_tasks_command_is_told_what_the_task_asks_for() {
    // Told once, on the line after the command that reached the state; DEL, then INCR passes.
    let script = "SET stats:api_calls 3\nGET stats:api_calls\nDEL stats:api_calls\nINCR stats:api_calls\nINCRBY stats:api_calls 2\n";
    let out = Test::new().args(["practice", "1", "--script", "-"]).stdin(script).run().code(1);
    out.stdout_contains(
        "> SET stats:api_calls 3\nOK\nstats:api_calls is right, but not the way this task asks: it asks for INCR / INCRBY",
    )
    .stdout_contains("✓ task passed: Count API calls without a race");
    assert_eq!(out.stdout.matches("not the way this task asks").count(), 1, "{}", out.stdout);
    // The other ways a task's hints name pass too: WATCH/MULTI/EXEC, ZADD … INCR.
    let (_, doc) = run_script(4, "WATCH balance\nGET balance\nMULTI\nSET balance 62\nEXEC\n");
    assert_eq!(task(&doc, "add-without-lost-update")["passed"], true, "{doc:#}");
    let leaderboard =
        "ZADD leaderboard:volume:2026-11-26 INCR 250 0xbb\nZADD leaderboard:volume:2026-11-26 INCR 100 0xcc\n";
    let (_, doc) = run_script(6, leaderboard);
    assert_eq!(task(&doc, "leaderboard")["passed"], true, "{doc:#}");
}

#[test]
fn every_predict_task_holds_back_its_command_until_the_prediction_is_made() {
    let catalogue = Catalogue::embedded().unwrap();
    let mut seen = 0;
    for lesson in catalogue.lessons() {
        for (i, t) in lesson.tasks.iter().enumerate() {
            let Some(command) = &t.predict else { continue };
            seen += 1;
            // The command first (its reply would be the answer), then another one on its key, then
            // the reference prediction: both are held back, and the prediction still passes.
            let key = &t.keys[0];
            let script = format!("{command}\nTYPE {key}\n{}\n", t.solution.join("\n"));
            let out = Test::new().args(["practice", &lesson.number.to_string(), "--script", "-"]).stdin(&script).run();
            out.no_panic();
            let held = format!("held back: task {} asks you to predict what `{command}` replies", i + 1);
            out.stdout_contains(&format!("> {command}\n{held}"))
                .stdout_contains(&format!("> TYPE {key}\n{held}"))
                .stdout_contains("✓ as you predicted")
                .stdout_contains(&format!("✓ task passed: {}", t.text(redis_learn::i18n::Lang::En).title));
            // After the prediction, the key is the learner's to look at.
            let (_, doc) = run_script(lesson.number, &format!("{}\n{command}\n", t.solution.join("\n")));
            assert_eq!(task(&doc, &t.id)["passed"], true, "{doc:#}");
        }
    }
    assert!(seen >= 2, "lessons 2 and 4 have predict tasks");
}

#[test]
fn info_and_client_list_print_as_lines_like_redis_cli() {
    let script = "INFO keyspace\nCLIENT LIST\nSET note \"a\\nb\"\nGET note\n";
    let out = Test::new().args(["practice", "1", "--script", "-"]).stdin(script).run().code(1);
    out.stdout_contains("> INFO keyspace\n# Keyspace\ndb0:keys=").stdout_contains("> CLIENT LIST\nid=");
    // Any other reply holding a line break stays one quoted string, as redis-cli prints it.
    out.stdout_contains("> GET note\n\"a\\nb\"\n");
    assert!(!out.stdout.contains("\\r\\n"), "{}", out.stdout);
}

#[test]
fn practice_help_has_an_example_and_no_measuring_flags() {
    let out = Test::new().args(["practice", "--help"]).run().success();
    out.stdout_contains("Example: redis-learn practice ").stdout_contains("--redis").stdout_contains("--private");
    assert!(!out.stdout.contains("--pin"), "{}", out.stdout);
    Test::new().args(["practice", "1", "--pin", "same-cpu", "--solution"]).run().code(2);
}

#[test]
fn on_a_learners_server_a_task_key_it_already_holds_is_the_practices_own() {
    let server = Server::start(&["--enable-debug-command", "yes"]);
    server.fill_with_someone_elses_data();
    let mut con = server.client();
    redis::cmd("SET").arg("session:42").arg("theirs").exec(&mut con).unwrap();
    let before = server.fingerprint();
    // Said before anything is typed; the task's name is the practice's own copy, the server's own
    // key stays as it was, and a key no task names is still refused.
    let script = "GET session:42\nSET session:42 abc EX 60\nGET session:42\nSET session:keep mine\n";
    let out = Test::new().args(["practice", "1", "--script", "-"]).redis(&server).stdin(script).run().code(1);
    let first = out.stdout.lines().next().unwrap_or_default().to_string();
    assert!(
        first.starts_with("Your server already holds a key with the same name as this practice's: session:42."),
        "{first}"
    );
    out.stdout_contains("> GET session:42\n(nil)\n")
        .stdout_contains("> SET session:42 abc EX 60\nOK\n✓ task passed: A session that expires by itself")
        .stdout_contains("> GET session:42\n\"abc\"\n")
        .stdout_contains(
            "> SET session:keep mine\nrefused on your server: session:keep is one of the server's own keys",
        );
    assert_eq!(server.fingerprint(), before);
    assert_eq!(redis::cmd("GET").arg("session:42").query::<String>(&mut con).unwrap(), "theirs");
    assert_eq!(server.our_keys(), 0);
    // Every reference solution still passes there.
    let (code, doc) = run_script_on(&server, 1, &solution(1));
    assert_eq!((code, doc["passed"].clone()), (0, true.into()), "{doc:#}");
}
