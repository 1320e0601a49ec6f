//! The acting half of the timer and of INFO handling: what a sentinel does
//! (rather than observes) about a master — start failovers, drive them,
//! demote an old master that comes back, fix misconfigured replicas.
//! Skipped entirely during TILT.

use super::failover::FailoverState;
use super::info::InfoReport;
use super::instance::{ReconfState, Role};
use super::links::Target;
use super::{Action, Level, Sentinel, SIMFAILURE_CRASH_AFTER_PROMOTION};
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

    /// Does master `name` look healthy enough to reconfigure others toward?
    fn master_looks_sane(&self, now: Millis, name: &str) -> bool {
        self.masters.get(name).is_some_and(|m| {
            m.common.role_reported == Role::Master
                && !m.common.s_down
                && !m.common.o_down
                && m.common
                    .info_refresh
                    .is_some_and(|t| now.since(t).0 < 2 * self.timing.info_period)
        })
    }

    /// Reactions to an INFO reply from a replica.
    pub(crate) fn info_acting(
        &mut self,
        now: Millis,
        master: &str,
        target: &Target,
        report: &InfoReport,
    ) {
        let Target::Replica { key, .. } = target else {
            return;
        };
        let Some(m) = self.masters.get(master) else {
            return;
        };
        let Some(r) = m.replicas.get(key) else {
            return;
        };
        let is_promoted = m.promoted.as_deref() == Some(key.as_str());
        let role = report.role;
        if role == Some(Role::Master) {
            if is_promoted && m.failover == FailoverState::WaitPromotion {
                self.promotion_seen(now, master, target);
            } else {
                // A replica claims to be master (e.g. the old master came
                // back): after a grace period, make it replicate again.
                // Redis waits 8 s for newer configs to arrive first; when a
                // majority of the sentinels just told us they share our
                // config, there is none to wait for, and every second the
                // old master stays writable loses writes. That holds for
                // an old master returning, never seen as a replica here;
                // one we saw replicate and now master was promoted by
                // someone, and the hellos we hold may all predate that
                // failover: its new config is exactly what the wait is for.
                let wait = 4 * self.timing.publish_period;
                let no_down = no_down_for(now, r.common.s_down_since, r.common.o_down_since, wait);
                let waited = no_down && now.since(r.common.role_reported_time).0 > wait;
                let returning = !r.reported_slave;
                if !is_promoted
                    && self.master_looks_sane(now, master)
                    && (waited || (returning && self.config_confirmed_by_majority(now, master)))
                {
                    let to = m.common.addr.clone();
                    if self.send_slaveof(target, Some(&to)) {
                        self.instance_event(master, target, Level::Notice, "+convert-to-slave", "");
                    }
                }
            }
            return;
        }
        if role != Some(Role::Slave) {
            return;
        }
        let master_addr = m.common.addr.clone();
        let wait = m.failover_timeout;
        let settled = no_down_for(now, r.common.s_down_since, r.common.o_down_since, wait)
            && now.since(r.slave_conf_change_time).0 > wait;
        let reported = r.master_host.clone();
        let reported_port = r.master_port;
        // Compared by resolved IP: a replica following `127.0.0.1` follows a
        // master configured as `localhost`. Nothing is decided while the
        // reported name is still resolving.
        let wrong_master = match reported {
            Some(h) => self.is_at(&master_addr, &h, reported_port) == Some(false),
            None => true,
        };
        if wrong_master
            && settled
            && self.master_looks_sane(now, master)
            && self.send_slaveof(target, Some(&master_addr))
        {
            self.instance_event(master, target, Level::Notice, "+fix-slave-config", "");
        }
        self.reconf_progress(master, key, target);
    }

    /// A majority of the sentinels (us included) sent hellos recently that
    /// carry exactly our config epoch for `master` and no newer epoch: our
    /// view of who is master is the agreed one.
    fn config_confirmed_by_majority(&self, now: Millis, master: &str) -> bool {
        let Some(m) = self.masters.get(master) else {
            return false;
        };
        if m.failover_in_progress() {
            return false;
        }
        let fresh = 3 * self.timing.publish_period;
        let current = self.settings.current_epoch;
        let agreeing = 1 + m
            .sentinels
            .values()
            .filter(|s| {
                now.since(s.last_hello_time).0 <= fresh
                    && s.hello_epochs
                        .is_some_and(|(cur, cfg)| cfg == m.config_epoch && cur <= current)
            })
            .count();
        m.majority_rule().is_reached(agreeing)
    }

    fn promotion_seen(&mut self, now: Millis, master: &str, target: &Target) {
        let Some(m) = self.masters.get_mut(master) else {
            return;
        };
        m.config_epoch = m.failover_epoch;
        m.failover = FailoverState::ReconfSlaves;
        m.failover_state_change_time = now;
        let from = m.common.addr.clone();
        self.request_persist();
        self.instance_event(master, target, Level::Warning, "+promoted-slave", "");
        self.release_old_master(master);
        if self.simulate_failure & SIMFAILURE_CRASH_AFTER_PROMOTION != 0 {
            self.push(Action::Crash(99));
            return;
        }
        self.master_event(
            master,
            Level::Warning,
            "+failover-state-reconf-slaves",
            |_| String::new(),
        );
        let to = self.announced_addr(self.masters[master].current_addr());
        self.queue_reconfig_script(master, "leader", self.announced_addr(&from), to);
        self.force_hello(master);
        // Reconfigure the other replicas and tell the peers now.
        self.failover_step(now, master);
        self.send_hellos_now(master);
    }

    /// Sends hellos for `master` to every connected instance at once.
    fn send_hellos_now(&mut self, master: &str) {
        let Some(m) = self.masters.get(master) else {
            return;
        };
        let mut targets = vec![Target::Master(master.to_string())];
        targets.extend(m.replicas.keys().map(|k| Target::Replica {
            master: master.to_string(),
            key: k.clone(),
        }));
        targets.extend(m.sentinels.keys().map(|id| Target::Sentinel(id.clone())));
        for t in targets {
            if self.common(&t).is_some_and(|c| c.link.cc_connected) {
                self.send_hello(master, &t);
            }
        }
    }

    fn reconf_progress(&mut self, master: &str, key: &str, target: &Target) {
        let Some(m) = self.masters.get(master) else {
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
        if let Some(r) = self
            .masters
            .get_mut(master)
            .and_then(|m| m.replicas.get_mut(key))
        {
            r.reconf = state;
        }
        for e in events {
            self.instance_event(master, target, Level::Notice, e, "");
        }
    }
}

/// Redis's `sentinelRedisInstanceNoDownFor`: no SDOWN/ODOWN began in the
/// last `ms` (zero since-times mean never).
fn no_down_for(now: Millis, s_down_since: Millis, o_down_since: Millis, ms: u64) -> bool {
    let recent = s_down_since.max(o_down_since);
    recent == Millis::ZERO || now.since(recent).0 > ms
}
