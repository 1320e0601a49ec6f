//! The Sentinel brain: a pure state machine. The shell feeds it commands,
//! replies, link changes and ticks (each with `now`), then drains the
//! [`Action`]s it queued: events to publish, config flushes, commands to send.

mod actions;
pub mod addr;
mod commands;
pub mod config_lines;
mod directives;
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
mod masters;
pub use masters::Masters;
mod odown;
mod output;
mod reconfigure;
mod reset;
mod resolve;
mod scripts;
mod sdown;
pub mod settings;
mod slaveof;
pub mod small_map;
mod tilt;
mod timer;
pub mod timing;
mod vote;
mod wakeups;

use foldhash::HashMap;

pub use actions::{Action, CommandOutput, Durability, FLUSH_FAILED};
pub use addr::Addr;
pub use config_lines::{ConfigLine, ConfigLines};
pub use events::{Event, Level, Subject};
pub use failover::select_replica;
pub use fence::FencePolicy;
pub use instance::{Master, PeerSentinel, Replica};
pub use odown::down_question;
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
    pub(crate) masters: masters::Masters,
    /// The port this sentinel listens on (announced in hellos when
    /// `announce-port` is 0).
    pub(crate) port: u16,
    pub(crate) tilt: bool,
    pub(crate) tilt_start: Millis,
    pub(crate) previous_tick: Option<Millis>,
    pub(crate) simulate_failure: u32,
    pub(crate) prng: Prng,
    pub(crate) script_check: ScriptCheck,
    pub(crate) resolutions: resolve::Resolutions,
    pub(crate) fence: fence::Fence,
    /// What was decided and not yet drained, apart from the state above so
    /// a handler can hold a master while it emits (see `output.rs`).
    pub(crate) out: output::Output,
    /// Commands awaiting a reply on each peer sentinel's shared command
    /// link, by run id. Kept here rather than in every master's copy of
    /// the link: a peer watches every master, and updating 1 000 copies per
    /// hello was most of the idle CPU at 1 000 masters.
    pub(crate) peer_pending: HashMap<RunId, u32>,
    /// Which masters the next pass visits, and their exact deadlines.
    wakeups: wakeups::Wakeups,
    /// The wall clock (ms since the Unix epoch) at `now` = 0, which cuts
    /// the PING slots (see `Sentinel::ping_due_at`); 0 in simulations.
    pub(crate) clock_origin: u64,
}

impl Sentinel {
    /// A sentinel with no masters. `seed` drives every random choice it
    /// makes (run id generation, failover desync).
    pub fn new(seed: u64, port: u16) -> Sentinel {
        Sentinel {
            settings: Settings::default(),
            timing: Timing::default(),
            masters: masters::Masters::default(),
            port,
            tilt: false,
            tilt_start: Millis::ZERO,
            previous_tick: None,
            simulate_failure: 0,
            prng: Prng::new(seed),
            script_check: |_| true,
            resolutions: resolve::Resolutions::default(),
            fence: fence::Fence::default(),
            out: output::Output::default(),
            peer_pending: HashMap::default(),
            wakeups: wakeups::Wakeups::default(),
            clock_origin: 0,
        }
    }

    /// Tells the core what the wall clock read (ms since the Unix epoch)
    /// when its `now` was 0. Only the moments PINGs go out depend on it:
    /// sentinels on synchronised clocks then ping each instance together.
    pub fn set_clock_origin(&mut self, wall_ms: u64) {
        self.clock_origin = wall_ms;
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
            self.out.persist();
        }
        self.settings.myid.as_deref().unwrap_or_default()
    }

    pub fn myid(&self) -> &str {
        self.settings.myid.as_deref().unwrap_or("")
    }

    /// The next thing the shell should do, if any. An owed config snapshot
    /// comes last, so it holds everything the other actions reflect.
    pub fn poll_action(&mut self) -> Option<Action> {
        if let Some(a) = self.out.pop() {
            return Some(a);
        }
        if !self.out.persist_deferred && self.out.take_persist() {
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
        self.out.persist_deferred = deferred;
    }

    /// A snapshot is owed: the next one submitted will cover every change
    /// made so far.
    pub fn persist_owed(&self) -> bool {
        self.out.persist_owed()
    }

    /// Exits the process (`SENTINEL SIMULATE-FAILURE`). What was owed is
    /// written first, as Redis flushes before it exits.
    pub(crate) fn crash(&mut self) {
        if self.out.take_persist() {
            let lines = self.config_lines();
            self.out.push(Action::Persist(lines));
        }
        self.out.push(Action::Crash(99));
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
    pub fn masters(&self) -> &Masters {
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
