//! The script queue as Redis runs it, decided here and carried out by the
//! shell: a FIFO of at most 256 jobs, at most 16 running, a retry with a
//! doubling delay when a script exits 1 or dies from a signal, a kill after
//! `script-max-runtime`. The shell only spawns ([`Action::RunScript`]),
//! kills ([`Action::KillScript`]) and reports what happened.

use std::collections::VecDeque;

use super::events::Event;
use super::{Action, Level, Sentinel};
use crate::reply::Reply;
use crate::time::Millis;

const MAX_QUEUE: usize = 256;
const MAX_RUNNING: usize = 16;
const MAX_RETRY: u32 = 10;
/// A script file still open for writing (ETXTBSY) is tried again this soon.
const BUSY_RETRY: Millis = Millis(10);

/// One script to start: the program is `argv[0]`, run with `execve`
/// semantics (no `PATH` search). Report the outcome with
/// `Sentinel::script_started` / `script_spawn_failed`, then
/// `script_exited`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ScriptRun {
    pub id: u64,
    pub argv: Vec<String>,
    /// When the core will ask for it to be killed (`script-max-runtime`).
    pub deadline: Millis,
}

#[derive(Debug)]
struct Job {
    id: u64,
    argv: Vec<String>,
    retry_num: u32,
    running: Option<Running>,
    /// Not to be started before.
    not_before: Millis,
}

#[derive(Clone, Copy, Debug)]
struct Running {
    since: Millis,
    /// Known once the shell reports the start.
    pid: Option<u32>,
    /// Killed for running too long: not killed again.
    killed: bool,
}

/// The queue's state, owned by the core.
#[derive(Debug, Default)]
pub(crate) struct ScriptQueue {
    jobs: VecDeque<Job>,
    next_id: u64,
}

impl ScriptQueue {
    fn running(&self) -> usize {
        self.jobs.iter().filter(|j| j.running.is_some()).count()
    }

    fn position(&self, id: u64) -> Option<usize> {
        self.jobs.iter().position(|j| j.id == id)
    }

    /// A job waits to be started (the next pass starts it if a slot is
    /// free).
    pub(crate) fn has_waiting(&self) -> bool {
        self.jobs.iter().any(|j| j.running.is_none())
    }

    /// Queues `argv` (path first). On overflow the oldest job that is not
    /// running is dropped, as Redis does.
    /// The job is due at once (`not_before` zero), so no clock is needed.
    pub(crate) fn queue(&mut self, argv: Vec<String>) {
        if self.jobs.len() >= MAX_QUEUE {
            if let Some(pos) = self.jobs.iter().position(|j| j.running.is_none()) {
                self.jobs.remove(pos);
            }
        }
        self.next_id += 1;
        self.jobs.push_back(Job {
            id: self.next_id,
            argv,
            retry_num: 0,
            running: None,
            not_before: Millis::ZERO,
        });
    }

    /// The next moment the queue has something to do.
    pub(crate) fn next_deadline(&self, max_runtime: u64) -> Option<Millis> {
        self.jobs
            .iter()
            .map(|j| match j.running {
                Some(r) => r.since + Millis(max_runtime + 1),
                None => j.not_before,
            })
            .min()
    }
}

impl Sentinel {
    /// Kills overdue scripts and starts due ones (Redis's timer steps).
    pub(crate) fn run_pending_scripts(&mut self, now: Millis) {
        let max_runtime = self.timing.script_max_runtime;
        let mut running = self.out.scripts.running();
        let mut out = Vec::new();
        for job in self.out.scripts.jobs.iter_mut() {
            if let Some(r) = &mut job.running {
                // Killed once: the exit report then decides about a retry.
                if now.since(r.since).0 > max_runtime && !r.killed {
                    out.push(Action::KillScript { id: job.id });
                    let pid = r.pid.unwrap_or(0);
                    out.push(script_event(
                        "-script-timeout",
                        format!("{} {pid}", job.argv[0]),
                    ));
                    r.killed = true;
                }
                continue;
            }
            if running >= MAX_RUNNING || job.not_before > now {
                continue;
            }
            job.running = Some(Running {
                since: now,
                pid: None,
                killed: false,
            });
            job.retry_num += 1;
            running += 1;
            out.push(Action::RunScript(ScriptRun {
                id: job.id,
                argv: job.argv.clone(),
                deadline: now + Millis(max_runtime),
            }));
        }
        for a in out {
            self.out.push(a);
        }
    }

    /// The shell started script `id` as process `pid`.
    pub fn script_started(&mut self, id: u64, pid: u32) {
        let Some(pos) = self.out.scripts.position(id) else {
            return;
        };
        if let Some(r) = &mut self.out.scripts.jobs[pos].running {
            r.pid = Some(pid);
        }
    }

    /// The shell could not start script `id`. `transient` (the file is
    /// still open for writing somewhere) retries it shortly; otherwise the
    /// job is dropped with a `-script-error`.
    pub fn script_spawn_failed(&mut self, now: Millis, id: u64, transient: bool) {
        let Some(pos) = self.out.scripts.position(id) else {
            return;
        };
        if transient {
            let job = &mut self.out.scripts.jobs[pos];
            job.running = None;
            job.retry_num -= 1;
            job.not_before = now + BUSY_RETRY;
            return;
        }
        if let Some(job) = self.out.scripts.jobs.remove(pos) {
            self.out.push(script_event(
                "-script-error",
                format!("{} 99 0", job.argv[0]),
            ));
        }
    }

    /// Script `id` ended: done, retried later, or failed for good.
    pub fn script_exited(&mut self, now: Millis, id: u64, code: Option<i32>, signal: Option<i32>) {
        let Some(pos) = self.out.scripts.position(id) else {
            return;
        };
        let retry_delay = self.timing.script_retry_delay;
        let job = &mut self.out.scripts.jobs[pos];
        job.running = None;
        if code == Some(0) {
            self.out.scripts.jobs.remove(pos);
            return;
        }
        let retry = signal.is_some() || code == Some(1);
        if retry && job.retry_num < MAX_RETRY {
            let factor = 1u64 << job.retry_num.saturating_sub(1).min(16);
            job.not_before = now + Millis(retry_delay.saturating_mul(factor));
            return;
        }
        if let Some(job) = self.out.scripts.jobs.remove(pos) {
            let msg = format!(
                "{} {} {}",
                job.argv[0],
                signal.unwrap_or(0),
                code.unwrap_or(0)
            );
            self.out.push(script_event("-script-error", msg));
        }
    }

    /// `SENTINEL PENDING-SCRIPTS`.
    pub(crate) fn pending_scripts_reply(&self, now: Millis) -> Reply {
        Reply::Array(
            self.out
                .scripts
                .jobs
                .iter()
                .map(|j| {
                    let pid = j.running.and_then(|r| r.pid).unwrap_or(0);
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
                        ("pid", Reply::bulk_int(pid as i64)),
                    ];
                    match j.running {
                        Some(r) => {
                            pairs.push(("run-time", Reply::bulk_int(now.since(r.since).0 as i64)))
                        }
                        None => pairs.push((
                            "run-delay",
                            Reply::bulk_int(j.not_before.since(now).0 as i64),
                        )),
                    }
                    pairs.push(("retry-num", Reply::bulk_int(j.retry_num as i64)));
                    Reply::map_of(pairs)
                })
                .collect(),
        )
    }

    /// For INFO: scripts running, and jobs queued (running included).
    pub(crate) fn script_counts(&self) -> (usize, usize) {
        (self.out.scripts.running(), self.out.scripts.jobs.len())
    }
}

fn script_event(kind: &str, msg: String) -> Action {
    Action::Event(Event {
        level: Level::Warning,
        kind: kind.into(),
        msg,
        master: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sentinel() -> Sentinel {
        let mut s = Sentinel::new(1, 26379);
        s.timing.script_retry_delay = 100;
        s.timing.script_max_runtime = 1_000;
        s
    }

    fn drain(s: &mut Sentinel) -> Vec<Action> {
        std::iter::from_fn(|| s.poll_action()).collect()
    }

    fn runs(s: &mut Sentinel) -> Vec<ScriptRun> {
        let started = drain(s).into_iter().filter_map(|a| match a {
            Action::RunScript(r) => Some(r),
            _ => None,
        });
        started.collect()
    }

    /// Queues one script and starts it at 0; its id.
    fn start_one(s: &mut Sentinel, path: &str) -> u64 {
        s.out.scripts.queue(vec![path.into()]);
        s.run_pending_scripts(Millis(0));
        runs(s)[0].id
    }

    #[test]
    fn at_most_sixteen_run_at_once_in_fifo_order() {
        let mut s = sentinel();
        for i in 0..20 {
            s.out.scripts.queue(vec!["/s".into(), i.to_string()]);
        }
        s.run_pending_scripts(Millis(0));
        let started = runs(&mut s);
        assert_eq!(started.len(), 16);
        assert_eq!(started[0].argv, ["/s", "0"]);
        assert_eq!(started[0].deadline, Millis(1_000));
        s.script_exited(Millis(5), started[0].id, Some(0), None);
        s.run_pending_scripts(Millis(5));
        assert_eq!(runs(&mut s)[0].argv, ["/s", "16"]);
        assert_eq!(s.script_counts(), (16, 19));
    }

    #[test]
    fn exit_one_is_retried_with_doubling_delay_and_exit_two_is_an_error() {
        let mut s = sentinel();
        let id = start_one(&mut s, "/retry");
        s.script_exited(Millis(10), id, Some(1), None);
        s.run_pending_scripts(Millis(109));
        assert!(runs(&mut s).is_empty(), "not before the retry delay");
        s.run_pending_scripts(Millis(110));
        assert_eq!(runs(&mut s).len(), 1);
        s.script_exited(Millis(120), id, None, Some(9));
        s.run_pending_scripts(Millis(319));
        assert!(runs(&mut s).is_empty(), "the second delay is doubled");
        s.run_pending_scripts(Millis(320));
        assert_eq!(runs(&mut s).len(), 1);
        s.script_exited(Millis(330), id, Some(2), None);
        assert_eq!(
            drain(&mut s),
            [script_event("-script-error", "/retry 0 2".into())]
        );
        assert_eq!(s.script_counts(), (0, 0));
    }

    #[test]
    fn an_overdue_script_is_killed_once_and_reported() {
        let mut s = sentinel();
        let id = start_one(&mut s, "/slow");
        s.script_started(id, 4242);
        s.run_pending_scripts(Millis(1_001));
        let out = drain(&mut s);
        assert!(out.contains(&Action::KillScript { id }));
        assert!(out.contains(&script_event("-script-timeout", "/slow 4242".into())));
        s.run_pending_scripts(Millis(2_000));
        assert!(s.poll_action().is_none(), "killed once");
    }

    #[test]
    fn pending_scripts_lists_argv_flags_and_retry_count() {
        let mut s = sentinel();
        let id = start_one(&mut s, "/bin/true");
        s.script_exited(Millis(0), id, Some(1), None);
        let Reply::Array(items) = s.pending_scripts_reply(Millis(40)) else {
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
        assert_eq!(fields[3].1, Reply::bulk_int(60), "the retry delay left");
        assert_eq!(fields[4].1, Reply::bulk_int(1));
    }
}
