//! End-to-end: the command line answered as redis-sentinel answers it —
//! `--help`, `--version`, a missing config file, no arguments, config from
//! stdin (`-`), and the FATAL CONFIG FILE ERROR block — compared with the
//! real redis-sentinel run the same way: same streams, same exit status,
//! same messages (our name in place of Redis's, one line naming the file
//! added to the FATAL block).

mod support;

use std::io::Write;
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::time::Duration;

use support::*;

/// Runs `which` with `args` in `cwd`, feeding `stdin`; waits for it.
fn run(which: &str, args: &[&str], stdin: &str, cwd: &Path) -> Output {
    let mut child = Command::new(sentinel_program(which))
        .args(args)
        .current_dir(cwd)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut input = child.stdin.take().unwrap();
    // The process may exit without reading it: a broken pipe is fine.
    let _ = input.write_all(stdin.as_bytes());
    drop(input);
    child.wait_with_output().unwrap()
}

/// Both programs run the same way: (redis-sentinel's, ours).
fn both(args: &[&str], stdin: &str, cwd: &Path) -> (Output, Output) {
    (
        run("redis-sentinel", args, stdin, cwd),
        run("rsentinel", args, stdin, cwd),
    )
}

/// Log lines without their `<pid>:X <date> <time>` prefix: `# message`.
fn messages(stdout: &[u8]) -> Vec<String> {
    String::from_utf8_lossy(stdout)
        .lines()
        .map(|l| {
            let parts: Vec<&str> = l.splitn(7, ' ').collect();
            assert!(parts.len() == 7 && parts[0].ends_with(":X"), "{l}");
            format!("{} {}", parts[5], parts[6])
        })
        .collect()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// Our stderr is Redis's FATAL block plus exactly one last line naming
/// `file`.
fn assert_fatal_block_plus_file_line(redis: &Output, ours: &Output, file: &str) {
    let (redis_err, our_err) = (stderr(redis), stderr(ours));
    assert!(
        redis_err.contains("*** FATAL CONFIG FILE ERROR"),
        "{redis_err}"
    );
    assert_eq!(our_err, format!("{redis_err}Config file: {file}\n"));
    assert_eq!(ours.status.code(), redis.status.code());
    assert_eq!(messages(&ours.stdout), messages(&redis.stdout));
}

#[test]
fn help_goes_to_stderr_with_exit_status_1_like_redis_sentinel() {
    let dir = tempfile::tempdir().unwrap();
    for flag in ["--help", "-h"] {
        let (redis, ours) = both(&[flag], "", dir.path());
        assert_eq!(ours.status.code(), redis.status.code(), "{flag}");
        assert_eq!(ours.status.code(), Some(1));
        assert!(redis.stdout.is_empty() && ours.stdout.is_empty(), "{flag}");
        let (redis_err, our_err) = (stderr(&redis), stderr(&ours));
        assert!(
            redis_err.starts_with("Usage: ./redis-server [/path/to/redis.conf] [options] [-]\n"),
            "{redis_err}"
        );
        assert!(
            our_err.starts_with("Usage: rsentinel [/path/to/sentinel.conf] [options] [-]\n"),
            "{our_err}"
        );
        assert!(our_err.contains("rsentinel - (read config from stdin)"));
    }
}

#[test]
fn version_goes_to_stdout_with_exit_status_0_like_redis_sentinel() {
    let dir = tempfile::tempdir().unwrap();
    for flag in ["--version", "-v"] {
        let (redis, ours) = both(&[flag], "", dir.path());
        assert_eq!(ours.status.code(), Some(0), "{flag}");
        assert_eq!(redis.status.code(), Some(0), "{flag}");
        assert!(redis.stderr.is_empty() && ours.stderr.is_empty(), "{flag}");
        let ours = String::from_utf8_lossy(&ours.stdout).into_owned();
        assert_eq!(ours.lines().count(), 1, "{ours}");
        assert!(ours.starts_with("rsentinel v="), "{ours}");
    }
}

#[test]
fn a_missing_config_file_is_a_log_line_on_stdout_like_redis_sentinel() {
    let dir = tempfile::tempdir().unwrap();
    // Relative: both name it made absolute.
    let (redis, ours) = both(&["nope.conf"], "", dir.path());
    assert_eq!(ours.status.code(), redis.status.code());
    assert_eq!(ours.status.code(), Some(1));
    assert!(redis.stderr.is_empty() && ours.stderr.is_empty());
    let expected = format!(
        "# Fatal error, can't open config file '{}': No such file or directory",
        dir.path().join("nope.conf").display()
    );
    assert_eq!(messages(&redis.stdout), vec![expected.clone()]);
    assert_eq!(messages(&ours.stdout), vec![expected]);
}

#[test]
fn no_arguments_is_the_need_for_a_config_file_like_redis_sentinel() {
    let dir = tempfile::tempdir().unwrap();
    for args in [&[][..], &["--port", "0"][..]] {
        let (redis, ours) = both(args, "", dir.path());
        assert_eq!(ours.status.code(), redis.status.code(), "{args:?}");
        assert_eq!(ours.status.code(), Some(1));
        assert!(ours.stderr.is_empty(), "{}", stderr(&ours));
        let needs =
            vec!["# Sentinel needs config file on disk to save state. Exiting...".to_string()];
        assert_eq!(messages(&redis.stdout), needs);
        assert_eq!(messages(&ours.stdout), needs);
    }
}

#[test]
fn config_from_stdin_alone_is_read_then_refused_for_want_of_a_file() {
    let dir = tempfile::tempdir().unwrap();
    let (redis, ours) = both(&["-"], "port 0\n", dir.path());
    assert_eq!(ours.status.code(), redis.status.code());
    assert_eq!(ours.status.code(), Some(1));
    assert_eq!(
        messages(&ours.stdout),
        vec![
            "# Reading config from stdin".to_string(),
            "# Sentinel needs config file on disk to save state. Exiting...".to_string()
        ]
    );
    assert_eq!(messages(&ours.stdout), messages(&redis.stdout));

    // A bad line in it is reported first, at its line in stdin.
    let (redis, ours) = both(&["-", "--hz", "5"], "port 0\nfrob 1\n", dir.path());
    assert_fatal_block_plus_file_line(&redis, &ours, "(standard input)");
    assert!(stderr(&ours).contains("at line 2\n>>> 'frob 1'\n"));
}

#[test]
fn stdin_after_the_file_is_appended_before_the_options() {
    let dir = tempfile::tempdir().unwrap();
    let conf = dir.path().join("s.conf");
    std::fs::write(&conf, "port 0\nbind 127.0.0.1\n").unwrap();
    let conf_arg = conf.display().to_string();
    // Line 3 is stdin's first line; the options follow one newline later.
    let (redis, ours) = both(
        &[&conf_arg, "--loglevel", "verbose", "-"],
        "frob 1\n",
        dir.path(),
    );
    assert_fatal_block_plus_file_line(&redis, &ours, &conf_arg);
    assert!(stderr(&ours).contains("at line 3\n>>> 'frob 1'\n"));
    // stdin's own newline, then the separator: the option is line 5.
    let (redis, ours) = both(&[&conf_arg, "--hz", "x", "-"], "\n", dir.path());
    assert_fatal_block_plus_file_line(&redis, &ours, &conf_arg);
    assert!(stderr(&ours).contains("at line 5\n>>> 'hz \"x\"'\n"));
    // A `-` between the file and the options is an option value instead.
    let (redis, ours) = both(&[&conf_arg, "-", "--hz", "5"], "", dir.path());
    assert_fatal_block_plus_file_line(&redis, &ours, &conf_arg);
    assert!(stderr(&ours).contains(">>> '\"-\"'\n"));
}

/// A child killed (only it) and reaped on drop.
struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn a_sentinel_takes_its_port_from_stdin_after_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let conf = dir.path().join("s.conf");
    std::fs::write(&conf, "bind 127.0.0.1\nport 0\n").unwrap();
    let port = free_port();
    let mut child = Command::new(sentinel_program("rsentinel"))
        .arg(&conf)
        .arg("-")
        .current_dir(dir.path())
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut input = child.stdin.take().unwrap();
    input
        .write_all(format!("port {port}\n").as_bytes())
        .unwrap();
    drop(input);
    let _running = Running(child);
    assert!(wait_until(Duration::from_secs(10), || {
        matches!(query(port, &["PING"]), Some(Reply::Simple(s)) if s == "PONG")
    }));
}

#[test]
fn a_fatal_config_error_is_redis_sentinels_block_plus_one_line_naming_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let conf = dir.path().join("s.conf");
    let conf_arg = conf.display().to_string();
    for text in [
        "port 0\n# a comment\nsentinel monitor mymaster 127.0.0.1 6379 0\n",
        "port 0\nfrobnicate yes\n",
        // Redis checks the log file after the last line: no line part.
        "port 0\nlogfile /nonexistent/x.log\nbind 127.0.0.1\n",
    ] {
        std::fs::write(&conf, text).unwrap();
        let (redis, ours) = both(&[&conf_arg], "", dir.path());
        assert_fatal_block_plus_file_line(&redis, &ours, &conf_arg);
    }
}
