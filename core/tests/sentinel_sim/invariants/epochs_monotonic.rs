//! (b, e) A sentinel's epochs never go backwards — its config epoch for the
//! master and its current epoch — not while it runs, not across a crash
//! and restart from its persisted config (whatever it adopted must have
//! been flushed), and not by wrapping around at `u64::MAX` (a wrapped epoch
//! would reopen votes already cast).

use std::collections::BTreeMap;

pub struct EpochMonotonic {
    /// Which epoch this checks, for the failure message.
    what: &'static str,
    /// Highest epoch seen per sentinel (by index, stable across restarts).
    highest: BTreeMap<usize, u64>,
}

impl EpochMonotonic {
    pub fn new(what: &'static str) -> EpochMonotonic {
        EpochMonotonic {
            what,
            highest: BTreeMap::new(),
        }
    }

    pub fn observe(&mut self, sentinel: usize, epoch: u64) -> Result<(), String> {
        let seen = self.highest.entry(sentinel).or_insert(0);
        if epoch < *seen {
            return Err(format!(
                "sentinel #{sentinel}'s {} went back from {} to {epoch}",
                self.what, *seen
            ));
        }
        *seen = epoch;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_lower_epoch_is_a_violation() {
        let mut c = EpochMonotonic::new("config epoch");
        assert!(c.observe(0, 0).is_ok());
        assert!(c.observe(0, 2).is_ok());
        assert!(c.observe(1, 1).is_ok(), "each sentinel has its own history");
        assert!(c.observe(0, 2).is_ok());
        assert!(c.observe(0, 1).is_err());
    }

    #[test]
    fn a_wrap_is_a_step_back() {
        let mut c = EpochMonotonic::new("current epoch");
        assert!(c.observe(0, u64::MAX - 1).is_ok());
        assert!(c.observe(0, u64::MAX).is_ok());
        assert!(c.observe(0, 0).is_err());
    }
}
