//! "One vote per voter per epoch, first request wins": a voter's vote in one
//! election (a Sentinel master's failover, ...), owned and persisted by its
//! owner. The epoch a request is judged against is the voter's
//! [`EpochClock`], shared by all its elections: a Sentinel has one current
//! epoch and one vote per master.

use super::EpochClock;
use crate::ids::Epoch;

/// What [`VoteRecord::request`] did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct VoteOutcome {
    /// The request's candidate got this voter's vote just now.
    pub granted: bool,
    /// The request's epoch was newer and became the current epoch.
    pub epoch_adopted: bool,
}

/// A vote cast in `epoch` for `candidate`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CastVote<C> {
    pub epoch: Epoch,
    pub candidate: C,
}

/// The last vote cast in one election, if any.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VoteRecord<C> {
    last: Option<CastVote<C>>,
}

impl<C> Default for VoteRecord<C> {
    fn default() -> Self {
        VoteRecord { last: None }
    }
}

impl<C> VoteRecord<C> {
    /// Restores a record from persisted state (e.g. a config file).
    pub fn restore(last: Option<CastVote<C>>) -> Self {
        VoteRecord { last }
    }

    pub fn last(&self) -> Option<&CastVote<C>> {
        self.last.as_ref()
    }

    /// The epoch of the last vote (`0`: none; no vote is cast in epoch 0).
    pub fn last_epoch(&self) -> Epoch {
        self.last.as_ref().map_or(Epoch(0), |v| v.epoch)
    }

    /// Rewrites the candidate of the last vote, keeping its epoch: a
    /// voter may forget whom it voted for, never that it voted.
    pub fn map_candidate(&mut self, f: impl FnOnce(&mut C)) {
        if let Some(v) = &mut self.last {
            f(&mut v.candidate);
        }
    }

    /// Handles a vote request for `candidate` in `epoch`: a newer epoch is
    /// adopted on `clock` first; the vote is granted if none was cast in
    /// this epoch yet (first come, first served) and the epoch is not stale.
    pub fn request(&mut self, clock: &mut EpochClock, epoch: Epoch, candidate: C) -> VoteOutcome {
        let epoch_adopted = clock.observe(epoch);
        // Epoch 0 is "no election yet": a vote there could not be told
        // apart from no vote once persisted, so it is never granted (Redis
        // likewise needs `leader_epoch < req_epoch`, with leader_epoch ≥ 0).
        let granted = epoch > Epoch(0)
            && self.last.as_ref().is_none_or(|v| v.epoch < epoch)
            && clock.current() <= epoch;
        if granted {
            self.last = Some(CastVote {
                epoch: clock.current(),
                candidate,
            });
        }
        VoteOutcome {
            granted,
            epoch_adopted,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn clock(at: u64) -> EpochClock {
        let mut c = EpochClock::default();
        c.observe(Epoch(at));
        c
    }

    #[test]
    fn first_request_in_an_epoch_wins() {
        let mut clock = clock(0);
        let mut r = VoteRecord::default();
        let a = r.request(&mut clock, Epoch(1), "a");
        assert!(a.granted && a.epoch_adopted);
        let b = r.request(&mut clock, Epoch(1), "b");
        assert!(!b.granted && !b.epoch_adopted);
        assert_eq!(r.last().map(|v| v.candidate), Some("a"));
    }

    #[test]
    fn one_clock_serves_every_election_of_a_voter() {
        // A vote in one election moves the voter's epoch: a request in
        // another election at an older epoch is then stale.
        let mut clock = clock(0);
        let (mut m1, mut m2) = (VoteRecord::default(), VoteRecord::default());
        assert!(m1.request(&mut clock, Epoch(7), "a").granted);
        let late = m2.request(&mut clock, Epoch(6), "b");
        assert!(!late.granted && !late.epoch_adopted);
        assert!(m2.request(&mut clock, Epoch(7), "b").granted);
    }

    #[test]
    fn request_table() {
        // (current epoch, prior vote, request epoch, granted, adopted, resulting vote)
        type Row = (
            u64,
            Option<(u64, &'static str)>,
            u64,
            bool,
            bool,
            Option<(u64, &'static str)>,
        );
        let table: [Row; 8] = [
            (0, None, 0, false, false, None),
            (0, None, 1, true, true, Some((1, "x"))),
            (5, None, 5, true, false, Some((5, "x"))),
            (5, None, 4, false, false, None),
            (5, Some((5, "y")), 5, false, false, Some((5, "y"))),
            (5, Some((4, "y")), 5, true, false, Some((5, "x"))),
            (5, Some((5, "y")), 6, true, true, Some((6, "x"))),
            (9, Some((3, "y")), 7, false, false, Some((3, "y"))),
        ];
        for (cur, prior, req, granted, adopted, after) in table {
            let mut c = clock(cur);
            let mut r = VoteRecord::restore(prior.map(|(e, candidate)| CastVote {
                epoch: Epoch(e),
                candidate,
            }));
            let out = r.request(&mut c, Epoch(req), "x");
            assert_eq!(out.granted, granted, "{cur} {prior:?} {req}");
            assert_eq!(out.epoch_adopted, adopted, "{cur} {prior:?} {req}");
            let got = r.last().map(|v| (v.epoch.0, v.candidate));
            assert_eq!(got, after);
            assert_eq!(c.current(), Epoch(cur.max(req)));
        }
    }
}
