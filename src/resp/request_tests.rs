//! Unit tests for the request decoder: each protocol error with Redis 7.0's
//! exact text, and the inline/multibulk framing rules.

use super::*;

fn args(list: &[&str]) -> Vec<Vec<u8>> {
    list.iter().map(|a| a.as_bytes().to_vec()).collect()
}

/// Decodes every complete request in `input`, then the final outcome.
fn decode_all(input: &[u8], authenticated: bool) -> (Vec<Vec<Vec<u8>>>, Result<(), ProtocolError>) {
    let mut dec = RequestDecoder::new();
    let mut buf = BytesMut::from(input);
    let mut out = Vec::new();
    loop {
        match dec.decode(&mut buf, authenticated) {
            Ok(Some(req)) => out.push(req),
            Ok(None) => return (out, Ok(())),
            Err(e) => return (out, Err(e)),
        }
    }
}

fn error_of(input: &[u8], authenticated: bool) -> String {
    match decode_all(input, authenticated).1 {
        Err(e) => e.to_string(),
        Ok(()) => panic!("expected an error for {:?}", String::from_utf8_lossy(input)),
    }
}

fn waits(input: &[u8], authenticated: bool) -> bool {
    let (reqs, res) = decode_all(input, authenticated);
    reqs.is_empty() && res.is_ok()
}

#[test]
fn inline_with_crlf_or_bare_lf() {
    assert_eq!(decode_all(b"PING\r\n", false).0, vec![args(&["PING"])]);
    assert_eq!(decode_all(b"PING\n", false).0, vec![args(&["PING"])]);
}

#[test]
fn inline_arguments_are_split_with_quotes() {
    let (reqs, res) = decode_all(b"ECHO \"a\\x41 b\" 'c d'\r\n", false);
    assert!(res.is_ok());
    assert_eq!(reqs, vec![args(&["ECHO", "aA b", "c d"])]);
}

#[test]
fn empty_lines_and_empty_multibulk_are_skipped() {
    let (reqs, res) = decode_all(b"\r\n\n   \r\n*0\r\n*-1\r\n*-5\r\nPING\r\n", false);
    assert!(res.is_ok());
    assert_eq!(reqs, vec![args(&["PING"])]);
}

#[test]
fn multibulk_request_decodes_and_consumes_only_itself() {
    let mut dec = RequestDecoder::new();
    let mut buf = BytesMut::from(&b"*2\r\n$4\r\nECHO\r\n$0\r\n\r\nPING\r\n"[..]);
    let req = dec.decode(&mut buf, true).unwrap().unwrap();
    assert_eq!(req, vec![b"ECHO".to_vec(), Vec::new()]);
    assert_eq!(&buf[..], b"PING\r\n");
}

#[test]
fn bytes_after_bulk_payload_are_not_checked() {
    assert_eq!(
        decode_all(b"*1\r\n$4\r\nPINGxx", true).0,
        vec![args(&["PING"])]
    );
    assert_eq!(
        decode_all(b"*1\rX$4\r\nPING\r\n", true).0,
        vec![args(&["PING"])]
    );
}

#[test]
fn incomplete_requests_wait() {
    for partial in [
        &b"PING"[..],
        b"*",
        b"*1",
        b"*1\r",
        b"*1\r\n",
        b"*1\r\n$4",
        b"*1\r\n$4\r\nPI",
        b"*1\r\n$4\r\nPING\r",
        b"*1\r\nX",
    ] {
        assert!(
            waits(partial, true),
            "{:?}",
            String::from_utf8_lossy(partial)
        );
    }
}

#[test]
fn multibulk_length_errors() {
    for bad in [
        &b"*abc\r\n"[..],
        b"*\r\n",
        b"*01\r\n",
        b"*-0\r\n",
        b"*+1\r\n",
        b"*2147483648\r\n",
        b"*1\n$4\r\nPING\r\n",
    ] {
        assert_eq!(
            error_of(bad, true),
            "Protocol error: invalid multibulk length"
        );
    }
    assert!(waits(b"*2147483647\r\n", true));
}

#[test]
fn unauthenticated_limits() {
    assert!(waits(b"*10\r\n", false));
    assert_eq!(
        error_of(b"*11\r\n", false),
        "Protocol error: unauthenticated multibulk length"
    );
    assert!(waits(b"*11\r\n", true));
    assert!(waits(b"*1\r\n$16384\r\n", false));
    assert_eq!(
        error_of(b"*1\r\n$16385\r\n", false),
        "Protocol error: unauthenticated bulk length"
    );
    assert!(waits(b"*1\r\n$16385\r\n", true));
    // Invalid lengths are reported before the authentication limit.
    assert_eq!(
        error_of(b"*2147483648\r\n", false),
        "Protocol error: invalid multibulk length"
    );
    assert_eq!(
        error_of(b"*1\r\n$536870913\r\n", false),
        "Protocol error: invalid bulk length"
    );
}

#[test]
fn bulk_length_errors() {
    for bad in [
        &b"*1\r\n$-1\r\n"[..],
        b"*1\r\n$abc\r\n",
        b"*1\r\n$536870913\r\n",
        b"*1\r\n$2147483648\r\n",
        b"*1\r\n$\r\n",
    ] {
        assert_eq!(error_of(bad, true), "Protocol error: invalid bulk length");
    }
    assert!(waits(b"*1\r\n$536870912\r\n", true));
}

#[test]
fn expected_dollar_names_the_byte() {
    assert_eq!(
        error_of(b"*1\r\nX\r\n", true),
        "Protocol error: expected '$', got 'X'"
    );
    // CR and LF are shown as spaces, as Redis does to keep the reply one line.
    assert_eq!(
        error_of(b"*1\r\n\r\n", true),
        "Protocol error: expected '$', got ' '"
    );
    assert_eq!(
        error_of(b"*1\r\n\n\r\n", true),
        "Protocol error: expected '$', got ' '"
    );
}

#[test]
fn nested_multibulk_fails_fast() {
    let mut input = Vec::new();
    for _ in 0..10_000 {
        input.extend_from_slice(b"*1\r\n");
    }
    assert_eq!(
        error_of(&input, false),
        "Protocol error: expected '$', got '*'"
    );
}

#[test]
fn unbalanced_quotes() {
    assert_eq!(
        error_of(b"PING \"a\r\n", false),
        "Protocol error: unbalanced quotes in request"
    );
    assert_eq!(
        error_of(b"ECHO 'a'b\r\n", false),
        "Protocol error: unbalanced quotes in request"
    );
}

#[test]
fn too_big_lines() {
    let mut inline = vec![b'A'; INLINE_MAX];
    assert!(waits(&inline, false));
    inline.push(b'A');
    assert_eq!(
        error_of(&inline, false),
        "Protocol error: too big inline request"
    );

    let mut count = vec![b'*'];
    count.extend(std::iter::repeat_n(b'1', INLINE_MAX - 1));
    assert!(waits(&count, false));
    count.push(b'1');
    assert_eq!(
        error_of(&count, false),
        "Protocol error: too big mbulk count string"
    );

    let mut bulk = b"*1\r\n$".to_vec();
    bulk.extend(std::iter::repeat_n(b'1', INLINE_MAX));
    assert_eq!(
        error_of(&bulk, true),
        "Protocol error: too big bulk count string"
    );
}

#[test]
fn line_of_exactly_the_limit_is_accepted() {
    let mut line = vec![b'A'; INLINE_MAX];
    line.push(b'\n');
    let (reqs, res) = decode_all(&line, false);
    assert!(res.is_ok());
    assert_eq!(reqs.len(), 1);

    let mut longer = vec![b'A'; INLINE_MAX + 1];
    longer.push(b'\n');
    assert_eq!(
        error_of(&longer, false),
        "Protocol error: too big inline request"
    );
}

#[test]
fn nul_byte_hides_the_terminator_like_strchr() {
    assert!(waits(b"PI\0NG\r\n", false));
    assert!(waits(b"*1\r\n\0\r\n", true));
    let mut long = b"A\0".to_vec();
    long.extend(std::iter::repeat_n(b'A', INLINE_MAX - 1));
    assert_eq!(
        error_of(&long, false),
        "Protocol error: too big inline request"
    );
}

#[test]
fn query_buffer_limit_has_no_reply() {
    let mut dec = RequestDecoder::with_query_buffer_limit(16);
    let mut buf = BytesMut::from(&b"*1\r\n$20\r\n"[..]);
    assert_eq!(dec.decode(&mut buf, true), Ok(None));
    buf.extend_from_slice(b"0123456789abcdef");
    assert_eq!(dec.decode(&mut buf, true), Ok(None));
    // One more byte of the unfinished argument crosses the limit.
    buf.extend_from_slice(b"g");
    let err = dec.decode(&mut buf, true).unwrap_err();
    assert_eq!(
        err,
        ProtocolError::QueryBufferLimit {
            buffered: 17,
            limit: 16
        }
    );
    assert_eq!(err.reply(), None);
}

#[test]
fn query_buffer_limit_counts_arguments_already_decoded() {
    let mut dec = RequestDecoder::with_query_buffer_limit(24);
    let mut buf = BytesMut::from(&b"*2\r\n$10\r\n0123456789\r\n"[..]);
    assert_eq!(dec.decode(&mut buf, true), Ok(None));
    assert!(buf.is_empty());
    buf.extend_from_slice(b"$10\r\n0123456789");
    // 10 decoded + 15 buffered > 24.
    assert!(matches!(
        dec.decode(&mut buf, true),
        Err(ProtocolError::QueryBufferLimit { buffered: 25, .. })
    ));
}

#[test]
fn protocol_error_reply_is_an_err_reply() {
    assert_eq!(
        ProtocolError::InvalidBulkLength.reply(),
        Some(Reply::Error(
            "ERR Protocol error: invalid bulk length".into()
        ))
    );
}

#[test]
fn huge_announced_sizes_do_not_allocate() {
    let mut dec = RequestDecoder::new();
    let mut buf = BytesMut::from(&b"*2147483647\r\n$536870912\r\n"[..]);
    assert_eq!(dec.decode(&mut buf, true), Ok(None));
    assert!(dec.args.capacity() <= MAX_PREALLOCATED_ARGS);
    assert!(buf.capacity() < 1024 * 1024);
}

#[test]
fn recycled_buffers_decode_what_fresh_ones_do() {
    // Requests of every shape in a row, each handed back before the next:
    // more and fewer arguments than the last, arguments over the spare
    // size, empty ones, an inline request in between.
    let long = "x".repeat(SPARE_ARG_CAPACITY + 1);
    let requests: Vec<Vec<&str>> = vec![
        vec!["SENTINEL", "get-master-addr-by-name", "mymaster"],
        vec!["PING"],
        vec![
            "SENTINEL",
            "set",
            "m",
            "quorum",
            "2",
            "down-after-milliseconds",
            "5",
        ],
        vec!["", &long, "a"],
        vec!["CLIENT", "SETNAME", "abc"],
    ];
    let mut wire = Vec::new();
    for r in &requests {
        wire.extend_from_slice(format!("*{}\r\n", r.len()).as_bytes());
        for a in r {
            wire.extend_from_slice(format!("${}\r\n{a}\r\n", a.len()).as_bytes());
        }
        wire.extend_from_slice(b"ECHO inline\r\n");
    }
    let fresh = decode_all(&wire, true).0;
    let mut dec = RequestDecoder::new();
    let mut buf = BytesMut::from(&wire[..]);
    let mut recycled = Vec::new();
    while let Some(req) = dec.decode(&mut buf, true).unwrap() {
        recycled.push(req.clone());
        dec.recycle(req);
    }
    assert_eq!(recycled, fresh);
    assert_eq!(fresh.len(), 2 * requests.len());
    assert!(dec.spare.len() <= SPARE_ARGS);
    assert!(dec
        .spare
        .iter()
        .all(|a| a.is_empty() && a.capacity() <= SPARE_ARG_CAPACITY));
}

/// Decodes `input` fed one byte at a time: a request is then never wholly
/// in the buffer while it starts, so only the general path decodes it.
fn decode_bytewise(
    input: &[u8],
    authenticated: bool,
) -> (Vec<Vec<Vec<u8>>>, Result<(), ProtocolError>) {
    let mut dec = RequestDecoder::new();
    let mut buf = BytesMut::new();
    let mut out = Vec::new();
    for &byte in input {
        buf.extend_from_slice(&[byte]);
        loop {
            match dec.decode(&mut buf, authenticated) {
                Ok(Some(req)) => out.push(req),
                Ok(None) => break,
                Err(e) => return (out, Err(e)),
            }
        }
    }
    (out, Ok(()))
}

#[test]
fn whole_requests_decode_as_bytewise_arrival_does() {
    // Valid requests, then each mutated at pseudo-random places (a
    // deterministic xorshift): digits, terminators, NULs, signs, cut
    // payloads, counts over the one-pass bound and lengths over the
    // unauthenticated one.
    let mut rng = 0x9e37_79b9_7f4a_7c15u64;
    let mut next = move || {
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        rng
    };
    let big = "y".repeat(UNAUTH_MAX_BULK_LEN as usize + 1);
    let shapes: Vec<Vec<&str>> = vec![
        vec!["SENTINEL", "get-master-addr-by-name", "mymaster"],
        vec!["PING"],
        vec![""],
        vec!["a", "b", "c", "d", "e", "f", "g", "h"],
        vec!["a", "b", "c", "d", "e", "f", "g", "h", "i"],
        vec!["a", "b", "c", "d", "e", "f", "g", "h", "i", "j", "k"],
        vec!["SET", &big],
    ];
    let mutations: &[&[u8]] = &[
        b"\0", b"\r", b"\n", b"-", b"+", b"0", b"9", b"x", b"$", b"*", b"",
    ];
    // Header edge cases the one-pass reader must leave to the general
    // path, each alone and before a good request.
    let edges: &[&[u8]] = &[
        b"*03\r\n$1\r\na\r\n$1\r\nb\r\n$1\r\nc\r\n",
        b"*1\r\n$03\r\nfoo\r\n",
        b"*1\r\n$00\r\n\r\n",
        b"*1\r\n$0\r\n\r\n",
        b"*00\r\n",
        b"*0\r\n",
        b"*-1\r\n",
        b"*1\r\n$-0\r\n",
        b"*1\r\n$-1\r\n",
        b"*+1\r\n$1\r\na\r\n",
        b"*1\r\n$\r\n",
        b"*\r\n",
        b"*1\r\n$1\0\r\na\r\n",
        b"*100000\r\n",
        b"*1\r\n$100000\r\n",
    ];
    for edge in edges {
        let mut wire = edge.to_vec();
        wire.extend_from_slice(b"*1\r\n$4\r\nPING\r\n");
        for authenticated in [true, false] {
            assert_eq!(
                decode_all(&wire, authenticated),
                decode_bytewise(&wire, authenticated),
                "{:?}",
                String::from_utf8_lossy(&wire)
            );
        }
    }
    for round in 0..3000 {
        let mut wire = Vec::new();
        for _ in 0..3 {
            let shape = &shapes[(next() % shapes.len() as u64) as usize];
            wire.extend_from_slice(format!("*{}\r\n", shape.len()).as_bytes());
            for a in shape {
                wire.extend_from_slice(format!("${}\r\n{a}\r\n", a.len()).as_bytes());
            }
        }
        if round > 0 {
            for _ in 0..(next() % 3) {
                let at = (next() % wire.len() as u64) as usize;
                let with = mutations[(next() % mutations.len() as u64) as usize];
                wire.splice(at..=at, with.iter().copied());
            }
        }
        for authenticated in [true, false] {
            assert_eq!(
                decode_all(&wire, authenticated),
                decode_bytewise(&wire, authenticated),
                "{:?} (authenticated: {authenticated})",
                String::from_utf8_lossy(&wire[..wire.len().min(200)])
            );
        }
    }
}
