//! One ACL selector: which commands, keys and channels it allows, the rule
//! parser that edits it, and the permission check against a request.

use std::sync::OnceLock;

use rsentinel_core::glob::glob_match;

use crate::commands::table::{all_commands, lookup, CommandSpec, COMMANDS};

/// The ACL categories of Redis 7.0, in `ACL CAT` order.
pub const CATEGORIES: &[&str] = &[
    "keyspace",
    "read",
    "write",
    "set",
    "sortedset",
    "list",
    "hash",
    "string",
    "bitmap",
    "hyperloglog",
    "geo",
    "stream",
    "pubsub",
    "admin",
    "fast",
    "slow",
    "blocking",
    "dangerous",
    "connection",
    "transaction",
    "scripting",
];

/// Why a rule was rejected; `Display` is Redis's wording.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RuleError {
    #[error("Unknown command or category name in ACL")]
    UnknownCommand,
    #[error("Syntax error")]
    Syntax,
    #[error("Adding a pattern after the * pattern (or the 'allkeys' flag) is not valid and does not have any effect. Try 'resetkeys' to start with an empty list of patterns")]
    KeyAfterAllKeys,
    #[error("Adding a pattern after the * pattern (or the 'allchannels' flag) is not valid and does not have any effect. Try 'resetchannels' to start with an empty list of channels")]
    ChannelAfterAllChannels,
    #[error("The password you are trying to remove from the user does not exist")]
    NoSuchPassword,
    #[error("The password hash must be exactly 64 characters and contain only lowercase hexadecimal characters")]
    BadHash,
    #[error("Allowing first-arg of a subcommand is not supported")]
    FirstArgOfSubcommand,
}

/// Every command and subcommand of the table, indexed: a command's bit in a
/// selector is its position here.
pub(crate) fn universe() -> &'static [&'static CommandSpec] {
    static ALL: OnceLock<Vec<&'static CommandSpec>> = OnceLock::new();
    ALL.get_or_init(|| all_commands().collect())
}

/// The bit index of a command of the table.
pub(crate) fn id_of(cmd: &CommandSpec) -> usize {
    universe()
        .iter()
        .position(|c| std::ptr::eq(*c, cmd))
        .expect("command is part of the table")
}

/// A key pattern with its read/write permission.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyPattern {
    pub read: bool,
    pub write: bool,
    pub pattern: Vec<u8>,
}

/// Why a selector refused a request, in increasing order of relevance: when
/// no selector allows a request, the most relevant refusal is reported.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum Denied {
    Command,
    /// The first channel argument that is not allowed.
    Channel(Vec<u8>),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Selector {
    /// One bit per entry of [`universe`].
    pub(crate) allowed: Vec<bool>,
    /// Set only by `+@all`: the selector also allows commands added later,
    /// and its rules are described starting from `+@all`.
    pub(crate) all_commands: bool,
    /// `+cmd|firstarg` rules: (command bit, first argument as given).
    pub(crate) first_args: Vec<(usize, Vec<u8>)>,
    pub(crate) all_keys: bool,
    pub(crate) keys: Vec<KeyPattern>,
    pub(crate) all_channels: bool,
    pub(crate) channels: Vec<Vec<u8>>,
}

impl Default for Selector {
    fn default() -> Self {
        Selector {
            allowed: vec![false; universe().len()],
            all_commands: false,
            first_args: Vec::new(),
            all_keys: false,
            keys: Vec::new(),
            all_channels: false,
            channels: Vec::new(),
        }
    }
}

impl Selector {
    /// Apply one selector rule (`~k`, `%R~k`, `&c`, `+cmd`, `-@cat`, ...).
    /// Patterns and first arguments are bytes, kept exactly as given.
    pub fn apply(&mut self, op: impl AsRef<[u8]>) -> Result<(), RuleError> {
        match op.as_ref() {
            b"" => Ok(()),
            b"allkeys" => self.apply("~*"),
            b"resetkeys" => {
                self.all_keys = false;
                self.keys.clear();
                Ok(())
            }
            b"allchannels" => self.apply("&*"),
            b"resetchannels" => {
                self.all_channels = false;
                self.channels.clear();
                Ok(())
            }
            b"allcommands" => self.apply("+@all"),
            b"nocommands" => self.apply("-@all"),
            [b'~', pattern @ ..] => self.add_key(true, true, pattern),
            [b'%', spec @ ..] => self.add_key_with_flags(spec),
            [b'&', pattern @ ..] => self.add_channel(pattern),
            [b'+', what @ ..] => self.apply_command_rule(true, what),
            [b'-', what @ ..] => self.apply_command_rule(false, what),
            _ => Err(RuleError::Syntax),
        }
    }

    fn add_key_with_flags(&mut self, spec: &[u8]) -> Result<(), RuleError> {
        let (mut read, mut write) = (false, false);
        for (i, ch) in spec.iter().enumerate() {
            match ch.to_ascii_uppercase() {
                b'R' => read = true,
                b'W' => write = true,
                b'~' if read || write => return self.add_key(read, write, &spec[i + 1..]),
                _ => return Err(RuleError::Syntax),
            }
        }
        // Redis accepts a flag list that never reaches `~` and adds nothing.
        Ok(())
    }

    fn add_key(&mut self, read: bool, write: bool, pattern: &[u8]) -> Result<(), RuleError> {
        if self.all_keys {
            return Err(RuleError::KeyAfterAllKeys);
        }
        if pattern == b"*" && read && write {
            self.all_keys = true;
            self.keys.clear();
            return Ok(());
        }
        match self.keys.iter_mut().find(|k| k.pattern == pattern) {
            Some(k) => {
                k.read |= read;
                k.write |= write;
            }
            None => self.keys.push(KeyPattern {
                read,
                write,
                pattern: pattern.to_vec(),
            }),
        }
        Ok(())
    }

    fn add_channel(&mut self, pattern: &[u8]) -> Result<(), RuleError> {
        if self.all_channels {
            return Err(RuleError::ChannelAfterAllChannels);
        }
        if pattern == b"*" {
            self.all_channels = true;
            self.channels.clear();
        } else if !self.channels.iter().any(|c| c == pattern) {
            self.channels.push(pattern.to_vec());
        }
        Ok(())
    }

    fn apply_command_rule(&mut self, allow: bool, what: &[u8]) -> Result<(), RuleError> {
        // Only a first argument may be any bytes: command and category
        // names are ASCII, so anything else names no command.
        let (name, rest) = match what.iter().position(|&b| b == b'|') {
            Some(i) => (&what[..i], Some(&what[i + 1..])),
            None => (what, None),
        };
        let name = std::str::from_utf8(name).map_err(|_| RuleError::UnknownCommand)?;
        if let Some(cat) = name.strip_prefix('@').filter(|_| rest.is_none()) {
            if cat == "all" {
                self.allowed.iter_mut().for_each(|b| *b = allow);
                self.all_commands = allow;
                self.first_args.clear();
                return Ok(());
            }
            let cat = CATEGORIES
                .iter()
                .find(|c| c.eq_ignore_ascii_case(cat))
                .ok_or(RuleError::UnknownCommand)?;
            self.set_category(cat, allow);
            return Ok(());
        }
        let cmd = lookup(name).ok_or(RuleError::UnknownCommand)?;
        let Some(rest) = rest else {
            self.set_command(cmd, allow);
            return Ok(());
        };
        if rest.is_empty() {
            return Err(RuleError::Syntax);
        }
        if cmd.is_container() {
            let (sub, first_arg) = match rest.iter().position(|&b| b == b'|') {
                Some(i) => (&rest[..i], Some(&rest[i + 1..])),
                None => (rest, None),
            };
            let sub = std::str::from_utf8(sub)
                .ok()
                .and_then(|sub| cmd.subcommand(sub))
                .ok_or(RuleError::UnknownCommand)?;
            return match first_arg {
                None => {
                    self.set_command(sub, allow);
                    Ok(())
                }
                Some(_) if allow => Err(RuleError::FirstArgOfSubcommand),
                Some(_) => Err(RuleError::UnknownCommand),
            };
        }
        // A first argument of a plain command: only ever allowed, never
        // denied, and only one level deep.
        if !allow || rest.contains(&b'|') {
            return Err(RuleError::UnknownCommand);
        }
        let id = id_of(cmd);
        if !self.allowed[id]
            && !self
                .first_args
                .iter()
                .any(|(i, a)| *i == id && a.eq_ignore_ascii_case(rest))
        {
            self.first_args.push((id, rest.to_vec()));
        }
        Ok(())
    }

    /// Allow or deny a command and, for a container, all its subcommands.
    pub(crate) fn set_command(&mut self, cmd: &CommandSpec, allow: bool) {
        set_command_bits(&mut self.allowed, cmd, allow);
        let ids: Vec<usize> = std::iter::once(id_of(cmd))
            .chain(cmd.subcommands.iter().map(id_of))
            .collect();
        self.first_args.retain(|(i, _)| !ids.contains(i));
    }

    pub(crate) fn set_category(&mut self, cat: &str, allow: bool) {
        set_category_bits(&mut self.allowed, cat, allow);
        for cmd in universe() {
            if cmd.in_category(cat) {
                let id = id_of(cmd);
                self.first_args.retain(|(i, _)| *i != id);
            }
        }
    }

    /// Whether this selector lets `args` run as `cmd`/`sub`, checking the
    /// command bit (or a first-argument rule) and then channel arguments.
    /// Whether `cmd` may run. Reads `args` only as
    /// [`verdict_ignores_args`] says.
    pub fn check(
        &self,
        cmd: &CommandSpec,
        sub: Option<&CommandSpec>,
        args: &[Vec<u8>],
    ) -> Result<(), Denied> {
        let target = sub.unwrap_or(cmd);
        let id = id_of(target);
        let by_first_arg = sub.is_none()
            && args.len() >= 2
            && self
                .first_args
                .iter()
                .any(|(i, a)| *i == id && a.eq_ignore_ascii_case(&args[1]));
        if !self.allowed[id] && !by_first_arg {
            return Err(Denied::Command);
        }
        self.check_channels(cmd, args)
    }

    fn check_channels(&self, cmd: &CommandSpec, args: &[Vec<u8>]) -> Result<(), Denied> {
        if !names_channels(cmd) {
            return Ok(());
        }
        if self.all_channels {
            return Ok(());
        }
        // SUBSCRIBE and PUBLISH name channels, matched against the allowed
        // patterns; PSUBSCRIBE names patterns, which must be allowed
        // literally. The unsubscribe commands are never refused.
        let (channels, literal): (&[Vec<u8>], bool) = match cmd.name {
            "subscribe" => (args.get(1..).unwrap_or(&[]), false),
            "publish" => (args.get(1..2).unwrap_or(&[]), false),
            "psubscribe" => (args.get(1..).unwrap_or(&[]), true),
            _ => return Ok(()),
        };
        for ch in channels {
            let ok = self.channels.iter().any(|p| {
                if literal {
                    p == ch
                } else {
                    glob_match(p, ch, false)
                }
            });
            if !ok {
                return Err(Denied::Channel(ch.clone()));
            }
        }
        Ok(())
    }

    /// The key patterns as `GETUSER`/`ACL LIST` show them (raw bytes, as
    /// Redis shows them).
    pub fn describe_keys(&self) -> Vec<u8> {
        if self.all_keys {
            return b"~*".to_vec();
        }
        let described: Vec<Vec<u8>> = self
            .keys
            .iter()
            .map(|k| {
                let prefix: &[u8] = match (k.read, k.write) {
                    (true, false) => b"%R~",
                    (false, true) => b"%W~",
                    _ => b"~",
                };
                [prefix, &k.pattern].concat()
            })
            .collect();
        described.join(&b' ')
    }

    /// The channel patterns as `GETUSER` shows them.
    pub fn describe_channels(&self) -> Vec<u8> {
        if self.all_channels {
            return b"&*".to_vec();
        }
        let described: Vec<Vec<u8>> = self
            .channels
            .iter()
            .map(|c| [&b"&"[..], c].concat())
            .collect();
        described.join(&b' ')
    }

    /// The rules as one `ACL LIST` fragment: keys, channels, commands.
    pub fn describe(&self) -> Vec<u8> {
        let mut parts = Vec::new();
        let keys = self.describe_keys();
        if !keys.is_empty() {
            parts.push(keys);
        }
        if !self.all_channels {
            parts.push(b"resetchannels".to_vec());
        }
        let channels = self.describe_channels();
        if !channels.is_empty() {
            parts.push(channels);
        }
        parts.push(super::describe::describe_commands(self));
        parts.join(&b' ')
    }
}

pub(crate) fn set_command_bits(bits: &mut [bool], cmd: &CommandSpec, allow: bool) {
    bits[id_of(cmd)] = allow;
    for sub in cmd.subcommands {
        bits[id_of(sub)] = allow;
    }
}

/// Apply `+@cat`/`-@cat` to a bitmap: every top-level command in the
/// category (with all its subcommands), then every subcommand in it.
pub(crate) fn set_category_bits(bits: &mut [bool], cat: &str, allow: bool) {
    for cmd in COMMANDS {
        if cmd.in_category(cat) {
            set_command_bits(bits, cmd, allow);
        }
        for sub in cmd.subcommands {
            if sub.in_category(cat) {
                bits[id_of(sub)] = allow;
            }
        }
    }
}

/// Whether any selector's verdict on this call is the same whatever its
/// arguments: no first-argument rule can apply (a subcommand, or no first
/// argument) and the command names no channels. Such a verdict may be
/// remembered per command.
pub fn verdict_ignores_args(
    cmd: &CommandSpec,
    sub: Option<&CommandSpec>,
    args: &[Vec<u8>],
) -> bool {
    (sub.is_some() || args.len() < 2) && !names_channels(cmd)
}

/// The commands whose arguments are channels the ACL checks.
fn names_channels(cmd: &CommandSpec) -> bool {
    matches!(cmd.name, "subscribe" | "publish" | "psubscribe")
}
