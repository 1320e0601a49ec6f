//! A minimal async RESP client connection for outbound links: connect with a
//! timeout, send pipelined commands, read parsed replies.
//!
//! Cancel safety (for use inside `tokio::select!`):
//! * [`RespReader::next_reply`] / [`RespConnection::next_reply`] are
//!   cancel-safe: bytes already read stay in the reader's buffer and parser,
//!   so dropping the future loses nothing and the next call resumes.
//! * `send` is **not** cancel-safe: a cancelled send may have written part of
//!   a command, leaving the stream unusable. Drop the connection if a send is
//!   cancelled (or don't race sends against other branches).

use std::io;
use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use bytes::BytesMut;
use rsentinel_core::reply::Reply;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::{lookup_host, TcpSocket, TcpStream, ToSocketAddrs};

use super::encode::encode_command;
use super::reply_parse::{ReplyLimits, ReplyParser};

/// How much the reader asks the socket for at a time. The parser consumes
/// each element as it completes, so the buffer holds at most one unfinished
/// element (bounded by [`ReplyLimits`]) plus one read.
const READ_CHUNK: usize = 16 * 1024;

/// Both halves of one link connection.
#[derive(Debug)]
pub struct RespConnection {
    reader: RespReader,
    writer: RespWriter,
}

/// The sending half: encodes commands as multibulk and writes them.
#[derive(Debug)]
pub struct RespWriter {
    half: OwnedWriteHalf,
    out: BytesMut,
}

/// The receiving half: reads and parses replies, one at a time.
#[derive(Debug)]
pub struct RespReader {
    half: OwnedReadHalf,
    buf: BytesMut,
    parser: ReplyParser,
}

impl RespConnection {
    /// Connects to `addr` (a `SocketAddr`, or `"host:port"`, resolved),
    /// failing with `TimedOut` if that takes longer than `timeout`.
    pub async fn connect<A: ToSocketAddrs>(addr: A, timeout: Duration) -> io::Result<Self> {
        let stream = tokio::time::timeout(timeout, TcpStream::connect(addr))
            .await
            .map_err(|_| io::Error::new(io::ErrorKind::TimedOut, "connect timed out"))??;
        RespConnection::from_stream(stream, &ReplyLimits::DEFAULT)
    }

    /// Like [`RespConnection::connect`], but with the local end bound to
    /// `source` when given (Redis Sentinel binds its outbound links to its
    /// first `bind` address). Every resolved address of `source`'s family is
    /// tried in turn; the timeout covers resolution and all attempts.
    pub async fn connect_from<A: ToSocketAddrs>(
        addr: A,
        source: Option<IpAddr>,
        timeout: Duration,
    ) -> io::Result<Self> {
        let Some(source) = source else {
            return RespConnection::connect(addr, timeout).await;
        };
        let attempt = async {
            let mut last = io::Error::new(
                io::ErrorKind::AddrNotAvailable,
                "no address of the source's family",
            );
            for target in lookup_host(addr).await? {
                if target.is_ipv4() != source.is_ipv4() {
                    continue;
                }
                let socket = if source.is_ipv4() {
                    TcpSocket::new_v4()?
                } else {
                    TcpSocket::new_v6()?
                };
                socket.bind(SocketAddr::new(source, 0))?;
                match socket.connect(target).await {
                    Ok(stream) => return Ok(stream),
                    Err(e) => last = e,
                }
            }
            Err(last)
        };
        let stream = tokio::time::timeout(timeout, attempt)
            .await
            .map_err(|_| io::Error::new(io::ErrorKind::TimedOut, "connect timed out"))??;
        RespConnection::from_stream(stream, &ReplyLimits::DEFAULT)
    }

    /// Wraps an already connected stream.
    pub fn from_stream(stream: TcpStream, limits: &'static ReplyLimits) -> io::Result<Self> {
        // Commands are small and latency matters more than packet count.
        stream.set_nodelay(true)?;
        let (read, write) = stream.into_split();
        Ok(RespConnection {
            reader: RespReader {
                half: read,
                buf: BytesMut::with_capacity(READ_CHUNK),
                parser: ReplyParser::with_limits(limits),
            },
            writer: RespWriter {
                half: write,
                out: BytesMut::new(),
            },
        })
    }

    /// Our end of the connection (Sentinel reports it, e.g. in hello/CLIENT).
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.writer.local_addr()
    }

    pub fn peer_addr(&self) -> io::Result<SocketAddr> {
        self.writer.peer_addr()
    }

    /// Sends one command. Not cancel-safe.
    pub async fn send(&mut self, args: &[&[u8]]) -> io::Result<()> {
        self.writer.send(args).await
    }

    /// The next reply; `Ok(None)` when the peer closed cleanly between
    /// replies. Cancel-safe.
    pub async fn next_reply(&mut self) -> io::Result<Option<Reply>> {
        self.reader.next_reply().await
    }

    /// Sends one command and waits for its reply (no pipelining in flight).
    /// A close before the reply is `UnexpectedEof`.
    pub async fn request(&mut self, args: &[&[u8]]) -> io::Result<Reply> {
        self.send(args).await?;
        self.next_reply()
            .await?
            .ok_or_else(|| io::Error::new(io::ErrorKind::UnexpectedEof, "connection closed"))
    }

    /// Separates the halves so one task can read while another writes.
    pub fn split(self) -> (RespReader, RespWriter) {
        (self.reader, self.writer)
    }
}

impl RespWriter {
    /// Encodes and writes one command. Several sends may be issued before
    /// reading their replies (pipelining). Not cancel-safe.
    pub async fn send(&mut self, args: &[&[u8]]) -> io::Result<()> {
        self.out.clear();
        encode_command(args, &mut self.out);
        self.half.write_all(&self.out).await
    }

    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.half.local_addr()
    }

    pub fn peer_addr(&self) -> io::Result<SocketAddr> {
        self.half.peer_addr()
    }
}

impl RespReader {
    /// The next reply; `Ok(None)` when the peer closed cleanly between
    /// replies, `UnexpectedEof` when it closed mid-reply, `InvalidData` when
    /// it sent something that is not RESP within our limits. Cancel-safe:
    /// the only await point is a `read_buf` into our own buffer.
    pub async fn next_reply(&mut self) -> io::Result<Option<Reply>> {
        loop {
            match self.parser.parse(&mut self.buf) {
                Ok(Some(reply)) => return Ok(Some(reply)),
                Ok(None) => {}
                Err(e) => return Err(io::Error::new(io::ErrorKind::InvalidData, e)),
            }
            self.buf.reserve(READ_CHUNK);
            let n = (&mut self.half)
                .take(READ_CHUNK as u64)
                .read_buf(&mut self.buf)
                .await?;
            if n == 0 {
                if self.buf.is_empty() && self.parser.is_idle() {
                    return Ok(None);
                }
                return Err(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    "connection closed in the middle of a reply",
                ));
            }
        }
    }

    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.half.local_addr()
    }

    pub fn peer_addr(&self) -> io::Result<SocketAddr> {
        self.half.peer_addr()
    }
}
