//! A connection's pending output: replies encoded in the client's protocol,
//! with CLIENT REPLY OFF/SKIP suppression and error-reply counting, and the
//! `client-output-buffer-limit` check on what is still unwritten.

use std::time::{Duration, Instant};

use bytes::{BufMut, BytesMut};
use rsentinel_core::reply::Reply;

use crate::config::client_limits::OutputBufferLimit;

use crate::resp::encode::{encode, RespWriter};
use rsentinel_core::reply_writer::ReplyWriter;

#[derive(Debug, Default)]
pub struct Output {
    pub buf: BytesMut,
    pub resp3: bool,
    /// CLIENT REPLY OFF, or SKIP for the command being run.
    pub suppress: bool,
    /// Error replies produced since the last [`Output::take_errors`].
    errors: u64,
    /// A reply the driver will send later, set by the command just run;
    /// the connection takes it and keeps its place in the output order.
    pub deferred: Option<Deferred>,
}

/// A reply still to come from the driver, encoded as the client's protocol
/// and reply mode were when its command ran.
#[derive(Debug)]
pub struct Deferred {
    pub reply: tokio::sync::oneshot::Receiver<Reply>,
    pub resp3: bool,
    pub suppress: bool,
    /// `SENTINEL`'s arguments, for the vote metrics once the reply is in.
    pub args: Vec<Vec<u8>>,
}

impl Output {
    pub fn reply(&mut self, reply: &Reply) {
        if reply.is_error() {
            // Redis counts errors even when CLIENT REPLY OFF hides them.
            self.errors += 1;
        }
        if !self.suppress {
            encode(reply, self.resp3, &mut self.buf);
        }
    }

    /// A writer for one reply written piece by piece; it counts an error
    /// reply and honours CLIENT REPLY OFF/SKIP as [`Output::reply`] does.
    pub fn writer(&mut self) -> OutputWriter<'_> {
        OutputWriter { out: self }
    }

    pub fn replies(&mut self, replies: &[Reply]) {
        for r in replies {
            self.reply(r);
        }
    }

    /// A text blob: RESP3 verbatim string (`=len\r\ntxt:...`) or a RESP2
    /// bulk string, as Redis's `addReplyVerbatim` sends CLIENT LIST/INFO.
    pub fn verbatim(&mut self, text: &str) {
        if self.suppress {
            return;
        }
        if self.resp3 {
            self.buf.put_u8(b'=');
            self.buf
                .put_slice(itoa::Buffer::new().format(text.len() + 4).as_bytes());
            self.buf.put_slice(b"\r\ntxt:");
            self.buf.put_slice(text.as_bytes());
            self.buf.put_slice(b"\r\n");
        } else {
            encode(&Reply::bulk(text), false, &mut self.buf);
        }
    }

    /// Leaves the current command's reply to come from `reply` later.
    pub fn defer(&mut self, reply: tokio::sync::oneshot::Receiver<Reply>, args: &[Vec<u8>]) {
        self.deferred = Some(Deferred {
            reply,
            resp3: self.resp3,
            suppress: self.suppress,
            args: args.to_vec(),
        });
    }

    /// Appends a deferred reply that has come in, in the protocol and mode
    /// of its command.
    pub fn deferred_reply(&mut self, d: &Deferred, reply: &Reply) {
        let (resp3, suppress) = (self.resp3, self.suppress);
        (self.resp3, self.suppress) = (d.resp3, d.suppress);
        self.reply(reply);
        (self.resp3, self.suppress) = (resp3, suppress);
    }

    pub fn take_errors(&mut self) -> u64 {
        std::mem::take(&mut self.errors)
    }
}

/// See [`Output::writer`].
pub struct OutputWriter<'a> {
    out: &'a mut Output,
}

impl OutputWriter<'_> {
    fn resp(&mut self) -> Option<RespWriter<'_>> {
        let o = &mut *self.out;
        (!o.suppress).then_some(RespWriter {
            out: &mut o.buf,
            resp3: o.resp3,
        })
    }
}

impl ReplyWriter for OutputWriter<'_> {
    fn array(&mut self, len: usize) {
        if let Some(mut w) = self.resp() {
            w.array(len);
        }
    }

    fn map(&mut self, pairs: usize) {
        if let Some(mut w) = self.resp() {
            w.map(pairs);
        }
    }

    fn bulk(&mut self, bytes: &[u8]) {
        if let Some(mut w) = self.resp() {
            w.bulk(bytes);
        }
    }

    fn bulk_int(&mut self, n: i64) {
        if let Some(mut w) = self.resp() {
            w.bulk_int(n);
        }
    }

    fn reply(&mut self, reply: &Reply) {
        self.out.reply(reply);
    }
}

/// Redis's output buffer limit for one client: over the hard limit closes
/// at once; over the soft limit closes once that has lasted longer than the
/// soft seconds (dropping under it starts the clock again).
#[derive(Debug, Default)]
pub struct OutputLimiter {
    soft_since: Option<Instant>,
}

impl OutputLimiter {
    /// Whether `pending` unwritten bytes at `now` break `limit`.
    /// `now` is read only past the soft limit (a clock read per write
    /// showed in profiles).
    pub fn exceeded(
        &mut self,
        limit: OutputBufferLimit,
        pending: usize,
        now: impl FnOnce() -> Instant,
    ) -> bool {
        let pending = pending as u64;
        if limit.hard > 0 && pending >= limit.hard {
            return true;
        }
        if limit.soft == 0 || pending < limit.soft {
            self.soft_since = None;
            return false;
        }
        let now = now();
        let since = *self.soft_since.get_or_insert(now);
        now.duration_since(since) > Duration::from_secs(limit.soft_seconds)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limit(hard: u64, soft: u64, soft_seconds: u64) -> OutputBufferLimit {
        OutputBufferLimit {
            hard,
            soft,
            soft_seconds,
        }
    }

    #[test]
    fn hard_limit_closes_at_once_and_zero_means_none() {
        let t = Instant::now();
        let mut l = OutputLimiter::default();
        assert!(!l.exceeded(limit(100, 0, 0), 99, || t));
        assert!(l.exceeded(limit(100, 0, 0), 100, || t));
        assert!(!l.exceeded(limit(0, 0, 0), usize::MAX, || t));
    }

    #[test]
    fn soft_limit_must_last_longer_than_its_seconds() {
        let t = Instant::now();
        let s = Duration::from_secs(1);
        let mut l = OutputLimiter::default();
        let lim = limit(0, 10, 2);
        assert!(!l.exceeded(lim, 10, || t));
        assert!(!l.exceeded(lim, 50, || t + 2 * s));
        // Back under the soft limit: the clock starts again.
        assert!(!l.exceeded(lim, 9, || t + 2 * s));
        assert!(!l.exceeded(lim, 10, || t + 3 * s));
        assert!(!l.exceeded(lim, 10, || t + 5 * s));
        assert!(l.exceeded(lim, 10, || t + 5 * s + Duration::from_millis(1)));
    }

    #[test]
    fn verbatim_is_txt_in_resp3_and_bulk_in_resp2() {
        let mut o = Output::default();
        o.verbatim("id=1\n");
        assert_eq!(&o.buf[..], b"$5\r\nid=1\n\r\n");
        let mut o = Output {
            resp3: true,
            ..Output::default()
        };
        o.verbatim("id=1\n");
        assert_eq!(&o.buf[..], b"=9\r\ntxt:id=1\n\r\n");
    }

    #[test]
    fn suppressed_errors_are_still_counted() {
        let mut o = Output {
            suppress: true,
            ..Output::default()
        };
        o.reply(&Reply::err("x"));
        o.reply(&Reply::ok());
        assert!(o.buf.is_empty());
        assert_eq!(o.take_errors(), 1);
        assert_eq!(o.take_errors(), 0);
    }
}
