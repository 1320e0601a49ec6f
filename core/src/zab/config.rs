//! Settings of one ZAB server and the state it keeps across restarts.

use std::sync::Arc;

use crate::election::{MajorityVerifier, QuorumVerifier};
use crate::time::Millis;

use super::vote::ServerId;
use super::zxid::Zxid;

/// Timing and membership of one server.
#[derive(Clone, Debug)]
pub struct ZabConfig {
    pub id: ServerId,
    /// Decides which sets of servers form a quorum (majority by default).
    pub verifier: Arc<dyn QuorumVerifier>,
    /// How long to keep listening for a better vote once a quorum backs ours
    /// (ZooKeeper's `finalizeWait`, 200 ms).
    pub finalize_wait: Millis,
    /// Cap of the doubling re-broadcast interval while nobody answers
    /// (ZooKeeper's `maxNotificationInterval`, 60 s).
    pub max_notification_interval: Millis,
    /// How often a leader pings its followers.
    pub heartbeat_interval: Millis,
    /// Silence after which a follower gives up on its leader, a leader on its
    /// quorum, and either side on an unfinished discovery.
    pub sync_timeout: Millis,
}

impl ZabConfig {
    /// ZooKeeper's election timing with a plain majority of `1..=servers`.
    pub fn majority(id: ServerId, servers: u64) -> ZabConfig {
        ZabConfig {
            id,
            verifier: Arc::new(MajorityVerifier::new(1..=servers)),
            finalize_wait: Millis(200),
            max_notification_interval: Millis(60_000),
            heartbeat_interval: Millis(500),
            sync_timeout: Millis(2_000),
        }
    }
}

/// What a server keeps on disk: the epochs it accepted and joined, and the
/// id of its last logged transaction.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Persistent {
    /// The last epoch this server promised to (NEWEPOCH acked).
    pub accepted_epoch: u64,
    /// The epoch of the last leader it synchronised with.
    pub current_epoch: u64,
    pub last_zxid: Zxid,
}

impl Persistent {
    /// A history ending at `last_zxid`, as if it were written in its epoch.
    pub fn with_history(last_zxid: Zxid) -> Persistent {
        let e = u64::from(last_zxid.epoch());
        Persistent {
            accepted_epoch: e,
            current_epoch: e,
            last_zxid,
        }
    }
}
