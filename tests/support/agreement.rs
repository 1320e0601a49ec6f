//! Reading agreement out of the status lines `rsentinel elect` prints, one
//! latest line per node: shared by the binary and in-process election tests.

use std::collections::BTreeMap;
use std::sync::mpsc::Receiver;
use std::time::{Duration, Instant};

/// The number after `name=` in `word`.
fn field(word: Option<&str>, name: &str) -> Option<u64> {
    word?.strip_prefix(name)?.strip_prefix('=')?.parse().ok()
}

/// `(leader, epoch)` when the nodes in `ids` agree: exactly one LEADING
/// (and it names itself), the rest FOLLOWING the same leader in the same
/// epoch.
pub fn zab_agreement(last: &BTreeMap<u64, String>, ids: &[u64]) -> Option<(u64, u64)> {
    let mut agreed = None;
    let mut leaders = 0;
    for id in ids {
        let mut words = last.get(id)?.split_whitespace();
        let state = words.next()?;
        let (leader, epoch) = (
            field(words.next(), "leader")?,
            field(words.next(), "epoch")?,
        );
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

/// `(controller, epoch)` when every broker in `ids` names the same one.
pub fn kafka_agreement(last: &BTreeMap<u64, String>, ids: &[u64]) -> Option<(u64, u64)> {
    let mut agreed = None;
    for id in ids {
        let mut words = last.get(id)?.split_whitespace();
        let ce = (
            field(words.next(), "controller")?,
            field(words.next(), "epoch")?,
        );
        if agreed.is_some_and(|a| a != ce) {
            return None;
        }
        agreed = Some(ce);
    }
    agreed
}

/// Receives `(node, line)` pairs, keeping each node's latest line in
/// `last`, until `done(last)` gives a value; panics with the last lines
/// when `within` passes first.
pub fn wait_for<T>(
    rx: &Receiver<(u64, String)>,
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

/// Waits for the ZAB nodes `ids` to agree, kills the leader with `kill`,
/// then waits for the rest to agree on another leader in a higher epoch.
pub fn zab_elects_again_after_killing_the_leader(
    rx: &Receiver<(u64, String)>,
    ids: &[u64],
    kill: impl FnOnce(u64),
) {
    let mut last = BTreeMap::new();
    let (leader, epoch) = wait_for(rx, &mut last, Duration::from_secs(10), |l| {
        zab_agreement(l, ids)
    });
    kill(leader);
    last.clear();
    let rest: Vec<u64> = ids.iter().copied().filter(|i| *i != leader).collect();
    let (new_leader, new_epoch) = wait_for(rx, &mut last, Duration::from_secs(15), |l| {
        zab_agreement(l, &rest).filter(|(_, e)| *e > epoch)
    });
    assert_ne!(new_leader, leader);
    assert!(new_epoch > epoch);
}

/// Waits for the brokers `ids` to agree on a controller, kills it with
/// `kill`, then waits for the rest to agree on another one, which must be
/// one of them and hold a higher epoch.
pub fn kafka_fails_over_after_killing_the_controller(
    rx: &Receiver<(u64, String)>,
    ids: &[u64],
    kill: impl FnOnce(u64),
) {
    let mut last = BTreeMap::new();
    let (controller, epoch) = wait_for(rx, &mut last, Duration::from_secs(5), |l| {
        kafka_agreement(l, ids)
    });
    kill(controller);
    let rest: Vec<u64> = ids.iter().copied().filter(|i| *i != controller).collect();
    let (new_controller, new_epoch) = wait_for(rx, &mut last, Duration::from_secs(10), |l| {
        kafka_agreement(l, &rest).filter(|(c, _)| *c != controller)
    });
    assert!(rest.contains(&new_controller));
    assert!(new_epoch > epoch);
}
