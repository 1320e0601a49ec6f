//! The instances a sentinel tracks: monitored masters, their replicas and the
//! other sentinels watching them, with the state Redis reports for each.

use std::collections::BTreeMap;

use super::addr::Addr;
use super::failover::FailoverState;
use crate::time::Millis;

/// What every instance has: identity, link bookkeeping, down-state.
#[derive(Clone, Debug, Default)]
pub struct Common {
    pub addr: Addr,
    /// Run id learnt from INFO (masters, replicas) or hellos (sentinels).
    pub runid: Option<String>,
    pub link: LinkState,
    /// Subjectively down since (kept after `-sdown`, as Redis does, but only
    /// reported while `s_down` holds).
    pub s_down: bool,
    pub s_down_since: Millis,
    pub o_down: bool,
    pub o_down_since: Millis,
    pub down_after: u64,
    /// Last INFO reply received (`None` = never).
    pub info_refresh: Option<Millis>,
    pub info_text: Option<String>,
    pub role_reported: Role,
    pub role_reported_time: Millis,
}

/// State of the command and pub/sub connections to an instance, as the core
/// knows it (the shell reports connects, disconnects and replies).
#[derive(Clone, Debug, Default)]
pub struct LinkState {
    pub cc_connected: bool,
    pub pc_connected: bool,
    /// A connect was asked for and has not been reported yet.
    pub cc_connecting: bool,
    pub pc_connecting: bool,
    /// Our address on the command connection: what hellos announce when
    /// `announce-ip` is unset.
    pub local_ip: String,
    pub cc_conn_time: Millis,
    pub pc_conn_time: Millis,
    pub pc_last_activity: Millis,
    pub pending_commands: u32,
    /// Time of the oldest unanswered PING (`None` when none is outstanding).
    pub act_ping_time: Option<Millis>,
    pub last_ping_time: Millis,
    /// Last reply of any kind to a PING.
    pub last_pong_time: Millis,
    /// Last *acceptable* PING reply (PONG, LOADING, MASTERDOWN).
    pub last_avail_time: Millis,
    pub last_reconn_time: Option<Millis>,
    pub last_pub_time: Option<Millis>,
    pub refcount: u32,
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
    pub name: String,
    pub common: Common,
    pub quorum: u32,
    pub failover_timeout: u64,
    pub parallel_syncs: u32,
    pub notification_script: Option<String>,
    pub client_reconfig_script: Option<String>,
    /// Credentials for this master's links: any bytes, sent as configured.
    pub auth_pass: Option<Vec<u8>>,
    pub auth_user: Option<Vec<u8>>,
    pub master_reboot_down_after_period: u64,
    pub master_reboot: bool,
    pub master_reboot_since: Millis,
    /// `rename-command` mappings, original name (lower-case) → new name, in
    /// the order they were configured (that is the order they are rewritten).
    pub renamed_commands: Vec<(String, String)>,
    pub config_epoch: u64,
    /// This sentinel's vote for this master's failover leader, if it ever
    /// cast one (never in epoch 0, so a persisted `leader-epoch 0` means
    /// "no vote").
    pub vote: Option<CastVote>,
    /// Replicas keyed by `ip:port` (`[ip]:port` for IPv6).
    pub replicas: BTreeMap<String, Replica>,
    /// Other sentinels keyed by run id.
    pub sentinels: BTreeMap<String, PeerSentinel>,
    pub failover: FailoverState,
    pub force_failover: bool,
    /// `SENTINEL FAILOVER <name> COORDINATED` is running (valkey's
    /// `coordinated_failover` flag).
    pub coordinated: bool,
    /// When the last failover attempt (ours or one we voted for) started;
    /// `None` = never, so the first failover is not held back.
    pub failover_start_time: Option<Millis>,
    pub failover_epoch: u64,
    pub failover_state_change_time: Millis,
    /// Key of the replica being promoted, while a failover is in progress.
    pub promoted: Option<String>,
    pub script_kill_sent: bool,
}

/// A replica of a monitored master, discovered from the master's INFO.
#[derive(Clone, Debug, Default)]
pub struct Replica {
    pub common: Common,
    pub master_link_down_time: i64,
    pub master_link_up: bool,
    pub master_host: Option<String>,
    pub master_port: u16,
    pub slave_priority: i64,
    pub slave_repl_offset: u64,
    pub replica_announced: bool,
    pub slave_conf_change_time: Millis,
    pub reconf: ReconfState,
    pub reconf_sent_time: Millis,
    pub script_kill_sent: bool,
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

/// A vote this sentinel cast for a failover leader.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CastVote {
    /// The epoch the vote was cast in (always ≥ 1).
    pub epoch: u64,
    /// The run id voted for; `None` once forgotten (after a restart the file
    /// keeps only the epoch, and a reset forgets it), which still counts as
    /// having voted in `epoch`.
    pub candidate: Option<String>,
}

/// Another sentinel watching the same master, discovered from hellos.
#[derive(Clone, Debug, Default)]
pub struct PeerSentinel {
    pub common: Common,
    pub last_hello_time: Millis,
    /// (current epoch, this master's config epoch) its last hello carried;
    /// `None` until one arrives.
    pub hello_epochs: Option<(u64, u64)>,
    /// Its last answer to `is-master-down-by-addr` said "down".
    pub master_down: bool,
    pub last_master_down_reply_time: Millis,
    /// Its last reported vote.
    pub leader: Option<String>,
    pub leader_epoch: u64,
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
            config_epoch: 0,
            vote: None,
            replicas: BTreeMap::new(),
            sentinels: BTreeMap::new(),
            failover: FailoverState::None,
            force_failover: false,
            coordinated: false,
            failover_start_time: None,
            failover_epoch: 0,
            failover_state_change_time: Millis::ZERO,
            promoted: None,
            script_kill_sent: false,
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

    /// Either needed connection is missing.
    pub fn disconnected(&self, needs_pubsub: bool) -> bool {
        !self.link.cc_connected || (needs_pubsub && !self.link.pc_connected)
    }
}

impl Replica {
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
    pub fn new(addr: Addr, runid: String, down_after: u64, now: Millis) -> PeerSentinel {
        let mut common = Common::new(addr, down_after, Role::Master, now);
        common.runid = Some(runid);
        PeerSentinel {
            common,
            last_hello_time: now,
            ..PeerSentinel::default()
        }
    }
}
