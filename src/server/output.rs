//! A connection's pending output: replies encoded in the client's protocol,
//! with CLIENT REPLY OFF/SKIP suppression and error-reply counting.

use bytes::{BufMut, BytesMut};
use rsentinel_core::reply::Reply;

use crate::resp::encode::encode;

#[derive(Debug, Default)]
pub struct Output {
    pub buf: BytesMut,
    pub resp3: bool,
    /// CLIENT REPLY OFF, or SKIP for the command being run.
    pub suppress: bool,
    /// Error replies produced since the last [`Output::take_errors`].
    errors: u64,
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
            self.buf.put_slice((text.len() + 4).to_string().as_bytes());
            self.buf.put_slice(b"\r\ntxt:");
            self.buf.put_slice(text.as_bytes());
            self.buf.put_slice(b"\r\n");
        } else {
            encode(&Reply::bulk(text), false, &mut self.buf);
        }
    }

    pub fn take_errors(&mut self) -> u64 {
        std::mem::take(&mut self.errors)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
