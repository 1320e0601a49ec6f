//! Fuzzes the client request decoder: it must never panic, and feeding the
//! same bytes whole or in chunks must give the same requests and error.
#![no_main]

use bytes::BytesMut;
use libfuzzer_sys::fuzz_target;
use rsentinel::resp::request::{ProtocolError, RequestDecoder};

type Outcome = (Vec<Vec<Vec<u8>>>, Option<ProtocolError>);

fn run(data: &[u8], chunk: usize, authenticated: bool) -> Outcome {
    let mut dec = RequestDecoder::new();
    let mut buf = BytesMut::new();
    let mut reqs = Vec::new();
    for piece in data.chunks(chunk.max(1)) {
        buf.extend_from_slice(piece);
        loop {
            match dec.decode(&mut buf, authenticated) {
                Ok(Some(req)) => {
                    assert!(!req.is_empty());
                    reqs.push(req);
                }
                Ok(None) => break,
                Err(e) => return (reqs, Some(e)),
            }
        }
    }
    (reqs, None)
}

fuzz_target!(|data: &[u8]| {
    // The first byte picks the chunk size and the authentication state.
    let Some((&control, data)) = data.split_first() else {
        return;
    };
    let authenticated = control & 0x80 != 0;
    let chunk = usize::from(control & 0x7f) + 1;
    let whole = run(data, data.len(), authenticated);
    let chunked = run(data, chunk, authenticated);
    assert_eq!(whole, chunked);
});
