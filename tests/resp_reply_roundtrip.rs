//! Seeded round trips: any reply we encode, in RESP2 or RESP3, is parsed back
//! by the outbound parser to the same value (as that protocol can carry it),
//! however the bytes are chunked.

use bytes::BytesMut;
use rsentinel::resp::{encode, ReplyParser};
use rsentinel_core::prng::Prng;
use rsentinel_core::reply::Reply;

fn random_text(rng: &mut Prng) -> String {
    let len = rng.below(10) as usize;
    (0..len)
        .map(|_| char::from(b' ' + rng.below(95) as u8))
        .collect()
}

fn random_reply(rng: &mut Prng, depth: u32) -> Reply {
    let kinds = if depth >= 4 { 6 } else { 9 };
    match rng.below(kinds) {
        0 => Reply::Simple(random_text(rng)),
        1 => Reply::Error(format!("ERR {}", random_text(rng))),
        2 => Reply::Int(rng.next_u64() as i64),
        3 => {
            let max = if rng.chance(1, 10) { 40_000 } else { 20 };
            let len = rng.below(max) as usize;
            Reply::Bulk((0..len).map(|_| rng.next_u64() as u8).collect())
        }
        4 => Reply::Null,
        5 => Reply::NullArray,
        6 => Reply::Array(
            (0..rng.below(5))
                .map(|_| random_reply(rng, depth + 1))
                .collect(),
        ),
        7 => Reply::Push(
            (0..rng.below(5))
                .map(|_| random_reply(rng, depth + 1))
                .collect(),
        ),
        _ => Reply::Map(
            (0..rng.below(4))
                .map(|_| (random_reply(rng, depth + 1), random_reply(rng, depth + 1)))
                .collect(),
        ),
    }
}

/// The value a protocol can carry: RESP3 folds both nulls into `_`; RESP2
/// has no map (a flat array) and no push (a plain array).
fn as_carried(reply: &Reply, resp3: bool) -> Reply {
    let all = |items: &[Reply]| items.iter().map(|r| as_carried(r, resp3)).collect();
    match reply {
        Reply::NullArray if resp3 => Reply::Null,
        Reply::Array(items) => Reply::Array(all(items)),
        Reply::Push(items) if resp3 => Reply::Push(all(items)),
        Reply::Push(items) | Reply::Set(items) => Reply::Array(all(items)),
        Reply::Double(d) => Reply::Bulk(d.clone().into_bytes()),
        Reply::Map(pairs) if resp3 => Reply::Map(
            pairs
                .iter()
                .map(|(k, v)| (as_carried(k, resp3), as_carried(v, resp3)))
                .collect(),
        ),
        Reply::Map(pairs) => Reply::Array(
            pairs
                .iter()
                .flat_map(|(k, v)| [as_carried(k, resp3), as_carried(v, resp3)])
                .collect(),
        ),
        other => other.clone(),
    }
}

#[test]
fn encoded_replies_parse_back_whatever_the_chunking() {
    let mut rng = Prng::new(0xD1CE);
    for _ in 0..400 {
        let replies: Vec<Reply> = (0..1 + rng.below(4))
            .map(|_| random_reply(&mut rng, 0))
            .collect();
        for resp3 in [false, true] {
            let mut bytes = BytesMut::new();
            for r in &replies {
                encode(r, resp3, &mut bytes);
            }
            let expected: Vec<Reply> = replies.iter().map(|r| as_carried(r, resp3)).collect();
            let mut parser = ReplyParser::new();
            let mut buf = BytesMut::new();
            let mut got = Vec::new();
            let mut at = 0;
            while at < bytes.len() {
                let n = (1 + rng.below(64) as usize).min(bytes.len() - at);
                buf.extend_from_slice(&bytes[at..at + n]);
                at += n;
                while let Some(r) = parser.parse(&mut buf).unwrap() {
                    got.push(r);
                }
            }
            assert_eq!(got, expected, "resp3={resp3}");
            assert!(buf.is_empty() && parser.is_idle());
        }
    }
}
