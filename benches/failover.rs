//! Failover time, rsentinel beside redis-sentinel on the same machine.
//!
//! For each kind: 1 master + 2 replicas + 3 sentinels on loopback with
//! down-after-milliseconds D = 1000. The master is killed with SIGKILL;
//! we poll every sentinel's `get-master-addr-by-name` every 5 ms and record
//! when a majority (2 of 3) advertises the new master, and when all 3 do.
//! Reported as time after D (kill + D), median over the runs. Then the old
//! master is restarted on its port and we time how long it stays a master
//! (accepting writes that will be lost) before a sentinel demotes it.
//!
//! Run: `cargo bench --bench failover` (RSENTINEL_BENCH_RUNS=N, default 5).

#[path = "../tests/support/mod.rs"]
mod support;

use std::time::{Duration, Instant};

use support::*;

const DOWN_AFTER: u64 = 1000;

#[derive(Clone, Copy)]
enum Kind {
    RSentinel,
    RedisSentinel,
}

fn advertised_port(port: u16) -> Option<String> {
    match query(port, &["SENTINEL", "GET-MASTER-ADDR-BY-NAME", "mymaster"])? {
        Reply::Array(v) if v.len() == 2 => Some(text(&v[1])),
        _ => None,
    }
}

fn role(port: u16) -> String {
    match query(port, &["ROLE"]) {
        Some(Reply::Array(v)) if !v.is_empty() => text(&v[0]),
        _ => String::new(),
    }
}

/// One failover: (majority, all) in ms after kill + D, and how long the
/// old master, restarted afterwards, stayed a writable master.
fn one_run(kind: Kind) -> Option<(i64, i64, i64)> {
    let mut master = redis_server(&[]);
    let _r1 = redis_replica(&master);
    let _r2 = redis_replica(&master);
    let body = format!(
        "sentinel monitor mymaster 127.0.0.1 {} 2\nsentinel down-after-milliseconds mymaster {DOWN_AFTER}\nsentinel failover-timeout mymaster 10000\n",
        master.port
    );
    let sentinels: Vec<Proc> = (0..3)
        .map(|_| match kind {
            Kind::RSentinel => rsentinel(&body),
            Kind::RedisSentinel => redis_sentinel(&body),
        })
        .collect();
    let ports: Vec<u16> = sentinels.iter().map(|s| s.port).collect();
    let ready = wait_until(Duration::from_secs(20), || {
        ports.iter().all(|&p| {
            query(p, &["SENTINEL", "MASTER", "mymaster"]).is_some_and(|r| {
                field(&r, "num-slaves").as_deref() == Some("2")
                    && field(&r, "num-other-sentinels").as_deref() == Some("2")
            })
        })
    });
    if !ready {
        eprintln!("topology not discovered; skipping run");
        return None;
    }
    // Let the replicas' INFO be fresh, as in a steady state.
    std::thread::sleep(Duration::from_millis(1500));
    let old = master.port.to_string();
    let killed = Instant::now();
    master.kill();
    let mut switched: Vec<Option<Instant>> = vec![None; ports.len()];
    let deadline = killed + Duration::from_secs(60);
    while Instant::now() < deadline && switched.iter().any(Option::is_none) {
        for (i, &p) in ports.iter().enumerate() {
            if switched[i].is_none() && advertised_port(p).is_some_and(|a| a != old) {
                switched[i] = Some(Instant::now());
            }
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    let mut times: Vec<i64> = switched
        .iter()
        .flatten()
        .map(|t| t.duration_since(killed).as_millis() as i64 - DOWN_AFTER as i64)
        .collect();
    if times.len() < 2 {
        return None;
    }
    times.sort();
    let all = if times.len() == 3 { times[2] } else { i64::MAX };
    // Let every sentinel settle on the new config, then bring the old
    // master back and time how long it accepts writes as a master.
    std::thread::sleep(Duration::from_millis(2500));
    let back = redis_server_at(master.port);
    let restarted = Instant::now();
    let demoted = wait_until(Duration::from_secs(30), || role(back.port) == "slave");
    let writable = if demoted {
        restarted.elapsed().as_millis() as i64
    } else {
        i64::MAX
    };
    Some((times[1], all, writable))
}

fn median(mut v: Vec<i64>) -> i64 {
    v.sort();
    v[v.len() / 2]
}

fn main() {
    // `cargo bench` passes --bench; `cargo test --benches` would pass
    // nothing useful: only run when asked to benchmark.
    if !std::env::args().any(|a| a == "--bench") {
        println!("failover bench: run with `cargo bench --bench failover`");
        return;
    }
    let runs: usize = std::env::var("RSENTINEL_BENCH_RUNS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(5);
    println!("failover time after down-after-milliseconds (D = {DOWN_AFTER} ms), {runs} runs each");
    for (name, kind) in [
        ("rsentinel", Kind::RSentinel),
        ("redis-sentinel", Kind::RedisSentinel),
    ] {
        let results: Vec<(i64, i64, i64)> = (0..runs).filter_map(|_| one_run(kind)).collect();
        if results.is_empty() {
            println!("{name:>15}: no successful run");
            continue;
        }
        let majority = median(results.iter().map(|r| r.0).collect());
        let all = median(results.iter().map(|r| r.1).collect());
        let writable = median(results.iter().map(|r| r.2).collect());
        println!(
            "{name:>15}: majority advertises new master at D + {majority} ms (median), all at D + {all} ms; \
             returning old master writable for {writable} ms (median); runs (majority, all, writable): {results:?}"
        );
    }
}
