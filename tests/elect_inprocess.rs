//! Real elections driven in-process through the `rsentinel::elect` library
//! API: five ZAB servers over loopback TCP, and three Kafka-style brokers
//! against a real `redis-server` started (and killed) by the test.

use std::collections::BTreeMap;
use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use rsentinel::elect::{run_kafka_broker, run_zab_node, LineSink};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

fn free_ports(n: usize) -> Vec<u16> {
    // Hold all listeners at once so the ports are distinct.
    let ls: Vec<TcpListener> = (0..n)
        .map(|_| TcpListener::bind("127.0.0.1:0").unwrap())
        .collect();
    ls.iter().map(|l| l.local_addr().unwrap().port()).collect()
}

/// Latest line printed by each node, gathered from a shared channel.
struct Lines {
    rx: mpsc::UnboundedReceiver<(u64, String)>,
    last: BTreeMap<u64, String>,
}

impl Lines {
    /// Polls until `done(last lines)` holds or the deadline passes.
    async fn wait_for<T>(
        &mut self,
        within: Duration,
        done: impl Fn(&BTreeMap<u64, String>) -> Option<T>,
    ) -> T {
        let deadline = Instant::now() + within;
        loop {
            if let Some(t) = done(&self.last) {
                return t;
            }
            let left = deadline.saturating_duration_since(Instant::now());
            assert!(!left.is_zero(), "timed out; last lines: {:?}", self.last);
            if let Ok(Some((id, line))) = tokio::time::timeout(left, self.rx.recv()).await {
                self.last.insert(id, line);
            }
        }
    }
}

fn sink_for(id: u64, tx: &mpsc::UnboundedSender<(u64, String)>) -> LineSink {
    let (line_tx, mut line_rx) = mpsc::unbounded_channel::<String>();
    let tx = tx.clone();
    tokio::spawn(async move {
        while let Some(l) = line_rx.recv().await {
            let _ = tx.send((id, l));
        }
    });
    LineSink::Channel(line_tx)
}

/// `(leader, epoch)` when the nodes in `ids` agree: one LEADING, the rest
/// FOLLOWING the same leader in the same epoch.
fn zab_agreement(last: &BTreeMap<u64, String>, ids: &[u64]) -> Option<(u64, u64)> {
    let mut agreed = None;
    let mut leaders = 0;
    for id in ids {
        let line = last.get(id)?;
        let mut words = line.split_whitespace();
        let state = words.next()?;
        let leader: u64 = words.next()?.strip_prefix("leader=")?.parse().ok()?;
        let epoch: u64 = words.next()?.strip_prefix("epoch=")?.parse().ok()?;
        if state == "LEADING" {
            if leader != *id {
                return None;
            }
            leaders += 1;
        }
        if agreed.is_some_and(|a| a != (leader, epoch)) {
            return None;
        }
        agreed = Some((leader, epoch));
    }
    (leaders == 1).then_some(agreed?)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn five_zab_servers_elect_and_reelect_after_the_leader_dies() {
    let peers: Vec<String> = free_ports(5)
        .iter()
        .map(|p| format!("127.0.0.1:{p}"))
        .collect();
    let (tx, rx) = mpsc::unbounded_channel();
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
    let mut lines = Lines {
        rx,
        last: BTreeMap::new(),
    };
    let all = [1, 2, 3, 4, 5];
    let (leader, epoch) = lines
        .wait_for(Duration::from_secs(10), |l| zab_agreement(l, &all))
        .await;
    // Dropping the task's future closes its sockets, like a crash.
    nodes.remove(&leader).unwrap().abort();
    lines.last.clear();
    let rest: Vec<u64> = all.iter().copied().filter(|i| *i != leader).collect();
    let (new_leader, new_epoch) = lines
        .wait_for(Duration::from_secs(15), |l| {
            zab_agreement(l, &rest).filter(|(_, e)| *e > epoch)
        })
        .await;
    assert_ne!(new_leader, leader);
    assert!(new_epoch > epoch);
    for (_, h) in nodes {
        h.abort();
    }
}

/// A redis-server on a free port in a temp dir; killed on drop.
struct Redis {
    child: Child,
    port: u16,
    _dir: tempfile::TempDir,
}

impl Redis {
    fn start() -> Redis {
        let dir = tempfile::tempdir().unwrap();
        let port = free_ports(1)[0];
        let child = Command::new("redis-server")
            .args([
                "--port",
                &port.to_string(),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
            ])
            .current_dir(dir.path())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("redis-server must be installed");
        let deadline = Instant::now() + Duration::from_secs(5);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "redis-server did not start");
            std::thread::sleep(Duration::from_millis(20));
        }
        Redis {
            child,
            port,
            _dir: dir,
        }
    }
}

impl Drop for Redis {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn kafka_agreement(last: &BTreeMap<u64, String>, ids: &[u64]) -> Option<(u64, u64)> {
    let mut agreed = None;
    for id in ids {
        let line = last.get(id)?;
        let mut words = line.split_whitespace();
        let c: u64 = words.next()?.strip_prefix("controller=")?.parse().ok()?;
        let e: u64 = words.next()?.strip_prefix("epoch=")?.parse().ok()?;
        if agreed.is_some_and(|a| a != (c, e)) {
            return None;
        }
        agreed = Some((c, e));
    }
    agreed
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_brokers_on_redis_agree_and_fail_over_with_a_higher_epoch() {
    let redis = Redis::start();
    let url = format!("redis://127.0.0.1:{}", redis.port);
    let (tx, rx) = mpsc::unbounded_channel();
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
    let mut lines = Lines {
        rx,
        last: BTreeMap::new(),
    };
    let (controller, epoch) = lines
        .wait_for(Duration::from_secs(5), |l| kafka_agreement(l, &[1, 2, 3]))
        .await;
    brokers.remove(&controller).unwrap().abort();
    let killed = Instant::now();
    let rest: Vec<u64> = [1, 2, 3].into_iter().filter(|i| *i != controller).collect();
    let (new_controller, new_epoch) = lines
        .wait_for(Duration::from_secs(10), |l| {
            kafka_agreement(l, &rest).filter(|(c, _)| *c != controller)
        })
        .await;
    assert!(new_epoch > epoch);
    assert!(rest.contains(&new_controller));
    // The claim only lapses after the session timeout.
    assert!(
        killed.elapsed() >= Duration::from_millis(700),
        "took over too early"
    );
    for (_, h) in brokers {
        h.abort();
    }
}
