//! End-to-end operations: rsentinel behaves where operators run it —
//! logrotate's rename, local-time timestamps, syslog, JSON logs, SIGHUP,
//! and systemd/upstart supervision — checked on the real binary.

mod support;

use std::os::unix::net::UnixDatagram;
use std::path::Path;
use std::time::{Duration, Instant};

use chrono::{NaiveDateTime, Utc};
use support::*;

const DEADLINE: Duration = Duration::from_secs(10);

/// A datagram socket the test owns at `path`, reading with a short timeout.
fn datagram_socket(path: &Path) -> UnixDatagram {
    let socket = UnixDatagram::bind(path).expect("bind the test's datagram socket");
    socket
        .set_read_timeout(Some(Duration::from_millis(200)))
        .unwrap();
    socket
}

/// Datagrams received on `socket` until one satisfies `done` or the
/// deadline passes (bounded in count too); all of them, in order.
fn receive_until(socket: &UnixDatagram, done: impl Fn(&str) -> bool) -> Vec<String> {
    let deadline = Instant::now() + DEADLINE;
    let mut got = Vec::new();
    let mut buf = [0u8; 8192];
    while Instant::now() < deadline && got.len() < 1000 {
        if let Ok(n) = socket.recv(&mut buf) {
            let text = String::from_utf8_lossy(&buf[..n]).into_owned();
            let finished = done(&text);
            got.push(text);
            if finished {
                break;
            }
        }
    }
    got
}

fn monitor_something(port: u16, name: &str) {
    let unused = free_port().to_string();
    assert_eq!(
        query(
            port,
            &["SENTINEL", "MONITOR", name, "127.0.0.1", &unused, "1"]
        ),
        Some(Reply::Simple("OK".into()))
    );
}

#[test]
fn after_logrotate_renames_the_log_the_next_line_goes_to_a_new_file() {
    let s = rsentinel("");
    let rotated = s.path("sentinel.log.1");
    std::fs::rename(&s.log, &rotated).unwrap();
    assert!(!s.log.exists());

    monitor_something(s.port, "after-rotate");
    assert!(
        wait_until(DEADLINE, || s
            .log_text()
            .contains("+monitor master after-rotate")),
        "no new log file with the line; new: {:?}",
        s.log_text()
    );
    let old = std::fs::read_to_string(&rotated).unwrap();
    assert!(old.contains("Sentinel ID is"), "{old}");
    assert!(!old.contains("after-rotate"), "{old}");
}

/// The timestamp of a Redis-shaped line: `pid:X 01 Dec 2026 11:16:32.123 * ...`.
fn line_time(line: &str) -> NaiveDateTime {
    let stamp: String = line
        .split(' ')
        .skip(1)
        .take(4)
        .collect::<Vec<_>>()
        .join(" ");
    NaiveDateTime::parse_from_str(&stamp, "%d %b %Y %H:%M:%S%.3f")
        .unwrap_or_else(|e| panic!("bad timestamp in {line:?}: {e}"))
}

#[test]
fn timestamps_are_in_the_local_time_zone() {
    let before = Utc::now().naive_utc();
    let mut s = rsentinel_started("", &[], &[("TZ", "Asia/Kolkata")]);
    s.wait_ready(DEADLINE);
    let after = Utc::now().naive_utc();
    let log = s.log_text();
    let line = log
        .lines()
        .find(|l| l.contains("Sentinel ID is"))
        .expect("the sentinel id line");
    // India is UTC+05:30 all year: the line's wall-clock time, moved back
    // by that offset, must fall while the process was starting.
    let as_utc = line_time(line) - chrono::Duration::minutes(5 * 60 + 30);
    let slack = chrono::Duration::seconds(1);
    assert!(
        before - slack <= as_utc && as_utc <= after + slack,
        "{line:?} is not UTC+05:30 (started between {before} and {after} UTC)"
    );
}

#[test]
fn syslog_gets_every_line_with_facility_severity_and_ident() {
    let sockdir = tempfile::tempdir().unwrap();
    let sock_path = sockdir.path().join("log.sock");
    let socket = datagram_socket(&sock_path);
    let mut s = rsentinel_started(
        "syslog-enabled yes\nsyslog-ident rs-test\n",
        &["--syslog-facility", "local3"],
        &[("RSENTINEL_SYSLOG_SOCKET", sock_path.to_str().unwrap())],
    );
    s.wait_ready(DEADLINE);
    let pid = s.pid();
    let lines = receive_until(&socket, |l| l.contains("Sentinel ID is"));
    // local3 = 19; warning = 4, notice = 5.
    let warning = lines
        .iter()
        .find(|l| l.contains("Sentinel ID is"))
        .unwrap_or_else(|| panic!("no Sentinel ID line in {lines:?}"));
    let header = format!(" rs-test[{pid}]: Sentinel ID is ");
    assert!(warning.starts_with("<156>"), "{warning:?}");
    assert!(warning.contains(&header), "{warning:?}");
    // `Mmm dd HH:MM:SS` between the priority and the ident, as glibc sends.
    let stamp = &warning[5..warning.find(&header).unwrap()];
    assert!(
        chrono::NaiveTime::parse_from_str(&stamp[7..], "%H:%M:%S").is_ok() && stamp.len() == 15,
        "{warning:?}"
    );
    let notice = lines
        .iter()
        .find(|l| l.contains("Running mode=sentinel"))
        .unwrap_or_else(|| panic!("no notice line in {lines:?}"));
    assert!(notice.starts_with("<157>"), "{notice:?}");
    assert!(!notice.ends_with('\n'), "{notice:?}");

    // The file still gets the lines, and a flush keeps the settings.
    assert!(s.log_text().contains("Sentinel ID is"));
    assert_eq!(
        query(s.port, &["SENTINEL", "FLUSHCONFIG"]),
        Some(Reply::Simple("OK".into()))
    );
    let conf = std::fs::read_to_string(s.path("sentinel.conf")).unwrap();
    for kept in [
        "syslog-enabled yes",
        "syslog-ident \"rs-test\"",
        "syslog-facility local3",
    ] {
        assert!(conf.contains(kept), "{kept} missing in:\n{conf}");
    }
}

/// Runs `program` on a config with `body` and `args`; it must fail at
/// start: its stderr.
fn start_failure(program: &Path, body: &str, args: &[&str]) -> String {
    let dir = tempfile::tempdir().unwrap();
    let conf = dir.path().join("sentinel.conf");
    std::fs::write(&conf, format!("port {}\n{body}", free_port())).unwrap();
    let out = std::process::Command::new(program)
        .arg(&conf)
        .args(args)
        .output()
        .unwrap();
    assert!(!out.status.success(), "{} started", program.display());
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
fn bad_syslog_and_supervised_values_fail_like_redis_sentinel() {
    let ours = Path::new(env!("CARGO_BIN_EXE_rsentinel"));
    let theirs = require_binary("redis-sentinel");
    for (body, args) in [
        ("syslog-facility bogus\n", &[][..]),
        ("", &["--syslog-facility", "local9"][..]),
        ("supervised sometimes\n", &[][..]),
        ("syslog-enabled maybe\n", &[][..]),
    ] {
        let expected = start_failure(&theirs, body, args);
        assert!(expected.contains("FATAL CONFIG FILE ERROR"), "{expected}");
        // Ours is Redis's block plus one line naming the file.
        let ours = start_failure(ours, body, args);
        let without_file: String = ours
            .lines()
            .filter(|l| !l.starts_with("Config file: "))
            .map(|l| format!("{l}\n"))
            .collect();
        assert_eq!(ours.lines().count(), expected.lines().count() + 1, "{ours}");
        assert_eq!(without_file, expected, "{body}{args:?}");
    }
}

#[test]
fn json_log_format_writes_one_json_object_per_line() {
    let mut s = rsentinel_started("", &[], &[("RSENTINEL_LOG_FORMAT", "json")]);
    s.wait_ready(DEADLINE);
    monitor_something(s.port, "as-json");
    assert!(wait_until(DEADLINE, || s
        .log_text()
        .contains("+monitor master as-json")));
    let log = s.log_text();
    let events: Vec<serde_json::Value> = log
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{l:?}: {e}")))
        .collect();
    let id_line = events
        .iter()
        .find(|e| {
            e["message"]
                .as_str()
                .is_some_and(|m| m.starts_with("Sentinel ID is "))
        })
        .unwrap_or_else(|| panic!("no Sentinel ID event in {log}"));
    assert_eq!(id_line["level"], "WARN", "{id_line}");
    assert!(id_line["timestamp"].is_string(), "{id_line}");
    assert!(events.iter().any(|e| e["message"]
        .as_str()
        .is_some_and(|m| m.starts_with("+monitor master as-json 127.0.0.1 "))));
}

#[test]
fn sighup_is_ignored_and_sigterm_still_stops() {
    let mut s = rsentinel("");
    s.signal(libc::SIGHUP);
    // A process that SIGHUP would kill dies before it can answer again.
    assert_eq!(query(s.port, &["PING"]), Some(Reply::Simple("PONG".into())));
    assert_eq!(
        query(s.port, &["SENTINEL", "MASTERS"]),
        Some(Reply::Array(vec![]))
    );
    assert!(s.is_running());
    s.signal(libc::SIGTERM);
    assert_eq!(s.wait_exit(DEADLINE), Some(0), "a clean exit on SIGTERM");
    assert!(s.log_text().contains("ready to exit, bye bye"));
}

#[test]
fn systemd_supervision_reports_ready_and_stopping_on_notify_socket() {
    let sockdir = tempfile::tempdir().unwrap();
    let sock_path = sockdir.path().join("notify.sock");
    let socket = datagram_socket(&sock_path);
    let mut s = rsentinel_started(
        "",
        &["--supervised", "systemd", "--daemonize", "no"],
        &[("NOTIFY_SOCKET", sock_path.to_str().unwrap())],
    );
    let messages = receive_until(&socket, |m| m.lines().any(|l| l == "READY=1"));
    assert_eq!(
        messages,
        vec![
            "STATUS=Redis is loading...\n",
            "STATUS=Ready to accept connections\nREADY=1\n"
        ]
    );
    // Ready means the listener is bound: PING answers at once.
    assert_eq!(query(s.port, &["PING"]), Some(Reply::Simple("PONG".into())));
    assert_eq!(
        info_value(s.port, "server", "process_supervised").as_deref(),
        Some("systemd")
    );
    assert!(s.log_text().contains("Supervised by systemd."));

    s.signal(libc::SIGTERM);
    let messages = receive_until(&socket, |m| m.contains("STOPPING=1"));
    assert_eq!(messages, vec!["STOPPING=1\n"]);
    assert_eq!(s.wait_exit(DEADLINE), Some(0));
    let conf = std::fs::read_to_string(s.path("sentinel.conf")).unwrap();
    assert!(conf.contains("\nsupervised systemd\n"), "{conf}");
}

/// The state letter of `/proc/<pid>/stat` (`T` = stopped).
fn process_state(pid: u32) -> Option<char> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    stat.rsplit(") ").next()?.chars().next()
}

#[test]
fn upstart_supervision_stops_itself_when_ready() {
    let mut s = rsentinel_started("supervised auto\n", &[], &[("UPSTART_JOB", "rsentinel")]);
    let pid = s.pid();
    assert!(
        wait_until(DEADLINE, || process_state(pid) == Some('T')),
        "not stopped: {:?}",
        process_state(pid)
    );
    s.signal(libc::SIGCONT);
    s.wait_ready(DEADLINE);
    assert_eq!(
        info_value(s.port, "server", "process_supervised").as_deref(),
        Some("upstart")
    );
    // As redis-sentinel does, a rewrite records what `auto` found.
    assert_eq!(
        query(s.port, &["SENTINEL", "FLUSHCONFIG"]),
        Some(Reply::Simple("OK".into()))
    );
    let conf = std::fs::read_to_string(s.path("sentinel.conf")).unwrap();
    assert!(conf.contains("\nsupervised upstart\n"), "{conf}");
}

#[test]
fn unsupervised_info_says_no() {
    let s = rsentinel("");
    assert_eq!(
        info_value(s.port, "server", "process_supervised").as_deref(),
        Some("no")
    );
}

/// Freed heap memory is handed back to the kernel by a thread of its own
/// (glibc keeps free pages inside its arenas otherwise; see
/// `src/heap_trim.rs`): it runs from start-up on.
#[test]
fn a_heap_trimming_thread_runs_beside_the_runtime() {
    let s = rsentinel("");
    let threads = || -> Vec<String> {
        let dir = format!("/proc/{}/task", s.pid());
        std::fs::read_dir(dir)
            .map(|d| {
                d.flatten()
                    .filter_map(|t| std::fs::read_to_string(t.path().join("comm")).ok())
                    .map(|c| c.trim().to_string())
                    .collect()
            })
            .unwrap_or_default()
    };
    let deadline = Instant::now() + DEADLINE;
    while !threads().iter().any(|t| t == "heap-trim") && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(
        threads().iter().any(|t| t == "heap-trim"),
        "threads: {:?}",
        threads()
    );
}
