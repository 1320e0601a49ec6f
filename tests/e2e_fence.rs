//! Write fencing end to end (`RSENTINEL_FENCE_WRITES`): rsentinel keeps
//! `min-replicas-to-write`/`min-replicas-max-lag` on the master and its
//! replicas, through rename-command, restores them when changed, and a
//! master that loses its replicas then refuses writes.

mod support;

use std::time::Duration;

use support::*;

const FENCE: (&str, &str) = ("RSENTINEL_FENCE_WRITES", "1:1");

fn fenced_sentinel(body: &str) -> Proc {
    let mut s = rsentinel_started(body, &[], &[FENCE]);
    s.wait_ready(Duration::from_secs(10));
    s
}

/// `(min-replicas-to-write, min-replicas-max-lag)` as `port` reports them,
/// asking with `config` (CONFIG or its renamed name).
fn fence_of(port: u16, config: &str) -> Option<(String, String)> {
    let r = query(port, &[config, "GET", "min-replicas-*"])?;
    let f = fields(&r);
    let get = |n: &str| f.iter().find(|(k, _)| k == n).map(|(_, v)| v.clone());
    Some((get("min-replicas-to-write")?, get("min-replicas-max-lag")?))
}

fn wait_fenced(ports: &[u16], config: &str, timeout: Duration) {
    let want = Some(("1".to_string(), "1".to_string()));
    for &p in ports {
        assert!(
            wait_until(timeout, || fence_of(p, config) == want),
            "instance {p} not fenced: {:?}",
            fence_of(p, config)
        );
    }
}

fn body(master: u16, extra: &str) -> String {
    format!(
        "sentinel monitor mymaster 127.0.0.1 {master} 1\n\
         sentinel down-after-milliseconds mymaster 2000\n\
         sentinel failover-timeout mymaster 10000\n{extra}"
    )
}

#[test]
fn master_and_replicas_are_fenced_and_an_isolated_master_refuses_writes() {
    let master = redis_server(&[]);
    let mut replica = redis_replica(&master);
    let sentinel = fenced_sentinel(&body(master.port, ""));
    wait_fenced(
        &[master.port, replica.port],
        "CONFIG",
        Duration::from_secs(15),
    );
    assert!(sentinel.log_text().contains("+fence-writes"));
    assert!(sentinel.log_text().contains("Write fencing on"));
    assert!(wait_until(Duration::from_secs(10), || {
        query(master.port, &["SET", "k", "v"]).is_some_and(|r| text(&r) == "OK")
    }));
    // The replica goes away: within about max-lag (+ Redis's 1 s cron) the
    // master refuses writes.
    replica.kill();
    assert!(
        wait_until(Duration::from_secs(6), || {
            query(master.port, &["SET", "k", "v"])
                .is_some_and(|r| matches!(&r, Reply::Error(e) if e.starts_with("NOREPLICAS")))
        }),
        "the master still accepts writes without a replica"
    );
}

#[test]
fn fencing_goes_through_rename_command_and_is_restored_after_a_failover() {
    let rename = ["--rename-command", "CONFIG", "cfgx"];
    let master = redis_server(&rename);
    let mp = master.port.to_string();
    let replica_args = |extra: &[&'static str]| {
        let mut a = vec!["--replicaof", "127.0.0.1", mp.as_str()];
        a.extend_from_slice(extra);
        a
    };
    let r1 = redis_server(&replica_args(&rename));
    let r2 = redis_server(&replica_args(&rename));
    let all = [master.port, r1.port, r2.port];
    let sentinel = fenced_sentinel(&body(
        master.port,
        "sentinel rename-command mymaster CONFIG cfgx\n",
    ));
    wait_fenced(&all, "cfgx", Duration::from_secs(15));
    assert!(wait_until(Duration::from_secs(10), || {
        query(sentinel.port, &["SENTINEL", "REPLICAS", "mymaster"])
            .is_some_and(|r| matches!(r, Reply::Array(v) if v.len() == 2))
    }));
    let reply = query(sentinel.port, &["SENTINEL", "FAILOVER", "mymaster"]);
    assert_eq!(reply.as_ref().map(text).as_deref(), Some("OK"));
    let new_master = || {
        query(
            sentinel.port,
            &["SENTINEL", "GET-MASTER-ADDR-BY-NAME", "mymaster"],
        )
        .and_then(|r| match r {
            Reply::Array(v) if v.len() == 2 => text(&v[1]).parse::<u16>().ok(),
            _ => None,
        })
        .filter(|p| *p != master.port)
    };
    assert!(wait_until(Duration::from_secs(20), || new_master().is_some()));
    let promoted = new_master().unwrap_or_default();
    // Someone turns fencing off on the new master: it comes back.
    query(promoted, &["cfgx", "SET", "min-replicas-to-write", "0"]);
    wait_fenced(&all, "cfgx", Duration::from_secs(15));
    // The promoted master takes writes once a replica follows it.
    assert!(wait_until(Duration::from_secs(20), || {
        query(promoted, &["SET", "k", "v"]).is_some_and(|r| text(&r) == "OK")
    }));
}

#[test]
fn a_malformed_policy_stops_start_up_with_a_clear_error() {
    let master = redis_server(&[]);
    let mut s = rsentinel_started(
        &body(master.port, ""),
        &[],
        &[("RSENTINEL_FENCE_WRITES", "one:1")],
    );
    assert!(s.wait_exit(Duration::from_secs(10)).is_some_and(|c| c != 0));
    let err = std::fs::read_to_string(s.path("stderr.txt")).unwrap_or_default() + &s.log_text();
    assert!(
        err.contains("RSENTINEL_FENCE_WRITES='one:1' is invalid"),
        "{err}"
    );
}
