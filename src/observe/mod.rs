//! Observability: Prometheus metrics, the failover timeline and the HTTP
//! listener that serves them with a live page (`RSENTINEL_HTTP_ADDR`).
//!
//! The shell calls the small hooks below where things happen (an event is
//! published, a link answers a PING, the config is flushed, a command
//! runs); they update one process-wide [`Observer`]. Counting is always on
//! and costs an atomic add or a short lock; only the listener is optional.

pub mod http;
pub mod metrics;
pub mod process;
pub mod timeline;
pub mod topology;

use std::sync::{Mutex, MutexGuard, OnceLock};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use rsentinel_core::reply::Reply;
use rsentinel_core::sentinel::links::{LinkId, Target};

use crate::driver::ConfigSink;
use metrics::{labels, Metrics};
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::histogram::Histogram;
use timeline::Timeline;

/// The metrics and the timeline of this process.
#[derive(Debug)]
pub struct Observer {
    pub metrics: Metrics,
    timeline: Mutex<Timeline>,
    started: Instant,
    /// Wakes `/api/events` long polls when an event is recorded.
    pub(crate) news: tokio::sync::Notify,
}

/// The process-wide observer, created on first use.
pub fn observer() -> &'static Observer {
    static OBSERVER: OnceLock<Observer> = OnceLock::new();
    OBSERVER.get_or_init(|| Observer {
        metrics: Metrics::new(),
        timeline: Mutex::new(Timeline::default()),
        started: Instant::now(),
        news: tokio::sync::Notify::new(),
    })
}

impl Observer {
    pub fn timeline(&self) -> MutexGuard<'_, Timeline> {
        // A poisoned lock only means a panic elsewhere, which aborts anyway.
        self.timeline.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// Hook: the driver published (or logged) event `kind msg`.
pub fn on_event(kind: &str, msg: &str) {
    let o = observer();
    let wall = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_millis() as u64;
    let mono = o.started.elapsed().as_millis() as u64;
    let observations = o.timeline().record(wall, mono, kind, msg);
    o.metrics.event(kind, msg, &observations);
    o.news.notify_waiters();
}

/// Hook: a `SENTINEL` command was answered. A peer's leader-vote request
/// (`IS-MASTER-DOWN-BY-ADDR ip port epoch runid`, runid not `*`) counts
/// as granted when our reply names that runid, refused otherwise.
pub fn on_sentinel_reply(args: &[Vec<u8>], reply: &Reply) {
    let is_vote_request = args.len() == 5
        && args[4] != b"*"
        && (args[0].eq_ignore_ascii_case(b"is-master-down-by-addr")
            || args[0].eq_ignore_ascii_case(b"is-primary-down-by-addr"));
    if !is_vote_request {
        return;
    }
    if let Reply::Array(items) = reply {
        let granted =
            matches!(items.get(1), Some(Reply::Bulk(id)) if id.eq_ignore_ascii_case(&args[4]));
        observer()
            .metrics
            .vote(if granted { "granted" } else { "refused" });
    }
}

/// Hook: a client command ran (its full name, e.g. `sentinel|masters`).
/// Runs once per request, so each connection keeps the handle of the
/// command it ran last (clients repeat one command) and each thread the
/// handles it has used: the metric family's lookup builds and hashes a
/// label set and takes a lock, which cost more than the query itself.
/// Repeats are counted here and added to the shared counter by
/// [`CommandCounter::flush`], once per batch of requests (see
/// `Session::settle`): its atomic add was a tenth of a pipelined query's
/// own time.
#[derive(Debug, Default)]
pub struct CommandCounter {
    last: Option<(&'static str, Counter)>,
    /// Runs of `last` not yet added to its counter.
    pending: u64,
}

impl CommandCounter {
    pub fn inc(&mut self, full_name: &'static str) {
        match &self.last {
            // Names come from the static command table: one address each.
            Some((name, _)) if std::ptr::eq(*name, full_name) => {}
            _ => {
                self.flush();
                self.last = Some((full_name, command_counter(full_name)));
            }
        }
        self.pending += 1;
    }

    /// Adds the runs counted here to the shared counter.
    pub fn flush(&mut self) {
        if let Some((_, counter)) = &self.last {
            if self.pending > 0 {
                counter.inc_by(self.pending);
            }
        }
        self.pending = 0;
    }
}

fn command_counter(full_name: &'static str) -> Counter {
    thread_local! {
        static COUNTERS: std::cell::RefCell<
            std::collections::HashMap<&'static str, Counter>,
        > = std::cell::RefCell::default();
    }
    COUNTERS.with_borrow_mut(|counters| {
        counters
            .entry(full_name)
            .or_insert_with(|| {
                observer()
                    .metrics
                    .commands
                    .get_or_create(&labels(&[("cmd", full_name)]))
                    .clone()
            })
            .clone()
    })
}

/// Hook: a script ended with `code` (retried or not).
pub fn on_script_result(result: &str) {
    observer()
        .metrics
        .script_results
        .get_or_create(&labels(&[("result", result)]))
        .inc();
}

/// The link kinds, as labelled.
const KINDS: [&str; 3] = ["master", "replica", "sentinel"];

/// `link`'s kind: its index in [`KINDS`].
fn kind_index(link: &LinkId) -> usize {
    match link.target {
        Target::Master(_) => 0,
        Target::Replica { .. } => 1,
        Target::Sentinel(_) => 2,
    }
}

/// Hook: a PING on `link` was answered after `rtt`.
pub fn on_link_rtt(link: &LinkId, rtt: Duration) {
    // Every link's PING is answered once a second (2 000 a second at 1 000
    // masters): the kind's histogram is looked up once, not labelled and
    // found under the family's lock on each answer. Created on first use,
    // so a kind with no link shows no series, as before.
    static BY_KIND: [OnceLock<Histogram>; 3] = [OnceLock::new(), OnceLock::new(), OnceLock::new()];
    let i = kind_index(link);
    BY_KIND[i]
        .get_or_init(|| {
            observer()
                .metrics
                .link_rtt
                .get_or_create(&labels(&[("kind", KINDS[i])]))
                .clone()
        })
        .observe(rtt.as_secs_f64());
}

/// Held by a link task while its connection is up: counts the connection
/// and, when dropped however the task ends, its loss. Keeps only the
/// link's kind, all its metrics are labelled with, as one byte (not a copy
/// of the id and its names in every link task).
pub struct LinkUp(u8);

impl LinkUp {
    pub fn new(link: &LinkId) -> LinkUp {
        let i = kind_index(link);
        on_link_state(KINDS[i], true);
        LinkUp(i as u8)
    }
}

impl Drop for LinkUp {
    fn drop(&mut self) {
        on_link_state(KINDS[usize::from(self.0)], false);
    }
}

/// A link of `kind` connected (`up`) or its connection ended.
fn on_link_state(kind: &'static str, up: bool) {
    let m = &observer().metrics;
    let l = labels(&[("kind", kind)]);
    if up {
        m.link_connects.get_or_create(&l).inc();
        m.links_up.get_or_create(&l).inc();
    } else {
        m.link_disconnects.get_or_create(&l).inc();
        m.links_up.get_or_create(&l).dec();
    }
}

/// A [`ConfigSink`] that times every flush and counts the failures.
pub struct TimedSink<S>(pub S);

impl<S: ConfigSink> ConfigSink for TimedSink<S> {
    fn flush(
        &mut self,
        sentinel_lines: rsentinel_core::sentinel::ConfigLines,
    ) -> Result<(), crate::driver::FlushError> {
        let start = Instant::now();
        let result = self.0.flush(sentinel_lines);
        let m = &observer().metrics;
        m.flush_seconds.observe(start.elapsed().as_secs_f64());
        if result.is_err() {
            m.flush_errors.inc();
        }
        result
    }
}
