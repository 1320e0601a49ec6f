//! ZAB: a leader elected by the finalize rule holds a zxid at least as high
//! as every server whose vote elected it had when voting.

use std::collections::BTreeMap;

use crate::zab::{ServerId, Vote, Zxid};

/// Votes do not carry the voter's own zxid, so the check remembers, per
/// receiver and sender, the last LOOKING vote delivered with its round and
/// the sender's zxid at sending time.
#[derive(Clone, Debug, Default)]
pub struct LeaderHoldsNewestZxid {
    seen: BTreeMap<(ServerId, ServerId), (u64, Vote, Zxid)>,
}

impl LeaderHoldsNewestZxid {
    /// `to` received `from`'s LOOKING vote of `round`, sent while `from`
    /// held `sender_zxid`.
    pub fn vote_delivered(
        &mut self,
        to: ServerId,
        from: ServerId,
        round: u64,
        vote: Vote,
        sender_zxid: Zxid,
    ) {
        self.seen.insert((to, from), (round, vote, sender_zxid));
    }

    /// `leader`, holding `own`, decided to lead on `vote` in `round` with
    /// `backers`.
    pub fn decided(
        &self,
        leader: ServerId,
        own: Zxid,
        vote: Vote,
        round: u64,
        backers: &[ServerId],
    ) -> Result<(), String> {
        if own != vote.zxid {
            return Err(format!(
                "n{leader} leads on a vote for zxid {} but holds {own}",
                vote.zxid
            ));
        }
        for b in backers.iter().filter(|b| **b != leader) {
            if let Some((r, v, z)) = self.seen.get(&(leader, *b)) {
                if *r == round && *v == vote && *z > own {
                    return Err(format!(
                        "n{leader} (zxid {own}) elected by n{b} which held newer zxid {z}"
                    ));
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_backer_with_a_newer_zxid_is_a_violation() {
        let own = Zxid::new(1, 3);
        let vote = Vote {
            leader: 3,
            zxid: own,
            peer_epoch: 1,
        };
        let mut c = LeaderHoldsNewestZxid::default();
        c.vote_delivered(3, 1, 2, vote, Zxid::new(1, 2));
        assert!(c.decided(3, own, vote, 2, &[1, 3]).is_ok());
        c.vote_delivered(3, 2, 2, vote, Zxid::new(1, 9));
        assert!(c.decided(3, own, vote, 2, &[1, 2, 3]).is_err());
        assert!(
            c.decided(3, own, vote, 3, &[1, 2, 3]).is_ok(),
            "other round"
        );
        assert!(c.decided(3, Zxid::new(1, 4), vote, 2, &[3]).is_err());
    }
}
