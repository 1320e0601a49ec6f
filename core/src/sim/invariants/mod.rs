//! Safety invariants of the ZAB and Kafka simulators, one per file, as the
//! Sentinel simulator has them (`core/tests/sentinel_sim/invariants/`). The
//! runners feed them what happened and fail the seed on the first `Err`.

pub mod clean_elections_pick_isr;
pub mod follower_follows_epoch_leader;
pub mod leader_holds_newest_zxid;
pub mod leader_in_isr;
pub mod one_per_epoch;
pub mod timers_within_poll_timeout;
