//! What a ZAB server reports to its driver: votes, decisions, established
//! epochs and give-ups, each with the reason.

use super::vote::{ServerId, ServerState, Vote};
use super::zxid::Zxid;

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ZabEvent {
    /// Started (or restarted) looking in `round`, voting for itself.
    StartedLooking {
        round: u64,
        vote: Vote,
        reason: LookReason,
    },
    /// Switched its vote to a better one.
    VoteChanged {
        round: u64,
        vote: Vote,
        from: ServerId,
    },
    /// Fast leader election finished: `state` is Following or Leading.
    Decided {
        state: ServerState,
        vote: Vote,
        round: u64,
        /// Servers whose votes for `vote` formed the quorum.
        backers: Vec<ServerId>,
        how: DecideHow,
    },
    /// Discovery and synchronisation finished: the epoch is established.
    Established {
        state: ServerState,
        leader: ServerId,
        epoch: u64,
        zxid: Zxid,
    },
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LookReason {
    Startup,
    LeaderSilent,
    LostQuorum,
    DiscoveryTimedOut,
    EpochRejected,
    StaleEpoch,
}

impl LookReason {
    pub fn as_str(self) -> &'static str {
        match self {
            LookReason::Startup => "startup",
            LookReason::LeaderSilent => "leader silent for longer than the sync timeout",
            LookReason::LostQuorum => "a quorum of followers stopped answering",
            LookReason::DiscoveryTimedOut => "discovery did not finish in time",
            LookReason::EpochRejected => "leader proposed an epoch not newer than ours",
            LookReason::StaleEpoch => "a follower already promised a newer epoch",
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DecideHow {
    /// A quorum backed our vote and no better vote came in the finalize wait.
    QuorumAfterFinalizeWait,
    /// Servers already following/leading told us about an established leader.
    JoinedEstablishedLeader,
}

impl DecideHow {
    pub fn as_str(self) -> &'static str {
        match self {
            DecideHow::QuorumAfterFinalizeWait => {
                "a quorum backs this vote and no better vote came during the finalize wait"
            }
            DecideHow::JoinedEstablishedLeader => {
                "a quorum of settled servers follows this leader and the leader confirms it"
            }
        }
    }
}
