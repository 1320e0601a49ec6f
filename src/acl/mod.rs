//! Access control: Redis 7.0's ACL users modelled without I/O (apart from
//! `aclfile` load/save in `file.rs`). The connection code asks this module
//! who may log in, whether a command may run, and hands it `ACL ...`.

mod acl_command;
mod describe;
pub mod file;
pub mod log;
pub mod selector;
pub mod user;

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;

use rsentinel_core::prng::Prng;
use rsentinel_core::reply::Reply;
use rsentinel_core::time::Millis;

use crate::commands::table::CommandSpec;
use log::{AclLog, DenialReason};
use selector::Denied;
pub use selector::{verdict_ignores_args, RuleError};
pub use user::User;

/// What `ACL ...` did, beyond its reply.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AclOutcome {
    pub reply: Reply,
    /// Users that no longer exist: their connections must be closed.
    pub users_to_disconnect: Vec<String>,
    /// Users changed: without an `aclfile`, the config must be flushed so
    /// the `user` lines are persisted.
    pub changed: bool,
}

impl AclOutcome {
    fn reply(reply: Reply) -> AclOutcome {
        AclOutcome {
            reply,
            users_to_disconnect: Vec::new(),
            changed: false,
        }
    }
}

/// Where `ACL GENPASS` gets its randomness.
#[derive(Debug, Clone)]
enum RandomSource {
    /// The operating system's generator: passwords must be unguessable.
    Os,
    /// A seeded generator, for tests.
    Seeded(Prng),
}

/// All users of this sentinel.
#[derive(Debug, Clone)]
pub struct Acl {
    users: BTreeMap<String, User>,
    aclfile: Option<PathBuf>,
    random: RandomSource,
    log: AclLog,
    /// Users declared by `user` config lines: each may appear only once.
    config_users: BTreeSet<String>,
    /// The latest time handed in, for `ACL LOG` ages when no time is given.
    now: Millis,
}

impl Default for Acl {
    fn default() -> Self {
        Acl::new()
    }
}

/// A username as the ACL keys it. Usernames are still text here (unlike
/// passwords and rules): bytes that are not UTF-8 are replaced.
pub(crate) fn username(name: &[u8]) -> String {
    String::from_utf8_lossy(name).into_owned()
}

/// Client bytes quoted in an error or log text, which are strings.
pub(crate) fn shown(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// `NOAUTH Authentication required.`
pub fn noauth() -> Reply {
    Reply::Error("NOAUTH Authentication required.".into())
}

/// `WRONGPASS invalid username-password pair or user is disabled.`
pub fn wrongpass() -> Reply {
    Reply::Error("WRONGPASS invalid username-password pair or user is disabled.".into())
}

/// The reply to `AUTH <password>` while the default user has no password.
pub fn auth_without_password() -> Reply {
    Reply::err(
        "AUTH <password> called without any password configured for the default user. \
         Are you sure your configuration is correct?",
    )
}

/// `NOPERM this user has no permissions to run the 'sentinel|set' command`.
pub fn noperm_command(full_name: &str) -> Reply {
    Reply::Error(format!(
        "NOPERM this user has no permissions to run the '{full_name}' command"
    ))
}

/// The NOPERM error for a refused channel argument.
pub fn noperm_channel() -> Reply {
    Reply::Error(
        "NOPERM this user has no permissions to access one of the channels used as arguments"
            .into(),
    )
}

impl Acl {
    /// Only the default user (`on nopass ~* &* +@all`); GENPASS uses the
    /// operating system's randomness.
    pub fn new() -> Acl {
        let mut users = BTreeMap::new();
        users.insert("default".to_string(), User::new_default());
        Acl {
            users,
            aclfile: None,
            random: RandomSource::Os,
            log: AclLog::default(),
            config_users: BTreeSet::new(),
            now: Millis::ZERO,
        }
    }

    /// Like [`Acl::new`], but GENPASS draws from a seeded generator so that
    /// tests are repeatable.
    pub fn with_seed(seed: u64) -> Acl {
        Acl {
            random: RandomSource::Seeded(Prng::new(seed)),
            ..Acl::new()
        }
    }

    /// Use `aclfile` for `ACL LOAD`/`ACL SAVE` (users are then not part of
    /// the config rewrite).
    pub fn set_aclfile(&mut self, path: Option<PathBuf>) {
        self.aclfile = path;
    }

    /// Loads the users from `aclfile` at start-up; the error text (Redis
    /// refuses to start when the file cannot be loaded).
    pub fn load_aclfile(&mut self) -> Result<(), String> {
        match acl_command::load(self).reply {
            Reply::Error(e) => Err(e),
            _ => Ok(()),
        }
    }

    pub fn aclfile(&self) -> Option<&PathBuf> {
        self.aclfile.as_ref()
    }

    pub fn user(&self, name: &str) -> Option<&User> {
        self.users.get(name)
    }

    /// `requirepass`: the default user's only password (any bytes), or
    /// `nopass` when unset or empty.
    pub fn set_requirepass(&mut self, pass: Option<&[u8]>) {
        let default = self.users.get_mut("default").expect("default user exists");
        default.apply("resetpass").expect("valid rule");
        match pass {
            Some(p) if !p.is_empty() => default.apply([&b">"[..], p].concat()),
            _ => default.apply("nopass"),
        }
        .expect("valid rule");
    }

    /// One `user <name> <rules>...` config line; `args` starts at the user
    /// name. The user is (re)created from scratch, `default` included, so
    /// apply these after `requirepass`. Errors are Redis's text. The rules
    /// are bytes, exactly as the config file spelled them.
    pub fn load_user_line<A: AsRef<[u8]>>(&mut self, args: &[A]) -> Result<(), String> {
        let Some(name) = args.first() else {
            return Err("Bad directive or wrong number of arguments".into());
        };
        let name = &username(name.as_ref());
        if name.contains(' ') || name.contains('\0') {
            return Err("Spaces not allowed in ACL usernames".into());
        }
        let declaration =
            |msg: &dyn std::fmt::Display| format!("Error in user declaration '{name}': {msg}");
        if self.config_users.contains(name) {
            return Err(declaration(
                &"Duplicate user found. A user can only be defined once in config files",
            ));
        }
        let rules = user::merge_selector_args(&args[1..])
            .map_err(|_| declaration(&RuleError::UnknownCommand))?;
        let mut u = User::new(name);
        for op in &rules {
            u.apply(op).map_err(|e| match e {
                // Redis checks command names only once the command table
                // exists, so these fail later and are worded differently.
                RuleError::UnknownCommand | RuleError::FirstArgOfSubcommand => {
                    format!(
                        "Error loading ACL rule '{}' for the user named '{name}': {e}",
                        shown(op)
                    )
                }
                _ => declaration(&e),
            })?;
        }
        self.config_users.insert(name.clone());
        self.users.insert(name.clone(), u);
        Ok(())
    }

    /// Check a username/password pair (`AUTH`, `HELLO ... AUTH`); the
    /// password is compared as the exact bytes sent.
    pub fn authenticate(&self, user: &str, pass: &[u8]) -> Result<(), Reply> {
        match self.users.get(user) {
            Some(u) if u.password_ok(pass) => Ok(()),
            _ => Err(wrongpass()),
        }
    }

    /// Whether new connections must authenticate: they start logged in as
    /// `default` only while that user is `on` and `nopass`.
    pub fn default_user_requires_auth(&self) -> bool {
        let d = &self.users["default"];
        !(d.enabled && d.nopass)
    }

    /// Whether `user` may run `args` (`cmd`/`sub` as resolved from them).
    /// AUTH and HELLO are always allowed. A request passes if any selector,
    /// root first, allows both the command and its channel arguments.
    pub fn check_command(
        &self,
        user: &str,
        cmd: &CommandSpec,
        sub: Option<&CommandSpec>,
        args: &[Vec<u8>],
    ) -> Result<(), Reply> {
        let full_name = sub.unwrap_or(cmd).full_name;
        match self.denial(user, cmd, sub, args) {
            None => Ok(()),
            Some(Denied::Command) => Err(noperm_command(full_name)),
            Some(Denied::Channel(_)) => Err(noperm_channel()),
        }
    }

    /// [`Acl::check_command`], recording a refusal in the ACL log.
    /// `client_info` is the refused client's `CLIENT INFO` line.
    pub fn check_and_log(
        &mut self,
        user: &str,
        cmd: &CommandSpec,
        sub: Option<&CommandSpec>,
        args: &[Vec<u8>],
        client_info: &str,
        now: Millis,
    ) -> Result<(), Reply> {
        self.now = self.now.max(now);
        let full_name = sub.unwrap_or(cmd).full_name;
        match self.denial(user, cmd, sub, args) {
            None => Ok(()),
            Some(Denied::Command) => {
                self.log
                    .record(DenialReason::Command, full_name, user, client_info, now);
                Err(noperm_command(full_name))
            }
            Some(Denied::Channel(ch)) => {
                self.log
                    .record(DenialReason::Channel, &shown(&ch), user, client_info, now);
                Err(noperm_channel())
            }
        }
    }

    /// [`Acl::authenticate`], recording a failure in the ACL log.
    pub fn authenticate_and_log(
        &mut self,
        user: &str,
        pass: &[u8],
        client_info: &str,
        now: Millis,
    ) -> Result<(), Reply> {
        self.now = self.now.max(now);
        let result = self.authenticate(user, pass);
        if result.is_err() {
            self.log
                .record(DenialReason::Auth, "AUTH", user, client_info, now);
        }
        result
    }

    /// The most relevant refusal of all selectors, or None when one allows.
    fn denial(
        &self,
        user: &str,
        cmd: &CommandSpec,
        sub: Option<&CommandSpec>,
        args: &[Vec<u8>],
    ) -> Option<Denied> {
        if cmd.has_flag("no_auth") {
            return None;
        }
        let Some(u) = self.users.get(user) else {
            return Some(Denied::Command);
        };
        let mut worst = Denied::Command;
        for sel in std::iter::once(&u.root).chain(&u.selectors) {
            match sel.check(cmd, sub, args) {
                Ok(()) => return None,
                Err(d) => worst = worst.max(d),
            }
        }
        Some(worst)
    }

    /// The `user ...` lines a config rewrite persists (also `ACL LIST`),
    /// as bytes: patterns are written exactly as given, like Redis does.
    pub fn config_lines(&self) -> Vec<Vec<u8>> {
        self.users.values().map(User::describe).collect()
    }

    /// Handle `ACL <subcommand> ...` for a connection logged in as
    /// `current_user` (`args` includes the word ACL).
    pub fn acl_command(&mut self, current_user: &str, args: &[Vec<u8>]) -> AclOutcome {
        let now = self.now;
        acl_command::run(self, current_user, args, now)
    }

    /// [`Acl::acl_command`] at a given time (used for `ACL LOG` ages).
    pub fn acl_command_at(
        &mut self,
        current_user: &str,
        args: &[Vec<u8>],
        now: Millis,
    ) -> AclOutcome {
        self.now = self.now.max(now);
        acl_command::run(self, current_user, args, now)
    }

    fn random_bytes(&mut self, out: &mut [u8]) {
        match &mut self.random {
            RandomSource::Seeded(p) => out.iter_mut().for_each(|b| *b = p.next_u64() as u8),
            RandomSource::Os => {
                if getrandom::getrandom(out).is_err() {
                    // Never hand out a predictable password silently.
                    panic!("no operating system randomness for ACL GENPASS");
                }
            }
        }
    }
}

#[cfg(test)]
mod tests;
