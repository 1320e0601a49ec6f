//! After the vote: discovery (a new epoch above every accepted one, agreed by
//! a quorum), synchronisation reduced to adopting the leader's last zxid, and
//! heartbeats that send dead leaders' followers back to LOOKING.

use crate::election::EpochClock;
use crate::ids::Epoch;
use crate::time::Millis;

use super::event::{LookReason, ZabEvent};
use super::message::ZabMessage;
use super::node::{FollowerPhase, LeaderPhase, Role, ZabNode};
use super::vote::{ServerId, ServerState};
use super::zxid::Zxid;

impl ZabNode {
    pub(super) fn on_peer_message(&mut self, now: Millis, from: ServerId, msg: ZabMessage) {
        match &self.role {
            Role::Leading { .. } => self.on_leader_message(now, from, msg),
            Role::Following { leader, .. } if *leader == from => self.on_follower_message(now, msg),
            _ => {}
        }
    }

    fn on_leader_message(&mut self, now: Millis, from: ServerId, msg: ZabMessage) {
        let Role::Leading { phase, .. } = &mut self.role else {
            return;
        };
        match (phase, msg) {
            (
                LeaderPhase::Discovering { infos, .. },
                ZabMessage::FollowerInfo { accepted_epoch, .. },
            ) => {
                infos.insert(from, accepted_epoch);
                self.try_propose_epoch(now);
            }
            (
                LeaderPhase::AwaitingAcks { epoch, acks },
                ZabMessage::FollowerInfo { accepted_epoch, .. },
            ) => {
                if accepted_epoch < *epoch {
                    let epoch = *epoch;
                    self.send(from, ZabMessage::NewEpoch { epoch });
                } else if !acks.contains(&from) {
                    // It promised this epoch or a newer one to another
                    // leader, so it can never join ours: start over higher.
                    self.start_looking(now, LookReason::StaleEpoch);
                }
            }
            (LeaderPhase::AwaitingAcks { epoch, acks }, ZabMessage::AckEpoch { epoch: e, .. })
                if e == *epoch =>
            {
                acks.insert(from);
                let epoch = *epoch;
                let acks = acks.clone();
                if self.is_quorum(&acks) {
                    self.establish(
                        now,
                        epoch,
                        acks.into_iter().filter(|id| *id != self.cfg.id).collect(),
                    );
                }
            }
            (
                LeaderPhase::Established {
                    epoch, followers, ..
                },
                ZabMessage::FollowerInfo { accepted_epoch, .. },
            ) => {
                // A late joiner: an established epoch only needs syncing.
                if accepted_epoch <= *epoch {
                    followers.insert(from, now);
                    let epoch = *epoch;
                    let zxid = self.disk.last_zxid;
                    self.send(from, ZabMessage::NewLeader { epoch, zxid });
                } else {
                    self.start_looking(now, LookReason::StaleEpoch);
                }
            }
            (
                LeaderPhase::Established {
                    epoch, followers, ..
                },
                ZabMessage::PingAck { epoch: e },
            ) if e == *epoch => {
                followers.insert(from, now);
            }
            (
                LeaderPhase::Established {
                    epoch, followers, ..
                },
                ZabMessage::AckEpoch { epoch: e, .. },
            ) if e == *epoch => {
                // Our NEWLEADER to it was lost: send it again.
                followers.insert(from, now);
                let epoch = *epoch;
                let zxid = self.disk.last_zxid;
                self.send(from, ZabMessage::NewLeader { epoch, zxid });
            }
            _ => {}
        }
    }

    /// With a quorum of accepted epochs known, proposes max + 1.
    pub(super) fn try_propose_epoch(&mut self, now: Millis) {
        let all = self.cfg.verifier.voters().len();
        let wait = self.cfg.finalize_wait;
        let quorum = match &self.role {
            Role::Leading {
                phase: LeaderPhase::Discovering { infos, .. },
                ..
            } => self.is_quorum(infos.keys()),
            _ => return,
        };
        let Role::Leading {
            phase: LeaderPhase::Discovering { infos, quorum_at },
            ..
        } = &mut self.role
        else {
            return;
        };
        if !quorum {
            return;
        }
        let since = *quorum_at.get_or_insert(now);
        if infos.len() < all && now < since + wait {
            return;
        }
        // One above every accepted epoch of the quorum (our own included).
        let accepted: Vec<Epoch> = infos.values().map(|e| Epoch(*e)).collect();
        let Some(Epoch(epoch)) = EpochClock::default().next_after(&accepted) else {
            // Every epoch is used up: no leader can ever be established.
            return;
        };
        let to: Vec<ServerId> = infos
            .keys()
            .copied()
            .filter(|id| *id != self.cfg.id)
            .collect();
        self.disk.accepted_epoch = epoch;
        let mut acks = std::collections::BTreeSet::new();
        acks.insert(self.cfg.id);
        if let Role::Leading { phase, .. } = &mut self.role {
            *phase = LeaderPhase::AwaitingAcks { epoch, acks };
        }
        for f in to {
            self.send(f, ZabMessage::NewEpoch { epoch });
        }
        if self.is_quorum(&[self.cfg.id]) {
            self.establish(now, epoch, Vec::new());
        }
    }

    fn establish(&mut self, now: Millis, epoch: u64, followers: Vec<ServerId>) {
        self.disk.current_epoch = epoch;
        // The leader's history is the most recent of its quorum; a new epoch
        // starts its counter at zero.
        self.disk.last_zxid = Zxid::start_of(epoch as u32);
        let zxid = self.disk.last_zxid;
        self.current_vote.peer_epoch = epoch;
        if let Role::Leading { phase, .. } = &mut self.role {
            *phase = LeaderPhase::Established {
                epoch,
                followers: followers.iter().map(|f| (*f, now)).collect(),
                next_ping: now + self.cfg.heartbeat_interval,
            };
        }
        for f in followers {
            self.send(f, ZabMessage::NewLeader { epoch, zxid });
        }
        self.emit(ZabEvent::Established {
            state: ServerState::Leading,
            leader: self.cfg.id,
            epoch,
            zxid,
        });
    }

    fn on_follower_message(&mut self, now: Millis, msg: ZabMessage) {
        let Role::Following {
            leader,
            phase,
            detector,
            ..
        } = &mut self.role
        else {
            return;
        };
        let leader = *leader;
        // Only messages that move us forward count as signs of life: a
        // leader we can never join must not keep us waiting forever.
        match (*phase, msg) {
            (FollowerPhase::AwaitEpoch, ZabMessage::NewEpoch { epoch }) => {
                // Promise strictly newer epochs only: two leaders can then
                // never both gather a quorum of promises for one epoch.
                if epoch > self.disk.accepted_epoch {
                    detector.heard(now);
                    self.disk.accepted_epoch = epoch;
                    *phase = FollowerPhase::AwaitNewLeader { epoch };
                    let ack = ZabMessage::AckEpoch {
                        epoch,
                        current_epoch: self.disk.current_epoch,
                        last_zxid: self.disk.last_zxid,
                    };
                    self.send(leader, ack);
                } else {
                    self.start_looking(now, LookReason::EpochRejected);
                }
            }
            (
                FollowerPhase::AwaitEpoch | FollowerPhase::AwaitNewLeader { .. },
                ZabMessage::NewLeader { epoch, zxid },
            ) => {
                if epoch >= self.disk.accepted_epoch {
                    detector.heard(now);
                    self.disk.accepted_epoch = epoch;
                    self.disk.current_epoch = epoch;
                    self.disk.last_zxid = zxid;
                    *phase = FollowerPhase::Synced { epoch };
                    self.current_vote.peer_epoch = epoch;
                    self.send(leader, ZabMessage::PingAck { epoch });
                    self.emit(ZabEvent::Established {
                        state: ServerState::Following,
                        leader,
                        epoch,
                        zxid,
                    });
                } else {
                    self.start_looking(now, LookReason::EpochRejected);
                }
            }
            (FollowerPhase::Synced { epoch }, ZabMessage::Ping { epoch: e }) if e == epoch => {
                detector.heard(now);
                self.send(leader, ZabMessage::PingAck { epoch });
            }
            (FollowerPhase::Synced { epoch }, ZabMessage::Proposal { epoch: e, zxid })
                if e == epoch =>
            {
                detector.heard(now);
                self.disk.last_zxid = self.disk.last_zxid.max(zxid);
            }
            _ => {}
        }
    }

    pub(super) fn tick_settled(&mut self, now: Millis) {
        let timeout = self.cfg.sync_timeout;
        let heartbeat = self.cfg.heartbeat_interval;
        let mut ping: Option<(u64, Vec<ServerId>)> = None;
        let mut retry: Option<(ServerId, ZabMessage)> = None;
        let disk = self.disk;
        let give_up = match &mut self.role {
            Role::Following {
                leader,
                phase,
                detector,
                next_retry,
            } => {
                if now >= *next_retry {
                    *next_retry = now + heartbeat;
                    retry = match *phase {
                        FollowerPhase::AwaitEpoch => Some(ZabMessage::FollowerInfo {
                            accepted_epoch: disk.accepted_epoch,
                            last_zxid: disk.last_zxid,
                        }),
                        FollowerPhase::AwaitNewLeader { epoch } => Some(ZabMessage::AckEpoch {
                            epoch,
                            current_epoch: disk.current_epoch,
                            last_zxid: disk.last_zxid,
                        }),
                        FollowerPhase::Synced { .. } => None,
                    }
                    .map(|m| (*leader, m));
                }
                detector
                    .is_down(now, timeout)
                    .then_some(LookReason::LeaderSilent)
            }
            Role::Leading {
                phase:
                    LeaderPhase::Established {
                        epoch,
                        followers,
                        next_ping,
                    },
                ..
            } => {
                if now >= *next_ping {
                    *next_ping = now + heartbeat;
                    ping = Some((*epoch, followers.keys().copied().collect()));
                }
                let mut alive: Vec<ServerId> = followers
                    .iter()
                    .filter(|(_, last)| now.since(**last) <= timeout)
                    .map(|(id, _)| *id)
                    .collect();
                alive.push(self.cfg.id);
                let ok = self
                    .cfg
                    .verifier
                    .contains_quorum(&alive.into_iter().collect());
                (!ok).then_some(LookReason::LostQuorum)
            }
            Role::Leading { since, .. } => {
                (now.since(*since) > timeout).then_some(LookReason::DiscoveryTimedOut)
            }
            Role::Looking(_) => None,
        };
        if give_up.is_none() {
            // Discovery may be waiting out its grace window for stragglers.
            self.try_propose_epoch(now);
        }
        if let Some(reason) = give_up {
            self.start_looking(now, reason);
            return;
        }
        if let Some((to, msg)) = retry {
            self.send(to, msg);
        }
        if let Some((epoch, to)) = ping {
            for f in to {
                self.send(f, ZabMessage::Ping { epoch });
            }
        }
    }
}
