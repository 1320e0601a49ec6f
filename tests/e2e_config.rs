//! End-to-end config persistence: what rsentinel writes loads in the real
//! redis-sentinel with the same meaning, and a kill -9 in the middle of a
//! stream of rewrites never leaves a truncated or unloadable file.

mod support;

use std::time::Duration;

use support::*;

fn ok() -> Reply {
    Reply::Simple("OK".into())
}

#[test]
fn a_config_rsentinel_wrote_starts_the_real_redis_sentinel_with_the_same_settings() {
    let master = redis_server(&[]);
    let mut ours = rsentinel("# my hand-written comment\n");
    let mut c = Client::connect(ours.port).unwrap();
    let mp = master.port.to_string();
    assert_eq!(
        c.cmd(&["SENTINEL", "MONITOR", "m2", "127.0.0.1", &mp, "2"])
            .unwrap(),
        ok()
    );
    assert_eq!(
        c.cmd(&[
            "SENTINEL",
            "SET",
            "m2",
            "down-after-milliseconds",
            "1234",
            "quorum",
            "1",
            "failover-timeout",
            "4321",
            "parallel-syncs",
            "3",
            "auth-pass",
            "s3cret",
        ])
        .unwrap(),
        ok()
    );
    assert_eq!(c.cmd(&["SENTINEL", "FLUSHCONFIG"]).unwrap(), ok());
    let myid = text(&c.cmd(&["SENTINEL", "MYID"]).unwrap());
    ours.kill();

    let conf = std::fs::read_to_string(ours.path("sentinel.conf")).unwrap();
    assert!(conf.starts_with(&format!("port {}", ours.port)), "{conf}");
    assert!(
        conf.contains("# my hand-written comment"),
        "comments are kept: {conf}"
    );

    // Start the real redis-sentinel on exactly that file (same port: ours
    // is gone).
    let bin = require_binary("redis-sentinel");
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("sentinel.conf");
    std::fs::write(&path, &conf).unwrap();
    let mut child = std::process::Command::new(bin)
        .arg(&path)
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let port = ours.port;
    let up = wait_until(
        Duration::from_secs(10),
        || matches!(query(port, &["PING"]), Some(Reply::Simple(s)) if s == "PONG"),
    );
    let master_reply = query(port, &["SENTINEL", "MASTER", "m2"]);
    let real_id = query(port, &["SENTINEL", "MYID"]).map(|r| text(&r));
    let _ = child.kill();
    let _ = child.wait();
    assert!(
        up,
        "redis-sentinel did not start on rsentinel's file:\n{conf}"
    );
    let m = master_reply.expect("redis-sentinel monitors m2");
    assert_eq!(
        field(&m, "down-after-milliseconds").as_deref(),
        Some("1234")
    );
    assert_eq!(field(&m, "quorum").as_deref(), Some("1"));
    assert_eq!(field(&m, "failover-timeout").as_deref(), Some("4321"));
    assert_eq!(field(&m, "parallel-syncs").as_deref(), Some("3"));
    assert_eq!(field(&m, "port").as_deref(), Some(mp.as_str()));
    assert_eq!(real_id.as_deref(), Some(myid.as_str()), "same sentinel id");
}

#[test]
fn kill_9_during_a_stream_of_rewrites_never_leaves_a_broken_file() {
    let mut s = rsentinel("sentinel monitor mymaster 127.0.0.1 1 2\n");
    for round in 0..5u64 {
        let port = s.port;
        // Returns the last value whose SET was acknowledged: a SET is
        // answered only once the file holding it is written.
        let writer = std::thread::spawn(move || {
            let mut acked = None;
            let Ok(mut c) = Client::connect(port) else {
                return acked;
            };
            // Bounded: at most 5000 rewrites, stops at the first error
            // (the process was killed).
            for i in 0..5000u64 {
                let v = 1000 + i;
                match c.cmd(&[
                    "SENTINEL",
                    "SET",
                    "mymaster",
                    "down-after-milliseconds",
                    &v.to_string(),
                ]) {
                    Ok(r) if r == ok() => acked = Some(v),
                    _ => return acked,
                }
            }
            acked
        });
        std::thread::sleep(Duration::from_millis(150 + 37 * round));
        s.kill();
        let acked = writer.join().unwrap();
        let conf = std::fs::read_to_string(s.path("sentinel.conf")).unwrap();
        assert!(conf.ends_with('\n'), "truncated file:\n{conf}");
        assert!(
            conf.contains("sentinel monitor mymaster 127.0.0.1 1 2"),
            "{conf}"
        );
        // One whole file, old or new: never two versions' lines mixed.
        let written: Vec<u64> = conf
            .lines()
            .filter_map(|l| l.strip_prefix("sentinel down-after-milliseconds mymaster "))
            .map(|v| v.parse().unwrap())
            .collect();
        assert!(written.len() <= 1, "{conf}");
        // Nothing acknowledged is lost (the kill may come before the first
        // write of a slow start: then nothing was acknowledged either).
        if let Some(v) = acked {
            assert!(
                written.first().is_some_and(|w| *w >= v),
                "acked {v}:\n{conf}"
            );
        }
        // No temp files left to confuse anyone, and the file loads again.
        s.restart_rsentinel();
        assert!(query(s.port, &["SENTINEL", "MASTER", "mymaster"]).is_some());
    }
}

#[test]
fn users_come_from_the_aclfile_and_are_not_written_to_the_config() {
    let dir = tempfile::tempdir().unwrap();
    let aclfile = dir.path().join("users.acl");
    std::fs::write(
        &aclfile,
        "user default on nopass ~* &* +@all\nuser alice on >wonderland ~* &* +@all\n",
    )
    .unwrap();
    let s = rsentinel(&format!("aclfile \"{}\"\n", aclfile.display()));
    let mut c = Client::connect(s.port).unwrap();
    assert_eq!(c.cmd(&["AUTH", "alice", "wonderland"]).unwrap(), ok());
    assert_eq!(c.cmd(&["ACL", "WHOAMI"]).unwrap(), Reply::bulk("alice"));
    assert_eq!(c.cmd(&["SENTINEL", "FLUSHCONFIG"]).unwrap(), ok());
    let conf = std::fs::read_to_string(s.path("sentinel.conf")).unwrap();
    assert!(!conf.contains("user alice"), "{conf}");
}

#[test]
fn a_broken_aclfile_stops_the_start() {
    let dir = tempfile::tempdir().unwrap();
    let aclfile = dir.path().join("users.acl");
    std::fs::write(&aclfile, "user alice on +nosuchcommand\n").unwrap();
    let conf = dir.path().join("sentinel.conf");
    std::fs::write(
        &conf,
        format!("port 0\naclfile \"{}\"\n", aclfile.display()),
    )
    .unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_rsentinel"))
        .arg(&conf)
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("ACL"), "{err}");
}
