//! How a failover advances on the leader's side: per master on every timer
//! pass, and at once when a reply brings news — a peer's answer (ODOWN, a
//! vote), the promoted replica's INFO (`+promoted-slave`), a replica's INFO
//! showing its reconfiguration (`+slave-reconf-*`) — up to the switch that
//! follows `update_config`. The steps themselves are in `steps.rs`.

use super::FailoverState;
use crate::sentinel::instance::ReconfState;
use crate::sentinel::links::Target;
use crate::sentinel::{Level, Sentinel, SIMFAILURE_CRASH_AFTER_PROMOTION};
use crate::time::Millis;

impl Sentinel {
    /// Per-master work after SDOWN/ODOWN were judged.
    pub(crate) fn master_acting(&mut self, now: Millis, name: &str) {
        if self.start_failover_if_needed(now, name) {
            // Ask for votes at once rather than on the next ask period.
            self.ask_master_state(now, name, true);
        }
        self.failover_step(now, name);
        self.ask_master_state(now, name, false);
    }

    /// Work done once per tick after every instance was handled: the switch
    /// of a failover that reached `update_config`.
    pub(crate) fn after_tick(&mut self, now: Millis) {
        let done: Vec<String> = self
            .masters
            .values()
            .filter(|m| m.failover == FailoverState::UpdateConfig)
            .map(|m| m.name.clone())
            .collect();
        for name in done {
            self.switch_to_promoted(now, &name);
        }
    }

    /// A peer's answer may complete ODOWN or an election: act on it now
    /// instead of at the next tick.
    pub(crate) fn react(&mut self, now: Millis, name: &str) {
        if self.tilt {
            return;
        }
        self.check_odown(now, name);
        if self.start_failover_if_needed(now, name) {
            self.ask_master_state(now, name, true);
        }
        self.failover_step(now, name);
        self.after_tick(now);
    }

    pub(crate) fn promotion_seen(&mut self, now: Millis, master: &str, target: &Target) {
        let hostnames = self.settings.announce_hostnames;
        let Some(m) = self.masters.known_mut(master) else {
            return;
        };
        m.config_epoch = m.failover_epoch;
        m.set_failover_state(now, FailoverState::ReconfSlaves);
        let from = m.common.addr.clone();
        self.out.persist();
        let kind = "+promoted-slave";
        self.out
            .instance_event(m, target, hostnames, Level::Warning, kind, "");
        self.release_old_master(master);
        if self.simulate_failure & SIMFAILURE_CRASH_AFTER_PROMOTION != 0 {
            self.crash();
            return;
        }
        let (from, to) = (
            self.announced_addr(&from),
            self.announced_addr(self.masters[master].current_addr()),
        );
        let m = &self.masters[master];
        let kind = "+failover-state-reconf-slaves";
        self.out
            .master_event(m, hostnames, Level::Warning, kind, "");
        self.out.reconfig_script(m, "leader", from, to);
        self.force_hello(master);
        // Reconfigure the other replicas and tell the peers now.
        self.failover_step(now, master);
        self.send_hellos_now(master);
    }

    /// Sends hellos for `master` to every connected instance at once.
    fn send_hellos_now(&mut self, master: &str) {
        let Some(m) = self.masters.known(master) else {
            return;
        };
        for t in m.targets() {
            if self.common(&t).is_some_and(|c| c.link.cc_connected) {
                self.send_hello(master, &t);
            }
        }
    }

    pub(crate) fn reconf_progress(&mut self, master: &str, key: &str, target: &Target) {
        let hostnames = self.settings.announce_hostnames;
        let Some(m) = self.masters.known(master) else {
            return;
        };
        let promoted = m
            .promoted
            .as_ref()
            .and_then(|k| m.replicas.get(k))
            .map(|p| p.common.addr.clone());
        let Some(r) = m.replicas.get(key) else {
            return;
        };
        let mut state = r.reconf;
        let (reported, reported_port) = (r.master_host.clone(), r.master_port);
        let master_link_up = r.master_link_up;
        let mut events = Vec::new();
        if state == ReconfState::Sent {
            if let (Some(p), Some(h)) = (&promoted, &reported) {
                if self.is_at(p, h, reported_port) == Some(true) {
                    state = ReconfState::InProgress;
                    events.push("+slave-reconf-inprog");
                }
            }
        }
        if state == ReconfState::InProgress && master_link_up {
            state = ReconfState::Done;
            events.push("+slave-reconf-done");
        }
        let Some(m) = self.masters.known_mut(master) else {
            return;
        };
        if let Some(r) = m.replicas.get_mut(key) {
            r.reconf = state;
        }
        for e in events {
            self.out
                .instance_event(m, target, hostnames, Level::Notice, e, "");
        }
    }
}
