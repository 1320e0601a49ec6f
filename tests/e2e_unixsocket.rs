//! `unixsocket` / `unixsocketperm`, side by side with redis-sentinel: the
//! socket answers, its mode is the configured one, clients on it show as
//! `addr=<path>:0` with flag `U`, the rewrite keeps both lines, and the
//! file is removed at shutdown.

mod support;

use std::io::{BufRead, BufReader, Read, Write};
use std::os::unix::fs::PermissionsExt;
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::time::Duration;

use support::*;

/// Sends one command on a Unix socket and reads a simple, error or bulk
/// reply as text.
fn unix_cmd(path: &Path, args: &[&str]) -> String {
    let mut s = UnixStream::connect(path).expect("connect unix socket");
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let mut req = format!("*{}\r\n", args.len());
    for a in args {
        req.push_str(&format!("${}\r\n{a}\r\n", a.len()));
    }
    s.write_all(req.as_bytes()).unwrap();
    let mut r = BufReader::new(s);
    let mut line = String::new();
    r.read_line(&mut line).unwrap();
    match line.as_bytes().first() {
        Some(b'$') => {
            let n: usize = line[1..].trim().parse().unwrap();
            let mut body = vec![0u8; n + 2];
            r.read_exact(&mut body).unwrap();
            String::from_utf8_lossy(&body[..n]).into_owned()
        }
        _ => line.trim_end().to_string(),
    }
}

fn field_of<'a>(client_info: &'a str, name: &str) -> Option<&'a str> {
    client_info
        .split(' ')
        .find_map(|kv| kv.strip_prefix(&format!("{name}=")))
}

#[test]
fn unixsocket_serves_like_redis_sentinel() {
    let mut results = Vec::new();
    for program in ["redis-sentinel", "rsentinel"] {
        let dir = tempfile::tempdir().expect("tempdir");
        let sock = dir.path().join("s.sock");
        let body = format!("unixsocket {}\nunixsocketperm 700\n", sock.display());
        let mut p = if program == "rsentinel" {
            rsentinel(&body)
        } else {
            redis_sentinel(&body)
        };
        assert!(
            wait_until(Duration::from_secs(10), || sock.exists()),
            "{program} created its socket"
        );
        assert_eq!(unix_cmd(&sock, &["PING"]), "+PONG", "{program}");
        assert!(unix_cmd(&sock, &["SENTINEL", "MASTERS"]).starts_with('*'));
        let mode = std::fs::metadata(&sock).unwrap().permissions().mode() & 0o777;
        let info = unix_cmd(&sock, &["CLIENT", "INFO"]);
        let addr = field_of(&info, "addr").unwrap_or_default().to_string();
        let laddr = field_of(&info, "laddr").unwrap_or_default().to_string();
        let flags = field_of(&info, "flags").unwrap_or_default().to_string();
        assert_eq!(
            unix_cmd(&sock, &["SENTINEL", "FLUSHCONFIG"]),
            "+OK",
            "{program}"
        );
        let conf = std::fs::read_to_string(p.path("sentinel.conf")).unwrap();
        let mut lines: Vec<String> = conf
            .lines()
            .filter(|l| l.starts_with("unixsocket"))
            .map(String::from)
            .collect();
        lines.sort();
        p.signal(libc::SIGTERM);
        assert!(
            p.wait_exit(Duration::from_secs(10)).is_some(),
            "{program} stopped"
        );
        let removed = !sock.exists();
        let sock_text = sock.display().to_string();
        results.push((
            mode,
            addr.replace(&sock_text, "PATH"),
            laddr.replace(&sock_text, "PATH"),
            flags,
            lines
                .iter()
                .map(|l| l.replace(&sock_text, "PATH"))
                .collect::<Vec<_>>(),
            removed,
        ));
    }
    let (redis, ours) = (&results[0], &results[1]);
    assert_eq!(redis.0, 0o700, "redis-sentinel's mode");
    assert_eq!(ours, redis, "rsentinel vs redis-sentinel");
    assert_eq!(ours.1, "PATH:0");
    assert!(ours.3.contains('U'));
}
