//! The generic (non-`sentinel`) server options of `sentinel.conf`, validated
//! with Redis's messages, and how a flush writes them back.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use super::client_limits::{self, ClientLimits};
use super::error::{strerror, ConfigError};
use super::known_directives::is_known_directive;
use super::read::{text_args, Directive};
use super::rewrite::RewriteLine;
use crate::resp::split_args::repr;

const BAD_DIRECTIVE: &str = "Bad directive or wrong number of arguments";
const WRONG_ARITY: &str = "wrong number of arguments";

/// `loglevel` values, least to most severe.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum LogLevel {
    Debug,
    Verbose,
    Notice,
    Warning,
}

impl LogLevel {
    const NAMES: [&'static str; 4] = ["debug", "verbose", "notice", "warning"];

    /// The config spelling (`notice`).
    pub fn as_str(self) -> &'static str {
        Self::NAMES[self as usize]
    }

    fn from_index(i: usize) -> LogLevel {
        [Self::Debug, Self::Verbose, Self::Notice, Self::Warning][i]
    }
}

/// `tls-auth-clients` values.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TlsAuthClients {
    No,
    Yes,
    Optional,
}

impl TlsAuthClients {
    const NAMES: [&'static str; 3] = ["no", "yes", "optional"];

    /// The config spelling (`optional`).
    pub fn as_str(self) -> &'static str {
        Self::NAMES[self as usize]
    }
}

/// `supervised` values, in Redis's order (its error message lists them so).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Supervised {
    Upstart,
    Systemd,
    Auto,
    No,
}

impl Supervised {
    const NAMES: [&'static str; 4] = ["upstart", "systemd", "auto", "no"];

    /// The config spelling (`systemd`).
    pub fn as_str(self) -> &'static str {
        Self::NAMES[self as usize]
    }

    fn from_index(i: usize) -> Supervised {
        [Self::Upstart, Self::Systemd, Self::Auto, Self::No][i]
    }
}

/// `syslog-facility` values, in Redis's order.
pub const SYSLOG_FACILITIES: [&str; 9] = [
    "user", "local0", "local1", "local2", "local3", "local4", "local5", "local6", "local7",
];

/// TLS settings. Loaded into rustls by `crate::tls` at start-up.
#[derive(Debug, Clone, PartialEq)]
pub struct TlsOptions {
    pub port: u16,
    pub replication: bool,
    pub cluster: bool,
    pub auth_clients: TlsAuthClients,
    pub prefer_server_ciphers: bool,
    pub session_caching: bool,
    pub session_cache_size: u32,
    pub session_cache_timeout: u32,
    /// `tls-cert-file`, `tls-key-file`, ... keyed by directive name; see
    /// [`TLS_STRING_OPTIONS`].
    pub files: BTreeMap<&'static str, String>,
}

/// The free-form `tls-*` options (paths, passwords, cipher lists).
pub const TLS_STRING_OPTIONS: &[&str] = &[
    "tls-cert-file",
    "tls-key-file",
    "tls-key-file-pass",
    "tls-client-cert-file",
    "tls-client-key-file",
    "tls-client-key-file-pass",
    "tls-dh-params-file",
    "tls-ca-cert-file",
    "tls-ca-cert-dir",
    "tls-protocols",
    "tls-ciphers",
    "tls-ciphersuites",
];

impl Default for TlsOptions {
    fn default() -> Self {
        TlsOptions {
            port: 0,
            replication: false,
            cluster: false,
            auth_clients: TlsAuthClients::Yes,
            prefer_server_ciphers: false,
            session_caching: true,
            session_cache_size: 20480,
            session_cache_timeout: 300,
            files: BTreeMap::new(),
        }
    }
}

/// Generic server options with sentinel's defaults.
#[derive(Debug, Clone, PartialEq)]
pub struct ServerOptions {
    pub port: u16,
    pub protected_mode: bool,
    /// Listen addresses; a leading `-` marks an optional one (`-::*`).
    pub bind: Vec<String>,
    /// Working directory, made absolute while loading; the shell `chdir`s
    /// here after loading, as Redis does on the `dir` line.
    pub dir: PathBuf,
    /// Empty = log to stdout.
    pub logfile: String,
    pub loglevel: LogLevel,
    /// `syslog-enabled`: every log line also goes to syslog.
    pub syslog_enabled: bool,
    pub syslog_ident: String,
    /// One of [`SYSLOG_FACILITIES`].
    pub syslog_facility: &'static str,
    pub supervised: Supervised,
    pub daemonize: bool,
    pub pidfile: Option<String>,
    /// `unixsocket`: a Unix socket path clients may connect to as well.
    pub unixsocket: Option<String>,
    /// `unixsocketperm`: the socket file's mode (octal in the config).
    pub unixsocketperm: u32,
    /// The default user's password: any bytes, exactly as configured.
    pub requirepass: Option<Vec<u8>>,
    pub aclfile: Option<String>,
    pub maxclients: u32,
    pub hz: u32,
    pub latency_tracking_info_percentiles: Vec<f64>,
    pub bind_source_addr: Option<String>,
    /// Each `user` line's arguments after `user` (bytes: rules may hold
    /// passwords), for the ACL engine.
    pub users: Vec<Vec<Vec<u8>>>,
    /// Lower-case original command name -> lower-case new name; an empty
    /// new name disables the command.
    pub renamed_commands: BTreeMap<String, String>,
    pub tls: TlsOptions,
    /// `timeout`, `tcp-keepalive` and the client buffer limits.
    pub limits: ClientLimits,
}

impl Default for ServerOptions {
    fn default() -> Self {
        ServerOptions {
            port: 26379,
            protected_mode: false,
            bind: vec!["*".into(), "-::*".into()],
            dir: PathBuf::from("."),
            logfile: String::new(),
            loglevel: LogLevel::Notice,
            syslog_enabled: false,
            syslog_ident: "redis".into(),
            syslog_facility: "local0",
            supervised: Supervised::No,
            daemonize: false,
            pidfile: None,
            unixsocket: None,
            unixsocketperm: 0,
            requirepass: None,
            aclfile: None,
            maxclients: 10000,
            hz: 10,
            latency_tracking_info_percentiles: vec![50.0, 99.0, 99.9],
            bind_source_addr: None,
            users: Vec::new(),
            renamed_commands: BTreeMap::new(),
            tls: TlsOptions::default(),
            limits: ClientLimits::default(),
        }
    }
}

/// Free-form string options that are absent (NULL in Redis) when empty.
const STRING_OPTIONS: &[&str] = &["pidfile", "aclfile", "bind-source-addr", "unixsocket"];

/// Keys a flush always owns, besides `user` (owned unless `aclfile` is set).
const MANAGED_KEYS: &[&str] = &[
    "port",
    "bind",
    "protected-mode",
    "daemonize",
    "pidfile",
    "unixsocket",
    "unixsocketperm",
    "loglevel",
    "logfile",
    "syslog-enabled",
    "syslog-ident",
    "syslog-facility",
    "supervised",
    "dir",
    "requirepass",
    "aclfile",
    "maxclients",
    "hz",
    "latency-tracking-info-percentiles",
    "bind-source-addr",
    "tls-port",
    "tls-replication",
    "tls-cluster",
    "tls-auth-clients",
    "tls-prefer-server-ciphers",
    "tls-session-caching",
    "tls-session-cache-size",
    "tls-session-cache-timeout",
];

impl ServerOptions {
    /// Applies the generic directives in order, starting from sentinel's
    /// defaults with `dir` = the current directory, then checks the whole
    /// (`file` names the config in that error). `is_command` says whether
    /// the sentinel's command table has a command (for `rename-command`).
    ///
    /// Nothing here changes the process's directory: the caller `chdir`s
    /// into the final [`ServerOptions::dir`] before it resolves anything
    /// else, which ends where Redis's `chdir` on each `dir` line ends.
    pub fn from_directives(
        directives: &[Directive],
        file: &str,
        is_command: &dyn Fn(&str) -> bool,
    ) -> Result<ServerOptions, ConfigError> {
        let mut options = ServerOptions::default();
        if let Ok(cwd) = std::env::current_dir() {
            options.dir = cwd;
        }
        for directive in directives {
            options
                .apply(&directive.raw_args, is_command)
                .map_err(|reason| ConfigError::at(directive, reason))?;
        }
        options
            .check_logfile()
            .map_err(|reason| ConfigError::Whole {
                reason,
                file: file.to_string(),
            })?;
        Ok(options)
    }

    /// Applies one directive (name first); the error is Redis's reason text.
    /// Directives redis-server knows but sentinel does not use are accepted
    /// and ignored. `requirepass` and `user` keep their values' exact bytes.
    pub fn apply<A: AsRef<[u8]>>(
        &mut self,
        raw: &[A],
        is_command: &dyn Fn(&str) -> bool,
    ) -> Result<(), String> {
        let args = text_args(raw);
        let Some(name) = args.first().map(|n| n.to_ascii_lowercase()) else {
            return Err(BAD_DIRECTIVE.into());
        };
        let values = &args[1..];
        let raw_values = || raw[1..].iter().map(|v| v.as_ref().to_vec());
        match name.as_str() {
            "port" => self.port = int(values, 0, 65535)? as u16,
            "tls-port" => self.tls.port = int(values, 0, 65535)? as u16,
            "maxclients" => self.maxclients = int(values, 1, u32::MAX as i64)? as u32,
            "unixsocketperm" => self.unixsocketperm = octal(values, 0o777)?,
            // Redis clamps hz into 1..=500 rather than refusing it.
            "hz" => self.hz = int(values, 0, i32::MAX as i64)?.clamp(1, 500) as u32,
            "tls-session-cache-size" => {
                self.tls.session_cache_size = int(values, 0, i32::MAX as i64)? as u32
            }
            "tls-session-cache-timeout" => {
                self.tls.session_cache_timeout = int(values, 0, i32::MAX as i64)? as u32
            }
            "timeout" => self.limits.timeout = int(values, 0, i32::MAX as i64)? as u32,
            "tcp-keepalive" => self.limits.tcp_keepalive = int(values, 0, i32::MAX as i64)? as u32,
            "client-query-buffer-limit" => self.limits.set_query_buffer(single(values)?)?,
            "client-output-buffer-limit" => self.limits.set_output(values)?,
            "protected-mode" => self.protected_mode = yes_no(values)?,
            "daemonize" => self.daemonize = yes_no(values)?,
            "tls-replication" => self.tls.replication = yes_no(values)?,
            "tls-cluster" => self.tls.cluster = yes_no(values)?,
            "tls-prefer-server-ciphers" => self.tls.prefer_server_ciphers = yes_no(values)?,
            "tls-session-caching" => self.tls.session_caching = yes_no(values)?,
            "loglevel" => self.loglevel = LogLevel::from_index(one_of(values, &LogLevel::NAMES)?),
            "syslog-enabled" => self.syslog_enabled = yes_no(values)?,
            "syslog-ident" => self.syslog_ident = single(values)?.to_string(),
            "syslog-facility" => {
                self.syslog_facility = SYSLOG_FACILITIES[one_of(values, &SYSLOG_FACILITIES)?]
            }
            "supervised" => {
                self.supervised = Supervised::from_index(one_of(values, &Supervised::NAMES)?)
            }
            "tls-auth-clients" => {
                self.tls.auth_clients = match one_of(values, &TlsAuthClients::NAMES)? {
                    0 => TlsAuthClients::No,
                    1 => TlsAuthClients::Yes,
                    _ => TlsAuthClients::Optional,
                }
            }
            "bind" => self.bind = values.to_vec(),
            "dir" => self.dir = self.checked_dir(single(values)?)?,
            "logfile" => self.logfile = single(values)?.to_string(),
            "latency-tracking-info-percentiles" => {
                self.latency_tracking_info_percentiles = percentiles(values)?
            }
            "user" if !values.is_empty() => self.users.push(raw_values().collect()),
            "requirepass" => {
                single(values)?;
                self.requirepass = raw_values().find(|p| !p.is_empty());
            }
            "rename-command" if values.len() == 2 => {
                self.rename_command(&values[0], &values[1], is_command)?
            }
            "user" | "rename-command" | "include" | "sentinel" => return Err(BAD_DIRECTIVE.into()),
            "loadmodule" if values.is_empty() => return Err(BAD_DIRECTIVE.into()),
            n if STRING_OPTIONS.contains(&n) || TLS_STRING_OPTIONS.contains(&n) => {
                let value = single(values)?;
                self.set_string(n, value);
            }
            n if is_known_directive(n) => {}
            _ => return Err(BAD_DIRECTIVE.into()),
        }
        Ok(())
    }

    /// The generic lines a flush writes, in a fixed order, followed by the
    /// ACL `user_lines` (ready-made `user ...` strings) unless `aclfile` is
    /// set. Forced exactly where redis-sentinel 7.0 forces them: values that
    /// differ from redis-server's defaults, plus `dir` and
    /// `latency-tracking-info-percentiles` always.
    pub fn rewrite_lines(&self, user_lines: &[Vec<u8>]) -> Vec<RewriteLine> {
        let mut out = Vec::new();
        let mut push = |key: &str, value: String, force: bool| {
            out.push(RewriteLine {
                key: key.to_string(),
                text: if value.is_empty() {
                    key.into()
                } else {
                    format!("{key} {value}").into_bytes()
                },
                force,
            })
        };
        let yes_no = |b: bool| if b { "yes" } else { "no" }.to_string();

        push("port", self.port.to_string(), self.port != 6379);
        let bind = self.bind.join(" ");
        push("bind", bind.clone(), bind != "* -::*");
        push(
            "protected-mode",
            yes_no(self.protected_mode),
            !self.protected_mode,
        );
        push("daemonize", yes_no(self.daemonize), self.daemonize);
        if let Some(pidfile) = &self.pidfile {
            push("pidfile", repr(pidfile.as_bytes()), true);
        }
        if let Some(path) = &self.unixsocket {
            push("unixsocket", repr(path.as_bytes()), true);
        }
        push(
            "unixsocketperm",
            format!("{:o}", self.unixsocketperm),
            self.unixsocketperm != 0,
        );
        push(
            "loglevel",
            self.loglevel.as_str().into(),
            self.loglevel != LogLevel::Notice,
        );
        push(
            "logfile",
            repr(self.logfile.as_bytes()),
            !self.logfile.is_empty(),
        );
        push(
            "syslog-enabled",
            yes_no(self.syslog_enabled),
            self.syslog_enabled,
        );
        push(
            "syslog-ident",
            repr(self.syslog_ident.as_bytes()),
            self.syslog_ident != "redis",
        );
        push(
            "syslog-facility",
            self.syslog_facility.into(),
            self.syslog_facility != "local0",
        );
        push(
            "supervised",
            self.supervised.as_str().into(),
            self.supervised != Supervised::No,
        );
        push(
            "dir",
            repr(absolute_dir(&self.dir).as_os_str().as_encoded_bytes()),
            true,
        );
        if let Some(password) = &self.requirepass {
            push("requirepass", repr(password), true);
        }
        let aclfile = self.aclfile.as_deref().unwrap_or("");
        push("aclfile", repr(aclfile.as_bytes()), !aclfile.is_empty());
        push(
            "maxclients",
            self.maxclients.to_string(),
            self.maxclients != 10000,
        );
        push("hz", self.hz.to_string(), self.hz != 10);
        let percentiles = if self.latency_tracking_info_percentiles.is_empty() {
            "\"\"".to_string()
        } else {
            let rendered: Vec<String> = self
                .latency_tracking_info_percentiles
                .iter()
                .map(|p| format_percentile(*p))
                .collect();
            rendered.join(" ")
        };
        push("latency-tracking-info-percentiles", percentiles, true);
        if let Some(addr) = &self.bind_source_addr {
            push("bind-source-addr", repr(addr.as_bytes()), true);
        }

        let tls = &self.tls;
        let tls_default = TlsOptions::default();
        push("tls-port", tls.port.to_string(), tls.port != 0);
        push("tls-replication", yes_no(tls.replication), tls.replication);
        push("tls-cluster", yes_no(tls.cluster), tls.cluster);
        push(
            "tls-auth-clients",
            tls.auth_clients.as_str().into(),
            tls.auth_clients != TlsAuthClients::Yes,
        );
        push(
            "tls-prefer-server-ciphers",
            yes_no(tls.prefer_server_ciphers),
            tls.prefer_server_ciphers,
        );
        push(
            "tls-session-caching",
            yes_no(tls.session_caching),
            !tls.session_caching,
        );
        push(
            "tls-session-cache-size",
            tls.session_cache_size.to_string(),
            tls.session_cache_size != tls_default.session_cache_size,
        );
        push(
            "tls-session-cache-timeout",
            tls.session_cache_timeout.to_string(),
            tls.session_cache_timeout != tls_default.session_cache_timeout,
        );
        for name in TLS_STRING_OPTIONS {
            if let Some(value) = tls.files.get(name) {
                push(name, repr(value.as_bytes()), true);
            }
        }
        out.extend(self.limits.rewrite_lines());

        if self.aclfile.is_none() {
            for line in user_lines {
                out.push(RewriteLine {
                    key: "user".into(),
                    text: line.clone(),
                    force: true,
                });
            }
        }
        out
    }

    /// The keys a flush owns for the generic options: their old lines that
    /// are not reused are dropped. `user` is included unless an `aclfile`
    /// holds the users (Redis then leaves `user` lines alone).
    pub fn managed_keys(&self) -> BTreeSet<String> {
        let mut keys: BTreeSet<String> = MANAGED_KEYS.iter().map(|k| k.to_string()).collect();
        keys.extend(TLS_STRING_OPTIONS.iter().map(|k| k.to_string()));
        keys.extend(client_limits::REWRITE_KEYS.iter().map(|k| k.to_string()));
        if self.aclfile.is_none() {
            keys.insert("user".into());
        }
        keys
    }

    fn set_string(&mut self, name: &str, value: &str) {
        let value = (!value.is_empty()).then(|| value.to_string());
        match name {
            "pidfile" => self.pidfile = value,
            "unixsocket" => self.unixsocket = value,
            "aclfile" => self.aclfile = value,
            "bind-source-addr" => self.bind_source_addr = value,
            tls_name => {
                let key = TLS_STRING_OPTIONS
                    .iter()
                    .find(|n| **n == tls_name)
                    .expect("only TLS string options reach here");
                match value {
                    Some(v) => self.tls.files.insert(key, v),
                    None => self.tls.files.remove(key),
                };
            }
        }
    }

    /// Where `dir` would `chdir` to, refused with `strerror` like Redis.
    fn checked_dir(&self, dir: &str) -> Result<PathBuf, String> {
        let path = self.dir.join(dir);
        match std::fs::metadata(&path) {
            Ok(meta) if meta.is_dir() => Ok(path),
            Ok(_) => Err(strerror(&std::io::Error::from_raw_os_error(libc::ENOTDIR))),
            Err(e) => Err(strerror(&e)),
        }
    }

    /// Redis opens the log file once every line is read, so a bad path
    /// fails early; by then it is in the final `dir`, where a relative log
    /// file is created.
    fn check_logfile(&self) -> Result<(), String> {
        if self.logfile.is_empty() {
            return Ok(());
        }
        std::fs::OpenOptions::new()
            .append(true)
            .create(true)
            .open(self.dir.join(&self.logfile))
            .map(drop)
            .map_err(|e| format!("Can't open the log file: {}", strerror(&e)))
    }

    fn rename_command(
        &mut self,
        old: &str,
        new: &str,
        is_command: &dyn Fn(&str) -> bool,
    ) -> Result<(), String> {
        let old = old.to_ascii_lowercase();
        let new = new.to_ascii_lowercase();
        // The command currently answering to `old`: a renamed one, or an
        // original one that was not renamed away.
        let original = match self.renamed_commands.iter().find(|(_, to)| **to == old) {
            Some((from, _)) if !old.is_empty() => Some(from.clone()),
            _ if !self.renamed_commands.contains_key(&old) && is_command(&old) => Some(old.clone()),
            _ => None,
        };
        let Some(original) = original else {
            return Err("No such command in rename-command".into());
        };
        if !new.is_empty() && self.command_exists(&new, is_command) {
            return Err("Target command name already exists".into());
        }
        self.renamed_commands.insert(original, new);
        Ok(())
    }

    fn command_exists(&self, name: &str, is_command: &dyn Fn(&str) -> bool) -> bool {
        self.renamed_commands.values().any(|to| to == name)
            || (!self.renamed_commands.contains_key(name) && is_command(name))
    }
}

fn single(values: &[String]) -> Result<&str, String> {
    match values {
        [value] => Ok(value),
        _ => Err(WRONG_ARITY.into()),
    }
}

fn yes_no(values: &[String]) -> Result<bool, String> {
    let value = single(values)?;
    if value.eq_ignore_ascii_case("yes") {
        Ok(true)
    } else if value.eq_ignore_ascii_case("no") {
        Ok(false)
    } else {
        Err("argument must be 'yes' or 'no'".into())
    }
}

fn one_of(values: &[String], names: &[&str]) -> Result<usize, String> {
    let value = single(values)?;
    names
        .iter()
        .position(|n| n.eq_ignore_ascii_case(value))
        .ok_or_else(|| {
            format!(
                "argument(s) must be one of the following: {}",
                names.join(", ")
            )
        })
}

fn int(values: &[String], min: i64, max: i64) -> Result<i64, String> {
    let value = parse_strict_int(single(values)?)
        .ok_or_else(|| "argument couldn't be parsed into an integer".to_string())?;
    if value < min || value > max {
        return Err(format!(
            "argument must be between {min} and {max} inclusive"
        ));
    }
    Ok(value)
}

/// An octal option (`unixsocketperm 700`), as Redis's octal configs parse
/// and bound it.
fn octal(values: &[String], max: u32) -> Result<u32, String> {
    let v = single(values)?;
    let value = (!v.is_empty() && v.bytes().all(|b| (b'0'..=b'7').contains(&b)))
        .then(|| u32::from_str_radix(v, 8).ok())
        .flatten()
        .ok_or_else(|| "argument couldn't be parsed into an integer".to_string())?;
    if value > max {
        return Err(format!("argument must be between 0 and {max:o} inclusive"));
    }
    Ok(value)
}

/// Redis reads these with `string2ll` (the workspace's one strict parser).
fn parse_strict_int(s: &str) -> Option<i64> {
    rsentinel_core::string2ll::string2ll(s.as_bytes())
}

fn percentiles(values: &[String]) -> Result<Vec<f64>, String> {
    match values {
        [] => Err(WRONG_ARITY.into()),
        [only] if only.is_empty() => Ok(Vec::new()),
        _ => values
            .iter()
            .map(|v| {
                let p: f64 = v
                    .parse()
                    .ok()
                    .filter(|p: &f64| !p.is_nan())
                    .ok_or_else(|| "Invalid latency-tracking-info-percentiles parameters".to_string())?;
                if (0.0..=100.0).contains(&p) {
                    Ok(p)
                } else {
                    Err("latency-tracking-info-percentiles parameters should sit between [0.0,100.0]".to_string())
                }
            })
            .collect(),
    }
}

/// `%f` with the trailing zeros (and a bare dot) removed: `50`, `99.9`.
fn format_percentile(p: f64) -> String {
    let fixed = format!("{p:.6}");
    fixed
        .trim_end_matches('0')
        .trim_end_matches('.')
        .to_string()
}

/// What `getcwd` reports once the shell has `chdir`ed into `dir`.
fn absolute_dir(dir: &Path) -> PathBuf {
    std::fs::canonicalize(dir)
        .or_else(|_| std::path::absolute(dir))
        .unwrap_or_else(|_| dir.to_path_buf())
}
