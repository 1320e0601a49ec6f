//! The simulated world: sentinel cores, modelled Redis instances and the
//! network between them, driven by one virtual clock. Every event is
//! processed to completion (the core's actions are carried out at once),
//! then the safety invariants are checked.

use std::fmt;

use rsentinel_core::prng::Prng;
use rsentinel_core::reply::Reply;
use rsentinel_core::sentinel::links::{Channel, Tag, Target, HELLO_CHANNEL};
use rsentinel_core::sentinel::{down_question, Action, ConfigLines, Event, Sentinel};
use rsentinel_core::sim::queue::Queue;
use rsentinel_core::time::Millis;

use super::invariants::convergence::{converged, InstanceView};
use super::invariants::Checks;
use super::network::{ConnState, Fate, NetFaults, Network, Node, SENTINEL_BASE_PORT};
use super::redis_model::{Effects, Follower, Redis, Role};
use super::scenario::{Fault, Pick, SimConfig};
use rsentinel_core::sim::invariants::timers_within_poll_timeout;

const MASTER_NAME: &str = "mymaster";
/// A runaway guard: no seed needs anywhere near this many events.
const MAX_EVENTS: u64 = 3_000_000;
const LIVENESS_CHECK_EVERY: u64 = 500;

/// One sentinel process slot: the running core (if up) and what it has
/// persisted, which is all that survives a crash.
pub struct Slot {
    pub core: Option<Sentinel>,
    pub incarnation: u32,
    pub persisted: ConfigLines,
    pub myid: String,
}

/// A command parked at a hung instance: connection, arguments, tag.
type Parked = (u64, Vec<Vec<u8>>, Tag);

enum Ev {
    Tick(usize, u32),
    ConnectDone(u64),
    ToDest(u64, Vec<Vec<u8>>, Tag),
    ToSentinel(u64, Tag, Reply),
    Break(u64),
    ReplTick,
    Fault(Fault),
    Heal,
    LivenessCheck,
}

/// A broken invariant or a missed convergence deadline.
#[derive(Debug, PartialEq, Eq)]
pub struct Failure {
    pub seed: u64,
    pub at: Millis,
    pub what: String,
    pub trace: Vec<String>,
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "seed {} failed at {}: {}\n  replay: RSENTINEL_SIM_SEED={} cargo test -p rsentinel-core --test sentinel_sim -- --nocapture",
            self.seed, self.at, self.what, self.seed
        )
    }
}

/// What a successful run did.
#[derive(Debug, PartialEq, Eq)]
pub struct Report {
    pub final_master: u16,
    /// When convergence (that then held) was first seen, after healing.
    pub converged_at: Millis,
    pub elections: usize,
    pub promotions: usize,
    pub switches: usize,
    pub events: u64,
    pub trace: Vec<String>,
}

pub struct World {
    cfg: SimConfig,
    now: Millis,
    prng: Prng,
    queue: Queue<Ev>,
    net: Network,
    pub slots: Vec<Slot>,
    pub redis: Vec<Redis>,
    /// Commands that reached a hung instance, answered when it resumes.
    backlog: Vec<Vec<Parked>>,
    checks: Checks,
    healed: bool,
    partition_gen: u32,
    stable: Option<(u16, Millis)>,
    switches: usize,
    trace: Vec<String>,
    failure: Option<String>,
    done: Option<(u16, Millis)>,
}

/// Runs one seeded world to the end: chaos, healing, convergence.
pub fn run(cfg: &SimConfig) -> Result<Report, Failure> {
    let mut w = World::new(cfg.clone());
    w.start();
    let mut events = 0u64;
    while let Some((at, ev)) = w.queue.pop() {
        w.now = at;
        events += 1;
        w.handle(ev);
        if w.failure.is_none() {
            w.check_states();
        }
        if w.failure.is_none() && events > MAX_EVENTS {
            w.failure = Some(format!("more than {MAX_EVENTS} events: runaway"));
        }
        if let Some(what) = w.failure.take() {
            return Err(Failure {
                seed: cfg.seed,
                at,
                what,
                trace: std::mem::take(&mut w.trace),
            });
        }
        if let Some((master, converged_at)) = w.done {
            return Ok(Report {
                final_master: master,
                converged_at,
                elections: w.checks.leaders.count(),
                promotions: w.checks.promotions.count(),
                switches: w.switches,
                events,
                trace: std::mem::take(&mut w.trace),
            });
        }
    }
    Err(Failure {
        seed: cfg.seed,
        at: w.now,
        what: "the event queue ran dry".into(),
        trace: w.trace,
    })
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

impl World {
    fn new(cfg: SimConfig) -> World {
        let prng = Prng::new(cfg.seed);
        World {
            now: Millis::ZERO,
            prng,
            queue: Queue::new(),
            net: Network::new(),
            slots: Vec::new(),
            redis: Vec::new(),
            backlog: Vec::new(),
            checks: Checks::default(),
            healed: false,
            partition_gen: 0,
            stable: None,
            switches: 0,
            trace: Vec::new(),
            failure: None,
            done: None,
            cfg,
        }
    }

    fn log(&mut self, line: impl FnOnce() -> String) {
        if self.cfg.trace {
            let line = line();
            self.trace
                .push(format!("[{:>8}ms] {}", self.now.as_u64(), line));
        }
    }

    fn fail(&mut self, what: String) {
        if self.failure.is_none() {
            self.log(|| format!("VIOLATION {what}"));
            self.failure = Some(what);
        }
    }

    fn start(&mut self) {
        let instances = self.cfg.replicas + 1;
        for r in 0..instances {
            let role = if r == 0 {
                Role::Master
            } else {
                Role::Replica(self.redis_port(0))
            };
            let mut redis = Redis::new(r, self.prng.hex40(), role);
            redis.link_up = r != 0;
            self.redis.push(redis);
            self.backlog.push(Vec::new());
        }
        for i in 0..self.cfg.sentinels {
            let mut core = Sentinel::new(self.prng.next_u64(), SENTINEL_BASE_PORT + i as u16);
            let lines = [
                format!("monitor {MASTER_NAME} 127.0.0.1 6379 {}", self.cfg.quorum),
                format!("down-after-milliseconds {MASTER_NAME} 1000"),
                format!("failover-timeout {MASTER_NAME} 5000"),
                format!("current-epoch {}", self.cfg.initial_epoch),
            ];
            for l in &lines {
                let args: Vec<String> = l.split(' ').map(String::from).collect();
                core.apply_directive(Millis::ZERO, &args)
                    .expect("initial config");
            }
            let myid = core.ensure_myid().to_string();
            core.announce_monitored();
            self.slots.push(Slot {
                persisted: core.config_lines(),
                core: Some(core),
                incarnation: 0,
                myid,
            });
            self.drain(i);
            let first = self.prng.below(100);
            self.queue.push(Millis(first), Ev::Tick(i, 0));
        }
        self.queue.push(Millis(100), Ev::ReplTick);
        if self.cfg.flaky_network {
            self.net.faults = NetFaults::chaos();
        }
        for (at, f) in self.cfg.faults.clone() {
            self.queue.push(at, Ev::Fault(f));
        }
        self.queue.push(Millis(self.cfg.chaos_ms), Ev::Heal);
    }

    fn redis_port(&self, r: usize) -> u16 {
        super::network::REDIS_BASE_PORT + r as u16
    }

    fn redis_by_port(&self, port: u16) -> Option<usize> {
        self.redis.iter().position(|r| r.port == port)
    }

    fn handle(&mut self, ev: Ev) {
        match ev {
            Ev::Tick(i, inc) => self.tick(i, inc),
            Ev::ConnectDone(id) => self.connect_done(id),
            Ev::ToDest(id, args, tag) => self.deliver_to_dest(id, args, tag),
            Ev::ToSentinel(id, tag, reply) => self.deliver_to_sentinel(id, tag, reply),
            Ev::Break(id) => self.break_conn(id),
            Ev::ReplTick => self.repl_tick(),
            Ev::Fault(f) => self.fault(f),
            Ev::Heal => self.heal(),
            Ev::LivenessCheck => self.liveness_check(),
        }
    }

    // ---- sentinels ----------------------------------------------------

    fn tick(&mut self, i: usize, inc: u32) {
        if self.slots[i].incarnation != inc {
            return;
        }
        let now = self.now;
        let Some(core) = self.slots[i].core.as_mut() else {
            return;
        };
        // The beat is fixed; a beat before the core's own deadline must
        // find nothing to do, or a shell sleeping until `poll_timeout`
        // would miss a timer.
        let due = core.poll_timeout(now);
        core.handle_timeout(now);
        let outputs = self.drain(i);
        let node = format!("sentinel {i}");
        if let Err(what) = timers_within_poll_timeout::check(&node, now, due, outputs) {
            self.fail(what);
        }
        let next = now + Millis(80 + self.prng.below(41));
        self.queue.push(next, Ev::Tick(i, inc));
    }

    /// Carries out everything sentinel `i` asked for.
    /// Returns how many actions there were.
    fn drain(&mut self, i: usize) -> usize {
        let mut n = 0;
        while let Some(action) = self.slots[i].core.as_mut().and_then(|c| c.poll_action()) {
            self.perform(i, action);
            n += 1;
        }
        n
    }

    fn perform(&mut self, i: usize, action: Action) {
        let now = self.now;
        match action {
            Action::Event(e) => self.on_event(i, &e),
            Action::Connect { link, addr, .. } => {
                let inc = self.slots[i].incarnation;
                let dest = Node::by_port(addr.port, self.slots.len(), self.redis.len())
                    .filter(|_| addr.host == "127.0.0.1");
                let Some(dest) = dest else {
                    if let Some(c) = self.slots[i].core.as_mut() {
                        c.link_closed(now, link);
                    }
                    return;
                };
                let id = self.net.open(i, inc, link, dest);
                // Across a partition a connect hangs until it times out.
                let delay = if self.net.reachable(Node::Sentinel(i), dest) {
                    1 + self.prng.below(5)
                } else {
                    1_000 + self.prng.below(2_000)
                };
                self.queue.push(now + Millis(delay), Ev::ConnectDone(id));
            }
            Action::Send(o) => {
                let Some(id) = self.net.live(i, &o.link) else {
                    return;
                };
                match self.net.route(id, true, now, &mut self.prng) {
                    Fate::Deliver(at) => self.queue.push(at, Ev::ToDest(id, o.args, o.tag)),
                    Fate::Drop => {}
                    Fate::Break(d) => self.queue.push(now + Millis(d), Ev::Break(id)),
                }
            }
            Action::Close(link) => {
                if let Some(id) = self.net.live(i, &link) {
                    self.net.remove(id);
                }
            }
            Action::DropLinks { master } => {
                self.drop_links_where(i, |t| match t {
                    Target::Master(m) | Target::Replica { master: m, .. } => *m == master,
                    Target::Sentinel(_) => false,
                });
            }
            Action::DropSentinelLinks => {
                self.drop_links_where(i, |t| matches!(t, Target::Sentinel(_)));
            }
            Action::Persist(lines) => self.slots[i].persisted = lines,
            Action::RunScript(run) => {
                // No processes here: a script succeeds at once.
                self.log(|| format!("s{i} script {:?}", run.argv));
                if let Some(c) = self.slots[i].core.as_mut() {
                    c.script_exited(self.now, run.id, Some(0), None);
                }
            }
            Action::KillScript { id } => self.log(|| format!("s{i} kill script {id}")),
            Action::Log { text, .. } => self.log(|| format!("s{i} log: {text}")),
            // The simulated sentinels are configured with IP literals only.
            Action::Resolve { host } => self.log(|| format!("s{i} resolve {host}")),
            Action::Crash(code) => {
                self.log(|| format!("s{i} crashes (simulated failure {code})"));
                self.crash_sentinel(i);
            }
        }
    }

    fn drop_links_where(&mut self, i: usize, pred: impl Fn(&Target) -> bool) {
        let ids: Vec<u64> = self
            .net
            .opened_by(i)
            .into_iter()
            .filter(|id| pred(&self.net.conns[id].link.target))
            .collect();
        for id in ids {
            if let Some((conn, true)) = self.net.remove(id) {
                if let Some(c) = self.slots[i].core.as_mut() {
                    c.link_closed(self.now, conn.link);
                }
            }
        }
    }

    fn on_event(&mut self, i: usize, e: &Event) {
        self.log(|| format!("s{i} {} {}", e.kind, e.msg));
        let Some(core) = self.slots[i].core.as_ref() else {
            return;
        };
        let myid = core.myid().to_string();
        let master = core.masters().get(MASTER_NAME);
        let verdict = match e.kind.as_str() {
            "+elected-leader" => {
                let epoch = master.map_or(0, |m| m.failover_epoch().0);
                self.checks.leaders.elected(epoch, &myid)
            }
            "+vote-for-leader" => {
                let mut parts = e.msg.split(' ');
                let candidate = parts.next().unwrap_or_default().to_string();
                let epoch = parts.next().and_then(|p| p.parse().ok()).unwrap_or(0);
                self.checks.votes.voted(&myid, &candidate, epoch)
            }
            "+promoted-slave" => {
                let replica = e.msg.split(' ').nth(1).unwrap_or_default().to_string();
                let epoch = master.map_or(0, |m| m.config_epoch().0);
                self.checks.promotions.promoted(epoch, &replica)
            }
            "+switch-master" => {
                self.switches += 1;
                Ok(())
            }
            _ => Ok(()),
        };
        if let Err(what) = verdict {
            self.fail(what);
        }
    }

    fn crash_sentinel(&mut self, i: usize) {
        self.slots[i].core = None;
        self.slots[i].incarnation += 1;
        for id in self.net.opened_by(i) {
            self.net.remove(id);
        }
        // Peers see their connections to it reset.
        for id in self.net.reaching(Node::Sentinel(i)) {
            let d = self.prng.below(5);
            self.queue.push(self.now + Millis(d), Ev::Break(id));
        }
    }

    /// A new process from the persisted config, as `redis-sentinel` would
    /// start from its rewritten `sentinel.conf`.
    fn restart_sentinel(&mut self, i: usize) {
        if self.slots[i].core.is_some() {
            return;
        }
        let now = self.now;
        let mut core = Sentinel::new(self.prng.next_u64(), SENTINEL_BASE_PORT + i as u16);
        for line in self.slots[i].persisted.clone().iter() {
            let args: Vec<&[u8]> = line.tokens().skip(1).collect();
            if let Err(e) = core.apply_directive(now, &args) {
                self.fail(format!(
                    "sentinel #{i} cannot reload its config line `{}`: {e}",
                    String::from_utf8_lossy(&line.joined())
                ));
                return;
            }
        }
        let myid = core.ensure_myid().to_string();
        if myid != self.slots[i].myid {
            self.fail(format!(
                "sentinel #{i} restarted with run id {myid}, was {}",
                self.slots[i].myid
            ));
        }
        self.log(|| format!("s{i} restarts from its persisted config"));
        self.slots[i].core = Some(core);
        self.drain(i);
        let inc = self.slots[i].incarnation;
        let first = now + Millis(self.prng.below(100));
        self.queue.push(first, Ev::Tick(i, inc));
    }

    // ---- connections --------------------------------------------------

    fn dest_up(&self, node: Node) -> bool {
        match node {
            Node::Redis(r) => self.redis[r].up,
            Node::Sentinel(j) => self.slots[j].core.is_some(),
        }
    }

    fn connect_done(&mut self, id: u64) {
        let Some(conn) = self.net.conns.get(&id) else {
            return;
        };
        let (i, dest, link) = (conn.sentinel, conn.dest, conn.link.clone());
        if self.slots[i].incarnation != conn.incarnation || self.slots[i].core.is_none() {
            self.net.remove(id);
            return;
        }
        let ok = self.dest_up(dest) && self.net.reachable(Node::Sentinel(i), dest);
        let now = self.now;
        if ok {
            if let Some(c) = self.net.conns.get_mut(&id) {
                c.state = ConnState::Open;
            }
            if let Some(core) = self.slots[i].core.as_mut() {
                core.link_connected(now, link, "127.0.0.1".into());
            }
        } else {
            let live = self.net.remove(id).is_some_and(|(_, live)| live);
            if live {
                if let Some(core) = self.slots[i].core.as_mut() {
                    core.link_closed(now, link);
                }
            }
        }
        self.drain(i);
    }

    fn break_conn(&mut self, id: u64) {
        let Some((conn, live)) = self.net.remove(id) else {
            return;
        };
        let i = conn.sentinel;
        if !live || self.slots[i].incarnation != conn.incarnation {
            return;
        }
        let now = self.now;
        if let Some(core) = self.slots[i].core.as_mut() {
            core.link_closed(now, conn.link);
            self.drain(i);
        }
    }

    /// Sends a reply or pub/sub frame back over connection `id`.
    fn reply(&mut self, id: u64, tag: Tag, reply: Reply) {
        match self.net.route(id, false, self.now, &mut self.prng) {
            Fate::Deliver(at) => self.queue.push(at, Ev::ToSentinel(id, tag, reply)),
            Fate::Drop => {}
            Fate::Break(d) => self.queue.push(self.now + Millis(d), Ev::Break(id)),
        }
    }

    fn deliver_to_sentinel(&mut self, id: u64, tag: Tag, reply: Reply) {
        let Some(conn) = self.net.conns.get(&id) else {
            return;
        };
        let i = conn.sentinel;
        if self.slots[i].incarnation != conn.incarnation || conn.stalled {
            return;
        }
        let link = conn.link.clone();
        let now = self.now;
        if let Some(core) = self.slots[i].core.as_mut() {
            core.handle_reply(now, &link, tag, reply);
            self.drain(i);
        }
    }

    fn deliver_to_dest(&mut self, id: u64, args: Vec<Vec<u8>>, tag: Tag) {
        let Some(conn) = self.net.conns.get(&id) else {
            return;
        };
        if conn.state != ConnState::Open || args.is_empty() {
            return;
        }
        match conn.dest {
            Node::Redis(r) => {
                if !self.redis[r].up {
                    return;
                }
                if self.redis[r].hung {
                    self.backlog[r].push((id, args, tag));
                    return;
                }
                self.exec_redis(r, id, args, tag);
            }
            Node::Sentinel(j) => self.exec_sentinel(j, id, args, tag),
        }
    }

    // ---- modelled Redis -------------------------------------------------

    fn followers(&self, r: usize) -> Vec<Follower> {
        let port = self.redis[r].port;
        self.redis
            .iter()
            .filter(|q| q.up && q.role == Role::Replica(port) && q.link_up)
            .map(|q| Follower {
                port: q.port,
                offset: q.offset,
            })
            .collect()
    }

    fn exec_redis(&mut self, r: usize, id: u64, args: Vec<Vec<u8>>, tag: Tag) {
        let followers = self.followers(r);
        let Some(conn) = self.net.conns.get_mut(&id) else {
            return;
        };
        let mut multi = conn.multi.take();
        let mut fx = Effects::default();
        let now = self.now;
        let mut reply = self.redis[r].execute(now, &args, &mut multi, &followers, &mut fx);
        let Some(conn) = self.net.conns.get_mut(&id) else {
            return;
        };
        conn.multi = multi;
        if fx.subscribed {
            conn.subscribed = true;
        }
        if fx.role_changed {
            let redis = &self.redis[r];
            let (port, role) = (redis.port, redis.role);
            self.log(|| format!("redis {port} is now {role:?}"));
            // The replication handshake takes a moment.
            let ready = now + Millis(100 + self.prng.below(900));
            self.redis[r].link_ready_at = ready;
        }
        if let Some(payload) = fx.publish {
            let receivers = self.publish(r, &payload, 0);
            reply = Reply::Int(receivers as i64);
        }
        self.reply(id, tag, reply);
        for channel in fx.kill {
            // CLIENT KILL spares the client that sent it.
            let victims: Vec<u64> = self
                .net
                .reaching(Node::Redis(r))
                .into_iter()
                .filter(|c| *c != id && self.net.conns[c].link.channel == channel)
                .collect();
            for v in victims {
                let d = 1 + self.prng.below(3);
                self.queue.push(now + Millis(d), Ev::Break(v));
            }
        }
    }

    /// Fans a hello out to `r`'s subscribers and down its replication
    /// chain; returns how many subscribers of `r` itself got it.
    fn publish(&mut self, r: usize, payload: &[u8], depth: u32) -> usize {
        let subscribers: Vec<u64> = self
            .net
            .reaching(Node::Redis(r))
            .into_iter()
            .filter(|id| {
                let c = &self.net.conns[id];
                c.subscribed && c.link.channel == Channel::PubSub
            })
            .collect();
        for id in &subscribers {
            let frame = Reply::Array(vec![
                Reply::bulk("message"),
                Reply::bulk(HELLO_CHANNEL),
                Reply::bulk(payload),
            ]);
            self.reply(*id, Tag::Ignore, frame);
        }
        if depth < 3 {
            let port = self.redis[r].port;
            let chain: Vec<usize> = (0..self.redis.len())
                .filter(|q| {
                    let q = &self.redis[*q];
                    q.up && !q.hung && q.link_up && q.role == Role::Replica(port)
                })
                .collect();
            for q in chain {
                self.publish(q, payload, depth + 1);
            }
        }
        subscribers.len()
    }

    fn repl_tick(&mut self) {
        let now = self.now;
        for r in 0..self.redis.len() {
            if !self.redis[r].up || self.redis[r].hung {
                continue;
            }
            match self.redis[r].role {
                Role::Master => {
                    self.redis[r].offset += 10 + self.prng.below(90);
                }
                Role::Replica(port) => {
                    let from = self.redis_by_port(port);
                    let ok = from.is_some_and(|m| {
                        self.redis[m].up
                            && !self.redis[m].hung
                            && self.net.reachable(Node::Redis(r), Node::Redis(m))
                    }) && now >= self.redis[r].link_ready_at;
                    let redis = &mut self.redis[r];
                    if ok && !redis.link_up {
                        redis.link_up = true;
                        redis.link_down_since = None;
                    } else if !ok && redis.link_up {
                        redis.link_up = false;
                        redis.link_down_since = Some(now);
                    }
                    if redis.link_up {
                        if let Some(m) = from {
                            self.redis[r].offset = self.redis[m].offset;
                        }
                    }
                }
            }
        }
        self.queue.push(now + Millis(100), Ev::ReplTick);
    }

    // ---- peers answering peers -----------------------------------------

    fn exec_sentinel(&mut self, j: usize, id: u64, args: Vec<Vec<u8>>, tag: Tag) {
        let now = self.now;
        // As the shell does: a question with run id `*` on a peer's link
        // (named after the asker's run id) is the asker's "down" answer.
        let asker = self
            .net
            .conns
            .get(&id)
            .and_then(|c| self.slots[c.sentinel].core.as_ref())
            .map(|c| c.myid()[..8].to_string());
        let Some(core) = self.slots[j].core.as_mut() else {
            return;
        };
        let question = args.get(1..).and_then(down_question);
        if let (Some(asker), Some((host, port))) = (asker, question) {
            core.handle_peer_question(now, &asker, host, port);
        }
        let name = text(&args[0]).to_ascii_uppercase();
        let reply = match name.as_str() {
            "PING" => Reply::Simple("PONG".into()),
            "AUTH" | "CLIENT" => Reply::ok(),
            "PUBLISH" if args.len() == 3 && args[1] == HELLO_CHANNEL.as_bytes() => {
                core.process_hello(now, &text(&args[2]));
                Reply::Int(1)
            }
            "SENTINEL" if args.len() > 1 => {
                // The persist the command queued is applied by the drain
                // below, before the reply leaves (a synchronous disk).
                core.command(now, &args[1..]).reply
            }
            _ => Reply::err(format!("unknown command '{}'", name.to_lowercase())),
        };
        // Votes and epochs are flushed before the answer leaves.
        self.drain(j);
        self.reply(id, tag, reply);
    }

    // ---- faults -----------------------------------------------------------

    fn pick(&mut self, pick: &Pick) -> usize {
        match pick {
            Pick::Index(r) => *r,
            Pick::Master => self
                .redis
                .iter()
                .position(|r| r.up && r.role == Role::Master)
                .unwrap_or_else(|| self.prng.below(self.redis.len() as u64) as usize),
        }
    }

    /// A partition (groups or cuts) began: most crossing connections break
    /// after a while (TCP gives up), and it heals after `heal_ms`.
    fn partition_started(&mut self, heal_ms: u64) {
        let now = self.now;
        self.partition_gen += 1;
        for id in self.net.crossing() {
            if self.prng.chance(7, 10) {
                let d = 200 + self.prng.below(2_800);
                self.queue.push(now + Millis(d), Ev::Break(id));
            }
        }
        let g = self.partition_gen;
        self.queue
            .push(now + Millis(heal_ms), Ev::Fault(Fault::HealPartition(g)));
    }

    fn fault(&mut self, f: Fault) {
        let now = self.now;
        let injects = !matches!(
            f,
            Fault::RestartRedis(_)
                | Fault::ResumeRedis(_)
                | Fault::HealPartition(_)
                | Fault::RestartSentinel(_)
        );
        if injects && self.healed {
            return;
        }
        match f {
            Fault::KillRedis { pick, down_ms } => {
                let r = self.pick(&pick);
                if !self.redis[r].up {
                    return;
                }
                let port = self.redis[r].port;
                self.log(|| format!("FAULT kill -9 redis {port} for {down_ms} ms"));
                self.redis[r].up = false;
                self.redis[r].hung = false;
                self.redis[r].link_up = false;
                self.backlog[r].clear();
                for id in self.net.reaching(Node::Redis(r)) {
                    let d = self.prng.below(5);
                    self.queue.push(now + Millis(d), Ev::Break(id));
                }
                self.queue
                    .push(now + Millis(down_ms), Ev::Fault(Fault::RestartRedis(r)));
            }
            Fault::RestartRedis(r) => self.restart_redis(r),
            Fault::HangRedis { pick, hang_ms } => {
                let r = self.pick(&pick);
                if !self.redis[r].up || self.redis[r].hung {
                    return;
                }
                let port = self.redis[r].port;
                self.log(|| format!("FAULT SIGSTOP redis {port} for {hang_ms} ms"));
                self.redis[r].hung = true;
                self.queue
                    .push(now + Millis(hang_ms), Ev::Fault(Fault::ResumeRedis(r)));
            }
            Fault::ResumeRedis(r) => self.resume_redis(r),
            Fault::Partition { groups, heal_ms } => {
                self.log(|| format!("FAULT partition {groups:?} for {heal_ms} ms"));
                self.net.partition = Some(groups);
                self.partition_started(heal_ms);
            }
            Fault::Cut { pairs, heal_ms } => {
                self.log(|| format!("FAULT cut {pairs:?} for {heal_ms} ms"));
                self.net.cuts = pairs;
                self.partition_started(heal_ms);
            }
            Fault::HealPartition(g) => {
                let cut = self.net.partition.is_some() || !self.net.cuts.is_empty();
                if g == self.partition_gen && cut {
                    self.log(|| "partition healed".into());
                    self.net.partition = None;
                    self.net.cuts.clear();
                }
            }
            Fault::CrashSentinel { index, down_ms } => {
                if self.slots[index].core.is_none() {
                    return;
                }
                self.log(|| format!("FAULT crash sentinel #{index} for {down_ms} ms"));
                self.crash_sentinel(index);
                self.queue.push(
                    now + Millis(down_ms),
                    Ev::Fault(Fault::RestartSentinel(index)),
                );
            }
            Fault::RestartSentinel(i) => self.restart_sentinel(i),
            Fault::BreakConn { selector } => {
                let ids: Vec<u64> = self.net.conns.keys().copied().collect();
                if !ids.is_empty() {
                    let id = ids[(selector % ids.len() as u64) as usize];
                    self.log(|| format!("FAULT reset connection {id}"));
                    self.break_conn(id);
                }
            }
        }
    }

    fn restart_redis(&mut self, r: usize) {
        if self.redis[r].up {
            return;
        }
        let now = self.now;
        let run_id = self.prng.hex40();
        let ready = now + Millis(200 + self.prng.below(800));
        let redis = &mut self.redis[r];
        // It comes back with the role its config file says (CONFIG REWRITE
        // persisted the last SLAVEOF) and a fresh run id.
        redis.up = true;
        redis.hung = false;
        redis.run_id = run_id;
        redis.link_up = false;
        redis.link_down_since = None;
        redis.link_ready_at = ready;
        let (port, role) = (redis.port, redis.role);
        self.log(|| format!("redis {port} restarts as {role:?}"));
    }

    fn resume_redis(&mut self, r: usize) {
        if !self.redis[r].hung {
            return;
        }
        let port = self.redis[r].port;
        self.log(|| format!("redis {port} resumes (SIGCONT)"));
        self.redis[r].hung = false;
        for (id, args, tag) in std::mem::take(&mut self.backlog[r]) {
            if self
                .net
                .conns
                .get(&id)
                .is_some_and(|c| c.state == ConnState::Open)
            {
                self.exec_redis(r, id, args, tag);
            }
        }
    }

    /// The end of chaos: every fault is lifted and the network is perfect.
    fn heal(&mut self) {
        self.log(|| "HEAL: all faults lifted, network perfect".into());
        self.healed = true;
        self.net.faults = NetFaults::perfect();
        self.net.partition = None;
        self.net.cuts.clear();
        for c in self.net.conns.values_mut() {
            c.stalled = false;
        }
        for r in 0..self.redis.len() {
            self.restart_redis(r);
            self.resume_redis(r);
        }
        for i in 0..self.slots.len() {
            self.restart_sentinel(i);
        }
        self.queue
            .push(self.now + Millis(LIVENESS_CHECK_EVERY), Ev::LivenessCheck);
    }

    // ---- checks -------------------------------------------------------------

    fn check_states(&mut self) {
        for i in 0..self.slots.len() {
            let Some(epoch) = self.slots[i]
                .core
                .as_ref()
                .and_then(|c| c.masters().get(MASTER_NAME))
                .map(|m| m.config_epoch().0)
            else {
                continue;
            };
            if let Err(what) = self.checks.config_epochs.observe(i, epoch) {
                self.fail(what);
            }
            let current = self.slots[i]
                .core
                .as_ref()
                .map_or(0, |c| c.current_epoch().0);
            if let Err(what) = self.checks.current_epochs.observe(i, current) {
                self.fail(what);
            }
        }
    }

    fn advertised(&mut self) -> Vec<Option<(String, u16)>> {
        let now = self.now;
        let args = [
            b"get-master-addr-by-name".to_vec(),
            MASTER_NAME.as_bytes().to_vec(),
        ];
        self.slots
            .iter_mut()
            .map(|s| {
                let out = s.core.as_mut()?.command(now, &args);
                match out.reply {
                    Reply::Array(items) if items.len() == 2 => {
                        let host = items[0].as_str()?.to_string();
                        let port = items[1].as_str()?.parse().ok()?;
                        Some((host, port))
                    }
                    _ => None,
                }
            })
            .collect()
    }

    fn liveness_check(&mut self) {
        let now = self.now;
        let views: Vec<InstanceView> = self
            .redis
            .iter()
            .map(|r| InstanceView {
                port: r.port,
                role: r.role,
                link_up: r.link_up,
            })
            .collect();
        let advertised = self.advertised();
        match converged(&views, &advertised) {
            Ok(master) => {
                let since = match self.stable {
                    Some((m, since)) if m == master => since,
                    _ => now,
                };
                self.stable = Some((master, since));
                if now.since(since).0 >= self.cfg.stable_ms {
                    self.log(|| format!("CONVERGED on {master} since {since}"));
                    self.done = Some((master, since));
                    return;
                }
            }
            Err(why) => {
                self.stable = None;
                let deadline = Millis(self.cfg.chaos_ms + self.cfg.liveness_ms);
                if now > deadline {
                    let state = self.describe();
                    self.fail(format!(
                        "no convergence {} ms after healing: {why}\n{state}",
                        self.cfg.liveness_ms
                    ));
                    return;
                }
            }
        }
        self.queue
            .push(now + Millis(LIVENESS_CHECK_EVERY), Ev::LivenessCheck);
    }

    /// A snapshot of who thinks what, for failure reports.
    fn describe(&self) -> String {
        let mut out = String::new();
        for r in &self.redis {
            out.push_str(&format!(
                "  redis {} up={} hung={} role={:?} link_up={}\n",
                r.port, r.up, r.hung, r.role, r.link_up
            ));
        }
        for (i, s) in self.slots.iter().enumerate() {
            let Some(c) = s.core.as_ref() else {
                out.push_str(&format!("  sentinel #{i} down\n"));
                continue;
            };
            if let Some(m) = c.masters().get(MASTER_NAME) {
                out.push_str(&format!(
                    "  sentinel #{i} {} master={} config_epoch={} current_epoch={} failover={} sdown={} odown={} tilt={} sentinels={} replicas={:?}\n",
                    &s.myid[..8],
                    m.current_addr(),
                    m.config_epoch(),
                    c.current_epoch(),
                    m.failover_state().as_str(),
                    m.is_sdown(),
                    m.is_odown(),
                    c.in_tilt(),
                    m.sentinels().len(),
                    m.replicas().keys().collect::<Vec<_>>(),
                ));
            }
        }
        out
    }
}
