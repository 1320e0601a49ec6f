//! Applying `sentinel ...` config directives, with Redis's validation and
//! error texts. The shell orders them (pre-monitor, monitor, rest) and maps
//! an error to the file and line.

use super::addr::{is_ip_literal, is_plausible_hostname, Addr};
use super::instance::{Master, PeerSentinel, Replica};
use super::settings::parse_yes_no;
use super::Sentinel;
use crate::election::{CastVote, VoteRecord};
use crate::ids::{Epoch, RunId};
use crate::time::Millis;

/// C's `atoi`: optional sign and leading digits, anything after ignored,
/// 0 when there are none. Redis parses several directives this way.
pub fn atoi(s: &str) -> i64 {
    let s = s.trim_start();
    let (neg, digits) = match s.as_bytes().first() {
        Some(b'-') => (true, &s[1..]),
        Some(b'+') => (false, &s[1..]),
        _ => (false, s),
    };
    let mut n: i64 = 0;
    for c in digits.bytes().take_while(u8::is_ascii_digit) {
        n = n.saturating_mul(10).saturating_add((c - b'0') as i64);
    }
    if neg {
        -n
    } else {
        n
    }
}

/// C's `strtoull(s, NULL, 10)` for epochs.
pub fn strtoull(s: &str) -> u64 {
    let s = s.trim_start();
    let digits = s.strip_prefix('+').unwrap_or(s);
    let mut n: u64 = 0;
    for c in digits.bytes().take_while(u8::is_ascii_digit) {
        n = n.saturating_mul(10).saturating_add((c - b'0') as u64);
    }
    n
}

/// Why an instance could not be created (Redis's `errno` cases).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CreateError {
    Duplicate,
    Unresolvable,
    BadPort,
}

impl CreateError {
    pub fn master_text(self) -> &'static str {
        match self {
            CreateError::Duplicate => "Duplicate master name.",
            CreateError::Unresolvable => "Can't resolve instance hostname.",
            CreateError::BadPort => "Invalid port number.",
        }
    }
}

impl Sentinel {
    /// Checks an address the way Redis's `createSentinelAddr` does; a
    /// hostname is resolved in the background (see `resolve.rs`).
    pub(crate) fn check_addr(&mut self, host: &str, port: i64) -> Result<Addr, CreateError> {
        if !(0..=65535).contains(&port) {
            return Err(CreateError::BadPort);
        }
        if !self.settings.resolve_hostnames && !is_ip_literal(host) {
            return Err(CreateError::Unresolvable);
        }
        Ok(self.addr_of(host, port as u16))
    }

    /// An address learnt from the network (a hello, an INFO reply): the
    /// loader's rule (an IP literal unless `resolve-hostnames yes`, then a
    /// plausible DNS name) and a port of 1–65535. A rejected address is
    /// logged as Redis logs it and the caller must change nothing, so that
    /// every address we persist loads again.
    pub(crate) fn check_learnt_addr(&mut self, host: &str, port: i64) -> Option<Addr> {
        let host_ok =
            is_ip_literal(host) || (self.settings.resolve_hostnames && is_plausible_hostname(host));
        if !host_ok {
            self.out.push(super::Action::Log {
                level: super::Level::Warning,
                text: format!("Failed to resolve hostname '{}'", host.escape_debug()),
            });
            return None;
        }
        if !(1..=65535).contains(&port) {
            self.out.push(super::Action::Log {
                level: super::Level::Warning,
                text: format!("Invalid port number {port} for '{host}'"),
            });
            return None;
        }
        Some(Addr::new(host, port as u16))
    }

    pub(crate) fn create_master(
        &mut self,
        now: Millis,
        name: &str,
        host: &str,
        port: i64,
        quorum: u32,
    ) -> Result<(), CreateError> {
        let addr = self.check_addr(host, port)?;
        if self.masters.contains_key(name) {
            return Err(CreateError::Duplicate);
        }
        let mut master = Master::new(name.to_string(), addr, quorum, now);
        master.common.down_after = self.timing.default_down_after;
        master.failover_timeout = self.timing.default_failover_timeout;
        self.masters.insert(name.to_string(), master);
        Ok(())
    }

    /// Applies one `sentinel <args...>` line (without the word `sentinel`).
    /// Arguments are bytes: credentials keep them exactly; every other value
    /// (names, addresses, numbers, paths) is read as text.
    pub fn apply_directive<A: AsRef<[u8]>>(
        &mut self,
        now: Millis,
        raw: &[A],
    ) -> Result<(), String> {
        let args: Vec<String> = raw
            .iter()
            .map(|a| String::from_utf8_lossy(a.as_ref()).into_owned())
            .collect();
        let secret = |i: usize| raw[i].as_ref().to_vec();
        let Some(sub) = args.first() else {
            return Err(UNRECOGNIZED.into());
        };
        let sub = sub.to_ascii_lowercase();
        let argc = args.len();
        match (sub.as_str(), argc) {
            ("monitor", 5) => {
                let quorum = atoi(&args[4]);
                if quorum <= 0 {
                    return Err("Quorum must be 1 or greater.".into());
                }
                let quorum = u32::try_from(quorum).unwrap_or(u32::MAX);
                self.create_master(now, &args[1], &args[2], atoi(&args[3]), quorum)
                    .map_err(|e| e.master_text().to_string())
            }
            ("down-after-milliseconds", 3) => {
                let ms = atoi(&args[2]);
                let master = self.master_mut(&args[1])?;
                if ms <= 0 {
                    return Err("negative or zero time parameter.".into());
                }
                master.set_down_after(ms as u64);
                Ok(())
            }
            ("failover-timeout", 3) => {
                let ms = atoi(&args[2]);
                let master = self.master_mut(&args[1])?;
                if ms <= 0 {
                    return Err("negative or zero time parameter.".into());
                }
                master.failover_timeout = ms as u64;
                Ok(())
            }
            ("parallel-syncs", 3) => {
                let n = atoi(&args[2]);
                self.master_mut(&args[1])?.parallel_syncs = n.clamp(0, u32::MAX as i64) as u32;
                Ok(())
            }
            ("notification-script", 3) => {
                let ok = (self.script_check)(&args[2]);
                let master = self.master_mut(&args[1])?;
                if !ok {
                    return Err("Notification script seems non existing or non executable.".into());
                }
                master.notification_script = Some(args[2].clone());
                Ok(())
            }
            ("client-reconfig-script", 3) => {
                let ok = (self.script_check)(&args[2]);
                let master = self.master_mut(&args[1])?;
                if !ok {
                    return Err(
                        "Client reconfiguration script seems non existing or non executable."
                            .into(),
                    );
                }
                master.client_reconfig_script = Some(args[2].clone());
                Ok(())
            }
            ("auth-pass", 3) => {
                self.master_mut(&args[1])?.auth_pass = Some(secret(2));
                Ok(())
            }
            ("auth-user", 3) => {
                self.master_mut(&args[1])?.auth_user = Some(secret(2));
                Ok(())
            }
            ("current-epoch", 2) => {
                let epoch = Epoch(strtoull(&args[1]));
                self.settings.current_epoch.observe(epoch);
                Ok(())
            }
            ("myid", 2) => {
                if args[1].len() != 40 {
                    return Err("Malformed Sentinel id in myid option.".into());
                }
                self.settings.myid = Some(RunId::from(args[1].as_str()));
                Ok(())
            }
            ("config-epoch", 3) => {
                let epoch = Epoch(strtoull(&args[2]));
                self.master_mut(&args[1])?.config_epoch = epoch;
                // A config epoch can never be ahead of the current epoch.
                self.settings.current_epoch.observe(epoch);
                Ok(())
            }
            ("leader-epoch", 3) => {
                let epoch = Epoch(strtoull(&args[2]));
                // Votes are never cast in epoch 0: 0 is "no vote".
                self.master_mut(&args[1])?.vote =
                    VoteRecord::restore((epoch > Epoch(0)).then_some(CastVote {
                        epoch,
                        candidate: None,
                    }));
                Ok(())
            }
            ("known-slave" | "known-replica", 4) => {
                let port = atoi(&args[3]);
                let addr = self
                    .check_addr(&args[2], port)
                    .map_err(|e| replica_error(e).to_string())?;
                let master = self.master_mut(&args[1])?;
                let key = addr.key();
                if master.replicas.contains_key(&key) {
                    return Err(replica_error(CreateError::Duplicate).into());
                }
                let replica = Replica::new(addr, master.common.down_after, now);
                master.replicas.insert(key, Box::new(replica));
                Ok(())
            }
            ("known-sentinel", 4) => {
                // The legacy form without a run id is accepted and ignored.
                self.master_mut(&args[1])?;
                Ok(())
            }
            ("known-sentinel", 5) => {
                let port = atoi(&args[3]);
                let addr = self
                    .check_addr(&args[2], port)
                    .map_err(|e| sentinel_error(e).to_string())?;
                let runid = RunId::from(args[4].as_str());
                let master = self.master_mut(&args[1])?;
                if master.sentinels.contains_key(runid.as_str()) {
                    return Err(sentinel_error(CreateError::Duplicate).into());
                }
                let peer = PeerSentinel::new(addr, runid.clone(), master.common.down_after, now);
                master.sentinels.insert(runid, Box::new(peer));
                Ok(())
            }
            ("rename-command", 4) => {
                let master = self.master_mut(&args[1])?;
                let from = args[2].to_ascii_lowercase();
                if master.renamed_commands.iter().any(|(f, _)| *f == from) {
                    return Err("Same command renamed multiple times with rename-command.".into());
                }
                master.renamed_commands.push((from, args[3].clone()));
                Ok(())
            }
            ("announce-ip", 2) => {
                if !args[1].is_empty() {
                    self.settings.announce_ip = Some(args[1].clone());
                }
                Ok(())
            }
            ("announce-port", 2) => {
                self.settings.announce_port = atoi(&args[1]).clamp(0, 65535) as u16;
                Ok(())
            }
            ("deny-scripts-reconfig", 2) => {
                self.settings.deny_scripts_reconfig = parse_yes_no(&args[1])
                    .ok_or("Please specify yes or no for the deny-scripts-reconfig options.")?;
                Ok(())
            }
            ("sentinel-user", 2) => {
                if !args[1].is_empty() {
                    self.settings.sentinel_user = Some(secret(1));
                }
                Ok(())
            }
            ("sentinel-pass", 2) => {
                if !args[1].is_empty() {
                    self.settings.sentinel_pass = Some(secret(1));
                }
                Ok(())
            }
            ("resolve-hostnames", 2) => {
                self.settings.resolve_hostnames = parse_yes_no(&args[1])
                    .ok_or("Please specify yes or no for the resolve-hostnames option.")?;
                Ok(())
            }
            ("announce-hostnames", 2) => {
                self.settings.announce_hostnames = parse_yes_no(&args[1])
                    .ok_or("Please specify yes or no for the announce-hostnames option.")?;
                Ok(())
            }
            ("master-reboot-down-after-period", 3) => {
                let ms = atoi(&args[2]);
                let master = self.master_mut(&args[1])?;
                if ms < 0 {
                    return Err("negative time parameter.".into());
                }
                master.master_reboot_down_after_period = ms as u64;
                Ok(())
            }
            _ => Err(UNRECOGNIZED.into()),
        }
    }

    fn master_mut(&mut self, name: &str) -> Result<&mut Master, String> {
        self.masters
            .get_mut(name)
            .ok_or_else(|| "No such master with specified name.".to_string())
    }
}

impl Master {
    /// Sets down-after-milliseconds and hands it to the master's replicas
    /// and sentinels, as Redis does.
    pub fn set_down_after(&mut self, ms: u64) {
        self.common.down_after = ms;
        for r in self.replicas.values_mut() {
            r.common.down_after = ms;
        }
        for s in self.sentinels.values_mut() {
            s.common.down_after = ms;
        }
    }
}

const UNRECOGNIZED: &str = "Unrecognized sentinel configuration statement.";

fn replica_error(e: CreateError) -> &'static str {
    match e {
        CreateError::Duplicate => "Duplicate hostname and port for replica.",
        other => other.master_text(),
    }
}

fn sentinel_error(e: CreateError) -> &'static str {
    match e {
        CreateError::Duplicate => "Duplicate runid for sentinel.",
        other => other.master_text(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn load(lines: &[&str]) -> Result<Sentinel, String> {
        let mut s = Sentinel::new(1, 26379);
        for line in lines {
            let args: Vec<String> = line.split_whitespace().map(String::from).collect();
            s.apply_directive(Millis(0), &args)?;
        }
        Ok(s)
    }

    #[test]
    fn atoi_behaves_like_c() {
        assert_eq!(atoi("42abc"), 42);
        assert_eq!(atoi("-7"), -7);
        assert_eq!(atoi("abc"), 0);
        assert_eq!(atoi(""), 0);
    }

    #[test]
    fn monitor_creates_a_master() {
        let s = load(&["monitor mymaster 127.0.0.1 6379 2"]).unwrap();
        let m = &s.masters["mymaster"];
        assert_eq!(m.quorum, 2);
        assert_eq!(m.common.addr, Addr::new("127.0.0.1", 6379));
        assert_eq!(m.common.down_after, 30_000);
    }

    #[test]
    fn zero_quorum_is_refused_with_redis_text() {
        assert_eq!(
            load(&["monitor m 127.0.0.1 6379 0"]).err().unwrap(),
            "Quorum must be 1 or greater."
        );
    }

    #[test]
    fn hostname_needs_resolve_hostnames() {
        assert_eq!(
            load(&["monitor m redis.example 6379 1"]).err().unwrap(),
            "Can't resolve instance hostname."
        );
        assert!(load(&["resolve-hostnames yes", "monitor m localhost 6379 1"]).is_ok());
    }

    #[test]
    fn per_master_directive_needs_the_master() {
        assert_eq!(
            load(&["down-after-milliseconds nope 5000"]).err().unwrap(),
            "No such master with specified name."
        );
    }

    #[test]
    fn down_after_propagates_to_known_instances() {
        let s = load(&[
            "monitor m 127.0.0.1 6379 2",
            "known-replica m 127.0.0.1 6380",
            "down-after-milliseconds m 5000",
        ])
        .unwrap();
        assert_eq!(
            s.masters["m"].replicas["127.0.0.1:6380"].common.down_after,
            5000
        );
    }

    #[test]
    fn duplicates_are_fatal() {
        assert_eq!(
            load(&["monitor m 127.0.0.1 6379 2", "monitor m 127.0.0.1 6380 2"])
                .err()
                .unwrap(),
            "Duplicate master name."
        );
        assert_eq!(
            load(&[
                "monitor m 127.0.0.1 6379 2",
                "known-replica m 127.0.0.1 6380",
                "known-slave m 127.0.0.1 6380"
            ])
            .err()
            .unwrap(),
            "Duplicate hostname and port for replica."
        );
    }

    #[test]
    fn config_epoch_raises_current_epoch() {
        let s = load(&[
            "monitor m 127.0.0.1 6379 2",
            "config-epoch m 7",
            "current-epoch 3",
        ])
        .unwrap();
        assert_eq!(s.settings.current_epoch.current(), Epoch(7));
    }

    #[test]
    fn unknown_statement_is_rejected() {
        assert_eq!(
            load(&["quorum m 2"]).err().unwrap(),
            "Unrecognized sentinel configuration statement."
        );
        assert_eq!(
            load(&["myid abc"]).err().unwrap(),
            "Malformed Sentinel id in myid option."
        );
    }
}
