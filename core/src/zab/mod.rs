//! ZooKeeper's fast leader election and ZAB discovery, on the shared
//! election core: a pure server state machine ([`ZabNode`]) that a simulator
//! or a TCP shell drives.
//!
//! Flow: every server starts LOOKING and votes for itself; votes are ordered
//! by (peer epoch, zxid, server id) and the better one is adopted and
//! re-broadcast; once a quorum backs our vote and no better vote arrives in
//! the finalize wait, we decide LEADING or FOLLOWING. The leader then runs
//! discovery: a quorum reports its accepted epochs, the leader proposes
//! max + 1, and once a quorum promised it the epoch is established.

mod config;
mod discovery;
mod event;
mod looking;
mod message;
mod node;
mod vote;
pub mod watch;
pub mod wire;
mod zxid;

pub use config::{Persistent, ZabConfig};
pub use event::{DecideHow, LookReason, ZabEvent};
pub use message::{DecodeError, ZabMessage};
pub use node::ZabNode;
pub use vote::{Notification, ServerId, ServerState, Vote};
pub use zxid::Zxid;
