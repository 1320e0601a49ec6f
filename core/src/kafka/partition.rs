//! A partition's replication state (assignment, ISR, leader, leader epoch)
//! and the transitions the controller applies to it.

use std::collections::BTreeSet;
use std::fmt;

use thiserror::Error;

use super::leader_selection::{
    controlled_shutdown_leader, offline_leader, preferred_leader, reassignment_leader, Choice,
    ElectionKind,
};

pub type BrokerId = u64;

#[derive(Clone, Debug, PartialEq, Eq, Error)]
pub enum ElectionError {
    #[error("no eligible replica for {0} election")]
    NoEligibleReplica(&'static str),
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PartitionState {
    /// Assigned replicas; the first is the preferred leader.
    pub replicas: Vec<BrokerId>,
    /// In-sync replicas.
    pub isr: Vec<BrokerId>,
    pub leader: Option<BrokerId>,
    /// Bumped on every leader change, so replicas can ignore stale orders.
    pub leader_epoch: u64,
}

/// What an election did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LeaderChange {
    pub old: Option<BrokerId>,
    pub new: BrokerId,
    pub leader_epoch: u64,
    pub unclean: bool,
}

impl PartitionState {
    /// A fresh partition: everyone in sync, no leader yet.
    pub fn new(replicas: Vec<BrokerId>) -> Self {
        PartitionState {
            isr: replicas.clone(),
            replicas,
            leader: None,
            leader_epoch: 0,
        }
    }

    pub fn preferred(&self) -> Option<BrokerId> {
        self.replicas.first().copied()
    }

    /// Runs one election of `kind` with `live` brokers and applies it.
    pub fn elect(
        &mut self,
        kind: &ElectionKind,
        live: &BTreeSet<BrokerId>,
    ) -> Result<LeaderChange, ElectionError> {
        let choice = match kind {
            ElectionKind::Offline { unclean } => {
                offline_leader(&self.replicas, &self.isr, live, *unclean)
            }
            ElectionKind::Reassignment { new_replicas } => {
                reassignment_leader(new_replicas, &self.isr, live).map(clean)
            }
            ElectionKind::Preferred => preferred_leader(&self.replicas, &self.isr, live).map(clean),
            ElectionKind::ControlledShutdown { shutting_down } => {
                controlled_shutdown_leader(&self.replicas, &self.isr, live, shutting_down)
                    .map(clean)
            }
        }
        .ok_or(ElectionError::NoEligibleReplica(kind.name()))?;
        let old = self.leader;
        self.leader = Some(choice.leader);
        self.leader_epoch += 1;
        match kind {
            // Only the chosen replica's data is certain after an unclean pick.
            _ if choice.unclean => self.isr = vec![choice.leader],
            ElectionKind::Offline { .. } => self.isr.retain(|r| live.contains(r)),
            ElectionKind::Reassignment { new_replicas } => {
                self.replicas = new_replicas.clone();
                self.isr.retain(|r| new_replicas.contains(r));
            }
            ElectionKind::ControlledShutdown { shutting_down } => {
                self.isr.retain(|r| !shutting_down.contains(r))
            }
            ElectionKind::Preferred => {}
        }
        Ok(LeaderChange {
            old,
            new: choice.leader,
            leader_epoch: self.leader_epoch,
            unclean: choice.unclean,
        })
    }

    /// The partition lost its leader and nobody may take over.
    pub fn go_offline(&mut self) {
        if self.leader.is_some() {
            self.leader = None;
            self.leader_epoch += 1;
        }
    }

    /// Drops `broker` from the ISR, never emptying it (Kafka keeps the last
    /// member so that a clean election stays possible when it returns).
    pub fn shrink_isr(&mut self, broker: BrokerId) -> bool {
        if self.isr.len() > 1 && self.isr.contains(&broker) {
            self.isr.retain(|r| *r != broker);
            true
        } else {
            false
        }
    }

    /// Adds a caught-up assigned replica back to the ISR.
    pub fn expand_isr(&mut self, broker: BrokerId) -> bool {
        if self.replicas.contains(&broker) && !self.isr.contains(&broker) {
            self.isr.push(broker);
            // Keep assignment order so listings read predictably.
            let order = self.replicas.clone();
            self.isr
                .sort_by_key(|r| order.iter().position(|x| x == r).unwrap_or(usize::MAX));
            true
        } else {
            false
        }
    }

    /// A compact text form, used as the value stored for the partition.
    pub fn encode(&self) -> String {
        let list = |v: &[BrokerId]| {
            v.iter()
                .map(|b| b.to_string())
                .collect::<Vec<_>>()
                .join(",")
        };
        format!(
            "replicas={};isr={};leader={};leader_epoch={}",
            list(&self.replicas),
            list(&self.isr),
            self.leader.map_or("none".to_string(), |l| l.to_string()),
            self.leader_epoch
        )
    }

    /// Parses [`PartitionState::encode`]'s output.
    pub fn decode(s: &str) -> Option<PartitionState> {
        let mut parts = s.split(';');
        let mut field = |name: &str| {
            parts
                .next()?
                .strip_prefix(name)?
                .strip_prefix('=')
                .map(str::to_string)
        };
        let list = |v: String| -> Option<Vec<BrokerId>> {
            if v.is_empty() {
                return Some(Vec::new());
            }
            v.split(',').map(|x| x.parse().ok()).collect()
        };
        let replicas = list(field("replicas")?)?;
        let isr = list(field("isr")?)?;
        let leader = match field("leader")?.as_str() {
            "none" => None,
            l => Some(l.parse().ok()?),
        };
        let leader_epoch = field("leader_epoch")?.parse().ok()?;
        Some(PartitionState {
            replicas,
            isr,
            leader,
            leader_epoch,
        })
    }
}

fn clean(leader: BrokerId) -> Choice {
    Choice {
        leader,
        unclean: false,
    }
}

impl fmt::Display for PartitionState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "leader={} isr={:?} leader_epoch={}",
            self.leader.map_or("none".to_string(), |l| l.to_string()),
            self.isr,
            self.leader_epoch
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(ids: &[BrokerId]) -> BTreeSet<BrokerId> {
        ids.iter().copied().collect()
    }

    #[test]
    fn offline_election_drops_dead_replicas_from_isr_and_bumps_epoch() {
        let mut p = PartitionState::new(vec![1, 2, 3]);
        p.elect(&ElectionKind::Offline { unclean: false }, &set(&[1, 2, 3]))
            .unwrap();
        let c = p
            .elect(&ElectionKind::Offline { unclean: false }, &set(&[2, 3]))
            .unwrap();
        assert_eq!(
            (c.old, c.new, c.leader_epoch, c.unclean),
            (Some(1), 2, 2, false)
        );
        assert_eq!(p.isr, vec![2, 3]);
    }

    #[test]
    fn unclean_election_resets_isr_to_the_new_leader() {
        let mut p = PartitionState::new(vec![1, 2, 3]);
        p.isr = vec![1];
        assert_eq!(
            p.elect(&ElectionKind::Offline { unclean: false }, &set(&[2, 3])),
            Err(ElectionError::NoEligibleReplica("offline"))
        );
        let c = p
            .elect(&ElectionKind::Offline { unclean: true }, &set(&[2, 3]))
            .unwrap();
        assert!(c.unclean);
        assert_eq!(p.isr, vec![2]);
    }

    #[test]
    fn isr_never_shrinks_to_empty_and_expands_in_assignment_order() {
        let mut p = PartitionState::new(vec![3, 1, 2]);
        assert!(p.shrink_isr(3));
        assert!(p.shrink_isr(1));
        assert!(!p.shrink_isr(2));
        assert_eq!(p.isr, vec![2]);
        assert!(p.expand_isr(3));
        assert!(!p.expand_isr(3));
        assert!(!p.expand_isr(9));
        assert_eq!(p.isr, vec![3, 2]);
    }

    #[test]
    fn reassignment_and_controlled_shutdown_update_replicas_and_isr() {
        let mut p = PartitionState::new(vec![1, 2, 3]);
        p.elect(
            &ElectionKind::Reassignment {
                new_replicas: vec![3, 2],
            },
            &set(&[1, 2, 3]),
        )
        .unwrap();
        assert_eq!(
            (p.leader, p.replicas.clone(), p.isr.clone()),
            (Some(3), vec![3, 2], vec![2, 3])
        );
        p.elect(
            &ElectionKind::ControlledShutdown {
                shutting_down: set(&[3]),
            },
            &set(&[2, 3]),
        )
        .unwrap();
        assert_eq!((p.leader, p.isr.clone()), (Some(2), vec![2]));
    }

    #[test]
    fn encoding_round_trips() {
        let mut p = PartitionState::new(vec![1, 2, 3]);
        assert_eq!(PartitionState::decode(&p.encode()), Some(p.clone()));
        p.leader = Some(2);
        p.isr = vec![2];
        p.leader_epoch = 9;
        assert_eq!(PartitionState::decode(&p.encode()), Some(p));
        assert_eq!(PartitionState::decode("garbage"), None);
    }
}
