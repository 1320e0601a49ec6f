//! End-to-end failovers with real processes: rsentinels alone, mixed
//! quorums with the real redis-sentinel (each kind leading once), the old
//! master demoted on return, and no failover without a majority.

mod support;

use std::time::Duration;

use support::*;

fn master_addr(port: u16) -> Option<(String, String)> {
    match query(port, &["SENTINEL", "GET-MASTER-ADDR-BY-NAME", "mymaster"])? {
        Reply::Array(v) if v.len() == 2 => Some((text(&v[0]), text(&v[1]))),
        _ => None,
    }
}

fn role(port: u16) -> String {
    match query(port, &["ROLE"]) {
        Some(Reply::Array(v)) if !v.is_empty() => text(&v[0]),
        _ => String::new(),
    }
}

fn info_field(port: u16, name: &str) -> Option<String> {
    let info = text(&query(port, &["INFO", "replication"])?);
    info.lines().find_map(|l| {
        l.strip_prefix(&format!("{name}:"))
            .map(|v| v.trim().to_string())
    })
}

fn body(master: &Proc, down_after: u64) -> String {
    format!(
        "sentinel monitor mymaster 127.0.0.1 {} 2\n\
         sentinel down-after-milliseconds mymaster {down_after}\n\
         sentinel failover-timeout mymaster 10000\n",
        master.port
    )
}

/// Waits until every sentinel in `ports` knows `replicas` replicas and the
/// other `sentinels - 1` sentinels.
fn wait_discovered_with(ports: &[u16], replicas: usize, sentinels: usize) {
    for &p in ports {
        assert!(
            wait_until(Duration::from_secs(15), || {
                query(p, &["SENTINEL", "MASTER", "mymaster"]).is_some_and(|r| {
                    field(&r, "num-slaves").as_deref() == Some(&replicas.to_string()[..])
                        && field(&r, "num-other-sentinels").as_deref()
                            == Some(&(sentinels - 1).to_string()[..])
                })
            }),
            "sentinel {p} did not discover the topology"
        );
    }
}

/// The usual topology: two replicas.
fn wait_discovered(ports: &[u16], sentinels: usize) {
    wait_discovered_with(ports, 2, sentinels);
}

/// A master with two replicas.
fn master_and_two_replicas() -> (Proc, Proc, Proc) {
    let master = redis_server(&[]);
    let r1 = redis_replica(&master);
    let r2 = redis_replica(&master);
    (master, r1, r2)
}

/// Three rsentinels on `body`, and their ports.
fn three_rsentinels(body: &str) -> (Vec<Proc>, Vec<u16>) {
    let s: Vec<Proc> = (0..3).map(|_| rsentinel(body)).collect();
    let ports = s.iter().map(|p| p.port).collect();
    (s, ports)
}

/// Waits until every sentinel advertises a master other than `old_port`;
/// the port the first one advertises.
fn wait_switched_away(sentinels: &[u16], old_port: &str, why: &str) -> String {
    for &p in sentinels {
        assert!(
            wait_until(Duration::from_secs(30), || master_addr(p)
                .is_some_and(|(_, port)| port != old_port)),
            "sentinel {p} {why}"
        );
    }
    master_addr(sentinels[0]).unwrap().1
}

/// Waits (up to `secs`) until the redis on `port` replicates `master_port`.
fn follows(port: u16, master_port: &str, secs: u64) -> bool {
    wait_until(Duration::from_secs(secs), || {
        info_field(port, "master_port").as_deref() == Some(master_port)
    })
}

/// Kills the master, waits until every sentinel advertises the same new
/// master, checks it is writable, that the other replica follows it, and
/// that the old master, restarted, becomes its replica.
fn fail_over_and_check(master: &mut Proc, replicas: &[&Proc], sentinels: &[u16]) -> u16 {
    let old_port = master.port.to_string();
    master.kill();
    let new_port = wait_switched_away(sentinels, &old_port, "still advertises the old master");
    for &p in sentinels {
        assert_eq!(master_addr(p).unwrap().1, new_port, "sentinels disagree");
    }
    let new_port: u16 = new_port.parse().unwrap();
    assert!(replicas.iter().any(|r| r.port == new_port));
    assert!(wait_until(Duration::from_secs(10), || role(new_port) == "master"));
    assert_eq!(
        query(new_port, &["SET", "after-failover", "1"]),
        Some(Reply::Simple("OK".into()))
    );
    for r in replicas.iter().filter(|r| r.port != new_port) {
        assert!(
            wait_until(Duration::from_secs(30), || {
                info_field(r.port, "master_port").as_deref() == Some(&new_port.to_string()[..])
                    && info_field(r.port, "master_link_status").as_deref() == Some("up")
            }),
            "replica {} does not follow the new master",
            r.port
        );
    }
    // The old master comes back (same port, as a master) and is demoted.
    let restarted = redis_server_at(master.port);
    assert!(
        follows(restarted.port, &new_port.to_string(), 30),
        "old master was not converted to a replica"
    );
    new_port
}

#[test]
fn three_rsentinels_fail_over_a_killed_master() {
    let (mut master, r1, r2) = master_and_two_replicas();
    let (_s, ports) = three_rsentinels(&body(&master, 1000));
    wait_discovered(&ports, 3);
    fail_over_and_check(&mut master, &[&r1, &r2], &ports);
}

fn led(p: &Proc) -> bool {
    p.log_text().contains("+elected-leader")
}

/// Two sentinels of one kind and one of the other on the same master;
/// `down_after` per sentinel decides who notices first and so who leads.
/// Returns, per sentinel, (is rsentinel, led a failover).
fn mixed_failover(kinds: [(bool, u64); 3]) -> Vec<(bool, bool)> {
    let (mut master, r1, r2) = master_and_two_replicas();
    let sentinels: Vec<(bool, Proc)> = kinds
        .iter()
        .map(|&(ours, down_after)| {
            let b = body(&master, down_after);
            (
                ours,
                if ours {
                    rsentinel(&b)
                } else {
                    redis_sentinel(&b)
                },
            )
        })
        .collect();
    let ports: Vec<u16> = sentinels.iter().map(|(_, p)| p.port).collect();
    wait_discovered(&ports, 3);
    fail_over_and_check(&mut master, &[&r1, &r2], &ports);
    sentinels.iter().map(|(ours, p)| (*ours, led(p))).collect()
}

#[test]
fn mixed_quorum_where_redis_sentinel_leads() {
    // The real sentinels notice first; rsentinel votes for them.
    let led = mixed_failover([(false, 1000), (false, 1000), (true, 4000)]);
    assert!(
        led.iter().any(|&(ours, l)| !ours && l),
        "a redis-sentinel should have led: {led:?}"
    );
}

#[test]
fn mixed_quorum_where_rsentinel_leads() {
    // rsentinel notices first and asks for votes as soon as a peer agrees.
    let led = mixed_failover([(false, 3000), (true, 1000), (true, 1000)]);
    assert!(
        led.iter().any(|&(ours, l)| ours && l),
        "an rsentinel should have led: {led:?}"
    );
}

#[test]
fn no_failover_without_a_majority_and_ckquorum_says_why() {
    let (mut master, r1, r2) = master_and_two_replicas();
    let (s, ports) = three_rsentinels(&body(&master, 1000));
    wait_discovered(&ports, 3);
    s[1].signal(libc::SIGSTOP);
    s[2].signal(libc::SIGSTOP);
    let old = master.port.to_string();
    master.kill();
    let expected = "NOQUORUM 1 usable Sentinels. Not enough available Sentinels to reach the specified quorum for this master. Not enough available Sentinels to reach the majority and authorize a failover";
    assert!(
        wait_until(Duration::from_secs(10), || query(
            ports[0],
            &["SENTINEL", "CKQUORUM", "mymaster"]
        ) == Some(Reply::Error(
            expected.into()
        ))),
        "{:?}",
        query(ports[0], &["SENTINEL", "CKQUORUM", "mymaster"])
    );
    // Well past down-after: still the old master, no promotion.
    let flags = || {
        query(ports[0], &["SENTINEL", "MASTER", "mymaster"])
            .and_then(|r| field(&r, "flags"))
            .unwrap_or_default()
    };
    assert!(wait_until(Duration::from_secs(5), || flags().contains("s_down")));
    assert_eq!(master_addr(ports[0]).unwrap().1, old);
    assert!(!flags().contains("o_down"));
    assert_eq!(role(r1.port), "slave");
    assert_eq!(role(r2.port), "slave");
    s[1].signal(libc::SIGCONT);
    s[2].signal(libc::SIGCONT);
}

#[test]
fn manual_failover_promotes_a_replica() {
    let (master, r1, r2) = master_and_two_replicas();
    let s = rsentinel(&body(&master, 5000));
    wait_discovered(&[s.port], 1);
    assert!(wait_until(Duration::from_secs(10), || {
        query(s.port, &["SENTINEL", "FAILOVER", "mymaster"]) == Some(Reply::Simple("OK".into()))
    }));
    let old = master.port.to_string();
    assert!(wait_until(Duration::from_secs(20), || master_addr(s.port)
        .is_some_and(|(_, p)| p != old)));
    let new_port: u16 = master_addr(s.port).unwrap().1.parse().unwrap();
    assert!([r1.port, r2.port].contains(&new_port));
    assert!(wait_until(Duration::from_secs(10), || role(new_port) == "master"));
    // The old master, still alive, is turned into a replica of the new one.
    assert!(follows(master.port, &new_port.to_string(), 30));
}

#[test]
fn replica_priority_decides_the_promoted_replica() {
    let mut master = redis_server(&[]);
    let low = redis_server(&[
        "--replicaof",
        "127.0.0.1",
        &master.port.to_string(),
        "--replica-priority",
        "10",
    ]);
    let high = redis_server(&[
        "--replicaof",
        "127.0.0.1",
        &master.port.to_string(),
        "--replica-priority",
        "90",
    ]);
    let (_s, ports) = three_rsentinels(&body(&master, 1000));
    wait_discovered(&ports, 3);
    let new_port = fail_over_and_check(&mut master, &[&low, &high], &ports);
    assert_eq!(
        new_port, low.port,
        "the replica with the lower priority must win"
    );
}

#[test]
fn a_redis_rs_sentinel_client_keeps_working_through_a_failover() {
    use redis::sentinel::{SentinelClient, SentinelServerType};
    use redis::Commands;

    let (mut master, _r1, _r2) = master_and_two_replicas();
    let (_s, ports) = three_rsentinels(&body(&master, 1000));
    wait_discovered(&ports, 3);
    let nodes: Vec<String> = ports
        .iter()
        .map(|p| format!("redis://127.0.0.1:{p}/"))
        .collect();
    let mut client = SentinelClient::build(
        nodes,
        "mymaster".to_string(),
        None,
        SentinelServerType::Master,
    )
    .expect("sentinel client");
    let mut write = |key: &str, value: u32| -> bool {
        let Ok(mut conn) = client.get_connection() else {
            return false;
        };
        let set: redis::RedisResult<()> = conn.set(key, value);
        let got: redis::RedisResult<u32> = conn.get(key);
        set.is_ok() && got.ok() == Some(value)
    };
    assert!(
        write("before", 1),
        "writes through the sentinel client work"
    );
    let old = master.port;
    master.kill();
    // The client retries until the sentinels hand it the new master.
    assert!(
        wait_until(Duration::from_secs(30), || write("after", 2)),
        "the client never reached the new master"
    );
    let new_port = master_addr(ports[0]).unwrap().1;
    assert_ne!(new_port, old.to_string());
}

#[test]
fn a_hung_master_is_failed_over_and_scripts_run_on_every_sentinel() {
    let (master, r1, r2) = master_and_two_replicas();
    let dir = tempfile::tempdir().unwrap();
    let script = dir.path().join("reconfig.sh");
    std::fs::write(
        &script,
        format!(
            "#!/bin/sh\necho \"$@\" >> {}/reconfig.$PPID.log\nexit 0\n",
            dir.path().display()
        ),
    )
    .unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
    let b = format!(
        "{}sentinel client-reconfig-script mymaster {}\n",
        body(&master, 1000),
        script.display()
    );
    let (_s, ports) = three_rsentinels(&b);
    wait_discovered(&ports, 3);
    let old = master.port.to_string();
    master.signal(libc::SIGSTOP);
    let new_port = wait_switched_away(&ports, &old, "did not switch away from the hung master");
    assert!([r1.port, r2.port].iter().any(|p| p.to_string() == new_port));
    // Each sentinel ran the client-reconfig script once: one as leader,
    // the others as observers, with Redis's argument list.
    let logs = || -> Vec<String> {
        std::fs::read_dir(dir.path())
            .unwrap()
            .filter_map(|e| e.ok())
            .filter(|e| e.file_name().to_string_lossy().ends_with(".log"))
            .flat_map(|e| {
                std::fs::read_to_string(e.path())
                    .unwrap_or_default()
                    .lines()
                    .map(str::to_string)
                    .collect::<Vec<_>>()
            })
            .collect()
    };
    assert!(
        wait_until(Duration::from_secs(10), || logs().len() == 3),
        "{:?}",
        logs()
    );
    let lines = logs();
    let leader = format!("mymaster leader start 127.0.0.1 {old} 127.0.0.1 {new_port}");
    let observer = format!("mymaster observer start 127.0.0.1 {old} 127.0.0.1 {new_port}");
    assert_eq!(
        lines.iter().filter(|l| **l == leader).count(),
        1,
        "{lines:?}"
    );
    assert_eq!(
        lines.iter().filter(|l| **l == observer).count(),
        2,
        "{lines:?}"
    );
    master.signal(libc::SIGCONT);
    // The old master wakes up as a master and is converted.
    assert!(follows(master.port, &new_port, 30));
}

#[test]
fn parallel_syncs_one_reconfigures_replicas_one_at_a_time() {
    let mut master = redis_server(&[]);
    let replicas: Vec<Proc> = (0..3).map(|_| redis_replica(&master)).collect();
    let b = format!(
        "{}sentinel parallel-syncs mymaster 1\n",
        body(&master, 1000)
    );
    let (s, ports) = three_rsentinels(&b);
    wait_discovered_with(&ports, 3, 3);
    let old = master.port.to_string();
    master.kill();
    assert!(wait_until(Duration::from_secs(40), || s
        .iter()
        .any(|p| p.log_text().contains("+failover-end "))));
    let leader = s
        .iter()
        .find(|p| p.log_text().contains("+failover-end "))
        .unwrap();
    let log = leader.log_text();
    // With parallel-syncs 1, a replica is sent SLAVEOF only once the
    // previous one is done.
    let mut in_flight = 0i32;
    for line in log.lines() {
        if line.contains("+slave-reconf-sent ") {
            in_flight += 1;
            assert!(in_flight <= 1, "two replicas reconfiguring at once:\n{log}");
        } else if line.contains("+slave-reconf-done ")
            || line.contains("-slave-reconf-sent-timeout ")
        {
            in_flight -= 1;
        }
    }
    assert_eq!(log.matches("+slave-reconf-sent ").count(), 2, "{log}");
    let new_port = master_addr(ports[0]).unwrap().1;
    assert_ne!(new_port, old);
    for r in replicas.iter().filter(|r| r.port.to_string() != new_port) {
        assert!(follows(r.port, &new_port, 20));
    }
}

#[test]
fn odown_without_a_majority_of_votes_aborts_not_elected() {
    let (mut master, r1, r2) = master_and_two_replicas();
    // Quorum 1: one sentinel alone reaches ODOWN and starts a failover, but
    // the leader still needs a majority of the three to vote for it.
    let b = format!(
        "sentinel monitor mymaster 127.0.0.1 {} 1\n\
         sentinel down-after-milliseconds mymaster 1000\n\
         sentinel failover-timeout mymaster 3000\n",
        master.port
    );
    let (s, ports) = three_rsentinels(&b);
    wait_discovered(&ports, 3);
    s[1].signal(libc::SIGSTOP);
    s[2].signal(libc::SIGSTOP);
    let old = master.port.to_string();
    master.kill();
    assert!(
        wait_until(Duration::from_secs(15), || s[0]
            .log_text()
            .contains("-failover-abort-not-elected master mymaster")),
        "no -failover-abort-not-elected:\n{}",
        s[0].log_text()
    );
    let log = s[0].log_text();
    assert!(log.contains("+try-failover master mymaster"), "{log}");
    assert!(!log.contains("+elected-leader"), "{log}");
    assert_eq!(master_addr(ports[0]).unwrap().1, old);
    assert_eq!(role(r1.port), "slave");
    assert_eq!(role(r2.port), "slave");
    s[1].signal(libc::SIGCONT);
    s[2].signal(libc::SIGCONT);
}

/// A script's way of failing over: wait until every sentinel lists both
/// replicas, then `SENTINEL FAILOVER` once. Discovery is fast enough that
/// a replica's first INFO may still be on its way: that must not make the
/// command fail. Five times, on fresh processes each time.
#[test]
fn failover_right_after_discovery_answers_ok_every_time() {
    for round in 0..5 {
        let (master, _r1, _r2) = master_and_two_replicas();
        let (_s, ports) = three_rsentinels(&body(&master, 5000));
        for &p in &ports {
            assert!(
                wait_until(Duration::from_secs(15), || {
                    query(p, &["SENTINEL", "MASTER", "mymaster"])
                        .and_then(|r| field(&r, "num-slaves"))
                        .as_deref()
                        == Some("2")
                }),
                "round {round}: sentinel {p} lists both replicas"
            );
        }
        assert_eq!(
            query(ports[0], &["SENTINEL", "FAILOVER", "mymaster"]),
            Some(Reply::Simple("OK".into())),
            "round {round}"
        );
        wait_switched_away(&ports, &master.port.to_string(), "failed over");
    }
}
