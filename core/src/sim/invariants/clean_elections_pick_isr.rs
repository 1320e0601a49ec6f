//! Kafka: a clean partition-leader election picks a member of the ISR as it
//! was, and an unclean one happens only when unclean election is enabled.

use crate::kafka::{LeaderChange, PartitionState};

/// An election of `kind` turned `before` into `change`.
pub fn check(
    kind: &str,
    change: &LeaderChange,
    before: &PartitionState,
    unclean_enabled: bool,
) -> Result<(), String> {
    if !change.unclean && !before.isr.contains(&change.new) {
        return Err(format!(
            "{kind} election picked b{} outside ISR {:?}",
            change.new, before.isr
        ));
    }
    if change.unclean && !unclean_enabled {
        return Err("unclean election while disabled".into());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn outside_the_isr_only_unclean_and_only_when_enabled() {
        let mut before = PartitionState::new(vec![1, 2, 3]);
        before.isr = vec![1];
        let change = |new, unclean| LeaderChange {
            old: Some(1),
            new,
            leader_epoch: 2,
            unclean,
        };
        assert!(check("offline", &change(1, false), &before, false).is_ok());
        assert!(check("offline", &change(2, false), &before, false).is_err());
        assert!(check("offline", &change(2, true), &before, false).is_err());
        assert!(check("offline", &change(2, true), &before, true).is_ok());
    }
}
