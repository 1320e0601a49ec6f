//! A child process whose stdout lines a test reads as they come (the
//! `rsentinel elect` commands report on stdout), stderr kept in a file.
//! Killed (SIGKILL) and reaped on drop; only this child.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

pub struct LineProc {
    child: Option<Child>,
    lines: mpsc::Receiver<String>,
    /// Every line read so far, in order.
    pub seen: Vec<String>,
    pub stderr: PathBuf,
}

impl LineProc {
    /// Starts `program args`; stderr goes to `stderr`.
    pub fn spawn(program: &str, args: &[String], stderr: &Path) -> LineProc {
        let mut child = Command::new(program)
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::from(
                std::fs::File::create(stderr).expect("stderr file"),
            ))
            .spawn()
            .unwrap_or_else(|e| panic!("spawn {program}: {e}"));
        let stdout = child.stdout.take().expect("piped stdout");
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    return;
                }
            }
        });
        LineProc {
            child: Some(child),
            lines,
            seen: Vec::new(),
            stderr: stderr.to_path_buf(),
        }
    }

    /// The first line from now on that `pred` accepts, within `timeout`.
    pub fn wait_line(&mut self, timeout: Duration, pred: impl Fn(&str) -> bool) -> Option<String> {
        let deadline = Instant::now() + timeout;
        loop {
            let left = deadline.checked_duration_since(Instant::now())?;
            let line = self.lines.recv_timeout(left).ok()?;
            self.seen.push(line.clone());
            if pred(&line) {
                return Some(line);
            }
        }
    }

    pub fn stderr_text(&self) -> String {
        std::fs::read_to_string(&self.stderr).unwrap_or_default()
    }

    /// Still running (not exited on its own)?
    pub fn is_running(&mut self) -> bool {
        super::child_running(&mut self.child)
    }

    /// Waits for the process to exit by itself; its exit code (-1 for a
    /// signal).
    pub fn wait_exit(&mut self, timeout: Duration) -> Option<i32> {
        super::wait_child_exit(&mut self.child, timeout)
    }

    pub fn pid(&self) -> u32 {
        self.child.as_ref().map_or(0, Child::id)
    }

    pub fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

impl Drop for LineProc {
    fn drop(&mut self) {
        if std::thread::panicking() {
            eprintln!("---- stdout lines seen ----");
            for l in &self.seen {
                eprintln!("{l}");
            }
            eprintln!("---- stderr ----\n{}", self.stderr_text());
        }
        self.kill();
    }
}
