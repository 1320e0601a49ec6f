//! End-to-end: the `rsentinel elect ...` binary as users run it. Real
//! processes on loopback, `kill -9` of the leader / controller, a real
//! `redis-server` as the Kafka coordination store. Only processes started
//! here are killed.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// The binary under test; `RSENTINEL_BIN` may point at another build.
fn bin() -> String {
    std::env::var("RSENTINEL_BIN").unwrap_or_else(|_| env!("CARGO_BIN_EXE_rsentinel").to_string())
}

fn free_ports(n: usize) -> Vec<u16> {
    let ls: Vec<TcpListener> = (0..n)
        .map(|_| TcpListener::bind("127.0.0.1:0").unwrap())
        .collect();
    ls.iter().map(|l| l.local_addr().unwrap().port()).collect()
}

fn elect(args: &[&str]) -> std::process::Output {
    Command::new(bin())
        .arg("elect")
        .args(args)
        .output()
        .unwrap()
}

/// Child processes killed (SIGKILL) and reaped on drop.
struct Procs(BTreeMap<u64, Child>);

impl Procs {
    fn kill(&mut self, id: u64) {
        if let Some(mut c) = self.0.remove(&id) {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

impl Drop for Procs {
    fn drop(&mut self) {
        let ids: Vec<u64> = self.0.keys().copied().collect();
        for id in ids {
            self.kill(id);
        }
    }
}

/// Spawns `rsentinel elect <args>` and forwards its stdout lines, tagged.
fn spawn(id: u64, args: Vec<String>, tx: &mpsc::Sender<(u64, String)>) -> Child {
    let mut child = Command::new(bin())
        .arg("elect")
        .args(&args)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let tx = tx.clone();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            let _ = tx.send((id, line));
        }
    });
    child
}

fn wait_for<T>(
    rx: &mpsc::Receiver<(u64, String)>,
    last: &mut BTreeMap<u64, String>,
    within: Duration,
    done: impl Fn(&BTreeMap<u64, String>) -> Option<T>,
) -> T {
    let deadline = Instant::now() + within;
    loop {
        if let Some(t) = done(last) {
            return t;
        }
        let left = deadline.saturating_duration_since(Instant::now());
        assert!(!left.is_zero(), "timed out; last lines: {last:?}");
        if let Ok((id, line)) = rx.recv_timeout(left) {
            last.insert(id, line);
        }
    }
}

fn field(word: Option<&str>, name: &str) -> Option<u64> {
    word?.strip_prefix(name)?.strip_prefix('=')?.parse().ok()
}

fn zab_agreement(last: &BTreeMap<u64, String>, ids: &[u64]) -> Option<(u64, u64)> {
    let mut agreed = None;
    let mut leaders = 0;
    for id in ids {
        let mut w = last.get(id)?.split_whitespace();
        let state = w.next()?;
        let (leader, epoch) = (field(w.next(), "leader")?, field(w.next(), "epoch")?);
        leaders += usize::from(state == "LEADING" && leader == *id);
        if agreed.is_some_and(|a| a != (leader, epoch)) {
            return None;
        }
        agreed = Some((leader, epoch));
    }
    (leaders == 1).then_some(agreed?)
}

fn kafka_agreement(last: &BTreeMap<u64, String>, ids: &[u64]) -> Option<(u64, u64)> {
    let mut agreed = None;
    for id in ids {
        let mut w = last.get(id)?.split_whitespace();
        let ce = (field(w.next(), "controller")?, field(w.next(), "epoch")?);
        if agreed.is_some_and(|a| a != ce) {
            return None;
        }
        agreed = Some(ce);
    }
    agreed
}

#[test]
fn simulations_print_the_same_bytes_for_the_same_seed() {
    let a = elect(&["zab", "--nodes", "5", "--seed", "7", "--kill-leader"]);
    let b = elect(&["zab", "--nodes", "5", "--seed", "7", "--kill-leader"]);
    assert!(a.status.success());
    assert_eq!(a.stdout, b.stdout);
    let text = String::from_utf8(a.stdout).unwrap();
    let epochs: Vec<u64> = text
        .lines()
        .filter(|l| l.contains(" LEADING leader="))
        .filter_map(|l| {
            l.split("epoch=")
                .nth(1)?
                .split_whitespace()
                .next()?
                .parse()
                .ok()
        })
        .collect();
    assert_eq!(epochs.len(), 2, "{text}");
    assert!(epochs[1] > epochs[0]);

    let k1 = elect(&[
        "kafka",
        "--brokers",
        "3",
        "--partitions",
        "6",
        "--seed",
        "3",
        "--kill-controller",
    ]);
    let k2 = elect(&[
        "kafka",
        "--brokers",
        "3",
        "--partitions",
        "6",
        "--seed",
        "3",
        "--kill-controller",
    ]);
    assert!(k1.status.success());
    assert_eq!(k1.stdout, k2.stdout);
    assert!(String::from_utf8_lossy(&k1.stdout).contains("new controller="));

    let bad = elect(&["zab", "--nodes", "5", "--partition", "1,9"]);
    assert!(!bad.status.success());
}

#[test]
fn five_zab_processes_elect_again_after_the_leader_is_killed() {
    let peers: Vec<String> = free_ports(5)
        .iter()
        .map(|p| format!("127.0.0.1:{p}"))
        .collect();
    let (tx, rx) = mpsc::channel();
    let mut procs = Procs(BTreeMap::new());
    for id in 1..=5u64 {
        let args = vec![
            "zab".into(),
            "--id".into(),
            id.to_string(),
            "--peers".into(),
            peers.join(","),
        ];
        procs.0.insert(id, spawn(id, args, &tx));
    }
    let mut last = BTreeMap::new();
    let all = [1, 2, 3, 4, 5];
    let (leader, epoch) = wait_for(&rx, &mut last, Duration::from_secs(10), |l| {
        zab_agreement(l, &all)
    });
    procs.kill(leader);
    last.clear();
    let rest: Vec<u64> = all.iter().copied().filter(|i| *i != leader).collect();
    let (new_leader, new_epoch) = wait_for(&rx, &mut last, Duration::from_secs(15), |l| {
        zab_agreement(l, &rest).filter(|(_, e)| *e > epoch)
    });
    assert_ne!(new_leader, leader);
    assert!(new_epoch > epoch);
}

#[test]
fn three_kafka_brokers_on_redis_fail_over_to_one_new_controller() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_ports(1)[0];
    let redis = Command::new("redis-server")
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
        .spawn()
        .expect("redis-server must be installed");
    let mut procs = Procs(BTreeMap::new());
    procs.0.insert(0, redis);
    let deadline = Instant::now() + Duration::from_secs(5);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "redis-server did not start");
        std::thread::sleep(Duration::from_millis(20));
    }
    let (tx, rx) = mpsc::channel();
    for id in 1..=3u64 {
        let args = vec![
            "kafka".into(),
            "--broker-id".into(),
            id.to_string(),
            "--store".into(),
            format!("redis://127.0.0.1:{port}"),
            "--session-timeout-ms".into(),
            "1500".into(),
        ];
        procs.0.insert(id, spawn(id, args, &tx));
    }
    let mut last = BTreeMap::new();
    let (controller, epoch) = wait_for(&rx, &mut last, Duration::from_secs(5), |l| {
        kafka_agreement(l, &[1, 2, 3])
    });
    procs.kill(controller);
    let rest: Vec<u64> = [1, 2, 3].into_iter().filter(|i| *i != controller).collect();
    let (new_controller, new_epoch) = wait_for(&rx, &mut last, Duration::from_secs(10), |l| {
        kafka_agreement(l, &rest).filter(|(c, _)| *c != controller)
    });
    assert!(rest.contains(&new_controller));
    assert!(new_epoch > epoch);
}
