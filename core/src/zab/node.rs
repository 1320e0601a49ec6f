//! One ZAB server as a sans-I/O state machine, with the contract every core
//! follows: `handle_message` / `handle_timeout` in (with `now`),
//! `poll_transmit` / `poll_event` out, and `poll_timeout` saying when the
//! next timer is due.

use std::collections::{BTreeMap, BTreeSet, VecDeque};

use crate::election::FailureDetector;
use crate::time::Millis;

use super::config::{Persistent, ZabConfig};
use super::event::{LookReason, ZabEvent};
use super::message::ZabMessage;
use super::vote::{ServerId, ServerState, Vote};
use super::zxid::Zxid;

/// A vote seen from a peer, with the peer's state and round when it sent it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct Seen {
    pub vote: Vote,
    pub state: ServerState,
    pub round: u64,
}

#[derive(Clone, Debug)]
pub(super) struct Looking {
    pub proposal: Vote,
    /// Votes of this round (our own included, as ZooKeeper sends to itself).
    pub recv: BTreeMap<ServerId, Seen>,
    /// Votes of servers that already follow or lead someone.
    pub out_of_election: BTreeMap<ServerId, Seen>,
    pub finalize_at: Option<Millis>,
    pub notify_interval: Millis,
    pub next_resend: Millis,
}

#[derive(Clone, Debug)]
pub(super) enum LeaderPhase {
    /// Collecting FOLLOWERINFO (accepted epochs) until a quorum is known.
    Discovering {
        infos: BTreeMap<ServerId, u64>,
        /// When the infos first formed a quorum: we then wait one finalize
        /// window for stragglers so that their promises count too.
        quorum_at: Option<Millis>,
    },
    /// NEWEPOCH sent; collecting ACKEPOCH.
    AwaitingAcks {
        epoch: u64,
        acks: BTreeSet<ServerId>,
    },
    /// Epoch established: followers and when each last answered a ping.
    Established {
        epoch: u64,
        followers: BTreeMap<ServerId, Millis>,
        next_ping: Millis,
    },
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum FollowerPhase {
    AwaitEpoch,
    AwaitNewLeader { epoch: u64 },
    Synced { epoch: u64 },
}

#[derive(Clone, Debug)]
pub(super) enum Role {
    Looking(Looking),
    Following {
        leader: ServerId,
        phase: FollowerPhase,
        detector: FailureDetector,
        /// When to repeat FOLLOWERINFO / ACKEPOCH if the leader has not moved
        /// us on (it may still have been LOOKING when the first one came).
        next_retry: Millis,
    },
    Leading {
        phase: LeaderPhase,
        since: Millis,
    },
}

/// A ZooKeeper server's election and discovery logic. Pure: time comes in
/// as arguments, output goes to queues the driver drains.
///
/// ```
/// use rsentinel_core::time::Millis;
/// use rsentinel_core::zab::{ZabConfig, ZabNode, Persistent, ZabEvent, ServerState};
///
/// // Three servers wired by hand: deliver every queued message at once.
/// let mut nodes: Vec<ZabNode> = (1..=3)
///     .map(|id| ZabNode::new(ZabConfig::majority(id, 3), Persistent::default(), Millis(0)))
///     .collect();
/// let mut now = Millis(0);
/// let mut leaders = Vec::new();
/// for _ in 0..200 {
///     now = now + Millis(10);
///     for i in 0..nodes.len() {
///         if nodes[i].poll_timeout(now) <= now {
///             nodes[i].handle_timeout(now);
///         }
///         while let Some((to, msg)) = nodes[i].poll_transmit() {
///             let from = nodes[i].id();
///             nodes[(to - 1) as usize].handle_message(now, from, msg);
///         }
///         while let Some(ev) = nodes[i].poll_event() {
///             if let ZabEvent::Established { state: ServerState::Leading, leader, epoch, .. } = ev {
///                 leaders.push((leader, epoch));
///             }
///         }
///     }
/// }
/// // The server with the highest id wins a tie on epoch and zxid.
/// assert_eq!(leaders, vec![(3, 1)]);
/// ```
#[derive(Debug)]
pub struct ZabNode {
    pub(super) cfg: ZabConfig,
    pub(super) disk: Persistent,
    /// The logical clock: the election round.
    pub(super) round: u64,
    pub(super) role: Role,
    /// The vote we decided on, reported to LOOKING servers while settled.
    pub(super) current_vote: Vote,
    pub(super) decided_round: u64,
    outbox: VecDeque<(ServerId, ZabMessage)>,
    events: VecDeque<ZabEvent>,
}

impl ZabNode {
    /// A server starting (or restarting) from `disk`; it begins LOOKING.
    pub fn new(cfg: ZabConfig, disk: Persistent, now: Millis) -> ZabNode {
        let self_vote = Vote {
            leader: cfg.id,
            zxid: disk.last_zxid,
            peer_epoch: disk.current_epoch,
        };
        let mut node = ZabNode {
            role: Role::Following {
                leader: cfg.id,
                phase: FollowerPhase::AwaitEpoch,
                detector: FailureDetector::new(now),
                next_retry: now,
            },
            cfg,
            disk,
            round: 0,
            current_vote: self_vote,
            decided_round: 0,
            outbox: VecDeque::new(),
            events: VecDeque::new(),
        };
        node.start_looking(now, LookReason::Startup);
        node
    }

    pub fn id(&self) -> ServerId {
        self.cfg.id
    }

    pub fn config(&self) -> &ZabConfig {
        &self.cfg
    }

    pub fn state(&self) -> ServerState {
        match self.role {
            Role::Looking(_) => ServerState::Looking,
            Role::Following { .. } => ServerState::Following,
            Role::Leading { .. } => ServerState::Leading,
        }
    }

    /// The election round (ZooKeeper's logical clock).
    pub fn round(&self) -> u64 {
        self.round
    }

    /// What must survive a restart.
    pub fn persistent(&self) -> Persistent {
        self.disk
    }

    pub fn last_zxid(&self) -> Zxid {
        self.disk.last_zxid
    }

    /// The vote this server currently stands for.
    pub fn vote(&self) -> Vote {
        match &self.role {
            Role::Looking(l) => l.proposal,
            _ => self.current_vote,
        }
    }

    /// `(leader, epoch)` once discovery has finished on this server.
    pub fn established(&self) -> Option<(ServerId, u64)> {
        match &self.role {
            Role::Following {
                leader,
                phase: FollowerPhase::Synced { epoch },
                ..
            } => Some((*leader, *epoch)),
            Role::Leading {
                phase: LeaderPhase::Established { epoch, .. },
                ..
            } => Some((self.cfg.id, *epoch)),
            _ => None,
        }
    }

    /// When an established leader's answering followers stop forming a
    /// quorum if none of them answers again: the first follower expiry
    /// after which the rest (and the leader) are no quorum. Only that one
    /// matters; an expiry that leaves a quorum changes nothing, and waking
    /// for it would wake the shell in a loop once it has passed.
    fn quorum_lost_at(&self, followers: &BTreeMap<ServerId, Millis>) -> Option<Millis> {
        // Alive while `now.since(last) <= sync_timeout`, as the tick counts.
        let mut expiries: Vec<(Millis, ServerId)> = followers
            .iter()
            .map(|(id, last)| (*last + self.cfg.sync_timeout + Millis(1), *id))
            .collect();
        expiries.sort_unstable();
        let mut alive: BTreeSet<ServerId> = followers.keys().copied().collect();
        alive.insert(self.cfg.id);
        expiries.into_iter().find_map(|(at, id)| {
            alive.remove(&id);
            (!self.cfg.verifier.contains_quorum(&alive)).then_some(at)
        })
    }

    /// The next message to send, as `(destination, message)`.
    pub fn poll_transmit(&mut self) -> Option<(ServerId, ZabMessage)> {
        self.outbox.pop_front()
    }

    pub fn poll_event(&mut self) -> Option<ZabEvent> {
        self.events.pop_front()
    }

    /// Feeds one message received from `from`.
    pub fn handle_message(&mut self, now: Millis, from: ServerId, msg: ZabMessage) {
        if from == self.cfg.id || !self.cfg.verifier.is_voter(from) {
            return;
        }
        match msg {
            ZabMessage::Notification(n) => self.on_notification(now, from, n),
            other => self.on_peer_message(now, from, other),
        }
    }

    /// Advances timers: finalize waits, re-broadcasts, heartbeats, timeouts.
    /// Calling it before [`ZabNode::poll_timeout`] is harmless (nothing is
    /// due, so nothing happens); the shell need not call it any sooner.
    pub fn handle_timeout(&mut self, now: Millis) {
        match self.role {
            Role::Looking(_) => self.tick_looking(now),
            _ => self.tick_settled(now),
        }
    }

    /// When [`ZabNode::handle_timeout`] must run next: the earliest timer of
    /// the current role, never earlier than `now` (a deadline already passed
    /// means "now"). Like Sentinel's, it covers every timer, so the shell
    /// sleeps exactly until it.
    pub fn poll_timeout(&self, now: Millis) -> Millis {
        let timeout = self.cfg.sync_timeout;
        // Strictly longer than the timeout counts as silent.
        let expiry = |since: Millis| since + timeout + Millis(1);
        let deadline = match &self.role {
            Role::Looking(l) => l
                .finalize_at
                .map_or(l.next_resend, |f| f.min(l.next_resend)),
            Role::Following {
                phase,
                detector,
                next_retry,
                ..
            } => {
                let down = detector.down_at(timeout);
                match phase {
                    // A synced follower has nothing to repeat.
                    FollowerPhase::Synced { .. } => down,
                    _ => down.min(*next_retry),
                }
            }
            Role::Leading {
                phase:
                    LeaderPhase::Established {
                        followers,
                        next_ping,
                        ..
                    },
                ..
            } => self
                .quorum_lost_at(followers)
                .map_or(*next_ping, |lost| lost.min(*next_ping)),
            Role::Leading {
                phase: LeaderPhase::Discovering { quorum_at, .. },
                since,
            } => quorum_at.map_or(expiry(*since), |q| {
                (q + self.cfg.finalize_wait).min(expiry(*since))
            }),
            Role::Leading { since, .. } => expiry(*since),
        };
        deadline.max(now)
    }

    /// As an established leader, logs one transaction and sends it to the
    /// followers; returns its zxid. Used by simulators to make histories
    /// diverge.
    pub fn propose(&mut self) -> Option<Zxid> {
        let Role::Leading {
            phase: LeaderPhase::Established {
                epoch, followers, ..
            },
            ..
        } = &self.role
        else {
            return None;
        };
        let (epoch, to): (u64, Vec<ServerId>) = (*epoch, followers.keys().copied().collect());
        let zxid = self.disk.last_zxid.next();
        self.disk.last_zxid = zxid;
        for f in to {
            self.send(f, ZabMessage::Proposal { epoch, zxid });
        }
        Some(zxid)
    }

    pub(super) fn send(&mut self, to: ServerId, msg: ZabMessage) {
        self.outbox.push_back((to, msg));
    }

    pub(super) fn emit(&mut self, ev: ZabEvent) {
        self.events.push_back(ev);
    }

    pub(super) fn self_vote(&self) -> Vote {
        Vote {
            leader: self.cfg.id,
            zxid: self.disk.last_zxid,
            peer_epoch: self.disk.current_epoch,
        }
    }

    pub(super) fn others(&self) -> Vec<ServerId> {
        self.cfg
            .verifier
            .voters()
            .into_iter()
            .filter(|id| *id != self.cfg.id)
            .collect()
    }

    /// Whether `ids` (our own id counts) form a quorum.
    pub(super) fn is_quorum<'a>(&self, ids: impl IntoIterator<Item = &'a ServerId>) -> bool {
        let set: BTreeSet<ServerId> = ids.into_iter().copied().collect();
        self.cfg.verifier.contains_quorum(&set)
    }
}
