//! Safety invariants, one per file, fed with what the sentinels do and
//! checked after every simulation step. Each returns `Err(description)` the
//! moment its property is broken.

pub mod config_epoch_monotonic;
pub mod convergence;
pub mod current_epoch_monotonic;
pub mod one_leader_per_epoch;
pub mod one_promotion_per_epoch;
pub mod one_vote_per_epoch;

pub use config_epoch_monotonic::ConfigEpochMonotonic;
pub use current_epoch_monotonic::CurrentEpochMonotonic;
pub use one_leader_per_epoch::OneLeaderPerEpoch;
pub use one_promotion_per_epoch::OnePromotionPerEpoch;
pub use one_vote_per_epoch::OneVotePerEpoch;

/// All safety checks of one run.
#[derive(Default)]
pub struct Checks {
    pub leaders: OneLeaderPerEpoch,
    pub config_epochs: ConfigEpochMonotonic,
    pub current_epochs: CurrentEpochMonotonic,
    pub promotions: OnePromotionPerEpoch,
    pub votes: OneVotePerEpoch,
}
