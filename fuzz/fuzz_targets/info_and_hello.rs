//! Arbitrary INFO replies and hello payloads fed to a sentinel that
//! monitors a master with a known replica, with and without
//! `resolve-hostnames`: whatever an instance, a fake replica registered
//! with it, or a peer sends, the core must never panic, and a config it
//! then writes must load again.
#![no_main]

use libfuzzer_sys::fuzz_target;
use rsentinel_core::reply::Reply;
use rsentinel_core::sentinel::links::{LinkId, Tag, Target};
use rsentinel_core::sentinel::Sentinel;
use rsentinel_core::time::Millis;

fn sentinel(resolve: bool) -> Sentinel {
    let mut core = Sentinel::new(1, 26379);
    let mut lines = vec![
        "monitor m 127.0.0.1 6379 1",
        "known-replica m 127.0.0.1 6380",
    ];
    if resolve {
        lines.insert(0, "resolve-hostnames yes");
    }
    for l in lines {
        let args: Vec<&str> = l.split(' ').collect();
        let _ = core.apply_directive(Millis(0), &args);
    }
    core.ensure_myid();
    core
}

fuzz_target!(|data: &[u8]| {
    let Some((&mode, data)) = data.split_first() else {
        return;
    };
    let mut core = sentinel(mode & 1 == 1);
    core.handle_timeout(Millis(0));
    let target = if mode & 2 == 0 {
        Target::Master("m".into())
    } else {
        Target::Replica {
            master: "m".into(),
            key: "127.0.0.1:6380".into(),
        }
    };
    let link = LinkId::cmd(target.clone());
    core.link_connected(Millis(1), link.clone(), "127.0.0.1".into());
    let reply = if mode & 4 == 0 {
        Reply::Bulk(data.to_vec())
    } else {
        // The same bytes as a pub/sub message on the hello channel.
        Reply::Array(vec![
            Reply::bulk("message"),
            Reply::bulk("__sentinel__:hello"),
            Reply::Bulk(data.to_vec()),
        ])
    };
    if mode & 4 == 0 {
        core.handle_reply(Millis(2), &link, Tag::Info, reply);
    } else {
        let pubsub = LinkId::pubsub(target);
        core.link_connected(Millis(2), pubsub.clone(), "127.0.0.1".into());
        core.handle_reply(Millis(2), &pubsub, Tag::Ignore, reply);
    }
    for line in String::from_utf8_lossy(data).lines() {
        core.process_hello(Millis(3), line);
    }
    core.handle_timeout(Millis(4));
    while core.poll_action().is_some() {}
    // What would be persisted now must load into a fresh core.
    let mut reloaded = Sentinel::new(2, 26379);
    let lines = core.config_lines();
    let monitors = lines
        .iter()
        .filter(|l| l.get(1).is_some_and(|w| w.as_slice() == b"monitor"));
    let others = lines
        .iter()
        .filter(|l| l.get(1).is_none_or(|w| w.as_slice() != b"monitor"));
    let resolve_first = lines
        .iter()
        .filter(|l| l.get(1).is_some_and(|w| w.as_slice() == b"resolve-hostnames"));
    for line in resolve_first.chain(monitors).chain(others) {
        if let Err(e) = reloaded.apply_directive(Millis(0), &line[1..]) {
            panic!("a line we would persist does not load: {line:?}: {e}");
        }
    }
});
