//! Kafka (ZooKeeper-mode) style coordination on the shared election core: a
//! coordination-store model with sessions, ephemeral nodes and one-shot
//! watches; controller election with a fencing controller epoch; and the
//! partition-leader selectors with ISR bookkeeping.

mod agent;
mod leader_selection;
mod partition;
mod store;

pub use agent::{AgentStep, ControllerAgent, ControllerChange, ControllerView, StaleController};
pub use leader_selection::{
    controlled_shutdown_leader, offline_leader, preferred_leader, reassignment_leader, Choice,
    ElectionKind,
};
pub use partition::{BrokerId, ElectionError, LeaderChange, PartitionState};
pub use store::{CoordStore, SessionId, StoreError, WatchEvent, WatchKind, ZNode};

/// Where the controller's claim lives (ephemeral).
pub const CONTROLLER_PATH: &str = "/controller";
/// The controller epoch counter: the fencing token of controllers.
pub const CONTROLLER_EPOCH_PATH: &str = "/controller_epoch";
/// Live brokers register an ephemeral node under this prefix.
pub const BROKER_IDS_PREFIX: &str = "/brokers/ids/";
