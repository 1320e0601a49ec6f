//! One connection's own state (protocol, login, subscriptions, reply mode)
//! and the shared context every command handler gets.

use std::sync::Arc;

use tokio::sync::broadcast;

use super::client_registry::Client;
use super::dispatch::Inbound;
use super::pubsub::Subscriptions;
use super::state::{ServerState, Stats};
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

/// What a connection's last requests left to publish.
#[derive(Debug, Default)]
struct Unsettled {
    /// The buffers as the last request started (CLIENT LIST's view).
    inbound: Option<Inbound>,
    /// The last command that passed the gates.
    last_cmd: Option<&'static str>,
    /// Commands run (INFO's `total_commands_processed`).
    commands: u64,
    /// When the client's last bytes were read (CLIENT LIST's `idle`).
    read_at: Option<std::time::Instant>,
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
    command_counter: CommandCounter,
    /// Bookkeeping of the last requests not yet published (see
    /// [`Session::settle`]).
    unsettled: Unsettled,
    /// CLIENT CACHING ran last: its flag goes after the next command.
    pub caching_armed: bool,
    /// Commands the ACL let this user run whatever their arguments, and the
    /// ACL version that said so (see [`Session::acl_allowed`]).
    acl_allowed: Vec<&'static CommandSpec>,
    acl_version: u64,
    /// The output backlog the client's metadata shows (CLIENT LIST's
    /// `obl`), so that showing 0 again costs a lock only when it is not.
    obl_shown: usize,
    /// When the client's last bytes were read, as published or about to be.
    last_read: std::time::Instant,
}

impl Session {
    pub fn new(client: Arc<Client>, authenticated: bool) -> Session {
        let (user, last_read) = {
            let meta = client.meta();
            (meta.user.clone(), meta.last_interaction)
        };
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
            unsettled: Unsettled::default(),
            caching_armed: false,
            acl_allowed: Vec::new(),
            acl_version: 0,
            obl_shown: 0,
            last_read,
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

    /// Records the buffers as a request starts, and its command once it
    /// has passed the gates, for CLIENT LIST; published by
    /// [`Session::settle`].
    pub fn note(&mut self, inbound: Inbound, cmd: Option<&'static CommandSpec>) {
        self.unsettled.inbound = Some(inbound);
        if let Some(cmd) = cmd {
            self.unsettled.last_cmd = Some(cmd.full_name);
        }
    }

    /// Counts a command about to run (INFO stats and the metrics);
    /// published by [`Session::settle`].
    pub fn count_command(&mut self, full_name: &'static str) {
        self.unsettled.commands += 1;
        self.command_counter.inc(full_name);
    }

    /// Publishes what the requests since the last call left: the client's
    /// metadata (one lock) and the command counts. The connection calls it
    /// before anything that can yield to another task or read them (a
    /// command other than a query answered in place, a wait, a write), so
    /// no other client and no later command sees them late; a pipelined
    /// batch of queries then pays one lock and two atomic adds, not a lock
    /// and three atomic updates per request (most of dispatch's own time).
    pub fn settle(&mut self, stats: &Stats) {
        self.settle_showing(stats, None);
    }

    /// [`Session::settle`] before the output is written: shows the output
    /// backlog as 0, what it is once the write is done. Nothing else runs
    /// before then unless the write must wait, and then the connection
    /// shows the backlog ([`Session::show_obl`]).
    pub fn settle_for_write(&mut self, stats: &Stats) {
        self.settle_showing(stats, Some(0));
    }

    fn settle_showing(&mut self, stats: &Stats, obl: Option<usize>) {
        let u = std::mem::take(&mut self.unsettled);
        let obl = obl.or(u.inbound.map(|i| i.obl));
        let obl_changes = obl.is_some_and(|o| o != self.obl_shown);
        if u.inbound.is_some() || u.last_cmd.is_some() || u.read_at.is_some() || obl_changes {
            let mut meta = self.client.meta();
            if let Some(i) = u.inbound {
                meta.qbuf = i.qbuf;
                meta.qbuf_free = i.qbuf_free;
                meta.argv_mem = i.argv_mem;
            }
            if let Some(o) = obl {
                meta.obl = o;
                self.obl_shown = o;
            }
            if let Some(cmd) = u.last_cmd {
                meta.last_cmd = cmd;
            }
            if let Some(at) = u.read_at {
                meta.last_interaction = at;
            }
        }
        if u.commands > 0 {
            Stats::add(&stats.commands_processed, u.commands);
        }
        self.command_counter.flush();
    }

    /// Shows `obl` bytes of output backlog (CLIENT LIST's `obl`); no lock
    /// when it already shows that.
    pub fn show_obl(&mut self, obl: usize) {
        if obl != self.obl_shown {
            self.client.meta().obl = obl;
            self.obl_shown = obl;
        }
    }

    /// The client's bytes were just read; published by [`Session::settle`].
    pub fn note_read(&mut self, at: std::time::Instant) {
        self.unsettled.read_at = Some(at);
        self.last_read = at;
    }

    /// When the client's last bytes were read (the idle `timeout` counts
    /// from there).
    pub fn last_read(&self) -> std::time::Instant {
        self.last_read
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
