//! The client request decoder: inline and multibulk requests, incremental and
//! bounded, with Redis 7.0's limits and its exact protocol-error texts.
//!
//! Behaviour pinned against a real `redis-server` 7.0.15:
//! * The request type is chosen by the first byte: `*` is multibulk, anything
//!   else is an inline line ended by `\n` (an optional `\r` before it is
//!   dropped). Empty inline lines and `*0` / `*-N` headers are skipped.
//! * Redis looks for terminators with `strchr`, so a NUL byte hides every
//!   terminator after it: the request then waits until the 64 KiB line limit
//!   turns it into a "too big" error. We reproduce that.
//! * The byte after a header's `\r` and the two bytes after a bulk payload are
//!   skipped without being checked, as Redis does.
//! * The multibulk count may go up to `i32::MAX` (Redis 7.0 no longer caps it
//!   at 1024*1024); we never pre-allocate from it.
//! * A line is "too big" when no terminator shows up within its first
//!   64 KiB + 1 bytes. Redis checks this after each socket read, so when it
//!   happens to receive a longer line in one read it may accept it; we apply
//!   the rule to the bytes themselves so that decoding never depends on how
//!   the input was chunked (it equals Redis under byte-by-byte arrival).

use bytes::{Buf, BytesMut};

use super::split_args::split_args;
use super::string2ll::string2ll;
use rsentinel_core::reply::Reply;

/// Longest inline request, count string or bulk header Redis waits for
/// (`PROTO_INLINE_MAX_SIZE`).
pub const INLINE_MAX: usize = 64 * 1024;
/// Largest multibulk count Redis 7.0 accepts.
pub const MAX_MULTIBULK_LEN: i64 = i32::MAX as i64;
/// Largest bulk argument (`proto-max-bulk-len` default, 512 MiB).
pub const MAX_BULK_LEN: i64 = 512 * 1024 * 1024;
/// Largest multibulk count accepted before the client authenticates.
pub const UNAUTH_MAX_MULTIBULK_LEN: i64 = 10;
/// Largest bulk argument accepted before the client authenticates.
pub const UNAUTH_MAX_BULK_LEN: i64 = 16 * 1024;
/// Default cap on bytes buffered for one client (`client-query-buffer-limit`).
pub const DEFAULT_QUERY_BUFFER_LIMIT: usize = 1024 * 1024 * 1024;
/// Never reserve more argument slots than this up front, whatever the client
/// announced: the slots must be paid for with real bytes.
const MAX_PREALLOCATED_ARGS: usize = 1024;
/// Argument buffers kept for reuse (see [`RequestDecoder::recycle`]): enough
/// for the usual request, each no larger than a usual argument, so an idle
/// client holds at most a few KiB of them.
const SPARE_ARGS: usize = 8;
const SPARE_ARG_CAPACITY: usize = 256;

/// Why a client's request stream is unusable. Display is the reply text after
/// `-ERR `; after any of these the connection must be closed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProtocolError {
    #[error("Protocol error: too big inline request")]
    TooBigInlineRequest,
    #[error("Protocol error: too big mbulk count string")]
    TooBigMbulkCountString,
    #[error("Protocol error: invalid multibulk length")]
    InvalidMultibulkLength,
    #[error("Protocol error: unauthenticated multibulk length")]
    UnauthenticatedMultibulkLength,
    /// The byte found where a `$` bulk header should start.
    #[error("Protocol error: expected '$', got '{}'", shown_byte(*.0))]
    ExpectedDollar(u8),
    #[error("Protocol error: too big bulk count string")]
    TooBigBulkCountString,
    #[error("Protocol error: invalid bulk length")]
    InvalidBulkLength,
    #[error("Protocol error: unauthenticated bulk length")]
    UnauthenticatedBulkLength,
    #[error("Protocol error: unbalanced quotes in request")]
    UnbalancedQuotes,
    /// The client buffered more than the query-buffer limit. Redis closes such
    /// a client without replying, so this one has no client-facing reply.
    #[error("query buffer of {buffered} bytes exceeds the limit of {limit} bytes")]
    QueryBufferLimit { buffered: usize, limit: usize },
}

impl ProtocolError {
    /// The error reply to send before closing, or `None` when Redis closes
    /// the connection silently.
    pub fn reply(&self) -> Option<Reply> {
        match self {
            ProtocolError::QueryBufferLimit { .. } => None,
            other => Some(Reply::err(other.to_string())),
        }
    }
}

/// Redis replaces CR and LF in error replies with spaces so the reply stays
/// one line. Bytes above 0x7f are sent raw by Redis; our replies are strings,
/// so they appear as the Latin-1 character of the same code.
fn shown_byte(b: u8) -> char {
    match b {
        b'\r' | b'\n' => ' ',
        other => char::from(other),
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stage {
    /// Between requests: the next byte picks inline or multibulk.
    Start,
    /// Inside a multibulk request, waiting for a `$len\r\n` header.
    BulkHeader,
    /// Inside a multibulk request, waiting for `len` payload bytes + 2.
    BulkData(usize),
}

/// Where a terminator search ended.
enum Scan {
    Found(usize),
    Missing,
}

/// Incremental request decoder for one client connection. Feed it the
/// connection's read buffer after every read; it consumes bytes as soon as a
/// piece of a request is complete, so a slow client costs O(n) in total.
#[derive(Debug)]
pub struct RequestDecoder {
    query_buffer_limit: usize,
    stage: Stage,
    /// Bytes at the head of the buffer already searched, in vain, for the
    /// current terminator; the next search resumes there.
    scanned: usize,
    /// Bulk arguments still expected by the current multibulk request.
    remaining: usize,
    args: Vec<Vec<u8>>,
    /// Payload bytes held in `args`, counted against the query-buffer limit.
    args_bytes: usize,
    /// Emptied argument buffers handed back by [`RequestDecoder::recycle`].
    spare: Vec<Vec<u8>>,
}

impl Default for RequestDecoder {
    fn default() -> Self {
        RequestDecoder::new()
    }
}

impl RequestDecoder {
    /// A decoder with the default 1 GiB query-buffer limit.
    pub fn new() -> Self {
        RequestDecoder::with_query_buffer_limit(DEFAULT_QUERY_BUFFER_LIMIT)
    }

    /// A decoder that fails with [`ProtocolError::QueryBufferLimit`] once the
    /// unprocessed bytes plus the pending request exceed `limit`.
    pub fn with_query_buffer_limit(limit: usize) -> Self {
        RequestDecoder {
            query_buffer_limit: limit,
            stage: Stage::Start,
            scanned: 0,
            remaining: 0,
            args: Vec::new(),
            args_bytes: 0,
            spare: Vec::new(),
        }
    }

    /// Hands back a request's arguments once the request has run: the
    /// next multibulk requests are decoded into these buffers instead of
    /// fresh allocations (a client repeating one query allocates nothing).
    pub fn recycle(&mut self, mut args: Vec<Vec<u8>>) {
        for mut arg in args.drain(..) {
            if self.spare.len() < SPARE_ARGS && arg.capacity() <= SPARE_ARG_CAPACITY {
                arg.clear();
                self.spare.push(arg);
            }
        }
        if self.args.capacity() == 0 && args.capacity() <= SPARE_ARGS {
            self.args = args;
        }
    }

    /// Decodes the next request from `buf`. `Ok(None)` means more bytes are
    /// needed (a normal state); `Ok(Some(args))` is a request with at least
    /// one argument. Bytes are consumed as soon as a piece is complete (a
    /// header, an argument, a skipped empty line), so by the time a request
    /// is returned exactly its bytes, and none after it, have been taken from
    /// `buf` over the calls that built it. `authenticated` selects the
    /// pre-authentication limits (10 arguments, 16 KiB per argument). After
    /// an error the connection must be closed: the stream is not resumable.
    pub fn decode(
        &mut self,
        buf: &mut BytesMut,
        authenticated: bool,
    ) -> Result<Option<Vec<Vec<u8>>>, ProtocolError> {
        let buffered = buf.len().saturating_add(self.args_bytes);
        if buffered > self.query_buffer_limit {
            return Err(ProtocolError::QueryBufferLimit {
                buffered,
                limit: self.query_buffer_limit,
            });
        }
        loop {
            match self.stage {
                Stage::Start => {
                    let Some(&first) = buf.first() else {
                        return Ok(None);
                    };
                    if first == b'*' && self.scanned == 0 {
                        if let Some(args) = self.whole_multibulk(buf) {
                            return Ok(Some(args));
                        }
                    }
                    let step = if first == b'*' {
                        self.multibulk_header(buf, authenticated)?
                    } else {
                        self.inline(buf)?
                    };
                    match step {
                        Step::NeedMore => return Ok(None),
                        Step::Continue => continue,
                        Step::Request(args) => return Ok(Some(args)),
                    }
                }
                Stage::BulkHeader => {
                    if !self.bulk_header(buf, authenticated)? {
                        return Ok(None);
                    }
                }
                Stage::BulkData(len) => {
                    // The two bytes after the payload are skipped unchecked.
                    if buf.len() < len + 2 {
                        return Ok(None);
                    }
                    // Copy then advance: `split_to` would turn the buffer
                    // into a shared one and count references per argument.
                    let spare = if len <= SPARE_ARG_CAPACITY {
                        self.spare.pop()
                    } else {
                        None
                    };
                    let mut arg = spare.unwrap_or_else(|| Vec::with_capacity(len));
                    arg.extend_from_slice(&buf[..len]);
                    buf.advance(len + 2);
                    self.args_bytes += arg.len();
                    self.args.push(arg);
                    self.remaining -= 1;
                    if self.remaining == 0 {
                        self.stage = Stage::Start;
                        self.args_bytes = 0;
                        return Ok(Some(std::mem::take(&mut self.args)));
                    }
                    self.stage = Stage::BulkHeader;
                }
            }
        }
    }

    /// The usual request in one pass: a multibulk of a few short arguments
    /// that is wholly in `buf`, with headers short and well-formed. Taken
    /// and consumed at once, without the piecewise advances and terminator
    /// searches the general path makes; `None` (nothing consumed, nothing
    /// changed) for anything else, which the general path then decodes
    /// (and words the error of). Both paths take the same requests from the
    /// same bytes (pinned by a test against byte-by-byte arrival, which
    /// only the general path decodes).
    fn whole_multibulk(&mut self, buf: &mut BytesMut) -> Option<Vec<Vec<u8>>> {
        let b = &buf[..];
        let (count, cr) = short_number(b, 0)?;
        if !(1..=WHOLE_MAX_ARGS).contains(&count) {
            return None;
        }
        let mut spans = [(0usize, 0usize); WHOLE_MAX_ARGS];
        let mut at = cr + 2;
        for span in &mut spans[..count] {
            if b.get(at) != Some(&b'$') {
                return None;
            }
            let (len, cr) = short_number(b, at)?;
            // Within both the authenticated and the unauthenticated limit.
            if len > UNAUTH_MAX_BULK_LEN as usize {
                return None;
            }
            let start = cr + 2;
            let end = start + len;
            if end + 2 > b.len() {
                return None;
            }
            *span = (start, end);
            at = end + 2;
        }
        let mut args = std::mem::take(&mut self.args);
        args.clear();
        args.reserve(count);
        for &(start, end) in &spans[..count] {
            let len = end - start;
            let spare = if len <= SPARE_ARG_CAPACITY {
                self.spare.pop()
            } else {
                None
            };
            let mut arg = spare.unwrap_or_else(|| Vec::with_capacity(len));
            arg.extend_from_slice(&b[start..end]);
            args.push(arg);
        }
        buf.advance(at);
        Some(args)
    }

    /// Searches for `target` like Redis's `strchr`: a NUL ends the search.
    /// Only the first `INLINE_MAX + 1` bytes are searched; a terminator
    /// beyond that is a too-big line no matter how the bytes arrived.
    fn scan(&mut self, buf: &[u8], target: u8) -> Scan {
        let window = buf.len().min(INLINE_MAX + 1);
        let from = self.scanned.min(window);
        match memchr::memchr2(target, 0, &buf[from..window]) {
            Some(at) if buf[from + at] == target => {
                self.scanned = 0;
                Scan::Found(from + at)
            }
            // Stay on the NUL so the next call stops here at once.
            Some(at) => {
                self.scanned = from + at;
                Scan::Missing
            }
            None => {
                self.scanned = window;
                Scan::Missing
            }
        }
    }

    fn inline(&mut self, buf: &mut BytesMut) -> Result<Step, ProtocolError> {
        let newline = match self.scan(buf, b'\n') {
            Scan::Found(i) => i,
            Scan::Missing if buf.len() > INLINE_MAX => {
                return Err(ProtocolError::TooBigInlineRequest)
            }
            Scan::Missing => return Ok(Step::NeedMore),
        };
        let mut end = newline;
        if end > 0 && buf[end - 1] == b'\r' {
            end -= 1;
        }
        let args = split_args(&buf[..end]).map_err(|_| ProtocolError::UnbalancedQuotes)?;
        buf.advance(newline + 1);
        if args.is_empty() {
            return Ok(Step::Continue);
        }
        Ok(Step::Request(args))
    }

    /// Finds a `\r`-terminated header line and returns the index of the `\r`
    /// once the byte after it has arrived too.
    fn header_line(
        &mut self,
        buf: &BytesMut,
        too_big: ProtocolError,
    ) -> Result<Option<usize>, ProtocolError> {
        match self.scan(buf, b'\r') {
            Scan::Found(cr) if cr + 2 <= buf.len() => Ok(Some(cr)),
            Scan::Found(_) => Ok(None),
            Scan::Missing if buf.len() > INLINE_MAX => Err(too_big),
            Scan::Missing => Ok(None),
        }
    }

    fn multibulk_header(
        &mut self,
        buf: &mut BytesMut,
        authenticated: bool,
    ) -> Result<Step, ProtocolError> {
        let Some(cr) = self.header_line(buf, ProtocolError::TooBigMbulkCountString)? else {
            return Ok(Step::NeedMore);
        };
        let count = match string2ll(&buf[1..cr]) {
            Some(n) if n <= MAX_MULTIBULK_LEN => n,
            _ => return Err(ProtocolError::InvalidMultibulkLength),
        };
        if count > UNAUTH_MAX_MULTIBULK_LEN && !authenticated {
            return Err(ProtocolError::UnauthenticatedMultibulkLength);
        }
        buf.advance(cr + 2);
        if count <= 0 {
            return Ok(Step::Continue);
        }
        // Safe: 0 < count <= i32::MAX.
        let count = count as usize;
        self.remaining = count;
        self.args.clear();
        self.args.reserve(count.min(MAX_PREALLOCATED_ARGS));
        self.args_bytes = 0;
        self.stage = Stage::BulkHeader;
        Ok(Step::Continue)
    }

    /// Reads one `$len\r\n` header; false when more bytes are needed.
    fn bulk_header(
        &mut self,
        buf: &mut BytesMut,
        authenticated: bool,
    ) -> Result<bool, ProtocolError> {
        let Some(cr) = self.header_line(buf, ProtocolError::TooBigBulkCountString)? else {
            return Ok(false);
        };
        if buf[0] != b'$' {
            return Err(ProtocolError::ExpectedDollar(buf[0]));
        }
        let len = match string2ll(&buf[1..cr]) {
            Some(n) if (0..=MAX_BULK_LEN).contains(&n) => n,
            _ => return Err(ProtocolError::InvalidBulkLength),
        };
        if len > UNAUTH_MAX_BULK_LEN && !authenticated {
            return Err(ProtocolError::UnauthenticatedBulkLength);
        }
        buf.advance(cr + 2);
        // Safe: 0 <= len <= 512 MiB.
        self.stage = Stage::BulkData(len as usize);
        Ok(true)
    }
}

/// Most arguments [`RequestDecoder::whole_multibulk`] takes in one pass.
const WHOLE_MAX_ARGS: usize = 8;
/// The number on the header line at `from` (a kind byte, digits, `\r`)
/// when it is at most 5 digits that `string2ll` reads as they stand (no
/// sign, no leading zero), the `\r` comes right after them and the byte
/// after it has arrived: (the number, where the `\r` is). Anything else,
/// a NUL included, is left to the general path.
fn short_number(buf: &[u8], from: usize) -> Option<(usize, usize)> {
    let digits = buf.get(from + 1..)?;
    let mut value = 0usize;
    for (i, &c) in digits.iter().enumerate().take(6) {
        if c == b'\r' {
            if i == 0 || (digits[0] == b'0' && i > 1) {
                return None;
            }
            let cr = from + 1 + i;
            return (cr + 2 <= buf.len()).then_some((value, cr));
        }
        if !c.is_ascii_digit() {
            return None;
        }
        value = value * 10 + usize::from(c - b'0');
    }
    None
}

/// What one decoding step produced.
enum Step {
    NeedMore,
    /// Bytes were consumed without finishing a request: an empty inline
    /// line, a `*0`/`*-1` header, or a multibulk header whose arguments follow.
    Continue,
    Request(Vec<Vec<u8>>),
}

#[cfg(test)]
#[path = "request_tests.rs"]
mod tests;
