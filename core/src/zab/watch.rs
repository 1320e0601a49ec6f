//! Watching a real ZooKeeper ensemble's elections from outside: the votes
//! each server reports (to a non-voting sid) become state changes, and the
//! election's safety and outcome are checked against the shared core.
//!
//! Checked: at most one server LEADING per (round, peer epoch); every
//! server FOLLOWING in that round and epoch names that leader; a server's
//! peer epoch never goes down; and the leader an election settles on is the
//! best vote of that round by the core's order ([`Vote::is_better_than`])
//! among the LOOKING votes seen before the decision. Claims are keyed by the
//! round too because a new leader reports its predecessor's epoch until it
//! has established its own (`QuorumPeer.updateElectionVote`).
//!
//! What a LOOKING server tells a non-voter is its *current* vote, not its
//! proposal: its own initial vote (myid, last logged zxid, current epoch)
//! after a start, the last elected leader after a leader loss. Only the
//! first kind are candidates, so the prediction uses the self-votes seen
//! since the last election; after a leader loss there are none to check.

use std::collections::{BTreeMap, BTreeSet};

use crate::election::{MajorityVerifier, NodeId, QuorumVerifier};

use super::vote::Vote;
use super::wire::{WireNotification, WireState};

/// What one server reported, as printed and written as JSON.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Report {
    pub sid: NodeId,
    pub state: WireState,
    pub leader: NodeId,
    pub round: u64,
    pub peer_epoch: u64,
    pub zxid: u64,
}

impl Report {
    pub fn from_wire(sid: NodeId, n: &WireNotification) -> Report {
        Report {
            sid,
            state: n.state,
            leader: n.leader,
            round: n.round,
            peer_epoch: n.peer_epoch,
            zxid: n.zxid,
        }
    }

    fn vote(&self) -> Vote {
        Vote {
            leader: self.leader,
            zxid: super::Zxid(self.zxid),
            peer_epoch: self.peer_epoch,
        }
    }
}

/// An election the ensemble settled: a quorum reported the same leader in
/// the same round, the leader itself LEADING.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Settled {
    pub round: u64,
    pub leader: NodeId,
    pub peer_epoch: u64,
    /// The core's pick among the round's LOOKING votes, if any were seen.
    pub predicted: Option<NodeId>,
}

#[derive(Debug)]
pub struct Watch {
    quorum: MajorityVerifier,
    last: BTreeMap<NodeId, Report>,
    /// Who leads each (round, peer epoch), from LEADING or FOLLOWING reports.
    claims: BTreeMap<(u64, u64), (NodeId, NodeId)>,
    /// Highest peer epoch each server reported.
    epochs: BTreeMap<NodeId, u64>,
    /// LOOKING self-votes (a server's round-0 vote) since the last
    /// settled election.
    candidates: BTreeMap<NodeId, Vote>,
    settled_rounds: BTreeSet<u64>,
    violations: Vec<String>,
}

impl Watch {
    pub fn new(members: impl IntoIterator<Item = NodeId>) -> Watch {
        Watch {
            quorum: MajorityVerifier::new(members),
            last: BTreeMap::new(),
            claims: BTreeMap::new(),
            epochs: BTreeMap::new(),
            candidates: BTreeMap::new(),
            settled_rounds: BTreeSet::new(),
            violations: Vec::new(),
        }
    }

    /// Takes one report; `Some` when it changed what that server said
    /// (state, leader, round, epoch or zxid).
    pub fn observe(&mut self, r: Report) -> Option<Report> {
        self.check(&r);
        let changed = self.last.get(&r.sid) != Some(&r);
        self.last.insert(r.sid, r);
        changed.then_some(r)
    }

    /// The server stopped answering: it no longer counts towards a quorum.
    pub fn lost(&mut self, sid: NodeId) -> bool {
        self.last.remove(&sid).is_some()
    }

    pub fn last(&self, sid: NodeId) -> Option<&Report> {
        self.last.get(&sid)
    }

    /// Safety violations seen so far, as sentences.
    pub fn violations(&self) -> &[String] {
        &self.violations
    }

    /// The election the current reports settle, if they do: a quorum of
    /// servers report the same leader and round, and the leader LEADING.
    pub fn settled(&mut self) -> Option<Settled> {
        let mut backers: BTreeMap<(u64, NodeId), BTreeSet<NodeId>> = BTreeMap::new();
        for r in self.last.values() {
            if matches!(r.state, WireState::Following | WireState::Leading) {
                backers
                    .entry((r.round, r.leader))
                    .or_default()
                    .insert(r.sid);
            }
        }
        let ((round, leader), _) = backers.into_iter().find(|((_, leader), acks)| {
            self.quorum.contains_quorum(acks)
                && self
                    .last
                    .get(leader)
                    .is_some_and(|l| l.state == WireState::Leading)
        })?;
        let peer_epoch = self.last.get(&leader)?.peer_epoch;
        let predicted = self
            .candidates
            .values()
            .copied()
            .reduce(|best, v| if v.is_better_than(&best) { v } else { best })
            .map(|v| v.leader);
        if self.settled_rounds.insert(round) {
            self.candidates.clear();
            if let Some(p) = predicted.filter(|&p| p != leader) {
                self.violations.push(format!(
                    "round {round} elected {leader} but the core's order picks {p} from the round-0 votes seen"
                ));
            }
        }
        Some(Settled {
            round,
            leader,
            peer_epoch,
            predicted,
        })
    }

    fn check(&mut self, r: &Report) {
        let seen = self.epochs.entry(r.sid).or_insert(r.peer_epoch);
        if r.peer_epoch < *seen {
            self.violations.push(format!(
                "server {} went back from peer epoch {} to {}",
                r.sid, *seen, r.peer_epoch
            ));
        }
        *seen = (*seen).max(r.peer_epoch);
        match r.state {
            WireState::Looking => {
                if r.leader == r.sid {
                    self.candidates.insert(r.sid, r.vote());
                }
            }
            WireState::Leading | WireState::Following => {
                // A late joiner that followed a settled election is no
                // candidate of the next one.
                if self.settled_rounds.contains(&r.round) {
                    self.candidates.remove(&r.sid);
                }
                let key = (r.round, r.peer_epoch);
                let (leader, witness) = *self.claims.entry(key).or_insert((r.leader, r.sid));
                if leader != r.leader {
                    self.violations.push(format!(
                        "round {} peer epoch {}: server {} says {} leads, server {} says {}",
                        r.round, r.peer_epoch, witness, leader, r.sid, r.leader
                    ));
                }
                if r.state == WireState::Leading && r.leader != r.sid {
                    self.violations.push(format!(
                        "server {} is LEADING for server {}",
                        r.sid, r.leader
                    ));
                }
            }
            WireState::Observing => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rep(sid: u64, state: WireState, leader: u64, round: u64, epoch: u64) -> Report {
        Report {
            sid,
            state,
            leader,
            round,
            peer_epoch: epoch,
            zxid: 0,
        }
    }

    use WireState::{Following as F, Leading as L, Looking as K};

    #[test]
    fn a_normal_election_settles_on_the_best_vote() {
        let mut w = Watch::new([1, 2, 3]);
        assert!(w.observe(rep(1, K, 1, 0, 0)).is_some());
        assert!(w.observe(rep(1, K, 1, 0, 0)).is_none(), "no change");
        w.observe(rep(3, K, 3, 1, 0));
        w.observe(rep(2, K, 2, 1, 0));
        assert_eq!(w.settled(), None);
        w.observe(rep(3, L, 3, 1, 0));
        w.observe(rep(2, F, 3, 1, 0));
        let s = w.settled().unwrap();
        assert_eq!((s.round, s.leader, s.predicted), (1, 3, Some(3)));
        // The established epoch replaces the old one in every report.
        w.observe(rep(3, L, 3, 1, 1));
        w.observe(rep(1, F, 3, 1, 1));
        assert!(w.violations().is_empty(), "{:?}", w.violations());
    }

    #[test]
    fn a_new_leader_reporting_its_predecessors_epoch_is_no_violation() {
        let mut w = Watch::new([1, 2, 3]);
        w.observe(rep(3, L, 3, 1, 1));
        w.observe(rep(2, F, 3, 1, 1));
        assert!(w.lost(3));
        // LOOKING servers still report the lost leader: no candidate.
        w.observe(rep(2, K, 3, 2, 1));
        w.observe(rep(1, K, 3, 2, 1));
        w.observe(rep(2, L, 2, 2, 1));
        w.observe(rep(1, F, 2, 2, 1));
        assert_eq!(
            w.settled().map(|s| (s.leader, s.predicted)),
            Some((2, None))
        );
        w.observe(rep(2, L, 2, 2, 2));
        assert!(w.violations().is_empty(), "{:?}", w.violations());
    }

    #[test]
    fn unsafe_histories_are_reported() {
        let mut w = Watch::new([1, 2, 3]);
        w.observe(rep(3, L, 3, 1, 1));
        w.observe(rep(2, L, 2, 1, 1));
        assert_eq!(w.violations().len(), 1, "two leaders");
        w.observe(rep(1, F, 1, 1, 1));
        assert_eq!(w.violations().len(), 2, "disagreeing follower");
        w.observe(rep(1, K, 1, 2, 0));
        assert_eq!(w.violations().len(), 3, "epoch went back");

        let mut w = Watch::new([1, 2, 3]);
        w.observe(rep(3, K, 3, 1, 0));
        w.observe(rep(2, L, 2, 1, 0));
        w.observe(rep(1, F, 2, 1, 0));
        assert_eq!(w.settled().map(|s| s.predicted), Some(Some(3)));
        assert_eq!(w.violations().len(), 1, "{:?}", w.violations());
        assert!(w.violations()[0].contains("picks 3"));
    }
}
