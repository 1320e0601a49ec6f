//! Outbound links to monitored instances and peer sentinels. Each link is a
//! task owning one TCP connection (TLS under `tls-replication yes`); the
//! driver opens, feeds and closes links as the core asks, and receives
//! [`LinkEvent`]s back. Every event carries the link's generation so that
//! news from a replaced connection is ignored.
//!
//! Both directions are bounded, and only the link tasks ever wait:
//! * link → driver: one queue of [`EVENT_QUEUE`] events shared by all
//!   links. A link task that finds it full waits, and while it waits it does
//!   not read its socket, so an instance or peer flooding us with replies is
//!   slowed down by TCP itself. Tokio hands out queue slots in FIFO order,
//!   so a flooding link gets its turn like every other link, no more.
//! * driver → link: [`COMMAND_QUEUE`] commands per link, sent with
//!   `try_send`. The core already stops scheduling commands on a link with
//!   100 unanswered ones, so a full queue means the link is stuck (the peer
//!   stopped reading): the driver closes it and the core reconnects.
//!
//! The driver therefore never waits on a link, and a link waiting on the
//! driver is always released by the driver's loop: no deadlock either way.

mod command_queue;
mod task;

use foldhash::HashMap;
use std::time::Duration;

use rsentinel_core::sentinel::links::{LinkId, Tag};
use rsentinel_core::sentinel::Addr;
use tokio::sync::mpsc;
use tokio_rustls::TlsConnector;

pub use task::LinkEvent;

/// Frees `q`'s buffer once it is empty. Commands (and the replies owed for
/// them) pile up only while a link connects, and otherwise a link has a
/// command or three in flight a second: holding room for them between
/// times cost every idle link ~400 bytes (grown buffers kept for good had
/// been 4 MiB of a sentinel at 1 000 masters), freeing it costs an
/// allocation per burst, next to the several a message takes anyway.
fn give_back_if_drained<T>(q: &mut std::collections::VecDeque<T>) {
    if q.is_empty() && q.capacity() > 0 {
        *q = std::collections::VecDeque::new();
    }
}

/// A command to write on a link, with what its reply will mean.
type Outgoing = (Vec<Vec<u8>>, Tag);

/// Link events waiting for the driver, all links together.
pub const EVENT_QUEUE: usize = 1024;
/// Commands waiting to be written on one link: well above the core's own
/// bound of 100 unanswered periodic commands per link and master sharing it.
pub const COMMAND_QUEUE: usize = 4096;

struct Handle {
    generation: u64,
    tx: command_queue::Sender<Outgoing>,
}

/// How outbound connections are made: bound to `bind-source-addr`, and
/// over TLS with `tls-replication yes` (all or nothing, as in Redis).
#[derive(Clone, Default)]
pub struct LinkOptions {
    pub bind_source: Option<std::net::IpAddr>,
    pub tls: Option<TlsConnector>,
}

/// The open links, by id. Keyed by the id the link's task shares: 2 000
/// entries at 1 000 masters, where a full `LinkId` per bucket (56 bytes,
/// table sized to the next power of two) had been a third of a megabyte.
pub struct LinkManager {
    links: HashMap<std::sync::Arc<LinkId>, Handle>,
    next_generation: u64,
    events: mpsc::Sender<LinkEvent>,
    connect_timeout: Duration,
    bind_source: Option<std::net::IpAddr>,
    tls: Option<TlsConnector>,
}

impl LinkManager {
    pub fn new(events: mpsc::Sender<LinkEvent>, options: LinkOptions) -> LinkManager {
        LinkManager {
            links: HashMap::default(),
            next_generation: 1,
            events,
            connect_timeout: Duration::from_millis(1000),
            bind_source: options.bind_source,
            tls: options.tls,
        }
    }

    /// Opens `link` to `addr`, replacing any connection it had. With
    /// `first_auth`, `AUTH <pass>` (the password's exact bytes) is sent
    /// before anything else.
    pub fn connect(&mut self, link: LinkId, addr: Addr, first_auth: Option<Vec<u8>>) {
        let generation = self.next_generation;
        self.next_generation += 1;
        let (tx, rx) = command_queue::queue(COMMAND_QUEUE);
        let link = std::sync::Arc::new(link);
        self.links.insert(link.clone(), Handle { generation, tx });
        let t = task::LinkTask {
            link,
            generation,
            commands: rx,
            events: self.events.clone(),
        };
        let dial = Box::new(task::Dial {
            addr,
            first_auth,
            connect_timeout: self.connect_timeout,
            bind_source: self.bind_source,
            tls: self.tls.clone(),
        });
        tokio::spawn(task::run(t, dial));
    }

    /// Resolves `host` in the background; the answer comes back as
    /// [`LinkEvent::Resolved`].
    pub fn resolve(&self, host: String) {
        tokio::spawn(task::resolve(host, self.events.clone()));
    }

    /// Queues a command without ever waiting; false when the link is not
    /// open or its queue is full (it is then closed here, and the caller
    /// treats it as closed).
    pub fn send(&mut self, link: &LinkId, args: Vec<Vec<u8>>, tag: Tag) -> bool {
        let Some(h) = self.links.get(link) else {
            return false;
        };
        match h.tx.try_send((args, tag)) {
            Ok(()) => true,
            Err(command_queue::SendError::Full) => {
                tracing::debug!("{link:?}: {COMMAND_QUEUE} commands queued, closing the link");
                self.links.remove(link);
                false
            }
            Err(command_queue::SendError::Closed) => false,
        }
    }

    /// Closes a link; its task ends without reporting further events that
    /// would be taken as current.
    pub fn close(&mut self, link: &LinkId) {
        self.links.remove(link);
    }

    /// Closes every link matching `pred`, returning their ids.
    pub fn close_where(&mut self, pred: impl Fn(&LinkId) -> bool) -> Vec<LinkId> {
        let ids: Vec<LinkId> = self
            .links
            .keys()
            .filter(|l| pred(l))
            .map(|l| LinkId::clone(l))
            .collect();
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
