//! (a) At most one sentinel is elected failover leader in any epoch.

use std::collections::BTreeMap;

#[derive(Default)]
pub struct OneLeaderPerEpoch {
    leader_of: BTreeMap<u64, String>,
}

impl OneLeaderPerEpoch {
    /// `runid` emitted `+elected-leader` for a failover in `epoch`.
    pub fn elected(&mut self, epoch: u64, runid: &str) -> Result<(), String> {
        match self.leader_of.get(&epoch) {
            Some(first) if first != runid => {
                Err(format!("two leaders in epoch {epoch}: {first} and {runid}"))
            }
            Some(_) => Ok(()),
            None => {
                self.leader_of.insert(epoch, runid.to_string());
                Ok(())
            }
        }
    }

    pub fn count(&self) -> usize {
        self.leader_of.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_leader_in_the_same_epoch_is_a_violation() {
        let mut c = OneLeaderPerEpoch::default();
        assert!(c.elected(1, "a").is_ok());
        assert!(c.elected(1, "a").is_ok(), "the same leader again is fine");
        assert!(c.elected(2, "b").is_ok());
        assert!(c.elected(1, "b").is_err());
    }
}
