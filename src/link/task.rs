//! One link: connect (resolving hostnames without blocking anyone, then
//! the TLS handshake under `tls-replication yes`), then write queued
//! commands and read replies, pairing each reply with the tag of the command
//! it answers (Redis answers in order). RESP3 push frames answer no command,
//! so they are never paired.

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
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt, ReadBuf};
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
            match tokio::time::timeout(dial.connect_timeout, tls.connect(name, stream)).await {
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
    let outcome = match events.try_send(event) {
        Ok(()) => Ok(true),
        Err(mpsc::error::TrySendError::Full(event)) => Err(Box::pin(events.send(event))),
        Err(mpsc::error::TrySendError::Closed(_)) => Ok(false),
    };
    async move {
        match outcome {
            Ok(sent) => sent,
            Err(waiting) => waiting.await.is_ok(),
        }
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

/// Room a link makes in its read buffer before reading: most replies are a
/// few bytes, an INFO a few KiB (then read in more than one go).
const LINK_READ_CHUNK: usize = 1024;

/// How a link reads its connection.
trait LinkReader {
    /// Reads what has arrived into `buf`, making room first; `Ok(0)` at
    /// end of stream.
    fn poll_read_some(
        &mut self,
        cx: &mut Context<'_>,
        buf: &mut BytesMut,
    ) -> Poll<std::io::Result<usize>>;
}

fn make_room(buf: &mut BytesMut) {
    if buf.capacity() - buf.len() < LINK_READ_CHUNK / 4 {
        buf.reserve(LINK_READ_CHUNK);
    }
}

/// One read into `buf`'s spare room (zeroed first: a kilobyte, next to a
/// system call, and no unsafe code to hand out uninitialised bytes).
fn poll_read_into<R: AsyncRead + Unpin>(
    reader: &mut R,
    cx: &mut Context<'_>,
    buf: &mut BytesMut,
) -> Poll<std::io::Result<usize>> {
    make_room(buf);
    let filled = buf.len();
    buf.resize(buf.capacity(), 0);
    let mut room = ReadBuf::new(&mut buf[filled..]);
    let polled = Pin::new(reader).poll_read(cx, &mut room);
    let n = room.filled().len();
    buf.truncate(filled + n);
    if polled.is_pending() && buf.is_empty() {
        // Nothing came after all: an idle link holds no buffer.
        *buf = BytesMut::new();
    }
    polled.map_ok(|()| n)
}

/// A plain socket is read only once it is readable, and the buffer is made
/// then: an idle link (almost every link, almost all the time) holds no
/// read buffer at all — at 1 000 masters, 2 000 links. Through
/// `AsyncRead`, which (unlike `try_read`) knows that a read shorter than
/// the buffer drained the socket: no extra read to learn that it would
/// block.
impl LinkReader for tokio::net::tcp::ReadHalf<'_> {
    fn poll_read_some(
        &mut self,
        cx: &mut Context<'_>,
        buf: &mut BytesMut,
    ) -> Poll<std::io::Result<usize>> {
        let stream: &TcpStream = self.as_ref();
        std::task::ready!(stream.poll_read_ready(cx))?;
        poll_read_into(self, cx, buf)
    }
}

/// Through TLS the buffer is made before waiting: decrypted bytes may
/// already wait inside the session, which no socket readiness shows.
impl<S: AsyncRead> LinkReader for tokio::io::ReadHalf<S> {
    fn poll_read_some(
        &mut self,
        cx: &mut Context<'_>,
        buf: &mut BytesMut,
    ) -> Poll<std::io::Result<usize>> {
        poll_read_into(self, cx, buf)
    }
}

/// What a connected link keeps between wake-ups, besides its connection.
struct Session {
    /// What each command awaiting its reply was (Redis answers in order).
    tags: VecDeque<Tag>,
    /// When each unanswered PING went out, for the round-trip metric.
    pings: VecDeque<std::time::Instant>,
    parser: ReplyParser,
    /// Made when something is read, freed once parsed (16 KiB per link had
    /// been most of the idle RSS at 200 masters, 1 KiB still an eighth of
    /// it at 1 000).
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

    /// Hands the driver every complete reply in the buffer, as long as its
    /// queue has room; a reply that finds it full comes back as the wait
    /// for room (boxed: no task is sized for it), to be awaited before
    /// anything else is parsed. `Ok(None)` once only a partial reply, or
    /// nothing, is left.
    fn deliver_replies<'t>(&mut self, t: &'t LinkTask) -> Result<Option<Waiting<'t>>, String> {
        loop {
            let reply = match self.parser.parse(&mut self.buf) {
                Ok(Some(reply)) => reply,
                Ok(None) => {
                    if self.buf.is_empty() {
                        self.buf = BytesMut::new();
                    }
                    return Ok(None);
                }
                Err(e) => return Err(format!("protocol error: {e}")),
            };
            let Some(tag) = pair_reply(t.link.channel, &mut self.tags, &reply) else {
                tracing::debug!("{:?}: ignoring a push frame on a command link", t.link);
                continue;
            };
            if tag == Tag::NoReply {
                tracing::debug!("{:?}: REPLCONF GETACK refused: {reply:?}", t.link);
                continue;
            }
            if tag == Tag::Ping {
                if let Some(sent) = self.pings.pop_front() {
                    crate::observe::on_link_rtt(&t.link, sent.elapsed());
                }
            }
            let event = LinkEvent::Reply {
                link: t.link.clone(),
                generation: t.generation,
                tag,
                reply,
            };
            match t.events.try_send(event) {
                Ok(()) => {}
                Err(mpsc::error::TrySendError::Full(event)) => {
                    let events = &t.events;
                    return Ok(Some(Box::pin(
                        async move { events.send(event).await.is_ok() },
                    )));
                }
                Err(mpsc::error::TrySendError::Closed(_)) => return Err("driver gone".into()),
            }
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
            {
                let step = std::future::poll_fn(|cx| {
                    if commands_first {
                        if let Poll::Ready(cmd) = t.commands.poll_recv(cx) {
                            return Poll::Ready(Step::Command(cmd));
                        }
                    }
                    if let Poll::Ready(read) = reader.poll_read_some(cx, &mut s.buf) {
                        return Poll::Ready(Step::Read(read));
                    }
                    t.commands.poll_recv(cx).map(Step::Command)
                })
                .await;
                match step {
                    Step::Command(Some(first)) => s.take_commands(first, &mut t.commands, &mut out),
                    Step::Command(None) => return "closed".into(),
                    Step::Read(Ok(0)) => return "connection closed by peer".into(),
                    Step::Read(Ok(_)) => {}
                    Step::Read(Err(e)) => return e.to_string(),
                }
            }
            // Whatever was read: the replies in it, each handed over (and
            // the link paused while the driver's queue is full).
            loop {
                let waiting = match s.deliver_replies(t) {
                    Ok(Some(waiting)) => waiting,
                    Ok(None) => break,
                    Err(e) => return e,
                };
                if !waiting.await {
                    return "driver gone".into();
                }
            }
        }
    }
}

/// What woke a link's loop.
enum Step {
    Command(Option<super::Outgoing>),
    Read(std::io::Result<usize>),
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
