//! Arbitrary INFO replies and hello payloads fed to a sentinel that
//! monitors a master: the core must never panic on what peers send.
#![no_main]

use libfuzzer_sys::fuzz_target;
use rsentinel_core::reply::Reply;
use rsentinel_core::sentinel::links::{LinkId, Tag, Target};
use rsentinel_core::sentinel::Sentinel;
use rsentinel_core::time::Millis;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let mut core = Sentinel::new(1, 26379);
    let args: Vec<String> = "monitor m 127.0.0.1 6379 1"
        .split(' ')
        .map(String::from)
        .collect();
    let _ = core.apply_directive(Millis(0), &args);
    core.ensure_myid();
    core.tick(Millis(0));
    let link = LinkId::cmd(Target::Master("m".into()));
    core.link_connected(Millis(1), link.clone(), "127.0.0.1".into());
    core.handle_reply(Millis(2), link, Tag::Info, Reply::Bulk(data.to_vec()));
    for line in text.lines() {
        core.process_hello(Millis(3), line);
    }
    core.tick(Millis(4));
    while core.poll_action().is_some() {}
});
