//! Choosing the replica to promote (Redis's `sentinelSelectSlave` rules).

use std::cmp::Ordering;

use crate::sentinel::instance::{Master, Replica};
use crate::sentinel::timing::Timing;
use crate::time::Millis;

/// The key of the best replica of `m` to promote, if any qualifies.
///
/// Filters: not down, linked, answered PING within 5 ping periods, INFO
/// fresh enough, not priority 0, replication link not down for too long.
/// Order: lower priority, then larger offset, then smaller run id (unknown
/// run ids last), then the replica key so that full ties are deterministic.
pub fn select_replica(m: &Master, timing: &Timing, now: Millis) -> Option<String> {
    let info_validity = if m.common.s_down {
        5 * timing.ping_period
    } else {
        3 * timing.info_period
    };
    let mut max_link_down = 10 * m.common.down_after as i64;
    if m.common.s_down {
        max_link_down += now.since(m.common.s_down_since).0 as i64;
    }
    let mut candidates: Vec<(&String, &Replica)> = m
        .replicas
        .iter()
        .map(|(k, r)| (k, &**r))
        .filter(|(_, r)| {
            let c = &r.common;
            !c.s_down
                && !c.o_down
                && c.link.cc_connected
                && now.since(c.link.last_avail_time).0 <= 5 * timing.ping_period
                && r.slave_priority != 0
                && c.info_refresh
                    .is_some_and(|t| now.since(t).0 <= info_validity)
                && r.master_link_down_time <= max_link_down
        })
        .collect();
    candidates.sort_by(|(ka, a), (kb, b)| compare(a, b).then_with(|| ka.cmp(kb)));
    candidates.first().map(|(k, _)| (*k).clone())
}

/// True when a replica that does not qualify yet may qualify in a moment:
/// it is reachable (its INFO may just be a little old), or it was just
/// discovered and its first INFO is still on the way. Selection then waits
/// briefly instead of giving up (`select_slave`'s grace).
pub fn replica_may_qualify_soon(m: &Master) -> bool {
    m.replicas.values().any(|r| {
        !r.common.s_down
            && r.slave_priority != 0
            && (r.common.link.cc_connected || r.common.info_refresh.is_none())
    })
}

fn compare(a: &Replica, b: &Replica) -> Ordering {
    a.slave_priority
        .cmp(&b.slave_priority)
        .then_with(|| b.slave_repl_offset.cmp(&a.slave_repl_offset))
        .then_with(|| match (&a.common.runid, &b.common.runid) {
            (Some(x), Some(y)) => x.to_ascii_lowercase().cmp(&y.to_ascii_lowercase()),
            (Some(_), None) => Ordering::Less,
            (None, Some(_)) => Ordering::Greater,
            (None, None) => Ordering::Equal,
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ids::RunId;
    use crate::sentinel::addr::Addr;

    fn healthy(port: u16, priority: i64, offset: u64, runid: &str) -> Replica {
        let mut r = Replica::new(Addr::new("127.0.0.1", port), 1000, Millis(0));
        r.common.link.cc_connected = true;
        r.common.link.last_avail_time = Millis(10_000);
        r.common.info_refresh = Some(Millis(10_000));
        r.slave_priority = priority;
        r.slave_repl_offset = offset;
        r.common.runid = Some(RunId::from(runid));
        r
    }

    fn master_with(replicas: Vec<Replica>) -> Master {
        let mut m = Master::new("m".into(), Addr::new("127.0.0.1", 6379), 2, Millis(0));
        m.common.down_after = 1000;
        for r in replicas {
            m.replicas.insert(r.common.addr.key(), Box::new(r));
        }
        m
    }

    fn pick(m: &Master) -> Option<String> {
        select_replica(m, &Timing::default(), Millis(10_500))
    }

    #[test]
    fn replica_with_lowest_priority_wins() {
        let m = master_with(vec![healthy(1, 100, 500, "b"), healthy(2, 10, 1, "c")]);
        assert_eq!(pick(&m).as_deref(), Some("127.0.0.1:2"));
    }

    #[test]
    fn larger_offset_breaks_priority_ties() {
        let m = master_with(vec![healthy(1, 100, 5, "a"), healthy(2, 100, 9, "b")]);
        assert_eq!(pick(&m).as_deref(), Some("127.0.0.1:2"));
    }

    #[test]
    fn smaller_runid_breaks_offset_ties() {
        let m = master_with(vec![healthy(1, 100, 5, "bbb"), healthy(2, 100, 5, "AAA")]);
        assert_eq!(pick(&m).as_deref(), Some("127.0.0.1:2"));
    }

    #[test]
    fn priority_zero_is_never_promoted() {
        let m = master_with(vec![healthy(1, 0, 5, "a")]);
        assert_eq!(pick(&m), None);
    }

    #[test]
    fn down_or_disconnected_or_stale_replicas_are_skipped() {
        let mut down = healthy(1, 1, 5, "a");
        down.common.s_down = true;
        let mut unlinked = healthy(2, 1, 5, "a");
        unlinked.common.link.cc_connected = false;
        let mut stale = healthy(3, 1, 5, "a");
        stale.common.info_refresh = None;
        let m = master_with(vec![down, unlinked, stale, healthy(4, 50, 0, "z")]);
        assert_eq!(pick(&m).as_deref(), Some("127.0.0.1:4"));
    }
}
