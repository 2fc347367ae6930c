//! Redis Cluster: a private cluster on free loopback ports, and lessons 1–10 run against one of its
//! nodes.

mod support;

use std::time::Duration;

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
