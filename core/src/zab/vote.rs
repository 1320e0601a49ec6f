//! Votes, server states and notifications of ZooKeeper's fast leader
//! election, and the total order that decides which vote is better.

use std::fmt;

use crate::election::NodeId;

use super::zxid::Zxid;

/// A server id (`myid`), 1-based by convention.
pub type ServerId = NodeId;

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ServerState {
    Looking,
    Following,
    Leading,
}

impl ServerState {
    pub fn as_str(self) -> &'static str {
        match self {
            ServerState::Looking => "LOOKING",
            ServerState::Following => "FOLLOWING",
            ServerState::Leading => "LEADING",
        }
    }

    pub fn parse(s: &str) -> Option<ServerState> {
        match s {
            "LOOKING" => Some(ServerState::Looking),
            "FOLLOWING" => Some(ServerState::Following),
            "LEADING" => Some(ServerState::Leading),
            _ => None,
        }
    }
}

impl fmt::Display for ServerState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A proposal: "`leader`, whose last zxid is `zxid` and whose current epoch
/// is `peer_epoch`, should lead".
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Vote {
    pub leader: ServerId,
    pub zxid: Zxid,
    pub peer_epoch: u64,
}

impl Vote {
    /// ZooKeeper's total order: higher peer epoch, then higher zxid, then
    /// higher server id. The id makes the order total, so every server
    /// converges on the same vote once it has seen the same candidates.
    pub fn is_better_than(&self, other: &Vote) -> bool {
        (self.peer_epoch, self.zxid, self.leader) > (other.peer_epoch, other.zxid, other.leader)
    }
}

impl fmt::Display for Vote {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "(leader={} zxid={} peer_epoch={})",
            self.leader, self.zxid, self.peer_epoch
        )
    }
}

/// What servers broadcast during the election.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Notification {
    pub vote: Vote,
    /// The sender's logical clock (election round) for this vote.
    pub round: u64,
    pub state: ServerState,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(leader: u64, zxid: u64, peer_epoch: u64) -> Vote {
        Vote {
            leader,
            zxid: Zxid(zxid),
            peer_epoch,
        }
    }

    #[test]
    fn vote_order_is_epoch_then_zxid_then_id() {
        let table = [
            (v(1, 0, 2), v(9, 99, 1), true),
            (v(1, 5, 1), v(9, 4, 1), true),
            (v(2, 5, 1), v(1, 5, 1), true),
            (v(1, 5, 1), v(2, 5, 1), false),
            (v(3, 5, 1), v(3, 5, 1), false),
            (v(9, 99, 1), v(1, 0, 2), false),
        ];
        for (a, b, better) in table {
            assert_eq!(a.is_better_than(&b), better, "{a} vs {b}");
        }
    }

    #[test]
    fn states_parse_back() {
        for s in [
            ServerState::Looking,
            ServerState::Following,
            ServerState::Leading,
        ] {
            assert_eq!(ServerState::parse(s.as_str()), Some(s));
        }
        assert_eq!(ServerState::parse("OBSERVING"), None);
    }
}
