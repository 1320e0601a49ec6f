//! Notification and client-reconfig scripts, run the way Redis runs them: a
//! FIFO of at most 256 jobs, at most 16 running, a retry with doubling delay
//! when a script exits 1 or dies from a signal, a 60 s time limit.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use rsentinel_core::reply::Reply;
use tokio::sync::mpsc;

const MAX_QUEUE: usize = 256;
const MAX_RUNNING: usize = 16;
const MAX_RETRY: u32 = 10;

struct Job {
    id: u64,
    argv: Vec<String>,
    retry_num: u32,
    /// Running since, with its pid.
    running: Option<(Instant, u32)>,
    /// Not to be started before.
    not_before: Instant,
}

/// How a finished script ended.
#[derive(Debug)]
pub struct Finished {
    id: u64,
    code: Option<i32>,
    signal: Option<i32>,
}

/// What the driver should log/publish about a script.
#[derive(Debug, PartialEq, Eq)]
pub enum ScriptEvent {
    Error {
        path: String,
        signal: i32,
        code: i32,
    },
    Timeout {
        path: String,
        pid: u32,
    },
}

pub struct Scripts {
    jobs: VecDeque<Job>,
    next_id: u64,
    done_tx: mpsc::UnboundedSender<Finished>,
    pub done_rx: mpsc::UnboundedReceiver<Finished>,
    max_runtime: Duration,
    retry_delay: Duration,
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
            jobs: VecDeque::new(),
            next_id: 1,
            done_tx,
            done_rx,
            max_runtime: Duration::from_secs(60),
            retry_delay: Duration::from_secs(30),
        }
    }

    pub fn set_limits(&mut self, max_runtime_ms: u64, retry_delay_ms: u64) {
        self.max_runtime = Duration::from_millis(max_runtime_ms);
        self.retry_delay = Duration::from_millis(retry_delay_ms);
    }

    /// Queues `argv` (path first). On overflow the oldest job that is not
    /// running is dropped, as Redis does.
    pub fn queue(&mut self, argv: Vec<String>, now: Instant) {
        if self.jobs.len() >= MAX_QUEUE {
            if let Some(pos) = self.jobs.iter().position(|j| j.running.is_none()) {
                self.jobs.remove(pos);
            }
        }
        self.jobs.push_back(Job {
            id: self.next_id,
            argv,
            retry_num: 0,
            running: None,
            not_before: now,
        });
        self.next_id += 1;
    }

    pub fn running(&self) -> usize {
        self.jobs.iter().filter(|j| j.running.is_some()).count()
    }

    pub fn queued(&self) -> usize {
        self.jobs.len()
    }

    /// Starts due jobs and kills overdue ones.
    pub fn run_pending(&mut self, now: Instant) -> Vec<ScriptEvent> {
        let mut events = Vec::new();
        let mut running = self.running();
        let mut failed = Vec::new();
        for job in self.jobs.iter_mut() {
            if let Some((since, pid)) = job.running {
                if now.duration_since(since) > self.max_runtime {
                    // SAFETY: kill(2) has no memory-safety preconditions; the pid
                    // is a child we spawned.
                    unsafe {
                        libc::kill(pid as i32, libc::SIGKILL);
                    }
                    events.push(ScriptEvent::Timeout {
                        path: job.argv[0].clone(),
                        pid,
                    });
                }
                continue;
            }
            if running >= MAX_RUNNING || job.not_before > now {
                continue;
            }
            let mut cmd = tokio::process::Command::new(program_path(&job.argv[0]));
            cmd.args(&job.argv[1..]).kill_on_drop(false);
            match cmd.spawn() {
                Ok(mut child) => {
                    let pid = child.id().unwrap_or(0);
                    job.running = Some((now, pid));
                    job.retry_num += 1;
                    running += 1;
                    let tx = self.done_tx.clone();
                    let id = job.id;
                    tokio::spawn(async move {
                        let status = child.wait().await;
                        let (code, signal) = match status {
                            Ok(s) => {
                                use std::os::unix::process::ExitStatusExt;
                                (s.code(), s.signal())
                            }
                            Err(_) => (Some(2), None),
                        };
                        let _ = tx.send(Finished { id, code, signal });
                    });
                }
                // A script file still open for writing somewhere (e.g. an fd
                // inherited by a concurrent fork) cannot be executed yet:
                // that is transient, so try again shortly.
                Err(e) if e.raw_os_error() == Some(libc::ETXTBSY) => {
                    job.not_before = now + Duration::from_millis(10);
                }
                Err(e) => {
                    tracing::warn!("Error spawning {}: {e}", job.argv[0]);
                    failed.push(job.id)
                }
            }
        }
        for id in failed {
            if let Some(pos) = self.jobs.iter().position(|j| j.id == id) {
                let job = self.jobs.remove(pos).expect("position is valid");
                events.push(ScriptEvent::Error {
                    path: job.argv[0].clone(),
                    signal: 99,
                    code: 0,
                });
            }
        }
        events
    }

    /// Records a finished script: done, retried later, or failed for good.
    pub fn finished(&mut self, f: Finished, now: Instant) -> Option<ScriptEvent> {
        let pos = self.jobs.iter().position(|j| j.id == f.id)?;
        let retry = f.signal.is_some() || f.code == Some(1);
        crate::observe::on_script_result(match (f.code, retry) {
            (Some(0), _) => "ok",
            (_, true) => "retry",
            _ => "error",
        });
        let job = &mut self.jobs[pos];
        job.running = None;
        if f.code == Some(0) {
            self.jobs.remove(pos);
            return None;
        }
        if retry && job.retry_num < MAX_RETRY {
            let factor = 1u32 << (job.retry_num.saturating_sub(1)).min(16);
            job.not_before = now + self.retry_delay * factor;
            return None;
        }
        let job = self.jobs.remove(pos)?;
        Some(ScriptEvent::Error {
            path: job.argv[0].clone(),
            signal: f.signal.unwrap_or(0),
            code: f.code.unwrap_or(0),
        })
    }

    /// `SENTINEL PENDING-SCRIPTS`.
    pub fn pending_reply(&self, now: Instant) -> Reply {
        Reply::Array(
            self.jobs
                .iter()
                .map(|j| {
                    let mut pairs = vec![
                        (
                            "argv",
                            Reply::Array(j.argv.iter().map(Reply::bulk).collect()),
                        ),
                        (
                            "flags",
                            Reply::bulk(if j.running.is_some() {
                                "running"
                            } else {
                                "scheduled"
                            }),
                        ),
                        (
                            "pid",
                            Reply::bulk_int(j.running.map_or(0, |(_, p)| p as i64)),
                        ),
                    ];
                    match j.running {
                        Some((since, _)) => pairs.push((
                            "run-time",
                            Reply::bulk_int(now.duration_since(since).as_millis() as i64),
                        )),
                        None => pairs.push((
                            "run-delay",
                            Reply::bulk_int(
                                j.not_before.saturating_duration_since(now).as_millis() as i64,
                            ),
                        )),
                    }
                    pairs.push(("retry-num", Reply::bulk_int(j.retry_num as i64)));
                    Reply::map_of(pairs)
                })
                .collect(),
        )
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
    use std::os::unix::fs::PermissionsExt;

    fn script(dir: &std::path::Path, body: &str) -> String {
        let path = dir.join("s.sh");
        std::fs::write(&path, format!("#!/bin/sh\n{body}\n")).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
        path.display().to_string()
    }

    /// Runs the queue until it is empty or `limit` passes; the events.
    async fn drive(s: &mut Scripts, limit: Duration) -> Vec<ScriptEvent> {
        let deadline = Instant::now() + limit;
        let mut events = Vec::new();
        while s.queued() > 0 && Instant::now() < deadline {
            events.extend(s.run_pending(Instant::now()));
            if let Ok(Some(done)) =
                tokio::time::timeout(Duration::from_millis(50), s.done_rx.recv()).await
            {
                events.extend(s.finished(done, Instant::now()));
            }
        }
        events
    }

    #[tokio::test]
    async fn a_script_gets_its_arguments_and_leaves_the_queue() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("out");
        let path = script(dir.path(), &format!("echo \"$@\" > {}", out.display()));
        let mut s = Scripts::new();
        s.queue(
            vec![path, "+sdown".into(), "master m 127.0.0.1 1".into()],
            Instant::now(),
        );
        assert_eq!(drive(&mut s, Duration::from_secs(5)).await, vec![]);
        assert_eq!(s.queued(), 0);
        assert_eq!(
            std::fs::read_to_string(out).unwrap(),
            "+sdown master m 127.0.0.1 1\n"
        );
    }

    #[tokio::test]
    async fn exit_two_is_a_script_error_and_exit_one_is_retried() {
        let dir = tempfile::tempdir().unwrap();
        let fails = script(dir.path(), "exit 2");
        let mut s = Scripts::new();
        s.queue(vec![fails.clone()], Instant::now());
        let events = drive(&mut s, Duration::from_secs(5)).await;
        assert_eq!(
            events,
            vec![ScriptEvent::Error {
                path: fails,
                signal: 0,
                code: 2
            }]
        );

        let counter = dir.path().join("runs");
        let retried = dir.path().join("r.sh");
        std::fs::write(
            &retried,
            format!(
                "#!/bin/sh\necho x >> {c}\n[ $(wc -l < {c}) -ge 3 ] && exit 0\nexit 1\n",
                c = counter.display()
            ),
        )
        .unwrap();
        std::fs::set_permissions(&retried, std::fs::Permissions::from_mode(0o755)).unwrap();
        let mut s = Scripts::new();
        s.set_limits(60_000, 10);
        s.queue(vec![retried.display().to_string()], Instant::now());
        assert_eq!(drive(&mut s, Duration::from_secs(10)).await, vec![]);
        assert_eq!(std::fs::read_to_string(counter).unwrap().lines().count(), 3);
    }

    #[tokio::test]
    async fn pending_scripts_lists_argv_flags_and_retry_count() {
        let mut s = Scripts::new();
        let later = Instant::now() + Duration::from_secs(60);
        s.queue(vec!["/bin/true".into(), "a".into()], later);
        let Reply::Array(items) = s.pending_reply(Instant::now()) else {
            panic!("an array");
        };
        let Reply::Map(fields) = &items[0] else {
            panic!("a map");
        };
        let names: Vec<String> = fields
            .iter()
            .map(|(k, _)| k.as_str().unwrap().to_string())
            .collect();
        assert_eq!(names, ["argv", "flags", "pid", "run-delay", "retry-num"]);
        assert_eq!(fields[1].1, Reply::bulk("scheduled"));
    }
}
