//! Passwords, ACL rules and credentials are bytes end to end: a password
//! that is not UTF-8 matches only its exact bytes, survives a config
//! rewrite and a restart, loads identically in the real redis-sentinel, and
//! is sent exactly as configured to the monitored instances.

mod support;

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use support::*;

/// The password of these tests, and one that differs from it only in
/// bytes that lossy UTF-8 would make equal (both are two invalid bytes).
const PASS: &[u8] = b"\xff\xfe";
const LOOKALIKE: &[u8] = b"\x80\x81";
/// `PASS` as Redis quotes it in a config file.
const PASS_QUOTED: &str = r#""\xff\xfe""#;

fn ok() -> Reply {
    Reply::Simple("OK".into())
}

fn is_wrongpass(r: &Reply) -> bool {
    matches!(r, Reply::Error(e) if e.starts_with("WRONGPASS"))
}

/// A real redis-sentinel this test started on a given file; dropping it
/// kills that PID only.
struct RealSentinel {
    child: Child,
    port: u16,
}

impl Drop for RealSentinel {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts redis-sentinel on a copy of `conf` (so it cannot touch the
/// original), on a fresh port, and waits until it answers.
fn real_sentinel_on(conf: &[u8], dir: &Path) -> RealSentinel {
    let path = dir.join("copy.conf");
    std::fs::write(&path, conf).unwrap();
    let port = free_port();
    let child = Command::new(require_binary("redis-sentinel"))
        .arg(&path)
        .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn redis-sentinel");
    let real = RealSentinel { child, port };
    let up = wait_until(Duration::from_secs(10), || {
        matches!(query(port, &["PING"]), Some(Reply::Error(e)) if e.starts_with("NOAUTH"))
            || matches!(query(port, &["PING"]), Some(Reply::Simple(s)) if s == "PONG")
    });
    assert!(
        up,
        "redis-sentinel did not start on:\n{}",
        String::from_utf8_lossy(conf)
    );
    real
}

/// Only the exact bytes log in, with AUTH and with HELLO AUTH.
fn assert_only_exact_password_opens(port: u16, user: &[u8], pass: &[u8], lookalike: &[u8]) {
    let mut c = Client::connect(port).unwrap();
    let auth = |c: &mut Client, p: &[u8]| {
        if user == b"default" {
            c.cmd_bytes(&[b"AUTH", p]).unwrap()
        } else {
            c.cmd_bytes(&[b"AUTH", user, p]).unwrap()
        }
    };
    let wrong = auth(&mut c, lookalike);
    assert!(is_wrongpass(&wrong), "lookalike password: {wrong:?}");
    assert_eq!(auth(&mut c, pass), ok());

    let mut h = Client::connect(port).unwrap();
    let wrong = h
        .cmd_bytes(&[b"HELLO", b"2", b"AUTH", user, lookalike])
        .unwrap();
    assert!(is_wrongpass(&wrong), "HELLO with lookalike: {wrong:?}");
    let hello = h.cmd_bytes(&[b"HELLO", b"2", b"AUTH", user, pass]).unwrap();
    assert!(matches!(hello, Reply::Array(_)), "HELLO AUTH: {hello:?}");
}

#[test]
fn requirepass_bytes_match_exactly_and_survive_a_rewrite_in_both_sentinels() {
    let mut ours = rsentinel(&format!("requirepass {PASS_QUOTED}\n"));
    assert_only_exact_password_opens(ours.port, b"default", PASS, LOOKALIKE);

    let mut c = Client::connect(ours.port).unwrap();
    assert_eq!(c.cmd_bytes(&[b"AUTH", PASS]).unwrap(), ok());
    assert_eq!(c.cmd(&["SENTINEL", "FLUSHCONFIG"]).unwrap(), ok());
    let conf = std::fs::read(ours.path("sentinel.conf")).unwrap();
    let text = String::from_utf8(conf.clone()).expect("the rewritten file is ASCII");
    assert!(
        text.contains(&format!("\nrequirepass {PASS_QUOTED}\n")),
        "{text}"
    );

    ours.restart_rsentinel();
    assert_only_exact_password_opens(ours.port, b"default", PASS, LOOKALIKE);

    ours.kill();
    let dir = tempfile::tempdir().unwrap();
    let real = real_sentinel_on(&conf, dir.path());
    assert_only_exact_password_opens(real.port, b"default", PASS, LOOKALIKE);
}

#[test]
fn acl_rules_with_binary_bytes_match_redis_and_survive_a_rewrite_and_restart() {
    let setuser: &[&[u8]] = &[
        b"ACL",
        b"SETUSER",
        b"bin",
        b"on",
        b">p\xee\x80",
        b">gone\xff",
        b"<gone\xff",
        b"~k\xff",
        b"%R~r\xfe",
        b"&ch\xfe",
        b"+@all",
    ];
    let list_of = |port: u16| {
        let mut c = Client::connect(port).unwrap();
        assert_eq!(c.cmd_bytes(setuser).unwrap(), ok());
        c.cmd(&["ACL", "LIST"]).unwrap()
    };

    // The rules read back byte for byte as the real redis-sentinel shows them.
    let redis = redis_sentinel("");
    let mut ours = rsentinel("");
    let expected = list_of(redis.port);
    assert_eq!(list_of(ours.port), expected);
    assert_only_exact_password_opens(ours.port, b"bin", b"p\xee\x80", b"p\xee\x81");
    let mut c = Client::connect(ours.port).unwrap();
    let removed = c.cmd_bytes(&[b"AUTH", b"bin", b"gone\xff"]).unwrap();
    assert!(is_wrongpass(&removed), "a removed password: {removed:?}");

    // Rewrite, restart: same users, same passwords.
    assert_eq!(c.cmd(&["SENTINEL", "FLUSHCONFIG"]).unwrap(), ok());
    ours.restart_rsentinel();
    let mut c = Client::connect(ours.port).unwrap();
    assert_eq!(c.cmd(&["ACL", "LIST"]).unwrap(), expected);
    assert_only_exact_password_opens(ours.port, b"bin", b"p\xee\x80", b"p\xee\x81");

    // The real redis-sentinel reads the same users from our file.
    let conf = std::fs::read(ours.path("sentinel.conf")).unwrap();
    ours.kill();
    let dir = tempfile::tempdir().unwrap();
    let real = real_sentinel_on(&conf, dir.path());
    // (Only `bin` is compared: Redis shows a `default` line loaded from a
    // file with `sanitize-payload`, whoever wrote it.)
    let bin_line = |list: Reply| match list {
        Reply::Array(lines) => lines.into_iter().next(),
        _ => None,
    };
    let mut r = Client::connect(real.port).unwrap();
    assert_eq!(
        bin_line(r.cmd(&["ACL", "LIST"]).unwrap()),
        bin_line(expected)
    );
    assert_only_exact_password_opens(real.port, b"bin", b"p\xee\x80", b"p\xee\x81");
}

/// Writes a redis-server config fragment holding `lines` (Redis-quoted).
fn include_file(dir: &Path, name: &str, lines: &str) -> String {
    let path = dir.join(name);
    std::fs::write(&path, lines).unwrap();
    path.display().to_string()
}

/// A user name that is not UTF-8 either, and how Redis quotes it.
const USER: &[u8] = b"u\xfd";
const USER_QUOTED: &str = r#""u\xfd""#;

/// A real redis-server whose `requirepass` is `PASS`, with a user `USER`
/// of password `PASS` as well, written with Redis's quoting in a file under
/// `dir` that the server includes.
fn redis_server_with_password(dir: &Path) -> Proc {
    let conf = include_file(
        dir,
        "master.conf",
        &format!(
            "requirepass {PASS_QUOTED}\n\
             user {USER_QUOTED} on \">\\xff\\xfe\" ~* &* +@all\n"
        ),
    );
    redis_server(&["--include", &conf])
}

#[test]
fn auth_pass_bytes_reach_the_master_and_its_replica_exactly() {
    let secrets = tempfile::tempdir().unwrap();
    let master = redis_server_with_password(secrets.path());
    let replica_conf = include_file(
        secrets.path(),
        "replica.conf",
        &format!(
            "requirepass {PASS_QUOTED}\nmasterauth {PASS_QUOTED}\nreplicaof 127.0.0.1 {}\n",
            master.port
        ),
    );
    let replica = redis_server(&["--include", &replica_conf]);

    let mut ours = rsentinel(&format!(
        "sentinel monitor m 127.0.0.1 {} 1\n\
         sentinel down-after-milliseconds m 1000\n\
         sentinel auth-pass m {PASS_QUOTED}\n",
        master.port
    ));
    let replica_addr = format!("127.0.0.1:{}", replica.port);
    // The replica is only known from the master's INFO, and the replica's
    // own INFO (its role) only arrives if AUTH to it succeeded too.
    let monitored = |port: u16| {
        let Some(m) = query(port, &["SENTINEL", "MASTER", "m"]) else {
            return false;
        };
        let replicas = query(port, &["SENTINEL", "REPLICAS", "m"]);
        let replica_ok = match replicas {
            Some(Reply::Array(rs)) => rs.iter().any(|r| {
                field(r, "name").as_deref() == Some(replica_addr.as_str())
                    && field(r, "flags").as_deref() == Some("slave")
                    && field(r, "role-reported").as_deref() == Some("slave")
            }),
            _ => false,
        };
        field(&m, "flags").as_deref() == Some("master") && replica_ok
    };
    assert!(
        wait_until(Duration::from_secs(20), || monitored(ours.port)),
        "master not monitored with the binary auth-pass; log:\n{}",
        ours.log_text()
    );
    assert!(
        !ours.log_text().contains("+sdown master"),
        "{}",
        ours.log_text()
    );

    // The rewrite quotes the password, and a restart sends it again.
    assert_eq!(query(ours.port, &["SENTINEL", "FLUSHCONFIG"]), Some(ok()));
    let conf = std::fs::read_to_string(ours.path("sentinel.conf")).unwrap();
    assert!(
        conf.contains(&format!("sentinel auth-pass m {PASS_QUOTED}\n")),
        "{conf}"
    );
    ours.restart_rsentinel();
    assert!(
        wait_until(Duration::from_secs(20), || monitored(ours.port)),
        "not monitored after a restart; log:\n{}",
        ours.log_text()
    );
}

#[test]
fn sentinel_set_auth_pass_and_sentinel_pass_send_the_exact_bytes() {
    let secrets = tempfile::tempdir().unwrap();
    let master = redis_server_with_password(secrets.path());
    let mp = master.port.to_string();

    // `peer` wants PASS from clients; `ours` learns it from SENTINEL SET and
    // SENTINEL CONFIG SET, sent as raw bytes.
    let peer = rsentinel(&format!(
        "requirepass {PASS_QUOTED}\n\
         sentinel monitor m 127.0.0.1 {mp} 1\n\
         sentinel auth-pass m {PASS_QUOTED}\n\
         sentinel auth-user m {USER_QUOTED}\n"
    ));
    let ours = rsentinel("");
    let mut c = Client::connect(ours.port).unwrap();
    assert_eq!(
        c.cmd(&["SENTINEL", "MONITOR", "m", "127.0.0.1", &mp, "1"])
            .unwrap(),
        ok()
    );
    assert_eq!(
        c.cmd_bytes(&[
            b"SENTINEL",
            b"SET",
            b"m",
            b"auth-user",
            USER,
            b"auth-pass",
            PASS
        ])
        .unwrap(),
        ok()
    );
    assert_eq!(
        c.cmd_bytes(&[b"SENTINEL", b"CONFIG", b"SET", b"sentinel-pass", PASS])
            .unwrap(),
        ok()
    );
    let got = c
        .cmd(&["SENTINEL", "CONFIG", "GET", "sentinel-pass"])
        .unwrap();
    assert_eq!(
        got,
        Reply::Array(vec![Reply::bulk("sentinel-pass"), Reply::bulk(PASS)])
    );

    // ours' links to the master authenticate, so it sees it as up and
    // finds the peer through the master's hello channel; its links to the
    // peer authenticate too: only then does CLIENT SETNAME name them there.
    let our_id = text(&c.cmd(&["SENTINEL", "MYID"]).unwrap());
    let name = format!("name=sentinel-{}-cmd", &our_id[..8]);
    let named_on_peer = || {
        let mut p = Client::connect(peer.port).unwrap();
        if p.cmd_bytes(&[b"AUTH", PASS]).ok() != Some(ok()) {
            return false;
        }
        let list = p.cmd(&["CLIENT", "LIST"]).unwrap();
        String::from_utf8_lossy(match &list {
            Reply::Bulk(b) => b,
            _ => &[][..],
        })
        .contains(&name)
    };
    assert!(
        wait_until(Duration::from_secs(20), named_on_peer),
        "ours never logged in to the peer; ours:\n{}\npeer:\n{}",
        ours.log_text(),
        peer.log_text()
    );
    let m = query(ours.port, &["SENTINEL", "MASTER", "m"]).unwrap();
    assert_eq!(field(&m, "flags").as_deref(), Some("master"));

    // On the master, ours' command link is logged in as USER, byte for byte.
    let mut on_master = Client::connect(master.port).unwrap();
    assert_eq!(on_master.cmd_bytes(&[b"AUTH", PASS]).unwrap(), ok());
    let Reply::Bulk(list) = on_master.cmd(&["CLIENT", "LIST"]).unwrap() else {
        panic!("CLIENT LIST is not a bulk string");
    };
    let our_link = list
        .split(|&b| b == b'\n')
        .find(|l| l.windows(name.len()).any(|w| w == name.as_bytes()))
        .expect("ours has a command link to the master");
    let as_user = [&b" user="[..], USER, b" "].concat();
    assert!(
        our_link.windows(as_user.len()).any(|w| w == as_user),
        "{}",
        String::from_utf8_lossy(our_link)
    );
}
