//! The `SENTINEL` subcommands for operators and tests: DEBUG (the timing
//! parameters, never persisted), SIMULATE-FAILURE, and the HELP text.

use super::Steps;
use crate::reply::Reply;
use crate::sentinel::actions::CommandOutput;
use crate::sentinel::timing::Timing;
use crate::sentinel::{
    Sentinel, SIMFAILURE_CRASH_AFTER_ELECTION, SIMFAILURE_CRASH_AFTER_PROMOTION,
};
use crate::string2ll::string2ll;

/// `SIMULATE-FAILURE <flag>...`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum SimulateFailure {
    /// The `SIMFAILURE_*` bits to set (the flags given replace the old ones).
    Crash(u32),
    /// `HELP` among the flags: list them, change nothing.
    Help,
}

/// Reads the flags in order: the first unknown one is the error, unless
/// `HELP` came before it.
pub(super) fn parse_simulate(flags: &[Vec<u8>]) -> Result<SimulateFailure, Reply> {
    let mut bits = 0;
    for flag in flags {
        if flag.eq_ignore_ascii_case(b"crash-after-election") {
            bits |= SIMFAILURE_CRASH_AFTER_ELECTION;
        } else if flag.eq_ignore_ascii_case(b"crash-after-promotion") {
            bits |= SIMFAILURE_CRASH_AFTER_PROMOTION;
        } else if flag.eq_ignore_ascii_case(b"help") {
            return Ok(SimulateFailure::Help);
        } else {
            return Err(Reply::err("Unknown failure simulation specified"));
        }
    }
    Ok(SimulateFailure::Crash(bits))
}

/// Reads `<param> <value>` pairs up to the first bad one; as in Redis, the
/// pairs before it are applied.
pub(super) fn parse_debug(pairs: &[Vec<u8>]) -> Steps<(&'static str, u64)> {
    let names = Timing::default().entries().map(|(name, _)| name);
    Steps::parse(pairs, "DEBUG", |param, following| {
        let &name = names
            .iter()
            .find(|n| n.as_bytes().eq_ignore_ascii_case(param))?;
        let value = string2ll(following.first()?).filter(|&v| v > 0);
        Some((1, value.map(|v| (name, v as u64)).ok_or(0)))
    })
}

impl Sentinel {
    pub(super) fn simulate_failure_cmd(&mut self, sim: SimulateFailure) -> CommandOutput {
        match sim {
            SimulateFailure::Help => CommandOutput::reply(Reply::Array(vec![
                Reply::bulk("crash-after-election"),
                Reply::bulk("crash-after-promotion"),
            ])),
            SimulateFailure::Crash(bits) => {
                self.simulate_failure = bits;
                CommandOutput::reply(Reply::ok())
            }
        }
    }

    pub(super) fn debug_show(&self) -> CommandOutput {
        let pairs: Vec<(&str, Reply)> = self
            .timing
            .entries()
            .iter()
            .map(|(k, v)| (*k, Reply::bulk_int(*v as i64)))
            .collect();
        CommandOutput::reply(Reply::map_of(pairs))
    }

    /// Timing changes are not persisted: the reply never waits.
    pub(super) fn debug_set(&mut self, steps: Steps<(&'static str, u64)>) -> CommandOutput {
        for (name, v) in steps.valid {
            if let Some(f) = self.timing.field_mut(name) {
                *f = v;
            }
        }
        CommandOutput::reply(steps.then_error.unwrap_or_else(Reply::ok))
    }
}

pub(super) fn help() -> Reply {
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
