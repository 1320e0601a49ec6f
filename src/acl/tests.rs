//! Unit tests of rule parsing, rule descriptions, permission checks and the
//! `ACL` subcommands. Expected strings come from redis-sentinel 7.0.15.

use super::*;

fn argv(words: &[&str]) -> Vec<Vec<u8>> {
    words.iter().map(|w| w.as_bytes().to_vec()).collect()
}

fn acl_cmd(acl: &mut Acl, words: &[&str]) -> Reply {
    acl.acl_command("default", &argv(words)).reply
}

fn setuser(acl: &mut Acl, name: &str, rules: &[&str]) -> Reply {
    let mut words = vec!["ACL", "SETUSER", name];
    words.extend_from_slice(rules);
    acl_cmd(acl, &words)
}

fn line_of(acl: &Acl, name: &str) -> String {
    String::from_utf8(acl.user(name).unwrap().describe()).unwrap()
}

/// Redis lists single-command fixes in hash-table order (random per
/// process); compare the category prefix exactly and the rest as a set.
fn assert_same_rules(ours: &str, redis: &str) {
    let split = |s: &str| {
        let toks: Vec<String> = s.split(' ').map(String::from).collect();
        let cats = toks
            .iter()
            .take_while(|t| t.starts_with("+@") || t.starts_with("-@"))
            .cloned()
            .collect::<Vec<_>>();
        let mut rest = toks[cats.len()..].to_vec();
        rest.sort();
        (cats, rest)
    };
    assert_eq!(split(ours), split(redis), "ours: {ours}\nredis: {redis}");
}

fn rules_after(rules: &[&str]) -> String {
    let mut acl = Acl::new();
    assert_eq!(setuser(&mut acl, "u", rules), Reply::ok());
    String::from_utf8(describe::describe_commands(&acl.user("u").unwrap().root)).unwrap()
}

#[test]
fn default_user_is_on_nopass_with_everything() {
    let acl = Acl::new();
    assert_eq!(acl.config_lines(), [b"user default on nopass ~* &* +@all"]);
    assert!(!acl.default_user_requires_auth());
}

#[test]
fn requirepass_sets_the_default_users_only_password() {
    let mut acl = Acl::new();
    acl.set_requirepass(Some(b"foo"));
    assert_eq!(
        acl.config_lines(),
        [b"user default on #2c26b46b68ffc68ff99b453c1d30413413422d706483bfa0f98a5e886266e7ae ~* &* +@all"]
    );
    assert!(acl.default_user_requires_auth());
    assert_eq!(acl.authenticate("default", b"foo"), Ok(()));
    assert_eq!(acl.authenticate("default", b"bar"), Err(wrongpass()));
    acl.set_requirepass(None);
    assert!(!acl.default_user_requires_auth());
}

#[test]
fn passwords_are_their_exact_bytes_even_when_not_utf8() {
    // Lossy UTF-8 would make both of these U+FFFD U+FFFD.
    let mut acl = Acl::new();
    acl.set_requirepass(Some(b"\xff\xfe"));
    assert_eq!(acl.authenticate("default", b"\xff\xfe"), Ok(()));
    assert_eq!(acl.authenticate("default", b"\x80\x81"), Err(wrongpass()));

    let setuser = |acl: &mut Acl, rule: &[u8]| {
        let args: Vec<Vec<u8>> = vec![b"ACL".into(), b"SETUSER".into(), b"u".into(), rule.into()];
        acl.acl_command("default", &args).reply
    };
    assert_eq!(setuser(&mut acl, b"on"), Reply::ok());
    assert_eq!(setuser(&mut acl, b">\xee\x80"), Reply::ok());
    assert_eq!(acl.authenticate("u", b"\xee\x80"), Ok(()));
    assert_eq!(acl.authenticate("u", b"\xee\x81"), Err(wrongpass()));
    assert!(matches!(setuser(&mut acl, b"<\xee\x81"), Reply::Error(_)));
    assert_eq!(setuser(&mut acl, b"<\xee\x80"), Reply::ok());
    assert_eq!(acl.authenticate("u", b"\xee\x80"), Err(wrongpass()));
}

#[test]
fn key_and_channel_patterns_and_first_args_are_kept_as_bytes() {
    let mut acl = Acl::new();
    let line: Vec<Vec<u8>> = [
        &b"u"[..],
        b"on",
        b"~k\xff",
        b"%W~w\xfe",
        b"&c\xfd",
        b"+ping|\xfc",
    ]
    .iter()
    .map(|a| a.to_vec())
    .collect();
    acl.load_user_line(&line).unwrap();
    assert_eq!(
        acl.user("u").unwrap().describe(),
        b"user u on ~k\xff %W~w\xfe resetchannels &c\xfd -@all +ping|\xfc"
    );
}

#[test]
fn new_users_are_off_without_channels_or_commands() {
    let mut acl = Acl::new();
    setuser(&mut acl, "u1", &[]);
    assert_eq!(line_of(&acl, "u1"), "user u1 off resetchannels -@all");
}

#[test]
fn passwords_keys_and_channels_are_described_like_redis() {
    let mut acl = Acl::new();
    let r = setuser(
        &mut acl,
        "u2",
        &[
            "on", ">pass1", ">pass2", "~foo*", "%R~bar", "%W~baz", "%RW~qux", "&chan*", "+@all",
            "-ping",
        ],
    );
    assert_eq!(r, Reply::ok());
    assert_eq!(
        line_of(&acl, "u2"),
        "user u2 on #e6c3da5b206634d7f3f3586d747ffdb36b5c675757b380c6a5fe5c570c714349 \
         #1ba3d16e9881959f8c9a9762854f72c6e6321cdd44358a10a4e939033117eab9 \
         ~foo* %R~bar %W~baz ~qux resetchannels &chan* +@all -ping"
    );
}

#[test]
fn reset_and_nopass_flags_show_in_order() {
    let mut acl = Acl::new();
    setuser(&mut acl, "u17", &["reset"]);
    assert_eq!(
        line_of(&acl, "u17"),
        "user u17 off sanitize-payload resetchannels -@all"
    );
    setuser(&mut acl, "u9", &[&format!("#{}", "a".repeat(64)), "nopass"]);
    assert_eq!(
        line_of(&acl, "u9"),
        "user u9 off nopass resetchannels -@all"
    );
    setuser(&mut acl, "u10", &[">x", "resetpass"]);
    assert_eq!(line_of(&acl, "u10"), "user u10 off resetchannels -@all");
}

#[test]
fn selectors_are_parsed_even_when_split_over_arguments() {
    let mut acl = Acl::new();
    assert_eq!(
        setuser(
            &mut acl,
            "u11",
            &["on", "(~x", "+ping)", "(&y -@all +subscribe)"]
        ),
        Reply::ok()
    );
    assert_eq!(
        line_of(&acl, "u11"),
        "user u11 on resetchannels -@all (~x resetchannels -@all +ping) (resetchannels &y -@all +subscribe)"
    );
    assert_eq!(
        setuser(&mut acl, "e", &["(~x"]),
        Reply::err("Unmatched parenthesis in acl selector starting at '(~x'.")
    );
}

#[test]
fn categories_are_chosen_greedily_like_redis_7_0() {
    assert_eq!(
        rules_after(&["+@pubsub", "+@fast"]),
        "-@all +@pubsub +@fast"
    );
    assert_eq!(
        rules_after(&["+@pubsub", "+@connection"]),
        "-@all +@connection +@pubsub"
    );
    assert_eq!(
        rules_after(&["+@admin", "+@connection"]),
        "-@all +@admin +@fast +@connection -publish"
    );
    assert_eq!(
        rules_after(&["+@all", "-@pubsub", "-@connection"]),
        "+@all -@connection -@pubsub"
    );
    assert_eq!(rules_after(&["+@read"]), "-@all");
    assert_same_rules(
        &rules_after(&["+@slow", "-@admin"]),
        "-@all +@pubsub +@connection -auth -publish -hello -ping +acl -acl|save -acl|users \
         -acl|getuser -acl|setuser -acl|load -acl|deluser -acl|dryrun -acl|log -acl|list \
         +client -client|unpause -client|pause -client|kill -client|list -client|unblock \
         -client|no-evict +info",
    );
}

#[test]
fn single_command_fixes_cover_containers_and_first_args() {
    assert_same_rules(
        &rules_after(&["+info|server", "+client|id", "+client"]),
        "-@all +@connection -auth -hello -command -ping +client +info|server",
    );
    assert_same_rules(
        &rules_after(&["+@all", "-sentinel"]),
        "+@all -@admin +role +shutdown +acl|save +acl|users +acl|getuser +acl|setuser \
         +acl|load +acl|deluser +acl|dryrun +acl|log +acl|list +client|unpause +client|pause \
         +client|kill +client|list +client|unblock +client|no-evict",
    );
    assert_same_rules(
        &rules_after(&["+sentinel", "-sentinel|help"]),
        "-@all +@admin -sentinel|help -role -shutdown -acl|save -acl|users -acl|getuser \
         -acl|setuser -acl|load -acl|deluser -acl|dryrun -acl|log -acl|list -client|unpause \
         -client|pause -client|kill -client|list -client|unblock -client|no-evict",
    );
    assert_eq!(
        rules_after(&["-@all", "+acl", "-acl|setuser"]),
        "-@all +acl -acl|setuser"
    );
}

#[test]
fn bad_rules_fail_with_redis_wording_and_change_nothing() {
    let mut acl = Acl::new();
    setuser(&mut acl, "e1", &["on"]);
    let cases = [
        ("+nosuch", "Unknown command or category name in ACL"),
        ("+@nosuch", "Unknown command or category name in ACL"),
        ("-ping|foo", "Unknown command or category name in ACL"),
        ("+sentinel|nosuch", "Unknown command or category name in ACL"),
        ("+ping|foo|bar", "Unknown command or category name in ACL"),
        ("+sentinel|set|x", "Allowing first-arg of a subcommand is not supported"),
        ("+sentinel|", "Syntax error"),
        ("<nope", "The password you are trying to remove from the user does not exist"),
        ("#abc", "The password hash must be exactly 64 characters and contain only lowercase hexadecimal characters"),
        ("bogus", "Syntax error"),
        ("(on)", "Syntax error"),
        ("%X~a", "Syntax error"),
        ("%~a", "Syntax error"),
    ];
    for (op, msg) in cases {
        assert_eq!(
            setuser(&mut acl, "e1", &["off", op]),
            Reply::err(format!("Error in ACL SETUSER modifier '{op}': {msg}")),
            "{op}"
        );
    }
    assert_eq!(line_of(&acl, "e1"), "user e1 on resetchannels -@all");
    assert_eq!(
        setuser(&mut acl, "e1", &["~*", "~x"]),
        Reply::err("Error in ACL SETUSER modifier '~x': Adding a pattern after the * pattern (or the 'allkeys' flag) is not valid and does not have any effect. Try 'resetkeys' to start with an empty list of patterns")
    );
    assert_eq!(
        setuser(&mut acl, "x y", &["on"]),
        Reply::err("Usernames can't contain spaces or null characters")
    );
}

fn check(acl: &Acl, user: &str, words: &[&str]) -> Result<(), Reply> {
    let args = argv(words);
    let (cmd, sub) = crate::commands::resolve::resolve(&args).unwrap();
    acl.check_command(user, cmd, sub, &args)
}

#[test]
fn denied_commands_get_noperm_with_the_full_name() {
    let mut acl = Acl::new();
    setuser(
        &mut acl,
        "alice",
        &["on", ">pw", "&x*", "+@all", "-sentinel|set", "-ping"],
    );
    assert_eq!(
        check(&acl, "alice", &["sentinel", "set", "a", "b", "c"]),
        Err(Reply::Error(
            "NOPERM this user has no permissions to run the 'sentinel|set' command".into()
        ))
    );
    assert_eq!(check(&acl, "alice", &["PING"]), Err(noperm_command("ping")));
    assert_eq!(check(&acl, "alice", &["sentinel", "masters"]), Ok(()));
    assert_eq!(
        check(&acl, "alice", &["subscribe", "y"]),
        Err(noperm_channel())
    );
    assert_eq!(check(&acl, "alice", &["subscribe", "xa", "xb"]), Ok(()));
    // PSUBSCRIBE patterns must be allowed literally, not by glob.
    assert_eq!(check(&acl, "alice", &["psubscribe", "x*"]), Ok(()));
    assert_eq!(
        check(&acl, "alice", &["psubscribe", "x"]),
        Err(noperm_channel())
    );
    assert_eq!(check(&acl, "alice", &["unsubscribe", "zzz"]), Ok(()));
}

#[test]
fn auth_and_hello_are_always_allowed() {
    let mut acl = Acl::new();
    setuser(&mut acl, "z", &["on", "nopass", "-@all"]);
    assert_eq!(check(&acl, "z", &["auth", "x"]), Ok(()));
    assert_eq!(check(&acl, "z", &["hello"]), Ok(()));
    assert!(check(&acl, "z", &["role"]).is_err());
}

#[test]
fn first_arg_rules_match_without_case() {
    let mut acl = Acl::new();
    setuser(
        &mut acl,
        "z",
        &["on", "nopass", "+info|server", "+info|Clients"],
    );
    assert_eq!(check(&acl, "z", &["info", "SERVER"]), Ok(()));
    assert_eq!(check(&acl, "z", &["info", "clients"]), Ok(()));
    assert_eq!(check(&acl, "z", &["info"]), Err(noperm_command("info")));
}

#[test]
fn any_selector_can_allow_and_the_most_relevant_refusal_is_reported() {
    let mut acl = Acl::new();
    setuser(&mut acl, "w", &["on", "+subscribe", "(+ping)"]);
    assert_eq!(check(&acl, "w", &["ping"]), Ok(()));
    assert_eq!(
        acl_cmd(&mut acl, &["ACL", "DRYRUN", "w", "subscribe", "r"]),
        Reply::bulk("This user has no permissions to access the 'r' channel")
    );
    assert_eq!(
        acl_cmd(&mut acl, &["ACL", "DRYRUN", "w", "role"]),
        Reply::bulk("This user has no permissions to run the 'role' command")
    );
}

#[test]
fn authenticate_refuses_disabled_users_and_accepts_nopass() {
    let mut acl = Acl::new();
    setuser(&mut acl, "bob", &["on", "nopass"]);
    setuser(&mut acl, "carl", &["off", ">pw"]);
    assert_eq!(acl.authenticate("bob", b"anything"), Ok(()));
    assert_eq!(acl.authenticate("carl", b"pw"), Err(wrongpass()));
    assert_eq!(acl.authenticate("nobody", b"x"), Err(wrongpass()));
}

#[test]
fn dryrun_reports_missing_users_commands_and_arity() {
    let mut acl = Acl::new();
    let r = |acl: &mut Acl, w: &[&str]| acl_cmd(acl, w);
    assert_eq!(
        r(&mut acl, &["ACL", "DRYRUN", "nobody", "ping"]),
        Reply::err("User 'nobody' not found")
    );
    assert_eq!(
        r(
            &mut acl,
            &["ACL", "DRYRUN", "default", "sentinel", "nosuch"]
        ),
        Reply::err("Command 'sentinel' not found")
    );
    assert_eq!(
        r(&mut acl, &["ACL", "DRYRUN", "default", "sentinel", "set"]),
        Reply::err("wrong number of arguments for 'sentinel|set' command")
    );
    assert_eq!(
        r(&mut acl, &["ACL", "DRYRUN", "default", "ping"]),
        Reply::ok()
    );
}

#[test]
fn deluser_refuses_default_and_reports_who_to_disconnect() {
    let mut acl = Acl::new();
    setuser(&mut acl, "a", &[]);
    setuser(&mut acl, "b", &[]);
    let out = acl.acl_command("default", &argv(&["ACL", "DELUSER", "a", "default"]));
    assert_eq!(
        out.reply,
        Reply::err("The 'default' user cannot be removed")
    );
    assert!(acl.user("a").is_some());
    let out = acl.acl_command("default", &argv(&["ACL", "DELUSER", "a", "nosuch", "b"]));
    assert_eq!(out.reply, Reply::Int(2));
    assert_eq!(out.users_to_disconnect, ["a", "b"]);
    assert!(out.changed);
}

#[test]
fn genpass_gives_hex_of_the_requested_bits() {
    let mut acl = Acl::with_seed(7);
    let len = |r: Reply| r.as_str().unwrap().len();
    assert_eq!(len(acl_cmd(&mut acl, &["ACL", "GENPASS"])), 64);
    assert_eq!(len(acl_cmd(&mut acl, &["ACL", "GENPASS", "5"])), 2);
    let a = acl_cmd(&mut acl, &["ACL", "GENPASS"]);
    let b = acl_cmd(&mut acl, &["ACL", "GENPASS"]);
    assert_ne!(a, b);
    assert_eq!(
        acl_cmd(&mut acl, &["ACL", "GENPASS", "0"]),
        Reply::err("ACL GENPASS argument must be the number of bits for the output password, a positive number up to 4096")
    );
    assert_eq!(
        acl_cmd(&mut acl, &["ACL", "GENPASS", "1", "2"]),
        Reply::err("unknown subcommand or wrong number of arguments for 'GENPASS'. Try ACL HELP.")
    );
}

#[test]
fn getuser_has_the_seven_zero_shape() {
    let mut acl = Acl::new();
    assert_eq!(
        acl_cmd(&mut acl, &["ACL", "GETUSER", "nosuch"]),
        Reply::Null
    );
    setuser(&mut acl, "u11", &["on", "(~x +ping)"]);
    let expected = Reply::map_of(vec![
        ("flags", Reply::Array(vec![Reply::bulk("on")])),
        ("passwords", Reply::Array(vec![])),
        ("commands", Reply::bulk("-@all")),
        ("keys", Reply::bulk("")),
        ("channels", Reply::bulk("")),
        (
            "selectors",
            Reply::Array(vec![Reply::map_of(vec![
                ("commands", Reply::bulk("-@all +ping")),
                ("keys", Reply::bulk("~x")),
                ("channels", Reply::bulk("")),
            ])]),
        ),
    ]);
    assert_eq!(acl_cmd(&mut acl, &["ACL", "GETUSER", "u11"]), expected);
}

#[test]
fn cat_lists_categories_or_their_commands() {
    let mut acl = Acl::new();
    match acl_cmd(&mut acl, &["ACL", "CAT"]) {
        Reply::Array(c) => assert_eq!(c.len(), 21),
        other => panic!("{other:?}"),
    }
    match acl_cmd(&mut acl, &["ACL", "CAT", "ADMIN"]) {
        Reply::Array(c) => {
            assert!(c.contains(&Reply::bulk("sentinel|set")));
            assert!(!c.contains(&Reply::bulk("sentinel|help")));
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(
        acl_cmd(&mut acl, &["ACL", "CAT", "nosuch"]),
        Reply::err("Unknown category 'nosuch'")
    );
}

#[test]
fn load_and_save_need_an_aclfile() {
    let mut acl = Acl::new();
    let e = acl_cmd(&mut acl, &["ACL", "LOAD"]);
    assert!(e
        .as_str()
        .unwrap()
        .starts_with("ERR This Redis instance is not configured to use an ACL file."));
    assert_eq!(acl_cmd(&mut acl, &["ACL", "SAVE"]), e);
}

#[test]
fn aclfile_round_trips_and_bad_files_change_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("users.acl");
    let mut acl = Acl::new();
    acl.set_aclfile(Some(path.clone()));
    setuser(&mut acl, "bob", &["on", ">x"]);
    assert_eq!(acl_cmd(&mut acl, &["ACL", "SAVE"]), Reply::ok());
    let saved = std::fs::read_to_string(&path).unwrap();
    assert_eq!(
        saved,
        "user bob on #2d711642b726b04401627ca9fbac32f5c8530fb1903cc4db02258717921a4881 resetchannels -@all\n\
         user default on nopass ~* &* +@all\n"
    );
    std::fs::write(&path, "user carl on nopass\n").unwrap();
    let out = acl.acl_command("default", &argv(&["ACL", "LOAD"]));
    assert_eq!(out.reply, Reply::ok());
    assert_eq!(out.users_to_disconnect, ["bob"]);
    assert_eq!(acl.config_lines()[1], b"user default on nopass ~* &* +@all");
    std::fs::write(&path, "user dan on +nosuch\n").unwrap();
    let shown = path.display();
    assert_eq!(
        acl_cmd(&mut acl, &["ACL", "LOAD"]),
        Reply::err(format!("{shown}:1: Error in applying operation '+nosuch': Unknown command or category name in ACL. WARNING: ACL errors detected, no change to the previously active ACL rules was performed"))
    );
    assert!(acl.user("carl").is_some());
}

#[test]
fn user_config_lines_load_and_report_redis_errors() {
    let mut acl = Acl::new();
    let line = |s: &str| s.split(' ').map(String::from).collect::<Vec<_>>();
    acl.load_user_line(&line("alice on >pw &x* +@all -sentinel|set -ping"))
        .unwrap();
    // Redis writes single-command rules in its hash-table order; ours is
    // the table's (alphabetical) order.
    assert_eq!(
        line_of(&acl, "alice"),
        "user alice on #30c952fab122c3f9759f02a6d95c3758b246b4fee239957b2d4fee46e26170c4 resetchannels &x* +@all -ping -sentinel|set"
    );
    acl.load_user_line(&line("default on nopass")).unwrap();
    assert_eq!(
        line_of(&acl, "default"),
        "user default on nopass resetchannels -@all"
    );
    assert_eq!(
        acl.load_user_line(&line("bob on +nosuch")),
        Err("Error loading ACL rule '+nosuch' for the user named 'bob': Unknown command or category name in ACL".into())
    );
    assert_eq!(
        acl.load_user_line(&line("carl on #abc")),
        Err("Error in user declaration 'carl': The password hash must be exactly 64 characters and contain only lowercase hexadecimal characters".into())
    );
    assert_eq!(
        acl.load_user_line(&line("alice off")),
        Err("Error in user declaration 'alice': Duplicate user found. A user can only be defined once in config files".into())
    );
}
