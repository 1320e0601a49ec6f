//! The driver: the one task that owns the Sentinel core. It feeds the core
//! requests from clients, link events, script exits and ticks (with `now`,
//! exactly when the core's `poll_timeout` says), and carries out the
//! actions the core returns — it decides nothing itself.
//! Config writes run on the [`config_writer`] thread; replies that must
//! follow a write wait here until it is acknowledged.

pub mod config_writer;
pub mod handle;

use std::time::{Duration, Instant};

use rsentinel_core::reply::Reply;
use rsentinel_core::sentinel::links::{LinkId, Target};
use rsentinel_core::sentinel::{Action, Durability, Event, Level, Sentinel, FLUSH_FAILED};
use rsentinel_core::time::Millis;
use tokio::sync::{broadcast, mpsc, oneshot};

use crate::link::{LinkEvent, LinkManager, LinkOptions};
use crate::scripts::{Scripts, SpawnError};
use config_writer::{Ack, ConfigWriter};
pub use config_writer::{ConfigSink, FlushError};
use handle::{CoreHandle, PubMessage, Published, Request, SharedCore};

/// How many queued link events one turn of the loop takes at most, so a
/// flood of replies cannot push the core's deadline back by much.
const LINK_EVENT_BATCH: usize = 64;

/// A reply held back until the config write with sequence `seq` (or a
/// later one) is acknowledged.
struct HeldReply {
    seq: u64,
    reply: Reply,
    to: oneshot::Sender<Reply>,
}

pub struct Driver {
    /// Shared with connections for read-only queries; see [`SharedCore`].
    core: SharedCore,
    started: Instant,
    links: LinkManager,
    link_events: mpsc::Receiver<LinkEvent>,
    requests: mpsc::Receiver<Request>,
    events: broadcast::Sender<Published>,
    writer: ConfigWriter,
    /// Replies waiting for a config write, oldest first.
    held: Vec<HeldReply>,
    /// The writer thread is gone: nothing will be acknowledged any more.
    writer_gone: bool,
    /// The newest snapshot sequence the writer acknowledged.
    acked_seq: u64,
    /// Sent to peer sentinels without `sentinel-pass`: any bytes.
    requirepass: Option<Vec<u8>>,
    scripts: Scripts,
    /// `SENTINEL SIMULATE-FAILURE` asked to exit with this code, once the
    /// config written so far is on disk.
    crash: Option<i32>,
}

impl Driver {
    /// A driver for `core`, and the handle connections use to reach it.
    pub fn new(
        core: Sentinel,
        sink: Box<dyn ConfigSink>,
        requirepass: Option<Vec<u8>>,
        link_options: LinkOptions,
    ) -> (Driver, CoreHandle) {
        let (req_tx, requests) = mpsc::channel(1024);
        let (events, _) = broadcast::channel(4096);
        // Bounded; see the policy in `crate::link`.
        let (ev_tx, link_events) = mpsc::channel(crate::link::EVENT_QUEUE);
        let links = LinkManager::new(ev_tx, link_options);
        let started = Instant::now();
        let mut core = core;
        // PINGs go out on slots of the wall clock, so that sentinels on
        // synchronised hosts ping together (see `Sentinel::ping_due_at`).
        let wall = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default();
        core.set_clock_origin(wall.as_millis() as u64);
        let core = SharedCore::new(core, started);
        let handle = CoreHandle::with_shared(req_tx, events.clone(), core.clone());
        let driver = Driver {
            core,
            started,
            links,
            link_events,
            requests,
            events,
            writer: ConfigWriter::start(sink),
            held: Vec::new(),
            writer_gone: false,
            acked_seq: 0,
            requirepass,
            scripts: Scripts::new(),
            crash: None,
        };
        (driver, handle)
    }

    fn now(&self) -> Millis {
        Millis(self.started.elapsed().as_millis() as u64)
    }

    /// Runs until a shutdown request (or every handle is gone). The config
    /// is flushed before returning.
    pub async fn run(mut self) {
        // Whatever the config load queued (+monitor, a new myid) goes first.
        self.apply_actions();
        #[cfg(debug_assertions)]
        let injected_panic = debug_panic_deadline();
        loop {
            // The core's deadline is the only clock: sleep exactly until it.
            let deadline = self.core.write().poll_timeout(self.now());
            let wake =
                tokio::time::Instant::from_std(self.started) + Duration::from_millis(deadline.0);
            tokio::select! {
                _ = tokio::time::sleep_until(wake) => {
                    #[cfg(debug_assertions)]
                    if injected_panic.is_some_and(|at| Instant::now() >= at) {
                        panic!("injected fault: RSENTINEL_DEBUG_DRIVER_PANIC_AFTER_MS");
                    }
                    let now = self.now();
                    self.core.write().handle_timeout(now);
                }
                Some(ev) = self.link_events.recv() => {
                    self.on_link_event(ev);
                    // Events already queued are taken before the deadline
                    // is computed again: `poll_timeout` walks every master,
                    // and at 1 000 masters thousands of replies a second
                    // each paid for that walk.
                    for _ in 1..LINK_EVENT_BATCH {
                        let Ok(ev) = self.link_events.try_recv() else {
                            break;
                        };
                        self.apply_actions();
                        self.on_link_event(ev);
                    }
                }
                ack = self.writer.next_ack(), if !self.writer_gone => match ack {
                    Some(ack) => {
                        self.acked_seq = self.acked_seq.max(ack.seq);
                        self.release_held(ack);
                    }
                    None => {
                        tracing::warn!("The config writer stopped: config changes are no longer saved");
                        self.writer_gone = true;
                        self.release_held(stopped());
                    }
                },
                Some(done) = self.scripts.done_rx.recv() => {
                    self.scripts.reaped(done.id);
                    let now = self.now();
                    self.core.write().script_exited(now, done.id, done.code, done.signal);
                }
                req = self.requests.recv() => match req {
                    Some(Request::Shutdown(reply)) => {
                        self.apply_actions();
                        tracing::warn!("User requested shutdown...");
                        self.final_write().await;
                        let _ = reply.send(());
                        return;
                    }
                    Some(r) => self.on_request(r),
                    None => return,
                },
            }
            self.apply_actions();
            if let Some(code) = self.crash {
                self.final_write().await;
                tracing::warn!("Simulated failure: exiting with code {code}");
                std::process::exit(code);
            }
        }
    }

    fn on_request(&mut self, req: Request) {
        let now = self.now();
        match req {
            Request::Sentinel(args, reply) => {
                let out = self.core.write().command(now, &args);
                // Submits the snapshot the command queued, if any.
                self.apply_actions();
                match out.durability {
                    Durability::Immediate => {
                        let _ = reply.send(out.reply);
                    }
                    Durability::AfterWrite => {
                        // A snapshot still owed (a write was in flight) is
                        // the next one submitted, and it covers this.
                        let owed = self.core.write().persist_owed();
                        self.held.push(HeldReply {
                            seq: self.writer.last_seq() + u64::from(owed),
                            reply: out.reply,
                            to: reply,
                        });
                        // No reply may wait for a write that cannot come.
                        if self.writer_gone {
                            self.release_held(stopped());
                        }
                    }
                }
            }
            Request::PeerQuestion { asker, host, port } => {
                self.core
                    .write()
                    .handle_peer_question(now, &asker, &host, port);
                self.apply_actions();
            }
            Request::Hello(payload, reply) => {
                let text = String::from_utf8_lossy(&payload).into_owned();
                self.core.write().process_hello(now, &text);
                self.apply_actions();
                let _ = reply.send(Reply::Int(1));
            }
            Request::InfoSection(reply) => {
                let _ = reply.send(self.core.write().info_section(now));
            }
            Request::Role(reply) => {
                let _ = reply.send(self.core.write().role());
            }
            Request::Shutdown(_) => unreachable!("handled in run"),
        }
    }

    fn on_link_event(&mut self, ev: LinkEvent) {
        let now = self.now();
        match ev {
            LinkEvent::Connected {
                link,
                generation,
                local_ip,
            } => {
                if self.links.is_current(&link, generation) {
                    let link = std::sync::Arc::unwrap_or_clone(link);
                    self.core.write().link_connected(now, link, local_ip);
                }
            }
            LinkEvent::Reply {
                link,
                generation,
                tag,
                reply,
            } => {
                if self.links.is_current(&link, generation) {
                    self.core.write().handle_reply(now, &link, tag, reply);
                }
            }
            LinkEvent::Closed {
                link,
                generation,
                error,
            } => {
                if self.links.is_current(&link, generation) {
                    self.links.forget(&link, generation);
                    tracing::debug!("{:?} link closed: {error}", link);
                    let link = std::sync::Arc::unwrap_or_clone(link);
                    self.core.write().link_closed(now, link);
                }
            }
            LinkEvent::Resolved { host, ip } => self.core.write().host_resolved(&host, ip),
        }
    }

    /// Carries out everything the core queued.
    fn apply_actions(&mut self) {
        // One snapshot at a time: while a write is in flight the core keeps
        // what it owes, and the ack's turn of the loop submits it.
        let in_flight = !self.writer_gone && self.writer.last_seq() > self.acked_seq;
        self.core.write().defer_persist(in_flight);
        while self.crash.is_none() {
            let Some(action) = self.core.write().poll_action() else {
                break;
            };
            match action {
                Action::Event(e) => self.publish(e),
                Action::Persist(lines) => {
                    self.writer.submit(lines);
                }
                Action::Connect {
                    link,
                    addr,
                    peer_auth_fallback,
                    ..
                } => {
                    let first_auth = if peer_auth_fallback {
                        self.requirepass.clone()
                    } else {
                        None
                    };
                    self.links.connect(link, addr, first_auth);
                }
                Action::Send(out) => {
                    if !self.links.send(&out.link, out.args, out.tag) {
                        let now = self.now();
                        self.core.write().link_closed(now, out.link);
                    }
                }
                Action::Close(link) => self.links.close(&link),
                Action::Resolve { host } => self.links.resolve(host),
                Action::DropLinks { master } => {
                    let closed = self.links.close_where(|l| match &l.target {
                        Target::Master(m) => *m == master,
                        Target::Replica { master: m, .. } => *m == master,
                        Target::Sentinel(_) => false,
                    });
                    self.report_closed(closed);
                }
                Action::DropSentinelLinks => {
                    let closed = self
                        .links
                        .close_where(|l| matches!(l.target, Target::Sentinel(_)));
                    self.report_closed(closed);
                }
                Action::RunScript(run) => {
                    let now = self.now();
                    match self.scripts.spawn(&run) {
                        Ok(pid) => self.core.write().script_started(run.id, pid),
                        Err(SpawnError::Busy) => {
                            self.core.write().script_spawn_failed(now, run.id, true)
                        }
                        Err(SpawnError::Failed(e)) => {
                            tracing::warn!("Error spawning {}: {e}", run.argv[0]);
                            self.core.write().script_spawn_failed(now, run.id, false);
                        }
                    }
                }
                Action::KillScript { id } => self.scripts.kill(id),
                Action::Log { level, text } => log_at(level, &text),
                Action::Crash(code) => self.crash = Some(code),
            }
        }
    }

    fn report_closed(&mut self, closed: Vec<LinkId>) {
        let now = self.now();
        for link in closed {
            self.core.write().link_closed(now, link);
        }
    }

    /// Logs an event and publishes it (its notification script, if any,
    /// is already queued in the core).
    fn publish(&self, e: Event) {
        log_at(e.level, &format!("{} {}", e.kind, e.msg));
        if e.is_published() {
            crate::observe::on_event(&e.kind, &e.msg);
            let _ = self.events.send(Published::new(PubMessage {
                channel: e.kind.clone(),
                message: e.msg.clone(),
            }));
        }
    }

    /// Sends the replies the acknowledged write covers; an `+OK` whose
    /// write failed becomes Redis's flush error.
    fn release_held(&mut self, ack: Ack) {
        let (covered, waiting) = std::mem::take(&mut self.held)
            .into_iter()
            .partition(|h| h.seq <= ack.seq);
        self.held = waiting;
        for h in covered {
            let reply = if ack.result.is_err() && h.reply == Reply::ok() {
                Reply::err(FLUSH_FAILED)
            } else {
                h.reply
            };
            let _ = h.to.send(reply);
        }
    }

    /// At shutdown: writes the final config and waits for it (and for the
    /// replies still held).
    async fn final_write(&mut self) {
        let last = self.writer.submit(self.core.write().config_lines());
        self.writer.close();
        while let Some(ack) = self.writer.next_ack().await {
            let done = ack.seq >= last;
            if done {
                if let Err(e) = &ack.result {
                    tracing::warn!("Error trying to save the config: {e}");
                }
            }
            self.release_held(ack);
            if done {
                break;
            }
        }
    }
}

/// What releases every held reply once the writer is gone.
fn stopped() -> Ack {
    Ack {
        seq: u64::MAX,
        result: Err(FlushError::Stopped),
    }
}

/// Logs a line at a Redis level.
fn log_at(level: Level, line: &str) {
    match level {
        Level::Warning => tracing::warn!("{line}"),
        Level::Notice => tracing::info!("{line}"),
        Level::Verbose => tracing::debug!("{line}"),
        Level::Debug => tracing::trace!("{line}"),
    }
}

/// Debug builds only: `RSENTINEL_DEBUG_DRIVER_PANIC_AFTER_MS=N` makes the
/// driver panic N ms after it starts, so a test can check that a dead
/// driver takes the process down with it.
#[cfg(debug_assertions)]
fn debug_panic_deadline() -> Option<Instant> {
    let ms: u64 = std::env::var("RSENTINEL_DEBUG_DRIVER_PANIC_AFTER_MS")
        .ok()?
        .parse()
        .ok()?;
    Some(Instant::now() + Duration::from_millis(ms))
}
