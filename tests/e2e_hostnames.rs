//! `resolve-hostnames` / `announce-hostnames` against the real
//! redis-sentinel 7.0: a master monitored as `localhost`, a replica that
//! announces itself as `localhost`, sentinels announcing `localhost`; with
//! `announce-hostnames yes` every reply, event and config line carries the
//! name, with `no` (from the start or switched at runtime) the resolved IP.
//! Only `localhost` is used, which /etc/hosts answers: no DNS query is sent.

mod support;

use std::net::ToSocketAddrs;
use std::time::{Duration, Instant};

use support::*;

/// What Redis announces for `localhost` with `announce-hostnames no`: the
/// first address getaddrinfo gives (Redis's anetResolve takes that one).
fn localhost_ip() -> String {
    ("localhost", 0)
        .to_socket_addrs()
        .expect("localhost resolves from /etc/hosts")
        .next()
        .expect("localhost has an address")
        .ip()
        .to_string()
}

/// The form expected for `localhost` under `announce`.
fn announced(announce: bool) -> String {
    if announce {
        "localhost".into()
    } else {
        localhost_ip()
    }
}

/// A master and a replica announcing itself as `localhost` (on its own
/// port, given explicitly with `replica-announce-port`).
fn master_and_named_replica() -> (Proc, Proc) {
    let master = redis_server(&[]);
    let port = free_port();
    let replica = redis_server_with(
        port,
        &[
            "--replicaof",
            "127.0.0.1",
            &master.port.to_string(),
            "--replica-announce-ip",
            "localhost",
            "--replica-announce-port",
            &port.to_string(),
        ],
    );
    (master, replica)
}

fn body(master: &Proc, announce: bool) -> String {
    format!(
        "sentinel resolve-hostnames yes\n\
         sentinel announce-hostnames {}\n\
         sentinel announce-ip localhost\n\
         sentinel monitor m localhost {} 2\n\
         sentinel failover-timeout m 10000\n",
        if announce { "yes" } else { "no" },
        master.port
    )
}

fn get_master_addr(port: u16) -> Option<(String, String)> {
    match query(port, &["SENTINEL", "GET-MASTER-ADDR-BY-NAME", "m"])? {
        Reply::Array(v) if v.len() == 2 => Some((text(&v[0]), text(&v[1]))),
        _ => None,
    }
}

/// `(name, ip, port)` of each entry of `SENTINEL REPLICAS|SENTINELS m`.
fn listed(port: u16, what: &str) -> Vec<(String, String, String)> {
    match query(port, &["SENTINEL", what, "m"]) {
        Some(Reply::Array(items)) => items
            .iter()
            .map(|r| {
                let f = |k: &str| field(r, k).unwrap_or_default();
                (f("name"), f("ip"), f("port"))
            })
            .collect(),
        _ => Vec::new(),
    }
}

fn master_ip(port: u16) -> String {
    query(port, &["SENTINEL", "MASTER", "m"])
        .and_then(|r| field(&r, "ip"))
        .unwrap_or_default()
}

/// The `sentinel monitor|known-*` lines of a sentinel's flushed config,
/// with the words that differ between two sentinels (run ids, the peer's
/// port) left out; a set, since Redis may list a replica twice (see
/// `check_views`).
fn address_lines(p: &Proc) -> std::collections::BTreeSet<String> {
    assert_eq!(
        query(p.port, &["SENTINEL", "FLUSHCONFIG"]),
        Some(Reply::Simple("OK".into()))
    );
    let text = std::fs::read_to_string(p.path("sentinel.conf")).expect("read config");
    text.lines()
        .filter(|l| {
            l.starts_with("sentinel monitor ")
                || l.starts_with("sentinel known-replica ")
                || l.starts_with("sentinel known-sentinel ")
        })
        .map(|l| {
            let w: Vec<&str> = l.split_whitespace().collect();
            if w[1] == "known-sentinel" {
                w[..4].join(" ")
            } else {
                l.to_string()
            }
        })
        .collect()
}

/// Checks every address the two sentinels show under `announce`.
fn check_views(real: &Proc, ours: &Proc, master: &Proc, replica: &Proc, announce: bool) {
    let host = announced(announce);
    for (p, peer) in [(real, ours), (ours, real)] {
        let who = &p.name;
        assert_eq!(
            get_master_addr(p.port),
            Some((host.clone(), master.port.to_string())),
            "{who}: get-master-addr-by-name"
        );
        assert_eq!(master_ip(p.port), host, "{who}: SENTINEL MASTER ip");
        // After a runtime switch, an INFO reply landing between two checks
        // makes Redis list the replica a second time under its other name
        // (we keep one entry): every entry must show the same address.
        let replicas = listed(p.port, "REPLICAS");
        assert!(!replicas.is_empty(), "{who}: no replica");
        if p.name == "rsentinel" {
            assert_eq!(replicas.len(), 1, "{who}: {replicas:?}");
        }
        for r in &replicas {
            assert_eq!(
                (&r.1, &r.2),
                (&host, &replica.port.to_string()),
                "{who}: SENTINEL REPLICAS ip/port"
            );
        }
        let sentinels = listed(p.port, "SENTINELS");
        assert_eq!(sentinels.len(), 1, "{who}: {sentinels:?}");
        assert_eq!(
            (&sentinels[0].1, &sentinels[0].2),
            (&host, &peer.port.to_string()),
            "{who}: SENTINELS ip/port"
        );
        let info = text(&query(p.port, &["INFO", "sentinel"]).unwrap_or(Reply::Null));
        let address = format!("address={host}:{},", master.port);
        assert!(info.contains(&address), "{who}: INFO sentinel: {info}");
    }
    assert_eq!(
        address_lines(real),
        address_lines(ours),
        "config rewrite: the addresses in the same form"
    );
    let monitor = format!("sentinel monitor m {host} {} 2", master.port);
    assert!(address_lines(ours).contains(&monitor));
}

/// One real redis-sentinel and one rsentinel watching the same master.
fn mixed(announce: bool) -> (Proc, Proc, Proc, Proc) {
    let (master, replica) = master_and_named_replica();
    let real = redis_sentinel(&body(&master, announce));
    let ours = rsentinel(&body(&master, announce));
    for p in [real.port, ours.port] {
        assert!(
            wait_until(Duration::from_secs(20), || {
                listed(p, "REPLICAS").len() == 1 && listed(p, "SENTINELS").len() == 1
            }),
            "sentinel {p} did not discover the replica and the other sentinel"
        );
    }
    (master, replica, real, ours)
}

/// A fixed `announce-hostnames`: the views, and the replica named after
/// its announced address.
fn check_fixed(announce: bool) {
    let (master, replica, real, ours) = mixed(announce);
    check_views(&real, &ours, &master, &replica, announce);
    let name = format!("{}:{}", announced(announce), replica.port);
    assert_eq!(listed(ours.port, "REPLICAS")[0].0, name);
    assert_eq!(listed(real.port, "REPLICAS")[0].0, name);
}

#[test]
fn announce_hostnames_yes_shows_names_everywhere() {
    check_fixed(true);
}

#[test]
fn announce_hostnames_no_shows_resolved_ips() {
    check_fixed(false);
}

#[test]
fn switching_announce_hostnames_off_at_runtime_shows_ips_at_once() {
    let (master, replica, real, ours) = mixed(true);
    check_views(&real, &ours, &master, &replica, true);
    set_announce(&[&real, &ours], "no");
    check_views(&real, &ours, &master, &replica, false);
    // And back: the names were kept beside the IPs (only the config file
    // says `127.0.0.1` now).
    set_announce(&[&real, &ours], "yes");
    check_views(&real, &ours, &master, &replica, true);
    // What we wrote with `announce-hostnames no` loads in redis-sentinel.
    for announce in ["no", "yes"] {
        set_announce(&[&ours], announce);
        assert_eq!(
            query(ours.port, &["SENTINEL", "FLUSHCONFIG"]),
            Some(Reply::Simple("OK".into()))
        );
        let written = std::fs::read_to_string(ours.path("sentinel.conf")).unwrap();
        let loaded = redis_sentinel(&loadable_elsewhere(&written));
        let expected = if announce == "yes" {
            "localhost".into()
        } else {
            localhost_ip()
        };
        assert_eq!(
            get_master_addr(loaded.port),
            Some((expected, master.port.to_string()))
        );
    }
}

/// `SENTINEL CONFIG SET announce-hostnames <value>` on each sentinel.
fn set_announce(sentinels: &[&Proc], value: &str) {
    for p in sentinels {
        let set = ["SENTINEL", "CONFIG", "SET", "announce-hostnames", value];
        assert_eq!(query(p.port, &set), Some(Reply::Simple("OK".into())));
    }
}

/// A config file minus what makes it one process's own (listening
/// address, log, id), so another sentinel can be started on it.
fn loadable_elsewhere(config: &str) -> String {
    config
        .lines()
        .filter(|l| {
            let w = l.split_whitespace().next().unwrap_or("");
            !matches!(w, "port" | "bind" | "logfile" | "pidfile" | "dir")
                && !l.starts_with("sentinel myid ")
        })
        .map(|l| format!("{l}\n"))
        .collect()
}

/// `<channel> <message>` of the `+switch-master` and `+slave` events seen
/// on `c` until `+switch-master` and the `+slave` event for the old master
/// that follows it arrived (or 30 s passed).
fn switch_events(c: &mut Client, old_master: u16) -> Vec<String> {
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut seen: Vec<String> = Vec::new();
    let old = format!(":{old_master} ");
    while Instant::now() < deadline {
        let Ok(Reply::Array(v) | Reply::Push(v)) = c.read() else {
            continue;
        };
        if v.len() == 3 && text(&v[0]) == "message" {
            seen.push(format!("{} {}", text(&v[1]), text(&v[2])));
        }
        let switched = seen.iter().any(|e| e.starts_with("+switch-master "));
        if switched
            && seen
                .iter()
                .any(|e| e.starts_with("+slave ") && e.contains(&old))
        {
            break;
        }
    }
    seen
}

/// A forced failover on a lone sentinel (`bin`): the events it published,
/// with the two data ports replaced by `<M>` and `<R>`.
fn failover(real: bool, announce: bool) -> Vec<String> {
    let (master, replica) = master_and_named_replica();
    let conf = body(&master, announce);
    let s = if real {
        redis_sentinel(&conf)
    } else {
        rsentinel(&conf)
    };
    assert!(
        wait_until(Duration::from_secs(20), || {
            query(s.port, &["SENTINEL", "REPLICAS", "m"]).is_some_and(|r| {
                matches!(&r, Reply::Array(v) if v.len() == 1
                    && field(&v[0], "role-reported").as_deref() == Some("slave")
                    && field(&v[0], "master-link-status").as_deref() == Some("ok"))
            })
        }),
        "{}: the replica was never seen in sync",
        s.name
    );
    let mut events = Client::connect(s.port).unwrap();
    events
        .cmd(&["SUBSCRIBE", "+switch-master", "+slave"])
        .unwrap();
    events.read().unwrap();
    assert_eq!(
        query(s.port, &["SENTINEL", "FAILOVER", "m"]),
        Some(Reply::Simple("OK".into())),
        "{}",
        s.name
    );
    let seen = switch_events(&mut events, master.port);
    assert!(
        wait_until(Duration::from_secs(10), || {
            get_master_addr(s.port).is_some_and(|(_, p)| p == replica.port.to_string())
        }),
        "{}: the replica was not advertised",
        s.name
    );
    seen.iter()
        .map(|e| {
            e.replace(&master.port.to_string(), "<M>")
                .replace(&replica.port.to_string(), "<R>")
        })
        .collect()
}

fn check_failover(announce: bool) {
    let host = announced(announce);
    let expected = vec![
        format!("+switch-master m {host} <M> {host} <R>"),
        format!("+slave slave {host}:<M> {host} <M> @ m {host} <R>"),
    ];
    let ours = failover(false, announce);
    assert_eq!(ours, expected, "rsentinel's events");
    let real = failover(true, announce);
    assert_eq!(real, expected, "redis-sentinel's events");
}

#[test]
fn failover_with_announce_hostnames_yes_switches_to_the_name() {
    check_failover(true);
}

#[test]
fn failover_with_announce_hostnames_no_switches_to_the_ip() {
    check_failover(false);
}
