//! The election wire codec against bytes a real ZooKeeper 3.8.0 (Debian's
//! package) sent: handshakes and LOOKING votes of servers 2, 3 and 4 to a
//! listener playing server 1, and each server's answer to a non-voting sid
//! once server 4 led. `scripts/capture-zab-fixtures.py` captured them.

use rsentinel_core::zab::wire::{
    decode_frame, Handshake, Layout, WireNotification, WireState, NOTIFICATION_VERSION,
    PROTOCOL_VERSION_V1,
};
use rsentinel_core::zab::Vote;

fn fixture(name: &str) -> Vec<u8> {
    let path = format!("{}/tests/fixtures/zab/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// Decodes a captured frame and checks it encodes back to the same bytes.
fn notification(name: &str) -> WireNotification {
    let bytes = fixture(name);
    let (body, used) = decode_frame(&bytes).unwrap().expect("a whole frame");
    assert_eq!(used, bytes.len(), "{name}: one frame, nothing after it");
    let n = WireNotification::decode(body).unwrap();
    assert_eq!(n.encode_frame(), bytes, "{name} re-encodes byte for byte");
    n
}

/// The election port of `sid` in the quorum config a server sent.
fn election_port(config: &str, sid: u64) -> u16 {
    let line = config
        .lines()
        .find_map(|l| l.strip_prefix(&format!("server.{sid}=")))
        .unwrap_or_else(|| panic!("server.{sid} in {config:?}"));
    // host:quorumport:electionport:role
    line.split(':').nth(2).unwrap().parse().unwrap()
}

#[test]
fn real_handshakes_decode_and_encode_back() {
    let config = String::from_utf8(notification("looking_from_2.bin").config.unwrap()).unwrap();
    for sid in [2u64, 3, 4] {
        let bytes = fixture(&format!("handshake_from_{sid}.bin"));
        let (h, used) = Handshake::decode(&bytes).unwrap().expect("whole handshake");
        assert_eq!(used, bytes.len());
        assert_eq!(h.protocol, Some(PROTOCOL_VERSION_V1));
        assert_eq!(h.sid, sid);
        let port = election_port(&config, sid);
        assert_eq!(h, Handshake::v1(sid, "127.0.0.1", port));
        assert_eq!(h.encode(), bytes);
        // Every prefix is "need more", never an error or a panic.
        for cut in 0..bytes.len() {
            assert_eq!(Handshake::decode(&bytes[..cut]), Ok(None));
        }
    }
}

#[test]
fn real_looking_votes_are_self_votes_of_round_one() {
    let mut votes = Vec::new();
    for sid in [2u64, 3, 4] {
        let n = notification(&format!("looking_from_{sid}.bin"));
        assert_eq!(n.state, WireState::Looking);
        assert_eq!((n.leader, n.zxid, n.round, n.peer_epoch), (sid, 0, 1, 0));
        assert_eq!(
            (n.version, n.layout),
            (NOTIFICATION_VERSION, Layout::Current)
        );
        let config = String::from_utf8(n.config.clone().unwrap()).unwrap();
        assert!(config.ends_with("version=0"), "{config}");
        assert_eq!(config.matches(":participant").count(), 4);
        votes.push(n.vote());
    }
    // The shared core's order picks the server the ensemble elected.
    let best = votes
        .iter()
        .copied()
        .reduce(|a: Vote, b| if b.is_better_than(&a) { b } else { a })
        .unwrap();
    let leader = notification("reply_from_4.bin");
    assert_eq!(best.leader, leader.leader);
}

#[test]
fn real_answers_to_a_non_voter_carry_the_elected_vote() {
    for (sid, state) in [
        (2u64, WireState::Following),
        (3, WireState::Following),
        (4, WireState::Leading),
    ] {
        let n = notification(&format!("reply_from_{sid}.bin"));
        assert_eq!(n.state, state, "server {sid}");
        // Leader 4, the new epoch 1, still round 1.
        assert_eq!((n.leader, n.zxid, n.round, n.peer_epoch), (4, 0, 1, 1));
        let core = n.to_core().expect("a voting state");
        assert_eq!(core.vote, n.vote());
    }
}

#[test]
fn every_cut_of_a_real_message_is_refused_without_panicking() {
    let bytes = fixture("reply_from_2.bin");
    let body = &bytes[4..];
    for cut in 0..body.len() {
        let r = WireNotification::decode(&body[..cut]);
        // 28 and 40 bytes are the old layouts; everything else is short.
        match cut {
            28 | 40 => assert!(r.is_ok(), "cut {cut}"),
            _ => assert!(r.is_err(), "cut {cut}"),
        }
        assert_eq!(decode_frame(&bytes[..cut]), Ok(None));
    }
}

/// The fuzz target's property (fuzz/fuzz_targets/zab_wire.rs) over every
/// single-byte mutation of the real messages: decode or fail, never panic,
/// and whatever decodes re-encodes to the same value.
#[test]
fn mutated_real_messages_decode_or_fail_cleanly() {
    let names = [
        "handshake_from_2.bin",
        "looking_from_3.bin",
        "reply_from_4.bin",
    ];
    for name in names {
        let original = fixture(name);
        for at in 0..original.len() {
            for flip in [0x01u8, 0x80, 0xff] {
                let mut bytes = original.clone();
                bytes[at] ^= flip;
                for data in [&bytes[..], &bytes[4..]] {
                    if let Ok(Some((h, _))) = Handshake::decode(data) {
                        let again = Handshake::decode(&h.encode()).unwrap();
                        assert_eq!(again.map(|(h, _)| h), Some(h));
                    }
                    if let Ok(n) = WireNotification::decode(data) {
                        assert_eq!(WireNotification::decode(&n.encode()), Ok(n));
                    }
                    let _ = decode_frame(data);
                }
            }
        }
    }
}
