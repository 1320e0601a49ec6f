//! ZAB: a server that synchronises as follower in an epoch follows the one
//! server that leads that epoch (which must already have established it).

use super::one_per_epoch::OnePerEpoch;
use crate::zab::ServerId;

/// `id` became FOLLOWING `leader` in `epoch`.
pub fn check(
    leaders: &OnePerEpoch<ServerId>,
    id: ServerId,
    leader: ServerId,
    epoch: u64,
) -> Result<(), String> {
    match leaders.holder(epoch) {
        Some(l) if l == leader => Ok(()),
        other => Err(format!(
            "n{id} follows n{leader} in epoch {epoch}, whose leader is {other:?}"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn following_anyone_but_the_epoch_leader_is_a_violation() {
        let mut leaders = OnePerEpoch::default();
        leaders.claim(4, 3).unwrap();
        assert!(check(&leaders, 1, 3, 4).is_ok());
        assert!(check(&leaders, 1, 2, 4).is_err());
        assert!(check(&leaders, 1, 3, 5).is_err(), "no leader yet");
    }
}
