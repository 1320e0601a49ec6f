//! The command table, `COMMAND` and the dispatch errors compared with a
//! real redis-sentinel 7.0: same reply types, fields and order, except that
//! Redis lists commands in hash-table order (random per process), so lists
//! of commands are compared sorted.

mod support;

use rsentinel::commands::command::command;
use rsentinel::commands::resolve::resolve;
use support::oracle::{from_reply, start_oracle, Value};

fn ours(words: &[&str], resp3: bool) -> Value {
    let args: Vec<Vec<u8>> = words.iter().map(|w| w.as_bytes().to_vec()).collect();
    from_reply(&command(&args, resp3), resp3)
}

/// Sort `COMMAND INFO` entries (and their subcommand lists) by name:
/// Redis walks its hash table, whose order differs per process. Nothing is
/// left out: valkey's `SENTINEL PRIMARY…` aliases work in rsentinel but
/// must not show here, as redis-sentinel 7.0 has no such commands.
fn normalize_info(v: &Value) -> Value {
    let mut entries: Vec<Value> = v
        .items()
        .iter()
        .map(|e| match e {
            Value::Array(f) => {
                let mut f = f.clone();
                if let Value::Array(subs) = &f[9] {
                    f[9] = normalize_info(&Value::Array(subs.clone()));
                }
                Value::Array(f)
            }
            other => other.clone(),
        })
        .collect();
    entries.sort();
    Value::Array(entries)
}

/// Sort the pairs of a docs map (RESP3 map or RESP2 flat array) by name,
/// recursing into `subcommands`.
fn normalize_docs(v: &Value) -> Value {
    let pairs: Vec<(Value, Value)> = match v {
        Value::Map(p) => p.clone(),
        Value::Array(flat) => flat
            .chunks(2)
            .map(|c| (c[0].clone(), c[1].clone()))
            .collect(),
        other => panic!("{other:?}"),
    };
    let mut pairs: Vec<(Value, Value)> = pairs
        .into_iter()
        .map(|(k, d)| (k, normalize_doc_fields(&d)))
        .collect();
    pairs.sort();
    match v {
        Value::Map(_) => Value::Map(pairs),
        _ => Value::Array(pairs.into_iter().flat_map(|(k, v)| [k, v]).collect()),
    }
}

fn normalize_doc_fields(d: &Value) -> Value {
    match d {
        Value::Map(fields) => Value::Map(
            fields
                .iter()
                .map(|(k, v)| match k.text().as_str() {
                    "subcommands" => (k.clone(), normalize_docs(v)),
                    _ => (k.clone(), v.clone()),
                })
                .collect(),
        ),
        Value::Array(flat) => Value::Array(
            flat.chunks(2)
                .flat_map(|c| match c[0].text().as_str() {
                    "subcommands" => [c[0].clone(), normalize_docs(&c[1])],
                    _ => [c[0].clone(), c[1].clone()],
                })
                .collect(),
        ),
        other => other.clone(),
    }
}

fn sorted_names(v: &Value) -> Vec<String> {
    let mut names: Vec<String> = v.items().iter().map(|x| x.text()).collect();
    names.sort();
    names
}

#[test]
fn command_info_and_docs_match_redis_sentinel_in_both_protocols() {
    let oracle = start_oracle("");
    for resp3 in [false, true] {
        let mut redis = oracle.connect(resp3);
        let both = |redis: &mut support::oracle::Conn, w: &[&str]| (redis.cmd(w), ours(w, resp3));

        let (r, o) = both(&mut redis, &["COMMAND"]);
        assert_eq!(
            normalize_info(&o),
            normalize_info(&r),
            "COMMAND resp3={resp3}"
        );
        let (r, o) = both(&mut redis, &["COMMAND", "INFO"]);
        assert_eq!(normalize_info(&o), normalize_info(&r));
        let (r, o) = both(&mut redis, &["COMMAND", "DOCS"]);
        assert_eq!(normalize_docs(&o), normalize_docs(&r), "DOCS resp3={resp3}");

        // Named lookups keep the order asked for: compare them exactly.
        for words in [
            &[
                "COMMAND",
                "INFO",
                "nosuch",
                "PING",
                "sentinel|set",
                "sentinel|",
                "|set",
            ][..],
            &[
                "COMMAND",
                "INFO",
                "ping",
                "ping",
                "publish",
                "hello",
                "client|kill",
            ],
            &[
                "COMMAND",
                "DOCS",
                "nosuch",
                "PinG",
                "SENTINEL|SET",
                "client|tracking",
            ],
            &[
                "COMMAND",
                "DOCS",
                "ping",
                "ping",
                "shutdown",
                "client|pause",
                "get",
            ],
            &["COMMAND", "DOCS", "sentinel|nosuch"],
            &["COMMAND", "INFO", "sentinel|primary", "sentinel|primaries"],
            &["COMMAND", "DOCS", "sentinel|get-primary-addr-by-name"],
            &["COMMAND", "GETKEYS", "sentinel", "primary", "m"],
            &["COMMAND", "COUNT"],
            &["COMMAND", "HELP"],
        ] {
            let (r, o) = both(&mut redis, words);
            assert_eq!(o, r, "{words:?} resp3={resp3}");
        }
    }
}

#[test]
fn command_list_and_filters_match_redis_sentinel() {
    let oracle = start_oracle("");
    let mut redis = oracle.connect(false);
    let mut filters: Vec<Vec<&str>> = vec![
        vec!["COMMAND", "LIST"],
        vec!["COMMAND", "LIST", "FILTERBY", "PATTERN", "s*"],
        vec!["COMMAND", "LIST", "FILTERBY", "pattern", "*|H?LP"],
        vec!["COMMAND", "LIST", "FILTERBY", "MODULE", "sentinel"],
        vec!["COMMAND", "LIST", "FILTERBY", "ACLCAT", "@admin"],
        vec!["COMMAND", "LIST", "FILTERBY", "ACLCAT", "nosuch"],
    ];
    let cats = redis.cmd(&["ACL", "CAT"]);
    let cat_names: Vec<String> = cats.items().iter().map(Value::text).collect();
    for c in &cat_names {
        filters.push(vec!["COMMAND", "LIST", "FILTERBY", "aclcat", c]);
    }
    for words in &filters {
        let r = redis.cmd(words);
        let o = ours(words, false);
        assert_eq!(sorted_names(&o), sorted_names(&r), "{words:?}");
    }
}

#[test]
fn command_errors_match_redis_sentinel() {
    let oracle = start_oracle("");
    let mut redis = oracle.connect(false);
    for words in [
        &["COMMAND", "COUNT", "x"][..],
        &["COMMAND", "GETKEYS"],
        &["COMMAND", "GETKEYS", "ping"],
        &["COMMAND", "GETKEYS", "ping", "a", "b"],
        &["COMMAND", "GETKEYS", "sentinel", "masters"],
        &["COMMAND", "GETKEYS", "sentinel", "nosuch"],
        &["COMMAND", "GETKEYS", "nosuch", "x"],
        &["COMMAND", "GETKEYSANDFLAGS", "get", "x"],
        &["COMMAND", "GETKEYSANDFLAGS", "ping"],
        &["COMMAND", "LIST", "FILTERBY"],
        &["COMMAND", "LIST", "x"],
        &["COMMAND", "LIST", "FILTERBY", "foo", "x"],
        &["COMMAND", "LIST", "FILTERBY", "ACLCAT", "x", "y"],
        &["COMMAND", "FOO"],
        &["command", "Foo", "bar"],
    ] {
        assert_eq!(ours(words, false), redis.cmd(words), "{words:?}");
    }
}

#[test]
fn dispatch_errors_match_redis_sentinel() {
    let oracle = start_oracle("");
    let mut redis = oracle.connect(false);
    let long = "x".repeat(200);
    let many: Vec<String> = (0..40).map(|i| format!("arg{i}")).collect();
    let mut requests: Vec<Vec<&str>> = vec![
        vec!["foo"],
        vec!["foo", "a", "b"],
        vec!["Foo", "a b", "c\"d"],
        vec!["foo", &long, "b"],
        vec![&long],
        vec!["quit"],
        vec!["get", "k"],
        vec!["sentinel"],
        vec!["sentinel", "nosuch"],
        vec!["Sentinel", "nosuch", "x"],
        vec!["sentinel", &long],
        vec!["client", "nosuch"],
        vec!["acl", "nosuch"],
        vec!["sentinel", "set", "a"],
        vec!["sentinel", "SET", "x", "y"],
        vec!["sentinel", "help", "x"],
        vec!["sentinel", "masters", "x"],
        vec!["sentinel", "is-master-down-by-addr", "a"],
        vec!["role", "x"],
        vec!["client"],
        vec!["acl"],
        vec!["publish", "a"],
        vec!["subscribe"],
        vec!["acl", "users", "x"],
    ];
    let mut with_many = vec!["foo"];
    with_many.extend(many.iter().map(String::as_str));
    requests.push(with_many);
    for words in &requests {
        let args: Vec<Vec<u8>> = words.iter().map(|w| w.as_bytes().to_vec()).collect();
        let err = resolve(&args).expect_err("request must be refused");
        assert_eq!(from_reply(&err, false), redis.cmd(words), "{words:?}");
    }
}
