//! The Sentinel brain: a pure state machine. The shell feeds it commands,
//! replies, link changes and ticks (each with `now`), then drains the
//! [`Action`]s it queued: events to publish, config flushes, commands to send.

mod acting;
mod actions;
pub mod addr;
mod commands;
mod config_lines;
mod coordinated;
mod directives;
mod emit;
pub mod events;
pub mod failover;
mod failover_steps;
pub mod fence;
pub mod hello;
pub mod info;
mod info_section;
pub mod instance;
mod instance_map;
mod leader;
pub mod links;
mod odown;
mod replica_selection;
mod reset;
mod resolve;
mod schedule;
pub mod settings;
mod slaveof;
mod tilt;
pub mod timing;
mod vote;

use std::collections::{BTreeMap, VecDeque};

pub use actions::{Action, CommandOutput, FLUSH_FAILED};
pub use addr::Addr;
pub use events::{Event, Level, Subject};
pub use fence::FencePolicy;
pub use instance::{Master, PeerSentinel, Replica};
pub use replica_selection::select_replica;
pub use settings::Settings;
pub use timing::Timing;

use crate::prng::Prng;
use crate::time::Millis;

/// Bits of `SENTINEL SIMULATE-FAILURE`.
pub const SIMFAILURE_CRASH_AFTER_ELECTION: u32 = 1;
pub const SIMFAILURE_CRASH_AFTER_PROMOTION: u32 = 2;

/// Whether a script path may be used (exists and is executable). The core
/// cannot look at the file system, so the shell supplies the check.
pub type ScriptCheck = fn(&str) -> bool;

/// One sentinel's whole state.
pub struct Sentinel {
    pub settings: Settings,
    pub timing: Timing,
    /// Monitored masters by name (ordered, so every walk is deterministic).
    pub masters: BTreeMap<String, Master>,
    /// The port this sentinel listens on (announced in hellos when
    /// `announce-port` is 0).
    pub port: u16,
    pub tilt: bool,
    pub tilt_start: Millis,
    pub previous_tick: Option<Millis>,
    pub simulate_failure: u32,
    script_counts: (usize, usize),
    pub(crate) prng: Prng,
    pub(crate) script_check: ScriptCheck,
    pub(crate) resolutions: resolve::Resolutions,
    pub(crate) fence: fence::Fence,
    actions: VecDeque<Action>,
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
            script_counts: (0, 0),
            prng: Prng::new(seed),
            script_check: |_| true,
            resolutions: resolve::Resolutions::default(),
            fence: fence::Fence::default(),
            actions: VecDeque::new(),
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
            self.settings.myid = Some(id);
            self.push(Action::FlushConfig);
        }
        self.settings.myid.as_deref().unwrap_or_default()
    }

    pub fn myid(&self) -> &str {
        self.settings.myid.as_deref().unwrap_or("")
    }

    /// The next thing the shell should do, if any.
    pub fn poll_action(&mut self) -> Option<Action> {
        self.actions.pop_front()
    }

    pub(crate) fn push(&mut self, action: Action) {
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
}
