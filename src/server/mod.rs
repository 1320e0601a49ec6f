//! The client-facing server: accept loops on every listener, one task per
//! connection, and the commands a sentinel answers itself (AUTH, HELLO,
//! CLIENT, INFO, pub/sub, ...) or forwards to the driver (SENTINEL, ROLE,
//! PUBLISH of hellos, SHUTDOWN).

pub mod client_cmd;
pub mod client_registry;
mod connection;
pub mod dispatch;
pub mod hello_cmd;
pub mod info;
mod listener;
pub mod output;
pub mod pause;
pub mod pubsub;
pub mod session;
pub mod state;

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{mpsc, watch};
use tokio::task::JoinSet;

use crate::driver::handle::CoreHandle;
pub use listener::{Listener, Socket};
use session::Ctx;
pub use state::{ServerInfo, ServerState};

/// How long shutdown waits for connections to wind down before giving up
/// on them (they are all told to close at once).
const CLOSE_GRACE: Duration = Duration::from_secs(5);

/// Serves clients on every listener (plain `TcpListener`s or [`Listener`]s
/// with TLS) until `shutdown` resolves; then stops accepting, closes every
/// client connection and returns once they are gone (or after a short grace
/// period).
pub async fn run<L: Into<Listener>>(
    listeners: Vec<L>,
    state: Arc<ServerState>,
    core: CoreHandle,
    shutdown: impl Future<Output = ()>,
) {
    let ctx = Ctx {
        state: state.clone(),
        core,
    };
    let (stop_tx, stop_rx) = watch::channel(false);
    let (alive_tx, mut alive_rx) = mpsc::channel::<()>(1);
    let mut accepting = JoinSet::new();
    for l in listeners {
        accepting.spawn(listener::accept_loop(
            l.into(),
            ctx.clone(),
            stop_rx.clone(),
            alive_tx.clone(),
        ));
    }
    shutdown.await;
    let _ = stop_tx.send(true);
    while accepting.join_next().await.is_some() {}
    // Every connection was registered before its task started, so this
    // reaches them all.
    state.clients.kill_all();
    drop(alive_tx);
    // recv() yields None once every connection task dropped its sender.
    if tokio::time::timeout(CLOSE_GRACE, alive_rx.recv())
        .await
        .is_err()
    {
        tracing::warn!("Some client connections did not close in time");
    }
}
