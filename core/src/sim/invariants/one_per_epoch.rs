//! At most one holder per epoch: ZAB's one leader per established epoch,
//! Kafka's one broker whose orders take effect per controller epoch (a
//! paused, stale controller must be fenced).

use std::collections::BTreeMap;

#[derive(Clone, Debug)]
pub struct OnePerEpoch<Id> {
    holders: BTreeMap<u64, Id>,
}

impl<Id> Default for OnePerEpoch<Id> {
    fn default() -> Self {
        OnePerEpoch {
            holders: BTreeMap::new(),
        }
    }
}

impl<Id: Copy + Eq> OnePerEpoch<Id> {
    /// `id` acted as the holder of `epoch`; `Err(other)` when another
    /// already did.
    pub fn claim(&mut self, epoch: u64, id: Id) -> Result<(), Id> {
        match self.holders.insert(epoch, id) {
            Some(other) if other != id => Err(other),
            _ => Ok(()),
        }
    }

    pub fn holder(&self, epoch: u64) -> Option<Id> {
        self.holders.get(&epoch).copied()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_holder_in_an_epoch_is_a_violation() {
        let mut c = OnePerEpoch::default();
        assert_eq!(c.claim(1, 3), Ok(()));
        assert_eq!(c.claim(1, 3), Ok(()), "the same holder again is fine");
        assert_eq!(c.claim(2, 2), Ok(()));
        assert_eq!(c.claim(1, 2), Err(3));
        assert_eq!(c.holder(2), Some(2));
    }
}
