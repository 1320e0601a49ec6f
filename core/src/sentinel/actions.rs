//! What the core asks the shell to do.

use super::addr::Addr;
use super::events::{Event, Level};
use super::links::{Auth, LinkId, Outgoing};
use super::scripts::ScriptRun;
use crate::reply::Reply;

/// One instruction for the shell, drained with `Sentinel::poll_action`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Action {
    /// Publish the event on its channel, log it, and run the notification
    /// script when it names one.
    Event(Event),
    /// Open a link. On success report `link_connected`, on failure or later
    /// loss `link_closed`. With `peer_auth_fallback`, authenticate with the
    /// local `requirepass` (Redis's legacy rule for sentinel peers).
    Connect {
        link: LinkId,
        addr: Addr,
        auth: Option<Auth>,
        peer_auth_fallback: bool,
    },
    /// Send a command; report its reply with `handle_reply` and the tag.
    Send(Outgoing),
    /// Close a link (it will be reconnected later by the core).
    Close(LinkId),
    /// Persist this snapshot of the `sentinel ...` config lines (state that
    /// must survive a crash changed). Only the latest snapshot matters: a
    /// writer may skip older ones it has not started yet.
    Persist(super::ConfigLines),
    /// Start a script (notification or client-reconfig; the queue policy
    /// is the core's). Report with `script_started` or
    /// `script_spawn_failed`, and later `script_exited`.
    RunScript(ScriptRun),
    /// Kill (SIGKILL) the running script `id`; it overran its deadline.
    KillScript { id: u64 },
    /// Exit the process with this code (`SENTINEL SIMULATE-FAILURE`).
    Crash(i32),
    /// Write a log line that is not an event (not published, no script),
    /// e.g. Redis's warning about a rejected address.
    Log { level: Level, text: String },
    /// Close every link to this master and its replicas (credentials
    /// changed, reset); they reconnect on their own.
    DropLinks { master: String },
    /// Close every link to other sentinels (peer credentials changed).
    DropSentinelLinks,
    /// Resolve this hostname without blocking and report the first address
    /// found (or the failure) with `host_resolved`.
    Resolve { host: String },
}

/// When the answer to a client command may leave.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Durability {
    /// At once: the command changed nothing that must survive a crash.
    Immediate,
    /// Only once the [`Action::Persist`] this command queued (or a later
    /// one) is written and synced: a vote, an epoch, SET, MONITOR, REMOVE,
    /// FLUSHCONFIG, CONFIG SET… must not be acknowledged before it would
    /// survive a crash. If that write fails and the reply is `+OK`, the
    /// answer is [`FLUSH_FAILED`] instead.
    AfterWrite,
}

/// The answer to a client command.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CommandOutput {
    pub reply: Reply,
    pub durability: Durability,
}

impl CommandOutput {
    pub fn reply(reply: Reply) -> CommandOutput {
        CommandOutput {
            reply,
            durability: Durability::Immediate,
        }
    }

    /// A reply that waits for the config write (`Sentinel::command` queues
    /// the [`Action::Persist`]).
    pub fn flushed(reply: Reply) -> CommandOutput {
        CommandOutput {
            reply,
            durability: Durability::AfterWrite,
        }
    }

    pub fn after_write(&self) -> bool {
        self.durability == Durability::AfterWrite
    }
}

/// Redis's reply when a flush fails.
pub const FLUSH_FAILED: &str = "Failed to save config file. Check server logs.";
