//! Arbitrary hello payloads (the eight comma-separated fields a peer
//! publishes), as a peer or anyone able to PUBLISH can send them: never a
//! panic, never an epoch past what a vote can carry, and never an address
//! the loader would refuse.
#![no_main]

use libfuzzer_sys::fuzz_target;
use rsentinel_core::sentinel::failover::MAX_ELECTION_EPOCH;
use rsentinel_core::sentinel::Sentinel;
use rsentinel_core::time::Millis;

fuzz_target!(|data: &[u8]| {
    let Some((&mode, data)) = data.split_first() else {
        return;
    };
    let mut core = Sentinel::new(1, 26379);
    if mode & 1 == 1 {
        let _ = core.apply_directive(Millis(0), &["resolve-hostnames", "yes"]);
    }
    let _ = core.apply_directive(Millis(0), &["monitor", "m", "127.0.0.1", "6379", "1"]);
    core.ensure_myid();
    // Short payloads are completed into a plausible hello so the fuzzer
    // spends its time on field contents, not on the field count.
    let text = String::from_utf8_lossy(data);
    let payload = if text.matches(',').count() == 7 {
        text.into_owned()
    } else {
        format!("127.0.0.1,26380,{text},1,m,127.0.0.1,6379,1")
    };
    core.process_hello(Millis(1), &payload);
    core.handle_timeout(Millis(2));
    while core.poll_action().is_some() {}
    assert!(core.current_epoch().0 <= MAX_ELECTION_EPOCH);
    for line in core.config_lines() {
        let words: Vec<String> = line
            .iter()
            .map(|w| String::from_utf8_lossy(w).into_owned())
            .collect();
        if words.get(1).is_some_and(|w| w == "known-sentinel") {
            let host = &words[3];
            let ok = host.parse::<std::net::IpAddr>().is_ok() || mode & 1 == 1;
            assert!(ok, "persisted sentinel address {host:?}");
            assert!(host.bytes().all(|b| b.is_ascii_graphic()), "{host:?}");
        }
    }
});
