//! Partitions between real processes: three hosts (network namespaces),
//! each with one redis-server and one rsentinel on its own address, a
//! client namespace with a writer recording every acknowledged write, all
//! on one bridge; partitions are nftables rules inside the namespaces.
//! After healing and convergence, lost acknowledged writes, two-master
//! time, convergence time, config epochs and unexpected exits are checked.

mod support;

use std::net::{Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::time::{Duration, Instant};

use support::netns::{ask, wait_in, Lab};
use support::writer::{lost, Pace, Writer, KEY};
use support::*;

const REDIS: u16 = 6379;
const SENTINEL: u16 = 26379;

/// One cut: host `from` loses `to` (and with `client`, the client too).
#[derive(Clone)]
struct Cut {
    from: usize,
    to: Vec<usize>,
    client: bool,
}

struct Plan {
    name: &'static str,
    /// (cut, how long, how long healed after it)
    steps: Vec<(Cut, Duration, Duration)>,
    fence: Option<&'static str>,
}

#[derive(Debug, Default)]
struct Outcome {
    acked: usize,
    lost: usize,
    two_master_ms: u64,
    convergence_ms: u64,
    max_epoch: u64,
    epochs_monotonic: bool,
    exited: Vec<String>,
    final_master: Option<Ipv4Addr>,
    writes_per_s: f64,
}

fn sentinel_conf(master: Ipv4Addr, me: Ipv4Addr, dir: &std::path::Path, i: usize) -> PathBuf {
    let conf = dir.join(format!("sentinel{i}.conf"));
    let text = format!(
        "port {SENTINEL}\nbind {me}\nlogfile \"{}\"\ndir \"{}\"\n\
         sentinel monitor mymaster {master} {REDIS} 2\n\
         sentinel down-after-milliseconds mymaster 2000\n\
         sentinel failover-timeout mymaster 6000\n",
        dir.join(format!("sentinel{i}.log")).display(),
        dir.display()
    );
    std::fs::write(&conf, text).expect("conf");
    conf
}

fn redis_args(
    me: Ipv4Addr,
    master: Option<Ipv4Addr>,
    dir: &std::path::Path,
    i: usize,
) -> Vec<String> {
    let d = dir.display();
    let line = format!(
        "--port {REDIS} --bind {me} --save '' --appendonly no --repl-diskless-sync-delay 0 \
         --protected-mode no --dir {d} --logfile {d}/redis{i}.log --dbfilename dump{i}.rdb"
    );
    let mut a: Vec<String> = line
        .split_whitespace()
        .map(|w| {
            if w == "''" {
                String::new()
            } else {
                w.to_string()
            }
        })
        .collect();
    if let Some(m) = master {
        a.extend(["--replicaof".to_string(), m.to_string(), REDIS.to_string()]);
    }
    a
}

fn at(ip: Ipv4Addr, port: u16) -> SocketAddr {
    SocketAddr::from((ip, port))
}

fn master_of(sentinel: Ipv4Addr) -> Option<Ipv4Addr> {
    match ask(
        at(sentinel, SENTINEL),
        &["SENTINEL", "GET-MASTER-ADDR-BY-NAME", "mymaster"],
    )? {
        Reply::Array(v) if v.len() == 2 => text(&v[0]).parse().ok(),
        _ => None,
    }
}

fn epoch_of(sentinel: Ipv4Addr) -> Option<u64> {
    let r = ask(at(sentinel, SENTINEL), &["SENTINEL", "MASTER", "mymaster"])?;
    field(&r, "config-epoch")?.parse().ok()
}

fn replication(ip: Ipv4Addr) -> Option<String> {
    ask(at(ip, REDIS), &["INFO", "replication"]).map(|r| text(&r))
}

fn role_is_master(ip: Ipv4Addr) -> bool {
    replication(ip).is_some_and(|i| i.contains("role:master"))
}

/// All sentinels name one master, it is master, every other instance
/// replicates it with its link up.
fn converged(hosts: &[Ipv4Addr]) -> Option<Ipv4Addr> {
    let named: Vec<Option<Ipv4Addr>> = hosts.iter().map(|h| master_of(*h)).collect();
    let m = named[0]?;
    if named.iter().any(|n| *n != Some(m)) || !role_is_master(m) {
        return None;
    }
    let follows = hosts.iter().filter(|h| **h != m).all(|h| {
        replication(*h).is_some_and(|i| {
            i.contains(&format!("master_host:{m}")) && i.contains("master_link_status:up")
        })
    });
    follows.then_some(m)
}

fn run(plan: &Plan) -> Outcome {
    let mut lab = Lab::new(3);
    let ips: Vec<Ipv4Addr> = lab.hosts.iter().map(|h| h.ip).collect();
    let master = ips[0];
    let redis_bin = require_binary("redis-server");
    let sentinel_bin = sentinel_program(&under_test());
    let dir = lab.dir.path().to_path_buf();
    for (i, &me) in ips.iter().enumerate() {
        let ns = lab.hosts[i].ns.clone();
        let args = redis_args(me, (i > 0).then_some(master), &dir, i);
        lab.spawn(&format!("redis{i}"), &ns, &redis_bin, &args, &[]);
    }
    let envs: Vec<(&str, &str)> = plan
        .fence
        .map(|f| ("RSENTINEL_FENCE_WRITES", f))
        .into_iter()
        .collect();
    for (i, &me) in ips.iter().enumerate() {
        let ns = lab.hosts[i].ns.clone();
        let conf = sentinel_conf(master, me, &dir, i);
        lab.spawn(
            &format!("sentinel{i}"),
            &ns,
            &sentinel_bin,
            &[conf.display().to_string()],
            &envs,
        );
    }
    // Everyone discovered everyone; replicas in sync.
    let hs = ips.clone();
    let ready = wait_in(&lab, Duration::from_secs(30), move || {
        hs.iter().all(|h| {
            ask(at(*h, SENTINEL), &["SENTINEL", "MASTER", "mymaster"]).is_some_and(|r| {
                field(&r, "num-slaves").as_deref() == Some("2")
                    && field(&r, "num-other-sentinels").as_deref() == Some("2")
            })
        }) && converged(&hs) == Some(hs[0])
    });
    assert!(ready, "{}: topology not ready", plan.name);
    // Fencing is rsentinel's: redis-sentinel (bench mode) never sets it.
    if plan.fence.is_some() && judged() {
        let m = master;
        assert!(
            wait_in(&lab, Duration::from_secs(15), move || {
                ask(at(m, REDIS), &["CONFIG", "GET", "min-replicas-to-write"])
                    .is_some_and(|r| fields(&r).first().map(|(_, v)| v.as_str()) == Some("1"))
            }),
            "{}: master not fenced",
            plan.name
        );
    }
    let sentinels = ips.clone();
    let pace = Pace {
        per_second: 150,
        max_writes: 150 * 120,
        max_time: Duration::from_secs(120),
        timeout: Duration::from_millis(300),
    };
    let ns = lab.client.ns.clone();
    let writer = Writer::start(
        pace,
        move || support::netns::enter(&ns),
        move || {
            sentinels
                .iter()
                .find_map(|s| master_of(*s))
                .map(|m| at(m, REDIS))
        },
    );
    let writing = Instant::now();
    let m = master;
    assert!(wait_in(&lab, Duration::from_secs(5), move || {
        matches!(ask(at(m, REDIS), &["LLEN", KEY]), Some(Reply::Int(n)) if n >= 150)
    }));
    let mut out = Outcome {
        epochs_monotonic: true,
        ..Outcome::default()
    };
    let mut epochs = [0u64; 3];
    let sample = |lab: &Lab, out: &mut Outcome, epochs: &mut [u64; 3]| {
        let hs = ips.clone();
        let (masters, eps) = lab.in_client(move || {
            let masters = hs.iter().filter(|h| role_is_master(**h)).count();
            let eps: Vec<Option<u64>> = hs.iter().map(|h| epoch_of(*h)).collect();
            (masters, eps)
        });
        for (i, e) in eps.into_iter().enumerate() {
            if let Some(e) = e {
                if e < epochs[i] {
                    out.epochs_monotonic = false;
                }
                epochs[i] = epochs[i].max(e);
            }
        }
        masters
    };
    // Samples every ~100 ms for `len` (bounded in count too), adding the
    // time more than one instance claimed to be master.
    let watch = |lab: &Lab, out: &mut Outcome, epochs: &mut [u64; 3], len: Duration| {
        let t = Instant::now();
        let mut last = Instant::now();
        for _ in 0..2_000 {
            if t.elapsed() >= len {
                break;
            }
            if sample(lab, out, epochs) > 1 {
                out.two_master_ms += last.elapsed().as_millis() as u64;
            }
            last = Instant::now();
            std::thread::sleep(Duration::from_millis(100).saturating_sub(last.elapsed()));
        }
    };
    let mut healed_at = Instant::now();
    for (cut, hold, healed) in &plan.steps {
        lab.cut(cut.from, &cut.to);
        if cut.client {
            lab.cut_client(cut.from);
        }
        watch(&lab, &mut out, &mut epochs, *hold);
        lab.heal();
        healed_at = Instant::now();
        watch(&lab, &mut out, &mut epochs, *healed);
    }
    let hs = ips.clone();
    let limit = if judged() { 30 } else { 90 };
    let conv = wait_in(&lab, Duration::from_secs(limit), move || {
        converged(&hs).is_some()
    });
    out.convergence_ms = healed_at.elapsed().as_millis() as u64;
    expect(conv, || {
        format!("{}: no convergence within 30 s of healing", plan.name)
    });
    if !conv {
        eprintln!("{}: {out:?}", plan.name);
        return out;
    }
    sample(&lab, &mut out, &mut epochs);
    let hs = ips.clone();
    let fin = lab.in_client(move || converged(&hs));
    out.final_master = fin;
    // The writer goes on against the final master for a moment.
    let m = fin.expect("final master");
    let base = lab.in_client(move || match ask(at(m, REDIS), &["LLEN", KEY]) {
        Some(Reply::Int(n)) => n,
        _ => 0,
    });
    wait_in(
        &lab,
        Duration::from_secs(10),
        move || matches!(ask(at(m, REDIS), &["LLEN", KEY]), Some(Reply::Int(n)) if n >= base + 150),
    );
    let log = writer.finish();
    // The pace the writer kept (refused writes count: fencing refuses them).
    out.writes_per_s = log.attempts as f64 / writing.elapsed().as_secs_f64();
    let list = lab
        .in_client(move || ask(at(m, REDIS), &["LRANGE", KEY, "0", "-1"]))
        .expect("LRANGE");
    out.acked = log.acked.len();
    out.lost = lost(&log, &list).len();
    out.max_epoch = epochs.iter().copied().max().unwrap_or(0);
    out.exited = lab.exited();
    eprintln!("{}: {out:?}", plan.name);
    out
}

/// The sentinel program the scenarios run: rsentinel, or the one named by
/// `RSENTINEL_PARTITION_SENTINEL` (benches/partition.sh runs redis-sentinel
/// through the same scenarios; then nothing is asserted, only measured).
fn under_test() -> String {
    std::env::var("RSENTINEL_PARTITION_SENTINEL").unwrap_or_else(|_| "rsentinel".into())
}

fn judged() -> bool {
    under_test() == "rsentinel"
}

fn expect(cond: bool, msg: impl FnOnce() -> String) {
    if judged() {
        assert!(cond, "{}", msg());
    }
}

/// One partition of `hold_s` seconds: host `from` cut from hosts `to`
/// (and from the client with `client`).
fn once(name: &'static str, from: usize, to: &[usize], client: bool, hold_s: u64) -> Plan {
    let cut = Cut {
        from,
        to: to.to_vec(),
        client,
    };
    Plan {
        name,
        steps: vec![(cut, Duration::from_secs(hold_s), Duration::from_secs(1))],
        fence: None,
    }
}

/// Every scenario, as the tests below and the benchmark run them.
fn plan(name: &str) -> Plan {
    match name {
        "isolate-master-host" => once("isolate-master-host", 0, &[1, 2], false, 10),
        "isolate-master-host-fenced" => Plan {
            fence: Some("1:1"),
            ..once("isolate-master-host-fenced", 0, &[1, 2], false, 10)
        },
        "isolate-master" => once("isolate-master", 0, &[1, 2], true, 8),
        "sentinel-minority" => once("sentinel-minority", 2, &[0, 1], false, 8),
        // Host 0 (the master) sees hosts 1 and 2; they do not see each other.
        "bridge" => once("bridge", 1, &[2], false, 8),
        // Cut for 2 s and healed for 2 s, five times (as the issue's
        // measurement of redis-sentinel did).
        _ => {
            let mut p = once("flapping", 0, &[1, 2], false, 2);
            let step = p.steps[0].clone();
            p.steps = vec![(step.0, step.1, Duration::from_secs(2)); 5];
            p
        }
    }
}

fn scenario(name: &str) -> Outcome {
    let plan = plan(name);
    let o = run(&plan);
    expect(o.epochs_monotonic, || {
        format!("{name}: a config epoch went down")
    });
    expect(o.exited.is_empty(), || {
        format!("{name}: exited: {:?}", o.exited)
    });
    expect(o.writes_per_s >= 100.0, || {
        format!("{name}: writer too slow: {o:?}")
    });
    o
}

#[test]
fn fenced_isolated_master_loses_about_two_seconds_of_writes() {
    let o = scenario("isolate-master-host-fenced");
    expect(o.max_epoch >= 1, || format!("no failover: {o:?}"));
    // With max-lag 1 the master refuses writes once its replica's last ACK
    // is 2 whole seconds old. Replicas ACK once a second and Redis counts
    // good replicas once a second on a seconds clock, so the refusal comes
    // 1-3 s after the cut (about 2 s typically): the bound is the worst
    // case of Redis's own arithmetic, not a timing margin.
    let seconds = o.lost as f64 / o.writes_per_s;
    expect(seconds <= 3.0, || {
        format!(
            "lost {} acknowledged writes ({seconds:.2} s of writes): {o:?}",
            o.lost
        )
    });
}

#[test]
fn unfenced_isolated_master_is_replaced_and_converges() {
    // Without fencing the old master takes writes for the whole partition:
    // they are lost when it rejoins (measured and printed).
    let o = scenario("isolate-master-host");
    expect(o.max_epoch >= 1, || format!("no failover: {o:?}"));
}

#[test]
fn a_master_cut_off_from_everyone_is_replaced() {
    let o = scenario("isolate-master");
    expect(o.max_epoch >= 1, || format!("no failover: {o:?}"));
}

#[test]
fn a_sentinel_alone_in_a_minority_fails_nothing_over() {
    let o = scenario("sentinel-minority");
    expect(o.max_epoch == 0 && o.lost == 0, || {
        format!("a failover happened: {o:?}")
    });
}

#[test]
fn a_bridge_partition_keeps_the_master() {
    let o = scenario("bridge");
    expect(o.max_epoch == 0 && o.lost == 0, || format!("{o:?}"));
}

#[test]
fn flapping_partitions_fail_over_at_most_once_each() {
    let o = scenario("flapping");
    let cuts = plan("flapping").steps.len() as u64;
    expect(o.max_epoch <= cuts, || {
        format!("more than one failover per partition: {o:?}")
    });
}
