//! The accept loop of one listening socket: enforce `maxclients`, register
//! the client and spawn its connection task (after the TLS handshake on a
//! `tls-port` listener).

use std::os::fd::AsRawFd;
use std::time::Duration;

use tokio::net::{TcpListener, TcpStream, UnixListener, UnixStream};
use tokio::sync::{mpsc, watch};
use tokio_rustls::TlsAcceptor;

use super::connection;
use super::session::Ctx;
use super::state::Stats;

/// Sent, as Redis does, to a connection over the client limit before it is
/// closed.
const MAX_CLIENTS_ERROR: &[u8] = b"-ERR max number of clients reached\r\n";

/// How long a TLS client may take to finish its handshake. Redis has no
/// such bound, but a connection that never completes one would otherwise
/// hold a client slot forever.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// The shortest interval between two logged accept errors.
const ACCEPT_ERROR_LOG_EVERY: Duration = Duration::from_secs(1);

/// Whether an accept error seen at `now` is logged (at most one per
/// [`ACCEPT_ERROR_LOG_EVERY`]); records it if so.
fn log_due(last: &mut Option<std::time::Instant>, now: std::time::Instant) -> bool {
    if last.is_some_and(|t| now.duration_since(t) < ACCEPT_ERROR_LOG_EVERY) {
        return false;
    }
    *last = Some(now);
    true
}

/// A listening socket and, for `tls-port`, the TLS it speaks.
pub struct Listener {
    pub socket: Socket,
    pub tls: Option<TlsAcceptor>,
}

/// A TCP port (`port`, `tls-port`) or the `unixsocket`.
pub enum Socket {
    Tcp(TcpListener),
    /// The socket and its path, as clients' `addr` shows it.
    Unix(UnixListener, String),
}

impl From<TcpListener> for Socket {
    fn from(socket: TcpListener) -> Socket {
        Socket::Tcp(socket)
    }
}

impl From<TcpListener> for Listener {
    fn from(socket: TcpListener) -> Listener {
        Listener {
            socket: socket.into(),
            tls: None,
        }
    }
}

/// An accepted connection, of either kind.
enum Accepted {
    Tcp(TcpStream),
    Unix(UnixStream),
}

impl Listener {
    async fn accept(&self) -> std::io::Result<Accepted> {
        match &self.socket {
            Socket::Tcp(l) => l.accept().await.map(|(s, _)| Accepted::Tcp(s)),
            Socket::Unix(l, _) => l.accept().await.map(|(s, _)| Accepted::Unix(s)),
        }
    }
}

/// Redis's answer to a non-loopback client in protected mode.
const DENIED_ERROR: &[u8] = b"-DENIED Redis is running in protected mode because protected mode is enabled and no password is set for the default user. In this mode connections are only accepted from the loopback interface. If you want to connect from external computers to Redis you may adopt one of the following solutions: 1) Just disable protected mode sending the command 'CONFIG SET protected-mode no' from the loopback interface by connecting to Redis from the same host the server is running, however MAKE SURE Redis is not publicly accessible from internet if you do so. Use CONFIG REWRITE to make this change permanent. 2) Alternatively you can just disable the protected mode by editing the Redis configuration file, and setting the protected mode option to 'no', and then restarting the server. 3) If you started the server manually just for testing, restart it with the '--protected-mode no' option. 4) Set up an authentication password for the default user. NOTE: You only need to do one of the above things in order for the server to start accepting connections from the outside.\r\n";

/// `protected-mode yes` with a password-less default user: only loopback
/// clients may connect (sentinel's default is `protected-mode no`).
pub(crate) fn protected_mode_denies(
    protected: bool,
    peer: std::net::IpAddr,
    default_user_nopass: bool,
) -> bool {
    protected && default_user_nopass && !peer.to_canonical().is_loopback()
}

/// Accepts until `stop` flips. Each connection task holds a clone of
/// `alive`, so the server can wait for all of them to finish.
pub async fn accept_loop(
    listener: Listener,
    ctx: Ctx,
    mut stop: watch::Receiver<bool>,
    alive: mpsc::Sender<()>,
) {
    let mut last_error_log: Option<std::time::Instant> = None;
    loop {
        tokio::select! {
            _ = stop.changed() => return,
            accepted = listener.accept() => match accepted {
                Ok(Accepted::Tcp(stream)) => admit(stream, listener.tls.as_ref(), &ctx, &alive),
                Ok(Accepted::Unix(stream)) => {
                    if let Socket::Unix(_, path) = &listener.socket {
                        admit_unix(stream, path, &ctx, &alive);
                    }
                }
                Err(e) => {
                    // Typically out of file descriptors: back off briefly
                    // instead of spinning, but stay responsive to stop; and
                    // log at most once a second, not on every retry.
                    if log_due(&mut last_error_log, std::time::Instant::now()) {
                        tracing::warn!("Accepting client connection: {}", crate::config::error::strerror(&e));
                    }
                    tokio::select! {
                        _ = stop.changed() => return,
                        _ = tokio::time::sleep(Duration::from_millis(100)) => {}
                    }
                }
            },
        }
    }
}

/// Writes `error` and closes at once, as Redis does: one non-blocking
/// write (a fresh socket's buffer takes it whole) and never a task that
/// keeps the descriptor open, so a flood of refused clients cannot eat the
/// descriptors the admitted clients and the links need. Redis writes it in
/// clear even on a TLS port (before any handshake); a TLS client sees a
/// failed handshake either way.
fn refuse(stream: TcpStream, error: &[u8]) {
    let _ = stream.try_write(error);
}

/// `tcp-keepalive N` as Redis sets it on accepted sockets: probes after N
/// idle seconds, then every N/3 seconds, three times. Only client sockets:
/// redis-sentinel sets none on its own links either.
fn set_keepalive(stream: &TcpStream, secs: u32) {
    let idle = Duration::from_secs(u64::from(secs));
    let keepalive = socket2::TcpKeepalive::new()
        .with_time(idle)
        .with_interval(Duration::from_secs(u64::from((secs / 3).max(1))))
        .with_retries(3);
    if let Err(e) = socket2::SockRef::from(stream).set_tcp_keepalive(&keepalive) {
        tracing::debug!("Setting TCP keepalive: {e}");
    }
}

/// A `unixsocket` client: local by definition (protected mode does not
/// apply), never TLS, no keepalive; `maxclients` counts it like any other.
fn admit_unix(stream: UnixStream, path: &str, ctx: &Ctx, alive: &mpsc::Sender<()>) {
    let state = &ctx.state;
    if state.clients.len() >= state.info.maxclients {
        Stats::add(&state.stats.rejected_connections, 1);
        let _ = stream.try_write(MAX_CLIENTS_ERROR);
        return;
    }
    Stats::add(&state.stats.connections_received, 1);
    let addr = super::client_registry::ClientAddr::Unix(path.to_string());
    let client = state
        .clients
        .register(addr.clone(), addr, stream.as_raw_fd(), "default");
    let ctx = ctx.clone();
    let alive = alive.clone();
    tokio::spawn(async move {
        connection::serve(ctx, stream, client).await;
        drop(alive);
    });
}

fn admit(stream: TcpStream, tls: Option<&TlsAcceptor>, ctx: &Ctx, alive: &mpsc::Sender<()>) {
    let state = &ctx.state;
    let (Ok(addr), Ok(laddr)) = (stream.peer_addr(), stream.local_addr()) else {
        return;
    };
    if state.clients.len() >= state.info.maxclients {
        Stats::add(&state.stats.rejected_connections, 1);
        tracing::debug!("Rejected {addr}: max number of clients reached");
        refuse(stream, MAX_CLIENTS_ERROR);
        return;
    }
    if protected_mode_denies(
        state.info.protected_mode,
        addr.ip(),
        !state.acl().default_user_requires_auth(),
    ) {
        Stats::add(&state.stats.rejected_connections, 1);
        refuse(stream, DENIED_ERROR);
        return;
    }
    let _ = stream.set_nodelay(true);
    if state.info.limits.tcp_keepalive > 0 {
        set_keepalive(&stream, state.info.limits.tcp_keepalive);
    }
    Stats::add(&state.stats.connections_received, 1);
    let client = state
        .clients
        .register(addr, laddr, stream.as_raw_fd(), "default");
    let ctx = ctx.clone();
    let alive = alive.clone();
    let tls = tls.cloned();
    tokio::spawn(async move {
        match tls {
            None => connection::serve(ctx, stream, client).await,
            Some(acceptor) => {
                // A failed handshake closes this connection only.
                let handshake = tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(stream));
                let outcome = tokio::select! {
                    done = handshake => Some(done),
                    _ = client.killed() => None,
                };
                match outcome {
                    Some(Ok(Ok(tls_stream))) => connection::serve(ctx, tls_stream, client).await,
                    Some(Ok(Err(e))) => {
                        tracing::debug!("Error accepting a client connection: {e} (addr={addr})");
                        ctx.state.clients.unregister(client.id);
                    }
                    Some(Err(_)) => {
                        tracing::debug!("TLS handshake timed out (addr={addr})");
                        ctx.state.clients.unregister(client.id);
                    }
                    None => ctx.state.clients.unregister(client.id),
                }
            }
        }
        drop(alive);
    });
}

#[cfg(test)]
mod accept_error_log_tests {
    use super::log_due;
    use std::time::{Duration, Instant};

    #[test]
    fn accept_errors_are_logged_at_most_once_a_second() {
        let t = Instant::now();
        let ms = Duration::from_millis;
        let mut last = None;
        let logged: Vec<bool> = [0, 100, 999, 1000, 1100, 2500]
            .iter()
            .map(|&m| log_due(&mut last, t + ms(m)))
            .collect();
        assert_eq!(logged, [true, false, false, true, false, true]);
    }
}

#[cfg(test)]
mod protected_mode_tests {
    use super::protected_mode_denies;
    use std::net::IpAddr;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn only_remote_clients_of_a_passwordless_protected_server_are_denied() {
        assert!(protected_mode_denies(true, ip("10.1.2.3"), true));
        assert!(!protected_mode_denies(true, ip("127.0.0.1"), true));
        assert!(!protected_mode_denies(true, ip("::1"), true));
        assert!(!protected_mode_denies(true, ip("::ffff:127.0.0.1"), true));
        assert!(!protected_mode_denies(true, ip("10.1.2.3"), false));
        assert!(!protected_mode_denies(false, ip("10.1.2.3"), true));
    }
}
