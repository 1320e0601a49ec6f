//! End-to-end monitoring with real processes: discovery of replicas and
//! sentinels, persistence of what was discovered, SDOWN/ODOWN with real
//! redis-sentinel peers, and which replies count as healthy.

mod support;

use std::time::Duration;

use support::*;

fn num(port: u16, field_name: &str) -> Option<String> {
    query(port, &["SENTINEL", "MASTER", "mymaster"]).and_then(|r| field(&r, field_name))
}

fn replicas_ok(port: u16) -> usize {
    match query(port, &["SENTINEL", "REPLICAS", "mymaster"]) {
        Some(Reply::Array(items)) => items
            .iter()
            .filter(|r| field(r, "master-link-status").as_deref() == Some("ok"))
            .count(),
        _ => 0,
    }
}

fn knows_everything(port: u16) -> bool {
    replicas_ok(port) == 2 && num(port, "num-other-sentinels").as_deref() == Some("2")
}

#[test]
fn three_rsentinels_discover_replicas_and_each_other_and_remember_them() {
    let master = redis_server(&[]);
    let _r1 = redis_replica(&master);
    let _r2 = redis_replica(&master);
    let body = format!(
        "sentinel monitor mymaster 127.0.0.1 {} 2\nsentinel down-after-milliseconds mymaster 2000\n",
        master.port
    );
    let mut s: Vec<Proc> = (0..3).map(|_| rsentinel(&body)).collect();
    for x in &s {
        let port = x.port;
        assert!(
            wait_until(Duration::from_secs(3), || knows_everything(port)),
            "sentinel {port} did not discover the topology in 3 s: {:?}",
            query(port, &["SENTINEL", "MASTER", "mymaster"])
        );
    }
    // kill -9 one and restart it on its rewritten config: it knows at once.
    s[0].restart_rsentinel();
    let port = s[0].port;
    let master_reply = query(port, &["SENTINEL", "MASTER", "mymaster"]).unwrap();
    assert_eq!(field(&master_reply, "num-slaves").as_deref(), Some("2"));
    assert_eq!(
        field(&master_reply, "num-other-sentinels").as_deref(),
        Some("2")
    );
    assert!(wait_until(Duration::from_secs(3), || knows_everything(
        port
    )));
}

#[test]
fn rsentinel_and_real_sentinels_see_each_other_and_agree_on_odown() {
    let master = redis_server(&[]);
    let body = format!(
        "sentinel monitor mymaster 127.0.0.1 {} 3\nsentinel down-after-milliseconds mymaster 1000\n",
        master.port
    );
    // Quorum 3 with 3 sentinels: ODOWN is reachable, but a failover needs
    // a replica and there is none, so no failover happens.
    let real1 = redis_sentinel(&body);
    let real2 = redis_sentinel(&body);
    let ours = rsentinel(&body);
    let ports = [real1.port, real2.port, ours.port];
    for p in ports {
        assert!(
            wait_until(Duration::from_secs(10), || num(p, "num-other-sentinels")
                .as_deref()
                == Some("2")),
            "sentinel {p} does not list both peers"
        );
    }
    let my_id = text(&query(ours.port, &["SENTINEL", "MYID"]).unwrap());
    let listed = |p: u16| match query(p, &["SENTINEL", "SENTINELS", "mymaster"]) {
        Some(Reply::Array(items)) => items
            .iter()
            .any(|r| field(r, "runid").as_deref() == Some(my_id.as_str())),
        _ => false,
    };
    assert!(listed(real1.port) && listed(real2.port));

    let mut events = Client::connect(ours.port).unwrap();
    events.cmd(&["PSUBSCRIBE", "*"]).unwrap();
    let mut real_events = Client::connect(real1.port).unwrap();
    real_events.cmd(&["PSUBSCRIBE", "*"]).unwrap();

    master.signal(libc::SIGSTOP);
    let flags = |p: u16| num(p, "flags").unwrap_or_default();
    for p in ports {
        assert!(
            wait_until(Duration::from_secs(15), || flags(p).contains("o_down")),
            "sentinel {p} never flagged o_down: {}",
            flags(p)
        );
    }
    master.signal(libc::SIGCONT);
    for p in ports {
        assert!(
            wait_until(Duration::from_secs(15), || !flags(p).contains("s_down")
                && !flags(p).contains("o_down")),
            "sentinel {p} kept its down flags: {}",
            flags(p)
        );
    }
    let seen = collect_until_odown_cleared(&mut events);
    let real_seen = collect_until_odown_cleared(&mut real_events);
    // Same monitoring events, same payload shapes, from both kinds.
    let monitoring = |evs: &[String]| -> std::collections::BTreeSet<String> {
        evs.iter()
            .filter(|e| {
                ["+sdown master", "-sdown master", "+odown", "-odown"]
                    .iter()
                    .any(|k| e.starts_with(k))
            })
            .map(|e| payload_shape(e))
            .collect()
    };
    assert_eq!(
        monitoring(&seen),
        monitoring(&real_seen),
        "ours: {seen:?}\nreal: {real_seen:?}"
    );
    let mp = master.port;
    assert!(
        seen.contains(&format!("+sdown master mymaster 127.0.0.1 {mp}")),
        "{seen:?}"
    );
    assert!(
        seen.iter()
            .any(|e| e.starts_with(&format!("+odown master mymaster 127.0.0.1 {mp} #quorum "))),
        "{seen:?}"
    );
    assert!(
        seen.contains(&format!("-odown master mymaster 127.0.0.1 {mp}")),
        "{seen:?}"
    );
}

#[test]
fn busy_and_noauth_masters_go_sdown_but_loading_does_not() {
    // A master that requires a password we do not give answers -NOAUTH.
    let master = redis_server(&["--requirepass", "secret"]);
    let s = rsentinel(&format!(
        "sentinel monitor mymaster 127.0.0.1 {} 1\nsentinel down-after-milliseconds mymaster 500\n",
        master.port
    ));
    assert!(wait_until(Duration::from_secs(5), || num(s.port, "flags")
        .is_some_and(|f| f.contains("s_down"))));
    // With the password it recovers.
    let mut c = Client::connect(s.port).unwrap();
    assert_eq!(
        c.cmd(&["SENTINEL", "SET", "mymaster", "auth-pass", "secret"])
            .unwrap(),
        Reply::Simple("OK".into())
    );
    assert!(wait_until(Duration::from_secs(5), || num(s.port, "flags")
        .is_some_and(|f| !f.contains("s_down"))));

    // A master busy in a long script answers -BUSY.
    let busy = redis_server(&["--busy-reply-threshold", "100"]);
    let s2 = rsentinel(&format!(
        "sentinel monitor mymaster 127.0.0.1 {} 1\nsentinel down-after-milliseconds mymaster 500\n",
        busy.port
    ));
    assert!(wait_until(Duration::from_secs(5), || num(
        s2.port,
        "info-refresh"
    )
    .is_some_and(|v| v != "0")));
    let mut script = Client::connect(busy.port).unwrap();
    script
        .send(&[
            "EVAL",
            "local t = redis.call('TIME')[1] while redis.call('TIME')[1] - t < 3 do end return 1",
            "0",
        ])
        .unwrap();
    assert!(wait_until(Duration::from_secs(3), || num(s2.port, "flags")
        .is_some_and(|f| f.contains("s_down"))));
    let _ = script.read();
}

/// Events (`<channel> <message>`) read from a `PSUBSCRIBE *` connection
/// until `-odown` arrives (or the read times out).
fn collect_until_odown_cleared(c: &mut Client) -> Vec<String> {
    let mut seen = Vec::new();
    while let Ok(Reply::Array(m) | Reply::Push(m)) = c.read() {
        if m.len() == 4 {
            seen.push(format!("{} {}", text(&m[2]), text(&m[3])));
        }
        if seen.iter().any(|e| e.starts_with("-odown")) {
            break;
        }
    }
    seen
}

/// An event with numbers and run ids blanked: what must match between
/// implementations.
fn payload_shape(event: &str) -> String {
    event
        .split(' ')
        .map(|w| {
            if w.len() == 40 && w.bytes().all(|b| b.is_ascii_hexdigit()) {
                "RUNID".to_string()
            } else if w.bytes().any(|b| b.is_ascii_digit()) {
                w.chars()
                    .map(|c| if c.is_ascii_digit() { 'N' } else { c })
                    .collect::<String>()
            } else {
                w.to_string()
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// The `flags` of peer `runid` in `port`'s `SENTINEL SENTINELS mymaster`.
fn peer_flags(port: u16, runid: &str) -> Option<String> {
    match query(port, &["SENTINEL", "SENTINELS", "mymaster"])? {
        Reply::Array(peers) => peers
            .iter()
            .find(|p| field(p, "runid").as_deref() == Some(runid))
            .and_then(|p| field(p, "flags")),
        _ => None,
    }
}

/// A peer asks only about a master it sees down, so its question counts as
/// its "down" answer at once — recognised by the name peers give their
/// links (`sentinel-<8 chars of run id>-cmd`, redis-sentinel's naming);
/// the same question from any other client does not.
#[test]
fn a_question_on_a_peers_named_link_counts_as_its_down_answer() {
    let master = redis_server(&[]);
    let body = format!(
        "sentinel monitor mymaster 127.0.0.1 {} 2\nsentinel down-after-milliseconds mymaster 60000\n",
        master.port
    );
    let a = rsentinel(&body);
    let b = rsentinel(&body);
    assert!(
        wait_until(Duration::from_secs(10), || num(
            a.port,
            "num-other-sentinels"
        )
        .as_deref()
            == Some("1")),
        "the sentinels did not discover each other"
    );
    let b_id = text(&query(b.port, &["SENTINEL", "MYID"]).expect("myid"));
    let question = [
        "SENTINEL",
        "is-master-down-by-addr",
        "127.0.0.1",
        &master.port.to_string(),
        "0",
        "*",
    ];
    let mut anyone = Client::connect(a.port).expect("connect");
    let reply = anyone.cmd(&question).expect("reply");
    assert_eq!(
        reply,
        Reply::Array(vec![Reply::Int(0), Reply::bulk("*"), Reply::Int(0)])
    );
    let flags = peer_flags(a.port, &b_id).expect("b listed");
    assert!(!flags.contains("master_down"), "{flags}");

    let mut peer = Client::connect(a.port).expect("connect");
    let name = format!("sentinel-{}-cmd", &b_id[..8]);
    assert_eq!(
        peer.cmd(&["CLIENT", "SETNAME", &name]).expect("setname"),
        Reply::Simple("OK".into())
    );
    peer.cmd(&question).expect("reply");
    let flags = peer_flags(a.port, &b_id).expect("b listed");
    assert!(flags.contains("master_down"), "{flags}");
}
