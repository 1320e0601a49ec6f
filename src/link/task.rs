//! One link: connect (resolving hostnames without blocking anyone, then
//! the TLS handshake under `tls-replication yes`), then write queued
//! commands and read replies, pairing each reply with the tag of the command
//! it answers (Redis answers in order). RESP3 push frames answer no command,
//! so they are never paired.

use std::collections::VecDeque;
use std::future::Future;
use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use bytes::BytesMut;
use rsentinel_core::reply::Reply;
use rsentinel_core::sentinel::links::{Channel, LinkId, Tag};
use rsentinel_core::sentinel::Addr;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
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

pub(super) struct LinkTask {
    /// Shared with every event it sends: a reply's event costs no copy of
    /// the id's names.
    pub link: Arc<LinkId>,
    pub generation: u64,
    pub addr: Addr,
    pub first_auth: Option<Vec<u8>>,
    pub commands: super::command_queue::Receiver<(Vec<Vec<u8>>, Tag)>,
    /// Bounded: waiting here stops this task from reading its socket, so a
    /// flooding peer slows only itself (see `super::EVENT_QUEUE`).
    pub events: mpsc::Sender<LinkEvent>,
    pub connect_timeout: Duration,
    pub bind_source: Option<IpAddr>,
    pub tls: Option<TlsConnector>,
}

pub(super) async fn run(mut t: LinkTask) {
    // Boxed: the lookup, the connect and their timer are needed only until
    // connected, and inline they would size the task for its whole life.
    let connecting = Box::pin(tokio::time::timeout(
        t.connect_timeout,
        connect(&t.addr, t.bind_source, &t.events),
    ));
    let error = match connecting.await {
        Ok(Ok(mut stream)) => {
            let local_ip = stream
                .local_addr()
                .map(|a| a.ip().to_canonical().to_string())
                .unwrap_or_default();
            match t.tls.clone() {
                None => {
                    let (reader, writer) = stream.split();
                    serve(&mut t, reader, writer, local_ip).await
                }
                // The handshake shares the connect timeout: a peer that
                // accepts but never answers TLS is as dead as one that
                // never accepts.
                // Boxed: a TLS session's state is several KiB, and inline it
                // would size every plain link's task as large (RSS at
                // 1 000 masters is mostly per-link memory).
                Some(tls) => {
                    Box::pin(async {
                        let name = crate::tls::server_name(&t.addr.host);
                        match tokio::time::timeout(t.connect_timeout, tls.connect(name, stream))
                            .await
                        {
                            Ok(Ok(stream)) => {
                                let (reader, writer) = tokio::io::split(stream);
                                serve(&mut t, reader, writer, local_ip).await
                            }
                            Ok(Err(e)) => format!("TLS handshake failed: {e}"),
                            Err(_) => "TLS handshake timed out".to_string(),
                        }
                    })
                    .await
                }
            }
        }
        Ok(Err(e)) => e.to_string(),
        Err(_) => "connection timed out".to_string(),
    };
    if let Ok(slot) = t.events.reserve().await {
        slot.send(LinkEvent::Closed {
            link: t.link,
            generation: t.generation,
            error,
        });
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
    fn read_some(&mut self, buf: &mut BytesMut) -> impl Future<Output = std::io::Result<usize>>;
}

fn make_room(buf: &mut BytesMut) {
    if buf.capacity() - buf.len() < LINK_READ_CHUNK / 4 {
        buf.reserve(LINK_READ_CHUNK);
    }
}

/// A plain socket is read only once it is readable, and the buffer is made
/// then: an idle link (almost every link, almost all the time) holds no
/// read buffer at all — at 1 000 masters, 2 000 links.
impl LinkReader for tokio::net::tcp::ReadHalf<'_> {
    async fn read_some(&mut self, buf: &mut BytesMut) -> std::io::Result<usize> {
        // The stream's own read waker, not `readable()`: that one's waiter
        // node would add 200 bytes to every link task.
        let stream: &TcpStream = self.as_ref();
        std::future::poll_fn(|cx| stream.poll_read_ready(cx)).await?;
        make_room(buf);
        // Through `AsyncRead`, which (unlike `try_read`) knows that a read
        // shorter than the buffer drained the socket: no extra read to
        // learn that it would block.
        self.read_buf(buf).await
    }
}

/// Through TLS the buffer is made before waiting: decrypted bytes may
/// already wait inside the session, which no socket readiness shows.
impl<S: AsyncRead> LinkReader for tokio::io::ReadHalf<S> {
    async fn read_some(&mut self, buf: &mut BytesMut) -> std::io::Result<usize> {
        make_room(buf);
        self.read_buf(buf).await
    }
}

async fn serve<R, W>(t: &mut LinkTask, mut reader: R, mut writer: W, local_ip: String) -> String
where
    R: LinkReader,
    W: AsyncWrite + Unpin,
{
    let mut tags: VecDeque<Tag> = VecDeque::new();
    let mut out = BytesMut::new();
    if let Some(pass) = t.first_auth.take() {
        encode_command(&[b"AUTH", &pass], &mut out);
        tags.push_back(Tag::Ignore);
    }
    let Ok(slot) = t.events.reserve().await else {
        return "driver gone".into();
    };
    slot.send(LinkEvent::Connected {
        link: t.link.clone(),
        generation: t.generation,
        local_ip,
    });
    let _up = crate::observe::LinkUp::new(&t.link);
    // When each unanswered PING went out, for the round-trip metric.
    let mut pings: VecDeque<std::time::Instant> = VecDeque::new();
    let mut parser = ReplyParser::new();
    // Made when something is read, freed once parsed (16 KiB per link had
    // been most of the idle RSS at 200 masters, 1 KiB still an eighth of
    // it at 1 000).
    let mut buf = BytesMut::new();
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
        super::give_back_if_drained(&mut tags);
        super::give_back_if_drained(&mut pings);
        // The select only says what happened; the work is done after it,
        // once its futures are gone, so the task is not sized for both.
        let step = tokio::select! {
            cmd = t.commands.recv() => Step::Command(cmd),
            read = reader.read_some(&mut buf) => Step::Read(read),
        };
        match step {
            Step::Command(Some((args, tag))) => {
                encode_owned_command(&args, &mut out);
                note_ping(&tag, &mut pings);
                tags.push_back(tag);
                // Take whatever else is queued so it goes out in one write.
                while let Some((args, tag)) = t.commands.try_recv() {
                    encode_owned_command(&args, &mut out);
                    note_ping(&tag, &mut pings);
                    tags.push_back(tag);
                }
            }
            Step::Command(None) => return "closed".into(),
            Step::Read(Ok(0)) => return "connection closed by peer".into(),
            Step::Read(Ok(_)) => loop {
                match parser.parse(&mut buf) {
                    Ok(Some(reply)) => {
                        let Some(tag) = pair_reply(t.link.channel, &mut tags, &reply) else {
                            tracing::debug!(
                                "{:?}: ignoring a push frame on a command link",
                                t.link
                            );
                            continue;
                        };
                        if tag == Tag::NoReply {
                            tracing::debug!("{:?}: REPLCONF GETACK refused: {reply:?}", t.link);
                            continue;
                        }
                        if let (Tag::Ping, Some(sent)) = (&tag, pings.front()) {
                            crate::observe::on_link_rtt(&t.link, sent.elapsed());
                            pings.pop_front();
                        }
                        // A slot first, then the event: waiting holds no event.
                        let Ok(slot) = t.events.reserve().await else {
                            return "driver gone".into();
                        };
                        slot.send(LinkEvent::Reply {
                            link: t.link.clone(),
                            generation: t.generation,
                            tag,
                            reply,
                        });
                    }
                    Ok(None) => {
                        // Only a partial reply is kept between reads.
                        if buf.is_empty() {
                            buf = BytesMut::new();
                        }
                        break;
                    }
                    Err(e) => return format!("protocol error: {e}"),
                }
            },
            Step::Read(Err(e)) => return e.to_string(),
        }
    }
}

/// What woke a link's loop.
enum Step {
    Command(Option<super::Outgoing>),
    Read(std::io::Result<usize>),
}

fn note_ping(tag: &Tag, pings: &mut VecDeque<std::time::Instant>) {
    if matches!(tag, Tag::Ping) {
        pings.push_back(std::time::Instant::now());
    }
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
