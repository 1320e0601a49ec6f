//! The failover, from start to switch, on the leader's side: the states and
//! `SENTINEL FAILOVER` here; `steps.rs` the step each state takes (election,
//! promotion, reconfiguration, switch); `progress.rs` what moves it on (timer
//! passes, peers' answers, INFO); `select_replica.rs` the choice of the
//! replica; `coordinated.rs` the `COORDINATED` variant.

/// Redis's `failover_state`, in order.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord)]
pub enum FailoverState {
    #[default]
    None,
    WaitStart,
    SelectSlave,
    SendSlaveofNoone,
    WaitPromotion,
    ReconfSlaves,
    UpdateConfig,
}

impl FailoverState {
    pub fn as_str(self) -> &'static str {
        match self {
            FailoverState::None => "none",
            FailoverState::WaitStart => "wait_start",
            FailoverState::SelectSlave => "select_slave",
            FailoverState::SendSlaveofNoone => "send_slaveof_noone",
            FailoverState::WaitPromotion => "wait_promotion",
            FailoverState::ReconfSlaves => "reconf_slaves",
            FailoverState::UpdateConfig => "update_config",
        }
    }

    /// From `reconf_slaves` on, the promoted replica is advertised as master.
    pub fn is_at_least_reconf(self) -> bool {
        self >= FailoverState::ReconfSlaves
    }
}

mod coordinated;
mod progress;
mod select_replica;
mod steps;

pub use select_replica::select_replica;
pub(crate) use steps::PROMOTION_POLL;

use super::actions::CommandOutput;
use super::commands::FailoverOption;
use super::{Action, Level, Master, Sentinel};
use crate::reply::Reply;
use crate::time::Millis;
use select_replica::replica_may_qualify_soon;

/// The last epoch a failover can use: `is-master-down-by-addr` carries the
/// epoch as a signed 64-bit integer (Redis parses it with `getLongLong`),
/// so a vote request for a larger epoch would be refused by every peer.
pub const MAX_ELECTION_EPOCH: u64 = i64::MAX as u64;

/// Why no failover can start once the current epoch reached `u64::MAX`.
pub const EPOCH_EXHAUSTED: &str =
    "the current epoch is at its maximum, no new failover epoch can start";

impl Sentinel {
    /// `SENTINEL FAILOVER <name> [COORDINATED]`: a forced failover, no
    /// agreement needed; with COORDINATED an elected one handed over by the
    /// running master (see `coordinated.rs`).
    pub(crate) fn failover_cmd(
        &mut self,
        now: Millis,
        name: &str,
        option: FailoverOption,
    ) -> CommandOutput {
        if !self.masters.contains_key(name) {
            return CommandOutput::reply(Reply::err("No such master with that name"));
        }
        let coordinated = match self.failover_option(name, option) {
            Ok(c) => c,
            Err(r) => return CommandOutput::reply(r),
        };
        let Some(m) = self.masters.get(name) else {
            return CommandOutput::reply(Reply::err("No such master with that name"));
        };
        if m.failover_in_progress() {
            return CommandOutput::reply(Reply::Error(
                "INPROG Failover already in progress".into(),
            ));
        }
        // Discovery is fast: a script that waits for `num-slaves` and then
        // fails over may see replicas whose first INFO has not arrived.
        // Those may qualify in a moment; select_slave waits for them.
        if select_replica(m, &self.timing, now).is_none() && !replica_may_qualify_soon(m) {
            return CommandOutput::reply(Reply::Error(
                "NOGOODSLAVE No suitable replica to promote".into(),
            ));
        }
        if !self.start_failover(now, name) {
            return CommandOutput::reply(Reply::err(EPOCH_EXHAUSTED));
        }
        if coordinated {
            self.begin_coordinated(now, name);
        } else if let Some(m) = self.masters.known_mut(name) {
            m.force_failover = true;
            // A forced failover needs no votes: go as far as it can now
            // instead of at the next pass, which may be up to a timer
            // period away (Redis waits for its next tick).
            self.failover_step(now, name);
        }
        CommandOutput::reply(Reply::ok())
    }

    /// Enters `wait_start` for a new epoch: `+new-epoch`, `+try-failover`.
    /// False (nothing changed) when the current epoch is at its maximum:
    /// a wrapped epoch would go backwards on disk and reopen old votes.
    pub(crate) fn start_failover(&mut self, now: Millis, name: &str) -> bool {
        let next = self
            .settings
            .current_epoch
            .current()
            .next()
            .filter(|e| e.0 <= MAX_ELECTION_EPOCH);
        let hostnames = self.settings.announce_hostnames;
        let Some(m) = self.masters.known_mut(name) else {
            return false;
        };
        let Some(epoch) = next else {
            // Counts as an attempt: the next one waits 2 × failover-timeout.
            m.failover_start_time = Some(now);
            self.out.push(Action::Log {
                level: Level::Warning,
                text: format!("Not starting a failover of {name}: {EPOCH_EXHAUSTED}"),
            });
            return false;
        };
        self.settings.current_epoch.observe(epoch);
        let jitter = self.prng.below(1000);
        m.failover = FailoverState::WaitStart;
        m.failover_epoch = epoch;
        m.election_asked_at = now;
        m.election_answers.clear();
        m.failover_start_time = Some(now + Millis(jitter));
        m.failover_state_change_time = now;
        let warn = Level::Warning;
        self.out
            .master_event_plain(m, warn, "+new-epoch", epoch.to_string());
        self.out
            .master_event(m, hostnames, warn, "+try-failover", "");
        true
    }
}

impl Master {
    /// The failover moves to `state` now.
    pub(crate) fn set_failover_state(&mut self, now: Millis, state: FailoverState) {
        self.failover = state;
        self.failover_state_change_time = now;
    }

    /// The failover is over (aborted, or superseded by a newer
    /// configuration): back to monitoring.
    pub(crate) fn abort_failover(&mut self, now: Millis) {
        self.set_failover_state(now, FailoverState::None);
        self.force_failover = false;
        self.coordinated = false;
        self.promoted = None;
    }
}
