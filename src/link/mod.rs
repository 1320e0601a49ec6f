//! Outbound links to monitored instances and peer sentinels. Each link is a
//! task owning one TCP connection (TLS under `tls-replication yes`); the
//! driver opens, feeds and closes links as the core asks, and receives
//! [`LinkEvent`]s back. Every event carries the link's generation so that
//! news from a replaced connection is ignored.

mod task;

use std::collections::HashMap;
use std::time::Duration;

use rsentinel_core::sentinel::links::{LinkId, Tag};
use rsentinel_core::sentinel::Addr;
use tokio::sync::mpsc;
use tokio_rustls::TlsConnector;

pub use task::LinkEvent;

/// A command to write on a link, with what its reply will mean.
type Outgoing = (Vec<Vec<u8>>, Tag);

struct Handle {
    generation: u64,
    tx: mpsc::UnboundedSender<Outgoing>,
}

/// How outbound connections are made: bound to `bind-source-addr`, and
/// over TLS with `tls-replication yes` (all or nothing, as in Redis).
#[derive(Clone, Default)]
pub struct LinkOptions {
    pub bind_source: Option<std::net::IpAddr>,
    pub tls: Option<TlsConnector>,
}

/// The open links, by id.
pub struct LinkManager {
    links: HashMap<LinkId, Handle>,
    next_generation: u64,
    events: mpsc::UnboundedSender<LinkEvent>,
    connect_timeout: Duration,
    bind_source: Option<std::net::IpAddr>,
    tls: Option<TlsConnector>,
}

impl LinkManager {
    pub fn new(events: mpsc::UnboundedSender<LinkEvent>, options: LinkOptions) -> LinkManager {
        LinkManager {
            links: HashMap::new(),
            next_generation: 1,
            events,
            connect_timeout: Duration::from_millis(1000),
            bind_source: options.bind_source,
            tls: options.tls,
        }
    }

    /// Opens `link` to `addr`, replacing any connection it had. With
    /// `first_auth`, `AUTH <pass>` is sent before anything else.
    pub fn connect(&mut self, link: LinkId, addr: Addr, first_auth: Option<String>) {
        let generation = self.next_generation;
        self.next_generation += 1;
        let (tx, rx) = mpsc::unbounded_channel();
        self.links.insert(link.clone(), Handle { generation, tx });
        tokio::spawn(task::run(task::LinkTask {
            link,
            generation,
            addr,
            first_auth,
            commands: rx,
            events: self.events.clone(),
            connect_timeout: self.connect_timeout,
            bind_source: self.bind_source,
            tls: self.tls.clone(),
        }));
    }

    /// Resolves `host` in the background; the answer comes back as
    /// [`LinkEvent::Resolved`].
    pub fn resolve(&self, host: String) {
        tokio::spawn(task::resolve(host, self.events.clone()));
    }

    /// Queues a command; false when the link is not open (the caller treats
    /// it as closed).
    pub fn send(&mut self, link: &LinkId, args: Vec<Vec<u8>>, tag: Tag) -> bool {
        match self.links.get(link) {
            Some(h) => h.tx.send((args, tag)).is_ok(),
            None => false,
        }
    }

    /// Closes a link; its task ends without reporting further events that
    /// would be taken as current.
    pub fn close(&mut self, link: &LinkId) {
        self.links.remove(link);
    }

    /// Closes every link matching `pred`, returning their ids.
    pub fn close_where(&mut self, pred: impl Fn(&LinkId) -> bool) -> Vec<LinkId> {
        let ids: Vec<LinkId> = self.links.keys().filter(|l| pred(l)).cloned().collect();
        for id in &ids {
            self.links.remove(id);
        }
        ids
    }

    /// Whether an event from `generation` of `link` is about the current
    /// connection.
    pub fn is_current(&self, link: &LinkId, generation: u64) -> bool {
        self.links
            .get(link)
            .is_some_and(|h| h.generation == generation)
    }

    /// Forgets a link whose task ended on its own.
    pub fn forget(&mut self, link: &LinkId, generation: u64) {
        if self.is_current(link, generation) {
            self.links.remove(link);
        }
    }
}
