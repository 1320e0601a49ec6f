//! The ACL model compared with a real redis-sentinel 7.0: GETUSER, LIST,
//! CAT, HELP, rule errors, DRYRUN and the `user` lines of a config rewrite.
//! Redis lists single-command rules in hash-table order (random per
//! process), so rule strings are compared as "category prefix exactly, the
//! rest as a set".

mod support;

use rsentinel::acl::Acl;
use support::oracle::{from_reply, sets_as_arrays, start_oracle, Conn, Value};

fn ours(acl: &mut Acl, words: &[&str], resp3: bool) -> Value {
    let args: Vec<Vec<u8>> = words.iter().map(|w| w.as_bytes().to_vec()).collect();
    from_reply(&acl.acl_command("default", &args).reply, resp3)
}

fn rule_key(rules: &str) -> (Vec<String>, Vec<String>) {
    let toks: Vec<String> = rules.split(' ').map(String::from).collect();
    let cats: Vec<String> = toks
        .iter()
        .take_while(|t| t.starts_with("+@") || t.starts_with("-@"))
        .cloned()
        .collect();
    let mut rest = toks[cats.len()..].to_vec();
    rest.sort();
    (cats, rest)
}

/// An `ACL LIST` line with its command rules made order-insensitive.
fn line_key(line: &str) -> (String, (Vec<String>, Vec<String>)) {
    let at = line
        .find(" +@all")
        .or_else(|| line.find(" -@all"))
        .expect("rules start with +@all or -@all");
    let end = line.find(" (").unwrap_or(line.len());
    (
        format!("{}|{}", &line[..at], &line[end..]),
        rule_key(&line[at + 1..end]),
    )
}

fn setuser_both(redis: &mut Conn, acl: &mut Acl, name: &str, rules: &[&str]) {
    let mut words = vec!["ACL", "SETUSER", name];
    words.extend_from_slice(rules);
    assert_eq!(ours(acl, &words, false), redis.cmd(&words), "{words:?}");
}

#[test]
fn fixed_acl_replies_match_redis_sentinel() {
    let oracle = start_oracle("");
    for resp3 in [false, true] {
        let mut redis = oracle.connect(resp3);
        let mut acl = Acl::new();
        for words in [
            &["ACL", "GETUSER", "default"][..],
            &["ACL", "GETUSER", "nosuch"],
            &["ACL", "LIST"],
            &["ACL", "CAT"],
            &["ACL", "CAT", "nosuch"],
            &["ACL", "CAT", "a", "b"],
            &["ACL", "HELP"],
            &["ACL", "USERS"],
            &["ACL", "WHOAMI"],
            &["ACL", "LOG"],
            &["ACL", "LOG", "x"],
            &["ACL", "LOG", "RESET"],
            &["ACL", "LOG", "1", "2"],
            &["ACL", "LOAD"],
            &["ACL", "SAVE"],
            &["ACL", "GENPASS", "0"],
            &["ACL", "GENPASS", "x"],
            &["ACL", "GENPASS", "4097"],
            &["ACL", "DELUSER", "default"],
            &["ACL", "DELUSER", "nosuch"],
            &["ACL", "NOSUCH"],
            &["ACL", "SETUSER", "x y", "on"],
        ] {
            let r = sets_as_arrays(&redis.cmd(words));
            assert_eq!(
                sets_as_arrays(&ours(&mut acl, words, resp3)),
                r,
                "{words:?} resp3={resp3}"
            );
        }
        let genpass = ours(&mut acl, &["ACL", "GENPASS", "5"], resp3);
        assert_eq!(
            genpass.text().len(),
            redis.cmd(&["ACL", "GENPASS", "5"]).text().len()
        );
    }
}

#[test]
fn acl_cat_of_every_category_lists_the_same_commands() {
    let oracle = start_oracle("");
    let mut redis = oracle.connect(false);
    let mut acl = Acl::new();
    let names = |v: &Value| {
        let mut n: Vec<String> = v.items().iter().map(Value::text).collect();
        n.sort();
        n
    };
    let cats = redis.cmd(&["ACL", "CAT"]);
    for cat in cats.items().iter().map(Value::text) {
        let words = ["ACL", "CAT", &cat];
        assert_eq!(
            names(&ours(&mut acl, &words, false)),
            names(&redis.cmd(&words)),
            "{cat}"
        );
    }
}

#[test]
fn setuser_rules_describe_and_fail_like_redis_sentinel() {
    let oracle = start_oracle("");
    let mut redis = oracle.connect(false);
    let mut acl = Acl::new();
    let cases: &[&[&str]] = &[
        &[],
        &[
            "on", ">pass1", ">pass2", "~foo*", "%R~bar", "%W~baz", "%RW~qux", "&chan*", "+@all",
            "-ping",
        ],
        &["+@admin", "-sentinel|set", "+ping"],
        &[
            "+sentinel|set",
            "+sentinel|get-master-addr-by-name",
            "+ping|foo",
        ],
        &["allkeys", "allchannels", "allcommands"],
        &["+@all", "-@admin"],
        &["+@all", "-@all", "+sentinel"],
        &["+@connection", "+@pubsub"],
        &["+@pubsub", "+@fast"],
        &["+@admin", "+@connection"],
        &["+@slow", "-@admin"],
        &["+@all", "-@slow"],
        &["+@dangerous", "+@pubsub"],
        &["+ping", "+auth", "+hello", "+@pubsub"],
        &[
            "#aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
            "nopass",
        ],
        &[">x", "resetpass"],
        &["on", "(~x", "+ping)", "(&y -@all +subscribe)"],
        &["+@all", "-sentinel"],
        &["-@all", "+acl", "-acl|setuser"],
        &["+info|server", "+client|id", "+client"],
        &[
            "nocommands",
            "resetkeys",
            "~a",
            "allkeys",
            "resetchannels",
            "&a",
            "off",
        ],
        &["reset"],
        &["skip-sanitize-payload", "+@read"],
        &["-@all", "+@admin", "-role"],
        &["+@all", "-sentinel|set", "-sentinel|help", "-acl"],
        &["~", "&", "%R", ""],
        &["+nosuch"],
        &["+@nosuch"],
        &["-ping|foo"],
        &["+sentinel|set|x"],
        &["-sentinel|help|x"],
        &["+sentinel|"],
        &["+|x"],
        &["<nope"],
        &["#abc"],
        &["!bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"],
        &["~*", "~x"],
        &["&*", "&x"],
        &["allkeys", "%R~x"],
        &["bogus"],
        &["(~x"],
        &["(on)"],
        &["%X~a"],
        &["%~a"],
    ];
    for (i, rules) in cases.iter().enumerate() {
        setuser_both(&mut redis, &mut acl, &format!("u{i}"), rules);
    }
    let list_ours = ours(&mut acl, &["ACL", "LIST"], false);
    let list_redis = redis.cmd(&["ACL", "LIST"]);
    let ours_lines: Vec<_> = list_ours
        .items()
        .iter()
        .map(|l| line_key(&l.text()))
        .collect();
    let redis_lines: Vec<_> = list_redis
        .items()
        .iter()
        .map(|l| line_key(&l.text()))
        .collect();
    assert_eq!(ours_lines, redis_lines);
}

#[test]
fn dryrun_and_channel_rules_match_redis_sentinel() {
    let oracle = start_oracle("");
    let mut redis = oracle.connect(false);
    let mut redis_resp3 = oracle.connect(true);
    let mut acl = Acl::new();
    setuser_both(
        &mut redis,
        &mut acl,
        "alice",
        &["on", ">pw", "&x*", "+@all", "-sentinel|set", "-ping"],
    );
    setuser_both(
        &mut redis,
        &mut acl,
        "z",
        &[
            "on",
            "nopass",
            "-@all",
            "&a*",
            "+publish",
            "+psubscribe",
            "+subscribe",
            "+info|server",
            "+info|Clients",
        ],
    );
    setuser_both(&mut redis, &mut acl, "w", &["on", "+subscribe", "(+ping)"]);
    setuser_both(
        &mut redis,
        &mut acl,
        "y",
        &["on", ">p", "(+ping &q)", "-@all"],
    );
    for words in [
        &["ACL", "DRYRUN", "alice", "sentinel", "set", "a", "b", "c"][..],
        &["ACL", "DRYRUN", "alice", "ping"],
        &["ACL", "DRYRUN", "alice", "subscribe", "y"],
        &["ACL", "DRYRUN", "alice", "publish", "y", "z"],
        &["ACL", "DRYRUN", "alice", "psubscribe", "x*"],
        &["ACL", "DRYRUN", "alice", "psubscribe", "x"],
        &["ACL", "DRYRUN", "alice", "nosuch"],
        &["ACL", "DRYRUN", "alice", "sentinel", "set"],
        &["ACL", "DRYRUN", "alice", "sentinel", "masters"],
        &["ACL", "DRYRUN", "alice", "sentinel", "nosuch"],
        &["ACL", "DRYRUN", "nobody", "ping"],
        &["ACL", "DRYRUN", "z", "auth", "x"],
        &["ACL", "DRYRUN", "z", "hello"],
        &["ACL", "DRYRUN", "z", "info", "SERVER"],
        &["ACL", "DRYRUN", "z", "info", "clients"],
        &["ACL", "DRYRUN", "z", "info"],
        &["ACL", "DRYRUN", "z", "subscribe", "ab", "b"],
        &["ACL", "DRYRUN", "z", "psubscribe", "a*x"],
        &["ACL", "DRYRUN", "z", "publish", "A1", "x"],
        &["ACL", "DRYRUN", "w", "subscribe", "r"],
        &["ACL", "DRYRUN", "w", "role"],
        &["ACL", "DRYRUN", "w", "ping"],
        &["ACL", "DRYRUN", "y", "subscribe", "q"],
        &["ACL", "DRYRUN", "y", "ping"],
        &["ACL", "USERS"],
    ] {
        assert_eq!(ours(&mut acl, words, false), redis.cmd(words), "{words:?}");
    }
    for user in ["alice", "z", "y"] {
        let words = ["ACL", "GETUSER", user];
        assert_eq!(
            getuser_key(&sets_as_arrays(&ours(&mut acl, &words, true))),
            getuser_key(&sets_as_arrays(&redis_resp3.cmd(&words))),
            "{user}"
        );
    }
}

/// A RESP3 `ACL GETUSER` map with every `commands` rule string made
/// order-insensitive.
fn getuser_key(v: &Value) -> Vec<(String, String)> {
    fn fields(v: &Value, out: &mut Vec<(String, String)>) {
        let Value::Map(pairs) = v else {
            panic!("not a map: {v:?}")
        };
        for (k, v) in pairs {
            let k = k.text();
            match (k.as_str(), v) {
                ("commands", v) => out.push((k, format!("{:?}", rule_key(&v.text())))),
                ("selectors", Value::Array(sels)) => sels.iter().for_each(|s| fields(s, out)),
                (_, v) => out.push((k, format!("{v:?}"))),
            }
        }
    }
    let mut out = Vec::new();
    fields(v, &mut out);
    out
}

#[test]
fn config_rewrite_user_lines_match_redis_sentinel() {
    let alice = "user alice on >pw &x* +@all -sentinel|set -ping";
    let oracle = start_oracle(&format!("requirepass foo\n{alice}\n"));
    let mut redis = oracle.connect(false);
    assert_eq!(redis.cmd(&["AUTH", "foo"]), Value::Simple("OK".into()));
    assert_eq!(
        redis.cmd(&["SENTINEL", "FLUSHCONFIG"]),
        Value::Simple("OK".into())
    );
    let conf = std::fs::read_to_string(oracle.config_path()).unwrap();
    let mut redis_lines: Vec<_> = conf
        .lines()
        .filter(|l| l.starts_with("user "))
        .map(line_key)
        .collect();
    redis_lines.sort();

    let mut acl = Acl::new();
    acl.set_requirepass(Some(b"foo"));
    let words: Vec<String> = alice.split(' ').skip(1).map(String::from).collect();
    acl.load_user_line(&words).unwrap();
    let ours_lines: Vec<_> = acl
        .config_lines()
        .iter()
        .map(|l| line_key(std::str::from_utf8(l).unwrap()))
        .collect();
    assert_eq!(ours_lines, redis_lines);
}

#[test]
fn acl_log_entries_have_redis_sentinel_shape() {
    use rsentinel::commands::resolve::resolve;
    use rsentinel_core::time::Millis;

    let oracle = start_oracle("user alice on >pw &x* +@all -ping\n");
    let mut admin = oracle.connect(false);
    let mut client = oracle.connect(false);
    let mut acl = Acl::new();
    acl.load_user_line(&["alice", "on", ">pw", "&x*", "+@all", "-ping"].map(String::from))
        .unwrap();
    let requests: &[&[&str]] = &[&["PING"], &["PING"], &["SUBSCRIBE", "zz"]];
    assert!(matches!(
        client.cmd(&["AUTH", "alice", "wrong"]),
        Value::Error(_)
    ));
    assert!(acl
        .authenticate_and_log("alice", b"wrong", "id=1", Millis(0))
        .is_err());
    assert_eq!(
        client.cmd(&["AUTH", "alice", "pw"]),
        Value::Simple("OK".into())
    );
    for words in requests {
        let redis_err = client.cmd(words);
        let args: Vec<Vec<u8>> = words.iter().map(|w| w.as_bytes().to_vec()).collect();
        let (cmd, sub) = resolve(&args).unwrap();
        let ours_err = acl
            .check_and_log("alice", cmd, sub, &args, "id=1", Millis(0))
            .unwrap_err();
        assert_eq!(from_reply(&ours_err, false), redis_err, "{words:?}");
    }
    // Client info and age depend on the process: mask them.
    let mask = |v: Value| -> Value {
        Value::Array(
            v.items()
                .iter()
                .map(|e| {
                    let f = e.items();
                    let mut f = f.to_vec();
                    assert_eq!(f[10], Value::bulk("age-seconds"));
                    f[11] = Value::bulk("?");
                    f[13] = Value::bulk("?");
                    Value::Array(f)
                })
                .collect(),
        )
    };
    for words in [&["ACL", "LOG"][..], &["ACL", "LOG", "2"]] {
        assert_eq!(
            mask(ours(&mut acl, words, false)),
            mask(admin.cmd(words)),
            "{words:?}"
        );
    }
    assert_eq!(
        ours(&mut acl, &["ACL", "LOG", "RESET"], false),
        admin.cmd(&["ACL", "LOG", "RESET"])
    );
    assert_eq!(
        ours(&mut acl, &["ACL", "LOG"], false),
        admin.cmd(&["ACL", "LOG"])
    );
}
