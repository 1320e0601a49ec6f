//! `SENTINEL <subcommand>`: the client-facing command surface of the core.
//! A request is parsed once ([`parse`]) into a typed [`SentinelCommand`]
//! (arity and integers checked here, in Redis's wording), then run by its
//! family: `query.rs` (read-only replies), `config.rs` (the monitored set
//! and global settings), `set.rs` (`SENTINEL SET`), `debug.rs` (timing,
//! simulated crashes, help). Votes, failovers and PENDING-SCRIPTS are
//! answered by `vote.rs`, `failover.rs` and `scripts.rs`.

mod config;
mod debug;
mod query;
mod set;

use std::borrow::Cow;

use super::actions::{CommandOutput, Durability};
use super::Sentinel;
use crate::reply::Reply;
use crate::reply_writer::{ReplyBuilder, ReplyWriter};
use crate::string2ll::string2ll;
use crate::time::Millis;

pub(crate) use config::{ConfigSetting, NewMaster};
pub(crate) use debug::SimulateFailure;
pub(crate) use query::Query;
pub(crate) use set::SetArg;

const NO_SUCH_MASTER: &str = "No such master with that name";
const NOT_AN_INTEGER: &str = "value is not an integer or out of range";

/// One `SENTINEL` request, its arguments checked and typed. It borrows the
/// request: routing a query allocates nothing.
#[derive(Debug)]
pub(crate) enum SentinelCommand<'a> {
    /// The read-only family, answered from `&self` (`query.rs`).
    Query(Query<'a>),
    /// `IS-MASTER-DOWN-BY-ADDR`, `IS-PRIMARY-DOWN-BY-ADDR`: a peer asking
    /// our view of a master and, unless `runid` is `*`, our vote.
    IsMasterDownByAddr {
        host: Cow<'a, str>,
        port: i64,
        epoch: i64,
        runid: Cow<'a, str>,
    },
    /// The glob pattern of the masters to reset.
    Reset(&'a [u8]),
    Failover {
        name: Cow<'a, str>,
        option: FailoverOption,
    },
    FlushConfig,
    Monitor(NewMaster<'a>),
    Remove(Cow<'a, str>),
    Set {
        name: Cow<'a, str>,
        options: Steps<SetArg<'a>>,
    },
    /// The glob patterns of the parameters asked for.
    ConfigGet(&'a [Vec<u8>]),
    ConfigSet(Vec<ConfigSetting<'a>>),
    PendingScripts,
    SimulateFailure(SimulateFailure),
    /// `DEBUG` alone: list the timing parameters.
    DebugShow,
    /// `DEBUG <param> <value> ...`: upper-case parameter names and values.
    DebugSet(Steps<(&'static str, u64)>),
    Help,
}

/// Settings Redis applies one by one: those before the first bad argument
/// take effect even though the command answers that argument's error.
#[derive(Debug)]
pub(crate) struct Steps<T> {
    valid: Vec<T>,
    then_error: Option<Reply>,
}

impl<'a, T> Steps<T> {
    /// Reads `<option> <values...>` groups of `SENTINEL <command>` in order
    /// until the first bad one. `read(option, following)` gives how many
    /// values the option takes and their reading (`Err(i)`: value `i` is
    /// bad), or `None` for an unknown option or too few values.
    fn parse(
        args: &'a [Vec<u8>],
        command: &str,
        mut read: impl FnMut(&'a [u8], &'a [Vec<u8>]) -> Option<(usize, Result<T, usize>)>,
    ) -> Steps<T> {
        let mut valid = Vec::new();
        let mut rest = args;
        while let Some((option, following)) = rest.split_first() {
            let error = match read(option, following) {
                Some((n, Ok(item))) => {
                    valid.push(item);
                    rest = &rest[n + 1..];
                    continue;
                }
                Some((_, Err(bad))) => format!(
                    "Invalid argument '{}' for SENTINEL {command} '{}'",
                    text(&following[bad]),
                    text(option)
                ),
                None => format!(
                    "Unknown option or number of arguments for SENTINEL {command} '{}'",
                    text(option)
                ),
            };
            return Steps {
                valid,
                then_error: Some(Reply::err(error)),
            };
        }
        Steps {
            valid,
            then_error: None,
        }
    }
}

/// A subcommand's name, before its arguments are read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Sub {
    Masters,
    Master,
    Replicas,
    Sentinels,
    GetMasterAddrByName,
    CkQuorum,
    InfoCache,
    MyId,
    IsMasterDownByAddr,
    Reset,
    Failover,
    FlushConfig,
    Monitor,
    Remove,
    Set,
    Config,
    PendingScripts,
    SimulateFailure,
    Debug,
    Help,
}

/// Every subcommand name, aliases included, with its arity as Redis's
/// command table counts it (`SENTINEL` included; negative: at least).
const NAMES: &[(&str, Sub, i32)] = &[
    ("masters", Sub::Masters, 2),
    ("primaries", Sub::Masters, 2),
    ("master", Sub::Master, 3),
    ("primary", Sub::Master, 3),
    ("replicas", Sub::Replicas, 3),
    ("slaves", Sub::Replicas, 3),
    ("sentinels", Sub::Sentinels, 3),
    ("get-master-addr-by-name", Sub::GetMasterAddrByName, 3),
    ("get-primary-addr-by-name", Sub::GetMasterAddrByName, 3),
    ("ckquorum", Sub::CkQuorum, 3),
    ("info-cache", Sub::InfoCache, -3),
    ("myid", Sub::MyId, 2),
    ("is-master-down-by-addr", Sub::IsMasterDownByAddr, 6),
    ("is-primary-down-by-addr", Sub::IsMasterDownByAddr, 6),
    ("reset", Sub::Reset, 3),
    ("failover", Sub::Failover, 3),
    ("flushconfig", Sub::FlushConfig, 2),
    ("monitor", Sub::Monitor, 6),
    ("remove", Sub::Remove, 3),
    ("set", Sub::Set, -5),
    ("config", Sub::Config, -3),
    ("pending-scripts", Sub::PendingScripts, 2),
    ("simulate-failure", Sub::SimulateFailure, -3),
    ("debug", Sub::Debug, -2),
    ("help", Sub::Help, 2),
];

impl Sub {
    fn lookup(sub: &[u8]) -> Option<(&'static str, Sub, i32)> {
        NAMES
            .iter()
            .find(|(n, _, _)| crate::names::is_name(n, sub))
            .copied()
    }

    /// Answered from `&self` by [`Sentinel::query`].
    fn is_query(self) -> bool {
        matches!(
            self,
            Sub::Masters
                | Sub::Master
                | Sub::Replicas
                | Sub::Sentinels
                | Sub::GetMasterAddrByName
                | Sub::CkQuorum
                | Sub::InfoCache
                | Sub::MyId
        )
    }
}

/// The option of `SENTINEL FAILOVER <name> [option]`. An unknown one is
/// kept rather than refused here: valkey names an unknown master before an
/// unknown option.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FailoverOption {
    /// Redis's forced failover.
    Plain,
    /// valkey 9's `COORDINATED`.
    Coordinated,
    Unknown,
}

impl FailoverOption {
    fn parse(arg: Option<&[u8]>) -> FailoverOption {
        match arg {
            None => FailoverOption::Plain,
            Some(o) if o.eq_ignore_ascii_case(b"coordinated") => FailoverOption::Coordinated,
            Some(_) => FailoverOption::Unknown,
        }
    }
}

fn arity_ok(name: Sub, arity: i32, argc: usize) -> bool {
    let argc = i32::try_from(argc).unwrap_or(i32::MAX);
    // rsentinel's one argument beyond Redis 7.0's table (valkey 9's
    // `FAILOVER <name> COORDINATED`).
    if name == Sub::Failover && argc == 4 {
        return true;
    }
    if arity >= 0 {
        argc == arity
    } else {
        argc >= -arity
    }
}

fn text(b: &[u8]) -> Cow<'_, str> {
    // `from_utf8_lossy` walks its chunk iterator even over valid text;
    // names are valid UTF-8 but for the odd bad request.
    match std::str::from_utf8(b) {
        Ok(s) => Cow::Borrowed(s),
        Err(_) => String::from_utf8_lossy(b),
    }
}

/// Parses `SENTINEL <args...>` (`args[0]` is the subcommand); the error is
/// the reply Redis gives to that request whatever the sentinel's state.
pub(crate) fn parse(args: &[Vec<u8>]) -> Result<SentinelCommand<'_>, Reply> {
    let Some(sub) = args.first() else {
        return Err(Reply::err(
            "wrong number of arguments for 'sentinel' command",
        ));
    };
    let Some((full, name, arity)) = Sub::lookup(sub) else {
        return Err(Reply::err(format!(
            "unknown subcommand '{}'. Try SENTINEL HELP.",
            text(sub)
        )));
    };
    parse_found(args, full, name, arity)
}

/// [`parse`] once the subcommand is known.
fn parse_found<'a>(
    args: &'a [Vec<u8>],
    full: &str,
    name: Sub,
    arity: i32,
) -> Result<SentinelCommand<'a>, Reply> {
    if !arity_ok(name, arity, args.len() + 1) {
        return Err(Reply::err(format!(
            "wrong number of arguments for 'sentinel|{full}' command"
        )));
    }
    // Arity guarantees the arguments each arm reads.
    let arg = |i: usize| text(&args[i]);
    Ok(match name {
        Sub::Masters => SentinelCommand::Query(Query::Masters),
        Sub::Master => SentinelCommand::Query(Query::Master(arg(1))),
        Sub::Replicas => SentinelCommand::Query(Query::Replicas(arg(1))),
        Sub::Sentinels => SentinelCommand::Query(Query::Sentinels(arg(1))),
        Sub::GetMasterAddrByName => SentinelCommand::Query(Query::GetMasterAddrByName(arg(1))),
        Sub::CkQuorum => SentinelCommand::Query(Query::CkQuorum(arg(1))),
        Sub::InfoCache => SentinelCommand::Query(Query::InfoCache(&args[1..])),
        Sub::MyId => SentinelCommand::Query(Query::MyId),
        Sub::IsMasterDownByAddr => SentinelCommand::IsMasterDownByAddr {
            host: arg(1),
            port: string2ll(&args[2]).ok_or_else(not_an_integer)?,
            epoch: string2ll(&args[3]).ok_or_else(not_an_integer)?,
            runid: arg(4),
        },
        Sub::Reset => SentinelCommand::Reset(&args[1]),
        Sub::Failover => SentinelCommand::Failover {
            name: arg(1),
            option: FailoverOption::parse(args.get(2).map(Vec::as_slice)),
        },
        Sub::FlushConfig => SentinelCommand::FlushConfig,
        Sub::Monitor => config::parse_monitor(args)?,
        Sub::Remove => SentinelCommand::Remove(arg(1)),
        Sub::Set => SentinelCommand::Set {
            name: arg(1),
            options: set::parse_options(&args[2..]),
        },
        Sub::Config => config::parse_config(args)?,
        Sub::PendingScripts => SentinelCommand::PendingScripts,
        Sub::SimulateFailure => {
            SentinelCommand::SimulateFailure(debug::parse_simulate(&args[1..])?)
        }
        Sub::Debug if args.len() == 1 => SentinelCommand::DebugShow,
        Sub::Debug => SentinelCommand::DebugSet(debug::parse_debug(&args[1..])),
        Sub::Help => SentinelCommand::Help,
    })
}

impl Sentinel {
    /// The read-only `SENTINEL` subcommands, answered from `&self` so a
    /// connection can run them against the shared core without asking the
    /// driver; `None` for everything else (writes, votes, unknown names,
    /// malformed requests, whose errors `command` gives).
    pub fn query(&self, now: Millis, args: &[Vec<u8>]) -> Option<Reply> {
        let mut b = ReplyBuilder::new();
        self.query_into(|| now, args, &mut b).then(|| b.finish())
    }

    /// [`Sentinel::query`] writing the answer to `w` as it goes instead of
    /// building it (the shell encodes it straight into the client's output).
    /// `now` is only read by the queries whose answer carries ages. Returns
    /// whether `args` was such a query; nothing is written otherwise.
    pub fn query_into<W: ReplyWriter + ?Sized>(
        &self,
        now: impl FnOnce() -> Millis,
        args: &[Vec<u8>],
        w: &mut W,
    ) -> bool {
        // Queries run once per client request: routing one allocates
        // nothing (names are looked up in place, arguments borrowed).
        let Some((full, name, arity)) = args.first().and_then(|a| Sub::lookup(a)) else {
            return false;
        };
        // Malformed ones go to `command`, which words their error.
        if !name.is_query() || !arity_ok(name, arity, args.len() + 1) {
            return false;
        }
        let Ok(SentinelCommand::Query(q)) = parse_found(args, full, name, arity) else {
            return false;
        };
        // Reading the clock is a system call's worth on the hottest query.
        let now = if q.reads_clock() { now() } else { Millis(0) };
        self.write_query(now, &q, w);
        true
    }

    /// Runs `SENTINEL <args...>`; `args[0]` is the subcommand. A command
    /// that changed persisted state (itself, or through a vote or a new
    /// epoch) queues one [`super::Action::Persist`] and its reply is
    /// [`Durability::AfterWrite`].
    pub fn command(&mut self, now: Millis, args: &[Vec<u8>]) -> CommandOutput {
        let requests_before = self.out.persist_requests();
        let mut out = match parse(args) {
            Ok(cmd) => self.run_command(now, cmd),
            Err(e) => CommandOutput::reply(e),
        };
        if out.after_write() {
            self.out.persist();
        } else if self.out.persist_requests() != requests_before {
            out.durability = Durability::AfterWrite;
        }
        out
    }

    fn run_command(&mut self, now: Millis, cmd: SentinelCommand<'_>) -> CommandOutput {
        let read_only = matches!(
            cmd,
            SentinelCommand::Query(_)
                | SentinelCommand::ConfigGet(_)
                | SentinelCommand::PendingScripts
                | SentinelCommand::DebugShow
                | SentinelCommand::Help
        );
        if !read_only {
            // Settings, votes, resets and failovers change what is due.
            self.touch_all();
        }
        match cmd {
            SentinelCommand::Query(q) => CommandOutput::reply(self.answer_query(now, &q)),
            SentinelCommand::IsMasterDownByAddr {
                host,
                port,
                epoch,
                runid,
            } => self.is_master_down_cmd(now, &host, port, epoch, &runid),
            SentinelCommand::Failover { name, option } => self.failover_cmd(now, &name, option),
            SentinelCommand::Reset(pattern) => self.reset_cmd(now, pattern),
            SentinelCommand::FlushConfig => CommandOutput::flushed(Reply::ok()),
            SentinelCommand::Monitor(new) => self.monitor_cmd(now, &new),
            SentinelCommand::Remove(name) => self.remove_cmd(&name),
            SentinelCommand::Set { name, options } => self.set_cmd(&name, options),
            SentinelCommand::ConfigGet(patterns) => self.config_get(patterns),
            SentinelCommand::ConfigSet(settings) => self.config_set(settings),
            SentinelCommand::PendingScripts => {
                CommandOutput::reply(self.pending_scripts_reply(now))
            }
            SentinelCommand::SimulateFailure(sim) => self.simulate_failure_cmd(sim),
            SentinelCommand::DebugShow => self.debug_show(),
            SentinelCommand::DebugSet(steps) => self.debug_set(steps),
            SentinelCommand::Help => CommandOutput::reply(debug::help()),
        }
    }
}

/// The reply to an argument that is not one of Redis's strict integers.
pub(crate) fn not_an_integer() -> Reply {
    Reply::err(NOT_AN_INTEGER)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn argv(words: &[&str]) -> Vec<Vec<u8>> {
        words.iter().map(|w| w.as_bytes().to_vec()).collect()
    }

    #[test]
    fn every_name_is_found_in_any_case_and_fits_the_lookup_buffer() {
        for (name, sub, _) in NAMES {
            assert_eq!(Sub::lookup(name.as_bytes()).map(|f| f.1), Some(*sub));
            let upper = name.to_ascii_uppercase();
            assert_eq!(Sub::lookup(upper.as_bytes()).map(|f| f.1), Some(*sub));
        }
        assert!(Sub::lookup(b"get-master-addr-by-name-and-more").is_none());
        assert!(Sub::lookup(b"").is_none());
    }

    fn parse_err(words: &[&str]) -> Reply {
        parse(&argv(words)).expect_err("should be refused")
    }

    fn monitored() -> Sentinel {
        let mut s = Sentinel::new(1, 26379);
        let args: Vec<String> = "monitor m 127.0.0.1 6379 2"
            .split(' ')
            .map(String::from)
            .collect();
        s.apply_directive(Millis(0), &args).unwrap();
        s
    }

    #[test]
    fn aliases_parse_to_the_same_command() {
        for (a, b) in [
            ("master", "PRIMARY"),
            ("replicas", "Slaves"),
            ("get-master-addr-by-name", "get-primary-addr-by-name"),
        ] {
            let (x, y) = (argv(&[a, "m"]), argv(&[b, "m"]));
            assert_eq!(
                format!("{:?}", parse(&x).unwrap()),
                format!("{:?}", parse(&y).unwrap())
            );
        }
        let (x, y) = (argv(&["masters"]), argv(&["primaries"]));
        assert!(matches!(
            (parse(&x), parse(&y)),
            (
                Ok(SentinelCommand::Query(Query::Masters)),
                Ok(SentinelCommand::Query(Query::Masters))
            )
        ));
        let down = argv(&["is-primary-down-by-addr", "h", "1", "2", "*"]);
        assert!(matches!(
            parse(&down),
            Ok(SentinelCommand::IsMasterDownByAddr {
                port: 1,
                epoch: 2,
                ..
            })
        ));
    }

    #[test]
    fn arity_and_names_are_refused_in_redis_wording() {
        assert_eq!(
            parse_err(&[]),
            Reply::err("wrong number of arguments for 'sentinel' command")
        );
        assert_eq!(
            parse_err(&["Nosuch"]),
            Reply::err("unknown subcommand 'Nosuch'. Try SENTINEL HELP.")
        );
        assert_eq!(
            parse_err(&["PRIMARY"]),
            Reply::err("wrong number of arguments for 'sentinel|primary' command")
        );
        assert_eq!(
            parse_err(&["set", "m", "quorum"]),
            Reply::err("wrong number of arguments for 'sentinel|set' command")
        );
        assert!(parse(&argv(&["failover", "m", "coordinated"])).is_ok());
        assert!(parse(&argv(&["failover", "m", "a", "b"])).is_err());
    }

    #[test]
    fn integers_are_read_strictly_once() {
        for bad in ["+5", "05", " 5", "-0", ""] {
            assert_eq!(
                parse_err(&["is-master-down-by-addr", "h", bad, "1", "*"]),
                not_an_integer()
            );
            assert_eq!(
                parse_err(&["monitor", "m", "h", "1", bad]),
                Reply::err("Invalid quorum")
            );
            assert_eq!(
                parse_err(&["monitor", "m", "h", bad, "1"]),
                Reply::err("Invalid port")
            );
        }
        assert_eq!(
            parse_err(&["monitor", "m", "h", "1", "0"]),
            Reply::err("Quorum must be 1 or greater.")
        );
    }

    #[test]
    fn set_applies_the_options_before_a_bad_one_and_persists_them() {
        let mut s = monitored();
        let out = s.command(
            Millis(1),
            &argv(&["set", "m", "quorum", "3", "parallel-syncs", "+2"]),
        );
        assert_eq!(
            out.reply,
            Reply::err("Invalid argument '+2' for SENTINEL SET 'parallel-syncs'")
        );
        assert!(out.after_write(), "quorum 3 was applied");
        assert_eq!(s.masters["m"].quorum, 3);
        let out = s.command(Millis(1), &argv(&["set", "m", "Bogus", "1"]));
        assert_eq!(
            out.reply,
            Reply::err("Unknown option or number of arguments for SENTINEL SET 'Bogus'")
        );
        assert!(!out.after_write());
        let out = s.command(Millis(1), &argv(&["set", "nosuch", "Bogus", "1"]));
        assert_eq!(out.reply, Reply::err(NO_SUCH_MASTER));
    }

    #[test]
    fn set_auth_pass_is_redacted_in_its_event() {
        let mut s = monitored();
        while s.poll_action().is_some() {}
        let out = s.command(Millis(1), &argv(&["set", "m", "auth-pass", "secret"]));
        assert_eq!(out.reply, Reply::ok());
        let mut events = Vec::new();
        while let Some(a) = s.poll_action() {
            if let super::super::Action::Event(e) = a {
                events.push(e.msg);
            }
        }
        assert!(
            events.iter().any(|m| m.ends_with("auth-pass ******")),
            "{events:?}"
        );
        assert!(!events.iter().any(|m| m.contains("secret")));
    }

    #[test]
    fn debug_applies_pairs_before_a_bad_one() {
        let mut s = monitored();
        let out = s.command(
            Millis(1),
            &argv(&["debug", "ping-period", "500", "tilt-period", "0"]),
        );
        assert_eq!(
            out.reply,
            Reply::err("Invalid argument '0' for SENTINEL DEBUG 'tilt-period'")
        );
        assert_eq!(s.timing.ping_period, 500);
        let out = s.command(Millis(1), &argv(&["debug", "ping-period"]));
        assert_eq!(
            out.reply,
            Reply::err("Unknown option or number of arguments for SENTINEL DEBUG 'ping-period'")
        );
    }

    #[test]
    fn queries_are_answered_in_place_and_writes_are_not() {
        let s = monitored();
        assert!(s.query(Millis(1), &argv(&["primary", "m"])).is_some());
        assert_eq!(
            s.query(Millis(1), &argv(&["master", "x"])),
            Some(Reply::err(NO_SUCH_MASTER))
        );
        assert!(s
            .query(Millis(1), &argv(&["set", "m", "quorum", "1"]))
            .is_none());
        assert!(s.query(Millis(1), &argv(&["master"])).is_none());
    }
}
