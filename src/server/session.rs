//! One connection's own state (protocol, login, subscriptions, reply mode)
//! and the shared context every command handler gets.

use std::sync::Arc;

use tokio::sync::broadcast;

use super::client_registry::Client;
use super::pubsub::Subscriptions;
use super::state::ServerState;
use crate::commands::table::CommandSpec;
use crate::driver::handle::{CoreHandle, Published};
use crate::observe::CommandCounter;

/// How many allowed commands a session remembers (a client mostly repeats
/// a few).
const ACL_ALLOWED_KEPT: usize = 8;

/// What command handlers share: the server state and the driver.
#[derive(Clone, Debug)]
pub struct Ctx {
    pub state: Arc<ServerState>,
    pub core: CoreHandle,
}

#[derive(Debug)]
pub struct Session {
    pub client: Arc<Client>,
    pub resp3: bool,
    /// Logged in (at connect, when the default user needs no password).
    pub authenticated: bool,
    pub subs: Subscriptions,
    /// Events from the driver, held only while subscribed to something.
    pub events: Option<broadcast::Receiver<Published>>,
    /// CLIENT REPLY OFF.
    pub reply_off: bool,
    /// CLIENT REPLY SKIP: hide the next command's reply.
    pub skip_next: bool,
    /// Close once the pending replies are written (CLIENT KILL of itself,
    /// ACL DELUSER of its own user).
    pub close_after_reply: bool,
    /// The logged-in user, mirrored from the client's metadata so that the
    /// per-request ACL check neither locks nor copies it.
    user: String,
    /// The command counter of the metrics, for the last command run.
    pub command_counter: CommandCounter,
    /// CLIENT CACHING ran last: its flag goes after the next command.
    pub caching_armed: bool,
    /// Commands the ACL let this user run whatever their arguments, and the
    /// ACL version that said so (see [`Session::acl_allowed`]).
    acl_allowed: Vec<&'static CommandSpec>,
    acl_version: u64,
}

impl Session {
    pub fn new(client: Arc<Client>, authenticated: bool) -> Session {
        let user = client.meta().user.clone();
        Session {
            user,
            client,
            resp3: false,
            authenticated,
            subs: Subscriptions::default(),
            events: None,
            reply_off: false,
            skip_next: false,
            close_after_reply: false,
            command_counter: CommandCounter::default(),
            caching_armed: false,
            acl_allowed: Vec::new(),
            acl_version: 0,
        }
    }

    /// Whether the ACL at `version` already let this session's user run
    /// `cmd` (a command or subcommand whose check reads no argument).
    pub fn acl_allowed(&self, version: u64, cmd: &CommandSpec) -> bool {
        self.acl_version == version && self.acl_allowed.iter().any(|c| std::ptr::eq(*c, cmd))
    }

    /// Remembers that the ACL at `version` lets this user run `cmd`.
    pub fn remember_acl_allowed(&mut self, version: u64, cmd: &'static CommandSpec) {
        if self.acl_version != version {
            self.acl_allowed.clear();
            self.acl_version = version;
        }
        if self.acl_allowed.len() >= ACL_ALLOWED_KEPT {
            self.acl_allowed.remove(0);
        }
        self.acl_allowed.push(cmd);
    }

    pub fn user(&self) -> &str {
        &self.user
    }

    /// A successful AUTH / HELLO AUTH.
    pub fn login(&mut self, user: &str) {
        self.acl_allowed.clear();
        self.authenticated = true;
        self.user = user.to_string();
        self.client.meta().user = user.to_string();
    }

    pub fn set_resp(&mut self, version: u8) {
        self.resp3 = version == 3;
        self.client.meta().resp = version;
    }

    /// The RESP2 subscribed context: only pub/sub commands and PING.
    pub fn in_resp2_pubsub(&self) -> bool {
        !self.resp3 && self.subs.count() > 0
    }

    /// After a (P)(UN)SUBSCRIBE: mirror counts for CLIENT LIST, and hold a
    /// receiver exactly while subscribed to something. Subscribing late
    /// means only events published from now on are seen, as in Redis.
    pub fn sync_subscriptions(&mut self, core: &CoreHandle) {
        {
            let mut m = self.client.meta();
            m.sub = self.subs.channels();
            m.psub = self.subs.patterns();
        }
        if self.subs.count() == 0 {
            self.events = None;
        } else if self.events.is_none() {
            self.events = Some(core.subscribe());
        }
    }
}
