//! Fast leader election (the LOOKING state): vote exchange, round handling,
//! the finalize wait and joining an already established leader.

use std::collections::BTreeMap;

use crate::time::Millis;

use super::event::{DecideHow, LookReason, ZabEvent};
use super::message::ZabMessage;
use super::node::{FollowerPhase, LeaderPhase, Looking, Role, Seen, ZabNode};
use super::vote::{Notification, ServerId, ServerState, Vote};
use crate::election::FailureDetector;

impl ZabNode {
    /// Enters LOOKING: a new round, a vote for ourselves, broadcast to all.
    pub(super) fn start_looking(&mut self, now: Millis, reason: LookReason) {
        self.round += 1;
        let vote = self.self_vote();
        let mut recv = BTreeMap::new();
        recv.insert(
            self.cfg.id,
            Seen {
                vote,
                state: ServerState::Looking,
                round: self.round,
            },
        );
        self.role = Role::Looking(Looking {
            proposal: vote,
            recv,
            out_of_election: BTreeMap::new(),
            finalize_at: None,
            notify_interval: self.cfg.finalize_wait,
            next_resend: now + self.cfg.finalize_wait,
        });
        self.emit(ZabEvent::StartedLooking {
            round: self.round,
            vote,
            reason,
        });
        self.broadcast_vote();
    }

    fn looking(&mut self) -> &mut Looking {
        match &mut self.role {
            Role::Looking(l) => l,
            _ => unreachable!("only called while LOOKING"),
        }
    }

    fn notification(&self) -> Notification {
        match &self.role {
            Role::Looking(l) => Notification {
                vote: l.proposal,
                round: self.round,
                state: ServerState::Looking,
            },
            _ => Notification {
                vote: self.current_vote,
                round: self.decided_round,
                state: self.state(),
            },
        }
    }

    fn broadcast_vote(&mut self) {
        let n = self.notification();
        for to in self.others() {
            self.send(to, ZabMessage::Notification(n));
        }
    }

    /// Adopts `vote` as our proposal (recording it as our own entry too).
    fn set_proposal(&mut self, vote: Vote) {
        let (id, round) = (self.cfg.id, self.round);
        let l = self.looking();
        l.proposal = vote;
        l.finalize_at = None;
        l.recv.insert(
            id,
            Seen {
                vote,
                state: ServerState::Looking,
                round,
            },
        );
    }

    pub(super) fn on_notification(&mut self, now: Millis, from: ServerId, n: Notification) {
        if !matches!(self.role, Role::Looking(_)) {
            // Settled servers tell a looking one who leads.
            if n.state == ServerState::Looking {
                let reply = self.notification();
                self.send(from, ZabMessage::Notification(reply));
            }
            return;
        }
        let interval = self.looking().notify_interval;
        self.looking().next_resend = now + interval;
        match n.state {
            ServerState::Looking => self.on_looking_vote(now, from, n),
            _ => self.on_settled_vote(now, from, n),
        }
    }

    fn on_looking_vote(&mut self, now: Millis, from: ServerId, n: Notification) {
        if n.round > self.round {
            // A newer election: drop what we counted and restart from the
            // better of its vote and our own.
            self.round = n.round;
            self.looking().recv.clear();
            let own = self.self_vote();
            let best = if n.vote.is_better_than(&own) {
                n.vote
            } else {
                own
            };
            self.set_proposal(best);
            if best == n.vote {
                self.emit(ZabEvent::VoteChanged {
                    round: self.round,
                    vote: best,
                    from,
                });
            }
            self.broadcast_vote();
        } else if n.round < self.round {
            // Stale round: not counted, but answer so the sender catches up.
            let reply = self.notification();
            self.send(from, ZabMessage::Notification(reply));
            return;
        } else if n.vote.is_better_than(&self.looking().proposal) {
            self.set_proposal(n.vote);
            self.emit(ZabEvent::VoteChanged {
                round: self.round,
                vote: n.vote,
                from,
            });
            self.broadcast_vote();
        } else if self.looking().proposal.is_better_than(&n.vote) {
            // The sender has not seen our better vote (it may have been
            // lost): tell it directly instead of waiting for a re-broadcast
            // that its own chatter keeps postponing.
            let reply = self.notification();
            self.send(from, ZabMessage::Notification(reply));
        }
        self.looking().recv.insert(
            from,
            Seen {
                vote: n.vote,
                state: n.state,
                round: n.round,
            },
        );
        let proposal = self.looking().proposal;
        if self.looking().finalize_at.is_none() && self.backers(&proposal, false).is_some() {
            let at = now + self.cfg.finalize_wait;
            self.looking().finalize_at = Some(at);
        }
    }

    fn on_settled_vote(&mut self, now: Millis, from: ServerId, n: Notification) {
        let seen = Seen {
            vote: n.vote,
            state: n.state,
            round: n.round,
        };
        if n.round == self.round {
            self.looking().recv.insert(from, seen);
            if let Some(backers) = self.backers(&n.vote, false) {
                if self.leader_confirmed(&n.vote, n.round, false) {
                    self.decide(now, n.vote, backers, DecideHow::JoinedEstablishedLeader);
                    return;
                }
            }
        }
        self.looking().out_of_election.insert(from, seen);
        if let Some(backers) = self.backers(&n.vote, true) {
            if self.leader_confirmed(&n.vote, n.round, true) {
                self.round = n.round;
                self.decide(now, n.vote, backers, DecideHow::JoinedEstablishedLeader);
            }
        }
    }

    /// The servers backing `vote` in the round tally (or among the settled
    /// servers), if they form a quorum.
    fn backers(&self, vote: &Vote, out_of_election: bool) -> Option<Vec<ServerId>> {
        let Role::Looking(l) = &self.role else {
            return None;
        };
        let map = if out_of_election {
            &l.out_of_election
        } else {
            &l.recv
        };
        let ids: Vec<ServerId> = map
            .iter()
            .filter(|(_, s)| same_vote(s, vote))
            .map(|(id, _)| *id)
            .collect();
        self.is_quorum(&ids).then_some(ids)
    }

    /// ZooKeeper's `checkLeader`: following someone else needs that server to
    /// say it is LEADING; leading ourselves needs the vote to be of our round.
    fn leader_confirmed(&self, vote: &Vote, round: u64, out_of_election: bool) -> bool {
        let Role::Looking(l) = &self.role else {
            return false;
        };
        if vote.leader == self.cfg.id {
            return round == self.round;
        }
        let map = if out_of_election {
            &l.out_of_election
        } else {
            &l.recv
        };
        map.get(&vote.leader)
            .is_some_and(|s| s.state == ServerState::Leading)
    }

    pub(super) fn tick_looking(&mut self, now: Millis) {
        let (finalize_at, next_resend, proposal) = {
            let l = self.looking();
            (l.finalize_at, l.next_resend, l.proposal)
        };
        if finalize_at.is_some_and(|at| now >= at) {
            match self.backers(&proposal, false) {
                Some(backers) => {
                    self.decide(now, proposal, backers, DecideHow::QuorumAfterFinalizeWait);
                    return;
                }
                None => self.looking().finalize_at = None,
            }
        }
        if now >= next_resend {
            // Nobody spoke for a while: say it again, less often each time.
            let max = self.cfg.max_notification_interval;
            let l = self.looking();
            l.notify_interval = (l.notify_interval + l.notify_interval).min(max);
            l.next_resend = now + l.notify_interval;
            self.broadcast_vote();
        }
    }

    fn decide(&mut self, now: Millis, vote: Vote, backers: Vec<ServerId>, how: DecideHow) {
        self.current_vote = vote;
        self.decided_round = self.round;
        let state = if vote.leader == self.cfg.id {
            let mut infos = BTreeMap::new();
            infos.insert(self.cfg.id, self.disk.accepted_epoch);
            self.role = Role::Leading {
                phase: LeaderPhase::Discovering {
                    infos,
                    quorum_at: None,
                },
                since: now,
            };
            ServerState::Leading
        } else {
            self.role = Role::Following {
                leader: vote.leader,
                phase: FollowerPhase::AwaitEpoch,
                detector: FailureDetector::new(now),
                next_retry: now + self.cfg.heartbeat_interval,
            };
            self.send(
                vote.leader,
                ZabMessage::FollowerInfo {
                    accepted_epoch: self.disk.accepted_epoch,
                    last_zxid: self.disk.last_zxid,
                },
            );
            ServerState::Following
        };
        self.emit(ZabEvent::Decided {
            state,
            vote,
            round: self.round,
            backers,
            how,
        });
        // A one-server ensemble has its quorum already.
        if state == ServerState::Leading {
            self.try_propose_epoch(now);
        }
    }
}

/// Whether a recorded vote backs `vote`. Settled servers move their vote's
/// peer epoch to the epoch they established (as ZooKeeper's
/// `updateElectionVote` does), so for them only leader and peer epoch count.
fn same_vote(seen: &Seen, vote: &Vote) -> bool {
    if seen.state == ServerState::Looking {
        seen.vote == *vote
    } else {
        seen.vote.leader == vote.leader && seen.vote.peer_epoch == vote.peer_epoch
    }
}
