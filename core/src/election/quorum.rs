//! Quorum arithmetic: how many votes (or which voters) make a decision.
//!
//! Two shapes are offered. [`QuorumRule`] is a count rule ("at least k of
//! n"), which is all Sentinel needs. [`QuorumVerifier`] decides on a *set* of
//! voter ids, which is what ZooKeeper needs: a plain majority of the
//! ensemble, or weights (`weight.N` in zoo.cfg) where not every voter counts
//! the same.

use std::collections::{BTreeMap, BTreeSet};

/// Identifier of a server / broker / voter in the set-based verifiers.
pub type NodeId = u64;

/// A count-based quorum rule.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum QuorumRule {
    /// Strictly more than half of `voters`: `floor(voters/2) + 1`.
    Majority { voters: usize },
    /// At least `k` votes, whatever the number of voters.
    AtLeast(usize),
    /// Both a majority of `voters` and at least `at_least` votes; Sentinel's
    /// leader rule (`max(quorum, floor(N/2)+1)`).
    Both { voters: usize, at_least: usize },
}

impl QuorumRule {
    /// Sentinel's leader rule: `voters` = every sentinel known for the master
    /// plus this one; `quorum` = the configured quorum of the master.
    pub fn sentinel_leader(voters: usize, quorum: usize) -> QuorumRule {
        QuorumRule::Both {
            voters,
            at_least: quorum,
        }
    }

    /// The smallest vote count that satisfies the rule.
    pub fn needed(&self) -> usize {
        match *self {
            QuorumRule::Majority { voters } => voters / 2 + 1,
            QuorumRule::AtLeast(k) => k,
            QuorumRule::Both { voters, at_least } => (voters / 2 + 1).max(at_least),
        }
    }

    /// Whether `count` votes satisfy the rule.
    pub fn is_reached(&self, count: usize) -> bool {
        count >= self.needed()
    }
}

/// Decides whether a set of acknowledging voters forms a quorum. Pluggable so
/// that ZooKeeper's weighted and hierarchical configurations fit.
pub trait QuorumVerifier: std::fmt::Debug + Send + Sync {
    /// Whether `acks` (ids outside the voting membership are ignored)
    /// contains a quorum.
    fn contains_quorum(&self, acks: &BTreeSet<NodeId>) -> bool;
    /// The voting members, in id order.
    fn voters(&self) -> Vec<NodeId>;
    /// Whether `id` is a voting member.
    fn is_voter(&self, id: NodeId) -> bool {
        self.voters().contains(&id)
    }
}

/// Plain majority of a fixed membership.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MajorityVerifier {
    members: BTreeSet<NodeId>,
}

impl MajorityVerifier {
    pub fn new(members: impl IntoIterator<Item = NodeId>) -> Self {
        MajorityVerifier {
            members: members.into_iter().collect(),
        }
    }
}

impl QuorumVerifier for MajorityVerifier {
    fn contains_quorum(&self, acks: &BTreeSet<NodeId>) -> bool {
        let count = acks.intersection(&self.members).count();
        QuorumRule::Majority {
            voters: self.members.len(),
        }
        .is_reached(count)
    }
    fn voters(&self) -> Vec<NodeId> {
        self.members.iter().copied().collect()
    }
    fn is_voter(&self, id: NodeId) -> bool {
        self.members.contains(&id)
    }
}

/// Weighted voting: a quorum holds strictly more than half of the total
/// weight. Weight-zero members take part but never tip a decision.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WeightedVerifier {
    weights: BTreeMap<NodeId, u64>,
}

impl WeightedVerifier {
    pub fn new(weights: impl IntoIterator<Item = (NodeId, u64)>) -> Self {
        WeightedVerifier {
            weights: weights.into_iter().collect(),
        }
    }

    fn weight_of(&self, acks: &BTreeSet<NodeId>) -> u64 {
        acks.iter().filter_map(|id| self.weights.get(id)).sum()
    }
}

impl QuorumVerifier for WeightedVerifier {
    fn contains_quorum(&self, acks: &BTreeSet<NodeId>) -> bool {
        let total: u64 = self.weights.values().sum();
        total > 0 && 2 * self.weight_of(acks) > total
    }
    fn voters(&self) -> Vec<NodeId> {
        self.weights.keys().copied().collect()
    }
    fn is_voter(&self, id: NodeId) -> bool {
        self.weights.contains_key(&id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(ids: &[NodeId]) -> BTreeSet<NodeId> {
        ids.iter().copied().collect()
    }

    #[test]
    fn count_rules_need_the_documented_number_of_votes() {
        let table = [
            (QuorumRule::Majority { voters: 1 }, 1),
            (QuorumRule::Majority { voters: 2 }, 2),
            (QuorumRule::Majority { voters: 3 }, 2),
            (QuorumRule::Majority { voters: 4 }, 3),
            (QuorumRule::Majority { voters: 5 }, 3),
            (QuorumRule::AtLeast(0), 0),
            (QuorumRule::AtLeast(4), 4),
            (
                QuorumRule::Both {
                    voters: 5,
                    at_least: 2,
                },
                3,
            ),
            (
                QuorumRule::Both {
                    voters: 5,
                    at_least: 4,
                },
                4,
            ),
            (
                QuorumRule::Both {
                    voters: 1,
                    at_least: 1,
                },
                1,
            ),
            (
                QuorumRule::Both {
                    voters: 6,
                    at_least: 1,
                },
                4,
            ),
        ];
        for (rule, needed) in table {
            assert_eq!(rule.needed(), needed, "{rule:?}");
            assert!(rule.is_reached(needed), "{rule:?}");
            assert!(needed == 0 || !rule.is_reached(needed - 1), "{rule:?}");
        }
    }

    #[test]
    fn sentinel_leader_rule_is_max_of_quorum_and_majority() {
        for voters in 1..10 {
            for quorum in 1..10 {
                let rule = QuorumRule::sentinel_leader(voters, quorum);
                assert_eq!(rule.needed(), quorum.max(voters / 2 + 1));
            }
        }
    }

    #[test]
    fn majority_verifier_ignores_non_members() {
        let v = MajorityVerifier::new([1, 2, 3]);
        assert!(!v.contains_quorum(&set(&[1])));
        assert!(!v.contains_quorum(&set(&[1, 7, 8, 9])));
        assert!(v.contains_quorum(&set(&[1, 3])));
        assert!(v.is_voter(2) && !v.is_voter(4));
        assert_eq!(v.voters(), vec![1, 2, 3]);
    }

    #[test]
    fn weighted_verifier_needs_more_than_half_the_weight() {
        let v = WeightedVerifier::new([(1, 3), (2, 1), (3, 1), (4, 0)]);
        let table: [(&[NodeId], bool); 6] = [
            (&[1], true),
            (&[2, 3], false),
            (&[2, 3, 4], false),
            (&[1, 4], true),
            (&[], false),
            (&[4], false),
        ];
        for (acks, expect) in table {
            assert_eq!(v.contains_quorum(&set(acks)), expect, "{acks:?}");
        }
    }
}
