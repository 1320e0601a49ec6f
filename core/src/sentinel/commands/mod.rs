//! `SENTINEL <subcommand>`: the client-facing command surface of the core.
//! Arity was checked by the shell against the command table; the handlers
//! still never index past the arguments they were given.

use super::actions::{CommandOutput, Durability};
use super::directives::CreateError;
use super::instance_map::{master_map, replica_map, sentinel_map};
use super::settings::{parse_yes_no, yes_no};
use super::{Level, Sentinel, SIMFAILURE_CRASH_AFTER_ELECTION, SIMFAILURE_CRASH_AFTER_PROMOTION};
use crate::glob::glob_match;
use crate::reply::Reply;
use crate::string2ll::string2ll;
use crate::time::Millis;

const NO_SUCH_MASTER: &str = "No such master with that name";
const NOT_AN_INTEGER: &str = "value is not an integer or out of range";

fn s(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn reply(r: Reply) -> CommandOutput {
    CommandOutput::reply(r)
}

impl Sentinel {
    /// The read-only `SENTINEL` subcommands, answered from `&self` so a
    /// connection can run them against the shared core without asking the
    /// driver; `None` for everything else (writes, votes, unknown names).
    pub fn query(&self, now: Millis, args: &[Vec<u8>]) -> Option<Reply> {
        // Queries run once per client request: no allocation to route one.
        // A subcommand longer than any query's name goes to `command`.
        let mut lower = [0u8; 32];
        let sub = args.first()?;
        let lower = lower.get_mut(..sub.len())?;
        lower.copy_from_slice(sub);
        lower.make_ascii_lowercase();
        let arg = |i: usize| {
            args.get(i)
                .map(|a| String::from_utf8_lossy(a))
                .unwrap_or_default()
        };
        let hostnames = self.settings.announce_hostnames;
        match std::str::from_utf8(lower).unwrap_or_default() {
            "masters" | "primaries" => Some(Reply::Array(
                self.masters
                    .values()
                    .map(|m| master_map(now, hostnames, m))
                    .collect(),
            )),
            "master" | "primary" => match self.masters.get(&*arg(1)) {
                Some(m) => Some(master_map(now, hostnames, m)),
                None => Some(Reply::err(NO_SUCH_MASTER)),
            },
            "replicas" | "slaves" => match self.masters.get(&*arg(1)) {
                Some(m) => Some(Reply::Array(
                    m.replicas
                        .values()
                        .filter(|r| r.replica_announced)
                        .map(|r| replica_map(now, hostnames, r, m))
                        .collect(),
                )),
                None => Some(Reply::err(NO_SUCH_MASTER)),
            },
            "sentinels" => match self.masters.get(&*arg(1)) {
                Some(m) => Some(Reply::Array(
                    m.sentinels
                        .iter()
                        .map(|(id, p)| sentinel_map(now, hostnames, id, p))
                        .collect(),
                )),
                None => Some(Reply::err(NO_SUCH_MASTER)),
            },
            "get-master-addr-by-name" | "get-primary-addr-by-name" => {
                match self.masters.get(&*arg(1)) {
                    Some(m) => {
                        let a = m.current_addr();
                        Some(Reply::Array(vec![
                            Reply::bulk(self.announced(a)),
                            Reply::bulk_int(a.port as i64),
                        ]))
                    }
                    None => Some(Reply::NullArray),
                }
            }
            "ckquorum" => Some(self.ckquorum_cmd(&arg(1)).reply),
            "info-cache" => Some(self.info_cache_cmd(now, args).reply),
            "myid" => Some(Reply::bulk(self.myid())),
            _ => None,
        }
    }

    /// Runs `SENTINEL <args...>`; `args[0]` is the subcommand. A command
    /// that changed persisted state (itself, or through a vote or a new
    /// epoch) queues one [`super::Action::Persist`] and its reply is
    /// [`Durability::AfterWrite`].
    pub fn command(&mut self, now: Millis, args: &[Vec<u8>]) -> CommandOutput {
        let requests_before = self.persist_requests;
        let mut out = self.run_command(now, args);
        if out.after_write() {
            self.request_persist();
        } else if self.persist_requests != requests_before {
            out.durability = Durability::AfterWrite;
        }
        out
    }

    fn run_command(&mut self, now: Millis, args: &[Vec<u8>]) -> CommandOutput {
        if let Some(r) = self.query(now, args) {
            return reply(r);
        }
        let Some(sub) = args.first() else {
            return reply(Reply::err(
                "wrong number of arguments for 'sentinel' command",
            ));
        };
        let sub = s(sub).to_ascii_lowercase();
        let arg = |i: usize| args.get(i).map(|a| s(a)).unwrap_or_default();
        match sub.as_str() {
            "is-master-down-by-addr" | "is-primary-down-by-addr" => {
                self.is_master_down_cmd(now, args)
            }
            "reset" => {
                let pattern = args.get(1).cloned().unwrap_or_default();
                let names: Vec<String> = self
                    .masters
                    .keys()
                    .filter(|n| glob_match(&pattern, n.as_bytes(), false))
                    .cloned()
                    .collect();
                for name in &names {
                    self.reset_master(now, name, true);
                }
                reply(Reply::Int(names.len() as i64))
            }
            "failover" => {
                let option = args.get(2).map(|a| s(a));
                self.failover_cmd(now, &arg(1), option.as_deref())
            }
            "flushconfig" => CommandOutput::flushed(Reply::ok()),
            "monitor" => self.monitor_cmd(now, args),
            "remove" => {
                let name = arg(1);
                if !self.masters.contains_key(&name) {
                    return reply(Reply::err(NO_SUCH_MASTER));
                }
                self.master_event(&name, Level::Warning, "-monitor", |_| String::new());
                let peers: Vec<String> = self.masters[&name].sentinels.keys().cloned().collect();
                self.masters.remove(&name);
                self.fence_forget(&name);
                self.push(super::Action::DropLinks { master: name });
                self.close_orphan_sentinel_links(peers);
                CommandOutput::flushed(Reply::ok())
            }
            "set" => self.set_cmd(now, args),
            "config" => self.config_cmd(args),
            "pending-scripts" => reply(self.pending_scripts_reply(now)),
            "simulate-failure" => {
                let mut flags = 0;
                for a in &args[1..] {
                    match s(a).to_ascii_lowercase().as_str() {
                        "crash-after-election" => flags |= SIMFAILURE_CRASH_AFTER_ELECTION,
                        "crash-after-promotion" => flags |= SIMFAILURE_CRASH_AFTER_PROMOTION,
                        "help" => {
                            return reply(Reply::Array(vec![
                                Reply::bulk("crash-after-election"),
                                Reply::bulk("crash-after-promotion"),
                            ]))
                        }
                        _ => return reply(Reply::err("Unknown failure simulation specified")),
                    }
                }
                self.simulate_failure = flags;
                reply(Reply::ok())
            }
            "debug" => self.debug_cmd(args),
            "help" => reply(help()),
            _ => reply(Reply::err(format!(
                "unknown subcommand '{}'. Try SENTINEL HELP.",
                String::from_utf8_lossy(&args[0])
            ))),
        }
    }

    fn monitor_cmd(&mut self, now: Millis, args: &[Vec<u8>]) -> CommandOutput {
        if args.len() < 5 {
            return reply(Reply::err(
                "wrong number of arguments for 'sentinel|monitor' command",
            ));
        }
        let Some(quorum) = string2ll(&args[4]) else {
            return reply(Reply::err("Invalid quorum"));
        };
        let Some(port) = string2ll(&args[3]) else {
            return reply(Reply::err("Invalid port"));
        };
        if quorum <= 0 {
            return reply(Reply::err("Quorum must be 1 or greater."));
        }
        let name = s(&args[1]);
        let host = s(&args[2]);
        if !self.settings.resolve_hostnames && !super::addr::is_ip_literal(&host) {
            return reply(Reply::err("Invalid IP address or hostname specified"));
        }
        let quorum = u32::try_from(quorum).unwrap_or(u32::MAX);
        match self.create_master(now, &name, &host, port, quorum) {
            Ok(()) => {
                self.master_event(&name, Level::Warning, "+monitor", |m| {
                    format!("quorum {}", m.quorum)
                });
                CommandOutput::flushed(Reply::ok())
            }
            Err(
                e @ (CreateError::Duplicate | CreateError::Unresolvable | CreateError::BadPort),
            ) => reply(Reply::err(e.master_text())),
        }
    }

    fn ckquorum_cmd(&self, name: &str) -> CommandOutput {
        let Some(m) = self.masters.get(name) else {
            return reply(Reply::err(NO_SUCH_MASTER));
        };
        let usable = 1 + m
            .sentinels
            .values()
            .filter(|p| !p.common.s_down && !p.common.o_down)
            .count();
        let no_quorum = !m.odown_rule().is_reached(usable);
        let no_auth = !m.majority_rule().is_reached(usable);
        if !no_quorum && !no_auth {
            return reply(Reply::Simple(format!(
                "OK {usable} usable Sentinels. Quorum and failover authorization can be reached"
            )));
        }
        let mut e = format!("NOQUORUM {usable} usable Sentinels. ");
        if no_quorum {
            e.push_str(
                "Not enough available Sentinels to reach the specified quorum for this master",
            );
        }
        if no_auth {
            if no_quorum {
                e.push_str(". ");
            }
            e.push_str(
                "Not enough available Sentinels to reach the majority and authorize a failover",
            );
        }
        reply(Reply::Error(e))
    }

    fn set_cmd(&mut self, now: Millis, args: &[Vec<u8>]) -> CommandOutput {
        let name = args.get(1).map(|a| s(a)).unwrap_or_default();
        if !self.masters.contains_key(&name) {
            return reply(Reply::err(NO_SUCH_MASTER));
        }
        let mut changes = 0;
        let mut j = 2;
        let fail = |changes: usize, r: Reply| CommandOutput {
            reply: r,
            durability: if changes > 0 {
                Durability::AfterWrite
            } else {
                Durability::Immediate
            },
        };
        while j < args.len() {
            let option = s(&args[j]);
            let opt = option.to_ascii_lowercase();
            let more = args.len() - 1 - j;
            let start = j;
            let bad = |j: usize| {
                Reply::err(format!(
                    "Invalid argument '{}' for SENTINEL SET '{}'",
                    String::from_utf8_lossy(&args[j]),
                    option
                ))
            };
            let mut redact = false;
            let script_check = self.script_check;
            let deny_scripts = self.settings.deny_scripts_reconfig;
            let Some(m) = self.masters.get_mut(&name) else {
                break;
            };
            match opt.as_str() {
                "down-after-milliseconds" | "failover-timeout" | "parallel-syncs" | "quorum"
                    if more > 0 =>
                {
                    j += 1;
                    let v = match string2ll(&args[j]) {
                        Some(v) if v > 0 => v as u64,
                        _ => return fail(changes, bad(j)),
                    };
                    match opt.as_str() {
                        "down-after-milliseconds" => m.set_down_after(v),
                        "failover-timeout" => m.failover_timeout = v,
                        "parallel-syncs" => m.parallel_syncs = v.min(u32::MAX as u64) as u32,
                        _ => m.quorum = v.min(u32::MAX as u64) as u32,
                    }
                }
                "master-reboot-down-after-period" if more > 0 => {
                    j += 1;
                    match string2ll(&args[j]) {
                        Some(v) if v >= 0 => m.master_reboot_down_after_period = v as u64,
                        _ => return fail(changes, bad(j)),
                    }
                }
                "notification-script" | "client-reconfig-script" if more > 0 => {
                    j += 1;
                    if deny_scripts {
                        return fail(changes, Reply::err("Reconfiguration of scripts path is denied for security reasons. Check the deny-scripts-reconfig configuration directive in your Sentinel configuration"));
                    }
                    let path = s(&args[j]);
                    if !path.is_empty() && !script_check(&path) {
                        let msg = if opt == "notification-script" {
                            "Notification script seems non existing or non executable"
                        } else {
                            "Client reconfiguration script seems non existing or non executable"
                        };
                        return fail(changes, Reply::err(msg));
                    }
                    let value = (!path.is_empty()).then_some(path);
                    if opt == "notification-script" {
                        m.notification_script = value;
                    } else {
                        m.client_reconfig_script = value;
                    }
                }
                "auth-pass" | "auth-user" if more > 0 => {
                    j += 1;
                    // Credentials are bytes, stored exactly as sent.
                    let value = Some(args[j].clone()).filter(|v| !v.is_empty());
                    if opt == "auth-pass" {
                        m.auth_pass = value;
                        redact = true;
                    } else {
                        m.auth_user = value;
                    }
                    // New credentials: every link of this master reconnects.
                    m.common.link.cc_connected = false;
                    for r in m.replicas.values_mut() {
                        r.common.link.cc_connected = false;
                    }
                    self.push(super::Action::DropLinks {
                        master: name.clone(),
                    });
                }
                "rename-command" if more > 1 => {
                    let from = s(&args[j + 1]);
                    let to = s(&args[j + 2]);
                    j += 2;
                    if from.is_empty() || to.is_empty() {
                        let which = if to.is_empty() { j } else { j - 1 };
                        return fail(changes, bad(which));
                    }
                    let from_l = from.to_ascii_lowercase();
                    m.renamed_commands.retain(|(f, _)| *f != from_l);
                    if !from.eq_ignore_ascii_case(&to) {
                        m.renamed_commands.push((from_l, to));
                    }
                }
                _ => {
                    return fail(
                        changes,
                        Reply::err(format!(
                            "Unknown option or number of arguments for SENTINEL SET '{option}'"
                        )),
                    )
                }
            }
            changes += 1;
            let shown: Vec<String> = args[start..=j]
                .iter()
                .enumerate()
                .map(|(i, a)| {
                    if redact && i == 1 {
                        "******".to_string()
                    } else {
                        s(a)
                    }
                })
                .collect();
            self.master_event(&name, Level::Warning, "+set", |_| shown.join(" "));
            j += 1;
        }
        let _ = now;
        CommandOutput::flushed(Reply::ok())
    }

    fn config_cmd(&mut self, args: &[Vec<u8>]) -> CommandOutput {
        let what = args
            .get(1)
            .map(|a| s(a).to_ascii_lowercase())
            .unwrap_or_default();
        if what == "get" && args.len() >= 3 {
            let mut pairs: Vec<(&str, Reply)> = Vec::new();
            let values = self.config_values();
            for (k, v) in values {
                if args[2..].iter().any(|p| glob_match(p, k.as_bytes(), true)) {
                    pairs.push((k, v));
                }
            }
            return reply(Reply::map_of(pairs));
        }
        if what == "set" && args.len() >= 4 && args.len().is_multiple_of(2) {
            return self.config_set(&args[2..]);
        }
        if what == "set" && args.len() >= 3 && args.len() % 2 == 1 {
            return reply(Reply::err(format!(
                "Missing argument '{}' value",
                s(&args[args.len() - 1])
            )));
        }
        reply(Reply::err(
            "Only SENTINEL CONFIG GET <option> / SET <option> <value> are supported.",
        ))
    }

    fn config_values(&self) -> Vec<(&'static str, Reply)> {
        let st = &self.settings;
        vec![
            (
                "resolve-hostnames",
                Reply::bulk(yes_no(st.resolve_hostnames)),
            ),
            (
                "announce-hostnames",
                Reply::bulk(yes_no(st.announce_hostnames)),
            ),
            (
                "announce-ip",
                Reply::bulk(st.announce_ip.as_deref().unwrap_or("")),
            ),
            ("announce-port", Reply::bulk_int(st.announce_port as i64)),
            (
                "sentinel-user",
                Reply::bulk(st.sentinel_user.as_deref().unwrap_or_default()),
            ),
            (
                "sentinel-pass",
                Reply::bulk(st.sentinel_pass.as_deref().unwrap_or_default()),
            ),
        ]
    }

    /// `CONFIG SET p v [p v ...]`: validates every pair first (7.2 rules),
    /// then applies them all.
    fn config_set(&mut self, pairs: &[Vec<u8>]) -> CommandOutput {
        let mut seen: Vec<String> = Vec::new();
        for pair in pairs.chunks(2) {
            let (p, v) = (s(&pair[0]).to_ascii_lowercase(), s(&pair[1]));
            let invalid_value = || {
                reply(Reply::err(format!(
                    "Invalid value '{v}' to SENTINEL CONFIG SET '{p}'"
                )))
            };
            match p.as_str() {
                "resolve-hostnames" | "announce-hostnames" => {
                    if parse_yes_no(&v).is_none() {
                        return invalid_value();
                    }
                }
                "announce-port" => match string2ll(&pair[1]) {
                    Some(n) if (0..=65535).contains(&n) => {}
                    _ => return invalid_value(),
                },
                "announce-ip" | "sentinel-user" | "sentinel-pass" => {}
                _ => {
                    return reply(Reply::err(format!(
                        "Invalid argument '{}' to SENTINEL CONFIG SET",
                        s(&pair[0])
                    )))
                }
            }
            if seen.contains(&p) {
                return reply(Reply::err(format!(
                    "Duplicate argument '{p}' to SENTINEL CONFIG SET"
                )));
            }
            seen.push(p);
        }
        let mut drop_peer_links = false;
        for pair in pairs.chunks(2) {
            let (p, v) = (s(&pair[0]).to_ascii_lowercase(), s(&pair[1]));
            let st = &mut self.settings;
            match p.as_str() {
                "resolve-hostnames" => st.resolve_hostnames = parse_yes_no(&v).unwrap_or(false),
                "announce-hostnames" => st.announce_hostnames = parse_yes_no(&v).unwrap_or(false),
                // Redis stores an empty announce-ip as given (announcing "").
                "announce-ip" => st.announce_ip = Some(v),
                "announce-port" => st.announce_port = v.parse().unwrap_or(0),
                // Credentials are bytes, stored exactly as sent.
                "sentinel-user" => {
                    st.sentinel_user = Some(pair[1].clone()).filter(|v| !v.is_empty());
                    drop_peer_links = true;
                }
                _ => {
                    st.sentinel_pass = Some(pair[1].clone()).filter(|v| !v.is_empty());
                    drop_peer_links = true;
                }
            }
        }
        if drop_peer_links {
            self.push(super::Action::DropSentinelLinks);
        }
        CommandOutput::flushed(Reply::ok())
    }

    fn info_cache_cmd(&self, now: Millis, args: &[Vec<u8>]) -> CommandOutput {
        let mut names: Vec<String> = Vec::new();
        for a in &args[1..] {
            let n = s(a);
            if self.masters.contains_key(&n) && !names.contains(&n) {
                names.push(n);
            }
        }
        let mut out = Vec::new();
        for name in names {
            let m = &self.masters[&name];
            let entry = |age: i64, text: &Option<String>| {
                Reply::Array(vec![
                    Reply::Int(age),
                    text.as_ref().map_or(Reply::Null, Reply::bulk),
                ])
            };
            let mut items = vec![entry(
                m.common.info_refresh.map_or(0, |t| now.since(t).0 as i64),
                &m.common.info_text,
            )];
            for r in m.replicas.values() {
                let age = r.common.info_refresh.map_or(0, |t| now.since(t).0 as i64);
                items.push(entry(age, &r.common.info_text));
            }
            out.push(Reply::bulk(&name));
            out.push(Reply::Array(items));
        }
        reply(Reply::Array(out))
    }

    fn debug_cmd(&mut self, args: &[Vec<u8>]) -> CommandOutput {
        if args.len() == 1 {
            let pairs: Vec<(&str, Reply)> = self
                .timing
                .entries()
                .iter()
                .map(|(k, v)| (*k, Reply::bulk_int(*v as i64)))
                .collect();
            return reply(Reply::map_of(pairs));
        }
        let mut j = 1;
        while j < args.len() {
            let p = s(&args[j]);
            if j + 1 >= args.len() || self.timing.field_mut(&p).is_none() {
                return reply(Reply::err(format!(
                    "Unknown option or number of arguments for SENTINEL DEBUG '{p}'"
                )));
            }
            let v = match string2ll(&args[j + 1]) {
                Some(v) if v > 0 => v as u64,
                _ => {
                    return reply(Reply::err(format!(
                        "Invalid argument '{}' for SENTINEL DEBUG '{p}'",
                        s(&args[j + 1])
                    )))
                }
            };
            if let Some(f) = self.timing.field_mut(&p) {
                *f = v;
            }
            j += 2;
        }
        reply(Reply::ok())
    }
}

pub(crate) fn not_an_integer() -> Reply {
    Reply::err(NOT_AN_INTEGER)
}

fn help() -> Reply {
    const LINES: &[&str] = &[
        "SENTINEL <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
        "CKQUORUM <master-name>",
        "    Check if the current Sentinel configuration is able to reach the quorum",
        "    needed to failover a master and the majority needed to authorize the",
        "    failover.",
        "CONFIG SET <param> <value>",
        "    Set a global Sentinel configuration parameter.",
        "CONFIG GET <param>",
        "    Get global Sentinel configuration parameter.",
        "DEBUG [<param> <value> ...]",
        "    Show a list of configurable time parameters and their values (milliseconds).",
        "    Or update current configurable parameters values (one or more).",
        "GET-MASTER-ADDR-BY-NAME <master-name>",
        "    Return the ip and port number of the master with that name.",
        "FAILOVER <master-name>",
        "    Manually failover a master node without asking for agreement from other",
        "    Sentinels",
        "FLUSHCONFIG",
        "    Force Sentinel to rewrite its configuration on disk, including the current",
        "    Sentinel state.",
        "INFO-CACHE <master-name>",
        "    Return last cached INFO output from masters and all its replicas.",
        "IS-MASTER-DOWN-BY-ADDR <ip> <port> <current-epoch> <runid>",
        "    Check if the master specified by ip:port is down from current Sentinel's",
        "    point of view.",
        "MASTER <master-name>",
        "    Show the state and info of the specified master.",
        "MASTERS",
        "    Show a list of monitored masters and their state.",
        "MONITOR <name> <ip> <port> <quorum>",
        "    Start monitoring a new master with the specified name, ip, port and quorum.",
        "MYID",
        "    Return the ID of the Sentinel instance.",
        "PENDING-SCRIPTS",
        "    Get pending scripts information.",
        "REMOVE <master-name>",
        "    Remove master from Sentinel's monitor list.",
        "REPLICAS <master-name>",
        "    Show a list of replicas for this master and their state.",
        "RESET <pattern>",
        "    Reset masters for specific master name matching this pattern.",
        "SENTINELS <master-name>",
        "    Show a list of Sentinel instances for this master and their state.",
        "SET <master-name> <option> <value> [<option> <value> ...]",
        "    Set configuration parameters for certain masters.",
        "SIMULATE-FAILURE [CRASH-AFTER-ELECTION] [CRASH-AFTER-PROMOTION] [HELP]",
        "    Simulate a Sentinel crash.",
        "HELP",
        "    Prints this help.",
    ];
    Reply::Array(LINES.iter().map(|l| Reply::Simple(l.to_string())).collect())
}
