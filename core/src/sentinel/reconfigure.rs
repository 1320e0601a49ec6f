//! Putting instances back in line from their INFO: an instance that claims
//! to be master but is not ours (an old master coming back) is demoted
//! (`+convert-to-slave`), a replica following the wrong master is pointed
//! at ours (`+fix-slave-config`); the same INFO also tells a running
//! failover about its promotion and reconfiguration (`failover/progress.rs`).
//! Skipped entirely during TILT.

use super::failover::FailoverState;
use super::info_reply::InfoReport;
use super::instance::Role;
use super::links::Target;
use super::{Level, Sentinel};
use crate::time::Millis;

impl Sentinel {
    /// Does master `name` look healthy enough to reconfigure others toward?
    fn master_looks_sane(&self, now: Millis, name: &str) -> bool {
        self.masters.known(name).is_some_and(|m| {
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
        let Some(m) = self.masters.known(master) else {
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
        let Some(m) = self.masters.known(master) else {
            return false;
        };
        if m.failover_in_progress() {
            return false;
        }
        let fresh = 3 * self.timing.publish_period;
        let current = self.settings.current_epoch.current();
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
}

/// Redis's `sentinelRedisInstanceNoDownFor`: no SDOWN/ODOWN began in the
/// last `ms` (zero since-times mean never).
fn no_down_for(now: Millis, s_down_since: Millis, o_down_since: Millis, ms: u64) -> bool {
    let recent = s_down_since.max(o_down_since);
    recent == Millis::ZERO || now.since(recent).0 > ms
}
