//! Many masters failing at once (a host carrying them died): three sentinel
//! cores, `N` modelled masters with one replica each, all masters killed at
//! the same virtual moment but noticed by each sentinel up to a few hundred
//! ms apart (as under load, when PINGs and ticks are spread out). Every
//! master must be failed over in one election: one `+elected-leader`, no
//! `-failover-abort-not-elected`, every sentinel switched — on a virtual
//! clock, so the bounds below are about the protocol, not the machine.
//! (Two sentinels may still start within one network delay of each other;
//! `+try-failover` is reported but not limited: the first election still
//! has exactly one winner.)

#[allow(dead_code)]
mod sentinel_sim {
    pub mod redis_model;
    pub mod network {
        pub const REDIS_BASE_PORT: u16 = 7000;
    }
}

use std::collections::{BTreeMap, BTreeSet};

use rsentinel_core::prng::Prng;
use rsentinel_core::reply::Reply;
use rsentinel_core::sentinel::links::{LinkId, Tag, HELLO_CHANNEL};
use rsentinel_core::sentinel::{down_question, Action, Sentinel};
use rsentinel_core::sim::queue::Queue;
use rsentinel_core::time::Millis;

use sentinel_sim::network::REDIS_BASE_PORT;
use sentinel_sim::redis_model::{Effects, Follower, Redis, Role};

const SENTINEL_PORT: u16 = 26379;
const D: u64 = 1000;
/// When every master dies.
const KILL_AT: u64 = 5_000;
/// Every sentinel must have switched every master by D + this (virtual
/// ms; the noticing alone is skewed by up to 300 ms).
const SWITCH_BY: u64 = 500;
/// The same with slow links between sentinels: well before the election
/// timeout (10 s), which is what a split vote used to cost.
const SWITCH_BY_SLOW: u64 = 2_000;

#[derive(Clone, Copy, PartialEq, Eq)]
enum Dest {
    Redis(usize),
    Sentinel(usize),
}

struct Conn {
    sentinel: usize,
    link: LinkId,
    dest: Dest,
    multi: Option<Vec<Vec<Vec<u8>>>>,
    subscribed: bool,
    /// In-order delivery per direction.
    last_to_dest: Millis,
    last_to_sentinel: Millis,
}

enum Ev {
    Tick(usize, u64),
    Connected(u64),
    ToDest(u64, Vec<Vec<u8>>, Tag),
    ToSentinel(u64, Tag, Reply),
    /// Sentinel `.0` stops hearing from master redis `.1` (its connections
    /// are reset, reconnects refused).
    Dies(usize, usize),
    ReplTick,
}

/// One event a sentinel emitted: (virtual ms, sentinel, kind, master name,
/// message).
type Seen = (u64, usize, String, String, String);

struct World {
    now: Millis,
    prng: Prng,
    queue: Queue<Ev>,
    cores: Vec<Sentinel>,
    /// The generation of each sentinel's scheduled tick and its time.
    tick_at: Vec<(u64, Millis)>,
    redis: Vec<Redis>,
    conns: BTreeMap<u64, Conn>,
    next_conn: u64,
    /// (sentinel, redis) pairs that no longer reach each other.
    dead: BTreeSet<(usize, usize)>,
    events: Vec<Seen>,
    /// Extra delay of every message between sentinels (a loaded machine).
    peer_delay: u64,
}

fn master_name(k: usize) -> String {
    format!("m{k}")
}

impl World {
    fn new(seed: u64, masters: usize) -> World {
        let mut prng = Prng::new(seed);
        let mut redis = Vec::new();
        for k in 0..masters {
            let m = Redis::new(2 * k, prng.hex40(), Role::Master);
            let mut r = Redis::new(2 * k + 1, prng.hex40(), Role::Replica(m.port));
            r.link_up = true;
            redis.push(m);
            redis.push(r);
        }
        let ids: Vec<String> = (0..3).map(|i| format!("{i}").repeat(40)).collect();
        let mut cores = Vec::new();
        for (i, id) in ids.iter().enumerate() {
            let mut core = Sentinel::new(prng.next_u64(), SENTINEL_PORT + i as u16);
            let mut lines = vec![format!("myid {id}")];
            for k in 0..masters {
                let name = master_name(k);
                let port = REDIS_BASE_PORT + 2 * k as u16;
                lines.push(format!("monitor {name} 127.0.0.1 {port} 2"));
                lines.push(format!("down-after-milliseconds {name} {D}"));
                lines.push(format!("failover-timeout {name} 10000"));
                lines.push(format!("known-replica {name} 127.0.0.1 {}", port + 1));
                for (j, other) in ids.iter().enumerate() {
                    if j != i {
                        let p = SENTINEL_PORT + j as u16;
                        lines.push(format!("known-sentinel {name} 127.0.0.1 {p} {other}"));
                    }
                }
            }
            for l in &lines {
                let args: Vec<String> = l.split(' ').map(String::from).collect();
                core.apply_directive(Millis::ZERO, &args).expect("config");
            }
            cores.push(core);
        }
        let mut w = World {
            now: Millis::ZERO,
            prng,
            queue: Queue::new(),
            tick_at: vec![(0, Millis::ZERO); cores.len()],
            cores,
            redis,
            conns: BTreeMap::new(),
            next_conn: 0,
            dead: BTreeSet::new(),
            events: Vec::new(),
            peer_delay: 0,
        };
        for i in 0..w.cores.len() {
            w.queue.push(Millis(i as u64 * 7), Ev::Tick(i, 0));
        }
        w.queue.push(Millis(100), Ev::ReplTick);
        w
    }

    fn latency(&mut self, id: u64) -> u64 {
        let peer = self
            .conns
            .get(&id)
            .is_some_and(|c| matches!(c.dest, Dest::Sentinel(_)));
        1 + self.prng.below(3) + if peer { self.peer_delay } else { 0 }
    }

    fn run_until(&mut self, end: u64) {
        while let Some((at, ev)) = self.queue.pop() {
            if at > Millis(end) {
                break;
            }
            self.now = at;
            match ev {
                Ev::Tick(i, gen) => {
                    if self.tick_at[i].0 == gen {
                        self.cores[i].handle_timeout(at);
                        self.tick_at[i].1 = Millis(u64::MAX);
                        self.drain(i);
                    }
                }
                Ev::Connected(id) => self.connected(id),
                Ev::ToDest(id, args, tag) => self.deliver(id, args, tag),
                Ev::ToSentinel(id, tag, reply) => {
                    if let Some(c) = self.conns.get(&id) {
                        let (i, link) = (c.sentinel, c.link.clone());
                        self.cores[i].handle_reply(at, &link, tag, reply);
                        self.drain(i);
                    }
                }
                Ev::Dies(i, r) => {
                    self.dead.insert((i, r));
                    let gone: Vec<u64> = self
                        .conns
                        .iter()
                        .filter(|(_, c)| c.sentinel == i && c.dest == Dest::Redis(r))
                        .map(|(id, _)| *id)
                        .collect();
                    for id in gone {
                        self.close(id);
                    }
                    self.drain(i);
                }
                Ev::ReplTick => self.repl_tick(),
            }
        }
    }

    /// Carries out sentinel `i`'s actions, then makes sure its next tick
    /// is scheduled when `poll_timeout` asks.
    fn drain(&mut self, i: usize) {
        while let Some(a) = self.cores[i].poll_action() {
            self.perform(i, a);
        }
        let due = self.cores[i].poll_timeout(self.now);
        if due < self.tick_at[i].1 {
            let gen = self.tick_at[i].0 + 1;
            self.tick_at[i] = (gen, due);
            self.queue.push(due, Ev::Tick(i, gen));
        }
    }

    fn perform(&mut self, i: usize, action: Action) {
        match action {
            Action::Event(e) => {
                let parsed = match e.msg.split(' ').next() {
                    Some("master") | Some("slave") | Some("sentinel") => {
                        // "<type> <name> <ip> <port> [@ <master> <ip> <port>]"
                        let words: Vec<&str> = e.msg.split(' ').collect();
                        match words.iter().position(|w| *w == "@") {
                            Some(at) => words.get(at + 1).copied().unwrap_or_default(),
                            None => words.get(1).copied().unwrap_or_default(),
                        }
                    }
                    other => other.unwrap_or_default(),
                };
                let name = e.master.clone().unwrap_or(parsed.to_string());
                self.events
                    .push((self.now.0, i, e.kind.clone(), name, e.msg));
            }
            Action::Connect { link, addr, .. } => {
                let dest = if (SENTINEL_PORT..SENTINEL_PORT + 3).contains(&addr.port) {
                    Dest::Sentinel((addr.port - SENTINEL_PORT) as usize)
                } else {
                    Dest::Redis((addr.port - REDIS_BASE_PORT) as usize)
                };
                self.next_conn += 1;
                let id = self.next_conn;
                self.conns.insert(
                    id,
                    Conn {
                        sentinel: i,
                        link,
                        dest,
                        multi: None,
                        subscribed: false,
                        last_to_dest: self.now,
                        last_to_sentinel: self.now,
                    },
                );
                let at = self.now + Millis(self.latency(id));
                self.queue.push(at, Ev::Connected(id));
            }
            Action::Send(o) => {
                let id = self
                    .conns
                    .iter()
                    .find(|(_, c)| c.sentinel == i && c.link == o.link)
                    .map(|(id, _)| *id);
                if let Some(id) = id {
                    let lat = self.latency(id);
                    let c = self.conns.get_mut(&id).expect("conn");
                    let at = (self.now + Millis(lat)).max(c.last_to_dest);
                    c.last_to_dest = at;
                    self.queue.push(at, Ev::ToDest(id, o.args, o.tag));
                }
            }
            Action::Close(link) => {
                self.conns
                    .retain(|_, c| !(c.sentinel == i && c.link == link));
            }
            Action::DropLinks { .. } | Action::DropSentinelLinks => {}
            Action::RunScript(run) => self.cores[i].script_exited(self.now, run.id, Some(0), None),
            Action::Persist(_)
            | Action::KillScript { .. }
            | Action::Log { .. }
            | Action::Resolve { .. }
            | Action::Crash(_) => {}
        }
    }

    fn reachable(&self, c: &Conn) -> bool {
        match c.dest {
            Dest::Redis(r) => !self.dead.contains(&(c.sentinel, r)),
            Dest::Sentinel(_) => true,
        }
    }

    fn connected(&mut self, id: u64) {
        let Some(c) = self.conns.get(&id) else {
            return;
        };
        let (i, link, ok) = (c.sentinel, c.link.clone(), self.reachable(c));
        if ok {
            self.cores[i].link_connected(self.now, link, "127.0.0.1".into());
        } else {
            self.conns.remove(&id);
            self.cores[i].link_closed(self.now, link);
        }
        self.drain(i);
    }

    fn close(&mut self, id: u64) {
        if let Some(c) = self.conns.remove(&id) {
            self.cores[c.sentinel].link_closed(self.now, c.link);
        }
    }

    fn reply(&mut self, id: u64, tag: Tag, reply: Reply) {
        let lat = self.latency(id);
        let Some(c) = self.conns.get_mut(&id) else {
            return;
        };
        let at = (self.now + Millis(lat)).max(c.last_to_sentinel);
        c.last_to_sentinel = at;
        self.queue.push(at, Ev::ToSentinel(id, tag, reply));
    }

    fn deliver(&mut self, id: u64, args: Vec<Vec<u8>>, tag: Tag) {
        let Some(c) = self.conns.get(&id) else {
            return;
        };
        if !self.reachable(c) || args.is_empty() {
            return;
        }
        match c.dest {
            Dest::Sentinel(j) => {
                let now = self.now;
                let name = String::from_utf8_lossy(&args[0]).to_ascii_uppercase();
                let reply = match name.as_str() {
                    "PUBLISH" if args.len() == 3 && args[1] == HELLO_CHANNEL.as_bytes() => {
                        self.cores[j].process_hello(now, &String::from_utf8_lossy(&args[2]));
                        Reply::Int(1)
                    }
                    "SENTINEL" => {
                        // As the shell does: a question with run id `*` on
                        // a peer's link is the asker's "down" answer.
                        if let Some((host, port)) = down_question(&args[1..]) {
                            let asker = self.cores[c.sentinel].myid()[..8].to_string();
                            self.cores[j].handle_peer_question(now, &asker, host, port);
                        }
                        self.cores[j].command(now, &args[1..]).reply
                    }
                    _ => Reply::Simple("PONG".into()),
                };
                self.drain(j);
                self.reply(id, tag, reply);
            }
            Dest::Redis(r) => {
                let followers = self.followers(r);
                let mut multi = self.conns.get_mut(&id).and_then(|c| c.multi.take());
                let mut fx = Effects::default();
                let reply = self.redis[r].execute(self.now, &args, &mut multi, &followers, &mut fx);
                if let Some(c) = self.conns.get_mut(&id) {
                    c.multi = multi;
                    c.subscribed |= fx.subscribed;
                }
                if fx.role_changed {
                    self.redis[r].link_ready_at = self.now + Millis(100);
                }
                self.reply(id, tag, reply);
                if let Some(payload) = fx.publish {
                    self.publish(r, &payload);
                }
            }
        }
    }

    /// A hello reaches the sentinels subscribed to instance `r`.
    fn publish(&mut self, r: usize, payload: &[u8]) {
        let subs: Vec<u64> = self
            .conns
            .iter()
            .filter(|(_, c)| c.dest == Dest::Redis(r) && c.subscribed)
            .map(|(id, _)| *id)
            .collect();
        for id in subs {
            let frame = Reply::Array(vec![
                Reply::bulk("message"),
                Reply::bulk(HELLO_CHANNEL),
                Reply::bulk(payload),
            ]);
            self.reply(id, Tag::Ignore, frame);
        }
    }

    /// Only a master's own replica (`r + 1`) ever follows it here; after
    /// the switch nobody follows the promoted one (its old master is dead).
    fn followers(&self, r: usize) -> Vec<Follower> {
        let port = self.redis[r].port;
        let replica = self
            .redis
            .get(r + 1)
            .filter(|q| r.is_multiple_of(2) && q.up);
        replica
            .filter(|q| q.role == Role::Replica(port) && q.link_up)
            .map(|q| Follower {
                port: q.port,
                offset: q.offset,
            })
            .into_iter()
            .collect()
    }

    fn repl_tick(&mut self) {
        let now = self.now;
        for r in 0..self.redis.len() {
            if !self.redis[r].up {
                continue;
            }
            match self.redis[r].role {
                Role::Master => self.redis[r].offset += 10,
                Role::Replica(port) => {
                    let m = (port - REDIS_BASE_PORT) as usize;
                    let ok = self.redis[m].up && now >= self.redis[r].link_ready_at;
                    let q = &mut self.redis[r];
                    if ok && !q.link_up {
                        q.link_up = true;
                        q.link_down_since = None;
                    } else if !ok && q.link_up {
                        q.link_up = false;
                        q.link_down_since = Some(now);
                    }
                    if ok {
                        self.redis[r].offset = self.redis[m].offset;
                    }
                }
            }
        }
        self.queue.push(now + Millis(100), Ev::ReplTick);
    }

    /// Kills every master at `KILL_AT`; sentinel `i` notices master `k`
    /// `skew(i, k)` ms later.
    fn kill_all(&mut self, skew: impl Fn(usize, usize) -> u64) {
        self.run_until(KILL_AT);
        self.now = Millis(KILL_AT);
        let masters = self.redis.len() / 2;
        for k in 0..masters {
            self.redis[2 * k].up = false;
            for i in 0..self.cores.len() {
                self.queue
                    .push(Millis(KILL_AT + skew(i, k)), Ev::Dies(i, 2 * k));
            }
        }
    }

    fn count(&self, kind: &str, name: &str) -> usize {
        self.events
            .iter()
            .filter(|(_, _, k, n, _)| k == kind && n == name)
            .count()
    }
}

/// Runs the mass failover; what went wrong with masters that did not take
/// exactly one election, or were not advertised at their replica by every
/// sentinel in time.
fn mass_failover(
    seed: u64,
    masters: usize,
    peer_delay: u64,
    switch_by: u64,
    skew: impl Fn(usize, usize) -> u64,
) -> Vec<String> {
    let mut w = World::new(seed, masters);
    w.peer_delay = peer_delay;
    w.kill_all(skew);
    // Past the election timeout (10 s): a lost election would show.
    w.run_until(KILL_AT + D + 12_000);
    // RSENTINEL_MASS_TRACE=<seed>:<master> prints what the sentinels said
    // about that master.
    if let Ok(t) = std::env::var("RSENTINEL_MASS_TRACE") {
        for (at, i, kind, name, msg) in &w.events {
            if t == format!("{seed}:{name}") {
                println!("[{at:>6}] s{i} {kind} {msg}");
            }
        }
    }
    let mut problems = Vec::new();
    for k in 0..masters {
        let name = master_name(k);
        let replica = REDIS_BASE_PORT + 2 * k as u16 + 1;
        let elected = w.count("+elected-leader", &name);
        let aborted = w.count("-failover-abort-not-elected", &name);
        let tries = w.count("+try-failover", &name);
        let switched = w
            .cores
            .iter()
            .filter(|c| c.masters()[&name].current_addr().port == replica)
            .count();
        let last_switch = w
            .events
            .iter()
            .filter(|(_, _, k, n, _)| k == "+switch-master" && *n == name)
            .map(|(t, ..)| t.saturating_sub(KILL_AT + D))
            .max()
            .unwrap_or(u64::MAX);
        if elected != 1 || aborted != 0 || switched != 3 || last_switch > switch_by {
            problems.push(format!(
                "seed {seed} {name}: {tries} tries, {elected} elected, {aborted} not-elected aborts, {switched}/3 switched, last +switch-master D+{last_switch}"
            ));
        }
    }
    // Safety whatever happened: one vote per (voter, master, epoch).
    let mut votes: BTreeMap<(usize, String, String), String> = BTreeMap::new();
    for (_, i, kind, name, msg) in &w.events {
        if kind == "+vote-for-leader" {
            let (candidate, epoch) = msg.split_once(' ').unwrap_or_default();
            let key = (*i, name.clone(), epoch.to_string());
            if let Some(before) = votes.insert(key, candidate.to_string()) {
                assert_eq!(before, candidate, "s{i} voted twice for {name} in {epoch}");
            }
        }
    }
    problems
}

fn assert_none(problems: Vec<String>) {
    assert!(
        problems.is_empty(),
        "{} masters not failed over in one election:\n{}",
        problems.len(),
        problems.join("\n")
    );
}

#[test]
fn fifty_masters_dying_at_once_are_each_failed_over_in_one_election() {
    // Each sentinel notices each master 0–300 ms after the kill, in an
    // order that differs per master: the preferred sentinel is often last.
    let mut problems = Vec::new();
    for seed in 1..=10u64 {
        let mut p = Prng::new(seed);
        let skews: Vec<[u64; 3]> = (0..50)
            .map(|_| [p.below(300), p.below(300), p.below(300)])
            .collect();
        problems.extend(mass_failover(seed, 50, 0, SWITCH_BY, |i, k| skews[k][i]));
    }
    assert_none(problems);
}

#[test]
fn the_preferred_sentinel_seeing_it_last_does_not_split_the_vote() {
    // The lowest run id (rank 0, the one the stagger prefers) notices every
    // master 150 ms after the other two.
    assert_none(mass_failover(7, 20, 0, SWITCH_BY, |i, _| {
        if i == 0 {
            150
        } else {
            10 * i as u64
        }
    }));
}

#[test]
fn slow_links_between_sentinels_leave_no_split_vote_behind() {
    // Vote requests take 60–63 ms each way, longer than the start stagger:
    // two or three sentinels become candidates for the same master and
    // each votes for itself. The split must be resolved in a new epoch at
    // once, not after the election timeout.
    let mut problems = Vec::new();
    for seed in 1..=4u64 {
        let mut p = Prng::new(seed ^ 0x51);
        let skews: Vec<[u64; 3]> = (0..30)
            .map(|_| [p.below(60), p.below(60), p.below(60)])
            .collect();
        problems.extend(mass_failover(seed, 30, 60, SWITCH_BY_SLOW, |i, k| {
            skews[k][i]
        }));
    }
    assert_none(problems);
}
