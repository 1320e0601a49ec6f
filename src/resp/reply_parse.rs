//! The reply parser for outbound links: reads what redis-server and peer
//! sentinels send back (RESP2 and RESP3) into [`Reply`] values.
//!
//! Why our own parser rather than `redis-protocol`: its decoder recurses on
//! nesting and re-parses a frame from the start on every call, so a slow
//! 64 MiB INFO reply would cost O(n²) and any depth check would have to be a
//! second full pre-scan of the same bytes. This parser keeps an explicit stack
//! of open aggregates (no recursion at all), consumes each element as soon as
//! it is complete (O(n) however the bytes arrive), and checks every limit
//! before allocating: nesting depth, declared element count, bulk size, line
//! length and total reply size.
//!
//! RESP3 types are folded into [`Reply`]: Set→Array, Double and BigNum→Bulk
//! of their text, Verbatim→Bulk without its `txt:` prefix, Boolean→Int 0/1,
//! blob error→Error, and attributes are read and dropped.

use bytes::{Buf, BytesMut};
use rsentinel_core::reply::Reply;

/// Limits for one reply. The defaults are far above anything Redis sends a
/// sentinel (an INFO reply is a few KiB) yet keep a hostile peer's cost small.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReplyLimits {
    /// Aggregates open at once (an array inside an array is depth 2).
    pub max_depth: usize,
    /// Elements declared by all aggregates of one reply, added up.
    pub max_elements: usize,
    /// Largest bulk string, verbatim string or blob error.
    pub max_bulk: usize,
    /// Longest header or simple line (`+`, `-`, `:`, `,`, `(` ...).
    pub max_line: usize,
    /// Bytes one reply may span in total.
    pub max_reply_bytes: usize,
}

impl ReplyLimits {
    pub const DEFAULT: ReplyLimits = ReplyLimits {
        max_depth: 32,
        max_elements: 1024 * 1024,
        max_bulk: 64 * 1024 * 1024,
        max_line: 64 * 1024,
        max_reply_bytes: 128 * 1024 * 1024,
    };
}

impl Default for ReplyLimits {
    fn default() -> Self {
        ReplyLimits::DEFAULT
    }
}

/// Why the bytes from a peer are not a reply we accept. The link should be
/// dropped: the stream cannot be resynchronised.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReplyParseError {
    #[error("empty line where a reply was expected")]
    EmptyLine,
    #[error("unknown RESP type byte 0x{0:02x}")]
    UnknownType(u8),
    #[error("invalid length in {0:?} header")]
    InvalidLength(char),
    #[error("invalid integer reply")]
    InvalidInteger,
    #[error("invalid boolean reply")]
    InvalidBoolean,
    #[error("invalid null reply")]
    InvalidNull,
    #[error("bulk payload not followed by CRLF")]
    MissingCrlf,
    #[error("reply nested deeper than {0} levels")]
    TooDeep(usize),
    #[error("reply declares more than {0} elements")]
    TooManyElements(usize),
    #[error("bulk of {len} bytes exceeds the limit of {limit}")]
    BulkTooLarge { len: usize, limit: usize },
    #[error("line longer than {0} bytes")]
    LineTooLong(usize),
    #[error("reply larger than {0} bytes")]
    ReplyTooLarge(usize),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Array,
    Push,
    Map,
    /// Read to stay in sync, then dropped.
    Attribute,
}

/// An aggregate whose elements are still arriving.
#[derive(Debug)]
struct Open {
    kind: Kind,
    remaining: usize,
    items: Vec<Reply>,
}

impl Open {
    fn finish(self) -> Option<Reply> {
        match self.kind {
            Kind::Array => Some(Reply::Array(self.items)),
            Kind::Push => Some(Reply::Push(self.items)),
            Kind::Map => {
                let mut pairs = Vec::with_capacity(self.items.len() / 2);
                let mut it = self.items.into_iter();
                while let (Some(k), Some(v)) = (it.next(), it.next()) {
                    pairs.push((k, v));
                }
                Some(Reply::Map(pairs))
            }
            Kind::Attribute => None,
        }
    }
}

/// What one header produced.
enum Item {
    Value(Reply),
    Open(Open),
    /// An empty attribute: nothing to deliver.
    Nothing,
}

/// Never reserve more slots than this from a declared count.
const MAX_PREALLOCATED: usize = 1024;

/// Incremental reply parser for one link. Call [`ReplyParser::parse`] after
/// every read; it keeps partial state between calls.
#[derive(Debug)]
pub struct ReplyParser {
    /// Shared, not copied: a parser lives in each of thousands of links.
    limits: &'static ReplyLimits,
    stack: Vec<Open>,
    /// Bytes at the head of the buffer already searched for `\r\n`.
    scanned: usize,
    /// Bytes consumed so far by the reply in progress.
    consumed: usize,
    /// Elements declared so far by the reply in progress.
    declared: usize,
}

impl Default for ReplyParser {
    fn default() -> Self {
        ReplyParser::new()
    }
}

impl ReplyParser {
    pub fn new() -> Self {
        ReplyParser::with_limits(&ReplyLimits::DEFAULT)
    }

    pub fn with_limits(limits: &'static ReplyLimits) -> Self {
        ReplyParser {
            limits,
            stack: Vec::new(),
            scanned: 0,
            consumed: 0,
            declared: 0,
        }
    }

    /// True when no reply is partly parsed (a clean place for EOF).
    pub fn is_idle(&self) -> bool {
        self.stack.is_empty() && self.consumed == 0
    }

    /// Parses the next complete reply from `buf`, consuming its bytes.
    /// `Ok(None)` means more bytes are needed.
    pub fn parse(&mut self, buf: &mut BytesMut) -> Result<Option<Reply>, ReplyParseError> {
        loop {
            let Some((item, used)) = self.item(buf)? else {
                return Ok(None);
            };
            self.consumed += used;
            if self.consumed > self.limits.max_reply_bytes {
                return Err(ReplyParseError::ReplyTooLarge(self.limits.max_reply_bytes));
            }
            buf.advance(used);
            let mut done = match item {
                Item::Nothing => None,
                Item::Value(v) => Some(v),
                Item::Open(open) => {
                    if self.stack.len() >= self.limits.max_depth {
                        return Err(ReplyParseError::TooDeep(self.limits.max_depth));
                    }
                    self.stack.push(open);
                    None
                }
            };
            // Hand the finished value to its parent, closing every aggregate
            // it completes; a value with no parent is the reply.
            while let Some(value) = done.take() {
                let Some(top) = self.stack.last_mut() else {
                    self.consumed = 0;
                    self.declared = 0;
                    // Between replies the parser holds nothing: a link that
                    // once saw an array (every pub/sub message is one) would
                    // otherwise keep its stack's room for good, 160 bytes on
                    // each of 1 000 links.
                    if self.stack.capacity() > 0 {
                        self.stack = Vec::new();
                    }
                    return Ok(Some(value));
                };
                top.items.push(value);
                top.remaining -= 1;
                done = self.close_finished();
            }
            // Nothing finished at the top: read on. This includes a top-level
            // attribute, which precedes the real reply and shares its budget.
        }
    }

    /// Pops the top aggregate if it is complete and returns its value; keeps
    /// popping dropped attributes, which are not elements of their parent.
    fn close_finished(&mut self) -> Option<Reply> {
        while self.stack.last().is_some_and(|top| top.remaining == 0) {
            let open = self.stack.pop().expect("checked non-empty");
            if let Some(value) = open.finish() {
                return Some(value);
            }
        }
        None
    }

    /// Finds the CRLF ending the line at the head of `buf`.
    fn line_end(&mut self, buf: &[u8]) -> Result<Option<usize>, ReplyParseError> {
        let window = buf.len().min(self.limits.max_line + 2);
        let from = self.scanned.min(window);
        match buf[from..window].windows(2).position(|w| w == b"\r\n") {
            Some(i) => {
                self.scanned = 0;
                Ok(Some(from + i))
            }
            None if buf.len() >= self.limits.max_line + 2 => {
                Err(ReplyParseError::LineTooLong(self.limits.max_line))
            }
            None => {
                // Keep the last byte: it may be the `\r` of a split CRLF.
                self.scanned = window.saturating_sub(1);
                Ok(None)
            }
        }
    }

    /// Reads one header (and payload, for string types) at the head of
    /// `buf` without consuming it; returns the item and its byte length.
    fn item(&mut self, buf: &[u8]) -> Result<Option<(Item, usize)>, ReplyParseError> {
        let Some(cr) = self.line_end(buf)? else {
            return Ok(None);
        };
        if cr == 0 {
            return Err(ReplyParseError::EmptyLine);
        }
        let kind = buf[0];
        let text = &buf[1..cr];
        let after = cr + 2;
        let value = match kind {
            b'+' => Reply::Simple(lossy(text)),
            b'-' => Reply::Error(lossy(text)),
            b':' => Reply::Int(parse_int(text).ok_or(ReplyParseError::InvalidInteger)?),
            b',' | b'(' => Reply::Bulk(text.to_vec()),
            b'#' => match text {
                b"t" => Reply::Int(1),
                b"f" => Reply::Int(0),
                _ => return Err(ReplyParseError::InvalidBoolean),
            },
            b'_' if text.is_empty() => Reply::Null,
            b'_' => return Err(ReplyParseError::InvalidNull),
            b'$' | b'=' | b'!' => {
                let len = match parse_int(text) {
                    Some(-1) if kind == b'$' => return Ok(Some((Item::Value(Reply::Null), after))),
                    Some(n) if n >= 0 => n as u64,
                    _ => return Err(ReplyParseError::InvalidLength(char::from(kind))),
                };
                if len > self.limits.max_bulk as u64 {
                    return Err(ReplyParseError::BulkTooLarge {
                        len: usize::try_from(len).unwrap_or(usize::MAX),
                        limit: self.limits.max_bulk,
                    });
                }
                let len = len as usize;
                let end = after + len;
                if buf.len() < end + 2 {
                    return Ok(None);
                }
                if &buf[end..end + 2] != b"\r\n" {
                    return Err(ReplyParseError::MissingCrlf);
                }
                let payload = &buf[after..end];
                let value = match kind {
                    b'$' => Reply::Bulk(payload.to_vec()),
                    // `txt:` / `mkd:`: a three-letter format, then the text.
                    b'=' if payload.len() >= 4 && payload[3] == b':' => {
                        Reply::Bulk(payload[4..].to_vec())
                    }
                    b'=' => Reply::Bulk(payload.to_vec()),
                    _ => Reply::Error(lossy(payload)),
                };
                return Ok(Some((Item::Value(value), end + 2)));
            }
            b'*' | b'~' | b'>' | b'%' | b'|' => {
                let n = match parse_int(text) {
                    Some(-1) if kind == b'*' => {
                        return Ok(Some((Item::Value(Reply::NullArray), after)))
                    }
                    Some(n) if n >= 0 => n as u64,
                    _ => return Err(ReplyParseError::InvalidLength(char::from(kind))),
                };
                let per = if matches!(kind, b'%' | b'|') { 2 } else { 1 };
                let budget =
                    (self.limits.max_elements - self.declared.min(self.limits.max_elements)) as u64;
                if n.saturating_mul(per) > budget {
                    return Err(ReplyParseError::TooManyElements(self.limits.max_elements));
                }
                let count = (n * per) as usize;
                self.declared += count;
                let kind = match kind {
                    b'*' | b'~' => Kind::Array,
                    b'>' => Kind::Push,
                    b'%' => Kind::Map,
                    _ => Kind::Attribute,
                };
                let open = Open {
                    kind,
                    remaining: count,
                    items: Vec::with_capacity(count.min(MAX_PREALLOCATED)),
                };
                if count > 0 {
                    return Ok(Some((Item::Open(open), after)));
                }
                return Ok(Some((
                    open.finish().map_or(Item::Nothing, Item::Value),
                    after,
                )));
            }
            other => return Err(ReplyParseError::UnknownType(other)),
        };
        Ok(Some((Item::Value(value), after)))
    }
}

fn lossy(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// hiredis reads integers and lengths with `string2ll` too.
fn parse_int(text: &[u8]) -> Option<i64> {
    rsentinel_core::string2ll::string2ll(text)
}

#[cfg(test)]
#[path = "reply_parse_tests.rs"]
mod tests;
