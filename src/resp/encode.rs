//! Reply encoding: turns a protocol-neutral [`Reply`] into RESP2 or RESP3
//! bytes, and outbound commands into multibulk requests.

use bytes::{BufMut, BytesMut};
use rsentinel_core::reply::Reply;
use rsentinel_core::reply_writer::ReplyWriter;

/// Appends `reply` to `out` in the client's protocol. RESP2 has no null,
/// map or push types, so it gets `$-1`/`*-1`, a flat array of 2n items and
/// a plain array, exactly as Redis sends them.
pub fn encode(reply: &Reply, resp3: bool, out: &mut BytesMut) {
    // An explicit stack instead of recursion: a reply built from data that
    // came off the network must not be able to overflow our stack.
    // A scalar reply, the common case, never allocates the stack.
    let mut pending: Vec<&Reply> = Vec::new();
    let mut next = Some(reply);
    while let Some(reply) = next.take().or_else(|| pending.pop()) {
        match reply {
            Reply::Simple(s) => line(out, b'+', s.as_bytes()),
            Reply::Error(s) => line(out, b'-', s.as_bytes()),
            Reply::Int(n) => header(out, b':', *n),
            Reply::Bulk(b) => {
                header(out, b'$', b.len() as i64);
                out.put_slice(b);
                out.put_slice(b"\r\n");
            }
            Reply::Null if resp3 => out.put_slice(b"_\r\n"),
            Reply::Null => out.put_slice(b"$-1\r\n"),
            Reply::NullArray if resp3 => out.put_slice(b"_\r\n"),
            Reply::NullArray => out.put_slice(b"*-1\r\n"),
            Reply::Array(items) => {
                header(out, b'*', items.len() as i64);
                pending.extend(items.iter().rev());
            }
            Reply::Set(items) => {
                header(out, if resp3 { b'~' } else { b'*' }, items.len() as i64);
                pending.extend(items.iter().rev());
            }
            Reply::Double(text) if resp3 => line(out, b',', text.as_bytes()),
            Reply::Double(text) => {
                header(out, b'$', text.len() as i64);
                out.put_slice(text.as_bytes());
                out.put_slice(b"\r\n");
            }
            Reply::Push(items) => {
                header(out, if resp3 { b'>' } else { b'*' }, items.len() as i64);
                pending.extend(items.iter().rev());
            }
            Reply::Map(pairs) => {
                if resp3 {
                    header(out, b'%', pairs.len() as i64);
                } else {
                    header(out, b'*', 2 * pairs.len() as i64);
                }
                for (k, v) in pairs.iter().rev() {
                    pending.push(v);
                    pending.push(k);
                }
            }
        }
    }
}

/// The pieces of a reply as they are written, encoded into `out` in the
/// client's protocol: what [`encode`] would make of the [`Reply`] the same
/// pieces build, without the `Reply`.
pub struct RespWriter<'a> {
    pub out: &'a mut BytesMut,
    pub resp3: bool,
}

impl ReplyWriter for RespWriter<'_> {
    fn array(&mut self, len: usize) {
        header(self.out, b'*', len as i64);
    }

    fn map(&mut self, pairs: usize) {
        if self.resp3 {
            header(self.out, b'%', pairs as i64);
        } else {
            header(self.out, b'*', 2 * pairs as i64);
        }
    }

    fn bulk(&mut self, bytes: &[u8]) {
        header(self.out, b'$', bytes.len() as i64);
        self.out.put_slice(bytes);
        self.out.put_slice(b"\r\n");
    }

    fn bulk_int(&mut self, n: i64) {
        // `$<len>\r\n<digits>\r\n` in one copy, as `header` does.
        let mut digits = itoa::Buffer::new();
        let digits = digits.format(n).as_bytes();
        let len = digits.len();
        // `$`, at most two length digits, CRLF, at most 20 digits, CRLF.
        let mut frame = [0u8; 27];
        frame[0] = b'$';
        let mut at = 1;
        if len >= 10 {
            frame[at] = b'0' + (len / 10) as u8;
            at += 1;
        }
        frame[at] = b'0' + (len % 10) as u8;
        frame[at + 1..at + 3].copy_from_slice(b"\r\n");
        at += 3;
        frame[at..at + len].copy_from_slice(digits);
        frame[at + len..at + len + 2].copy_from_slice(b"\r\n");
        self.out.put_slice(&frame[..at + len + 2]);
    }

    fn reply(&mut self, reply: &Reply) {
        encode(reply, self.resp3, self.out);
    }
}

/// Appends `args` as a multibulk request (`*n` then `$len` per argument),
/// the only form Redis accepts from scripts and peers without quoting rules.
pub fn encode_command(args: &[&[u8]], out: &mut BytesMut) {
    encode_parts(args, out);
}

/// [`encode_command`] for arguments the caller owns (the commands the core
/// queues on a link), without a vector of slices made per command.
pub fn encode_owned_command(args: &[Vec<u8>], out: &mut BytesMut) {
    encode_parts(args, out);
}

fn encode_parts<A: AsRef<[u8]>>(args: &[A], out: &mut BytesMut) {
    header(out, b'*', args.len() as i64);
    for arg in args {
        let arg = arg.as_ref();
        header(out, b'$', arg.len() as i64);
        out.put_slice(arg);
        out.put_slice(b"\r\n");
    }
}

/// `<kind><n>\r\n`, built on the stack and appended with one copy: three
/// appends, each a capacity check and a copy, showed in pipelined profiles.
fn header(out: &mut BytesMut, kind: u8, n: i64) {
    let mut digits = itoa::Buffer::new();
    let digits = digits.format(n).as_bytes();
    // 1 + at most 20 (i64::MIN) + 2.
    let mut line = [0u8; 23];
    let end = digits.len() + 3;
    line[0] = kind;
    line[1..end - 2].copy_from_slice(digits);
    line[end - 2..end].copy_from_slice(b"\r\n");
    out.put_slice(&line[..end]);
}

/// A one-line reply. CR and LF become spaces, as Redis does for error
/// replies, so a message can never break the framing.
fn line(out: &mut BytesMut, kind: u8, text: &[u8]) {
    out.put_u8(kind);
    out.extend(
        text.iter()
            .map(|&c| if c == b'\r' || c == b'\n' { b' ' } else { c }),
    );
    out.put_slice(b"\r\n");
}

#[cfg(test)]
mod tests {
    use super::*;

    fn enc(reply: &Reply, resp3: bool) -> Vec<u8> {
        let mut out = BytesMut::new();
        encode(reply, resp3, &mut out);
        out.to_vec()
    }

    #[test]
    fn scalars_are_the_same_in_both_protocols() {
        for resp3 in [false, true] {
            assert_eq!(enc(&Reply::ok(), resp3), b"+OK\r\n");
            assert_eq!(enc(&Reply::err("boom"), resp3), b"-ERR boom\r\n");
            assert_eq!(enc(&Reply::Int(-42), resp3), b":-42\r\n");
            assert_eq!(enc(&Reply::bulk("foo"), resp3), b"$3\r\nfoo\r\n");
            assert_eq!(enc(&Reply::bulk(""), resp3), b"$0\r\n\r\n");
        }
    }

    #[test]
    fn nulls_differ_between_protocols() {
        assert_eq!(enc(&Reply::Null, false), b"$-1\r\n");
        assert_eq!(enc(&Reply::NullArray, false), b"*-1\r\n");
        assert_eq!(enc(&Reply::Null, true), b"_\r\n");
        assert_eq!(enc(&Reply::NullArray, true), b"_\r\n");
    }

    #[test]
    fn map_is_a_flat_array_in_resp2_and_a_map_in_resp3() {
        let m = Reply::map_of(vec![("a", Reply::Int(1)), ("b", Reply::bulk("x"))]);
        assert_eq!(
            enc(&m, false),
            b"*4\r\n$1\r\na\r\n:1\r\n$1\r\nb\r\n$1\r\nx\r\n"
        );
        assert_eq!(
            enc(&m, true),
            b"%2\r\n$1\r\na\r\n:1\r\n$1\r\nb\r\n$1\r\nx\r\n"
        );
    }

    #[test]
    fn push_is_a_plain_array_in_resp2() {
        let p = Reply::Push(vec![
            Reply::bulk("message"),
            Reply::bulk("ch"),
            Reply::bulk("hi"),
        ]);
        assert_eq!(
            enc(&p, false),
            b"*3\r\n$7\r\nmessage\r\n$2\r\nch\r\n$2\r\nhi\r\n"
        );
        assert_eq!(
            enc(&p, true),
            b">3\r\n$7\r\nmessage\r\n$2\r\nch\r\n$2\r\nhi\r\n"
        );
    }

    #[test]
    fn nested_aggregates_keep_their_order() {
        let r = Reply::Array(vec![
            Reply::Array(vec![Reply::Int(1), Reply::Array(vec![])]),
            Reply::Map(vec![(Reply::bulk("k"), Reply::Array(vec![Reply::Null]))]),
            Reply::Int(2),
        ]);
        assert_eq!(
            enc(&r, false),
            b"*3\r\n*2\r\n:1\r\n*0\r\n*2\r\n$1\r\nk\r\n*1\r\n$-1\r\n:2\r\n".to_vec()
        );
        assert_eq!(
            enc(&r, true),
            b"*3\r\n*2\r\n:1\r\n*0\r\n%1\r\n$1\r\nk\r\n*1\r\n_\r\n:2\r\n".to_vec()
        );
    }

    #[test]
    fn newlines_in_status_and_errors_become_spaces() {
        assert_eq!(
            enc(&Reply::Error("ERR a\r\nb".into()), false),
            b"-ERR a  b\r\n"
        );
        assert_eq!(enc(&Reply::Simple("x\ny".into()), true), b"+x y\r\n");
    }

    #[test]
    fn integers_as_bulk_strings_and_headers_at_every_width() {
        for n in [0, 7, -7, 10, 6379, -6379, 1 << 40, i64::MAX, i64::MIN] {
            let mut out = BytesMut::new();
            RespWriter {
                out: &mut out,
                resp3: false,
            }
            .bulk_int(n);
            let text = n.to_string();
            assert_eq!(
                out.to_vec(),
                format!("${}\r\n{text}\r\n", text.len()).into_bytes()
            );
            let mut out = BytesMut::new();
            header(&mut out, b'*', n);
            assert_eq!(out.to_vec(), format!("*{text}\r\n").into_bytes());
        }
    }

    #[test]
    fn written_pieces_encode_as_the_reply_they_build() {
        let pieces = |w: &mut dyn ReplyWriter| {
            w.array(3);
            w.map(2);
            w.bulk(b"ip");
            w.bulk(b"127.0.0.1");
            w.bulk(b"port");
            w.bulk_int(-6379);
            w.reply(&Reply::NullArray);
            w.array(0);
        };
        let built = rsentinel_core::reply_writer::build(|b| pieces(b));
        for resp3 in [false, true] {
            let mut out = BytesMut::new();
            pieces(&mut RespWriter {
                out: &mut out,
                resp3,
            });
            assert_eq!(out.to_vec(), enc(&built, resp3));
        }
    }

    #[test]
    fn commands_are_multibulk() {
        let mut out = BytesMut::new();
        encode_command(&[b"SET", b"k", b""], &mut out);
        assert_eq!(&out[..], b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$0\r\n\r\n");
        let mut owned = BytesMut::new();
        encode_owned_command(&[b"SET".to_vec(), b"k".to_vec(), Vec::new()], &mut owned);
        assert_eq!(owned, out);
    }

    #[test]
    fn deep_nesting_does_not_overflow_the_stack() {
        let mut r = Reply::Int(1);
        for _ in 0..100_000 {
            r = Reply::Array(vec![r]);
        }
        let mut out = BytesMut::new();
        encode(&r, true, &mut out);
        assert_eq!(out.len(), 100_000 * 4 + 4);
        // Dropping a deep Reply recurses in Drop; unwind it by hand.
        let mut cur = r;
        while let Reply::Array(mut items) = cur {
            cur = items.pop().unwrap_or(Reply::Null);
        }
    }
}
