//! Subjective down: an instance that has not answered a PING for
//! down-after-milliseconds (or, a master, reports itself a replica for
//! longer than an INFO period allows, or reboots) is SDOWN as this sentinel
//! sees it; links that look connected but went quiet are reconnected here
//! too. Judged on every timer pass and at the exact deadline `poll_timeout`
//! reports.

use super::links::{Channel, LinkId, Target};
use super::{Action, Level, Sentinel};
use crate::time::Millis;

impl Sentinel {
    pub(crate) fn check_sdown(&mut self, now: Millis, master: &str, target: &Target) {
        let needs_pubsub = !matches!(target, Target::Sentinel(_));
        let min_link_age = self.timing.min_link_reconnect_period;
        let publish_period = self.timing.publish_period;
        let info_period = self.timing.info_period;
        let (reboot, reboot_since, reboot_period) = match (target, self.masters.known(master)) {
            (Target::Master(_), Some(m)) => (
                m.master_reboot,
                m.master_reboot_since,
                m.master_reboot_down_after_period,
            ),
            _ => (false, Millis::ZERO, 0),
        };
        let Some(c) = self.instance_of_master_mut(master, target) else {
            return;
        };
        let silent = c
            .link
            .ping_detector(c.disconnected(needs_pubsub))
            .is_some_and(|d| d.is_down(now, Millis(c.down_after)));
        let half = c.down_after / 2;
        let mut close = Vec::new();
        // A link that looks connected but has gone quiet is reconnected.
        if c.link.cc_connected
            && now.since(c.link.cc_conn_time).0 >= min_link_age
            && c.link.act_ping_time.is_some_and(|t| now.since(t).0 > half)
            && now.since(c.link.last_pong_time).0 > half
        {
            close.push(Channel::Cmd);
        }
        if c.link.pc_connected
            && now.since(c.link.pc_conn_time).0 >= min_link_age
            && now.since(c.link.pc_last_activity).0 > 3 * publish_period
        {
            close.push(Channel::PubSub);
        }
        let reports_slave_too_long = matches!(target, Target::Master(_))
            && c.role_reported == super::instance::Role::Slave
            && now.since(c.role_reported_time).0 > c.down_after + 2 * info_period;
        let rebooted_too_long = reboot && now.since(reboot_since).0 > reboot_period;
        let down = silent || reports_slave_too_long || rebooted_too_long;
        let change = if down && !c.s_down {
            c.s_down = true;
            c.s_down_since = now;
            Some("+sdown")
        } else if !down && c.s_down {
            c.s_down = false;
            Some("-sdown")
        } else {
            None
        };
        if change == Some("-sdown") {
            self.clear_script_kill(master, target);
        }
        for channel in close {
            let link = LinkId {
                target: target.clone(),
                channel,
            };
            self.link_closed(now, link.clone());
            self.out.push(Action::Close(link));
        }
        if let Some(kind) = change {
            self.instance_event(master, target, Level::Warning, kind, "");
            if kind == "+sdown" {
                if let Target::Master(name) = target {
                    // Ask the peers at once: ODOWN needs their view. And
                    // refresh the replicas, one of which may soon be chosen.
                    self.ask_master_state(now, name, true);
                    self.refresh_replicas(name);
                }
            }
        }
    }

    fn clear_script_kill(&mut self, master: &str, target: &Target) {
        if let Some(m) = self.masters.known_mut(master) {
            match target {
                Target::Master(_) => m.script_kill_sent = false,
                Target::Replica { key, .. } => {
                    if let Some(r) = m.replicas.get_mut(key) {
                        r.script_kill_sent = false;
                    }
                }
                Target::Sentinel(_) => {}
            }
        }
    }
}
