//! Safety invariants, one per file, fed with what the sentinels do and
//! checked after every simulation step. Each returns `Err(description)` the
//! moment its property is broken.

pub mod convergence;
pub mod epochs_monotonic;
pub mod one_leader_per_epoch;
pub mod one_promotion_per_epoch;
pub mod one_vote_per_epoch;

pub use epochs_monotonic::EpochMonotonic;
pub use one_leader_per_epoch::OneLeaderPerEpoch;
pub use one_promotion_per_epoch::OnePromotionPerEpoch;
pub use one_vote_per_epoch::OneVotePerEpoch;

/// All safety checks of one run.
pub struct Checks {
    pub leaders: OneLeaderPerEpoch,
    pub config_epochs: EpochMonotonic,
    pub current_epochs: EpochMonotonic,
    pub promotions: OnePromotionPerEpoch,
    pub votes: OneVotePerEpoch,
}

impl Default for Checks {
    fn default() -> Checks {
        Checks {
            leaders: OneLeaderPerEpoch::default(),
            config_epochs: EpochMonotonic::new("config epoch"),
            current_epochs: EpochMonotonic::new("current epoch"),
            promotions: OnePromotionPerEpoch::default(),
            votes: OneVotePerEpoch::default(),
        }
    }
}
