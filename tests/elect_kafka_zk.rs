//! End-to-end: three `rsentinel elect kafka --store zk://…` brokers on a
//! real 3-node ZooKeeper from Debian's package. One controller, Kafka's
//! znodes read back with Debian's `zkCli.sh`, `kill -9` of the controller,
//! and a SIGSTOPped controller whose session expired and whose fenced write
//! is refused. Only processes started here are killed or signalled.

mod support;

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use serde_json::Value;
use support::line_proc::LineProc;
use support::zk::ZkEnsemble;

const CHROOT: &str = "/rsentinel-kafka";
/// Long enough that a loaded 2-core machine keeps sessions alive, short
/// enough for quick failovers.
const SESSION_MS: u64 = 2000;

fn bin() -> String {
    std::env::var("RSENTINEL_BIN").unwrap_or_else(|_| env!("CARGO_BIN_EXE_rsentinel").to_string())
}

fn broker(zk: &ZkEnsemble, id: u64) -> LineProc {
    let args: Vec<String> = [
        "elect",
        "kafka",
        "--broker-id",
        &id.to_string(),
        "--store",
        &format!("zk://{}{CHROOT}", zk.connect_string()),
        "--session-timeout-ms",
        &SESSION_MS.to_string(),
        "--partitions",
        "3",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    LineProc::spawn(
        &bin(),
        &args,
        &zk.dir.path().join(format!("broker{id}.stderr")),
    )
}

/// `(controller, epoch)` out of a `controller=C epoch=E` line.
fn controller_line(line: &str) -> Option<(u64, u64)> {
    let rest = line.strip_prefix("controller=")?;
    let (c, e) = rest.split_once(" epoch=")?;
    Some((c.parse().ok()?, e.parse().ok()?))
}

/// Waits until every broker in `ids` printed the same controller with an
/// epoch of at least `min_epoch`; that controller and epoch.
fn agreed_controller(
    brokers: &mut BTreeMap<u64, LineProc>,
    ids: &[u64],
    min_epoch: u64,
    timeout: Duration,
) -> (u64, u64) {
    let mut seen = BTreeMap::new();
    for id in ids {
        let line = brokers
            .get_mut(id)
            .unwrap()
            .wait_line(timeout, |l| {
                controller_line(l).is_some_and(|(_, e)| e >= min_epoch)
            })
            .unwrap_or_else(|| panic!("broker {id} reports a controller of epoch >= {min_epoch}"));
        seen.insert(*id, controller_line(&line).unwrap());
    }
    let first = *seen.values().next().unwrap();
    assert!(
        seen.values().all(|v| *v == first),
        "brokers disagree: {seen:?}"
    );
    first
}

/// The last `partition rsentinel-P ...` line of `p` in a broker's output.
fn last_partition_line(lines: &[String], p: u32) -> Option<String> {
    let prefix = format!("partition rsentinel-{p} ");
    lines.iter().rev().find(|l| l.starts_with(&prefix)).cloned()
}

fn field<'a>(line: &'a str, key: &str) -> &'a str {
    line.split_whitespace()
        .find_map(|w| w.strip_prefix(&format!("{key}=")))
        .unwrap_or_else(|| panic!("{key} in {line}"))
}

/// The JSON of a znode, read with `zkCli.sh get` (the data is the line
/// that parses as a JSON object).
fn zk_json(zk: &ZkEnsemble, path: &str) -> Option<Value> {
    let out = zk.zkcli_until(&["get", path], |o| o.lines().any(|l| l.starts_with('{')));
    out.lines()
        .filter(|l| l.starts_with('{'))
        .find_map(|l| serde_json::from_str(l).ok())
}

fn zk_epoch(zk: &ZkEnsemble) -> Option<u64> {
    let path = format!("{CHROOT}/controller_epoch");
    let out = zk.zkcli_until(&["get", &path], |o| {
        o.lines().any(|l| l.trim().parse::<u64>().is_ok())
    });
    out.lines().find_map(|l| l.trim().parse().ok())
}

/// The partition state in ZooKeeper equals what the controller printed.
fn assert_partitions_match(zk: &ZkEnsemble, lines: &[String], epoch: u64) {
    for p in 0..3u32 {
        let line = last_partition_line(lines, p).expect("the controller printed the partition");
        let state = zk_json(
            zk,
            &format!("{CHROOT}/brokers/topics/rsentinel/partitions/{p}/state"),
        )
        .expect("partition state JSON");
        assert_eq!(state["controller_epoch"], epoch, "{state}");
        assert_eq!(field(&line, "controller_epoch"), epoch.to_string());
        assert_eq!(
            state["leader"].to_string(),
            field(&line, "leader"),
            "{line} vs {state}"
        );
        assert_eq!(
            state["leader_epoch"].to_string(),
            field(&line, "leader_epoch")
        );
        let isr: Vec<String> = state["isr"]
            .as_array()
            .unwrap()
            .iter()
            .map(Value::to_string)
            .collect();
        assert_eq!(isr.join(","), field(&line, "isr"), "{line} vs {state}");
        assert_eq!(state["version"], 1);
    }
}

/// Reads a controller's output until every partition's last line names
/// `isr_len` in-sync replicas and `epoch` (later updates settle).
fn settle_partitions(c: &mut LineProc, isr_len: usize, epoch: u64) {
    let ok = |lines: &[String]| {
        (0..3).all(|p| {
            last_partition_line(lines, p).is_some_and(|l| {
                field(&l, "isr").split(',').count() == isr_len
                    && field(&l, "controller_epoch") == epoch.to_string()
            })
        })
    };
    let deadline = Instant::now() + Duration::from_secs(15);
    while !ok(&c.seen) {
        let left = deadline.saturating_duration_since(Instant::now());
        assert!(
            c.wait_line(left, |l| l.starts_with("partition ")).is_some(),
            "partitions settle: {:?}",
            c.seen
        );
    }
}

#[test]
fn kafka_controller_on_a_real_zookeeper_fails_over_and_fences_a_paused_controller() {
    let zk = ZkEnsemble::start(3);
    let mut brokers: BTreeMap<u64, LineProc> = (1..=3).map(|id| (id, broker(&zk, id))).collect();
    let (first, epoch) = agreed_controller(&mut brokers, &[1, 2, 3], 1, Duration::from_secs(20));

    // Kafka's znodes, read back with zkCli.sh.
    let controller = zk_json(&zk, &format!("{CHROOT}/controller")).expect("/controller JSON");
    assert_eq!(controller["version"], 1);
    assert_eq!(controller["brokerid"], first);
    assert!(controller["timestamp"]
        .as_str()
        .unwrap()
        .parse::<u64>()
        .is_ok());
    assert_eq!(zk_epoch(&zk), Some(epoch));
    let registered = zk.zkcli_until(&["ls", &format!("{CHROOT}/brokers/ids")], |o| {
        o.contains("[1, 2, 3]")
    });
    assert!(registered.contains("[1, 2, 3]"), "{registered}");
    settle_partitions(brokers.get_mut(&first).unwrap(), 3, epoch);
    assert_partitions_match(&zk, &brokers[&first].seen, epoch);
    for (id, b) in &brokers {
        if *id != first {
            assert!(
                !b.seen.iter().any(|l| l.starts_with("partition ")),
                "only the controller writes partition states: broker {id} {:?}",
                b.seen
            );
        }
    }

    // kill -9 of the controller: exactly one new one, epoch + 1, once its
    // session expires.
    brokers.get_mut(&first).unwrap().kill();
    let killed = Instant::now();
    let rest: Vec<u64> = (1..=3).filter(|&id| id != first).collect();
    let (second, epoch2) =
        agreed_controller(&mut brokers, &rest, epoch + 1, Duration::from_secs(10));
    let took = killed.elapsed();
    eprintln!("controller failover after kill -9: {took:?} ({SESSION_MS} ms session)");
    assert_eq!(epoch2, epoch + 1);
    assert_ne!(second, first);
    assert!(
        took < Duration::from_millis(SESSION_MS * 3),
        "failover took {took:?} with a {SESSION_MS} ms session"
    );
    assert_eq!(zk_epoch(&zk), Some(epoch2));
    settle_partitions(brokers.get_mut(&second).unwrap(), 2, epoch2);
    assert_partitions_match(&zk, &brokers[&second].seen, epoch2);

    // SIGSTOP the controller until its session expired and the last broker
    // took over; once resumed, its fenced write is refused and it says so.
    let third = *rest.iter().find(|&&id| id != second).unwrap();
    let pid = brokers[&second].pid() as i32;
    // SAFETY: kill(2) on a child this test spawned and has not reaped.
    unsafe { libc::kill(pid, libc::SIGSTOP) };
    let (now_controller, epoch3) =
        agreed_controller(&mut brokers, &[third], epoch2 + 1, Duration::from_secs(10));
    // SAFETY: as above.
    unsafe { libc::kill(pid, libc::SIGCONT) };
    assert_eq!((now_controller, epoch3), (third, epoch2 + 1));
    let paused = brokers.get_mut(&second).unwrap();
    let before = paused.seen.len();
    let refused = paused
        .wait_line(Duration::from_secs(10), |l| {
            l.starts_with("fenced write refused")
        })
        .expect("the stale controller says its write was refused");
    assert!(refused.contains(&format!("epoch={epoch2}")), "{refused}");
    // It rejoins as a follower of the new controller...
    paused
        .wait_line(Duration::from_secs(10), |l| {
            controller_line(l) == Some((third, epoch3))
        })
        .expect("the resumed broker follows the new controller");
    // ...and wrote nothing: no partition line after the pause, and every
    // state in ZooKeeper carries the new epoch.
    assert!(
        !paused.seen[before..]
            .iter()
            .any(|l| l.starts_with("partition ")),
        "{:?}",
        &paused.seen[before..]
    );
    assert_eq!(zk_epoch(&zk), Some(epoch3));
    settle_partitions(brokers.get_mut(&third).unwrap(), 2, epoch3);
    assert_partitions_match(&zk, &brokers[&third].seen, epoch3);
}
