//! How connections talk to the driver task that owns the Sentinel core:
//! a cloneable handle sending requests over a channel, plus a broadcast of
//! published events for subscribers. Read-only queries skip the channel and
//! read the core in place under a read lock (see [`SharedCore`]).

use std::sync::{Arc, RwLock, RwLockReadGuard};
use std::time::Instant;

use rsentinel_core::reply::Reply;
use rsentinel_core::reply_writer::ReplyWriter;
use rsentinel_core::sentinel::Sentinel;
use rsentinel_core::time::Millis;
use tokio::sync::{broadcast, mpsc, oneshot};

/// One pub/sub message: an event (`+sdown`, …) on its channel.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PubMessage {
    pub channel: String,
    pub message: String,
}

/// What the event channel carries: one allocation per event, shared by
/// every subscriber (a clone is a count, not two strings), and 8 bytes in
/// each of the channel's 4 096 slots instead of 48.
pub type Published = std::sync::Arc<PubMessage>;

/// What a connection can ask of the driver.
#[derive(Debug)]
pub enum Request {
    /// `SENTINEL <args>` (args exclude the word SENTINEL).
    Sentinel(Vec<Vec<u8>>, oneshot::Sender<Reply>),
    /// A hello published directly to us (`PUBLISH __sentinel__:hello ...`).
    Hello(Vec<u8>, oneshot::Sender<Reply>),
    /// The peer whose link is named `sentinel-<asker>-cmd` is asking
    /// whether the master at `host:port` is down, without a vote: it sees
    /// it down (see `Sentinel::handle_peer_question`). Sent just before
    /// the question itself; nothing is replied.
    PeerQuestion {
        asker: String,
        host: String,
        port: u16,
    },
    /// The `# Sentinel` INFO section.
    InfoSection(oneshot::Sender<String>),
    /// `ROLE`.
    Role(oneshot::Sender<Reply>),
    /// Flush the config and stop the process.
    Shutdown(oneshot::Sender<()>),
}

/// The core as the driver shares it: the driver is the only writer and
/// takes the write lock for each step it feeds the core, so a step is
/// visible to readers before any event it queued is published (a client
/// never reads the old master after `+switch-master`). Connections take
/// the read lock for read-only queries, without a channel round trip.
#[derive(Clone)]
pub struct SharedCore {
    core: Arc<RwLock<Sentinel>>,
    /// The driver's clock origin: `now` for the core is the time since.
    started: Instant,
}

impl std::fmt::Debug for SharedCore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SharedCore")
    }
}

impl SharedCore {
    pub fn new(core: Sentinel, started: Instant) -> SharedCore {
        SharedCore {
            core: Arc::new(RwLock::new(core)),
            started,
        }
    }

    pub fn now(&self) -> Millis {
        Millis(self.started.elapsed().as_millis() as u64)
    }

    pub fn started(&self) -> Instant {
        self.started
    }

    /// The driver's exclusive access. A poisoned lock cannot be seen: a
    /// panic ends the process.
    pub fn write(&self) -> std::sync::RwLockWriteGuard<'_, Sentinel> {
        self.core.write().unwrap_or_else(|e| e.into_inner())
    }

    fn read(&self) -> RwLockReadGuard<'_, Sentinel> {
        self.core.read().unwrap_or_else(|e| e.into_inner())
    }
}

/// Cloneable access to the driver.
#[derive(Clone, Debug)]
pub struct CoreHandle {
    tx: mpsc::Sender<Request>,
    events: broadcast::Sender<Published>,
    /// Absent when a test drives the handle with a fake driver: then every
    /// query goes over the channel.
    shared: Option<SharedCore>,
}

impl CoreHandle {
    pub fn new(tx: mpsc::Sender<Request>, events: broadcast::Sender<Published>) -> CoreHandle {
        CoreHandle {
            tx,
            events,
            shared: None,
        }
    }

    /// A handle that answers read-only queries from `shared` in place.
    pub fn with_shared(
        tx: mpsc::Sender<Request>,
        events: broadcast::Sender<Published>,
        shared: SharedCore,
    ) -> CoreHandle {
        CoreHandle {
            tx,
            events,
            shared: Some(shared),
        }
    }

    async fn ask<T>(&self, make: impl FnOnce(oneshot::Sender<T>) -> Request) -> Option<T> {
        let (tx, rx) = oneshot::channel();
        self.tx.send(make(tx)).await.ok()?;
        rx.await.ok()
    }

    /// `SENTINEL <args>`; `args[0]` is the subcommand.
    /// Answers `SENTINEL <args>` in place when it is a read-only query,
    /// writing the reply to `w`; `false` (nothing written) otherwise. The
    /// shared core is what the driver has decided, so the answer is never
    /// older than an event already published.
    pub fn query(&self, args: &[Vec<u8>], w: &mut impl ReplyWriter) -> bool {
        match &self.shared {
            Some(shared) => shared.read().query_into(|| shared.now(), args, w),
            None => false,
        }
    }

    pub async fn sentinel(&self, args: &[Vec<u8>]) -> Reply {
        if let Some(shared) = &self.shared {
            let now = shared.now();
            if let Some(r) = shared.read().query(now, args) {
                return r;
            }
        }
        self.ask(|tx| Request::Sentinel(args.to_vec(), tx))
            .await
            .unwrap_or_else(shutting_down)
    }

    /// `SENTINEL <args>` without waiting for the driver's reply: a query is
    /// answered in place, anything else is queued to the driver and its
    /// reply comes on the returned receiver. Lets a connection submit
    /// several pipelined requests before awaiting the first reply, so one
    /// config write can cover all of them (a peer's burst of vote requests
    /// when many masters fail at once).
    pub async fn submit_sentinel(&self, args: &[Vec<u8>]) -> Submitted {
        if let Some(shared) = &self.shared {
            let now = shared.now();
            if let Some(r) = shared.read().query(now, args) {
                return Submitted::Ready(r);
            }
        }
        self.submit(|tx| Request::Sentinel(args.to_vec(), tx)).await
    }

    /// Tells the driver that a peer asks about a master it sees down (see
    /// [`Request::PeerQuestion`]); queued before the question, in order.
    pub async fn peer_question(&self, asker: &str, host: &str, port: u16) {
        let _ = self
            .tx
            .send(Request::PeerQuestion {
                asker: asker.to_string(),
                host: host.to_string(),
                port,
            })
            .await;
    }

    /// Queues a hello a peer published to us, for the driver to process in
    /// order (Redis replies `:1` once processed). Submitted without
    /// waiting, like vote requests: a leader announcing dozens of
    /// failovers at once publishes its hellos back to back, and one driver
    /// round trip per hello delayed the last ones by up to ~100 ms under
    /// the load of a mass failover.
    pub async fn submit_hello(&self, payload: Vec<u8>) -> Submitted {
        self.submit(|tx| Request::Hello(payload, tx)).await
    }

    /// Queues the request `make` builds without awaiting its reply (see
    /// [`Submitted`]); [`CoreHandle::ask`] is the waiting form.
    async fn submit(&self, make: impl FnOnce(oneshot::Sender<Reply>) -> Request) -> Submitted {
        let (tx, rx) = oneshot::channel();
        match self.tx.send(make(tx)).await {
            Ok(()) => Submitted::Waiting(rx),
            Err(_) => Submitted::Ready(shutting_down()),
        }
    }

    pub async fn info_section(&self) -> String {
        if let Some(shared) = &self.shared {
            let now = shared.now();
            return shared.read().info_section(now);
        }
        self.ask(Request::InfoSection).await.unwrap_or_default()
    }

    pub async fn role(&self) -> Reply {
        if let Some(shared) = &self.shared {
            return shared.read().role();
        }
        self.ask(Request::Role).await.unwrap_or_else(shutting_down)
    }

    /// Rewrites the config (e.g. after ACL changes) and returns once it is
    /// written: the same path as `SENTINEL FLUSHCONFIG`, so there is one way
    /// to ask for a write.
    pub async fn flush_config(&self) -> Result<(), super::FlushError> {
        match self.sentinel(&[b"flushconfig".to_vec()]).await {
            r if r == Reply::ok() => Ok(()),
            Reply::Error(e) => Err(super::FlushError::Rejected(e)),
            r => Err(super::FlushError::Rejected(format!("{r:?}"))),
        }
    }

    /// Asks the process to stop; returns once the config was flushed.
    pub async fn shutdown(&self) {
        let _ = self.ask(Request::Shutdown).await;
    }

    /// Every event published from now on.
    pub fn subscribe(&self) -> broadcast::Receiver<Published> {
        self.events.subscribe()
    }
}

/// What [`CoreHandle::submit_sentinel`] got: the reply, or where it will come.
#[derive(Debug)]
pub enum Submitted {
    Ready(Reply),
    Waiting(oneshot::Receiver<Reply>),
}

pub fn shutting_down() -> Reply {
    Reply::err("Sentinel is shutting down")
}
