//! The accept loop of one listening socket: enforce `maxclients`, register
//! the client and spawn its connection task.

use std::os::fd::AsRawFd;
use std::time::Duration;

use tokio::io::AsyncWriteExt;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{mpsc, watch};

use super::connection;
use super::session::Ctx;
use super::state::Stats;

/// Sent, as Redis does, to a connection over the client limit before it is
/// closed.
const MAX_CLIENTS_ERROR: &[u8] = b"-ERR max number of clients reached\r\n";

/// Accepts until `stop` flips. Each connection task holds a clone of
/// `alive`, so the server can wait for all of them to finish.
pub async fn accept_loop(
    listener: TcpListener,
    ctx: Ctx,
    mut stop: watch::Receiver<bool>,
    alive: mpsc::Sender<()>,
) {
    loop {
        tokio::select! {
            _ = stop.changed() => return,
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => admit(stream, &ctx, &alive),
                Err(e) => {
                    // Typically out of file descriptors: back off briefly
                    // instead of spinning, but stay responsive to stop.
                    tracing::warn!("Accepting client connection: {e}");
                    tokio::select! {
                        _ = stop.changed() => return,
                        _ = tokio::time::sleep(Duration::from_millis(100)) => {}
                    }
                }
            },
        }
    }
}

fn admit(stream: TcpStream, ctx: &Ctx, alive: &mpsc::Sender<()>) {
    let state = &ctx.state;
    let (Ok(addr), Ok(laddr)) = (stream.peer_addr(), stream.local_addr()) else {
        return;
    };
    if state.clients.len() >= state.info.maxclients {
        Stats::add(&state.stats.rejected_connections, 1);
        tracing::debug!("Rejected {addr}: max number of clients reached");
        // The refusal is best effort and must never hold up the accept loop.
        tokio::spawn(async move {
            let mut stream = stream;
            let _ =
                tokio::time::timeout(Duration::from_secs(1), stream.write_all(MAX_CLIENTS_ERROR))
                    .await;
        });
        return;
    }
    let _ = stream.set_nodelay(true);
    Stats::add(&state.stats.connections_received, 1);
    let client = state
        .clients
        .register(addr, laddr, stream.as_raw_fd(), "default");
    let ctx = ctx.clone();
    let alive = alive.clone();
    tokio::spawn(async move {
        connection::serve(ctx, stream, client).await;
        drop(alive);
    });
}
