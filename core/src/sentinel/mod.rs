//! The Sentinel brain: a pure state machine. The shell feeds it commands,
//! replies, link changes and ticks (each with `now`), then drains the
//! [`Action`]s it queued: events to publish, config flushes, commands to send.

mod actions;
pub mod addr;
mod commands;
mod config_lines;
mod directives;
mod event_queue;
pub mod events;
pub mod failover;
pub mod fence;
pub mod hello;
mod info_command;
pub mod info_reply;
pub mod instance;
mod instance_map;
mod leader;
pub mod links;
mod odown;
mod reconfigure;
mod reset;
mod resolve;
mod scripts;
mod sdown;
pub mod settings;
mod slaveof;
mod tilt;
mod timer;
pub mod timing;
mod vote;
mod wakeups;

use std::collections::{BTreeMap, HashMap, VecDeque};

pub use actions::{Action, CommandOutput, Durability, FLUSH_FAILED};
pub use addr::Addr;
pub use events::{Event, Level, Subject};
pub use failover::select_replica;
pub use fence::FencePolicy;
pub use instance::{Master, PeerSentinel, Replica};
pub use scripts::ScriptRun;
pub use settings::Settings;
pub use timing::Timing;

use crate::ids::{Epoch, RunId};
use crate::prng::Prng;
use crate::time::Millis;

/// Bits of `SENTINEL SIMULATE-FAILURE`.
pub const SIMFAILURE_CRASH_AFTER_ELECTION: u32 = 1;
pub const SIMFAILURE_CRASH_AFTER_PROMOTION: u32 = 2;

/// Whether a script path may be used (exists and is executable). The core
/// cannot look at the file system, so the shell supplies the check.
pub type ScriptCheck = fn(&str) -> bool;

/// One sentinel's whole state.
/// Its state is private: the shell and the simulators read it through the
/// accessors below and change it only through inputs.
pub struct Sentinel {
    pub(crate) settings: Settings,
    pub(crate) timing: Timing,
    /// Monitored masters by name (ordered, so every walk is deterministic).
    pub(crate) masters: BTreeMap<String, Master>,
    /// The port this sentinel listens on (announced in hellos when
    /// `announce-port` is 0).
    pub(crate) port: u16,
    pub(crate) tilt: bool,
    pub(crate) tilt_start: Millis,
    pub(crate) previous_tick: Option<Millis>,
    pub(crate) simulate_failure: u32,
    scripts: scripts::ScriptQueue,
    pub(crate) prng: Prng,
    pub(crate) script_check: ScriptCheck,
    pub(crate) resolutions: resolve::Resolutions,
    pub(crate) fence: fence::Fence,
    actions: VecDeque<Action>,
    /// A config snapshot is owed to the shell ([`Action::Persist`], taken
    /// when drained so that it is the latest state).
    persist_pending: bool,
    /// The shell has a write in flight: an owed snapshot waits for it
    /// (see [`Sentinel::defer_persist`]).
    persist_deferred: bool,
    /// How many persists were asked for, so `command` can tell whether
    /// its reply must wait for a write.
    persist_requests: u64,
    /// Commands awaiting a reply on each peer sentinel's shared command
    /// link, by run id. Kept here rather than in every master's copy of
    /// the link: a peer watches every master, and updating 1 000 copies per
    /// hello was most of the idle CPU at 1 000 masters.
    pub(crate) peer_pending: HashMap<RunId, u32>,
    /// Which masters the next pass visits, and their exact deadlines.
    wakeups: wakeups::Wakeups,
}

impl Sentinel {
    /// A sentinel with no masters. `seed` drives every random choice it
    /// makes (run id generation, failover desync).
    pub fn new(seed: u64, port: u16) -> Sentinel {
        Sentinel {
            settings: Settings::default(),
            timing: Timing::default(),
            masters: BTreeMap::new(),
            port,
            tilt: false,
            tilt_start: Millis::ZERO,
            previous_tick: None,
            simulate_failure: 0,
            scripts: scripts::ScriptQueue::default(),
            prng: Prng::new(seed),
            script_check: |_| true,
            resolutions: resolve::Resolutions::default(),
            fence: fence::Fence::default(),
            actions: VecDeque::new(),
            persist_pending: false,
            persist_deferred: false,
            persist_requests: 0,
            peer_pending: HashMap::new(),
            wakeups: wakeups::Wakeups::default(),
        }
    }

    pub fn set_script_check(&mut self, check: ScriptCheck) {
        self.script_check = check;
    }

    /// Our run id, generating (and asking to persist) one if the config had
    /// none. Call once after loading the config.
    pub fn ensure_myid(&mut self) -> &str {
        if self.settings.myid.is_none() {
            let id = self.prng.hex40();
            self.settings.myid = Some(RunId(id));
            self.request_persist();
        }
        self.settings.myid.as_deref().unwrap_or_default()
    }

    pub fn myid(&self) -> &str {
        self.settings.myid.as_deref().unwrap_or("")
    }

    /// The next thing the shell should do, if any. An owed config snapshot
    /// comes last, so it holds everything the other actions reflect.
    pub fn poll_action(&mut self) -> Option<Action> {
        if let Some(a) = self.actions.pop_front() {
            return Some(a);
        }
        if !self.persist_deferred && std::mem::take(&mut self.persist_pending) {
            return Some(Action::Persist(self.config_lines()));
        }
        None
    }

    /// While `deferred`, an owed snapshot is kept (not built) instead of
    /// being returned by `poll_action`: a shell whose previous write is
    /// still in flight says so, and gets one snapshot with everything once
    /// it is done. Building the snapshot is O(masters); without this,
    /// discovering 2 000 peers at 1 000 masters built 2 000 snapshots that
    /// the writer mostly skipped. A simulated crash still flushes it.
    pub fn defer_persist(&mut self, deferred: bool) {
        self.persist_deferred = deferred;
    }

    /// A snapshot is owed: the next one submitted will cover every change
    /// made so far.
    pub fn persist_owed(&self) -> bool {
        self.persist_pending
    }

    /// State that must survive a crash changed: owe the shell a snapshot.
    pub(crate) fn request_persist(&mut self) {
        self.persist_pending = true;
        self.persist_requests += 1;
    }

    /// How much output has been queued so far: a step that leaves this
    /// unchanged queued no action and asked for no write.
    pub(crate) fn queued_actions(&self) -> (usize, u64) {
        (self.actions.len(), self.persist_requests)
    }

    pub(crate) fn push(&mut self, action: Action) {
        // What was owed is written before a simulated crash, as Redis
        // flushes before it exits.
        if matches!(action, Action::Crash(_)) && std::mem::take(&mut self.persist_pending) {
            let lines = self.config_lines();
            self.actions.push_back(Action::Persist(lines));
        }
        self.actions.push_back(action);
    }

    /// `+monitor` for every configured master; Redis emits these at start.
    pub fn announce_monitored(&mut self) {
        let names: Vec<String> = self.masters.keys().cloned().collect();
        for name in names {
            self.master_event(&name, Level::Warning, "+monitor", |m| {
                format!("quorum {}", m.quorum)
            });
        }
    }

    /// Finds the master monitored at `host:port` (its configured address),
    /// by resolved IP when known.
    pub fn master_by_addr(&mut self, host: &str, port: u16) -> Option<&Master> {
        let addr = self.addr_of(host, port);
        self.masters
            .values()
            .find(|m| m.common.addr.same_instance(&addr))
    }

    /// Number of masters (for INFO).
    pub fn master_count(&self) -> usize {
        self.masters.len()
    }

    /// The monitored masters, by name (read-only).
    pub fn masters(&self) -> &BTreeMap<String, Master> {
        &self.masters
    }

    /// The sentinel's current epoch (`sentinel current-epoch`).
    pub fn current_epoch(&self) -> Epoch {
        self.settings.current_epoch.current()
    }

    /// The timing settings (`SENTINEL CONFIG` values and fixed periods).
    pub fn timing(&self) -> &Timing {
        &self.timing
    }

    /// The port announced in hellos when `announce-port` is 0.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Whether the sentinel is in TILT mode.
    pub fn in_tilt(&self) -> bool {
        self.tilt
    }
}
