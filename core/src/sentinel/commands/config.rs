//! The `SENTINEL` subcommands that change what is monitored and the global
//! settings: MONITOR, REMOVE, RESET, CONFIG GET / SET (FLUSHCONFIG needs no
//! handler: its reply simply waits for the write).

use std::borrow::Cow;

use super::{text, SentinelCommand, NO_SUCH_MASTER};
use crate::glob::glob_match;
use crate::ids::RunId;
use crate::reply::Reply;
use crate::sentinel::actions::CommandOutput;
use crate::sentinel::addr::is_ip_literal;
use crate::sentinel::directives::CreateError;
use crate::sentinel::settings::{parse_yes_no, yes_no};
use crate::sentinel::{Action, Level, Sentinel};
use crate::string2ll::string2ll;
use crate::time::Millis;

/// One `CONFIG SET` parameter with its checked value.
#[derive(Debug)]
pub(crate) enum ConfigSetting<'a> {
    ResolveHostnames(bool),
    AnnounceHostnames(bool),
    /// Redis keeps an empty announce-ip as given (announcing "").
    AnnounceIp(Cow<'a, str>),
    AnnouncePort(u16),
    /// Credentials are bytes, stored exactly as sent (empty: none).
    SentinelUser(&'a [u8]),
    SentinelPass(&'a [u8]),
}

/// What `MONITOR` asks for.
#[derive(Debug)]
pub(crate) struct NewMaster<'a> {
    name: Cow<'a, str>,
    host: Cow<'a, str>,
    port: i64,
    quorum: u32,
}

/// `MONITOR <name> <host> <port> <quorum>`: the quorum is checked before
/// the port, as Redis does; the host is checked when it runs (it depends
/// on `resolve-hostnames`).
pub(super) fn parse_monitor(args: &[Vec<u8>]) -> Result<SentinelCommand<'_>, Reply> {
    let quorum = string2ll(&args[4]).ok_or_else(|| Reply::err("Invalid quorum"))?;
    let port = string2ll(&args[3]).ok_or_else(|| Reply::err("Invalid port"))?;
    if quorum <= 0 {
        return Err(Reply::err("Quorum must be 1 or greater."));
    }
    Ok(SentinelCommand::Monitor(NewMaster {
        name: text(&args[1]),
        host: text(&args[2]),
        port,
        quorum: u32::try_from(quorum).unwrap_or(u32::MAX),
    }))
}

/// `CONFIG GET <pattern>...` or `CONFIG SET <param> <value> [...]`; every
/// pair of a SET is checked before any is applied (Redis 7.2's rules).
pub(super) fn parse_config(args: &[Vec<u8>]) -> Result<SentinelCommand<'_>, Reply> {
    // Redis 7.0's form, the oracle: exactly one pattern to GET and one
    // option with its value to SET (7.2 took several; 7.0 refuses them).
    let get = args[1].eq_ignore_ascii_case(b"get");
    let set = args[1].eq_ignore_ascii_case(b"set");
    if get && args.len() == 3 {
        return Ok(SentinelCommand::ConfigGet(&args[2..]));
    }
    if set && args.len() == 4 {
        return parse_config_set(&args[2..]).map(SentinelCommand::ConfigSet);
    }
    Err(Reply::err(
        "Only SENTINEL CONFIG GET <option> / SET <option> <value> are supported.",
    ))
}

fn parse_config_set(pairs: &[Vec<u8>]) -> Result<Vec<ConfigSetting<'_>>, Reply> {
    let mut settings = Vec::new();
    for pair in pairs.chunks(2) {
        let (p, v) = (text(&pair[0]).to_ascii_lowercase(), text(&pair[1]));
        let invalid_value =
            || Reply::err(format!("Invalid value '{v}' to SENTINEL CONFIG SET '{p}'"));
        let yes_no = || parse_yes_no(&v).ok_or_else(invalid_value);
        let setting = match p.as_str() {
            "resolve-hostnames" => ConfigSetting::ResolveHostnames(yes_no()?),
            "announce-hostnames" => ConfigSetting::AnnounceHostnames(yes_no()?),
            "announce-port" => {
                let port = string2ll(&pair[1]).and_then(|n| u16::try_from(n).ok());
                ConfigSetting::AnnouncePort(port.ok_or_else(invalid_value)?)
            }
            "announce-ip" => ConfigSetting::AnnounceIp(v.clone()),
            "sentinel-user" => ConfigSetting::SentinelUser(&pair[1]),
            "sentinel-pass" => ConfigSetting::SentinelPass(&pair[1]),
            _ => {
                return Err(Reply::err(format!(
                    "Invalid argument '{}' to SENTINEL CONFIG SET",
                    text(&pair[0])
                )))
            }
        };
        settings.push(setting);
    }
    Ok(settings)
}

impl Sentinel {
    pub(super) fn monitor_cmd(&mut self, now: Millis, new: &NewMaster<'_>) -> CommandOutput {
        let NewMaster {
            name,
            host,
            port,
            quorum,
        } = new;
        if !self.settings.resolve_hostnames && !is_ip_literal(host) {
            return CommandOutput::reply(Reply::err("Invalid IP address or hostname specified"));
        }
        match self.create_master(now, name, host, *port, *quorum) {
            Ok(()) => {
                self.master_event(name, Level::Warning, "+monitor", |m| {
                    format!("quorum {}", m.quorum)
                });
                CommandOutput::flushed(Reply::ok())
            }
            Err(
                e @ (CreateError::Duplicate | CreateError::Unresolvable | CreateError::BadPort),
            ) => CommandOutput::reply(Reply::err(e.master_text())),
        }
    }

    pub(super) fn remove_cmd(&mut self, name: &str) -> CommandOutput {
        let Some(m) = self.masters.get(name) else {
            return CommandOutput::reply(Reply::err(NO_SUCH_MASTER));
        };
        let peers: Vec<RunId> = m.sentinels.keys().cloned().collect();
        self.master_event(name, Level::Warning, "-monitor", |_| String::new());
        self.masters.remove(name);
        self.fence_forget(name);
        self.out.push(Action::DropLinks {
            master: name.to_string(),
        });
        self.close_orphan_sentinel_links(peers);
        CommandOutput::flushed(Reply::ok())
    }

    /// Resets every master whose name matches `pattern`; replies how many.
    pub(super) fn reset_cmd(&mut self, now: Millis, pattern: &[u8]) -> CommandOutput {
        let names: Vec<String> = self
            .masters
            .keys()
            .filter(|n| glob_match(pattern, n.as_bytes(), false))
            .cloned()
            .collect();
        for name in &names {
            self.reset_master(now, name, true);
        }
        CommandOutput::reply(Reply::Int(names.len() as i64))
    }

    pub(super) fn config_get(&self, patterns: &[Vec<u8>]) -> CommandOutput {
        let pairs: Vec<(&str, Reply)> = self
            .config_values()
            .into_iter()
            .filter(|(k, _)| patterns.iter().any(|p| glob_match(p, k.as_bytes(), true)))
            .collect();
        CommandOutput::reply(Reply::map_of(pairs))
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

    pub(super) fn config_set(&mut self, settings: Vec<ConfigSetting<'_>>) -> CommandOutput {
        let credential = |v: &[u8]| Some(v.to_vec()).filter(|v| !v.is_empty());
        let mut drop_peer_links = false;
        for setting in settings {
            let st = &mut self.settings;
            match setting {
                ConfigSetting::ResolveHostnames(b) => st.resolve_hostnames = b,
                ConfigSetting::AnnounceHostnames(b) => st.announce_hostnames = b,
                ConfigSetting::AnnounceIp(ip) => st.announce_ip = Some(ip.into_owned()),
                ConfigSetting::AnnouncePort(port) => st.announce_port = port,
                ConfigSetting::SentinelUser(user) => {
                    st.sentinel_user = credential(user);
                    drop_peer_links = true;
                }
                ConfigSetting::SentinelPass(pass) => {
                    st.sentinel_pass = credential(pass);
                    drop_peer_links = true;
                }
            }
        }
        if drop_peer_links {
            self.out.push(Action::DropSentinelLinks);
        }
        CommandOutput::flushed(Reply::ok())
    }
}
