//! (b) A sentinel's config epoch for the master never goes backwards — not
//! while it runs, and not across a crash and restart from its persisted
//! config (whatever it adopted must have been flushed).

use std::collections::BTreeMap;

#[derive(Default)]
pub struct ConfigEpochMonotonic {
    /// Highest config epoch seen per sentinel (by index, stable across
    /// restarts).
    highest: BTreeMap<usize, u64>,
}

impl ConfigEpochMonotonic {
    pub fn observe(&mut self, sentinel: usize, config_epoch: u64) -> Result<(), String> {
        let seen = self.highest.entry(sentinel).or_insert(0);
        if config_epoch < *seen {
            return Err(format!(
                "sentinel #{sentinel}'s config epoch went back from {} to {config_epoch}",
                *seen
            ));
        }
        *seen = config_epoch;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_lower_config_epoch_is_a_violation() {
        let mut c = ConfigEpochMonotonic::default();
        assert!(c.observe(0, 0).is_ok());
        assert!(c.observe(0, 2).is_ok());
        assert!(c.observe(1, 1).is_ok(), "each sentinel has its own history");
        assert!(c.observe(0, 2).is_ok());
        assert!(c.observe(0, 1).is_err());
    }
}
