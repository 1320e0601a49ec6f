//! Who leads a failover: the votes peers reported (from their
//! `is-master-down-by-addr` replies) plus our own, counted with the shared
//! election core under Sentinel's rule `max(quorum, majority of all known
//! sentinels + 1)`. Also the one place Sentinel's three quorum rules are
//! written down (ODOWN, failover authorization, the leader).

use super::instance::Master;
use super::Sentinel;
use crate::election::{QuorumRule, Tally};
use crate::ids::{Epoch, RunId};
use crate::time::Millis;

impl Sentinel {
    /// The leader of master `name`'s failover in `epoch`, if any has enough
    /// votes. Casts our own vote on the way (for the most voted peer, or for
    /// ourselves when nobody voted), as Redis does.
    ///
    /// Every vote counted, ours and the peers', was cast in `epoch` (Redis
    /// counts the peers' in the current epoch): when other masters'
    /// failovers move the current epoch on while the replies are on their
    /// way, a majority won in `epoch` still stands, and it is still at
    /// most one leader per epoch since each voter grants one vote per
    /// master and epoch.
    pub(crate) fn get_leader(&mut self, now: Millis, name: &str, epoch: Epoch) -> Option<RunId> {
        let current = epoch;
        let m = self.masters.known(name)?;
        let mut tally: Tally<RunId, RunId> = Tally::new();
        for (runid, s) in &m.sentinels {
            if let Some(leader) = &s.leader {
                tally.record(runid.clone(), s.leader_epoch, leader.clone());
            }
        }
        let rule = m.leader_rule();
        let choice = tally
            .leader(current)
            .map(|(c, _)| c)
            .unwrap_or_else(|| RunId::from(self.myid()));
        let (vote, vote_epoch) = self.vote_leader(now, name, epoch, &choice);
        if let Some(v) = vote {
            if vote_epoch == epoch {
                tally.record(RunId::from(self.myid()), vote_epoch, v);
            }
        }
        tally.winner(current, rule)
    }
}

impl Master {
    /// ODOWN (and CKQUORUM's first check): at least the configured quorum
    /// of sentinels, us included, see the master down.
    pub(crate) fn odown_rule(&self) -> QuorumRule {
        QuorumRule::AtLeast(self.quorum as usize)
    }

    /// Failover authorization (CKQUORUM's second check, and a configuration
    /// confirmed by hellos): a strict majority of every sentinel known for
    /// the master plus us.
    pub(crate) fn majority_rule(&self) -> QuorumRule {
        QuorumRule::Majority {
            voters: self.sentinels.len() + 1,
        }
    }

    /// The failover leader: both of the above.
    pub(crate) fn leader_rule(&self) -> QuorumRule {
        QuorumRule::sentinel_leader(self.sentinels.len() + 1, self.quorum as usize)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sentinel::addr::Addr;
    use crate::sentinel::instance::PeerSentinel;

    #[test]
    fn the_three_rules_count_us_among_the_known_sentinels() {
        // (other sentinels known, quorum, needed for ODOWN, majority, leader)
        let table = [
            (0, 1, 1, 1, 1),
            (2, 2, 2, 2, 2),
            (2, 3, 3, 2, 3),
            (4, 2, 2, 3, 3),
            (5, 1, 1, 4, 4),
        ];
        for (others, quorum, odown, majority, leader) in table {
            let mut m = Master::new("m".into(), Addr::new("127.0.0.1", 6379), quorum, Millis(0));
            for i in 0..others {
                let runid = format!("{i:040}");
                let peer = PeerSentinel::new(
                    Addr::new("127.0.0.1", 26380 + i as u16),
                    RunId::from(runid.as_str()),
                    5000,
                    Millis(0),
                );
                m.sentinels.insert(RunId::from(runid), Box::new(peer));
            }
            let got = (
                m.odown_rule().needed(),
                m.majority_rule().needed(),
                m.leader_rule().needed(),
            );
            assert_eq!(got, (odown, majority, leader), "{others} {quorum}");
        }
    }
}
