//! Vote requests a peer pipelines on one connection (what it sends when many
//! masters fail at once): every reply comes back in request order, each only
//! after a config write that covers its vote, and one write may cover many
//! of them instead of one write — and one fsync — per vote in turn.

mod support;

use std::time::Duration;

use support::*;

const MASTERS: u16 = 40;
const CANDIDATE: &str = "0123456789abcdef0123456789abcdef01234567";

/// The sample `name` (no labels) in a metrics text, or 0 when absent.
fn sample(text: &str, name: &str) -> f64 {
    text.lines()
        .find_map(|l| l.strip_prefix(name)?.strip_prefix(' '))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0.0)
}

fn flushes(http: u16) -> f64 {
    match http_get(http, "/metrics") {
        Some((200, body)) => sample(&body, "rsentinel_config_flush_seconds_count"),
        other => panic!("GET /metrics: {other:?}"),
    }
}

fn vote(port: u16, epoch: u64, runid: &str) -> Vec<String> {
    let epoch = epoch.to_string();
    let port = port.to_string();
    [
        "SENTINEL",
        "IS-MASTER-DOWN-BY-ADDR",
        "127.0.0.1",
        port.as_str(),
        epoch.as_str(),
        runid,
    ]
    .iter()
    .map(|s| s.to_string())
    .collect()
}

/// `sentinel monitor m<i> 127.0.0.1 <port> 2` for every port.
fn monitor_all(ports: &[u16]) -> String {
    ports
        .iter()
        .enumerate()
        .map(|(i, p)| format!("sentinel monitor m{i} 127.0.0.1 {p} 2\n"))
        .collect()
}

fn encode(args: &[String]) -> Vec<u8> {
    let mut out = format!("*{}\r\n", args.len()).into_bytes();
    for a in args {
        out.extend_from_slice(format!("${}\r\n{a}\r\n", a.len()).as_bytes());
    }
    out
}

#[test]
fn pipelined_votes_are_answered_in_order_and_share_config_writes() {
    // Masters on ports nobody listens on: a vote needs no live master.
    let ports = free_ports(MASTERS as usize);
    let body = monitor_all(&ports);
    let http = free_port();
    let addr = format!("127.0.0.1:{http}");
    let mut s = rsentinel_started(&body, &[], &[("RSENTINEL_HTTP_ADDR", &addr)]);
    s.wait_ready(Duration::from_secs(10));

    // One batch on one connection: a vote per master, with other requests
    // in between that must wait for the votes before them.
    let mut requests: Vec<Vec<String>> = Vec::new();
    for (i, &p) in ports.iter().enumerate() {
        requests.push(vote(p, 1, CANDIDATE));
        if i == MASTERS as usize / 2 {
            requests.push(vec!["PING".into()]);
            // A second candidate in the same epoch gets the first one back.
            requests.push(vote(
                ports[0],
                1,
                "ffffffffffffffffffffffffffffffffffffffff",
            ));
            requests.push(vec![
                "SENTINEL".into(),
                "IS-MASTER-DOWN-BY-ADDR".into(),
                "127.0.0.1".into(),
                "nope".into(),
                "1".into(),
                CANDIDATE.into(),
            ]);
        }
    }
    let before = flushes(http);
    let mut c = Client::connect(s.port).unwrap();
    let batch: Vec<u8> = requests.iter().flat_map(|r| encode(r)).collect();
    c.send_raw(&batch).unwrap();
    let replies: Vec<Reply> = requests.iter().map(|_| c.read().unwrap()).collect();

    let granted = |r: &Reply| {
        matches!(r, Reply::Array(items)
            if items.len() == 3
                && matches!(&items[1], Reply::Bulk(id) if id == CANDIDATE.as_bytes())
                && items[2] == Reply::Int(1))
    };
    let mut seen_votes = 0;
    for (req, reply) in requests.iter().zip(&replies) {
        match (req[0].as_str(), req.get(3).map(String::as_str)) {
            ("PING", _) => assert_eq!(*reply, Reply::Simple("PONG".into())),
            (_, Some("nope")) => assert!(
                matches!(reply, Reply::Error(e) if e.contains("not an integer")),
                "{reply:?}"
            ),
            _ => {
                assert!(granted(reply), "{req:?} -> {reply:?}");
                seen_votes += 1;
            }
        }
    }
    assert_eq!(seen_votes, MASTERS as usize + 1);

    // Every vote was durable before its reply: the file holds the epoch.
    let conf = std::fs::read_to_string(s.path("sentinel.conf")).unwrap();
    assert!(conf.contains("sentinel current-epoch 1"), "{conf}");
    // Fewer writes than votes: requests waiting behind one write share the
    // next one (one write per vote would make this MASTERS).
    let writes = flushes(http) - before;
    assert!(
        writes >= 1.0 && writes < f64::from(MASTERS) / 2.0,
        "{writes} config writes for {MASTERS} votes"
    );
    s.kill();
}

/// Hellos a peer publishes back to back (a leader announcing many
/// failovers at once) are submitted without waiting for each other, yet
/// answered `:1` in order, and a command after them sees all of them.
#[test]
fn pipelined_hellos_are_answered_in_order_and_seen_by_the_next_command() {
    let ports = free_ports(MASTERS as usize);
    let body = monitor_all(&ports);
    let mut s = rsentinel_started(&body, &[], &[]);
    s.wait_ready(Duration::from_secs(10));
    let peer_port = free_port();
    let hello = |i: usize| -> Vec<String> {
        let payload = format!(
            "127.0.0.1,{peer_port},{CANDIDATE},0,m{i},127.0.0.1,{},0",
            ports[i]
        );
        vec!["PUBLISH".into(), "__sentinel__:hello".into(), payload]
    };
    let mut requests: Vec<Vec<String>> = (0..MASTERS as usize).map(hello).collect();
    // Another channel is refused in its place, without disturbing the rest.
    requests.insert(3, vec!["PUBLISH".into(), "other".into(), "x".into()]);
    let last = format!("m{}", MASTERS - 1);
    requests.push(vec!["SENTINEL".into(), "SENTINELS".into(), last]);
    let mut c = Client::connect(s.port).unwrap();
    let batch: Vec<u8> = requests.iter().flat_map(|r| encode(r)).collect();
    c.send_raw(&batch).unwrap();
    let replies: Vec<Reply> = requests.iter().map(|_| c.read().unwrap()).collect();
    for (req, reply) in requests.iter().zip(&replies) {
        match (req[0].as_str(), req[1].as_str()) {
            ("PUBLISH", "other") => assert!(
                matches!(reply, Reply::Error(e) if e.contains("Only HELLO messages")),
                "{reply:?}"
            ),
            ("PUBLISH", _) => assert_eq!(*reply, Reply::Int(1), "{req:?}"),
            _ => {
                let Reply::Array(peers) = reply else {
                    panic!("SENTINEL SENTINELS: {reply:?}");
                };
                assert_eq!(peers.len(), 1, "{reply:?}");
                assert!(mentions(reply, CANDIDATE), "{reply:?}");
            }
        }
    }
    // Every master learnt the peer from its own hello.
    for i in 0..MASTERS as usize {
        let reply = c.cmd(&["SENTINEL", "SENTINELS", &format!("m{i}")]).unwrap();
        assert!(mentions(&reply, CANDIDATE), "m{i}: {reply:?}");
    }
    s.kill();
}

/// Whether `text` is a bulk string anywhere in `reply`.
fn mentions(reply: &Reply, text: &str) -> bool {
    match reply {
        Reply::Bulk(b) => b == text.as_bytes(),
        Reply::Array(items) => items.iter().any(|r| mentions(r, text)),
        _ => false,
    }
}
