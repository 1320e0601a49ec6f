//! INFO replies from masters and replicas: parsing, and what the sentinel
//! learns from them (run ids, replicas, roles, replication state).

use super::addr::Addr;
use super::instance::{Replica, Role};
use super::links::Target;
use super::{Level, Sentinel};
use crate::ids::RunId;
use crate::time::Millis;

/// The fields of an INFO reply a sentinel uses.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct InfoReport {
    pub run_id: Option<String>,
    pub role: Option<Role>,
    /// Replicas listed by a master (`slaveN:` lines).
    pub replicas: Vec<Addr>,
    pub master_link_down_since: Option<i64>,
    pub master_host: Option<String>,
    pub master_port: Option<u16>,
    pub master_link_up: Option<bool>,
    pub slave_priority: Option<i64>,
    pub slave_repl_offset: Option<u64>,
    pub replica_announced: Option<bool>,
}

/// Parses INFO text (CRLF or LF lines). Unknown or malformed lines are
/// skipped: servers that only look like Redis (Kvrocks, Dragonfly…) print
/// more, fewer or differently shaped fields.
pub fn parse_info(text: &str) -> InfoReport {
    let mut r = InfoReport::default();
    for line in text.lines() {
        let line = line.trim_end_matches('\r');
        let Some((key, value)) = line.split_once(':') else {
            continue;
        };
        match key {
            // Redis copies exactly 40 bytes; a multibyte character across
            // byte 40 must not panic, so cut on bytes, not on a `&str`.
            "run_id" if value.len() >= 40 => {
                r.run_id = Some(String::from_utf8_lossy(&value.as_bytes()[..40]).into_owned())
            }
            "role" => {
                r.role = match value {
                    "master" => Some(Role::Master),
                    "slave" => Some(Role::Slave),
                    _ => None,
                }
            }
            "master_link_down_since_seconds" => {
                r.master_link_down_since = value.parse().ok();
            }
            "master_host" => r.master_host = Some(value.to_string()),
            "master_port" => r.master_port = value.parse().ok(),
            "master_link_status" => r.master_link_up = Some(value == "up"),
            "slave_priority" | "replica_priority" => r.slave_priority = value.parse().ok(),
            "slave_repl_offset" => r.slave_repl_offset = value.parse().ok(),
            "replica_announced" => r.replica_announced = Some(value == "1"),
            k if k
                .strip_prefix("slave")
                .is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit())) =>
            {
                if let Some(addr) = parse_replica_line(value) {
                    r.replicas.push(addr);
                }
            }
            _ => {}
        }
    }
    r
}

/// `ip=…,port=…,state=…` (new) or `ip,port,state` (old).
fn parse_replica_line(value: &str) -> Option<Addr> {
    if value.contains('=') {
        let mut ip = None;
        let mut port = None;
        for field in value.split(',') {
            match field.split_once('=') {
                Some(("ip", v)) => ip = Some(v),
                Some(("port", v)) => port = v.parse().ok(),
                _ => {}
            }
        }
        Some(Addr::new(ip?, port?))
    } else {
        let mut parts = value.split(',');
        let ip = parts.next()?;
        let port = parts.next()?.parse().ok()?;
        Some(Addr::new(ip, port))
    }
}

impl Sentinel {
    pub(crate) fn handle_info(&mut self, now: Millis, target: &Target, text: &str) {
        let report = parse_info(text);
        let master = match target {
            Target::Master(name) | Target::Replica { master: name, .. } => name.clone(),
            Target::Sentinel(_) => return,
        };
        let reboot_period = self
            .masters
            .get(&master)
            .map_or(0, |m| m.master_reboot_down_after_period);
        let Some(c) = self.common_mut(target) else {
            return;
        };
        c.info_refresh = Some(now);
        c.info_text = Some(text.to_string());
        let mut rebooted = false;
        if let Some(id) = &report.run_id {
            match &c.runid {
                None => c.runid = Some(RunId::from(id.as_str())),
                Some(old) if *old != **id => {
                    c.runid = Some(RunId::from(id.as_str()));
                    rebooted = true;
                }
                _ => {}
            }
        }
        let old_role = c.role_reported;
        let role_changed = report.role.is_some_and(|r| r != old_role);
        if let Some(role) = report.role {
            if role != old_role {
                c.role_reported = role;
                c.role_reported_time = now;
            }
        }
        if rebooted {
            self.instance_event(&master, target, Level::Notice, "+reboot", "");
            if matches!(target, Target::Master(_)) && reboot_period != 0 {
                if let Some(m) = self.masters.get_mut(&master) {
                    m.master_reboot = true;
                    m.master_reboot_since = now;
                }
            }
        }
        match target {
            Target::Master(_) => self.learn_replicas(now, &master, &report.replicas),
            Target::Replica { key, .. } => {
                self.update_replica(now, &master, key, &report);
            }
            Target::Sentinel(_) => {}
        }
        if role_changed {
            if let Some(role) = report.role {
                let consistent = match target {
                    Target::Master(_) => role == Role::Master,
                    _ => role == Role::Slave,
                };
                let kind = if consistent {
                    "+role-change"
                } else {
                    "-role-change"
                };
                let rest = format!("new reported role is {}", role.as_str());
                self.instance_event(&master, target, Level::Verbose, kind, &rest);
            }
        }
        self.fence_check(now, target);
        if !self.tilt {
            self.info_acting(now, &master, target, &report);
            // Fresh replica INFO may be what a waiting failover needs (a
            // candidate to choose, a reconfiguration to see through).
            let waiting = matches!(
                self.masters.known(&master).map(|m| m.failover),
                Some(super::failover::FailoverState::SelectSlave)
                    | Some(super::failover::FailoverState::ReconfSlaves)
            );
            if waiting {
                self.failover_step(now, &master);
            }
            // This INFO may have finished the failover (the promotion seen,
            // the last replica reconfigured): switch now, not at the next
            // tick.
            let done = self
                .masters
                .get(&master)
                .is_some_and(|m| m.failover == super::failover::FailoverState::UpdateConfig);
            if done {
                self.switch_to_promoted(now, &master);
            }
        }
    }

    /// Adds the replicas the master's INFO lists that we do not know yet,
    /// recognising a known one by its resolved IP (`localhost` and
    /// `127.0.0.1` are one replica). One whose name, or a same-port known
    /// one's, is still resolving waits for the next INFO rather than risk
    /// being added twice. Without `resolve-hostnames`, a replica announced
    /// by name is ignored, as Redis cannot create it.
    fn learn_replicas(&mut self, now: Millis, master: &str, replicas: &[Addr]) {
        let mut added = Vec::new();
        for reported in replicas {
            // A replica line is whatever the instance (or a fake replica
            // that registered with it) says: keep only addresses the loader
            // accepts (an IP literal unless resolve-hostnames yes).
            if self
                .check_learnt_addr(&reported.host, i64::from(reported.port))
                .is_none()
            {
                continue;
            }
            let addr = self.addr_of(&reported.host, reported.port);
            let Some(m) = self.masters.known(master) else {
                return;
            };
            let waiting = std::iter::once(&addr)
                .chain(m.replicas.values().map(|r| &r.common.addr))
                .any(|a| a.port == addr.port && a.ip.is_none() && self.resolving(&a.host));
            let known = m
                .replicas
                .values()
                .any(|r| r.common.addr.same_instance(&addr));
            let key = addr.key();
            if waiting || known || m.replicas.contains_key(&key) {
                continue;
            }
            let Some(m) = self.masters.known_mut(master) else {
                return;
            };
            m.replicas.insert(
                key.clone(),
                Box::new(Replica::new(addr, m.common.down_after, now)),
            );
            added.push(key);
        }
        for key in &added {
            let target = Target::Replica {
                master: master.to_string(),
                key: key.clone(),
            };
            self.instance_event(master, &target, Level::Notice, "+slave", "");
            // Connect now rather than at the next tick.
            self.reconnect(now, master, &target);
        }
        if !added.is_empty() {
            self.out.persist();
        }
    }

    fn update_replica(&mut self, now: Millis, master: &str, key: &str, report: &InfoReport) {
        let Some(r) = self
            .masters
            .get_mut(master)
            .and_then(|m| m.replicas.get_mut(key))
        else {
            return;
        };
        r.master_link_down_time = report
            .master_link_down_since
            .map_or(0, |s| s.saturating_mul(1000));
        if report.role == Some(Role::Slave) {
            r.reported_slave = true;
            if report.master_host.is_some()
                && (report.master_host != r.master_host
                    || report.master_port.unwrap_or(0) != r.master_port)
            {
                r.slave_conf_change_time = now;
            }
            if let Some(h) = &report.master_host {
                r.master_host = Some(h.clone());
            }
            if let Some(p) = report.master_port {
                r.master_port = p;
            }
            if let Some(up) = report.master_link_up {
                r.master_link_up = up;
            }
            if let Some(p) = report.slave_priority {
                r.slave_priority = p;
            }
            if let Some(o) = report.slave_repl_offset {
                r.slave_repl_offset = o;
            }
            if let Some(a) = report.replica_announced {
                r.replica_announced = a;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn master_info_lists_replicas_in_both_formats() {
        let text = "# Replication\r\nrole:master\r\nconnected_slaves:2\r\nslave0:ip=127.0.0.1,port=6380,state=online,offset=10,lag=0\r\nslave1:10.0.0.1,6381,online\r\nmaster_repl_offset:10\r\n";
        let r = parse_info(text);
        assert_eq!(r.role, Some(Role::Master));
        assert_eq!(
            r.replicas,
            vec![Addr::new("127.0.0.1", 6380), Addr::new("10.0.0.1", 6381)]
        );
    }

    #[test]
    fn replica_info_fields() {
        let text = "run_id:0123456789012345678901234567890123456789\nrole:slave\nmaster_host:127.0.0.1\nmaster_port:6379\nmaster_link_status:up\nslave_repl_offset:42\nslave_priority:10\nreplica_announced:1\n";
        let r = parse_info(text);
        assert_eq!(
            r.run_id.as_deref(),
            Some("0123456789012345678901234567890123456789")
        );
        assert_eq!(r.role, Some(Role::Slave));
        assert_eq!(r.master_port, Some(6379));
        assert_eq!(r.master_link_up, Some(true));
        assert_eq!(r.slave_repl_offset, Some(42));
        assert_eq!(r.slave_priority, Some(10));
    }

    #[test]
    fn a_multibyte_character_across_the_run_id_boundary_does_not_panic() {
        for pad in 0..4 {
            let a = "a".repeat(38 + pad);
            let text = format!("run_id:{a}\u{e9}\u{1F600}bbbbbbbbb\r\n");
            let r = parse_info(&text);
            assert_eq!(r.run_id.map(|id| id.len() >= 40), Some(true));
        }
        let r = parse_info("master_link_down_since_seconds:9223372036854775807\r\nrole:slave\r\n");
        assert_eq!(r.master_link_down_since, Some(i64::MAX));
    }

    #[test]
    fn garbage_is_ignored() {
        let r = parse_info("slave0:nonsense\nslaveX:ip=1,port=2\n:::\nrole:weird\n");
        assert_eq!(r, InfoReport::default());
    }
}
