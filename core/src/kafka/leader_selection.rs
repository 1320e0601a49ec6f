//! Kafka's partition-leader selectors: who may lead a partition after a
//! failure, a reassignment, a preferred-replica election or a controlled
//! shutdown. All of them scan replicas in assignment order, so the first
//! eligible replica wins and the choice is deterministic.

use std::collections::BTreeSet;

use super::partition::BrokerId;

/// Why a partition needs a (new) leader.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ElectionKind {
    /// The leader is gone. With `unclean`, a live replica outside the ISR
    /// may lead when no ISR member is alive (possible data loss).
    Offline { unclean: bool },
    /// Replicas move to `new_replicas`.
    Reassignment { new_replicas: Vec<BrokerId> },
    /// Give leadership back to the first assigned replica.
    Preferred,
    /// Brokers in `shutting_down` are leaving gracefully.
    ControlledShutdown { shutting_down: BTreeSet<BrokerId> },
}

impl ElectionKind {
    pub fn name(&self) -> &'static str {
        match self {
            ElectionKind::Offline { .. } => "offline",
            ElectionKind::Reassignment { .. } => "reassignment",
            ElectionKind::Preferred => "preferred-replica",
            ElectionKind::ControlledShutdown { .. } => "controlled-shutdown",
        }
    }
}

/// The chosen leader and whether it came from outside the ISR.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Choice {
    pub leader: BrokerId,
    pub unclean: bool,
}

/// Offline election: the first assigned replica that is alive and in the ISR
/// (which is the preferred replica when it qualifies); failing that, with
/// unclean election enabled, the first live assigned replica.
pub fn offline_leader(
    replicas: &[BrokerId],
    isr: &[BrokerId],
    live: &BTreeSet<BrokerId>,
    unclean: bool,
) -> Option<Choice> {
    let clean = replicas
        .iter()
        .find(|r| live.contains(r) && isr.contains(r))
        .map(|r| Choice {
            leader: *r,
            unclean: false,
        });
    clean.or_else(|| {
        unclean
            .then(|| replicas.iter().find(|r| live.contains(r)))
            .flatten()
            .map(|r| Choice {
                leader: *r,
                unclean: true,
            })
    })
}

/// Reassignment: the first replica of the *new* assignment that is alive and
/// in the ISR.
pub fn reassignment_leader(
    new_replicas: &[BrokerId],
    isr: &[BrokerId],
    live: &BTreeSet<BrokerId>,
) -> Option<BrokerId> {
    new_replicas
        .iter()
        .find(|r| live.contains(r) && isr.contains(r))
        .copied()
}

/// Preferred-replica election: the first assigned replica, only if it is
/// alive and in the ISR.
pub fn preferred_leader(
    replicas: &[BrokerId],
    isr: &[BrokerId],
    live: &BTreeSet<BrokerId>,
) -> Option<BrokerId> {
    replicas
        .first()
        .filter(|r| live.contains(r) && isr.contains(r))
        .copied()
}

/// Controlled shutdown: the first assigned replica that is alive, in the ISR
/// and not shutting down.
pub fn controlled_shutdown_leader(
    replicas: &[BrokerId],
    isr: &[BrokerId],
    live: &BTreeSet<BrokerId>,
    shutting_down: &BTreeSet<BrokerId>,
) -> Option<BrokerId> {
    replicas
        .iter()
        .find(|r| live.contains(r) && isr.contains(r) && !shutting_down.contains(r))
        .copied()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(ids: &[BrokerId]) -> BTreeSet<BrokerId> {
        ids.iter().copied().collect()
    }

    #[test]
    fn offline_election_table() {
        // (replicas, isr, live, unclean, expected)
        type Row = (
            &'static [u64],
            &'static [u64],
            &'static [u64],
            bool,
            Option<(u64, bool)>,
        );
        let table: [Row; 8] = [
            (&[1, 2, 3], &[1, 2, 3], &[1, 2, 3], false, Some((1, false))),
            (&[1, 2, 3], &[1, 2, 3], &[2, 3], false, Some((2, false))),
            (&[1, 2, 3], &[3, 2], &[2, 3], false, Some((2, false))),
            (&[1, 2, 3], &[1], &[2, 3], false, None),
            (&[1, 2, 3], &[1], &[2, 3], true, Some((2, true))),
            (&[1, 2, 3], &[1, 3], &[2, 3], true, Some((3, false))),
            (&[1, 2, 3], &[1, 2, 3], &[], true, None),
            (&[3, 1, 2], &[1, 2, 3], &[1, 2, 3], false, Some((3, false))),
        ];
        for (replicas, isr, live, unclean, expect) in table {
            let got =
                offline_leader(replicas, isr, &set(live), unclean).map(|c| (c.leader, c.unclean));
            assert_eq!(got, expect, "{replicas:?} {isr:?} {live:?} {unclean}");
        }
    }

    #[test]
    fn reassignment_uses_the_new_assignment_order() {
        let live = set(&[1, 2, 3, 4]);
        assert_eq!(reassignment_leader(&[4, 3], &[3, 4], &live), Some(4));
        assert_eq!(reassignment_leader(&[4, 3], &[1, 3], &live), Some(3));
        assert_eq!(reassignment_leader(&[4, 5], &[1, 2], &live), None);
        assert_eq!(reassignment_leader(&[5, 3], &[5, 3], &set(&[3])), Some(3));
    }

    #[test]
    fn preferred_replica_only_when_alive_and_in_sync() {
        // (replicas, isr, live, expected)
        type Row = (&'static [u64], &'static [u64], &'static [u64], Option<u64>);
        let table: [Row; 4] = [
            (&[2, 1], &[1, 2], &[1, 2], Some(2)),
            (&[2, 1], &[1], &[1, 2], None),
            (&[2, 1], &[1, 2], &[1], None),
            (&[], &[1], &[1], None),
        ];
        for (replicas, isr, live, expect) in table {
            assert_eq!(preferred_leader(replicas, isr, &set(live)), expect);
        }
    }

    #[test]
    fn controlled_shutdown_skips_leaving_brokers() {
        let live = set(&[1, 2, 3]);
        assert_eq!(
            controlled_shutdown_leader(&[1, 2, 3], &[1, 2, 3], &live, &set(&[1])),
            Some(2)
        );
        assert_eq!(
            controlled_shutdown_leader(&[1, 2, 3], &[1, 3], &live, &set(&[1])),
            Some(3)
        );
        assert_eq!(
            controlled_shutdown_leader(&[1, 2], &[1, 2], &live, &set(&[1, 2])),
            None
        );
    }
}
