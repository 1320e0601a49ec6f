//! Spawning and reaping the notification and client-reconfig scripts the
//! core asks for ([`Action::RunScript`]); the queue policy (FIFO,
//! concurrency, retries, time limit) is the core's.
//!
//! [`Action::RunScript`]: rsentinel_core::sentinel::Action::RunScript

use std::collections::HashMap;

use rsentinel_core::sentinel::ScriptRun;
use tokio::sync::mpsc;

/// How a script ended, reported to the core with `script_exited`.
#[derive(Debug, PartialEq, Eq)]
pub struct Exited {
    pub id: u64,
    pub code: Option<i32>,
    pub signal: Option<i32>,
}

/// Why a script could not be started.
#[derive(Debug, thiserror::Error)]
pub enum SpawnError {
    /// The file is still open for writing somewhere (e.g. an fd inherited
    /// by a concurrent fork): worth trying again shortly.
    #[error("text file busy")]
    Busy,
    #[error("{0}")]
    Failed(std::io::Error),
}

/// The running scripts' pids, and the channel their exits arrive on.
pub struct Scripts {
    pids: HashMap<u64, u32>,
    done_tx: mpsc::UnboundedSender<Exited>,
    pub done_rx: mpsc::UnboundedReceiver<Exited>,
}

impl Default for Scripts {
    fn default() -> Self {
        Scripts::new()
    }
}

impl Scripts {
    pub fn new() -> Scripts {
        let (done_tx, done_rx) = mpsc::unbounded_channel();
        Scripts {
            pids: HashMap::new(),
            done_tx,
            done_rx,
        }
    }

    /// Starts `run`; its exit arrives on `done_rx`. Returns the pid.
    pub fn spawn(&mut self, run: &ScriptRun) -> Result<u32, SpawnError> {
        let mut cmd = tokio::process::Command::new(program_path(&run.argv[0]));
        cmd.args(&run.argv[1..]).kill_on_drop(false);
        let mut child = cmd.spawn().map_err(|e| {
            if e.raw_os_error() == Some(libc::ETXTBSY) {
                SpawnError::Busy
            } else {
                SpawnError::Failed(e)
            }
        })?;
        let pid = child.id().unwrap_or(0);
        self.pids.insert(run.id, pid);
        let tx = self.done_tx.clone();
        let id = run.id;
        tokio::spawn(async move {
            let (code, signal) = match child.wait().await {
                Ok(s) => {
                    use std::os::unix::process::ExitStatusExt;
                    (s.code(), s.signal())
                }
                Err(_) => (Some(2), None),
            };
            // For the metrics: the core decides whether a failure is retried
            // (signal or exit 1, while retries remain) or final.
            crate::observe::on_script_result(match (code, signal) {
                (Some(0), _) => "ok",
                (Some(1), _) | (_, Some(_)) => "retry",
                _ => "error",
            });
            let _ = tx.send(Exited { id, code, signal });
        });
        Ok(pid)
    }

    /// Forgets a script that exited (before its exit reaches the core).
    pub fn reaped(&mut self, id: u64) {
        self.pids.remove(&id);
    }

    /// SIGKILLs script `id` if it still runs.
    pub fn kill(&self, id: u64) {
        if let Some(&pid) = self.pids.get(&id) {
            // SAFETY: kill(2) has no memory-safety preconditions; the pid is
            // a child we spawned and have not reaped yet.
            unsafe {
                libc::kill(pid as i32, libc::SIGKILL);
            }
        }
    }
}

/// Redis runs a script with `execve`, which never searches `PATH`: a
/// bare `notify.sh` is the file in the current directory (`dir`).
/// `Command` would search `PATH` for a name without a slash, so such a name
/// is made explicitly relative.
fn program_path(script: &str) -> std::path::PathBuf {
    if script.contains('/') {
        script.into()
    } else {
        std::path::Path::new(".").join(script)
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_bare_script_name_is_looked_up_in_the_current_directory() {
        assert_eq!(
            super::program_path("notify.sh").to_str(),
            Some("./notify.sh")
        );
        assert_eq!(super::program_path("../h/n.sh").to_str(), Some("../h/n.sh"));
        assert_eq!(super::program_path("/bin/true").to_str(), Some("/bin/true"));
    }

    use super::*;
    use rsentinel_core::time::Millis;
    use std::os::unix::fs::PermissionsExt;
    use std::time::Duration;

    #[tokio::test]
    async fn a_script_gets_its_arguments_and_its_exit_is_reported() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("out");
        let path = dir.path().join("s.sh");
        std::fs::write(
            &path,
            format!("#!/bin/sh\necho \"$@\" > {}\nexit 3\n", out.display()),
        )
        .unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
        let mut s = Scripts::new();
        let run = ScriptRun {
            id: 7,
            argv: vec![
                path.display().to_string(),
                "+sdown".into(),
                "master m 127.0.0.1 1".into(),
            ],
            deadline: Millis(60_000),
        };
        s.spawn(&run).unwrap();
        let exited = tokio::time::timeout(Duration::from_secs(10), s.done_rx.recv())
            .await
            .unwrap()
            .unwrap();
        assert_eq!(
            exited,
            Exited {
                id: 7,
                code: Some(3),
                signal: None
            }
        );
        assert_eq!(
            std::fs::read_to_string(out).unwrap(),
            "+sdown master m 127.0.0.1 1\n"
        );
    }

    #[test]
    fn a_missing_script_fails_to_spawn() {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let _guard = rt.enter();
        let run = ScriptRun {
            id: 1,
            argv: vec!["/nonexistent/script.sh".into()],
            deadline: Millis(0),
        };
        assert!(matches!(
            Scripts::new().spawn(&run),
            Err(SpawnError::Failed(_))
        ));
    }
}
