//! `SENTINEL SET <master> <option> <value> [...]`: a table of the options
//! (name, number of values, how the values are read), and applying them.
//! Like Redis, options apply one by one: those before a bad one stay
//! applied (and persisted) although the command answers an error.

use std::borrow::Cow;

use super::{text, Steps, NO_SUCH_MASTER};
use crate::reply::Reply;
use crate::sentinel::actions::{CommandOutput, Durability};
use crate::sentinel::{Action, Level, Sentinel};
use crate::string2ll::string2ll;

/// One option of `SENTINEL SET` with its checked values.
#[derive(Debug)]
pub(crate) enum SetOption<'a> {
    DownAfter(u64),
    FailoverTimeout(u64),
    ParallelSyncs(u32),
    Quorum(u32),
    MasterRebootDownAfterPeriod(u64),
    /// Empty: no script.
    NotificationScript(Cow<'a, str>),
    ClientReconfigScript(Cow<'a, str>),
    /// Credentials are bytes, stored exactly as sent (empty: none).
    AuthPass(&'a [u8]),
    AuthUser(&'a [u8]),
    RenameCommand {
        from: Cow<'a, str>,
        to: Cow<'a, str>,
    },
}

/// A parsed option and the arguments it came from (for the `+set` event).
#[derive(Debug)]
pub(crate) struct SetArg<'a> {
    option: SetOption<'a>,
    given: &'a [Vec<u8>],
}

/// Reads an option's values; `Err(i)` names the bad one.
type ParseValues = for<'a> fn(&'a [Vec<u8>]) -> Result<SetOption<'a>, usize>;

/// Every option: its name, how many values it takes, how they are read.
const OPTIONS: &[(&str, usize, ParseValues)] = &[
    ("down-after-milliseconds", 1, |v| {
        positive(v).map(SetOption::DownAfter)
    }),
    ("failover-timeout", 1, |v| {
        positive(v).map(SetOption::FailoverTimeout)
    }),
    ("parallel-syncs", 1, |v| {
        positive(v).map(|n| SetOption::ParallelSyncs(saturate(n)))
    }),
    ("quorum", 1, |v| {
        positive(v).map(|n| SetOption::Quorum(saturate(n)))
    }),
    ("master-reboot-down-after-period", 1, |v| {
        match string2ll(&v[0]) {
            Some(n) if n >= 0 => Ok(SetOption::MasterRebootDownAfterPeriod(n as u64)),
            _ => Err(0),
        }
    }),
    ("notification-script", 1, |v| {
        Ok(SetOption::NotificationScript(text(&v[0])))
    }),
    ("client-reconfig-script", 1, |v| {
        Ok(SetOption::ClientReconfigScript(text(&v[0])))
    }),
    ("auth-pass", 1, |v| Ok(SetOption::AuthPass(&v[0]))),
    ("auth-user", 1, |v| Ok(SetOption::AuthUser(&v[0]))),
    ("rename-command", 2, |v| {
        if let Some(empty) = v.iter().position(|a| a.is_empty()) {
            return Err(empty);
        }
        Ok(SetOption::RenameCommand {
            from: text(&v[0]),
            to: text(&v[1]),
        })
    }),
];

/// A strictly positive integer (Redis refuses 0 for these periods/counts).
fn positive(v: &[Vec<u8>]) -> Result<u64, usize> {
    match string2ll(&v[0]) {
        Some(n) if n > 0 => Ok(n as u64),
        _ => Err(0),
    }
}

fn saturate(n: u64) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

/// Parses `<option> <value> [...]` up to the first bad option, whose error
/// is answered once the options before it are applied.
pub(super) fn parse_options(args: &[Vec<u8>]) -> Steps<SetArg<'_>> {
    let mut at = 0;
    Steps::parse(args, "SET", |option, following| {
        let &(_, n, read) = OPTIONS.iter().find(|(name, n, _)| {
            name.as_bytes().eq_ignore_ascii_case(option) && following.len() >= *n
        })?;
        let start = at;
        at += n + 1;
        let given = &args[start..at];
        Some((
            n,
            read(&following[..n]).map(|option| SetArg { option, given }),
        ))
    })
}

impl Sentinel {
    pub(super) fn set_cmd(&mut self, name: &str, options: Steps<SetArg<'_>>) -> CommandOutput {
        if !self.masters.contains_key(name) {
            return CommandOutput::reply(Reply::err(NO_SUCH_MASTER));
        }
        let mut applied = 0;
        let mut error = options.then_error;
        for arg in &options.valid {
            if let Err(e) = self.apply_set_option(name, &arg.option) {
                error = Some(e);
                break;
            }
            applied += 1;
            let shown: Vec<Cow<'_, str>> = arg
                .given
                .iter()
                .enumerate()
                .map(|(i, a)| match arg.option {
                    // The password never reaches the event channel or log.
                    SetOption::AuthPass(_) if i == 1 => Cow::Borrowed("******"),
                    _ => text(a),
                })
                .collect();
            self.master_event(name, Level::Warning, "+set", |_| shown.join(" "));
        }
        CommandOutput {
            reply: error.unwrap_or_else(Reply::ok),
            // What was applied must be on disk before the reply.
            durability: if applied > 0 {
                Durability::AfterWrite
            } else {
                Durability::Immediate
            },
        }
    }

    fn apply_set_option(&mut self, name: &str, option: &SetOption<'_>) -> Result<(), Reply> {
        let Some(m) = self.masters.known_mut(name) else {
            return Err(Reply::err(NO_SUCH_MASTER));
        };
        match option {
            SetOption::DownAfter(v) => m.set_down_after(*v),
            SetOption::FailoverTimeout(v) => m.failover_timeout = *v,
            SetOption::ParallelSyncs(v) => m.parallel_syncs = *v,
            SetOption::Quorum(v) => m.quorum = *v,
            SetOption::MasterRebootDownAfterPeriod(v) => m.master_reboot_down_after_period = *v,
            SetOption::NotificationScript(path) => {
                self.check_script(path, "Notification script")?;
                if let Some(m) = self.masters.known_mut(name) {
                    m.notification_script = script_path(path);
                }
            }
            SetOption::ClientReconfigScript(path) => {
                self.check_script(path, "Client reconfiguration script")?;
                if let Some(m) = self.masters.known_mut(name) {
                    m.client_reconfig_script = script_path(path);
                }
            }
            SetOption::AuthPass(pass) => {
                m.auth_pass = credential(pass);
                self.credentials_changed(name);
            }
            SetOption::AuthUser(user) => {
                m.auth_user = credential(user);
                self.credentials_changed(name);
            }
            SetOption::RenameCommand { from, to } => {
                let from_l = from.to_ascii_lowercase();
                m.renamed_commands.retain(|(f, _)| *f != from_l);
                if !from.eq_ignore_ascii_case(to) {
                    m.renamed_commands.push((from_l, to.to_string()));
                }
            }
        }
        Ok(())
    }

    /// Scripts may be set only when `deny-scripts-reconfig` is off, and
    /// must be executable (an empty path removes the script).
    fn check_script(&self, path: &str, what: &str) -> Result<(), Reply> {
        if self.settings.deny_scripts_reconfig {
            return Err(Reply::err("Reconfiguration of scripts path is denied for security reasons. Check the deny-scripts-reconfig configuration directive in your Sentinel configuration"));
        }
        if !path.is_empty() && !(self.script_check)(path) {
            return Err(Reply::err(format!(
                "{what} seems non existing or non executable"
            )));
        }
        Ok(())
    }

    /// New credentials: every link of this master reconnects.
    fn credentials_changed(&mut self, name: &str) {
        if let Some(m) = self.masters.known_mut(name) {
            m.common.link.cc_connected = false;
            for r in m.replicas.values_mut() {
                r.common.link.cc_connected = false;
            }
        }
        self.out.push(Action::DropLinks {
            master: name.to_string(),
        });
    }
}

fn script_path(path: &str) -> Option<String> {
    (!path.is_empty()).then(|| path.to_string())
}

fn credential(v: &[u8]) -> Option<Vec<u8>> {
    Some(v.to_vec()).filter(|v| !v.is_empty())
}
