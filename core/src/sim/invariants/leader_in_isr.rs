//! Kafka: a partition leader written by the controller is always a member of
//! the partition's ISR.

use crate::kafka::PartitionState;

/// The controller wrote `st` for partition `p`.
pub fn check(p: u64, st: &PartitionState) -> Result<(), String> {
    match st.leader {
        Some(l) if !st.isr.contains(&l) => Err(format!("p{p}: leader {l} not in ISR {:?}", st.isr)),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_leader_outside_the_isr_is_a_violation() {
        let mut st = PartitionState::new(vec![1, 2, 3]);
        assert!(check(0, &st).is_ok(), "no leader");
        st.leader = Some(2);
        assert!(check(0, &st).is_ok());
        st.isr = vec![1, 3];
        assert!(check(0, &st).is_err());
    }
}
