//! Differential tests: the same config and the same commands sent to the
//! real redis-sentinel 7.0 and to rsentinel must give the same replies —
//! same types, same field names in the same order, same error strings —
//! apart from run ids, times and ports.

mod support;

use std::time::Duration;

use support::*;

/// The reply's structure: types, map keys (and array lengths), with leaf
/// values elided. `exact` keeps the leaf values too.
fn shape(r: &Reply, exact: bool) -> String {
    match r {
        Reply::Simple(s) => format!("+{}", if exact { s.as_str() } else { "" }),
        Reply::Error(e) => format!("-{e}"),
        Reply::Int(i) => format!(":{}", if exact { i.to_string() } else { String::new() }),
        Reply::Bulk(b) => format!(
            "${}",
            if exact {
                String::from_utf8_lossy(b).into_owned()
            } else {
                String::new()
            }
        ),
        Reply::Null => "null".into(),
        Reply::NullArray => "nullarray".into(),
        Reply::Double(d) => format!(",{}", if exact { d.as_str() } else { "" }),
        Reply::Array(items) | Reply::Push(items) | Reply::Set(items) => format!(
            "[{}]",
            items
                .iter()
                .map(|i| shape(i, exact))
                .collect::<Vec<_>>()
                .join(",")
        ),
        Reply::Map(pairs) => format!(
            "{{{}}}",
            pairs
                .iter()
                .map(|(k, v)| format!("{}={}", text(k), shape(v, exact)))
                .collect::<Vec<_>>()
                .join(",")
        ),
    }
}

/// A flat RESP2 array of alternating names and values: the names.
fn names_of_flat_map(r: &Reply) -> Vec<String> {
    fields(r).into_iter().map(|(k, _)| k).collect()
}

struct Pair {
    real: Proc,
    ours: Proc,
    _masters: (Proc, Proc),
}

/// Each sentinel watches a master of its own, so they do not discover each
/// other; the master ports are the only difference in their configs.
fn pair() -> Pair {
    let (m1, m2) = (redis_server(&[]), redis_server(&[]));
    let body = |port: u16| {
        format!(
            "sentinel monitor mymaster 127.0.0.1 {port} 2\nsentinel down-after-milliseconds mymaster 5000\n"
        )
    };
    let real = redis_sentinel(&body(m1.port));
    let ours = rsentinel(&body(m2.port));
    // Let both see the master once (role-reported, info-refresh).
    for p in [real.port, ours.port] {
        assert!(wait_until(Duration::from_secs(10), || {
            query(p, &["SENTINEL", "MASTER", "mymaster"])
                .and_then(|r| field(&r, "info-refresh"))
                .is_some_and(|v| v != "0")
        }));
    }
    Pair {
        real,
        ours,
        _masters: (m1, m2),
    }
}

fn both(p: &Pair, args: &[&str]) -> (Reply, Reply) {
    let a = query(p.real.port, args).expect("redis-sentinel answers");
    let b = query(p.ours.port, args).expect("rsentinel answers");
    (a, b)
}

#[test]
fn replies_match_redis_sentinel() {
    let p = pair();
    let exact: &[&[&str]] = &[
        &["PING"],
        &["ROLE"],
        &["SENTINEL", "MASTER", "nope"],
        &["SENTINEL", "GET-MASTER-ADDR-BY-NAME", "nope"],
        &["SENTINEL", "SENTINELS", "mymaster"],
        &["SENTINEL", "CKQUORUM", "mymaster"],
        &["SENTINEL", "CONFIG", "GET", "*"],
        &["SENTINEL", "DEBUG"],
        &["SENTINEL", "SET", "mymaster", "quorum", "0"],
        &[
            "SENTINEL",
            "SET",
            "mymaster",
            "down-after-milliseconds",
            "abc",
        ],
        &["SENTINEL", "SET", "mymaster", "frobnicate", "1"],
        &["SENTINEL", "SET", "nope", "quorum", "1"],
        &["SENTINEL", "MONITOR", "mymaster", "127.0.0.1", "1", "2"],
        &["SENTINEL", "MONITOR", "x", "127.0.0.1", "1", "zero"],
        &["SENTINEL", "MONITOR", "x", "127.0.0.1", "abc", "2"],
        &["SENTINEL", "MONITOR", "x", "not-an-ip", "1", "2"],
        &["SENTINEL", "MONITOR", "x", "127.0.0.1", "1", "0"],
        &["SENTINEL", "HELP"],
        &["SENTINEL", "RESET", "nomatch*"],
        &["SENTINEL", "SIMULATE-FAILURE", "help"],
        &["SENTINEL", "SIMULATE-FAILURE", "bogus"],
        &["SENTINEL", "PENDING-SCRIPTS"],
        &["SENTINEL", "INFO-CACHE", "nope"],
        &["SENTINEL", "FAILOVER", "nope"],
        &["SENTINEL", "REMOVE", "nope"],
        &["SENTINEL", "CONFIG", "SET", "announce-port", "99999"],
        &["SENTINEL", "CONFIG", "SET", "bogus", "1"],
        &["SENTINEL", "DEBUG", "info-period", "0"],
        &["SENTINEL", "DEBUG", "bogus", "1"],
        &[
            "SENTINEL",
            "IS-MASTER-DOWN-BY-ADDR",
            "127.0.0.1",
            "x",
            "0",
            "*",
        ],
        &["SENTINEL"],
        &["SENTINEL", "SET", "m"],
        &["SENTINEL", "BOGUS"],
        &["GET", "foo"],
        &["QUIT"],
        &["PUBLISH", "chan", "msg"],
        &["COMMAND", "COUNT"],
        &["ACL", "WHOAMI"],
        &["ACL", "LIST"],
        &["CLIENT", "GETNAME"],
    ];
    for args in exact {
        let (a, b) = both(&p, args);
        assert_eq!(shape(&b, true), shape(&a, true), "{args:?}");
    }
    let structural: &[&[&str]] = &[
        &["SENTINEL", "MASTERS"],
        &["SENTINEL", "MASTER", "mymaster"],
        &["SENTINEL", "GET-MASTER-ADDR-BY-NAME", "mymaster"],
        &["SENTINEL", "REPLICAS", "mymaster"],
        &["SENTINEL", "MYID"],
        &[
            "SENTINEL",
            "IS-MASTER-DOWN-BY-ADDR",
            "127.0.0.1",
            "1",
            "0",
            "*",
        ],
        &["SENTINEL", "FLUSHCONFIG"],
        &["HELLO", "2"],
    ];
    for args in structural {
        let (a, b) = both(&p, args);
        assert_eq!(shape(&b, false), shape(&a, false), "{args:?}");
    }
}

#[test]
fn instance_map_fields_come_in_redis_order() {
    let p = pair();
    let (a, b) = both(&p, &["SENTINEL", "MASTER", "mymaster"]);
    assert_eq!(names_of_flat_map(&b), names_of_flat_map(&a));
    let (a, b) = both(&p, &["SENTINEL", "GET-MASTER-ADDR-BY-NAME", "mymaster"]);
    assert_eq!(
        b,
        Reply::Array(vec![
            Reply::bulk("127.0.0.1"),
            Reply::bulk(p._masters.1.port.to_string())
        ])
    );
    assert_eq!(shape(&a, false), shape(&b, false), "port as a bulk string");
}

#[test]
fn info_sentinel_has_the_same_fields() {
    let p = pair();
    let (a, b) = both(&p, &["INFO", "sentinel"]);
    let keys = |r: &Reply| -> Vec<String> {
        text(r)
            .lines()
            .map(|l| l.split(':').next().unwrap_or("").to_string())
            .collect()
    };
    assert_eq!(keys(&b), keys(&a));
    let master_line = |r: &Reply, port: u16| -> String {
        text(r)
            .lines()
            .find(|l| l.starts_with("master0:"))
            .unwrap_or("")
            .replace(&port.to_string(), "PORT")
    };
    assert_eq!(
        master_line(&b, p._masters.1.port),
        master_line(&a, p._masters.0.port)
    );
}

#[test]
fn set_applies_options_one_by_one_like_redis() {
    let p = pair();
    let args = [
        "SENTINEL",
        "SET",
        "mymaster",
        "quorum",
        "3",
        "parallel-syncs",
        "0",
    ];
    let (a, b) = both(&p, &args);
    assert_eq!(b, a);
    // The option before the bad one stayed applied in both.
    let (a, b) = both(&p, &["SENTINEL", "MASTER", "mymaster"]);
    assert_eq!(field(&a, "quorum").as_deref(), Some("3"));
    assert_eq!(field(&b, "quorum").as_deref(), Some("3"));
}

/// The errors `SENTINEL` subcommands give for malformed arguments (arity,
/// strict integers, option tables, flag lists) are Redis's, word for word.
/// None of these requests changes state in either sentinel.
#[test]
fn subcommand_argument_errors_match_redis_sentinel() {
    let p = pair();
    let cases: &[&[&str]] = &[
        &["SENTINEL", "SLAVES", "nope"],
        &["SENTINEL", "REPLICAS", "nope"],
        &["SENTINEL", "MYID", "extra"],
        &["SENTINEL", "MASTERS", "extra"],
        &["SENTINEL", "master"],
        &["SENTINEL", "SET", "mymaster", "rename-command", "a"],
        &["SENTINEL", "SET", "mymaster", "rename-command", "", "b"],
        &["SENTINEL", "SET", "mymaster", "rename-command", "a", ""],
        &["SENTINEL", "SET", "mymaster", "notification-script", "/x"],
        &["SENTINEL", "SET", "mymaster", "quorum", "+2"],
        &["SENTINEL", "SET", "mymaster", "failover-timeout", "01"],
        &[
            "SENTINEL",
            "SET",
            "mymaster",
            "master-reboot-down-after-period",
            "-1",
        ],
        &["SENTINEL", "CONFIG", "GET"],
        &["SENTINEL", "CONFIG", "BOGUS", "x"],
        &["SENTINEL", "CONFIG", "SET", "resolve-hostnames", "maybe"],
        // 7.0 takes exactly one pattern / one option-value pair.
        &["SENTINEL", "CONFIG", "GET", "announce-ip", "announce-port"],
        &["SENTINEL", "CONFIG", "SET", "announce-port"],
        &[
            "SENTINEL",
            "CONFIG",
            "SET",
            "resolve-hostnames",
            "no",
            "announce-hostnames",
            "no",
        ],
        &["SENTINEL", "DEBUG", "ping-period"],
        &["SENTINEL", "DEBUG", "ping-period", "+5"],
        &["SENTINEL", "SIMULATE-FAILURE", "bogus", "help"],
        &["SENTINEL", "SIMULATE-FAILURE", "help", "bogus"],
        &[
            "SENTINEL",
            "IS-MASTER-DOWN-BY-ADDR",
            "127.0.0.1",
            "1",
            "+0",
            "*",
        ],
        &["SENTINEL", "IS-MASTER-DOWN-BY-ADDR", "127.0.0.1", "1"],
        &["SENTINEL", "MONITOR", "x", "127.0.0.1", "+1", "2"],
        &["SENTINEL", "MONITOR", "x", "127.0.0.1", "1", "-1"],
        &["SENTINEL", "MONITOR", "x", "127.0.0.1", "1"],
    ];
    for args in cases {
        let (a, b) = both(&p, args);
        assert_eq!(b, a, "{args:?}");
    }
}
