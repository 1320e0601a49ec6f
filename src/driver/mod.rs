//! The driver: the one task that owns the Sentinel core. It feeds the core
//! requests from clients, link events and timer ticks (with `now`), and
//! carries out the actions the core returns — it decides nothing itself.

pub mod handle;

use std::time::{Duration, Instant};

use rsentinel_core::reply::Reply;
use rsentinel_core::sentinel::links::{LinkId, Target};
use rsentinel_core::sentinel::{Action, Event, Level, Sentinel, FLUSH_FAILED};
use rsentinel_core::time::Millis;
use tokio::sync::{broadcast, mpsc};

use crate::link::{LinkEvent, LinkManager, LinkOptions};
use crate::scripts::{ScriptEvent, Scripts};
use handle::{CoreHandle, PubMessage, Request, SharedCore};

/// Where the core's state is persisted: the config rewrite. Kept behind a
/// trait so the driver can be run against an in-memory sink in tests.
pub trait ConfigSink: Send {
    /// Rewrites the config with these `sentinel ...` lines (as tokens). The
    /// error text is logged by the caller.
    fn flush(&mut self, sentinel_lines: Vec<Vec<Vec<u8>>>) -> Result<(), String>;
}

/// How often the timer runs. Redis runs at 10–19 Hz; we react to replies
/// at once and tick a little faster.
const TICK: Duration = Duration::from_millis(50);

pub struct Driver {
    /// Shared with connections for read-only queries; see [`SharedCore`].
    core: SharedCore,
    started: Instant,
    links: LinkManager,
    link_events: mpsc::Receiver<LinkEvent>,
    requests: mpsc::Receiver<Request>,
    events: broadcast::Sender<PubMessage>,
    sink: Box<dyn ConfigSink>,
    /// Sent to peer sentinels without `sentinel-pass`: any bytes.
    requirepass: Option<Vec<u8>>,
    scripts: Scripts,
    flush_pending: bool,
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
        let core = SharedCore::new(core, started);
        let handle = CoreHandle::with_shared(req_tx, events.clone(), core.clone());
        let driver = Driver {
            core,
            started,
            links,
            link_events,
            requests,
            events,
            sink,
            requirepass,
            scripts: Scripts::new(),
            flush_pending: false,
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
        let mut tick = tokio::time::interval(TICK);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            // Wake exactly when the core expects a deadline to pass.
            let now = self.now();
            let next = self.core.write().poll_timeout(now);
            let deadline = next
                .map(|t| tokio::time::Instant::from_std(self.started) + Duration::from_millis(t.0))
                .unwrap_or_else(|| tokio::time::Instant::now() + TICK);
            tokio::select! {
                _ = tokio::time::sleep_until(deadline) => {
                    let now = self.now();
                    self.core.write().tick(now);
                }
                _ = tick.tick() => {
                    #[cfg(debug_assertions)]
                    if injected_panic.is_some_and(|at| Instant::now() >= at) {
                        panic!("injected fault: RSENTINEL_DEBUG_DRIVER_PANIC_AFTER_MS");
                    }
                    let now = self.now();
                    self.core.write().tick(now);
                    self.run_scripts();
                }
                Some(ev) = self.link_events.recv() => self.on_link_event(ev),
                Some(done) = self.scripts.done_rx.recv() => {
                    if let Some(ev) = self.scripts.finished(done, Instant::now()) {
                        self.script_event(ev);
                    }
                }
                req = self.requests.recv() => match req {
                    Some(Request::Shutdown(reply)) => {
                        self.apply_actions();
                        tracing::warn!("User requested shutdown...");
                        if let Err(e) = self.flush() {
                            tracing::warn!("Error trying to save the config: {e}");
                        }
                        let _ = reply.send(());
                        return;
                    }
                    Some(r) => self.on_request(r),
                    None => return,
                },
            }
            self.apply_actions();
        }
    }

    fn on_request(&mut self, req: Request) {
        let now = self.now();
        match req {
            Request::Sentinel(args, reply) => {
                let is_pending_scripts = args
                    .first()
                    .is_some_and(|a| a.eq_ignore_ascii_case(b"pending-scripts"));
                let r = if is_pending_scripts {
                    self.scripts.pending_reply(Instant::now())
                } else {
                    let out = self.core.write().command(now, &args);
                    self.apply_actions();
                    let mut r = out.reply;
                    if out.flush && self.flush().is_err() && r == Reply::ok() {
                        r = Reply::err(FLUSH_FAILED);
                    }
                    r
                };
                let _ = reply.send(r);
            }
            Request::Hello(payload, reply) => {
                let text = String::from_utf8_lossy(&payload).into_owned();
                self.core.write().process_hello(now, &text);
                self.apply_actions();
                let _ = reply.send(Reply::Int(1));
            }
            Request::InfoSection(reply) => {
                self.core
                    .write()
                    .set_script_counts(self.scripts.running(), self.scripts.queued());
                let _ = reply.send(self.core.write().info_section(now));
            }
            Request::Role(reply) => {
                let _ = reply.send(self.core.write().role());
            }
            Request::FlushConfig(reply) => {
                let _ = reply.send(self.flush());
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
                    self.core.write().handle_reply(now, link, tag, reply);
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
                    self.core.write().link_closed(now, link);
                }
            }
            LinkEvent::Resolved { host, ip } => self.core.write().host_resolved(&host, ip),
        }
    }

    /// Carries out everything the core queued.
    fn apply_actions(&mut self) {
        loop {
            // Not `while let`: the guard would live through the body.
            let next = self.core.write().poll_action();
            let Some(action) = next else { break };
            match action {
                Action::Event(e) => self.publish(e),
                Action::FlushConfig => self.flush_pending = true,
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
                Action::ReconfigScript {
                    master,
                    role,
                    from,
                    to,
                } => {
                    let script = self
                        .core
                        .write()
                        .masters
                        .get(&master)
                        .and_then(|m| m.client_reconfig_script.clone());
                    if let Some(path) = script {
                        let argv = vec![
                            path,
                            master,
                            role.to_string(),
                            "start".into(),
                            from.host,
                            from.port.to_string(),
                            to.host,
                            to.port.to_string(),
                        ];
                        self.scripts.queue(argv, Instant::now());
                    }
                }
                Action::Log { level, text } => log_at(level, &text),
                Action::Crash(code) => {
                    tracing::warn!("Simulated failure: exiting with code {code}");
                    std::process::exit(code);
                }
            }
        }
        if self.flush_pending {
            let _ = self.flush();
        }
        // INFO's script counts, read by connections in place.
        let (running, queued) = (self.scripts.running(), self.scripts.queued());
        self.core.write().set_script_counts(running, queued);
    }

    fn report_closed(&mut self, closed: Vec<LinkId>) {
        let now = self.now();
        for link in closed {
            self.core.write().link_closed(now, link);
        }
    }

    /// Logs an event, publishes it, and queues the notification script.
    fn publish(&mut self, e: Event) {
        log_at(e.level, &format!("{} {}", e.kind, e.msg));
        if e.is_published() {
            let _ = self.events.send(PubMessage {
                channel: e.kind.clone(),
                message: e.msg.clone(),
            });
        }
        if let Some(master) = &e.script_master {
            let script = self
                .core
                .write()
                .masters
                .get(master)
                .and_then(|m| m.notification_script.clone());
            if let Some(path) = script {
                self.scripts
                    .queue(vec![path, e.kind, e.msg], Instant::now());
            }
        }
    }

    fn run_scripts(&mut self) {
        let (max_runtime, retry_delay) = {
            let core = self.core.write();
            (
                core.timing.script_max_runtime,
                core.timing.script_retry_delay,
            )
        };
        self.scripts.set_limits(max_runtime, retry_delay);
        for ev in self.scripts.run_pending(Instant::now()) {
            self.script_event(ev);
        }
    }

    fn script_event(&mut self, ev: ScriptEvent) {
        let (kind, msg) = match ev {
            ScriptEvent::Error { path, signal, code } => {
                ("-script-error", format!("{path} {signal} {code}"))
            }
            ScriptEvent::Timeout { path, pid } => ("-script-timeout", format!("{path} {pid}")),
        };
        self.publish(Event {
            level: Level::Warning,
            kind: kind.into(),
            msg,
            script_master: None,
        });
    }

    /// Rewrites the config now.
    fn flush(&mut self) -> Result<(), String> {
        self.flush_pending = false;
        let lines = self.core.write().config_lines();
        self.sink.flush(lines).map_err(|e| {
            tracing::warn!(
                "WARNING: Sentinel was not able to save the new configuration on disk!!!: {e}"
            );
            e
        })
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
