//! Who leads a failover: the votes peers reported (from their
//! `is-master-down-by-addr` replies) plus our own, counted with the shared
//! election core under Sentinel's rule `max(quorum, majority of all known
//! sentinels + 1)`.

use super::Sentinel;
use crate::election::{QuorumRule, Tally};
use crate::ids::Epoch;
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
    pub(crate) fn get_leader(&mut self, now: Millis, name: &str, epoch: u64) -> Option<String> {
        let current = Epoch(epoch);
        let m = self.masters.get(name)?;
        let mut tally: Tally<String, String> = Tally::new();
        for (runid, s) in &m.sentinels {
            if let Some(leader) = &s.leader {
                tally.record(runid.clone(), Epoch(s.leader_epoch), leader.clone());
            }
        }
        let rule = QuorumRule::sentinel_leader(m.sentinels.len() + 1, m.quorum as usize);
        let choice = tally
            .leader(current)
            .map(|(c, _)| c)
            .unwrap_or_else(|| self.myid().to_string());
        let (vote, vote_epoch) = self.vote_leader(now, name, epoch, &choice);
        if let Some(v) = vote {
            if vote_epoch == epoch {
                tally.record(self.myid().to_string(), Epoch(vote_epoch), v);
            }
        }
        tally.winner(current, rule)
    }
}
