//! Redis Cluster: a private cluster on free loopback ports, and lessons 1–10 run against one of its
//! nodes.

use std::time::Duration;

use crate::support;

use redis_learn::server::{NodeRole, PrivateCluster, SLOTS};

fn alive(pid: u32) -> bool {
    std::path::Path::new(&format!("/proc/{pid}")).exists()
        && !std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default().contains(") Z ")
}

#[test]
fn a_private_cluster_serves_every_slot_and_stops_on_drop() {
    let cluster = match PrivateCluster::start(3) {
        Ok(cluster) => cluster,
        Err(err) => panic!("the tests need redis-server on PATH (Debian: apt install redis-server): {err}"),
    };
    assert_eq!(cluster.nodes().len(), 3);
    assert!(cluster.nodes().iter().all(|n| n.role == NodeRole::Primary && n.id.len() == 40));
    for port in cluster.ports() {
        assert!(port <= u16::MAX - 10_000, "bus port of {port} out of range");
    }
    let info = redis::InfoDict::new(&match cluster.admin(2, &["CLUSTER", "INFO"]).unwrap() {
        redis::Value::BulkString(b) => String::from_utf8(b).unwrap(),
        other => panic!("{other:?}"),
    });
    assert_eq!(info.get::<String>("cluster_state").as_deref(), Some("ok"));
    assert_eq!(info.get::<u32>("cluster_slots_assigned"), Some(u32::from(SLOTS)));
    // Slot 0 is the first node's, the last slot the third's, whichever node is asked.
    assert_eq!(cluster.owner_of_slot(1, 0).unwrap(), Some(0));
    assert_eq!(cluster.owner_of_slot(0, SLOTS - 1).unwrap(), Some(2));
    // The crate's cluster client follows the slots.
    let client = redis::cluster::ClusterClient::builder(cluster.urls())
        .connection_timeout(Duration::from_secs(2))
        .response_timeout(Duration::from_secs(5))
        .build()
        .unwrap();
    let mut con = client.get_connection().unwrap();
    for i in 0..30 {
        redis::cmd("SET").arg(format!("probe:{i}")).arg(i).exec(&mut con).unwrap();
    }
    let pids = cluster.pids();
    assert!(pids.iter().all(|&pid| alive(pid)));
    drop(cluster);
    std::thread::sleep(Duration::from_millis(200));
    assert!(pids.iter().all(|&pid| !alive(pid)), "every node stops when the cluster drops");
}

#[test]
#[ignore = "slow (~6 s): CI runs it; locally `cargo test --release -- --include-ignored`"]
fn a_private_cluster_can_have_replicas() {
    let cluster = PrivateCluster::start_with(3, 1, &[]).unwrap();
    assert_eq!(cluster.nodes().len(), 6);
    assert_eq!(cluster.nodes()[4].role, NodeRole::ReplicaOf(1));
    let replication = match cluster.admin(4, &["INFO", "replication"]).unwrap() {
        redis::Value::BulkString(b) => String::from_utf8(b).unwrap(),
        other => panic!("{other:?}"),
    };
    assert!(replication.contains("role:slave"), "{replication}");
    assert!(replication.contains(&format!("master_port:{}", cluster.ports()[1])), "{replication}");
}

/// `redis-learn:*` keys on every node of `cluster` (SCAN on each: a node scans only its own keys).
fn our_keys(cluster: &PrivateCluster) -> Vec<String> {
    let mut keys = Vec::new();
    for url in cluster.urls() {
        let mut con = redis::Client::open(url).unwrap().get_connection().unwrap();
        let found: Vec<String> = redis::cmd("SCAN")
            .cursor_arg(0)
            .arg("MATCH")
            .arg("redis-learn:*")
            .arg("COUNT")
            .arg(100_000)
            .clone()
            .iter(&mut con)
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        keys.extend(found);
    }
    keys
}

#[test]
#[ignore = "slow (~45 s): CI runs it; locally `cargo test --release -- --include-ignored`"]
fn lessons_1_to_10_run_on_a_three_node_cluster_and_leave_no_key_on_any_node() {
    let cluster = PrivateCluster::start(3).unwrap();
    // Someone else's keys, spread over the slots: the lessons must leave them alone.
    let client = redis::cluster::ClusterClient::new(cluster.urls()).unwrap();
    let mut con = client.get_connection().unwrap();
    for i in 0..200 {
        redis::cmd("SET").arg(format!("app:user:{i}")).arg(i).exec(&mut con).unwrap();
    }
    let url = cluster.urls()[1].clone();
    let mut problems = Vec::new();
    for number in 1..=10 {
        let _serial = support::heavy();
        let out = support::Test::new()
            .args(["lesson", &number.to_string(), "--quick", "--json", "--no-quiz"])
            .env("REDIS_URL", &url)
            .run();
        if out.status.code() != Some(0) {
            problems.push(format!("lesson {number}: exit {:?}: {}", out.status.code(), out.stderr.trim()));
            if out.status.code() != Some(1) {
                continue;
            }
        }
        let doc: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
        assert_eq!(doc["redis"]["cluster"], true, "lesson {number}");
        let claims: Vec<&serde_json::Value> =
            doc["demos"].as_array().unwrap().iter().flat_map(|d| d["claims"].as_array().unwrap()).collect();
        let held = claims.iter().filter(|c| c["status"] == "held").count();
        eprintln!("lesson {number}: {held} of {} claims held, the rest inconclusive or failed", claims.len());
        if claims.is_empty() {
            problems.push(format!("lesson {number}: no claim checked"));
        }
        for demo in doc["demos"].as_array().unwrap() {
            let name = demo["name"].as_str().unwrap_or_default();
            if let Some(reason) = demo["skipped"].as_str() {
                eprintln!("lesson {number} {name}: skipped: {reason}");
                assert!(!reason.is_empty());
                continue;
            }
            if let Some(error) = demo["error"].as_str() {
                problems.push(format!("lesson {number} {name}: error: {error}"));
            }
            for claim in demo["claims"].as_array().unwrap() {
                let status = claim["status"].as_str().unwrap_or_default();
                if !["held", "inconclusive"].contains(&status) {
                    problems
                        .push(format!("lesson {number} {name}: claim {} {status}: {}", claim["id"], claim["measured"]));
                }
            }
        }
        if doc["keys_left"] != 0 {
            problems.push(format!("lesson {number}: keys_left {}", doc["keys_left"]));
        }
        let left = our_keys(&cluster);
        if !left.is_empty() {
            problems.push(format!(
                "lesson {number}: {} redis-learn keys left, e.g. {:?}",
                left.len(),
                &left[..left.len().min(3)]
            ));
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
    let mut con = client.get_connection().unwrap();
    for i in [0, 99, 199] {
        let v: i64 = redis::cmd("GET").arg(format!("app:user:{i}")).query(&mut con).unwrap();
        assert_eq!(v, i);
    }
}

/// Keys a killed run left on a cluster, in an untagged namespace spread over every primary and in a
/// tagged one: the next run's sweep finds them on every node (the run journal names them) and
/// removes exactly those.
#[test]
#[ignore = "slow (~3 s): CI runs it; locally `cargo test --release -- --include-ignored`"]
fn the_sweep_removes_what_crashed_runs_left_on_every_primary() {
    let cluster = PrivateCluster::start(3).unwrap();
    let url = cluster.urls()[0].clone();
    let state = tempfile::tempdir().unwrap();
    let dead = |run_id: &str, tagged: bool| serde_json::json!({"run_id": run_id, "server": url, "pid": 999_999_999u32, "started_unix": 0, "tagged": tagged});
    let journal = serde_json::json!({"version": 1, "runs": [dead("dead01", false), dead("dead02", true)]});
    std::fs::write(state.path().join("runs.json"), journal.to_string()).unwrap();
    let client = redis::cluster::ClusterClient::new(cluster.urls()).unwrap();
    let mut con = client.get_connection().unwrap();
    for i in 0..60 {
        redis::cmd("SET").arg(format!("redis-learn:dead01:k{i}")).arg(i).exec(&mut con).unwrap();
    }
    for i in 0..20 {
        redis::cmd("SET").arg(format!("redis-learn:{{dead02}}:k{i}")).arg(i).exec(&mut con).unwrap();
    }
    redis::cmd("SET").arg("redis-learn:alive1:k").arg(1).exec(&mut con).unwrap();
    redis::cmd("SET").arg("app:user:1").arg(1).exec(&mut con).unwrap();
    let per_node: Vec<usize> = cluster
        .urls()
        .iter()
        .map(|u| {
            let mut node = redis::Client::open(u.as_str()).unwrap().get_connection().unwrap();
            redis::cmd("DBSIZE").query(&mut node).unwrap()
        })
        .collect();
    assert!(per_node.iter().all(|&n| n > 0), "the keys should be spread over every primary: {per_node:?}");

    let _serial = support::heavy();
    let doc = support::Test::new()
        .args(["lesson", "1", "--quick", "--json", "--no-quiz"])
        .env("REDIS_URL", &url)
        .env("REDIS_LEARN_STATE_DIR", &state.path().display().to_string())
        .run()
        .success()
        .json();
    assert_eq!(doc["swept"]["runs"], 2, "{}", doc["swept"]);
    assert_eq!(doc["swept"]["keys"], 80, "{}", doc["swept"]);
    assert_eq!(doc["keys_left"], 0);
    // Only the journal's runs: another run's key and the application's stay.
    assert_eq!(our_keys(&cluster), vec!["redis-learn:alive1:k".to_string()]);
    let app: Option<i64> = redis::cmd("GET").arg("app:user:1").query(&mut con).unwrap();
    assert_eq!(app, Some(1));
    let journal: serde_json::Value =
        serde_json::from_slice(&std::fs::read(state.path().join("runs.json")).unwrap()).unwrap();
    assert_eq!(journal["runs"].as_array().unwrap().len(), 0, "{journal}");
}

/// SIGTERM while a lesson writes to a cluster: the run cleans up on every node and exits 143.
#[test]
#[ignore = "slow (~6 s): CI runs it; locally `cargo test --release -- --include-ignored`"]
fn sigterm_on_a_cluster_cleans_up_every_node_and_exits_143() {
    let cluster = PrivateCluster::start(3).unwrap();
    let _serial = support::heavy();
    let mut child =
        support::Test::new().args(["lesson", "2", "--no-quiz"]).env("REDIS_URL", &cluster.urls()[2]).spawn();
    let started = std::time::Instant::now();
    while our_keys(&cluster).is_empty() && started.elapsed() < Duration::from_secs(60) {
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(!our_keys(&cluster).is_empty(), "the lesson wrote no key within 60 s");
    support::signal(child.id(), "-TERM");
    let status = support::wait_with_timeout(&mut child, Duration::from_secs(30));
    assert_eq!(status.code(), Some(143), "exit status {status:?}");
    assert_eq!(our_keys(&cluster), Vec::<String>::new(), "keys were left behind after SIGTERM");
}
