//! What the core asks the shell to do.

use super::addr::Addr;
use super::events::{Event, Level};
use super::links::{Auth, LinkId, Outgoing};
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
    /// Rewrite the config file now (state that must survive a crash changed).
    FlushConfig,
    /// Run the master's `client-reconfig-script` (if it has one) with
    /// `<master> <role> start <from-ip> <from-port> <to-ip> <to-port>`.
    ReconfigScript {
        master: String,
        role: &'static str,
        from: Addr,
        to: Addr,
    },
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

/// The answer to a client command.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CommandOutput {
    pub reply: Reply,
    /// Flush the config before replying; if that fails and `reply` is `+OK`,
    /// answer `-ERR Failed to save config file. Check server logs.` instead.
    pub flush: bool,
}

impl CommandOutput {
    pub fn reply(reply: Reply) -> CommandOutput {
        CommandOutput {
            reply,
            flush: false,
        }
    }

    pub fn flushed(reply: Reply) -> CommandOutput {
        CommandOutput { reply, flush: true }
    }
}

/// Redis's reply when a flush fails.
pub const FLUSH_FAILED: &str = "Failed to save config file. Check server logs.";
