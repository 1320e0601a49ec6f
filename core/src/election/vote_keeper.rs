//! "One vote per voter per epoch, first request wins": the voter's side of an
//! election, plus adoption of higher epochs.

use crate::ids::Epoch;

/// What [`VoteKeeper::request`] did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct VoteOutcome {
    /// The request's candidate got this voter's vote just now.
    pub granted: bool,
    /// The request's epoch was newer and became the current epoch.
    pub epoch_adopted: bool,
}

/// One voter's memory: the current epoch and its last vote.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct VoteKeeper<C> {
    current_epoch: Epoch,
    vote: Option<(Epoch, C)>,
}

impl<C: Clone + PartialEq> VoteKeeper<C> {
    /// Restores a keeper from persisted state (e.g. a config file).
    pub fn restore(current_epoch: Epoch, vote: Option<(Epoch, C)>) -> Self {
        VoteKeeper {
            current_epoch,
            vote,
        }
    }

    pub fn current_epoch(&self) -> Epoch {
        self.current_epoch
    }

    /// Raises the current epoch to `epoch` if it is newer; true if it moved.
    pub fn observe_epoch(&mut self, epoch: Epoch) -> bool {
        if epoch > self.current_epoch {
            self.current_epoch = epoch;
            true
        } else {
            false
        }
    }

    /// Handles a vote request for `candidate` in `epoch`: a newer epoch is
    /// adopted first; the vote is granted if we have not voted in this epoch
    /// yet (first come, first served) and the epoch is not stale.
    pub fn request(&mut self, epoch: Epoch, candidate: C) -> VoteOutcome {
        let epoch_adopted = self.observe_epoch(epoch);
        let voted_epoch = self.vote.as_ref().map(|(e, _)| *e);
        // Epoch 0 is "no election yet": a vote there could not be told
        // apart from no vote once persisted, so it is never granted (Redis
        // likewise needs `leader_epoch < req_epoch`, with leader_epoch ≥ 0).
        let granted = epoch > Epoch(0)
            && voted_epoch.is_none_or(|v| v < epoch)
            && self.current_epoch <= epoch;
        if granted {
            self.vote = Some((self.current_epoch, candidate));
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

    #[test]
    fn first_request_in_an_epoch_wins() {
        let mut k = VoteKeeper::restore(Epoch(0), None);
        let a = k.request(Epoch(1), "a");
        assert!(a.granted && a.epoch_adopted);
        let b = k.request(Epoch(1), "b");
        assert!(!b.granted && !b.epoch_adopted);
        assert_eq!(k.vote, Some((Epoch(1), "a")));
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
            let mut k = VoteKeeper::restore(Epoch(cur), prior.map(|(e, c)| (Epoch(e), c)));
            let out = k.request(Epoch(req), "x");
            assert_eq!(out.granted, granted, "{cur} {prior:?} {req}");
            assert_eq!(out.epoch_adopted, adopted, "{cur} {prior:?} {req}");
            assert_eq!(k.vote, after.map(|(e, c)| (Epoch(e), c)));
            assert_eq!(k.current_epoch(), Epoch(cur.max(req)));
        }
    }
}
