//! A client that writes at a fixed rate and records every acknowledged
//! write: `RPUSH <key> <n>` with n = 0, 1, 2, …; a write counts as
//! acknowledged only when the master answered it with an integer. It finds
//! the master through the sentinels and asks again after any error, as a
//! Sentinel-aware client does. Afterwards, [`lost`] compares the
//! acknowledged numbers with what the final master holds.

use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use super::{text, Client, Reply};

pub const KEY: &str = "wq:acked";

/// Bounds and pace of one writer.
#[derive(Clone, Copy, Debug)]
pub struct Pace {
    pub per_second: u32,
    pub max_writes: u64,
    pub max_time: Duration,
    /// Connect/read timeout: a write not answered within it is unknown,
    /// never acknowledged.
    pub timeout: Duration,
}

/// What the writer saw.
#[derive(Debug, Default)]
pub struct WriteLog {
    pub acked: Vec<u64>,
    /// When each acknowledged write was answered, since the writer started,
    /// and by which master.
    pub acked_at: Vec<(Duration, SocketAddr)>,
    pub attempts: u64,
    pub errors: u64,
    pub started: Option<Instant>,
}

pub struct Writer {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<WriteLog>>,
}

impl Writer {
    /// Starts writing on a thread of its own; `prepare` runs first on that
    /// thread (e.g. to enter a network namespace), `master` is asked for
    /// the current master's address whenever a connection is needed.
    pub fn start(
        pace: Pace,
        prepare: impl FnOnce() + Send + 'static,
        master: impl Fn() -> Option<SocketAddr> + Send + 'static,
    ) -> Writer {
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let thread = std::thread::spawn(move || {
            prepare();
            run(pace, &flag, &master)
        });
        Writer {
            stop,
            thread: Some(thread),
        }
    }

    /// Stops (or waits for the bounds) and returns the log.
    pub fn finish(mut self) -> WriteLog {
        self.stop.store(true, Ordering::SeqCst);
        self.thread
            .take()
            .and_then(|t| t.join().ok())
            .unwrap_or_default()
    }
}

impl Drop for Writer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn run(pace: Pace, stop: &AtomicBool, master: &dyn Fn() -> Option<SocketAddr>) -> WriteLog {
    let start = Instant::now();
    let mut log = WriteLog {
        started: Some(start),
        ..WriteLog::default()
    };
    let period = Duration::from_secs(1) / pace.per_second.max(1);
    let mut conn: Option<(Client, SocketAddr)> = None;
    let mut next = 0u64;
    while !stop.load(Ordering::SeqCst) && next < pace.max_writes && start.elapsed() < pace.max_time
    {
        // Paced: write n is due at n × period.
        let due = start + period * (log.attempts as u32);
        if let Some(wait) = due.checked_duration_since(Instant::now()) {
            std::thread::sleep(wait);
        }
        log.attempts += 1;
        if conn.is_none() {
            conn =
                master().and_then(|a| Client::connect_addr(a, pace.timeout).ok().map(|c| (c, a)));
        }
        let Some((c, addr)) = conn.as_mut() else {
            log.errors += 1;
            continue;
        };
        let n = next.to_string();
        match c.cmd(&["RPUSH", KEY, &n]) {
            Ok(Reply::Int(_)) => {
                log.acked.push(next);
                log.acked_at.push((start.elapsed(), *addr));
                next += 1;
            }
            Ok(_) | Err(_) => {
                // Refused (-NOREPLICAS, -READONLY…) or unanswered: not
                // acknowledged. The number is not reused, so a write that
                // did land unacknowledged is never mistaken for an acked one.
                log.errors += 1;
                next += 1;
                conn = None;
            }
        }
    }
    log
}

/// The acknowledged writes missing from `final_list` (the master's
/// `LRANGE KEY 0 -1` after convergence).
pub fn lost(log: &WriteLog, final_list: &Reply) -> Vec<u64> {
    let held: BTreeSet<u64> = match final_list {
        Reply::Array(items) => items.iter().filter_map(|r| text(r).parse().ok()).collect(),
        _ => BTreeSet::new(),
    };
    log.acked
        .iter()
        .copied()
        .filter(|n| !held.contains(n))
        .collect()
}
