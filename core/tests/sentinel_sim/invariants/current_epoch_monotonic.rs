//! (e) A sentinel's current epoch never goes backwards — not while it runs,
//! not across a restart from its persisted config, and not by wrapping
//! around at `u64::MAX` (a wrapped epoch would reopen votes already cast).

use std::collections::BTreeMap;

#[derive(Default)]
pub struct CurrentEpochMonotonic {
    /// Highest current epoch seen per sentinel (by index, stable across
    /// restarts).
    highest: BTreeMap<usize, u64>,
}

impl CurrentEpochMonotonic {
    pub fn observe(&mut self, sentinel: usize, current_epoch: u64) -> Result<(), String> {
        let seen = self.highest.entry(sentinel).or_insert(0);
        if current_epoch < *seen {
            return Err(format!(
                "sentinel #{sentinel}'s current epoch went back from {} to {current_epoch}",
                *seen
            ));
        }
        *seen = current_epoch;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_lower_current_epoch_is_a_violation() {
        let mut c = CurrentEpochMonotonic::default();
        assert!(c.observe(0, u64::MAX - 1).is_ok());
        assert!(c.observe(0, u64::MAX).is_ok());
        assert!(c.observe(1, 0).is_ok(), "each sentinel has its own history");
        assert!(c.observe(0, 0).is_err(), "a wrap is a step back");
    }
}
