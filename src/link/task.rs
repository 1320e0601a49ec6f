//! One link: connect (resolving hostnames without blocking anyone, then
//! the TLS handshake under `tls-replication yes`), then write queued
//! commands and read replies, pairing each reply with the tag of the command
//! it answers (Redis answers in order). RESP3 push frames answer no command,
//! so they are never paired.

use std::cell::RefCell;
use std::collections::VecDeque;
use std::future::Future;
use std::net::IpAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::BytesMut;
use rsentinel_core::reply::Reply;
use rsentinel_core::sentinel::links::{Channel, LinkId, Tag};
use rsentinel_core::sentinel::Addr;
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpSocket, TcpStream};
use tokio::sync::mpsc;
use tokio_rustls::TlsConnector;

use crate::resp::encode::{encode_command, encode_owned_command};
use crate::resp::reply_parse::ReplyParser;

/// What a link task reports to the driver.
#[derive(Debug)]
pub enum LinkEvent {
    Connected {
        link: Arc<LinkId>,
        generation: u64,
        local_ip: String,
    },
    Reply {
        link: Arc<LinkId>,
        generation: u64,
        tag: Tag,
        reply: Reply,
    },
    Closed {
        link: Arc<LinkId>,
        generation: u64,
        error: String,
    },
    /// A hostname's lookup: the first address found (the one Redis's
    /// `anetResolve` takes from the same getaddrinfo call), or `None` when
    /// the lookup failed.
    Resolved { host: String, ip: Option<String> },
}

/// Resolves `host` off the driver (tokio's blocking pool runs getaddrinfo)
/// and reports the answer.
pub(super) async fn resolve(host: String, events: mpsc::Sender<LinkEvent>) {
    let ip = match tokio::net::lookup_host((host.as_str(), 0)).await {
        Ok(mut found) => found.next().map(|a| a.ip().to_string()),
        Err(e) => {
            tracing::warn!("Failed to resolve hostname '{host}': {e}");
            None
        }
    };
    let _ = events.send(LinkEvent::Resolved { host, ip }).await;
}

/// What a link task keeps for its whole life: the few words it needs once
/// connected (every byte here is paid 2 000 times at 1 000 masters).
pub(super) struct LinkTask {
    /// Shared with every event it sends: a reply's event costs no copy of
    /// the id's names.
    pub link: Arc<LinkId>,
    pub generation: u64,
    pub commands: super::command_queue::Receiver<(Vec<Vec<u8>>, Tag)>,
    /// Bounded: waiting here stops this task from reading its socket, so a
    /// flooding peer slows only itself (see `super::EVENT_QUEUE`).
    pub events: mpsc::Sender<LinkEvent>,
}

/// How to connect: needed only until connected, so boxed and dropped then.
pub(super) struct Dial {
    pub addr: Addr,
    pub first_auth: Option<Vec<u8>>,
    pub connect_timeout: Duration,
    pub bind_source: Option<IpAddr>,
    pub tls: Option<TlsConnector>,
}

/// A connected link, ready to serve.
enum Conn {
    Plain(TcpStream),
    /// Boxed: a TLS session's state is several KiB, and inline it would
    /// size every plain link's task as large.
    Tls(Box<tokio_rustls::client::TlsStream<TcpStream>>),
}

/// The link's task. A plain function returning an `async move` block, not
/// an `async fn`: an `async fn` keeps its arguments twice in its state (as
/// passed, and moved into the body), the block only once.
#[expect(
    clippy::manual_async_fn,
    reason = "an async fn stores its arguments twice in every link's task"
)]
pub(super) fn run(mut t: LinkTask, dial: Box<Dial>) -> impl Future<Output = ()> {
    async move {
        // Boxed: the lookup, the connect, the handshake and their timers
        // are needed only until connected, and inline they would size the
        // task for its whole life.
        let (mut conn, out) = match Box::pin(dial_up(dial, &t)).await {
            Ok(connected) => connected,
            Err(error) => {
                deliver(&t.events, closed(&t, error)).await;
                return;
            }
        };
        // The connection stays where it is, borrowed: a move out of it
        // would keep both places in the task's state.
        let error = match &mut conn {
            Conn::Plain(stream) => {
                let (reader, writer) = stream.split();
                serve(&mut t, reader, writer, out).await
            }
            // Boxed for the same reason as the session.
            Conn::Tls(stream) => {
                Box::pin(async {
                    let (reader, writer) = tokio::io::split(&mut **stream);
                    serve(&mut t, reader, writer, out).await
                })
                .await
            }
        };
        drop(conn);
        deliver(&t.events, closed(&t, error)).await;
    }
}

fn closed(t: &LinkTask, error: String) -> LinkEvent {
    LinkEvent::Closed {
        link: t.link.clone(),
        generation: t.generation,
        error,
    }
}

/// Connects (and under TLS shakes hands), reports the connection, and
/// prepares the first write: `AUTH <pass>` when one is due before anything
/// else.
async fn dial_up(dial: Box<Dial>, t: &LinkTask) -> Result<(Conn, BytesMut), String> {
    let connecting = tokio::time::timeout(
        dial.connect_timeout,
        connect(&dial.addr, dial.bind_source, &t.events),
    );
    let stream = match connecting.await {
        Ok(Ok(stream)) => stream,
        Ok(Err(e)) => return Err(e.to_string()),
        Err(_) => return Err("connection timed out".to_string()),
    };
    let local_ip = stream
        .local_addr()
        .map(|a| a.ip().to_canonical().to_string())
        .unwrap_or_default();
    let conn = match &dial.tls {
        None => Conn::Plain(stream),
        // The handshake shares the connect timeout: a peer that accepts
        // but never answers TLS is as dead as one that never accepts.
        Some(tls) => {
            let name = crate::tls::server_name(&dial.addr.host);
            // Boxed: the handshake's state is over a kilobyte, and inline
            // it would size every plain link's connect as large (2 000 of
            // them at start-up, freed among long-lived allocations).
            let handshake = tokio::time::timeout(dial.connect_timeout, tls.connect(name, stream));
            match Box::pin(handshake).await {
                Ok(Ok(stream)) => Conn::Tls(Box::new(stream)),
                Ok(Err(e)) => return Err(format!("TLS handshake failed: {e}")),
                Err(_) => return Err("TLS handshake timed out".to_string()),
            }
        }
    };
    let connected = LinkEvent::Connected {
        link: t.link.clone(),
        generation: t.generation,
        local_ip,
    };
    if !deliver(&t.events, connected).await {
        return Err("driver gone".into());
    }
    let mut out = BytesMut::new();
    if let Some(pass) = &dial.first_auth {
        encode_command(&[b"AUTH", pass], &mut out);
    }
    Ok((conn, out))
}

/// Hands `event` to the driver; the future says false once the driver is
/// gone. A free slot is taken at once, before the future is polled; only
/// a full queue makes the link wait, and that wait (holding the event) is
/// boxed so that no task is sized for it. No queue-jumping: tokio hands a
/// freed slot to the longest waiter before it counts as free.
fn deliver(events: &mpsc::Sender<LinkEvent>, event: LinkEvent) -> impl Future<Output = bool> + '_ {
    let handed = hand_over(events, event);
    async move {
        match handed {
            Handed::Sent => true,
            Handed::Gone => false,
            Handed::Waiting(waiting) => waiting.await,
        }
    }
}

/// What became of an event handed to the driver without waiting.
enum Handed<'t> {
    Sent,
    /// The driver is gone.
    Gone,
    /// Its queue is full: the event waits for room, boxed.
    Waiting(Waiting<'t>),
}

fn hand_over(events: &mpsc::Sender<LinkEvent>, event: LinkEvent) -> Handed<'_> {
    match events.try_send(event) {
        Ok(()) => Handed::Sent,
        Err(mpsc::error::TrySendError::Full(event)) => {
            Handed::Waiting(Box::pin(async move { events.send(event).await.is_ok() }))
        }
        Err(mpsc::error::TrySendError::Closed(_)) => Handed::Gone,
    }
}

/// Connects to `addr`, resolving its host anew each time (as Redis does on
/// every reconnection with `resolve-hostnames yes`, so a moved instance is
/// found); a hostname's answer is reported so the core announces the IP
/// in use.
async fn connect(
    addr: &Addr,
    bind_source: Option<IpAddr>,
    events: &mpsc::Sender<LinkEvent>,
) -> std::io::Result<TcpStream> {
    // lookup_host resolves on tokio's blocking pool: a slow DNS server
    // delays this link only, never the driver (no TILT from getaddrinfo).
    let found: Vec<std::net::SocketAddr> = tokio::net::lookup_host((addr.host.as_str(), addr.port))
        .await?
        .collect();
    if addr.host.parse::<IpAddr>().is_err() {
        if let Some(first) = found.first() {
            let _ = events
                .send(LinkEvent::Resolved {
                    host: addr.host.clone(),
                    ip: Some(first.ip().to_string()),
                })
                .await;
        }
    }
    let mut last_err = None;
    for sock_addr in found {
        let socket = if sock_addr.is_ipv4() {
            TcpSocket::new_v4()?
        } else {
            TcpSocket::new_v6()?
        };
        if let Some(ip) = bind_source {
            if ip.is_ipv4() == sock_addr.is_ipv4() {
                socket.bind((ip, 0).into())?;
            }
        }
        match socket.connect(sock_addr).await {
            Ok(s) => {
                let _ = s.set_nodelay(true);
                return Ok(s);
            }
            Err(e) => last_err = Some(e),
        }
    }
    Err(last_err.unwrap_or_else(|| std::io::Error::other("no address found")))
}

/// Room a link's own buffer makes before reading: it holds only the rest
/// of a reply that arrived in parts (an INFO is a few KiB).
const LINK_READ_CHUNK: usize = 1024;

/// Room of the shared read buffer: a whole INFO reply in one read.
const SHARED_READ_ROOM: usize = 16 * 1024;

thread_local! {
    /// Where a link holding no partial reply reads: one buffer for every
    /// link this thread runs (a link task parses what it read before it
    /// yields, and keeps only a partial reply, copied into its own buffer).
    /// Each link allocating its own buffer per read had been 1.3 MB at the
    /// start-up peak of 1 000 masters, freed among long-lived allocations
    /// and left as holes in the heap.
    static SHARED_READ: RefCell<BytesMut> = RefCell::new(BytesMut::new());
}

/// How a link reads its connection: when it may try a read.
trait LinkReader: AsyncRead + Unpin {
    /// Ready to try a read; by default at once.
    fn poll_readable(&mut self, _cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}

/// A plain socket is read only once it is readable: an idle link (almost
/// every link, almost all the time) touches no buffer at all.
impl LinkReader for tokio::net::tcp::ReadHalf<'_> {
    fn poll_readable(&mut self, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        let stream: &TcpStream = self.as_ref();
        stream.poll_read_ready(cx)
    }
}

/// Through TLS the read is tried at once: decrypted bytes may already wait
/// inside the session, which no socket readiness shows.
impl<S: AsyncRead> LinkReader for tokio::io::ReadHalf<S> {}

/// Reads what has arrived into `buf`'s spare room, with at least a quarter
/// of `room` free first; `Ok(0)` at end of stream. Through `AsyncRead`,
/// which (unlike `try_read`) knows that a read shorter than the buffer
/// drained the socket: no extra read to learn that it would block.
fn poll_read_some<R: LinkReader>(
    reader: &mut R,
    cx: &mut Context<'_>,
    buf: &mut BytesMut,
    room: usize,
) -> Poll<std::io::Result<usize>> {
    std::task::ready!(reader.poll_readable(cx))?;
    if buf.capacity() - buf.len() < room / 4 {
        buf.reserve(room);
    }
    tokio_util::io::poll_read_buf(Pin::new(reader), cx, buf)
}

/// Which buffer the last read went to.
#[derive(Clone, Copy, PartialEq, Eq)]
enum ReadInto {
    Shared,
    Own,
}

/// What a connected link keeps between wake-ups, besides its connection.
struct Session {
    /// What each command awaiting its reply was (Redis answers in order).
    tags: VecDeque<Tag>,
    /// When each unanswered PING went out, for the round-trip metric.
    pings: VecDeque<std::time::Instant>,
    parser: ReplyParser,
    /// The rest of a reply that arrived in parts (or of replies that
    /// waited for room in the driver's queue); freed once parsed. (16 KiB
    /// kept per link had been most of the idle RSS at 200 masters.)
    buf: BytesMut,
}

impl Session {
    /// Queues `first` and whatever else waits, so they go out in one write.
    fn take_commands(
        &mut self,
        first: super::Outgoing,
        commands: &mut super::command_queue::Receiver<super::Outgoing>,
        out: &mut BytesMut,
    ) {
        let mut next = Some(first);
        while let Some((args, tag)) = next {
            encode_owned_command(&args, out);
            if matches!(tag, Tag::Ping) {
                self.pings.push_back(std::time::Instant::now());
            }
            self.tags.push_back(tag);
            next = commands.try_recv();
        }
    }

    /// Hands the driver every complete reply read, as long as its queue
    /// has room; a reply that finds it full comes back as the wait for
    /// room (boxed: no task is sized for it), to be awaited before anything
    /// else is parsed. `Ok(None)` once only a partial reply, or nothing, is
    /// left. Bytes read into the shared buffer that are not handed over
    /// (a partial reply, replies behind a full queue) move to the link's
    /// own buffer before this returns.
    fn deliver_replies<'t>(
        &mut self,
        t: &'t LinkTask,
        read: ReadInto,
    ) -> Result<Option<Waiting<'t>>, String> {
        if read == ReadInto::Own {
            let delivered = deliver_from(
                &mut self.parser,
                &mut self.tags,
                &mut self.pings,
                t,
                &mut self.buf,
            );
            if self.buf.is_empty() {
                // Only a partial reply is kept between reads.
                self.buf = BytesMut::new();
            }
            return delivered;
        }
        SHARED_READ.with_borrow_mut(|shared| {
            let delivered =
                deliver_from(&mut self.parser, &mut self.tags, &mut self.pings, t, shared);
            if !shared.is_empty() {
                self.buf.extend_from_slice(shared);
                shared.clear();
            }
            delivered
        })
    }
}

/// [`Session::deliver_replies`] from the bytes in `buf`.
fn deliver_from<'t>(
    parser: &mut ReplyParser,
    tags: &mut VecDeque<Tag>,
    pings: &mut VecDeque<std::time::Instant>,
    t: &'t LinkTask,
    buf: &mut BytesMut,
) -> Result<Option<Waiting<'t>>, String> {
    loop {
        let reply = match parser.parse(buf) {
            Ok(Some(reply)) => reply,
            Ok(None) => return Ok(None),
            Err(e) => return Err(format!("protocol error: {e}")),
        };
        let Some(tag) = pair_reply(t.link.channel, tags, &reply) else {
            tracing::debug!("{:?}: ignoring a push frame on a command link", t.link);
            continue;
        };
        if tag == Tag::NoReply {
            tracing::debug!("{:?}: REPLCONF GETACK refused: {reply:?}", t.link);
            continue;
        }
        if tag == Tag::Ping {
            if let Some(sent) = pings.pop_front() {
                crate::observe::on_link_rtt(&t.link, sent.elapsed());
            }
        }
        let event = LinkEvent::Reply {
            link: t.link.clone(),
            generation: t.generation,
            tag,
            reply,
        };
        match hand_over(&t.events, event) {
            Handed::Sent => {}
            Handed::Waiting(waiting) => return Ok(Some(waiting)),
            Handed::Gone => return Err("driver gone".into()),
        }
    }
}

/// A reply waiting for room in the driver's queue; false once the driver
/// is gone.
type Waiting<'t> = Pin<Box<dyn Future<Output = bool> + Send + 't>>;

/// Writes queued commands and reads replies until the connection or the
/// link ends; returns why. A plain function returning a block, like
/// [`run`], and the work between waits is done in plain functions: what
/// an `async fn` borrows across a wait stays in the task's state.
#[expect(
    clippy::manual_async_fn,
    reason = "an async fn stores its arguments twice in every link's task"
)]
fn serve<'a, R, W>(
    t: &'a mut LinkTask,
    mut reader: R,
    mut writer: W,
    mut out: BytesMut,
) -> impl Future<Output = String> + 'a
where
    R: LinkReader + 'a,
    W: AsyncWrite + Unpin + 'a,
{
    async move {
        let mut s = Session {
            // The AUTH that `dial_up` put first.
            tags: if out.is_empty() {
                VecDeque::new()
            } else {
                VecDeque::from([Tag::Ignore])
            },
            pings: VecDeque::new(),
            parser: ReplyParser::new(),
            buf: BytesMut::new(),
        };
        let _up = crate::observe::LinkUp::new(&t.link);
        // Which source is looked at first, alternating: neither a stream
        // of commands nor a flood of replies keeps the other waiting.
        let mut commands_first = false;
        loop {
            if !out.is_empty() {
                // flush: a TLS writer may keep the last record buffered.
                if let Err(e) = writer.write_all(&out).await {
                    return e.to_string();
                }
                if let Err(e) = writer.flush().await {
                    return e.to_string();
                }
                // Written: an idle link keeps no output buffer either.
                out = BytesMut::new();
            }
            super::give_back_if_drained(&mut s.tags);
            super::give_back_if_drained(&mut s.pings);
            commands_first = !commands_first;
            // Polled by hand rather than with `select!`: its two futures
            // (the queue's and the read's) would be part of the task's
            // state, for every link, at all times.
            // (In a block of its own: what woke us is gone before the next
            // wait, instead of sizing it.)
            let mut read = {
                let step = std::future::poll_fn(|cx| {
                    if commands_first {
                        if let Poll::Ready(cmd) = t.commands.poll_recv(cx) {
                            return Poll::Ready(Step::Command(cmd));
                        }
                    }
                    // A link holding part of a reply reads on into its own
                    // buffer; any other reads into the shared one.
                    let polled = if s.buf.is_empty() {
                        SHARED_READ
                            .with_borrow_mut(|shared| {
                                debug_assert!(shared.is_empty(), "left by another link");
                                poll_read_some(&mut reader, cx, shared, SHARED_READ_ROOM)
                            })
                            .map(|read| (read, ReadInto::Shared))
                    } else {
                        poll_read_some(&mut reader, cx, &mut s.buf, LINK_READ_CHUNK)
                            .map(|read| (read, ReadInto::Own))
                    };
                    if let Poll::Ready((read, into)) = polled {
                        return Poll::Ready(Step::Read(read, into));
                    }
                    t.commands.poll_recv(cx).map(Step::Command)
                })
                .await;
                match step {
                    Step::Command(Some(first)) => {
                        s.take_commands(first, &mut t.commands, &mut out);
                        None
                    }
                    Step::Command(None) => return "closed".into(),
                    Step::Read(Ok(0), _) => return "connection closed by peer".into(),
                    Step::Read(Ok(_), into) => Some(into),
                    Step::Read(Err(e), _) => return e.to_string(),
                }
            };
            // Whatever was read: the replies in it, each handed over (and
            // the link paused while the driver's queue is full). Nothing
            // yields between the read and here, so the shared buffer still
            // holds this link's bytes.
            while let Some(into) = read {
                let waiting = match s.deliver_replies(t, into) {
                    Ok(Some(waiting)) => waiting,
                    Ok(None) => break,
                    Err(e) => return e,
                };
                if !waiting.await {
                    return "driver gone".into();
                }
                // What was left moved to the link's own buffer.
                read = Some(ReadInto::Own);
            }
        }
    }
}

/// What woke a link's loop.
enum Step {
    Command(Option<super::Outgoing>),
    Read(std::io::Result<usize>, ReadInto),
}

/// The tag a reply is delivered with, taking it off the queue of commands
/// awaiting replies; `None` for a frame that answers no command and is to
/// be dropped: a RESP3 push on a command link (pairing it would shift every
/// later reply onto the wrong command).
fn pair_reply(channel: Channel, tags: &mut VecDeque<Tag>, reply: &Reply) -> Option<Tag> {
    match channel {
        // Pub/sub frames are not replies to a command: the core tells
        // hellos from confirmations.
        Channel::PubSub => {
            tags.pop_front();
            Some(Tag::Ignore)
        }
        Channel::Cmd if matches!(reply, Reply::Push(_)) => None,
        Channel::Cmd => {
            // A command sent as `NoReply` is answered only when refused;
            // its refusals name it, which no other reply can.
            while tags.front() == Some(&Tag::NoReply) {
                tags.pop_front();
                if refuses_getack(reply) {
                    return Some(Tag::NoReply);
                }
            }
            Some(tags.pop_front().unwrap_or(Tag::Ignore))
        }
    }
}

/// `REPLCONF GETACK` answers nothing on success and never `-LOADING` or
/// `-BUSY` (it is allowed then): its only replies are an ACL refusal or an
/// unknown-command error, both naming the command, or `-NOAUTH`, which
/// then also answers every later command of the link.
fn refuses_getack(reply: &Reply) -> bool {
    let Reply::Error(text) = reply else {
        return false;
    };
    text.starts_with("NOAUTH") || text.to_ascii_lowercase().contains("'replconf")
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A server socket's side: reads until `count` commands came, then
    /// answers the k-th with the bulk string "k", dribbled out a few bytes
    /// per write so that replies arrive split across reads.
    async fn answer_in_pieces(mut socket: tokio::net::TcpStream, count: usize) {
        use tokio::io::AsyncReadExt;
        let mut seen = Vec::new();
        let mut chunk = [0u8; 4096];
        while seen.windows(5).filter(|w| w == b"\r\nGET").count() < count {
            let n = socket.read(&mut chunk).await.unwrap();
            assert!(n > 0, "link closed early");
            seen.extend_from_slice(&chunk[..n]);
        }
        let replies: Vec<u8> = (0..count)
            .flat_map(|k| {
                let k = k.to_string();
                format!("${}\r\n{k}\r\n", k.len()).into_bytes()
            })
            .collect();
        for piece in replies.chunks(3) {
            socket.write_all(piece).await.unwrap();
            tokio::task::yield_now().await;
        }
        // Held open until the test is done reading.
        let _ = socket.read(&mut chunk).await;
    }

    #[tokio::test]
    async fn replies_in_pieces_and_behind_a_full_queue_arrive_whole_and_in_order() {
        // Two links share the thread's read buffer; the driver's queue holds
        // one event, so each link keeps waiting for room with replies read.
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let (events, mut rx) = mpsc::channel(1);
        const COUNT: usize = 40;
        let mut senders = Vec::new();
        for name in ["m0", "m1"] {
            let (tx, commands) = super::super::command_queue::queue(COUNT);
            for _ in 0..COUNT {
                tx.try_send((vec![b"GET".to_vec()], Tag::Info)).unwrap();
            }
            senders.push(tx);
            let link = LinkId::cmd(rsentinel_core::sentinel::links::Target::Master(name.into()));
            let t = LinkTask {
                link: Arc::new(link),
                generation: 1,
                commands,
                events: events.clone(),
            };
            let dial = Box::new(Dial {
                addr: Addr::new("127.0.0.1", port),
                first_auth: None,
                connect_timeout: Duration::from_secs(5),
                bind_source: None,
                tls: None,
            });
            tokio::spawn(run(t, dial));
        }
        for _ in 0..2 {
            let (socket, _) = listener.accept().await.unwrap();
            tokio::spawn(answer_in_pieces(socket, COUNT));
        }
        let mut got: std::collections::HashMap<String, Vec<Vec<u8>>> = Default::default();
        let deadline = std::time::Instant::now() + Duration::from_secs(30);
        while got.values().map(Vec::len).sum::<usize>() < 2 * COUNT {
            let left = deadline.saturating_duration_since(std::time::Instant::now());
            let event = tokio::time::timeout(left, rx.recv())
                .await
                .expect("all replies within 30 s")
                .expect("links alive");
            match event {
                LinkEvent::Reply {
                    link,
                    tag,
                    reply: Reply::Bulk(text),
                    ..
                } => {
                    assert_eq!(tag, Tag::Info);
                    got.entry(format!("{link:?}")).or_default().push(text);
                }
                LinkEvent::Connected { .. } => {}
                other => panic!("unexpected {other:?}"),
            }
        }
        let expected: Vec<Vec<u8>> = (0..COUNT).map(|k| k.to_string().into_bytes()).collect();
        assert_eq!(got.len(), 2);
        for replies in got.values() {
            assert_eq!(replies, &expected);
        }
        SHARED_READ.with_borrow(|shared| assert!(shared.is_empty()));
        drop(senders);
    }

    #[test]
    fn a_link_task_stays_small() {
        // 2 000 of them at 1 000 masters: every byte here is 2 KB of RSS.
        // (1 016 bytes before the connect-only state was boxed and the
        // waits were polled by hand.) Up to ~400 bytes, tokio's task cell
        // (header, future, trailer, 128-byte aligned) is 512 bytes.
        let (_tx, commands) = super::super::command_queue::queue(1);
        let (events, _rx) = mpsc::channel(1);
        let t = LinkTask {
            link: Arc::new(LinkId::cmd(
                rsentinel_core::sentinel::links::Target::Master("m".into()),
            )),
            generation: 1,
            commands,
            events,
        };
        let dial = Box::new(Dial {
            addr: Addr::new("127.0.0.1", 1),
            first_auth: None,
            connect_timeout: Duration::from_secs(1),
            bind_source: None,
            tls: None,
        });
        let size = std::mem::size_of_val(&run(t, dial));
        assert!(size <= 400, "a link task's future is {size} bytes");
    }

    #[test]
    fn push_frame_on_a_command_link_is_not_paired_with_a_command() {
        let mut tags: VecDeque<Tag> = [Tag::Ping, Tag::Info].into();
        let push = Reply::Push(vec![Reply::bulk("invalidate"), Reply::Null]);
        assert_eq!(pair_reply(Channel::Cmd, &mut tags, &push), None);
        let pong = Reply::Simple("PONG".into());
        assert_eq!(pair_reply(Channel::Cmd, &mut tags, &pong), Some(Tag::Ping));
        assert_eq!(pair_reply(Channel::Cmd, &mut tags, &push), None);
        let info = Reply::bulk("# Server");
        assert_eq!(pair_reply(Channel::Cmd, &mut tags, &info), Some(Tag::Info));
        assert_eq!(
            pair_reply(Channel::Cmd, &mut tags, &pong),
            Some(Tag::Ignore)
        );
    }

    #[test]
    fn pubsub_link_frames_are_delivered_untagged() {
        let mut tags: VecDeque<Tag> = [Tag::Ignore].into();
        let msg = Reply::Push(vec![Reply::bulk("message")]);
        assert_eq!(
            pair_reply(Channel::PubSub, &mut tags, &msg),
            Some(Tag::Ignore)
        );
        assert!(tags.is_empty());
    }

    #[test]
    fn a_getack_is_paired_only_with_its_own_refusal() {
        let pong = Reply::Simple("PONG".into());
        // Accepted: it answers nothing, the next reply is the next command's.
        let mut tags: VecDeque<Tag> = [Tag::NoReply, Tag::Ping].into();
        assert_eq!(pair_reply(Channel::Cmd, &mut tags, &pong), Some(Tag::Ping));
        assert!(tags.is_empty());
        // Refused by ACL: the refusal is its reply, then PONG is the PING's.
        let mut tags: VecDeque<Tag> = [Tag::NoReply, Tag::Ping].into();
        let noperm = Reply::Error(
            "NOPERM this user has no permissions to run the 'replconf' command".into(),
        );
        assert_eq!(
            pair_reply(Channel::Cmd, &mut tags, &noperm),
            Some(Tag::NoReply)
        );
        assert_eq!(pair_reply(Channel::Cmd, &mut tags, &pong), Some(Tag::Ping));
        // Another command's error is that command's.
        let mut tags: VecDeque<Tag> = [Tag::NoReply, Tag::Info].into();
        let loading = Reply::Error("LOADING Redis is loading the dataset in memory".into());
        assert_eq!(
            pair_reply(Channel::Cmd, &mut tags, &loading),
            Some(Tag::Info)
        );
    }
}
