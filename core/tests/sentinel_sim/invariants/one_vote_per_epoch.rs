//! (d) A sentinel never votes for two different candidates in one epoch —
//! across restarts too (its votes must have been persisted).

use std::collections::BTreeMap;

#[derive(Default)]
pub struct OneVotePerEpoch {
    /// (voter run id, epoch) → candidate.
    votes: BTreeMap<(String, u64), String>,
}

impl OneVotePerEpoch {
    /// `voter` emitted `+vote-for-leader <candidate> <epoch>`.
    pub fn voted(&mut self, voter: &str, candidate: &str, epoch: u64) -> Result<(), String> {
        let key = (voter.to_string(), epoch);
        match self.votes.get(&key) {
            Some(first) if !first.eq_ignore_ascii_case(candidate) => Err(format!(
                "sentinel {voter} voted twice in epoch {epoch}: for {first} and for {candidate}"
            )),
            Some(_) => Ok(()),
            None => {
                self.votes.insert(key, candidate.to_string());
                Ok(())
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn voting_for_someone_else_in_the_same_epoch_is_a_violation() {
        let mut c = OneVotePerEpoch::default();
        assert!(c.voted("s1", "a", 3).is_ok());
        assert!(c.voted("s1", "a", 3).is_ok());
        assert!(c.voted("s2", "b", 3).is_ok(), "another voter may differ");
        assert!(c.voted("s1", "b", 4).is_ok(), "a new epoch is a new vote");
        assert!(c.voted("s1", "b", 3).is_err());
    }
}
