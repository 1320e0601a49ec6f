//! CLIENT PAUSE / UNPAUSE: a deadline shared by every connection. In sentinel
//! mode no command writes data, so only the ALL mode ever holds a command
//! back; WRITE is accepted and remembered for completeness.

use std::sync::atomic::{AtomicBool, Ordering};

use tokio::sync::watch;
use tokio::time::Instant;

/// An active pause.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PauseUntil {
    pub until: Instant,
    /// ALL (every command waits) rather than WRITE.
    pub all: bool,
}

#[derive(Debug)]
pub struct Pause {
    tx: watch::Sender<Option<PauseUntil>>,
    /// Set by an ALL pause until UNPAUSE: without one, the per-request
    /// check is a plain load instead of the watch's lock (two atomic
    /// updates, a measurable share of a pipelined query's own cost).
    all_armed: AtomicBool,
}

impl Default for Pause {
    fn default() -> Self {
        Pause {
            tx: watch::channel(None).0,
            all_armed: AtomicBool::new(false),
        }
    }
}

impl Pause {
    /// Starts or extends a pause. Like Redis, a second pause can only make
    /// things stricter: the later deadline and the wider mode win.
    pub fn pause(&self, until: Instant, all: bool) {
        if all {
            // Before the pause is published: a request that sees it also
            // sees the flag.
            self.all_armed.store(true, Ordering::SeqCst);
        }
        self.tx.send_modify(|cur| {
            let now = Instant::now();
            *cur = Some(match *cur {
                Some(p) if p.until > now => PauseUntil {
                    until: p.until.max(until),
                    all: p.all || all,
                },
                _ => PauseUntil { until, all },
            });
        });
    }

    pub fn unpause(&self) {
        self.tx.send_replace(None);
        self.all_armed.store(false, Ordering::SeqCst);
    }

    /// Whether a command would be held now; checked per request before
    /// anything is awaited, since a pause is rare.
    pub fn holds_commands(&self) -> bool {
        self.all_armed.load(Ordering::Relaxed)
            && matches!(*self.tx.borrow(), Some(p) if p.all && Instant::now() < p.until)
    }

    /// Returns once commands may run again (at once when not paused).
    pub async fn wait(&self) {
        let mut rx = self.tx.subscribe();
        loop {
            let current = *rx.borrow_and_update();
            match current {
                Some(p) if p.all && Instant::now() < p.until => {
                    tokio::select! {
                        _ = tokio::time::sleep_until(p.until) => {}
                        changed = rx.changed() => {
                            if changed.is_err() {
                                return;
                            }
                        }
                    }
                }
                _ => return,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[tokio::test]
    async fn unpause_releases_waiters_before_the_deadline() {
        let p = std::sync::Arc::new(Pause::default());
        p.pause(Instant::now() + Duration::from_secs(30), true);
        let waiter = tokio::spawn({
            let p = p.clone();
            async move { p.wait().await }
        });
        tokio::task::yield_now().await;
        assert!(!waiter.is_finished());
        assert!(p.holds_commands());
        p.unpause();
        assert!(!p.holds_commands());
        tokio::time::timeout(Duration::from_secs(5), waiter)
            .await
            .expect("released")
            .unwrap();
    }

    #[tokio::test]
    async fn write_pause_holds_nothing_and_a_later_pause_only_widens() {
        let p = Pause::default();
        p.pause(Instant::now() + Duration::from_secs(30), false);
        tokio::time::timeout(Duration::from_secs(5), p.wait())
            .await
            .expect("a WRITE pause does not hold sentinel commands");
        assert!(!p.holds_commands());
        p.pause(Instant::now() + Duration::from_millis(1), true);
        let cur = (*p.tx.borrow()).unwrap();
        assert!(cur.all);
        assert!(cur.until > Instant::now() + Duration::from_secs(20));
    }
}
