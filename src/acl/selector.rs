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
    pub pattern: String,
}

/// Why a selector refused a request, in increasing order of relevance: when
/// no selector allows a request, the most relevant refusal is reported.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum Denied {
    Command,
    /// The first channel argument that is not allowed.
    Channel(String),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Selector {
    /// One bit per entry of [`universe`].
    pub(crate) allowed: Vec<bool>,
    /// Set only by `+@all`: the selector also allows commands added later,
    /// and its rules are described starting from `+@all`.
    pub(crate) all_commands: bool,
    /// `+cmd|firstarg` rules: (command bit, first argument as given).
    pub(crate) first_args: Vec<(usize, String)>,
    pub(crate) all_keys: bool,
    pub(crate) keys: Vec<KeyPattern>,
    pub(crate) all_channels: bool,
    pub(crate) channels: Vec<String>,
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
    pub fn apply(&mut self, op: &str) -> Result<(), RuleError> {
        match op {
            "" => Ok(()),
            "allkeys" => self.apply("~*"),
            "resetkeys" => {
                self.all_keys = false;
                self.keys.clear();
                Ok(())
            }
            "allchannels" => self.apply("&*"),
            "resetchannels" => {
                self.all_channels = false;
                self.channels.clear();
                Ok(())
            }
            "allcommands" => self.apply("+@all"),
            "nocommands" => self.apply("-@all"),
            _ if op.starts_with('~') => self.add_key(true, true, &op[1..]),
            _ if op.starts_with('%') => self.add_key_with_flags(&op[1..]),
            _ if op.starts_with('&') => self.add_channel(&op[1..]),
            _ if op.starts_with('+') || op.starts_with('-') => {
                self.apply_command_rule(op.starts_with('+'), &op[1..])
            }
            _ => Err(RuleError::Syntax),
        }
    }

    fn add_key_with_flags(&mut self, spec: &str) -> Result<(), RuleError> {
        let (mut read, mut write) = (false, false);
        for (i, ch) in spec.char_indices() {
            match ch.to_ascii_uppercase() {
                'R' => read = true,
                'W' => write = true,
                '~' if read || write => return self.add_key(read, write, &spec[i + 1..]),
                _ => return Err(RuleError::Syntax),
            }
        }
        // Redis accepts a flag list that never reaches `~` and adds nothing.
        Ok(())
    }

    fn add_key(&mut self, read: bool, write: bool, pattern: &str) -> Result<(), RuleError> {
        if self.all_keys {
            return Err(RuleError::KeyAfterAllKeys);
        }
        if pattern == "*" && read && write {
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
                pattern: pattern.to_string(),
            }),
        }
        Ok(())
    }

    fn add_channel(&mut self, pattern: &str) -> Result<(), RuleError> {
        if self.all_channels {
            return Err(RuleError::ChannelAfterAllChannels);
        }
        if pattern == "*" {
            self.all_channels = true;
            self.channels.clear();
        } else if !self.channels.iter().any(|c| c == pattern) {
            self.channels.push(pattern.to_string());
        }
        Ok(())
    }

    fn apply_command_rule(&mut self, allow: bool, what: &str) -> Result<(), RuleError> {
        if let Some(cat) = what.strip_prefix('@') {
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
        let (name, rest) = match what.split_once('|') {
            Some((n, r)) => (n, Some(r)),
            None => (what, None),
        };
        let cmd = lookup(name).ok_or(RuleError::UnknownCommand)?;
        let Some(rest) = rest else {
            self.set_command(cmd, allow);
            return Ok(());
        };
        if rest.is_empty() {
            return Err(RuleError::Syntax);
        }
        if cmd.is_container() {
            let (sub, first_arg) = match rest.split_once('|') {
                Some((s, a)) => (s, Some(a)),
                None => (rest, None),
            };
            let sub = cmd.subcommand(sub).ok_or(RuleError::UnknownCommand)?;
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
        if !allow || rest.contains('|') {
            return Err(RuleError::UnknownCommand);
        }
        let id = id_of(cmd);
        if !self.allowed[id]
            && !self
                .first_args
                .iter()
                .any(|(i, a)| *i == id && a.eq_ignore_ascii_case(rest))
        {
            self.first_args.push((id, rest.to_string()));
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
                .any(|(i, a)| *i == id && a.as_bytes().eq_ignore_ascii_case(&args[1]));
        if !self.allowed[id] && !by_first_arg {
            return Err(Denied::Command);
        }
        self.check_channels(cmd, args)
    }

    fn check_channels(&self, cmd: &CommandSpec, args: &[Vec<u8>]) -> Result<(), Denied> {
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
                    p.as_bytes() == ch.as_slice()
                } else {
                    glob_match(p.as_bytes(), ch, false)
                }
            });
            if !ok {
                return Err(Denied::Channel(String::from_utf8_lossy(ch).into_owned()));
            }
        }
        Ok(())
    }

    /// The key patterns as `GETUSER`/`ACL LIST` show them.
    pub fn describe_keys(&self) -> String {
        if self.all_keys {
            return "~*".into();
        }
        self.keys
            .iter()
            .map(|k| match (k.read, k.write) {
                (true, false) => format!("%R~{}", k.pattern),
                (false, true) => format!("%W~{}", k.pattern),
                _ => format!("~{}", k.pattern),
            })
            .collect::<Vec<_>>()
            .join(" ")
    }

    /// The channel patterns as `GETUSER` shows them.
    pub fn describe_channels(&self) -> String {
        if self.all_channels {
            return "&*".into();
        }
        self.channels
            .iter()
            .map(|c| format!("&{c}"))
            .collect::<Vec<_>>()
            .join(" ")
    }

    /// The rules as one `ACL LIST` fragment: keys, channels, commands.
    pub fn describe(&self) -> String {
        let mut parts = Vec::new();
        let keys = self.describe_keys();
        if !keys.is_empty() {
            parts.push(keys);
        }
        if !self.all_channels {
            parts.push("resetchannels".into());
        }
        let channels = self.describe_channels();
        if !channels.is_empty() {
            parts.push(channels);
        }
        parts.push(super::describe::describe_commands(self));
        parts.join(" ")
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
