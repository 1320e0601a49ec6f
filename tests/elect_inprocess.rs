//! Real elections driven in-process through the `rsentinel::elect` library
//! API: five ZAB servers over loopback TCP, and three Kafka-style brokers
//! against a real `redis-server` started (and killed) by the test.

mod support;

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use rsentinel::elect::{run_kafka_broker, run_zab_node, LineSink};
use support::agreement::{
    kafka_fails_over_after_killing_the_controller, zab_elects_again_after_killing_the_leader,
};
use support::{free_ports, redis_server, RuntimeThread};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

fn sink_for(id: u64, tx: &std::sync::mpsc::Sender<(u64, String)>) -> LineSink {
    let (line_tx, mut line_rx) = mpsc::unbounded_channel::<String>();
    let tx = tx.clone();
    tokio::spawn(async move {
        while let Some(l) = line_rx.recv().await {
            let _ = tx.send((id, l));
        }
    });
    LineSink::Channel(line_tx)
}

#[test]
fn five_zab_servers_elect_and_reelect_after_the_leader_dies() {
    // The nodes run on a thread of their own: the agreement checks block
    // this one while they wait for the nodes' lines.
    let rt = RuntimeThread::start();
    let _in_rt = rt.handle().enter();
    let peers: Vec<String> = free_ports(5)
        .iter()
        .map(|p| format!("127.0.0.1:{p}"))
        .collect();
    let (tx, rx) = std::sync::mpsc::channel();
    let mut nodes: BTreeMap<u64, JoinHandle<()>> = BTreeMap::new();
    for id in 1..=5u64 {
        let (peers, sink) = (peers.clone(), sink_for(id, &tx));
        nodes.insert(
            id,
            tokio::spawn(async move {
                run_zab_node(id, peers, sink).await.unwrap();
            }),
        );
    }
    // Blocking is fine: the nodes run on the runtime's own thread.
    zab_elects_again_after_killing_the_leader(&rx, &[1, 2, 3, 4, 5], |leader| {
        // Dropping the task's future closes its sockets, like a crash.
        nodes.remove(&leader).unwrap().abort();
    });
    for (_, h) in nodes {
        h.abort();
    }
}

#[test]
fn three_brokers_on_redis_agree_and_fail_over_with_a_higher_epoch() {
    // The nodes run on a thread of their own: the agreement checks block
    // this one while they wait for the nodes' lines.
    let rt = RuntimeThread::start();
    let _in_rt = rt.handle().enter();
    let redis = redis_server(&[]);
    let url = format!("redis://127.0.0.1:{}", redis.port);
    let (tx, rx) = std::sync::mpsc::channel();
    let mut brokers: BTreeMap<u64, JoinHandle<()>> = BTreeMap::new();
    for id in 1..=3u64 {
        let (url, sink) = (url.clone(), sink_for(id, &tx));
        brokers.insert(
            id,
            tokio::spawn(async move {
                run_kafka_broker(id, &url, 1000, sink).await.unwrap();
            }),
        );
    }
    let mut killed = None;
    kafka_fails_over_after_killing_the_controller(&rx, &[1, 2, 3], |controller| {
        brokers.remove(&controller).unwrap().abort();
        killed = Some(Instant::now());
    });
    let killed = killed.expect("the controller was killed");
    // The claim only lapses after the session timeout.
    assert!(
        killed.elapsed() >= Duration::from_millis(700),
        "took over too early"
    );
    for (_, h) in brokers {
        h.abort();
    }
}
