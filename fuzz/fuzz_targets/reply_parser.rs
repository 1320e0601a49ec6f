//! Fuzzes the outbound reply parser: arbitrary bytes from a peer must give
//! replies, "need more" or an error, never a panic or a stack overflow.
#![no_main]

use bytes::BytesMut;
use libfuzzer_sys::fuzz_target;
use rsentinel::resp::ReplyParser;

fuzz_target!(|data: &[u8]| {
    let mut parser = ReplyParser::new();
    let mut buf = BytesMut::from(data);
    // Each reply consumes at least one byte, so this ends.
    for _ in 0..=data.len() {
        match parser.parse(&mut buf) {
            Ok(Some(_)) => {}
            Ok(None) | Err(_) => break,
        }
    }
});
