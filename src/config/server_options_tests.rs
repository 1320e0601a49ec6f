//! Behaviour of the generic server options: Redis's validation messages and
//! the lines a flush writes for them.

use std::collections::BTreeSet;

use super::read::parse;
use super::rewrite::{rewrite_config, RewriteLine};
use super::server_options::{LogLevel, ServerOptions, Supervised, TlsAuthClients};
use super::ConfigError;

fn sentinel_commands(name: &str) -> bool {
    [
        "ping", "info", "role", "sentinel", "publish", "auth", "hello",
    ]
    .contains(&name)
}

fn apply(options: &mut ServerOptions, line: &str) -> Result<(), String> {
    let args: Vec<String> = line.split_whitespace().map(String::from).collect();
    options.apply(&args, &sentinel_commands)
}

fn error_of(line: &str) -> String {
    apply(&mut ServerOptions::default(), line).unwrap_err()
}

#[test]
fn defaults_are_sentinels() {
    let o = ServerOptions::default();
    assert_eq!(o.port, 26379);
    assert!(!o.protected_mode);
    assert_eq!(o.bind, vec!["*", "-::*"]);
    assert_eq!((o.logfile.as_str(), o.loglevel), ("", LogLevel::Notice));
    assert_eq!((o.maxclients, o.hz), (10000, 10));
    assert!(o.pidfile.is_none() && o.requirepass.is_none() && o.aclfile.is_none());
}

#[test]
fn integers_are_parsed_strictly_with_redis_messages() {
    let unparsable = "argument couldn't be parsed into an integer";
    for bad in [
        "port abc",
        "port 05",
        "port +5",
        "port -0",
        "port 0x10",
        "port 1e3",
    ] {
        assert_eq!(error_of(bad), unparsable, "{bad}");
    }
    assert_eq!(
        error_of("port 70000"),
        "argument must be between 0 and 65535 inclusive"
    );
    assert_eq!(
        error_of("maxclients 0"),
        "argument must be between 1 and 4294967295 inclusive"
    );
    assert_eq!(
        error_of("hz -1"),
        "argument must be between 0 and 2147483647 inclusive"
    );
    let mut o = ServerOptions::default();
    apply(&mut o, "port 6380").unwrap();
    apply(&mut o, "hz 1000").unwrap();
    assert_eq!((o.port, o.hz), (6380, 500));
}

#[test]
fn booleans_and_enums_are_case_insensitive() {
    let mut o = ServerOptions::default();
    apply(&mut o, "Daemonize YES").unwrap();
    apply(&mut o, "loglevel WARNING").unwrap();
    apply(&mut o, "tls-auth-clients optional").unwrap();
    assert!(o.daemonize);
    assert_eq!(o.loglevel, LogLevel::Warning);
    assert_eq!(o.tls.auth_clients, TlsAuthClients::Optional);
    assert_eq!(
        error_of("protected-mode maybe"),
        "argument must be 'yes' or 'no'"
    );
    assert_eq!(
        error_of("loglevel bogus"),
        "argument(s) must be one of the following: debug, verbose, notice, warning"
    );
    assert_eq!(
        error_of("tls-auth-clients maybe"),
        "argument(s) must be one of the following: no, yes, optional"
    );
}

#[test]
fn argument_counts_are_checked() {
    for line in [
        "port",
        "port 1 2",
        "dir",
        "requirepass a b",
        "protected-mode",
    ] {
        assert_eq!(error_of(line), "wrong number of arguments", "{line}");
    }
    for line in [
        "user",
        "rename-command ping",
        "rename-command ping a b",
        "include",
    ] {
        assert_eq!(
            error_of(line),
            "Bad directive or wrong number of arguments",
            "{line}"
        );
    }
}

#[test]
fn other_redis_directives_are_accepted_and_unknown_ones_refused() {
    let mut o = ServerOptions::default();
    for line in [
        "maxmemory 100mb",
        "SLAVEOF 127.0.0.1 6379",
        "appendonly no",
        "save 900 1",
    ] {
        apply(&mut o, line).unwrap();
    }
    let expected = ServerOptions {
        dir: o.dir.clone(),
        ..ServerOptions::default()
    };
    assert_eq!(o, expected);
    assert_eq!(
        error_of("foo bar"),
        "Bad directive or wrong number of arguments"
    );
}

#[test]
fn user_lines_are_collected_raw_in_order() {
    let mut o = ServerOptions::default();
    apply(&mut o, "user default on nopass ~* +@all").unwrap();
    apply(&mut o, "user alice off").unwrap();
    assert_eq!(
        o.users,
        vec![
            vec![&b"default"[..], b"on", b"nopass", b"~*", b"+@all"],
            vec![&b"alice"[..], b"off"]
        ]
    );
}

#[test]
fn rename_command_follows_the_live_command_table() {
    let mut o = ServerOptions::default();
    assert_eq!(
        error_of("rename-command config foo"),
        "No such command in rename-command"
    );
    assert_eq!(
        error_of("rename-command ping role"),
        "Target command name already exists"
    );
    apply(&mut o, "rename-command ROLE whoareyou").unwrap();
    apply(&mut o, "rename-command whoareyou who").unwrap();
    // ROLE is gone now, so its name is free and renaming it fails.
    assert_eq!(
        apply(&mut o, "rename-command role x").unwrap_err(),
        "No such command in rename-command"
    );
    apply(&mut o, "rename-command info role").unwrap();
    o.apply(
        &["rename-command".into(), "PING".into(), String::new()],
        &sentinel_commands,
    )
    .unwrap();
    assert_eq!(o.renamed_commands["role"], "who");
    assert_eq!(o.renamed_commands["info"], "role");
    assert_eq!(o.renamed_commands["ping"], "");
}

#[test]
fn dir_must_exist_and_relative_paths_follow_it() {
    let tmp = tempfile::tempdir().unwrap();
    std::fs::create_dir(tmp.path().join("sub")).unwrap();
    std::fs::write(tmp.path().join("file"), "").unwrap();
    let mut o = ServerOptions::default();
    apply(&mut o, &format!("dir {}", tmp.path().display())).unwrap();
    apply(&mut o, "dir sub").unwrap();
    assert_eq!(o.dir, tmp.path().join("sub"));
    assert_eq!(error_of("dir /nonexistent/x"), "No such file or directory");
    assert_eq!(
        error_of(&format!("dir {}", tmp.path().join("file").display())),
        "Not a directory"
    );
}

#[test]
fn the_log_file_is_opened_in_the_final_dir_after_the_last_line() {
    let tmp = tempfile::tempdir().unwrap();
    std::fs::create_dir(tmp.path().join("sub")).unwrap();
    // `logfile` before `dir`: Redis still opens it inside `dir`.
    let text = format!("logfile s.log\ndir {}\ndir sub\n", tmp.path().display());
    let d = parse(text.as_bytes()).unwrap();
    let o = ServerOptions::from_directives(&d, "/s.conf", &sentinel_commands).unwrap();
    assert_eq!(o.dir, tmp.path().join("sub"));
    assert!(tmp.path().join("sub/s.log").exists());
    assert!(!tmp.path().join("s.log").exists());

    let d = parse(b"port 1\nlogfile /nonexistent/x.log\nport 2\n").unwrap();
    assert_eq!(
        ServerOptions::from_directives(&d, "/s.conf", &sentinel_commands).unwrap_err(),
        ConfigError::Whole {
            reason: "Can't open the log file: No such file or directory".into(),
            file: "/s.conf".into()
        }
    );
}

#[test]
fn latency_percentiles_are_validated() {
    let mut o = ServerOptions::default();
    apply(&mut o, "latency-tracking-info-percentiles 12.5 99.99999").unwrap();
    assert_eq!(o.latency_tracking_info_percentiles, vec![12.5, 99.99999]);
    assert_eq!(
        error_of("latency-tracking-info-percentiles abc"),
        "Invalid latency-tracking-info-percentiles parameters"
    );
    assert_eq!(
        error_of("latency-tracking-info-percentiles 101"),
        "latency-tracking-info-percentiles parameters should sit between [0.0,100.0]"
    );
    o.apply(
        &["latency-tracking-info-percentiles".into(), String::new()],
        &sentinel_commands,
    )
    .unwrap();
    assert!(o.latency_tracking_info_percentiles.is_empty());
}

#[test]
fn a_bad_line_is_reported_with_its_line_number() {
    let d = parse(b"# c\nport 1\n\nloglevel bogus\n").unwrap();
    let err = ServerOptions::from_directives(&d, "/s.conf", &sentinel_commands).unwrap_err();
    assert_eq!(
        err,
        ConfigError::Line {
            line_no: 4,
            line: "loglevel bogus".into(),
            reason: "argument(s) must be one of the following: debug, verbose, notice, warning"
                .into(),
            file: "(config text)".into(),
        }
    );
}

fn texts(lines: &[RewriteLine], forced: bool) -> Vec<String> {
    lines
        .iter()
        .filter(|l| l.force == forced)
        .map(|l| String::from_utf8(l.text.clone()).unwrap())
        .collect()
}

#[test]
fn a_default_sentinel_forces_what_redis_sentinel_adds() {
    let o = ServerOptions {
        dir: "/".into(),
        ..ServerOptions::default()
    };
    let lines = o.rewrite_lines(&["user default on nopass ~* &* +@all".into()]);
    assert_eq!(
        texts(&lines, true),
        vec![
            "port 26379",
            "protected-mode no",
            "dir \"/\"",
            "latency-tracking-info-percentiles 50 99 99.9",
            "user default on nopass ~* &* +@all"
        ]
    );
    let unforced = texts(&lines, false);
    for expected in [
        "daemonize no",
        "loglevel notice",
        "logfile \"\"",
        "hz 10",
        "maxclients 10000",
    ] {
        assert!(unforced.contains(&expected.to_string()), "{expected}");
    }
}

#[test]
fn set_values_are_rendered_and_quoted_like_redis() {
    let d = parse(
        b"Protected-Mode yes\nbind 127.0.0.1   ::1\nlogfile ''\nloglevel NOTICE\n\
          pidfile /tmp/p.pid\nrequirepass \"a b\"\ntls-cert-file /x/y.crt\n\
          tls-protocols \"TLSv1.2 TLSv1.3\"\nbind-source-addr 127.0.0.1\n\
          latency-tracking-info-percentiles 12.5 99.99999\naclfile /tmp/acl\nhz 50\n",
    )
    .unwrap();
    let o = ServerOptions::from_directives(&d, "/s.conf", &sentinel_commands).unwrap();
    let all: Vec<String> = o
        .rewrite_lines(&["user x".into()])
        .into_iter()
        .map(|l| String::from_utf8(l.text).unwrap())
        .collect();
    for expected in [
        "protected-mode yes",
        "bind 127.0.0.1 ::1",
        "logfile \"\"",
        "loglevel notice",
        "pidfile \"/tmp/p.pid\"",
        "requirepass \"a b\"",
        "tls-cert-file \"/x/y.crt\"",
        "tls-protocols \"TLSv1.2 TLSv1.3\"",
        "bind-source-addr \"127.0.0.1\"",
        "latency-tracking-info-percentiles 12.5 99.99999",
        "aclfile \"/tmp/acl\"",
        "hz 50",
    ] {
        assert!(
            all.contains(&expected.to_string()),
            "{expected} not in {all:?}"
        );
    }
    // With an aclfile the users live there, not in the config file.
    assert!(!all.iter().any(|l| l.starts_with("user")));
    assert!(!o.managed_keys().contains("user"));
}

#[test]
fn rewriting_a_hand_written_file_matches_redis_sentinel() {
    // Input and expected output observed with redis-sentinel 7.0.15 and
    // SENTINEL FLUSHCONFIG (generic part; the appended tail is in our order).
    let old = "   # indented comment   \nport 27412   \n\n\n\n# x\r\nPORT 27412\n\
               Protected-Mode yes\nbind 127.0.0.1   ::1\nlogfile ''\nslaveof 127.0.0.1 7777\n\
               rename-command ROLE FOO\nmaxmemory 100mb\n";
    let d = parse(old.as_bytes()).unwrap();
    let mut o = ServerOptions::from_directives(&d, "/s.conf", &sentinel_commands).unwrap();
    o.dir = "/".into();
    let new = rewrite_config(
        old.as_bytes(),
        &o.rewrite_lines(&["user default on nopass ~* &* +@all".into()]),
        &o.managed_keys(),
    );
    assert_eq!(
        String::from_utf8(new).unwrap(),
        "# indented comment\nport 27412\n\n# x\n\nprotected-mode yes\nbind 127.0.0.1 ::1\n\
         logfile \"\"\nslaveof 127.0.0.1 7777\nrename-command ROLE FOO\nmaxmemory 100mb\n\n\
         # Generated by CONFIG REWRITE\ndir \"/\"\n\
         latency-tracking-info-percentiles 50 99 99.9\nuser default on nopass ~* &* +@all\n"
    );
    let keys: BTreeSet<String> = o.managed_keys();
    assert!(keys.contains("port") && keys.contains("user") && !keys.contains("rename-command"));
}

#[test]
fn syslog_and_supervised_are_validated_and_kept_like_redis_sentinel() {
    assert_eq!(
        error_of("syslog-facility bogus"),
        "argument(s) must be one of the following: user, local0, local1, local2, local3, \
         local4, local5, local6, local7"
    );
    assert_eq!(
        error_of("supervised weird"),
        "argument(s) must be one of the following: upstart, systemd, auto, no"
    );
    assert_eq!(
        error_of("syslog-enabled maybe"),
        "argument must be 'yes' or 'no'"
    );
    assert_eq!(error_of("syslog-ident"), "wrong number of arguments");

    let defaults = ServerOptions::default().rewrite_lines(&[]);
    let unforced = texts(&defaults, false);
    for expected in [
        "syslog-enabled no",
        "syslog-ident \"redis\"",
        "syslog-facility local0",
        "supervised no",
    ] {
        assert!(unforced.contains(&expected.to_string()), "{expected}");
    }

    let mut o = ServerOptions::default();
    for line in [
        "syslog-enabled YES",
        "syslog-ident my-id",
        "syslog-facility LOCAL3",
        "supervised Systemd",
    ] {
        apply(&mut o, line).unwrap();
    }
    assert!(o.syslog_enabled);
    assert_eq!(
        (o.syslog_ident.as_str(), o.syslog_facility, o.supervised),
        ("my-id", "local3", Supervised::Systemd)
    );
    let forced = texts(&o.rewrite_lines(&[]), true);
    for expected in [
        "syslog-enabled yes",
        "syslog-ident \"my-id\"",
        "syslog-facility local3",
        "supervised systemd",
    ] {
        assert!(forced.contains(&expected.to_string()), "{expected}");
    }
}
