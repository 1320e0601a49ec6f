//! End-to-end: the `rsentinel elect ...` binary as users run it. Real
//! processes on loopback, `kill -9` of the leader / controller, a real
//! `redis-server` as the Kafka coordination store. Only processes started
//! here are killed.

mod support;

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;

use support::agreement::{
    kafka_fails_over_after_killing_the_controller, zab_elects_again_after_killing_the_leader,
};
use support::{free_ports, redis_server};

/// The binary under test; `RSENTINEL_BIN` may point at another build.
fn bin() -> String {
    std::env::var("RSENTINEL_BIN").unwrap_or_else(|_| env!("CARGO_BIN_EXE_rsentinel").to_string())
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

    let kafka = [
        "kafka",
        "--brokers",
        "3",
        "--partitions",
        "6",
        "--seed",
        "3",
        "--kill-controller",
    ];
    let (k1, k2) = (elect(&kafka), elect(&kafka));
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
    zab_elects_again_after_killing_the_leader(&rx, &[1, 2, 3, 4, 5], |leader| procs.kill(leader));
}

#[test]
fn three_kafka_brokers_on_redis_fail_over_to_one_new_controller() {
    let redis = redis_server(&[]);
    let port = redis.port;
    let mut procs = Procs(BTreeMap::new());
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
    kafka_fails_over_after_killing_the_controller(&rx, &[1, 2, 3], |controller| {
        procs.kill(controller)
    });
}
