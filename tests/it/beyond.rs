//! Lesson 11 (`beyond-one-server`) runs on servers of its own: a primary and a replica, Sentinels,
//! a three-node cluster, all private processes of the run. Its claims hold (or are inconclusive,
//! never failed), and when it ends no server it started is still running: every one of them lives
//! in a temp dir under the run's own TMPDIR, so a redis-server working in that directory is one of
//! ours.

use std::collections::BTreeSet;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::support;
use crate::support::Test;

/// Process ids of the redis-servers working in a directory under `dir`: each server we start
/// changes into its temp dir (`--dir`), and a redis-server rewrites its command line, so the
/// working directory is what tells.
fn processes_under(dir: &Path) -> BTreeSet<u32> {
    let mut pids = BTreeSet::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<u32>() else { continue };
        let comm = std::fs::read_to_string(entry.path().join("comm")).unwrap_or_default();
        if !comm.starts_with("redis-server") {
            continue;
        }
        if std::fs::read_link(entry.path().join("cwd")).is_ok_and(|cwd| cwd.starts_with(dir)) {
            pids.insert(pid);
        }
    }
    pids
}

#[test]
#[ignore = "slow (~20 s): CI runs it; locally `cargo test --release -- --include-ignored`"]
fn lesson_11_holds_its_claims_and_leaves_no_server_running() {
    let _serial = support::heavy();
    let tmp = tempfile::tempdir().unwrap();
    let tmp_path = tmp.path().to_path_buf();

    // Watch the servers come and go while the lesson runs.
    let seen = Arc::new(Mutex::new(BTreeSet::new()));
    let done = Arc::new(AtomicBool::new(false));
    let watcher = {
        let (seen, done, dir) = (Arc::clone(&seen), Arc::clone(&done), tmp_path.clone());
        std::thread::spawn(move || {
            while !done.load(Ordering::SeqCst) {
                seen.lock().unwrap().extend(processes_under(&dir));
                std::thread::sleep(Duration::from_millis(20));
            }
        })
    };
    let out = Test::new()
        .args(["lesson", "11", "--quick", "--no-quiz", "--json", "--private"])
        .env("TMPDIR", tmp_path.to_str().unwrap())
        .run();
    done.store(true, Ordering::SeqCst);
    watcher.join().unwrap();
    let out = out.success();
    out.no_panic();
    let doc = out.json();

    let demos = doc["demos"].as_array().unwrap();
    let names: Vec<&str> = demos.iter().map(|d| d["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["replication", "failover", "cluster"], "{doc}");
    for demo in demos {
        assert!(demo["error"].is_null() && demo["skipped"].is_null(), "{demo}");
        let claims = demo["claims"].as_array().unwrap();
        assert!(claims.len() >= 4, "{demo}");
        for claim in claims {
            let status = claim["status"].as_str().unwrap();
            assert!(status == "held" || status == "inconclusive", "{claim}");
        }
    }
    // The claims that are counts, not timings, hold outright.
    let claim = |demo: &str, id: &str| -> String {
        let d = demos.iter().find(|d| d["name"] == demo).unwrap();
        let c = d["claims"].as_array().unwrap().iter().find(|c| c["id"] == id).unwrap_or_else(|| panic!("{id}"));
        c["status"].as_str().unwrap().to_string()
    };
    for (demo, id) in [
        ("replication", "wait-makes-replica-reads-fresh"),
        ("replication", "wait-is-not-a-rollback"),
        ("failover", "acknowledged-writes-lost"),
        ("failover", "second-lock-holder"),
        ("failover", "redis-fence-repeats"),
        ("cluster", "plain-connection-gets-moved"),
        ("cluster", "cluster-client-follows-moved"),
        ("cluster", "publish-reaches-every-node"),
        ("cluster", "spublish-stays-in-its-shard"),
    ] {
        assert_eq!(claim(demo, id), "held", "{demo} {id}");
    }

    // The lesson's own server (--private), 2 for replication, 1 + 1 + 3 for failover, 3 for the
    // cluster: the watcher saw them, so the check below looks at the right processes.
    let seen = seen.lock().unwrap().clone();
    assert!(seen.len() >= 10, "saw only {seen:?}");
    let left = processes_under(&tmp_path);
    assert!(left.is_empty(), "still running after the lesson: {left:?}");
    for pid in &seen {
        let state = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
        assert!(state.is_empty() || state.contains(") Z "), "process {pid} still runs: {state}");
    }
    let dirs: Vec<String> = std::fs::read_dir(&tmp_path)
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with("redis-learn"))
        .collect();
    assert!(dirs.is_empty(), "temp dirs left: {dirs:?}");
}

/// Ctrl-C in the middle of the failover demo (a primary, a replica and three Sentinels running):
/// the run ends with 130 and stops every server it started.
#[test]
#[ignore = "slow (~15 s): CI runs it; locally `cargo test --release -- --include-ignored`"]
fn ctrl_c_during_lesson_11_stops_every_server_it_started() {
    let _serial = support::heavy();
    let tmp = tempfile::tempdir().unwrap();
    let mut child = Test::new()
        .args(["lesson", "11", "--quick", "--no-quiz", "--json", "--private"])
        .env("TMPDIR", tmp.path().to_str().unwrap())
        .spawn();
    // The lesson's own server, then the replication pair; 5 or more at once is the failover demo.
    let started = std::time::Instant::now();
    let mut most = 0;
    while most < 5 && started.elapsed() < Duration::from_secs(60) {
        most = most.max(processes_under(tmp.path()).len());
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(most >= 5, "the failover demo's servers never showed up (at most {most} at once)");
    support::interrupt(&child);
    let status = support::wait_with_timeout(&mut child, Duration::from_secs(30));
    let stderr = support::stderr_of(&mut child);
    assert_eq!(status.code(), Some(130), "{stderr}");
    // A server killed just before the exit may take a moment to leave /proc.
    let deadline = std::time::Instant::now() + Duration::from_secs(2);
    while !processes_under(tmp.path()).is_empty() && std::time::Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
    let left = processes_under(tmp.path());
    assert!(left.is_empty(), "still running after Ctrl-C: {left:?}\n{stderr}");
}

/// Every demo of lesson 11 starts servers of its own: with no redis-server on PATH each is left out
/// with its reason, and the run still exits 0.
#[test]
fn without_redis_server_on_path_lesson_11_skips_each_demo() {
    let (doc, skipped) = support::lesson_without_redis_server("11");
    let demos = doc["demos"].as_array().unwrap();
    assert_eq!((demos.len(), skipped.len()), (3, 3), "{doc}");
    for demo in demos {
        assert!(demo["skipped"].as_str().is_some_and(|s| s.contains("redis-server")), "{demo}");
    }
}
