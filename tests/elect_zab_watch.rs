//! End-to-end: `rsentinel elect zab-watch` against a real 3-node ZooKeeper
//! ensemble from Debian's package (leader kill, full restart with diverged
//! data), and against malformed election traffic from both directions.
//! Only the JVMs and processes started here are killed.

mod support;

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::time::{Duration, Instant};

use rsentinel_core::zab::wire::{decode_frame, Handshake, WireNotification, PROTOCOL_VERSION_V1};
use support::line_proc::LineProc;
use support::zk::ZkEnsemble;
use support::{free_port, wait_until};

fn bin() -> String {
    std::env::var("RSENTINEL_BIN").unwrap_or_else(|_| env!("CARGO_BIN_EXE_rsentinel").to_string())
}

fn watcher(servers: &str, extra: &[&str], dir: &std::path::Path) -> LineProc {
    let mut args: Vec<String> = ["elect", "zab-watch", "--servers", servers]
        .iter()
        .map(|s| s.to_string())
        .collect();
    args.extend(extra.iter().map(|s| s.to_string()));
    LineProc::spawn(&bin(), &args, &dir.join("watch.stderr"))
}

/// `key=value` out of a report line.
fn field(line: &str, key: &str) -> Option<u64> {
    line.split_whitespace()
        .find_map(|w| w.strip_prefix(&format!("{key}=")))
        .and_then(|v| v.parse().ok())
}

fn elected(line: &str) -> bool {
    line.contains(" ELECTED ")
}

#[test]
fn zab_watch_reports_the_leader_srvr_reports_and_the_next_one_after_a_kill() {
    let mut zk = ZkEnsemble::start(3);
    let leader = zk.leader().expect("srvr names one leader");
    let json = zk.dir.path().join("changes.jsonl");
    let json_arg = json.to_string_lossy().into_owned();
    let mut w = watcher(
        &zk.election_servers(),
        &["--check", "--json", &json_arg],
        zk.dir.path(),
    );
    let first = w
        .wait_line(Duration::from_secs(10), elected)
        .expect("the watcher reports the elected leader");
    assert_eq!(field(&first, "leader"), Some(leader), "{first}");
    let old_epoch = field(&first, "peer_epoch").unwrap();

    zk.kill(leader);
    let killed = Instant::now();
    let next = w
        .wait_line(Duration::from_secs(10), |l| {
            elected(l) && field(l, "leader") != Some(leader)
        })
        .expect("a new leader is reported");
    let new_leader = field(&next, "leader").unwrap();
    // The new leader reports its predecessor's epoch until it has
    // established its own; the watcher reports again when it has.
    let established = if field(&next, "peer_epoch").unwrap() > old_epoch {
        next
    } else {
        w.wait_line(Duration::from_secs(10), |l| {
            elected(l) && field(l, "peer_epoch").is_some_and(|e| e > old_epoch)
        })
        .expect("the new epoch is reported")
    };
    let took = killed.elapsed();
    eprintln!("new leader with a higher epoch reported {took:?} after kill -9");
    assert!(
        took < Duration::from_secs(2),
        "new leader with a higher epoch after {took:?}"
    );
    assert_eq!(field(&established, "leader"), Some(new_leader));
    assert!(wait_until(Duration::from_secs(10), || zk.leader() == Some(new_leader)));
    assert!(w.is_running(), "--check found nothing wrong");

    // The JSON lines: every documented field, the new leader LEADING.
    let text = std::fs::read_to_string(&json).unwrap();
    let objects: Vec<serde_json::Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).expect("one JSON object per line"))
        .collect();
    for o in &objects {
        for key in [
            "time_ms",
            "sid",
            "state",
            "leader",
            "round",
            "peer_epoch",
            "zxid",
        ] {
            assert!(o.get(key).is_some(), "{key} in {o}");
        }
    }
    assert!(objects
        .iter()
        .any(|o| o["sid"] == new_leader && o["state"] == "LEADING"));
    assert!(objects
        .iter()
        .any(|o| o["sid"] == leader && o["state"] == "LEADING"));
}

#[test]
fn after_a_full_restart_with_diverged_data_the_core_predicts_the_leader() {
    let mut zk = ZkEnsemble::start(3);
    let first = zk.leader().expect("a leader");
    // The old leader misses an epoch and a write: its data diverges.
    zk.kill(first);
    zk.wait_serving(Duration::from_secs(20));
    let out = zk.zkcli_until(&["create", "/diverged", "x"], |o| {
        o.contains("Created /diverged")
    });
    assert!(out.contains("Created /diverged"), "{out}");
    let mut w = watcher(&zk.election_servers(), &["--check"], zk.dir.path());
    w.wait_line(Duration::from_secs(10), elected)
        .expect("the watcher sees the current leader");
    zk.kill_all();
    assert!(
        w.wait_line(Duration::from_secs(10), |l| l.contains("UNREACHABLE"))
            .is_some(),
        "the watcher notices the stop"
    );
    zk.start_all();
    let after = w
        .wait_line(Duration::from_secs(20), |l| {
            elected(l) && !l.ends_with("predicted=-")
        })
        .expect("an election after the restart, with round-0 votes seen");
    let leader = field(&after, "leader").unwrap();
    assert_eq!(field(&after, "predicted"), Some(leader), "{after}");
    assert_ne!(leader, first, "the server that missed an epoch cannot win");
    assert!(wait_until(Duration::from_secs(10), || zk.leader() == Some(leader)));
    assert!(w.is_running(), "--check found nothing wrong");
}

/// Waits until the peer closes the connection (EOF or reset).
fn closed_by_peer(s: &mut TcpStream) -> bool {
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let mut buf = [0u8; 64];
    loop {
        match s.read(&mut buf) {
            Ok(0) | Err(_) => return true,
            Ok(_) => continue,
        }
    }
}

#[test]
fn malformed_election_traffic_closes_the_connection_with_a_log_line() {
    let dir = tempfile::tempdir().unwrap();
    // A fake server 1 that answers the watcher with garbage.
    let fake = TcpListener::bind("127.0.0.1:0").unwrap();
    let fake_port = fake.local_addr().unwrap().port();
    let listen = free_port();
    let listen_arg = format!("127.0.0.1:{listen}");
    let mut w = watcher(
        &format!("1@127.0.0.1:{fake_port}"),
        &["--listen", &listen_arg, "--sid", "7"],
        dir.path(),
    );

    // The watcher's handshake is what a 3.8 server sends.
    let (mut conn, _) = fake.accept().unwrap();
    conn.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let mut got = Vec::new();
    let mut buf = [0u8; 256];
    let hello = loop {
        let n = conn.read(&mut buf).unwrap();
        assert!(n > 0, "the watcher closed before its handshake");
        got.extend_from_slice(&buf[..n]);
        if let Some((h, used)) = Handshake::decode(&got).unwrap() {
            got.drain(..used);
            break h;
        }
    };
    assert_eq!(hello.protocol, Some(PROTOCOL_VERSION_V1));
    assert_eq!(
        (hello.sid, hello.address.as_str()),
        (7, listen_arg.as_str())
    );
    // ...followed by a LOOKING vote asking for ours.
    while decode_frame(&got).unwrap().is_none() {
        let n = conn.read(&mut buf).unwrap();
        assert!(n > 0);
        got.extend_from_slice(&buf[..n]);
    }
    let (body, _) = decode_frame(&got).unwrap().unwrap();
    let ask = WireNotification::decode(body).unwrap();
    assert_eq!(ask.leader, 7);
    // A 36-byte body: a real server drops it, the watcher closes.
    let mut reply = 36i32.to_be_bytes().to_vec();
    reply.extend_from_slice(&[0u8; 36]);
    conn.write_all(&reply).unwrap();
    assert!(closed_by_peer(&mut conn));
    // It reconnects after a short delay.
    fake.set_nonblocking(false).unwrap();
    let (_again, _) = fake.accept().unwrap();

    // Inbound: every kind of malformed traffic gets a closed connection.
    let mut hs = Handshake::v1(9, "127.0.0.1", 1).encode();
    let mut wrong_version = hs.clone();
    wrong_version[..8].copy_from_slice(&(-3i64).to_be_bytes());
    let mut oversized_address = hs.clone();
    oversized_address[16..20].copy_from_slice(&4096i32.to_be_bytes());
    let mut oversized_frame = hs.clone();
    oversized_frame.extend_from_slice(&(1i32 << 30).to_be_bytes());
    hs.extend_from_slice(&20i32.to_be_bytes());
    hs.extend_from_slice(&[0u8; 20]);
    let cases: [(&str, Vec<u8>); 5] = [
        ("garbage", b"GET / HTTP/1.1\r\n\r\n".to_vec()),
        ("wrong version", wrong_version),
        ("oversized address", oversized_address),
        ("oversized frame", oversized_frame),
        ("short notification", hs),
    ];
    for (what, bytes) in &cases {
        let mut s = TcpStream::connect(("127.0.0.1", listen)).unwrap();
        s.write_all(bytes).unwrap();
        assert!(closed_by_peer(&mut s), "{what}: closed");
    }
    // Truncated: half a handshake, then we hang up.
    let mut s = TcpStream::connect(("127.0.0.1", listen)).unwrap();
    s.write_all(&Handshake::v1(9, "127.0.0.1", 1).encode()[..10])
        .unwrap();
    drop(s);

    let logged = wait_until(Duration::from_secs(5), || {
        let log = w.stderr_text();
        log.matches("closing the election connection from").count() > cases.len()
            && log.contains("closing the election connection to")
    });
    assert!(
        logged,
        "one log line per refused connection:\n{}",
        w.stderr_text()
    );
    let log = w.stderr_text();
    for needle in [
        "unrecognized protocol version -3",
        "unreasonable handshake address length 4096",
        "invalid packet length 1073741824",
        "short notification of 20 bytes",
        "partial notification of 36 bytes",
        "closed during the handshake",
    ] {
        assert!(log.contains(needle), "{needle} in:\n{log}");
    }
    assert!(!log.contains("panicked"));
    assert!(w.is_running(), "the watcher keeps running");
}

/// A fake server: accepts the watcher, reads its handshake, and answers
/// every poll with `reply` until the watcher hangs up (bounded by the
/// watcher's own lifetime and a deadline).
fn fake_server(listener: TcpListener, reply: WireNotification) -> std::thread::JoinHandle<()> {
    std::thread::spawn(move || {
        let Ok((mut conn, _)) = listener.accept() else {
            return;
        };
        let _ = conn.set_read_timeout(Some(Duration::from_millis(200)));
        let deadline = Instant::now() + Duration::from_secs(20);
        let frame = reply.encode_frame();
        let mut buf = [0u8; 512];
        while Instant::now() < deadline {
            match conn.read(&mut buf) {
                Ok(0) => return,
                Ok(_) => {
                    if conn.write_all(&frame).is_err() {
                        return;
                    }
                }
                Err(e)
                    if e.kind() == std::io::ErrorKind::WouldBlock
                        || e.kind() == std::io::ErrorKind::TimedOut => {}
                Err(_) => return,
            }
        }
    })
}

#[test]
fn check_fails_with_the_reason_when_two_servers_lead_one_epoch() {
    let dir = tempfile::tempdir().unwrap();
    let leading = |sid: u64| WireNotification {
        state: rsentinel_core::zab::wire::WireState::Leading,
        leader: sid,
        zxid: 1 << 32,
        round: 3,
        peer_epoch: 1,
        version: 2,
        config: Some(Vec::new()),
        layout: rsentinel_core::zab::wire::Layout::Current,
    };
    let (a, b) = (
        TcpListener::bind("127.0.0.1:0").unwrap(),
        TcpListener::bind("127.0.0.1:0").unwrap(),
    );
    let servers = format!(
        "1@127.0.0.1:{},2@127.0.0.1:{}",
        a.local_addr().unwrap().port(),
        b.local_addr().unwrap().port()
    );
    let fakes = [fake_server(a, leading(1)), fake_server(b, leading(2))];
    let mut w = watcher(&servers, &["--check"], dir.path());
    let failed = w
        .wait_line(Duration::from_secs(10), |l| l.starts_with("CHECK FAILED"))
        .expect("--check reports the violation");
    assert!(failed.contains("round 3 peer epoch 1"), "{failed}");
    assert_eq!(
        w.wait_exit(Duration::from_secs(5)),
        Some(1),
        "non-zero exit"
    );
    assert!(
        w.stderr_text().contains("check failed"),
        "{}",
        w.stderr_text()
    );
    drop(w);
    for f in fakes {
        f.join().unwrap();
    }
}
