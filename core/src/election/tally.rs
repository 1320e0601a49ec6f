//! A vote tally: who each voter last voted for, in which epoch, and who wins.
//!
//! Ties between equal vote counts are broken deterministically by choosing
//! the *greatest* candidate in its `Ord` order. For Sentinel (candidates are
//! run ids) that is the lexicographically greatest run id; Redis itself picks
//! whichever its hash table happens to yield first, which is not reproducible.

use std::collections::BTreeMap;

use crate::ids::Epoch;

use super::quorum::QuorumRule;

/// The latest vote of every voter, each stamped with the epoch it was cast in.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Tally<V: Ord, C: Ord + Clone> {
    votes: BTreeMap<V, (Epoch, C)>,
}

impl<V: Ord, C: Ord + Clone> Default for Tally<V, C> {
    fn default() -> Self {
        Tally {
            votes: BTreeMap::new(),
        }
    }
}

impl<V: Ord, C: Ord + Clone> Tally<V, C> {
    pub fn new() -> Self {
        Self::default()
    }

    /// Records `voter`'s vote, replacing its previous one.
    pub fn record(&mut self, voter: V, epoch: Epoch, candidate: C) {
        self.votes.insert(voter, (epoch, candidate));
    }

    /// Votes per candidate, counting only votes cast in exactly `epoch`.
    fn counts(&self, epoch: Epoch) -> BTreeMap<C, usize> {
        let mut counts = BTreeMap::new();
        for (e, c) in self.votes.values() {
            if *e == epoch {
                *counts.entry(c.clone()).or_insert(0) += 1;
            }
        }
        counts
    }

    /// The candidate with most `epoch` votes and its count; ties go to the
    /// greatest candidate. `None` when nobody voted in `epoch`.
    pub fn leader(&self, epoch: Epoch) -> Option<(C, usize)> {
        // Iterating a BTreeMap in ascending order and keeping ">=" makes the
        // greatest candidate win a tie.
        let mut best: Option<(C, usize)> = None;
        for (c, n) in self.counts(epoch) {
            if best.as_ref().is_none_or(|(_, m)| n >= *m) {
                best = Some((c, n));
            }
        }
        best
    }

    /// The leader of `epoch` if its count satisfies `rule`.
    pub fn winner(&self, epoch: Epoch, rule: QuorumRule) -> Option<C> {
        self.leader(epoch)
            .filter(|(_, n)| rule.is_reached(*n))
            .map(|(c, _)| c)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ids::RunId;

    fn rid(s: &str) -> RunId {
        RunId(s.to_string())
    }

    #[test]
    fn only_votes_of_the_asked_epoch_count() {
        let mut t = Tally::new();
        t.record("s1", Epoch(3), rid("a"));
        t.record("s2", Epoch(2), rid("a"));
        t.record("s3", Epoch(3), rid("b"));
        t.record("s4", Epoch(4), rid("a"));
        let counts = t.counts(Epoch(3));
        assert_eq!(counts.get(&rid("a")), Some(&1));
        assert_eq!(counts.get(&rid("b")), Some(&1));
        assert_eq!(t.counts(Epoch(2)).len(), 1);
        assert_eq!(t.leader(Epoch(5)), None);
    }

    #[test]
    fn tie_goes_to_the_greatest_candidate_whatever_the_insertion_order() {
        let orders: [[(&str, &str); 4]; 2] = [
            [("s1", "aaa"), ("s2", "zzz"), ("s3", "aaa"), ("s4", "zzz")],
            [("s4", "zzz"), ("s3", "aaa"), ("s2", "zzz"), ("s1", "aaa")],
        ];
        for order in orders {
            let mut t = Tally::new();
            for (v, c) in order {
                t.record(v, Epoch(1), rid(c));
            }
            assert_eq!(t.leader(Epoch(1)), Some((rid("zzz"), 2)));
        }
    }

    #[test]
    fn more_votes_beat_a_greater_candidate() {
        let mut t = Tally::new();
        t.record(1, Epoch(1), rid("a"));
        t.record(2, Epoch(1), rid("a"));
        t.record(3, Epoch(1), rid("z"));
        assert_eq!(t.leader(Epoch(1)), Some((rid("a"), 2)));
    }

    #[test]
    fn winner_requires_the_rule() {
        let table = [
            (5, 2, 3, true),
            (5, 2, 2, false),
            (5, 4, 3, false),
            (3, 2, 2, true),
            (1, 1, 1, true),
        ];
        for (voters, quorum, votes, wins) in table {
            let mut t = Tally::new();
            for v in 0..votes {
                t.record(v, Epoch(7), rid("x"));
            }
            let rule = QuorumRule::sentinel_leader(voters, quorum);
            assert_eq!(
                t.winner(Epoch(7), rule).is_some(),
                wins,
                "{voters} {quorum} {votes}"
            );
        }
    }

    #[test]
    fn a_new_vote_replaces_the_old_one() {
        let mut t = Tally::new();
        t.record(1, Epoch(1), 'a');
        t.record(1, Epoch(2), 'b');
        assert_eq!(t.counts(Epoch(1)).len(), 0);
        assert_eq!(t.leader(Epoch(2)), Some(('b', 1)));
    }
}
