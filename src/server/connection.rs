//! One client connection: read, decode, dispatch in order, write — with the
//! output bounded so a client that stops reading only ever stalls itself,
//! and a subscriber that falls too far behind the event stream is dropped
//! (`client-output-buffer-limit`); plus `client-query-buffer-limit` and the
//! idle `timeout`, as Redis applies them.

use std::collections::VecDeque;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use bytes::{Buf, BytesMut};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::sync::broadcast::{self, error::RecvError};

use super::client_registry::Client;
use super::dispatch::{self, may_pipeline, Flow, Inbound, Started};
use super::output::{Deferred, Output, OutputLimiter};
use super::session::{Ctx, Session};
use super::state::Stats;
use crate::config::client_limits::{ClientClass, OutputBufferLimit};
use crate::driver::handle::Published;
use crate::resp::encode::encode;
use crate::resp::request::{ProtocolError, RequestDecoder};
use crate::resp::split_args::repr;

/// Initial read buffer, as Redis's 16 KiB query buffer.
const READ_BUFFER: usize = 16 * 1024;
/// Pending output above which we stop taking requests and events until it
/// is written: the per-client memory bound.
const OUTPUT_HIGH_WATER: usize = 64 * 1024;
/// Query-buffer bytes shown when closing a client over its limit.
const QBUF_SHOWN: usize = 64;
/// How long an orderly close may wait to hand its last bytes to the peer.
const SHUTDOWN_GRACE: std::time::Duration = std::time::Duration::from_secs(1);

/// A byte stream a client is served on: plain TCP, or TLS after the
/// handshake. Both get the same dispatch and the same limits.
pub trait ClientStream: AsyncRead + AsyncWrite + Unpin + Send {}

impl<T: AsyncRead + AsyncWrite + Unpin + Send> ClientStream for T {}

/// Serves `stream` for `client` until it closes, errs, is killed or sends
/// something undecodable; then forgets the client.
pub async fn serve<S: ClientStream>(ctx: Ctx, stream: S, client: Arc<Client>) {
    let authenticated = !ctx.state.acl().default_user_requires_auth();
    let mut session = Session::new(client.clone(), authenticated);
    let mut conn = Connection {
        stream,
        input: BytesMut::with_capacity(READ_BUFFER),
        decoder: RequestDecoder::with_query_buffer_limit(
            usize::try_from(ctx.state.info.limits.query_buffer).unwrap_or(usize::MAX),
        ),
        out: Output::default(),
        limiter: OutputLimiter::default(),
        pending_stop: false,
        awaiting: VecDeque::new(),
        killed: {
            let client = client.clone();
            Box::pin(async move { client.killed().await })
        },
    };
    let result = conn.run(&ctx, &mut session).await;
    session.settle(&ctx.state.stats);
    ctx.state.clients.unregister(client.id);
    match result {
        // An orderly close: TLS owes the peer a close_notify (for TCP this
        // is just the FIN a drop would send). Bounded: the peer may not read.
        Ok(()) => {
            let _ = tokio::time::timeout(SHUTDOWN_GRACE, conn.stream.shutdown()).await;
        }
        Err(e) => tracing::debug!("client {} closed: {e}", client.id),
    }
}

struct Connection<S> {
    stream: S,
    input: BytesMut,
    decoder: RequestDecoder,
    out: Output,
    limiter: OutputLimiter,
    /// The last processing pass stopped at the output bound.
    pending_stop: bool,
    /// Replies the driver still owes, oldest first, each with the output of
    /// the commands that came after it (see [`dispatch::may_pipeline`]).
    awaiting: VecDeque<(Deferred, BytesMut)>,
    /// Resolves once the client is killed. Made once and kept waiting:
    /// a fresh wait per read or write registered and unregistered a waiter
    /// each time, which showed in per-request profiles. Never polled after
    /// it resolved (the connection then ends).
    killed: Pin<Box<dyn Future<Output = ()> + Send>>,
}

/// Why the loop ended early; only for the debug log.
#[derive(Debug, thiserror::Error)]
enum Closed {
    #[error("{0}")]
    Io(#[from] std::io::Error),
    #[error("killed")]
    Killed,
    #[error("subscriber fell too far behind the event stream")]
    Lagged,
    #[error("output buffer limit reached")]
    OutputLimit,
}

/// When an idle client is to be closed under `timeout`: never for a
/// subscriber (Redis spares pub/sub clients, in RESP2 and RESP3 alike).
fn idle_deadline(ctx: &Ctx, s: &Session) -> Option<tokio::time::Instant> {
    let timeout = ctx.state.info.limits.idle_timeout()?;
    if s.subs.count() > 0 {
        return None;
    }
    Some(tokio::time::Instant::from_std(s.last_read() + timeout))
}

async fn sleep_until_or_never(deadline: Option<tokio::time::Instant>) {
    match deadline {
        Some(d) => tokio::time::sleep_until(d).await,
        None => std::future::pending().await,
    }
}

/// The output buffer limit of the class the client is in now (read from
/// the session, which the client's type mirrors, so without a lock).
fn output_limit(ctx: &Ctx, s: &Session) -> OutputBufferLimit {
    let class = if s.subs.count() > 0 {
        ClientClass::Pubsub
    } else {
        ClientClass::Normal
    };
    ctx.state.info.limits.output(class)
}

/// The next event, or never when not subscribed.
async fn next_event(
    events: &mut Option<broadcast::Receiver<Published>>,
) -> Result<Published, RecvError> {
    match events {
        Some(rx) => rx.recv().await,
        None => std::future::pending().await,
    }
}

impl<S: ClientStream> Connection<S> {
    async fn run(&mut self, ctx: &Ctx, s: &mut Session) -> Result<(), Closed> {
        loop {
            let flow = self.process_input(ctx, s).await;
            self.flush(ctx, s).await?;
            if flow == Flow::Close || s.close_after_reply || s.client.is_killed() {
                return Ok(());
            }
            if self.out.buf.is_empty() && self.input_has_work() {
                // Stopped at the output bound with requests left: go on.
                continue;
            }
            let idle = idle_deadline(ctx, s);
            // In a fixed order, so a branch found ready spares polling the
            // rest (the kill wait takes a lock per poll): events first, as
            // the driver paces them and a busy reader must still get them.
            tokio::select! {
                biased;
                event = next_event(&mut s.events) => self.deliver(s, event)?,
                read = self.stream.read_buf(&mut self.input) => {
                    let n = read?;
                    if n == 0 {
                        return Ok(());
                    }
                    let stats = &ctx.state.stats;
                    Stats::add(&stats.net_input_bytes, n as u64);
                    Stats::add(&stats.reads_processed, 1);
                    Stats::raise(&stats.max_input_buffer, self.input.len() as u64);
                    s.note_read(std::time::Instant::now());
                }
                _ = &mut self.killed => return Err(Closed::Killed),
                _ = sleep_until_or_never(idle) => {
                    tracing::debug!("Closing idle client");
                    return Ok(());
                }
            }
        }
    }

    /// Whether the last processing pass stopped early, leaving bytes that
    /// may hold complete requests.
    fn input_has_work(&self) -> bool {
        !self.input.is_empty() && self.pending_stop
    }

    /// Decodes and runs requests while the output stays under its bound;
    /// returns with every reply in the output, in request order.
    async fn process_input(&mut self, ctx: &Ctx, s: &mut Session) -> Flow {
        let flow = self.run_requests(ctx, s).await;
        self.collect_deferred(ctx, s).await;
        flow
    }

    /// Waits for the replies the driver owes and puts them in their place;
    /// the session's bookkeeping is published before waiting.
    async fn collect_deferred(&mut self, ctx: &Ctx, s: &mut Session) {
        if !self.awaiting.is_empty() {
            s.settle(&ctx.state.stats);
        }
        while let Some((mut d, after)) = self.awaiting.pop_front() {
            let reply = (&mut d.reply).await;
            let reply = reply.unwrap_or_else(|_| crate::driver::handle::shutting_down());
            crate::observe::on_sentinel_reply(&d.args, &reply);
            self.out.deferred_reply(&d, &reply);
            self.out.buf.extend_from_slice(&after);
        }
    }

    async fn run_requests(&mut self, ctx: &Ctx, s: &mut Session) -> Flow {
        self.pending_stop = false;
        loop {
            if s.client.is_killed() || s.close_after_reply {
                return Flow::Close;
            }
            if self.out.buf.len() >= OUTPUT_HIGH_WATER {
                self.pending_stop = true;
                return Flow::Continue;
            }
            let authenticated = s.authenticated || !ctx.state.acl().default_user_requires_auth();
            match self.decoder.decode(&mut self.input, authenticated) {
                Ok(Some(mut args)) => {
                    let inbound = Inbound {
                        qbuf: self.input.len(),
                        qbuf_free: self.input.capacity() - self.input.len(),
                        argv_mem: args.iter().map(Vec::len).sum(),
                        obl: self.out.buf.len(),
                    };
                    // Only a vote request or a hello may go ahead of a reply still
                    // owed; anything else first waits for it.
                    if !self.awaiting.is_empty() && !may_pipeline(&args) {
                        self.collect_deferred(ctx, s).await;
                    }
                    let mark = self.out.buf.len();
                    let flow = match dispatch::start(ctx, s, &mut args, inbound, &mut self.out) {
                        Started::Done(flow) => flow,
                        Started::Resolved(r) => {
                            dispatch::finish(ctx, s, r, &mut args, &mut self.out).await
                        }
                    };
                    self.decoder.recycle(args);
                    if let Some(d) = self.out.deferred.take() {
                        self.awaiting.push_back((d, BytesMut::new()));
                    } else if let Some((_, after)) = self.awaiting.back_mut() {
                        after.extend_from_slice(&self.out.buf.split_off(mark));
                    }
                    if flow == Flow::Close {
                        return Flow::Close;
                    }
                }
                Ok(None) => return Flow::Continue,
                Err(e @ ProtocolError::QueryBufferLimit { .. }) => {
                    let shown = &self.input[..self.input.len().min(QBUF_SHOWN)];
                    tracing::warn!(
                        "Closing client that reached max query buffer length: {} (qbuf initial bytes: {})",
                        s.client.info_line(std::time::Instant::now()),
                        repr(shown)
                    );
                    tracing::debug!("client {}: {e}", s.client.id);
                    return Flow::Close;
                }
                Err(e) => {
                    tracing::debug!("client {}: {e}", s.client.id);
                    self.collect_deferred(ctx, s).await;
                    self.out.suppress = false;
                    if let Some(r) = e.reply() {
                        self.out.reply(&r);
                    }
                    return Flow::Close;
                }
            }
        }
    }

    /// Turns one event (and any already queued behind it) into frames.
    fn deliver(
        &mut self,
        s: &mut Session,
        first: Result<Published, RecvError>,
    ) -> Result<(), Closed> {
        let mut next = Some(first);
        while let Some(event) = next.take() {
            match event {
                Ok(msg) => {
                    self.out.resp3 = s.resp3;
                    self.out.suppress = s.reply_off;
                    self.out.replies(&s.subs.deliver(&msg));
                }
                // Redis's pubsub output limit: a subscriber this far behind
                // is disconnected rather than buffered without bound.
                Err(RecvError::Lagged(_)) => return Err(Closed::Lagged),
                Err(RecvError::Closed) => {
                    s.events = None;
                    return Ok(());
                }
            }
            if self.out.buf.len() < OUTPUT_HIGH_WATER {
                if let Some(rx) = s.events.as_mut() {
                    next = match rx.try_recv() {
                        Ok(m) => Some(Ok(m)),
                        Err(broadcast::error::TryRecvError::Lagged(n)) => {
                            Some(Err(RecvError::Lagged(n)))
                        }
                        Err(_) => None,
                    };
                }
            }
        }
        Ok(())
    }

    /// Writes all pending output; a kill interrupts a write the peer is
    /// not reading. Events that arrive meanwhile are queued behind it, up to
    /// the client's output buffer limit, past which it is dropped.
    async fn flush(&mut self, ctx: &Ctx, s: &mut Session) -> Result<(), Closed> {
        s.settle_for_write(&ctx.state.stats);
        let errors = self.out.take_errors();
        let stats = &ctx.state.stats;
        if errors > 0 {
            Stats::add(&stats.error_replies, errors);
        }
        let mut queued = BytesMut::new();
        while !self.out.buf.is_empty() {
            let pending = self.out.buf.len() + queued.len();
            Stats::raise(&stats.max_output_buffer, pending as u64);
            let limit = output_limit(ctx, s);
            if self
                .limiter
                .exceeded(limit, pending, std::time::Instant::now)
            {
                tracing::warn!(
                    "Client {} scheduled to be closed ASAP for overcoming of output buffer limits.",
                    s.client.info_line(std::time::Instant::now())
                );
                return Err(Closed::OutputLimit);
            }
            // Most writes complete at once: only one that must wait shows
            // the backlog meanwhile (CLIENT LIST's `obl`, behind a lock)
            // and waits for events and a kill too.
            let at_once = tokio::select! {
                biased;
                // write(2) rather than `write_buf`'s one-slice writev: the
                // kernel's vector import showed in pipelined profiles.
                written = self.stream.write(&self.out.buf) => Some(written),
                _ = std::future::ready(()) => None,
            };
            let written = match at_once {
                Some(written) => written,
                None => {
                    s.show_obl(pending);
                    tokio::select! {
                        biased;
                        written = self.stream.write(&self.out.buf) => written,
                        event = next_event(&mut s.events) => {
                            match event {
                                Ok(msg) if !s.reply_off => {
                                    for frame in s.subs.deliver(&msg) {
                                        encode(&frame, s.resp3, &mut queued);
                                    }
                                }
                                Ok(_) => {}
                                Err(RecvError::Lagged(_)) => return Err(Closed::Lagged),
                                Err(RecvError::Closed) => s.events = None,
                            }
                            continue;
                        }
                        _ = &mut self.killed => return Err(Closed::Killed),
                    }
                }
            };
            let n = written?;
            if n == 0 {
                return Err(std::io::Error::from(std::io::ErrorKind::WriteZero).into());
            }
            self.out.buf.advance(n);
            Stats::add(&stats.net_output_bytes, n as u64);
            Stats::add(&stats.writes_processed, 1);
            if self.out.buf.is_empty() && !queued.is_empty() {
                self.out.buf = std::mem::take(&mut queued);
            }
        }
        // Everything was written: a later backlog starts the soft clock anew.
        self.limiter = OutputLimiter::default();
        // A TLS stream may hold an encrypted record it could not write yet;
        // for TCP this returns at once.
        tokio::select! {
            biased;
            flushed = self.stream.flush() => flushed?,
            _ = &mut self.killed => return Err(Closed::Killed),
        }
        s.show_obl(0);
        Ok(())
    }
}
