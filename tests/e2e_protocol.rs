//! End-to-end: the rsentinel binary on a loopback port, spoken to with raw
//! bytes — inline commands, wrong input of every kind, and the process
//! staying up and serving others throughout.

mod support;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use support::*;

fn raw_exchange(port: u16, bytes: &[u8]) -> (String, bool) {
    let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let _ = s.write_all(bytes);
    let mut out = Vec::new();
    let mut buf = [0u8; 4096];
    let closed = loop {
        match s.read(&mut buf) {
            Ok(0) => break true,
            Ok(n) => out.extend_from_slice(&buf[..n]),
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => break true,
            Err(_) => break false,
        }
    };
    (String::from_utf8_lossy(&out).into_owned(), closed)
}

#[test]
fn inline_ping_gets_pong() {
    let s = rsentinel("");
    let mut c = TcpStream::connect(("127.0.0.1", s.port)).unwrap();
    c.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    c.write_all(b"PING\r\n").unwrap();
    let mut buf = [0u8; 7];
    c.read_exact(&mut buf).unwrap();
    assert_eq!(&buf, b"+PONG\r\n");
}

#[test]
fn malformed_input_gets_a_protocol_error_and_a_closed_connection() {
    let s = rsentinel("");
    let mut bystander = Client::connect(s.port).unwrap();
    let mut random = vec![0u8; 1 << 20];
    let mut prng = rsentinel_core::prng::Prng::new(99);
    for b in random.iter_mut() {
        *b = prng.next_u64() as u8;
    }
    random[0] = b'*';
    let nested = b"*1\r\n".repeat(100_000);
    let cases: Vec<(&str, Vec<u8>)> = vec![
        ("bad multibulk length", b"*abc\r\n".to_vec()),
        ("bad bulk length", b"*1\r\n$2147483648\r\n".to_vec()),
        ("expected $", b"*2\r\n$3\r\nfoo\r\n:1\r\n".to_vec()),
        ("random bytes", random),
        ("nested arrays", nested),
    ];
    for (what, bytes) in cases {
        let (reply, closed) = raw_exchange(s.port, &bytes);
        assert!(
            reply.starts_with("-ERR Protocol error"),
            "{what}: got {reply:?}"
        );
        assert!(closed, "{what}: connection left open");
        // Other clients are still served.
        assert_eq!(
            bystander.cmd(&["PING"]).unwrap(),
            Reply::Simple("PONG".into())
        );
    }
}

#[test]
fn unknown_commands_and_wrong_arity_use_redis_wording() {
    let s = rsentinel("");
    let mut c = Client::connect(s.port).unwrap();
    assert_eq!(
        c.cmd(&["GET", "k"]).unwrap(),
        Reply::Error("ERR unknown command 'GET', with args beginning with: 'k' ".into())
    );
    assert_eq!(
        c.cmd(&["SENTINEL", "SET", "m"]).unwrap(),
        Reply::Error("ERR wrong number of arguments for 'sentinel|set' command".into())
    );
    assert_eq!(
        c.cmd(&["SENTINEL", "NOPE"]).unwrap(),
        Reply::Error("ERR unknown subcommand 'NOPE'. Try SENTINEL HELP.".into())
    );
    // The connection is still usable.
    assert_eq!(c.cmd(&["PING"]).unwrap(), Reply::Simple("PONG".into()));
}

/// Starts rsentinel on a config holding `text`: it must fail; its stderr.
fn start_failure(text: &str) -> String {
    let dir = tempfile::tempdir().unwrap();
    let conf = dir.path().join("sentinel.conf");
    std::fs::write(&conf, text).unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_rsentinel"))
        .arg(&conf)
        .output()
        .unwrap();
    assert!(!out.status.success(), "started on a bad config: {text}");
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
fn a_bad_config_line_exits_non_zero_naming_file_line_and_text() {
    let err = start_failure("port 0\n# a comment\nsentinel monitor mymaster 127.0.0.1 6379 0\n");
    assert!(err.contains("*** FATAL CONFIG FILE ERROR"), "{err}");
    assert!(err.contains("at line 3"), "{err}");
    assert!(
        err.contains(">>> 'sentinel monitor mymaster 127.0.0.1 6379 0'"),
        "{err}"
    );
    assert!(err.contains("Quorum must be 1 or greater."), "{err}");

    let err = start_failure("port 0\nfrobnicate yes\n");
    assert!(
        err.contains("at line 2") && err.contains("frobnicate"),
        "{err}"
    );
}

#[test]
fn sigterm_flushes_the_config_and_exits_within_a_second() {
    let mut s = rsentinel("sentinel monitor mymaster 127.0.0.1 1 2\n");
    let mut c = Client::connect(s.port).unwrap();
    assert_eq!(
        c.cmd(&["SENTINEL", "SET", "mymaster", "quorum", "3"])
            .unwrap(),
        Reply::Simple("OK".into())
    );
    s.signal(libc::SIGTERM);
    let code = s.wait_exit(Duration::from_secs(1));
    assert_eq!(code, Some(0), "did not exit cleanly within 1 s");
    let conf = std::fs::read_to_string(s.path("sentinel.conf")).unwrap();
    assert!(
        conf.contains("sentinel monitor mymaster 127.0.0.1 1 3"),
        "{conf}"
    );
    assert!(conf.contains("sentinel myid "), "{conf}");
    // The port is released.
    assert!(std::net::TcpListener::bind(("127.0.0.1", s.port)).is_ok());
}

#[test]
fn rename_command_applies_to_the_sentinels_own_commands() {
    let s = rsentinel("rename-command ROLE myrole\nrename-command INFO \"\"\n");
    let mut c = Client::connect(s.port).unwrap();
    assert_eq!(
        c.cmd(&["ROLE"]).unwrap(),
        Reply::Error("ERR unknown command 'ROLE', with args beginning with: ".into())
    );
    assert_eq!(
        c.cmd(&["MYROLE"]).unwrap(),
        Reply::Array(vec![Reply::bulk("sentinel"), Reply::Array(vec![])])
    );
    assert!(c.cmd(&["INFO"]).unwrap().is_error());
    assert_eq!(c.cmd(&["PING"]).unwrap(), Reply::Simple("PONG".into()));
}

#[test]
fn log_lines_have_redis_shape() {
    let s = rsentinel("sentinel monitor mymaster 127.0.0.1 1 2\n");
    assert!(wait_until(Duration::from_secs(5), || s
        .log_text()
        .contains("+monitor master mymaster 127.0.0.1 1 quorum 2")));
    let log = s.log_text();
    for line in log.lines().filter(|l| !l.is_empty()) {
        // <pid>:X <dd Mon yyyy HH:MM:SS.mmm> <level-char> <message>
        let (pid, rest) = line.split_once(":X ").unwrap_or_else(|| panic!("{line}"));
        assert!(pid.bytes().all(|b| b.is_ascii_digit()), "{line}");
        let parts: Vec<&str> = rest.splitn(6, ' ').collect();
        assert_eq!(parts[0].len(), 2, "{line}");
        assert_eq!(parts[1].len(), 3, "{line}");
        assert_eq!(parts[2].len(), 4, "{line}");
        assert_eq!(parts[3].len(), 12, "{line}");
        assert!(["#", "*", "-", "."].contains(&parts[4]), "{line}");
    }
    assert!(log.contains(" # +monitor master mymaster 127.0.0.1 1 quorum 2"));
    // Nothing but a fatal start-up error may go to stderr.
    let stderr = std::fs::read_to_string(s.path("stderr.txt")).unwrap();
    assert!(stderr.is_empty(), "{stderr}");
}

#[test]
fn daemonize_forks_writes_the_pidfile_and_serves() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let pidfile = dir.path().join("rsentinel.pid");
    let conf = dir.path().join("sentinel.conf");
    std::fs::write(
        &conf,
        format!(
            "port {port}\nbind 127.0.0.1\ndaemonize yes\npidfile \"{}\"\nlogfile \"{}\"\n",
            pidfile.display(),
            dir.path().join("log").display()
        ),
    )
    .unwrap();
    let status = std::process::Command::new(env!("CARGO_BIN_EXE_rsentinel"))
        .arg(&conf)
        .status()
        .unwrap();
    assert!(status.success(), "the foreground parent exits 0");
    assert!(wait_until(Duration::from_secs(10), || {
        matches!(query(port, &["PING"]), Some(Reply::Simple(s)) if s == "PONG")
    }));
    let pid: i32 = std::fs::read_to_string(&pidfile)
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    // The daemon is ours (we started it): stop it with SIGTERM and check it
    // removes its pidfile on the way out.
    // SAFETY: kill(2) has no memory-safety preconditions.
    unsafe {
        libc::kill(pid, libc::SIGTERM);
    }
    // The deadlines are generous on purpose: the flush on the way out
    // fsyncs, which a loaded machine may take seconds over.
    assert!(wait_until(Duration::from_secs(30), || !pidfile.exists()));
    assert!(wait_until(Duration::from_secs(30), || query(
        port,
        &["PING"]
    )
    .is_none()));
}

#[test]
fn protected_mode_still_serves_loopback_clients() {
    // Non-loopback clients cannot be reached from a test here; the decision
    // itself is unit-tested in server::listener.
    let s = rsentinel("protected-mode yes\n");
    assert_eq!(query(s.port, &["PING"]), Some(Reply::Simple("PONG".into())));
}

#[test]
fn a_batch_of_queries_is_counted_before_a_later_command_of_the_batch_reads_the_counts() {
    // Queries answered in place publish their bookkeeping (command counts,
    // CLIENT LIST fields) once per batch: INFO and CLIENT INFO later in the
    // same pipelined write must still see every query before them.
    let s = rsentinel(&format!("sentinel monitor m 127.0.0.1 {} 2\n", free_port()));
    let mut c = Client::connect(s.port).unwrap();
    let query: &[&[u8]] = &[b"SENTINEL", b"get-master-addr-by-name", b"m"];
    let mut batch = bytes::BytesMut::new();
    rsentinel::resp::encode_command(&[b"INFO", b"stats"], &mut batch);
    for _ in 0..5 {
        rsentinel::resp::encode_command(query, &mut batch);
    }
    rsentinel::resp::encode_command(&[b"INFO", b"stats"], &mut batch);
    for _ in 0..3 {
        rsentinel::resp::encode_command(query, &mut batch);
    }
    rsentinel::resp::encode_command(&[b"CLIENT", b"INFO"], &mut batch);
    c.send_raw(&batch).unwrap();
    let processed = |r: &Reply| -> u64 {
        text(r)
            .lines()
            .find_map(|l| l.strip_prefix("total_commands_processed:"))
            .and_then(|v| v.parse().ok())
            .expect("total_commands_processed")
    };
    let before = processed(&c.read().unwrap());
    for _ in 0..5 {
        assert!(matches!(c.read().unwrap(), Reply::Array(ref a) if a.len() == 2));
    }
    let after = processed(&c.read().unwrap());
    assert_eq!(after - before, 6, "five queries and the INFO itself");
    for _ in 0..3 {
        assert!(matches!(c.read().unwrap(), Reply::Array(ref a) if a.len() == 2));
    }
    let info = text(&c.read().unwrap());
    assert!(info.contains(" cmd=client|info "), "{info}");
    let total = processed(&c.cmd(&["INFO", "stats"]).unwrap());
    assert_eq!(total - after, 5, "three queries, CLIENT INFO and this INFO");
}

#[test]
fn client_pause_all_holds_queries_answered_in_place() {
    // A query is answered by the connection itself, not the driver; a
    // paused server must hold it like any other command.
    let s = rsentinel("");
    let unused = free_port().to_string();
    assert_eq!(
        query(
            s.port,
            &["SENTINEL", "MONITOR", "m", "127.0.0.1", &unused, "1"]
        ),
        Some(Reply::Simple("OK".into()))
    );
    let mut a = Client::connect(s.port).unwrap();
    let mut b = Client::connect(s.port).unwrap();
    let ask = ["SENTINEL", "GET-MASTER-ADDR-BY-NAME", "m"];
    let expected = Reply::Array(vec![
        Reply::Bulk(b"127.0.0.1".to_vec()),
        Reply::Bulk(unused.clone().into_bytes()),
    ]);
    assert_eq!(b.cmd(&ask).unwrap(), expected);
    // Timed from before the pause is asked for: the pause starts later,
    // so a held query cannot be answered sooner than this.
    let started = std::time::Instant::now();
    assert_eq!(
        a.cmd(&["CLIENT", "PAUSE", "400", "ALL"]).unwrap(),
        Reply::Simple("OK".into())
    );
    assert_eq!(b.cmd(&ask).unwrap(), expected);
    assert!(
        started.elapsed() >= Duration::from_millis(400),
        "answered after {:?} while paused",
        started.elapsed()
    );
}
