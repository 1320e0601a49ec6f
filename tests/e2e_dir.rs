//! End-to-end: `dir` honoured the way redis-sentinel honours it. Every
//! relative path (logfile, pidfile, aclfile, scripts) resolves inside `dir`,
//! whatever the order of the lines, and a sentinel restarted on its own
//! rewritten config starts. Each check runs on the real redis-sentinel too.

mod support;

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::time::Duration;

use support::*;

const BOTH: [&str; 2] = ["redis-sentinel", "rsentinel"];

/// Starts `which` from a new launch directory holding `sentinel.conf`
/// (`port`, `bind`, then `body`) and an empty `inst/`, with the relative
/// config path and `extra` arguments. `prepare` may add files first.
fn start(which: &str, body: &str, extra: &[&str], prepare: impl FnOnce(&Path)) -> Proc {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    std::fs::create_dir(dir.path().join("inst")).unwrap();
    std::fs::write(
        dir.path().join("sentinel.conf"),
        format!("port {port}\nbind 127.0.0.1\n{body}"),
    )
    .unwrap();
    prepare(dir.path());
    let mut args = vec!["sentinel.conf".to_string()];
    args.extend(extra.iter().map(|a| a.to_string()));
    let cwd = dir.path().to_path_buf();
    let log = cwd.join("inst/log.txt");
    sentinel_in(which, &cwd, dir, &args, port, log)
}

fn ok() -> Reply {
    Reply::Simple("OK".into())
}

#[test]
fn relative_logfile_and_pidfile_land_inside_dir_even_when_dir_comes_later() {
    for which in BOTH {
        for (body, extra) in [
            (
                "logfile \"log.txt\"\npidfile \"p.pid\"\ndir \"inst\"\n",
                &[][..],
            ),
            (
                "logfile \"log.txt\"\npidfile \"p.pid\"\n",
                &["--dir", "inst"][..],
            ),
        ] {
            let s = start(which, body, extra, |_| {});
            assert!(
                wait_until(Duration::from_secs(5), || s
                    .log_text()
                    .contains("Sentinel ID is")),
                "{which} {extra:?}: no log inside dir"
            );
            let pid = std::fs::read_to_string(s.path("inst/p.pid")).unwrap();
            assert_eq!(pid.trim(), s.pid().to_string(), "{which} {extra:?}");
            for stray in ["log.txt", "p.pid"] {
                assert!(
                    !s.path(stray).exists(),
                    "{which} {extra:?} wrote {stray} in the launch dir"
                );
            }
        }
    }
}

#[test]
fn three_sentinels_launched_from_one_dir_keep_a_log_each_in_their_own_dir() {
    let launch = tempfile::tempdir().unwrap();
    let sentinels: Vec<Proc> = free_ports(3)
        .into_iter()
        .enumerate()
        .map(|(i, port)| {
            let inst = tempfile::tempdir().unwrap();
            let conf = format!("s{i}.conf");
            std::fs::write(
                launch.path().join(&conf),
                format!(
                    "port {port}\nbind 127.0.0.1\ndir \"{}\"\nlogfile \"log.txt\"\n",
                    inst.path().display()
                ),
            )
            .unwrap();
            let log = inst.path().join("log.txt");
            sentinel_in("rsentinel", launch.path(), inst, &[conf], port, log)
        })
        .collect();
    for s in &sentinels {
        assert!(wait_until(Duration::from_secs(5), || s
            .log_text()
            .contains("Sentinel ID is")));
        let mine = format!("{}:X ", s.pid());
        let log = s.log_text();
        assert!(log.lines().all(|l| l.starts_with(&mine)), "{log}");
    }
    assert!(!launch.path().join("log.txt").exists());
}

#[test]
fn a_relative_script_set_at_runtime_still_starts_and_runs_after_a_restart() {
    for which in BOTH {
        // A live master, killed only once the script is set: its +sdown
        // must come after SENTINEL SET, however slow the machine is.
        let mut master = redis_server(&[]);
        let body = format!(
            "dir \"inst\"\nsentinel deny-scripts-reconfig no\n\
             sentinel monitor m 127.0.0.1 {} 1\n\
             sentinel down-after-milliseconds m 200\n",
            master.port
        );
        let mut s = start(which, &body, &[], |launch| {
            // Writes into its current directory: the sentinel's `dir`.
            let script = launch.join("notify.sh");
            std::fs::write(&script, "#!/bin/sh\necho \"$@\" >> notified.txt\n").unwrap();
            std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
        });
        let mut c = Client::connect(s.port).unwrap();
        // Relative to `dir` (inst/), as Redis resolves it at runtime.
        assert_eq!(
            c.cmd(&["SENTINEL", "SET", "m", "notification-script", "notify.sh"])
                .unwrap(),
            Reply::Error("ERR Notification script seems non existing or non executable".into()),
            "{which}"
        );
        assert_eq!(
            c.cmd(&[
                "SENTINEL",
                "SET",
                "m",
                "notification-script",
                "../notify.sh"
            ])
            .unwrap(),
            ok(),
            "{which}"
        );
        drop(c);
        master.kill();
        let notified = s.path("inst/notified.txt");
        let sdown_notified =
            || std::fs::read_to_string(&notified).is_ok_and(|t| t.contains("+sdown master m"));
        assert!(
            wait_until(Duration::from_secs(10), sdown_notified),
            "{which}: script not run in dir"
        );

        // Restart on the rewritten config from somewhere else entirely.
        std::fs::remove_file(&notified).unwrap();
        let elsewhere = tempfile::tempdir().unwrap();
        let conf = s.path("sentinel.conf").display().to_string();
        s.restart_from(elsewhere.path(), &[conf]);
        let master = query(s.port, &["SENTINEL", "MASTER", "m"]).unwrap();
        assert_eq!(
            field(&master, "notification-script").as_deref(),
            Some("../notify.sh"),
            "{which}"
        );
        assert!(
            wait_until(Duration::from_secs(10), sdown_notified),
            "{which}: script not run after the restart"
        );
    }
}

#[test]
fn a_relative_aclfile_is_read_inside_dir() {
    for which in BOTH {
        let s = start(
            which,
            "aclfile \"users.acl\"\ndir \"inst\"\n",
            &[],
            |launch| {
                std::fs::write(
                    launch.join("inst/users.acl"),
                    "user alice on >wonderland ~* &* +@all\n",
                )
                .unwrap();
            },
        );
        let mut c = Client::connect(s.port).unwrap();
        assert_eq!(
            c.cmd(&["AUTH", "alice", "wonderland"]).unwrap(),
            ok(),
            "{which}"
        );
        assert_eq!(c.cmd(&["ACL", "WHOAMI"]).unwrap(), Reply::bulk("alice"));
    }
}
