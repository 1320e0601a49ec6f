//! The `sentinel ...` lines a config rewrite must contain, in Redis's
//! emission order. The shell quotes and places them in the file.

use super::instance::Master;
use super::timing::{DEFAULT_DOWN_AFTER, DEFAULT_FAILOVER_TIMEOUT};
use super::Sentinel;

impl Sentinel {
    /// The state lines, each as its tokens starting with `sentinel`.
    pub fn config_lines(&self) -> Vec<Vec<String>> {
        let mut out: Vec<Vec<String>> = Vec::new();
        let mut line = |parts: &[&str]| {
            let mut v = vec!["sentinel".to_string()];
            v.extend(parts.iter().map(|s| s.to_string()));
            out.push(v);
        };
        line(&["myid", self.myid()]);
        if !self.settings.deny_scripts_reconfig {
            line(&["deny-scripts-reconfig", "no"]);
        }
        if self.settings.resolve_hostnames {
            line(&["resolve-hostnames", "yes"]);
        }
        if self.settings.announce_hostnames {
            line(&["announce-hostnames", "yes"]);
        }
        for m in self.masters.values() {
            master_lines(m, self.settings.announce_hostnames, &mut line);
        }
        line(&["current-epoch", &self.settings.current_epoch.to_string()]);
        if let Some(ip) = &self.settings.announce_ip {
            line(&["announce-ip", ip]);
        }
        if self.settings.announce_port != 0 {
            line(&["announce-port", &self.settings.announce_port.to_string()]);
        }
        if let Some(u) = &self.settings.sentinel_user {
            line(&["sentinel-user", u]);
        }
        if let Some(p) = &self.settings.sentinel_pass {
            line(&["sentinel-pass", p]);
        }
        out
    }
}

/// One master's lines. Addresses are written in their announced form, as
/// Redis does (so `announce-hostnames no` writes the resolved IPs).
fn master_lines(m: &Master, hostnames: bool, line: &mut impl FnMut(&[&str])) {
    let name = m.name.as_str();
    let current = m.current_addr();
    line(&[
        "monitor",
        name,
        current.announced(hostnames),
        &current.port.to_string(),
        &m.quorum.to_string(),
    ]);
    if m.common.down_after != DEFAULT_DOWN_AFTER {
        line(&[
            "down-after-milliseconds",
            name,
            &m.common.down_after.to_string(),
        ]);
    }
    if m.failover_timeout != DEFAULT_FAILOVER_TIMEOUT {
        line(&["failover-timeout", name, &m.failover_timeout.to_string()]);
    }
    if m.parallel_syncs != 1 {
        line(&["parallel-syncs", name, &m.parallel_syncs.to_string()]);
    }
    if let Some(s) = &m.notification_script {
        line(&["notification-script", name, s]);
    }
    if let Some(s) = &m.client_reconfig_script {
        line(&["client-reconfig-script", name, s]);
    }
    if let Some(p) = &m.auth_pass {
        line(&["auth-pass", name, p]);
    }
    if let Some(u) = &m.auth_user {
        line(&["auth-user", name, u]);
    }
    if m.master_reboot_down_after_period != 0 {
        line(&[
            "master-reboot-down-after-period",
            name,
            &m.master_reboot_down_after_period.to_string(),
        ]);
    }
    line(&["config-epoch", name, &m.config_epoch.to_string()]);
    line(&["leader-epoch", name, &m.leader_epoch.to_string()]);
    for r in m.replicas.values() {
        // While a promoted replica is advertised as master, the old master
        // is remembered in its place so a restart still knows it.
        let addr = if r.common.addr.same_instance(current) {
            &m.common.addr
        } else {
            &r.common.addr
        };
        line(&[
            "known-replica",
            name,
            addr.announced(hostnames),
            &addr.port.to_string(),
        ]);
    }
    for (runid, s) in &m.sentinels {
        line(&[
            "known-sentinel",
            name,
            s.common.addr.announced(hostnames),
            &s.common.addr.port.to_string(),
            runid,
        ]);
    }
    for (from, to) in &m.renamed_commands {
        line(&["rename-command", name, from, to]);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::time::Millis;

    #[test]
    fn defaults_are_not_written_but_epochs_always_are() {
        let mut s = Sentinel::new(1, 26379);
        s.apply_directive(
            Millis(0),
            &[
                "monitor".into(),
                "m".into(),
                "127.0.0.1".into(),
                "6379".into(),
                "2".into(),
            ],
        )
        .unwrap();
        s.ensure_myid();
        let lines: Vec<String> = s.config_lines().iter().map(|l| l.join(" ")).collect();
        assert_eq!(lines[0], format!("sentinel myid {}", s.myid()));
        assert_eq!(
            &lines[1..],
            &[
                "sentinel monitor m 127.0.0.1 6379 2",
                "sentinel config-epoch m 0",
                "sentinel leader-epoch m 0",
                "sentinel current-epoch 0",
            ]
        );
    }
}
