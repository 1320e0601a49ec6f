//! The instances a sentinel tracks: monitored masters, their replicas and the
//! other sentinels watching them, with the state Redis reports for each.

use std::collections::BTreeSet;

use super::addr::Addr;
use super::failover::FailoverState;
use super::small_map::SmallMap;
use crate::election::{FailureDetector, VoteRecord};
use crate::ids::{Epoch, RunId};
use crate::time::Millis;

/// What every instance has: identity, link bookkeeping, down-state.
#[derive(Clone, Debug, Default)]
pub struct Common {
    pub(crate) addr: Addr,
    /// Run id learnt from INFO (masters, replicas) or hellos (sentinels).
    pub(crate) runid: Option<RunId>,
    pub(crate) link: LinkState,
    /// Subjectively down since (kept after `-sdown`, as Redis does, but only
    /// reported while `s_down` holds).
    pub(crate) s_down: bool,
    pub(crate) s_down_since: Millis,
    pub(crate) o_down: bool,
    pub(crate) o_down_since: Millis,
    pub(crate) down_after: u64,
    /// Last INFO reply received (`None` = never).
    pub(crate) info_refresh: Option<Millis>,
    pub(crate) info_text: Option<String>,
    pub(crate) role_reported: Role,
    pub(crate) role_reported_time: Millis,
}

/// State of the command and pub/sub connections to an instance, as the core
/// knows it (the shell reports connects, disconnects and replies).
#[derive(Clone, Debug, Default)]
pub struct LinkState {
    pub(crate) cc_connected: bool,
    pub(crate) pc_connected: bool,
    /// A connect was asked for and has not been reported yet.
    pub(crate) cc_connecting: bool,
    pub(crate) pc_connecting: bool,
    /// Our address on the command connection: what hellos announce when
    /// `announce-ip` is unset.
    pub(crate) local_ip: String,
    pub(crate) cc_conn_time: Millis,
    pub(crate) pc_conn_time: Millis,
    pub(crate) pc_last_activity: Millis,
    pub(crate) pending_commands: u32,
    /// Time of the oldest unanswered PING (`None` when none is outstanding).
    pub(crate) act_ping_time: Option<Millis>,
    pub(crate) last_ping_time: Millis,
    /// Last reply of any kind to a PING.
    pub(crate) last_pong_time: Millis,
    /// Last *acceptable* PING reply (PONG, LOADING, MASTERDOWN).
    pub(crate) last_avail_time: Millis,
    pub(crate) last_reconn_time: Option<Millis>,
    pub(crate) last_pub_time: Option<Millis>,
    /// Last periodic INFO sent: the next is counted from it or from the
    /// last reply, whichever is later, so a reply slower than a timer pass
    /// is not asked for again on every pass.
    pub(crate) last_info_time: Option<Millis>,
    pub(crate) refcount: u32,
}

impl LinkState {
    /// This link's PING history as the shared failure detector reads it:
    /// silence counts from the oldest unanswered PING or, while the link is
    /// down, from the last acceptable reply. `None` while connected with no
    /// PING outstanding, where Redis counts no silence at all.
    ///
    /// With the command link down, a PING sent just before the close (the
    /// sentinel had not read the EOF yet) no longer restarts the count:
    /// the instance stopped answering at its last reply, and every
    /// sentinel agrees on that moment (PINGs go out on shared wall-clock
    /// slots), while who managed to send one more PING before noticing
    /// the close is chance, and spread their SDOWN over a PING period.
    pub(crate) fn ping_detector(&self, disconnected: bool) -> Option<FailureDetector> {
        let mut d = FailureDetector::new(self.last_avail_time);
        match self.act_ping_time {
            Some(_) if !self.cc_connected => {}
            Some(t) => d.probe_sent(t),
            None if disconnected => {}
            None => return None,
        }
        Some(d)
    }
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Role {
    #[default]
    Master,
    Slave,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Master => "master",
            Role::Slave => "slave",
        }
    }
}

/// A monitored master and everything hanging off it.
#[derive(Clone, Debug)]
pub struct Master {
    pub(crate) name: String,
    pub(crate) common: Common,
    pub(crate) quorum: u32,
    pub(crate) failover_timeout: u64,
    pub(crate) parallel_syncs: u32,
    pub(crate) notification_script: Option<String>,
    pub(crate) client_reconfig_script: Option<String>,
    /// Credentials for this master's links: any bytes, sent as configured.
    pub(crate) auth_pass: Option<Vec<u8>>,
    pub(crate) auth_user: Option<Vec<u8>>,
    pub(crate) master_reboot_down_after_period: u64,
    pub(crate) master_reboot: bool,
    pub(crate) master_reboot_since: Millis,
    /// `rename-command` mappings, original name (lower-case) → new name, in
    /// the order they were configured (that is the order they are rewritten).
    pub(crate) renamed_commands: Vec<(String, String)>,
    pub(crate) config_epoch: Epoch,
    /// This sentinel's vote for this master's failover leader, if it ever
    /// cast one (never in epoch 0, so a persisted `leader-epoch 0` means
    /// "no vote").
    pub(crate) vote: VoteRecord<Option<RunId>>,
    /// Replicas keyed by `ip:port` (`[ip]:port` for IPv6). Boxed, as are
    /// the sentinels, and in a [`SmallMap`]: a B-tree's first node has
    /// room for 11 entries, which inline was ~4 KiB per master for one or
    /// two of them, and boxed still ~370 bytes.
    pub(crate) replicas: SmallMap<String, Box<Replica>>,
    /// Other sentinels keyed by run id.
    pub(crate) sentinels: SmallMap<RunId, Box<PeerSentinel>>,
    pub(crate) failover: FailoverState,
    pub(crate) force_failover: bool,
    /// `SENTINEL FAILOVER <name> COORDINATED` is running (valkey's
    /// `coordinated_failover` flag).
    pub(crate) coordinated: bool,
    /// When the last failover attempt (ours or one we voted for) started;
    /// `None` = never, so the first failover is not held back.
    pub(crate) failover_start_time: Option<Millis>,
    pub(crate) failover_epoch: Epoch,
    /// When votes were last asked for in `failover_epoch`, and the peers
    /// that answered that request (see `follow_current_epoch`).
    pub(crate) election_asked_at: Millis,
    pub(crate) election_answers: BTreeSet<RunId>,
    /// When we last voted for another sentinel's failover of this master.
    pub(crate) voted_other_at: Option<Millis>,
    pub(crate) failover_state_change_time: Millis,
    /// Key of the replica being promoted, while a failover is in progress.
    pub(crate) promoted: Option<String>,
    pub(crate) script_kill_sent: bool,
    /// The next timer pass that must visit this master (see
    /// `wakeups.rs`); `ZERO` = the next one.
    pub(crate) next_visit: Millis,
}

/// A replica of a monitored master, discovered from the master's INFO.
#[derive(Clone, Debug, Default)]
pub struct Replica {
    pub(crate) common: Common,
    pub(crate) master_link_down_time: i64,
    pub(crate) master_link_up: bool,
    pub(crate) master_host: Option<String>,
    pub(crate) master_port: u16,
    pub(crate) slave_priority: i64,
    pub(crate) slave_repl_offset: u64,
    pub(crate) replica_announced: bool,
    pub(crate) slave_conf_change_time: Millis,
    pub(crate) reconf: ReconfState,
    pub(crate) reconf_sent_time: Millis,
    pub(crate) script_kill_sent: bool,
    /// Its INFO has said `role:slave` since this entry was made. A later
    /// `role:master` is then a promotion — ours, or one by a failover whose
    /// config has not reached us yet — not an old master coming back.
    pub(crate) reported_slave: bool,
}

/// Where a replica stands in the reconfiguration phase of a failover.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum ReconfState {
    #[default]
    None,
    Sent,
    InProgress,
    Done,
}

/// Another sentinel watching the same master, discovered from hellos.
#[derive(Clone, Debug, Default)]
pub struct PeerSentinel {
    pub(crate) common: Common,
    pub(crate) last_hello_time: Millis,
    /// (current epoch, this master's config epoch) its last hello carried;
    /// `None` until one arrives.
    pub(crate) hello_epochs: Option<(Epoch, Epoch)>,
    /// Its last answer to `is-master-down-by-addr` said "down".
    pub(crate) master_down: bool,
    pub(crate) last_master_down_reply_time: Millis,
    /// Its last reported vote.
    pub(crate) leader: Option<RunId>,
    pub(crate) leader_epoch: Epoch,
    /// This is the first master (by name) that watches this peer: the one
    /// whose timer visits time the PINGs of the peer's shared link (see
    /// `wakeups.rs`). Every master's copy of the link has the same PING
    /// times, so without this all of them came due at the same moment.
    pub(crate) ping_owner: bool,
}

impl Master {
    pub fn new(name: String, addr: Addr, quorum: u32, now: Millis) -> Master {
        Master {
            name,
            common: Common::new(addr, super::timing::DEFAULT_DOWN_AFTER, Role::Master, now),
            quorum,
            failover_timeout: super::timing::DEFAULT_FAILOVER_TIMEOUT,
            parallel_syncs: 1,
            notification_script: None,
            client_reconfig_script: None,
            auth_pass: None,
            auth_user: None,
            master_reboot_down_after_period: 0,
            master_reboot: false,
            master_reboot_since: Millis::ZERO,
            renamed_commands: Vec::new(),
            config_epoch: Epoch(0),
            vote: VoteRecord::default(),
            replicas: SmallMap::new(),
            sentinels: SmallMap::new(),
            failover: FailoverState::None,
            force_failover: false,
            coordinated: false,
            failover_start_time: None,
            failover_epoch: Epoch(0),
            election_asked_at: Millis::ZERO,
            election_answers: BTreeSet::new(),
            voted_other_at: None,
            failover_state_change_time: Millis::ZERO,
            promoted: None,
            script_kill_sent: false,
            next_visit: Millis::ZERO,
        }
    }

    /// The address clients should use: the promoted replica's once the
    /// failover has reached `reconf_slaves`, else the configured one.
    pub fn current_addr(&self) -> &Addr {
        if self.failover.is_at_least_reconf() {
            if let Some(replica) = self.promoted.as_ref().and_then(|k| self.replicas.get(k)) {
                return &replica.common.addr;
            }
        }
        &self.common.addr
    }

    /// The name a command must be sent under, after `rename-command`.
    pub fn renamed<'a>(&'a self, command: &'a str) -> &'a str {
        self.renamed_commands
            .iter()
            .find(|(from, _)| from.eq_ignore_ascii_case(command))
            .map(|(_, to)| to.as_str())
            .unwrap_or(command)
    }

    pub fn failover_in_progress(&self) -> bool {
        self.failover != FailoverState::None
    }

    // Read-only views for the shell and the simulators (fields are private).

    pub fn name(&self) -> &str {
        &self.name
    }

    /// Every instance watched on behalf of this master: itself, its
    /// replicas, the peer sentinels.
    pub(crate) fn targets(&self) -> Vec<super::links::Target> {
        use super::links::Target;
        let mut targets = vec![Target::Master(self.name.clone())];
        targets.extend(self.replicas.keys().map(|key| Target::Replica {
            master: self.name.clone(),
            key: key.clone(),
        }));
        targets.extend(self.sentinels.keys().map(|id| Target::Sentinel(id.clone())));
        targets
    }

    pub fn config_epoch(&self) -> Epoch {
        self.config_epoch
    }

    pub fn failover_epoch(&self) -> Epoch {
        self.failover_epoch
    }

    pub fn failover_state(&self) -> FailoverState {
        self.failover
    }

    pub fn is_sdown(&self) -> bool {
        self.common.s_down
    }

    pub fn is_odown(&self) -> bool {
        self.common.o_down
    }

    /// Replicas keyed by `ip:port`.
    pub fn replicas(&self) -> &SmallMap<String, Box<Replica>> {
        &self.replicas
    }

    /// Other sentinels keyed by run id.
    pub fn sentinels(&self) -> &SmallMap<RunId, Box<PeerSentinel>> {
        &self.sentinels
    }
}

impl Common {
    pub fn new(addr: Addr, down_after: u64, role: Role, now: Millis) -> Common {
        Common {
            addr,
            down_after,
            role_reported: role,
            role_reported_time: now,
            link: LinkState {
                // A fresh link counts as "pinged now", so an instance that can
                // never be reached goes down after down-after-milliseconds.
                act_ping_time: Some(now),
                last_avail_time: now,
                last_pong_time: now,
                refcount: 1,
                ..LinkState::default()
            },
            ..Common::default()
        }
    }

    /// The last periodic INFO: its reply or its send, whichever is later.
    pub(crate) fn last_info(&self) -> Option<Millis> {
        self.info_refresh.max(self.link.last_info_time)
    }

    /// Either needed connection is missing.
    pub fn disconnected(&self, needs_pubsub: bool) -> bool {
        !self.link.cc_connected || (needs_pubsub && !self.link.pc_connected)
    }
}

impl Replica {
    /// `slave_priority` as its INFO last reported it.
    pub fn slave_priority(&self) -> i64 {
        self.slave_priority
    }

    pub fn new(addr: Addr, down_after: u64, now: Millis) -> Replica {
        Replica {
            common: Common::new(addr, down_after, Role::Slave, now),
            slave_priority: 100,
            replica_announced: true,
            slave_conf_change_time: now,
            ..Replica::default()
        }
    }
}

impl PeerSentinel {
    pub fn new(addr: Addr, runid: RunId, down_after: u64, now: Millis) -> PeerSentinel {
        let mut common = Common::new(addr, down_after, Role::Master, now);
        common.runid = Some(runid);
        PeerSentinel {
            common,
            last_hello_time: now,
            ..PeerSentinel::default()
        }
    }
}
