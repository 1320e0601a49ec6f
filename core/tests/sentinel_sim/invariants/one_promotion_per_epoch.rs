//! (c) No two different replicas are promoted with the same config epoch.

use std::collections::BTreeMap;

#[derive(Default)]
pub struct OnePromotionPerEpoch {
    promoted: BTreeMap<u64, String>,
}

impl OnePromotionPerEpoch {
    /// A leader emitted `+promoted-slave` for `replica` (its `ip:port`) with
    /// `config_epoch`.
    pub fn promoted(&mut self, config_epoch: u64, replica: &str) -> Result<(), String> {
        match self.promoted.get(&config_epoch) {
            Some(first) if first != replica => Err(format!(
                "two replicas promoted with config epoch {config_epoch}: {first} and {replica}"
            )),
            Some(_) => Ok(()),
            None => {
                self.promoted.insert(config_epoch, replica.to_string());
                Ok(())
            }
        }
    }

    pub fn count(&self) -> usize {
        self.promoted.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_replica_with_the_same_epoch_is_a_violation() {
        let mut c = OnePromotionPerEpoch::default();
        assert!(c.promoted(1, "127.0.0.1:6380").is_ok());
        assert!(c.promoted(2, "127.0.0.1:6381").is_ok());
        assert!(c.promoted(1, "127.0.0.1:6381").is_err());
    }
}
