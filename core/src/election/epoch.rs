//! A monotonic epoch clock: epochs only move forward, by adopting a newer
//! one we observe or by starting one above every epoch a quorum accepted.

use crate::ids::Epoch;

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct EpochClock {
    current: Epoch,
}

impl EpochClock {
    pub fn current(&self) -> Epoch {
        self.current
    }

    /// Adopts `seen` if newer; true if the clock moved.
    pub fn observe(&mut self, seen: Epoch) -> bool {
        if seen > self.current {
            self.current = seen;
            true
        } else {
            false
        }
    }

    /// Starts the next epoch; `None` (and no change) at the maximum.
    fn bump(&mut self) -> Option<Epoch> {
        self.current = self.current.next()?;
        Some(self.current)
    }

    /// The epoch after the largest of `acked` and our own: how a new leader
    /// picks an epoch nobody in its quorum has accepted yet.
    pub fn next_after<'a>(&mut self, acked: impl IntoIterator<Item = &'a Epoch>) -> Option<Epoch> {
        let max = acked.into_iter().copied().max().unwrap_or_default();
        self.observe(max);
        self.bump()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn epochs_only_move_forward() {
        let mut c = EpochClock { current: Epoch(5) };
        assert!(!c.observe(Epoch(4)));
        assert!(!c.observe(Epoch(5)));
        assert!(c.observe(Epoch(7)));
        assert_eq!(c.bump(), Some(Epoch(8)));
        let mut top = EpochClock {
            current: Epoch(u64::MAX),
        };
        assert_eq!(top.bump(), None);
        assert_eq!(top.current(), Epoch(u64::MAX));
    }

    #[test]
    fn next_after_exceeds_every_acked_epoch() {
        let table: [(u64, &[u64], u64); 4] = [
            (0, &[], 1),
            (3, &[1, 2], 4),
            (3, &[9, 2], 10),
            (0, &[0, 0], 1),
        ];
        for (start, acked, expect) in table {
            let mut c = EpochClock {
                current: Epoch(start),
            };
            let acked: Vec<Epoch> = acked.iter().map(|e| Epoch(*e)).collect();
            assert_eq!(c.next_after(&acked), Some(Epoch(expect)));
        }
    }
}
