//! Unit tests for the outbound reply parser: every RESP2/RESP3 type, the
//! limits, and byte-at-a-time arrival.

use super::*;

fn parse_one(input: &[u8]) -> Result<Option<Reply>, ReplyParseError> {
    ReplyParser::new().parse(&mut BytesMut::from(input))
}

fn ok(input: &[u8]) -> Reply {
    parse_one(input).unwrap().expect("a complete reply")
}

#[test]
fn resp2_types() {
    assert_eq!(ok(b"+OK\r\n"), Reply::Simple("OK".into()));
    assert_eq!(ok(b"-ERR no\r\n"), Reply::Error("ERR no".into()));
    assert_eq!(ok(b":-7\r\n"), Reply::Int(-7));
    assert_eq!(ok(b"$3\r\nfoo\r\n"), Reply::bulk("foo"));
    assert_eq!(ok(b"$0\r\n\r\n"), Reply::bulk(""));
    assert_eq!(ok(b"$-1\r\n"), Reply::Null);
    assert_eq!(ok(b"*-1\r\n"), Reply::NullArray);
    assert_eq!(ok(b"*0\r\n"), Reply::Array(vec![]));
    assert_eq!(
        ok(b"*2\r\n$1\r\na\r\n*1\r\n:1\r\n"),
        Reply::Array(vec![Reply::bulk("a"), Reply::Array(vec![Reply::Int(1)])])
    );
}

#[test]
fn resp3_types_are_folded_into_reply() {
    assert_eq!(ok(b"_\r\n"), Reply::Null);
    assert_eq!(ok(b"#t\r\n"), Reply::Int(1));
    assert_eq!(ok(b"#f\r\n"), Reply::Int(0));
    assert_eq!(ok(b",3.14\r\n"), Reply::bulk("3.14"));
    assert_eq!(
        ok(b"(3492890328409238509324850943850943825024385\r\n"),
        Reply::bulk("3492890328409238509324850943850943825024385")
    );
    assert_eq!(
        ok(b"=15\r\ntxt:Some string\r\n"),
        Reply::bulk("Some string")
    );
    assert_eq!(
        ok(b"!21\r\nSYNTAX invalid syntax\r\n"),
        Reply::Error("SYNTAX invalid syntax".into())
    );
    assert_eq!(
        ok(b"~2\r\n:1\r\n:2\r\n"),
        Reply::Array(vec![Reply::Int(1), Reply::Int(2)])
    );
    assert_eq!(
        ok(b"%2\r\n+a\r\n:1\r\n+b\r\n_\r\n"),
        Reply::Map(vec![
            (Reply::Simple("a".into()), Reply::Int(1)),
            (Reply::Simple("b".into()), Reply::Null)
        ])
    );
    assert_eq!(
        ok(b">3\r\n$7\r\nmessage\r\n$2\r\nch\r\n$2\r\nhi\r\n"),
        Reply::Push(vec![
            Reply::bulk("message"),
            Reply::bulk("ch"),
            Reply::bulk("hi")
        ])
    );
    assert_eq!(ok(b"%0\r\n"), Reply::Map(vec![]));
}

#[test]
fn attributes_are_skipped_at_top_level_and_inside_aggregates() {
    assert_eq!(ok(b"|1\r\n+ttl\r\n:3\r\n:42\r\n"), Reply::Int(42));
    assert_eq!(ok(b"|0\r\n+OK\r\n"), Reply::Simple("OK".into()));
    assert_eq!(
        ok(b"*2\r\n:1\r\n|1\r\n+k\r\n*1\r\n:9\r\n:2\r\n"),
        Reply::Array(vec![Reply::Int(1), Reply::Int(2)])
    );
}

#[test]
fn consumes_exactly_one_reply() {
    let mut p = ReplyParser::new();
    let mut buf = BytesMut::from(&b"+A\r\n*1\r\n+B\r\n:3"[..]);
    assert_eq!(p.parse(&mut buf).unwrap(), Some(Reply::Simple("A".into())));
    assert_eq!(
        p.parse(&mut buf).unwrap(),
        Some(Reply::Array(vec![Reply::Simple("B".into())]))
    );
    assert_eq!(p.parse(&mut buf).unwrap(), None);
    assert_eq!(&buf[..], b":3");
    assert!(p.is_idle());
}

#[test]
fn byte_at_a_time_gives_the_same_reply() {
    let input: &[u8] = b"*3\r\n%1\r\n$4\r\nrole\r\n=10\r\ntxt:master\r\n|1\r\n+a\r\n+b\r\n>2\r\n,1.5\r\n#t\r\n$5\r\nhello\r\n";
    let expected = ok(input);
    let mut p = ReplyParser::new();
    let mut buf = BytesMut::new();
    let mut got = None;
    for (i, &b) in input.iter().enumerate() {
        buf.extend_from_slice(&[b]);
        if let Some(r) = p.parse(&mut buf).unwrap() {
            assert_eq!(i, input.len() - 1, "complete before the last byte");
            got = Some(r);
        }
    }
    assert_eq!(got, Some(expected));
}

#[test]
fn depth_is_limited_before_recursing() {
    let mut input = Vec::new();
    for _ in 0..32 {
        input.extend_from_slice(b"*1\r\n");
    }
    input.extend_from_slice(b":1\r\n");
    let mut depth = 0;
    let mut cur = ok(&input);
    while let Reply::Array(mut items) = cur {
        depth += 1;
        cur = items.pop().expect("one element per level");
    }
    assert_eq!((depth, cur), (32, Reply::Int(1)));
    let mut deeper = b"*1\r\n".repeat(33);
    deeper.extend_from_slice(b":1\r\n");
    assert_eq!(parse_one(&deeper), Err(ReplyParseError::TooDeep(32)));
    // A million levels fail just as fast, without touching the stack.
    assert_eq!(
        parse_one(&b"*1\r\n".repeat(1_000_000)),
        Err(ReplyParseError::TooDeep(32))
    );
}

#[test]
fn size_limits() {
    assert!(matches!(
        parse_one(b"$67108865\r\n"),
        Err(ReplyParseError::BulkTooLarge { .. })
    ));
    assert_eq!(parse_one(b"$67108864\r\n"), Ok(None));
    assert!(matches!(
        parse_one(b"$99999999999999999999999\r\n"),
        Err(ReplyParseError::InvalidLength('$'))
    ));
    assert_eq!(
        parse_one(b"*1048577\r\n"),
        Err(ReplyParseError::TooManyElements(1024 * 1024))
    );
    assert_eq!(
        parse_one(b"%524289\r\n"),
        Err(ReplyParseError::TooManyElements(1024 * 1024))
    );
    assert_eq!(parse_one(b"*1048576\r\n"), Ok(None));
    // Declared counts add up across nested aggregates.
    assert_eq!(
        parse_one(b"*2\r\n*1048575\r\n"),
        Err(ReplyParseError::TooManyElements(1024 * 1024))
    );
    let long_line = [b"+".as_slice(), &vec![b'a'; 64 * 1024 + 2]].concat();
    assert_eq!(
        parse_one(&long_line),
        Err(ReplyParseError::LineTooLong(64 * 1024))
    );
}

#[test]
fn total_reply_size_is_limited() {
    static LIMITS: ReplyLimits = ReplyLimits {
        max_reply_bytes: 20,
        ..ReplyLimits::DEFAULT
    };
    let mut p = ReplyParser::with_limits(&LIMITS);
    let mut buf = BytesMut::from(&b"*3\r\n$5\r\nhello\r\n$5\r\nworld\r\n"[..]);
    assert_eq!(p.parse(&mut buf), Err(ReplyParseError::ReplyTooLarge(20)));
}

#[test]
fn malformed_input_is_an_error() {
    assert_eq!(parse_one(b"?\r\n"), Err(ReplyParseError::UnknownType(b'?')));
    // Found by the fuzzer: a bare CRLF has no type byte at all.
    assert_eq!(parse_one(b"\r\n\nkk"), Err(ReplyParseError::EmptyLine));
    assert_eq!(parse_one(b"*1\r\n\r\n"), Err(ReplyParseError::EmptyLine));
    assert_eq!(parse_one(b":x\r\n"), Err(ReplyParseError::InvalidInteger));
    assert_eq!(parse_one(b"#x\r\n"), Err(ReplyParseError::InvalidBoolean));
    assert_eq!(parse_one(b"_x\r\n"), Err(ReplyParseError::InvalidNull));
    assert_eq!(parse_one(b"$3\r\nfooXY"), Err(ReplyParseError::MissingCrlf));
    assert_eq!(
        parse_one(b"*-2\r\n"),
        Err(ReplyParseError::InvalidLength('*'))
    );
    assert_eq!(
        parse_one(b"%-1\r\n"),
        Err(ReplyParseError::InvalidLength('%'))
    );
    assert_eq!(
        parse_one(b"$?\r\n"),
        Err(ReplyParseError::InvalidLength('$'))
    );
}

#[test]
fn random_bytes_never_panic() {
    let mut rng = rsentinel_core::prng::Prng::new(0x5eed);
    for round in 0..200 {
        let len = rng.below(4096) as usize;
        let mut input: Vec<u8> = (0..len).map(|_| rng.next_u64() as u8).collect();
        // Bias half the rounds towards RESP-looking bytes.
        if round % 2 == 0 {
            const ALPHABET: &[u8] = b"*$%~>|:+-_#,(=!\r\n0123456789-";
            for b in input.iter_mut() {
                *b = ALPHABET[(*b as usize) % ALPHABET.len()];
            }
        }
        let mut p = ReplyParser::new();
        let mut buf = BytesMut::from(&input[..]);
        for _ in 0..=input.len() {
            match p.parse(&mut buf) {
                Ok(Some(_)) => continue,
                Ok(None) | Err(_) => break,
            }
        }
    }
}

#[test]
fn an_idle_parser_holds_no_room_from_an_earlier_array() {
    let mut p = ReplyParser::new();
    let mut buf = BytesMut::from(&b"*3\r\n$7\r\nmessage\r\n$1\r\nc\r\n*1\r\n:1\r\n+PART"[..]);
    assert!(matches!(p.parse(&mut buf), Ok(Some(Reply::Array(_)))));
    assert_eq!(p.stack.capacity(), 0);
    // A nested reply split across reads keeps its stack until it is whole.
    let mut nested = BytesMut::from(&b"*2\r\n*1\r\n:1\r\n"[..]);
    assert_eq!(p.parse(&mut nested), Ok(None));
    assert!(p.stack.capacity() > 0);
    nested.extend_from_slice(b":2\r\n");
    assert!(matches!(p.parse(&mut nested), Ok(Some(Reply::Array(_)))));
    assert_eq!(p.stack.capacity(), 0);
}
