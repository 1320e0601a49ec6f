//! The conformance voter, for tests only: the core's fast leader election
//! (`ZabNode`, election phase only) as one extra voter of a ZooKeeper
//! ensemble the test started itself. It speaks the real wire format
//! (`zab::wire`), is configured with weight 0 (so it never changes a
//! quorum) and the lowest sid with an empty history (so its own vote is
//! never the best): it votes, but never proposes itself and never
//! takes a seat the Java servers need. Discovery messages the core would
//! send are dropped: the voter never syncs.

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use rsentinel_core::election::WeightedVerifier;
use rsentinel_core::time::Millis;
use rsentinel_core::zab::wire::{decode_frame, Handshake, WireNotification, WireState};
use rsentinel_core::zab::{Persistent, ServerState, ZabConfig, ZabEvent, ZabMessage, ZabNode};

/// What the voter saw and decided, shared with the test.
#[derive(Default, Debug)]
pub struct VoterLog {
    /// Every decision: (leader, round).
    pub decisions: Vec<(u64, u64)>,
    /// Every notification each Java server sent, in arrival order:
    /// (state, leader, round). All of them, not only the last: a Java
    /// server may answer with a vote it held a moment before (its reply to
    /// our LOOKING notification races its own state change, and its
    /// one-slot send queue can replace a message not yet sent), so the
    /// last one to arrive need not be its current vote.
    pub heard: BTreeMap<u64, Vec<(WireState, u64, u64)>>,
    /// Connections refused, with the reason.
    pub refused: Vec<String>,
}

pub struct Voter {
    pub log: Arc<Mutex<VoterLog>>,
    stop: Arc<AtomicBool>,
    threads: Vec<JoinHandle<()>>,
}

enum Input {
    Vote(u64, WireNotification),
    Connected(u64, TcpStream),
    Closed(u64),
}

impl Voter {
    /// Runs voter `sid` on `listener` (its election port in the ensemble's
    /// config); `weights` are every member's quorum weight, ours 0.
    pub fn start(sid: u64, listener: TcpListener, weights: Vec<(u64, u64)>) -> Voter {
        let stop = Arc::new(AtomicBool::new(false));
        let log = Arc::new(Mutex::new(VoterLog::default()));
        let (tx, rx) = mpsc::channel();
        listener
            .set_nonblocking(true)
            .expect("nonblocking listener");
        let accept = {
            let (stop, log) = (stop.clone(), log.clone());
            std::thread::spawn(move || accept_loop(listener, tx, stop, log))
        };
        let run = {
            let (stop, log) = (stop.clone(), log.clone());
            std::thread::spawn(move || vote_loop(sid, weights, rx, stop, log))
        };
        Voter {
            log,
            stop,
            threads: vec![accept, run],
        }
    }

    /// Waits for a decision matching `pred`.
    pub fn wait_decision(
        &self,
        timeout: Duration,
        pred: impl Fn(u64, u64) -> bool,
    ) -> Option<(u64, u64)> {
        let deadline = Instant::now() + timeout;
        while Instant::now() < deadline {
            let found = self
                .log
                .lock()
                .unwrap()
                .decisions
                .iter()
                .copied()
                .find(|&(l, r)| pred(l, r));
            if found.is_some() {
                return found;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        None
    }
}

impl Drop for Voter {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        for t in self.threads.drain(..) {
            let _ = t.join();
        }
    }
}

fn accept_loop(
    listener: TcpListener,
    tx: mpsc::Sender<Input>,
    stop: Arc<AtomicBool>,
    log: Arc<Mutex<VoterLog>>,
) {
    while !stop.load(Ordering::SeqCst) {
        match listener.accept() {
            Ok((stream, _)) => {
                let (tx, stop, log) = (tx.clone(), stop.clone(), log.clone());
                std::thread::spawn(move || read_peer(stream, tx, stop, log));
            }
            Err(_) => std::thread::sleep(Duration::from_millis(10)),
        }
    }
}

/// Reads a Java server's handshake, then its notifications; anything
/// malformed closes the connection and is logged.
fn read_peer(
    mut stream: TcpStream,
    tx: mpsc::Sender<Input>,
    stop: Arc<AtomicBool>,
    log: Arc<Mutex<VoterLog>>,
) {
    let _ = stream.set_nonblocking(false);
    let _ = stream.set_read_timeout(Some(Duration::from_millis(100)));
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    let mut sid = None;
    while !stop.load(Ordering::SeqCst) {
        let n = match stream.read(&mut chunk) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) =>
            {
                continue
            }
            Err(_) => break,
        };
        buf.extend_from_slice(&chunk[..n]);
        let result = (|| {
            if sid.is_none() {
                let Some((h, used)) = Handshake::decode(&buf)? else {
                    return Ok(());
                };
                buf.drain(..used);
                sid = Some(h.sid);
                let _ = tx.send(Input::Connected(h.sid, stream.try_clone().expect("clone")));
            }
            while let Some((body, used)) = decode_frame(&buf)? {
                let n = WireNotification::decode(body)?;
                buf.drain(..used);
                let _ = tx.send(Input::Vote(sid.unwrap_or_default(), n));
            }
            Ok::<(), rsentinel_core::zab::wire::WireError>(())
        })();
        if let Err(e) = result {
            log.lock().unwrap().refused.push(e.to_string());
            eprintln!("conformance voter: closing a connection: malformed traffic: {e}");
            break;
        }
    }
    if let Some(sid) = sid {
        let _ = tx.send(Input::Closed(sid));
    }
}

fn vote_loop(
    sid: u64,
    weights: Vec<(u64, u64)>,
    rx: mpsc::Receiver<Input>,
    stop: Arc<AtomicBool>,
    log: Arc<Mutex<VoterLog>>,
) {
    let start = Instant::now();
    let now = || Millis(start.elapsed().as_millis() as u64);
    let cfg = ZabConfig {
        verifier: Arc::new(WeightedVerifier::new(weights)),
        // Never leave FOLLOWING on our own: we do not sync, so the core's
        // sync timers would only make us churn. A closed leader connection
        // restarts the election instead.
        sync_timeout: Millis(3_600_000),
        ..ZabConfig::majority(sid, 1)
    };
    let mut node = ZabNode::new(cfg.clone(), Persistent::default(), now());
    let mut conns: BTreeMap<u64, TcpStream> = BTreeMap::new();
    let mut config_text: Vec<u8> = Vec::new();
    while !stop.load(Ordering::SeqCst) {
        match rx.recv_timeout(Duration::from_millis(20)) {
            Ok(Input::Connected(from, stream)) => {
                conns.insert(from, stream);
                // A new peer hears our current vote at once.
                node.handle_timeout(now());
            }
            Ok(Input::Vote(from, n)) => {
                if let Some(c) = &n.config {
                    config_text = c.clone();
                }
                log.lock()
                    .unwrap()
                    .heard
                    .entry(from)
                    .or_default()
                    .push((n.state, n.leader, n.round));
                if let Some(core) = n.to_core() {
                    node.handle_message(now(), from, ZabMessage::Notification(core));
                }
            }
            Ok(Input::Closed(from)) => {
                conns.remove(&from);
                if node.state() == ServerState::Following && node.vote().leader == from {
                    // Our leader is gone: look again, as a restart would.
                    node = ZabNode::new(cfg.clone(), node.persistent(), now());
                }
            }
            Err(_) => {}
        }
        node.handle_timeout(now());
        while let Some((to, msg)) = node.poll_transmit() {
            // Only notifications exist on the election port.
            if let ZabMessage::Notification(n) = msg {
                if let Some(c) = conns.get_mut(&to) {
                    let frame = WireNotification::current(&n, &config_text).encode_frame();
                    let _ = c.write_all(&frame);
                }
            }
        }
        while let Some(e) = node.poll_event() {
            if let ZabEvent::Decided { vote, round, .. } = e {
                log.lock().unwrap().decisions.push((vote.leader, round));
            }
        }
    }
}
