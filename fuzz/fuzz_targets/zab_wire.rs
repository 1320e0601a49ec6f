//! Fuzzes ZooKeeper's election wire codec: any bytes as a handshake, a
//! frame and a notification body must decode or fail without panicking, and
//! what decodes must encode to bytes that decode to the same value.
#![no_main]

use libfuzzer_sys::fuzz_target;
use rsentinel_core::zab::wire::{decode_frame, Handshake, WireNotification};

fuzz_target!(|data: &[u8]| {
    if let Ok(Some((h, used))) = Handshake::decode(data) {
        assert!(used <= data.len());
        // Java reads the address lossily; only valid UTF-8 keeps its bytes.
        if h.encode().len() == used {
            let again = Handshake::decode(&h.encode()).expect("re-decodes");
            assert_eq!(again.map(|(h, _)| h), Some(h));
        }
    }
    if let Ok(Some((body, used))) = decode_frame(data) {
        assert!(used <= data.len() && body.len() + 4 == used);
    }
    if let Ok(n) = WireNotification::decode(data) {
        let again = WireNotification::decode(&n.encode()).expect("re-decodes");
        assert_eq!(again, n);
    }
});
