//! Resetting a master: what `SENTINEL RESET` and a switch to a new master
//! address do to the state kept about it.

use super::failover::FailoverState;
use super::instance::{Common, Role};
use super::{Action, Level, Sentinel};
use crate::time::Millis;

impl Sentinel {
    /// Forgets what was learnt about master `name`: replicas, (optionally)
    /// sentinels, run id, flags and failover state. With `event`, this is a
    /// user-requested reset: sentinels are dropped too and `+reset-master`
    /// is emitted.
    pub(crate) fn reset_master(&mut self, now: Millis, name: &str, event: bool) {
        let Some(m) = self.masters.get_mut(name) else {
            return;
        };
        m.replicas.clear();
        if event {
            m.sentinels.clear();
        }
        let addr = m.common.addr.clone();
        let down_after = m.common.down_after;
        m.common = Common::new(addr, down_after, Role::Master, now);
        m.failover = FailoverState::None;
        m.force_failover = false;
        m.failover_start_time = None;
        m.failover_state_change_time = Millis::ZERO;
        m.promoted = None;
        m.leader = None;
        m.script_kill_sent = false;
        m.master_reboot = false;
        self.push(Action::DropLinks {
            master: name.to_string(),
        });
        if event {
            self.master_event(name, Level::Warning, "+reset-master", |_| String::new());
        }
    }
}
