//! The `sentinel ...` lines a config rewrite must contain, in Redis's
//! emission order. The shell quotes and places them in the file.

use std::cell::RefCell;

use super::instance::Master;
use super::timing::{DEFAULT_DOWN_AFTER, DEFAULT_FAILOVER_TIMEOUT};
use super::Sentinel;

impl Sentinel {
    /// The state lines, each as its tokens starting with `sentinel`. Tokens
    /// are bytes: a password or user name is written exactly as configured.
    pub fn config_lines(&self) -> Vec<Vec<Vec<u8>>> {
        // Two writers share the list: `line` for text tokens, `secret_line`
        // for a line ending in a credential (any bytes).
        let out: RefCell<Vec<Vec<Vec<u8>>>> = RefCell::new(Vec::new());
        let push = |parts: &[&str], secret: Option<&[u8]>| {
            let mut v = vec![b"sentinel".to_vec()];
            v.extend(parts.iter().map(|s| s.as_bytes().to_vec()));
            v.extend(secret.map(<[u8]>::to_vec));
            out.borrow_mut().push(v);
        };
        let line = |parts: &[&str]| push(parts, None);
        let secret_line = |parts: &[&str], secret: &[u8]| push(parts, Some(secret));
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
            master_lines(m, self.settings.announce_hostnames, &line, &secret_line);
        }
        line(&[
            "current-epoch",
            &self.settings.current_epoch.current().to_string(),
        ]);
        if let Some(ip) = &self.settings.announce_ip {
            line(&["announce-ip", ip]);
        }
        if self.settings.announce_port != 0 {
            line(&["announce-port", &self.settings.announce_port.to_string()]);
        }
        if let Some(u) = &self.settings.sentinel_user {
            secret_line(&["sentinel-user"], u);
        }
        if let Some(p) = &self.settings.sentinel_pass {
            secret_line(&["sentinel-pass"], p);
        }
        out.into_inner()
    }
}

/// One master's lines. Addresses are written in their announced form, as
/// Redis does (so `announce-hostnames no` writes the resolved IPs).
fn master_lines(
    m: &Master,
    hostnames: bool,
    line: &impl Fn(&[&str]),
    secret_line: &impl Fn(&[&str], &[u8]),
) {
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
        secret_line(&["auth-pass", name], p);
    }
    if let Some(u) = &m.auth_user {
        secret_line(&["auth-user", name], u);
    }
    if m.master_reboot_down_after_period != 0 {
        line(&[
            "master-reboot-down-after-period",
            name,
            &m.master_reboot_down_after_period.to_string(),
        ]);
    }
    line(&["config-epoch", name, &m.config_epoch.to_string()]);
    let leader_epoch = m.vote.last_epoch();
    line(&["leader-epoch", name, &leader_epoch.to_string()]);
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
        s.apply_directive(Millis(0), &["monitor", "m", "127.0.0.1", "6379", "2"])
            .unwrap();
        s.ensure_myid();
        let lines: Vec<String> = s
            .config_lines()
            .iter()
            .map(|l| String::from_utf8(l.join(&b' ')).unwrap())
            .collect();
        assert_eq!(lines[0], format!("sentinel myid {}", s.myid()));
        s.apply_directive(Millis(0), &[&b"auth-pass"[..], b"m", b"\xff\xfe"])
            .unwrap();
        let auth: Vec<Vec<u8>> = s
            .config_lines()
            .into_iter()
            .find(|l| l[1] == b"auth-pass")
            .unwrap();
        assert_eq!(auth, [&b"sentinel"[..], b"auth-pass", b"m", b"\xff\xfe"]);
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
