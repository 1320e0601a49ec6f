//! One connection's own state (protocol, login, subscriptions, reply mode)
//! and the shared context every command handler gets.

use std::sync::Arc;

use tokio::sync::broadcast;

use super::client_registry::Client;
use super::pubsub::Subscriptions;
use super::state::ServerState;
use crate::driver::handle::{CoreHandle, PubMessage};

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
    pub events: Option<broadcast::Receiver<PubMessage>>,
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
        }
    }

    pub fn user(&self) -> &str {
        &self.user
    }

    /// A successful AUTH / HELLO AUTH.
    pub fn login(&mut self, user: &str) {
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
