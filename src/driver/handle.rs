//! How connections talk to the driver task that owns the Sentinel core:
//! a cloneable handle sending requests over a channel, plus a broadcast of
//! published events for subscribers.

use rsentinel_core::reply::Reply;
use tokio::sync::{broadcast, mpsc, oneshot};

/// One pub/sub message: an event (`+sdown`, …) on its channel.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PubMessage {
    pub channel: String,
    pub message: String,
}

/// What a connection can ask of the driver.
#[derive(Debug)]
pub enum Request {
    /// `SENTINEL <args>` (args exclude the word SENTINEL).
    Sentinel(Vec<Vec<u8>>, oneshot::Sender<Reply>),
    /// A hello published directly to us (`PUBLISH __sentinel__:hello ...`).
    Hello(Vec<u8>, oneshot::Sender<Reply>),
    /// The `# Sentinel` INFO section.
    InfoSection(oneshot::Sender<String>),
    /// `ROLE`.
    Role(oneshot::Sender<Reply>),
    /// Flush the config and stop the process.
    Shutdown(oneshot::Sender<()>),
}

/// Cloneable access to the driver.
#[derive(Clone, Debug)]
pub struct CoreHandle {
    tx: mpsc::Sender<Request>,
    events: broadcast::Sender<PubMessage>,
}

impl CoreHandle {
    pub fn new(tx: mpsc::Sender<Request>, events: broadcast::Sender<PubMessage>) -> CoreHandle {
        CoreHandle { tx, events }
    }

    async fn ask<T>(&self, make: impl FnOnce(oneshot::Sender<T>) -> Request) -> Option<T> {
        let (tx, rx) = oneshot::channel();
        self.tx.send(make(tx)).await.ok()?;
        rx.await.ok()
    }

    /// `SENTINEL <args>`; `args[0]` is the subcommand.
    pub async fn sentinel(&self, args: Vec<Vec<u8>>) -> Reply {
        self.ask(|tx| Request::Sentinel(args, tx))
            .await
            .unwrap_or_else(shutting_down)
    }

    /// Processes a hello a peer published to us; Redis replies `:1`.
    pub async fn hello(&self, payload: Vec<u8>) -> Reply {
        self.ask(|tx| Request::Hello(payload, tx))
            .await
            .unwrap_or_else(shutting_down)
    }

    pub async fn info_section(&self) -> String {
        self.ask(Request::InfoSection).await.unwrap_or_default()
    }

    pub async fn role(&self) -> Reply {
        self.ask(Request::Role).await.unwrap_or_else(shutting_down)
    }

    /// Rewrites the config (e.g. after ACL changes) and returns once it is
    /// written: the same path as `SENTINEL FLUSHCONFIG`, so there is one way
    /// to ask for a write.
    pub async fn flush_config(&self) -> Result<(), super::FlushError> {
        match self.sentinel(vec![b"flushconfig".to_vec()]).await {
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
    pub fn subscribe(&self) -> broadcast::Receiver<PubMessage> {
        self.events.subscribe()
    }
}

fn shutting_down() -> Reply {
    Reply::err("Sentinel is shutting down")
}
