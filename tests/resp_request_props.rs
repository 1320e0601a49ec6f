//! Seeded property tests for the request decoder: chunking never changes the
//! outcome, random bytes never panic or grow memory, huge lengths are safe.

use bytes::BytesMut;
use rsentinel::resp::encode_command;
use rsentinel::resp::request::{ProtocolError, RequestDecoder};
use rsentinel_core::prng::Prng;

type Request = Vec<Vec<u8>>;

/// Everything `input` decodes to when it arrives in the given chunk sizes:
/// the requests, then the error that ended the stream (if any), plus the
/// bytes left undecoded.
fn decode_chunked(
    input: &[u8],
    cuts: &[usize],
    authenticated: bool,
) -> (Vec<Request>, Option<ProtocolError>, usize) {
    let mut dec = RequestDecoder::new();
    let mut buf = BytesMut::new();
    let mut out = Vec::new();
    let mut start = 0;
    let mut bounds = cuts.to_vec();
    bounds.push(input.len());
    for end in bounds {
        buf.extend_from_slice(&input[start..end]);
        start = end;
        loop {
            match dec.decode(&mut buf, authenticated) {
                Ok(Some(req)) => {
                    assert!(!req.is_empty(), "a decoded request always has arguments");
                    out.push(req);
                }
                Ok(None) => break,
                Err(e) => return (out, Some(e), buf.len()),
            }
        }
    }
    (out, None, buf.len())
}

fn random_cuts(rng: &mut Prng, len: usize) -> Vec<usize> {
    let n = rng.below(12) as usize;
    let mut cuts: Vec<usize> = (0..n).map(|_| rng.below(len as u64 + 1) as usize).collect();
    cuts.sort_unstable();
    cuts
}

fn random_arg(rng: &mut Prng, inline_safe: bool) -> Vec<u8> {
    let max = if rng.chance(1, 20) { 3000 } else { 12 };
    let len = 1 + rng.below(max) as usize;
    (0..len)
        .map(|_| {
            if inline_safe {
                b'a' + rng.below(26) as u8
            } else {
                rng.next_u64() as u8
            }
        })
        .collect()
}

/// A random valid stream: multibulk and inline requests, with the noise
/// Redis skips (empty lines, `*0`, `*-1`) between them.
fn random_stream(rng: &mut Prng) -> (Vec<u8>, Vec<Request>) {
    let mut bytes = Vec::new();
    let mut reqs = Vec::new();
    for _ in 0..1 + rng.below(8) {
        match rng.below(5) {
            0 => bytes.extend_from_slice(b"\r\n"),
            1 => bytes.extend_from_slice(if rng.chance(1, 2) {
                b"*0\r\n"
            } else {
                b"*-1\r\n"
            }),
            2 => {
                let args: Request = (0..1 + rng.below(4))
                    .map(|_| random_arg(rng, true))
                    .collect();
                bytes.extend_from_slice(&args.join(&b' '));
                bytes.extend_from_slice(if rng.chance(1, 2) { b"\r\n" } else { b"\n" });
                reqs.push(args);
            }
            _ => {
                let args: Request = (0..1 + rng.below(10))
                    .map(|_| random_arg(rng, false))
                    .collect();
                let refs: Vec<&[u8]> = args.iter().map(|a| a.as_slice()).collect();
                let mut out = BytesMut::new();
                encode_command(&refs, &mut out);
                bytes.extend_from_slice(&out);
                reqs.push(args);
            }
        }
    }
    (bytes, reqs)
}

#[test]
fn valid_streams_decode_identically_however_they_are_chunked() {
    let mut rng = Prng::new(0xC0FFEE);
    for _ in 0..500 {
        let (bytes, expected) = random_stream(&mut rng);
        let (whole, err, left) = decode_chunked(&bytes, &[], true);
        assert_eq!((&whole, &err, left), (&expected, &None, 0));
        for _ in 0..4 {
            let cuts = random_cuts(&mut rng, bytes.len());
            assert_eq!(
                decode_chunked(&bytes, &cuts, true),
                (expected.clone(), None, 0),
                "cuts {cuts:?}"
            );
        }
    }
}

#[test]
fn corrupted_streams_give_the_same_outcome_however_they_are_chunked() {
    let mut rng = Prng::new(0xBAD5EED);
    const NASTY: &[u8] = b"*$\r\n\0\"' -0123456789x";
    for _ in 0..1000 {
        let (mut bytes, _) = random_stream(&mut rng);
        for _ in 0..1 + rng.below(3) {
            let at = rng.below(bytes.len() as u64) as usize;
            bytes[at] = NASTY[rng.below(NASTY.len() as u64) as usize];
        }
        let authenticated = rng.chance(1, 2);
        let whole = decode_chunked(&bytes, &[], authenticated);
        let cuts = random_cuts(&mut rng, bytes.len());
        let chunked = decode_chunked(&bytes, &cuts, authenticated);
        // Requests and the final error must agree; on an error the bytes
        // left behind may differ, since the error can be seen earlier.
        assert_eq!(
            (whole.0, whole.1.clone()),
            (chunked.0, chunked.1.clone()),
            "input {bytes:?} cuts {cuts:?}"
        );
        if whole.1.is_none() {
            assert_eq!(whole.2, chunked.2);
        }
    }
}

#[test]
fn one_megabyte_of_random_bytes_never_panics_or_hoards_memory() {
    for seed in 0..4u64 {
        let mut rng = Prng::new(seed);
        let input: Vec<u8> = (0..1024 * 1024).map(|_| rng.next_u64() as u8).collect();
        for authenticated in [false, true] {
            let mut dec = RequestDecoder::new();
            let mut buf = BytesMut::new();
            let mut fed = 0;
            let mut error = None;
            'feed: while fed < input.len() {
                let n = (1 + rng.below(16 * 1024) as usize).min(input.len() - fed);
                buf.extend_from_slice(&input[fed..fed + n]);
                fed += n;
                loop {
                    match dec.decode(&mut buf, authenticated) {
                        Ok(Some(req)) => assert!(!req.is_empty()),
                        Ok(None) => break,
                        Err(e) => {
                            error = Some(e);
                            break 'feed;
                        }
                    }
                }
            }
            // Binary noise soon hits a NUL (which hides every terminator) or a
            // bad header: it is rejected, not buffered until memory runs out.
            assert!(error.is_some(), "seed {seed}: 1 MiB of noise was accepted");
            assert!(
                buf.len() <= 128 * 1024,
                "seed {seed}: {} bytes held",
                buf.len()
            );
        }
    }
}

#[test]
fn random_printable_garbage_never_panics() {
    let mut rng = Prng::new(99);
    const ALPHABET: &[u8] = b"*$\r\n0123456789-\"' \\x\0";
    for _ in 0..2000 {
        let len = rng.below(200) as usize;
        let input: Vec<u8> = (0..len)
            .map(|_| ALPHABET[rng.below(ALPHABET.len() as u64) as usize])
            .collect();
        let (reqs, _, _) = decode_chunked(&input, &random_cuts(&mut rng, len), rng.chance(1, 2));
        assert!(reqs.iter().all(|r| !r.is_empty()));
    }
}

#[test]
fn huge_announced_lengths_wait_without_allocating() {
    let mut dec = RequestDecoder::new();
    let mut buf = BytesMut::from(&b"*2147483647\r\n$536870912\r\n"[..]);
    assert_eq!(dec.decode(&mut buf, true), Ok(None));
    buf.extend_from_slice(&[b'x'; 4096]);
    assert_eq!(dec.decode(&mut buf, true), Ok(None));
    assert!(
        buf.capacity() < 1024 * 1024,
        "the decoder must not reserve the announced size"
    );
}

#[test]
fn slow_drip_of_a_large_request_decodes() {
    let big = vec![b'z'; 256 * 1024];
    let mut stream = BytesMut::new();
    encode_command(&[b"SET", b"k", &big], &mut stream);
    stream.extend_from_slice(&[b'A'; 60 * 1024]);
    stream.extend_from_slice(b"\r\n");
    let mut dec = RequestDecoder::new();
    let mut buf = BytesMut::new();
    let mut got = Vec::new();
    for &b in stream.iter() {
        buf.extend_from_slice(&[b]);
        if let Some(req) = dec.decode(&mut buf, true).unwrap() {
            got.push(req);
        }
    }
    assert_eq!(got.len(), 2);
    assert_eq!(got[0], vec![b"SET".to_vec(), b"k".to_vec(), big]);
    assert_eq!(got[1], vec![vec![b'A'; 60 * 1024]]);
}
