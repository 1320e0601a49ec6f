//! A seeded ZAB cluster simulation: chaos (loss, duplication, delay,
//! partitions, crashes, restarts, leader writes), then a liveness phase with
//! every fault healed, checking the election invariants (one per file in
//! `sim/invariants/`) after every step.

use std::collections::BTreeMap;
use std::sync::Arc;

use crate::election::MajorityVerifier;
use crate::prng::Prng;
use crate::time::Millis;
use crate::zab::{
    DecideHow, Persistent, ServerId, ServerState, ZabConfig, ZabEvent, ZabMessage, ZabNode, Zxid,
};

use super::invariants::leader_holds_newest_zxid::LeaderHoldsNewestZxid;
use super::invariants::one_per_epoch::OnePerEpoch;
use super::invariants::{follower_follows_epoch_leader, timers_within_poll_timeout};
use super::network::{random_halves, Fate, NetFaults, SimNet};
use super::{SimFailure, Timeline};

/// What to simulate.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ZabSimConfig {
    pub nodes: u64,
    pub seed: u64,
    /// Random faults for `chaos_ms` before the liveness phase.
    pub chaos: bool,
    pub chaos_ms: u64,
    /// Once healed, the cluster must converge within this long.
    pub converge_within_ms: u64,
    /// After converging, crash the leader and require a new, higher-epoch one.
    pub kill_leader: bool,
    /// Start with these groups cut apart; healed after `partition_ms`.
    pub partition: Option<Vec<Vec<ServerId>>>,
    pub partition_ms: u64,
    /// Record a readable timeline (costly; for the CLI).
    pub trace: bool,
}

impl ZabSimConfig {
    /// A small randomized chaos run for seed sweeps.
    pub fn chaos(seed: u64) -> ZabSimConfig {
        ZabSimConfig {
            nodes: if seed.is_multiple_of(2) { 3 } else { 5 },
            seed,
            chaos: true,
            chaos_ms: 3_000,
            converge_within_ms: 20_000,
            kill_leader: seed % 4 == 1,
            partition: None,
            partition_ms: 0,
            trace: false,
        }
    }

    /// A calm, traced run (the CLI's default).
    pub fn calm(nodes: u64, seed: u64) -> ZabSimConfig {
        ZabSimConfig {
            nodes,
            seed,
            chaos: false,
            chaos_ms: 0,
            converge_within_ms: 30_000,
            kill_leader: false,
            partition: None,
            partition_ms: 3_000,
            trace: true,
        }
    }
}

/// The outcome of a run that kept every invariant.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ZabSimReport {
    pub timeline: Vec<String>,
    /// Every established leadership, in order: (time, leader, epoch).
    pub leaderships: Vec<(Millis, ServerId, u64)>,
    /// The final agreement: (leader, epoch, when).
    pub converged: (ServerId, u64, Millis),
}

const TICK: Millis = Millis(10);

struct Sim {
    cfg: ZabSimConfig,
    rng: Prng,
    now: Millis,
    /// Messages travel with the sender's last zxid at sending time, which
    /// the zxid invariant needs (votes do not carry the voter's own zxid).
    net: SimNet<(ZabMessage, Zxid)>,
    votes_seen: LeaderHoldsNewestZxid,
    nodes: BTreeMap<ServerId, Option<ZabNode>>,
    disks: BTreeMap<ServerId, Persistent>,
    leaders: OnePerEpoch<ServerId>,
    leaderships: Vec<(Millis, ServerId, u64)>,
    timeline: Timeline,
}

/// Runs one seeded simulation.
pub fn run_zab(cfg: &ZabSimConfig) -> Result<ZabSimReport, SimFailure> {
    let mut sim = Sim::new(cfg.clone());
    sim.run()?;
    let converged = sim
        .converged()
        .ok_or_else(|| sim.fail("ended without agreement"))?;
    Ok(ZabSimReport {
        timeline: sim.timeline.lines,
        leaderships: sim.leaderships,
        converged: (converged.0, converged.1, sim.now),
    })
}

fn node_config(id: ServerId, n: u64) -> ZabConfig {
    ZabConfig {
        verifier: Arc::new(MajorityVerifier::new(1..=n)),
        // Short enough that a healed cluster converges quickly.
        max_notification_interval: Millis(1_600),
        ..ZabConfig::majority(id, n)
    }
}

impl Sim {
    fn new(cfg: ZabSimConfig) -> Sim {
        let mut rng = Prng::new(cfg.seed);
        let faults = if cfg.chaos {
            NetFaults::chaotic(&mut rng, 15, 60)
        } else {
            NetFaults::reliable()
        };
        let mut disks = BTreeMap::new();
        for id in 1..=cfg.nodes {
            // Chaos runs start from diverged histories.
            let disk = if cfg.chaos {
                Persistent::with_history(Zxid::new(rng.below(3) as u32, rng.below(5) as u32))
            } else {
                Persistent::default()
            };
            disks.insert(id, disk);
        }
        let mut net = SimNet::new(faults);
        net.set_partition(cfg.partition.clone());
        let nodes = (1..=cfg.nodes).map(|id| (id, None)).collect();
        let timeline = Timeline::new(cfg.seed, cfg.trace);
        Sim {
            cfg,
            rng,
            now: Millis(0),
            net,
            nodes,
            disks,
            votes_seen: LeaderHoldsNewestZxid::default(),
            leaders: OnePerEpoch::default(),
            leaderships: Vec::new(),
            timeline,
        }
    }

    fn fail(&self, what: impl Into<String>) -> SimFailure {
        self.timeline.fail(self.now, what)
    }

    fn log(&mut self, text: String) {
        self.timeline.log(self.now, &text);
    }

    fn run(&mut self) -> Result<(), SimFailure> {
        let n = self.cfg.nodes;
        self.log(format!(
            "{n} servers start LOOKING (seed {})",
            self.cfg.seed
        ));
        if let Some(groups) = self.cfg.partition.clone() {
            self.log(format!("*** partition {}", show_groups(&groups)));
        }
        for id in 1..=n {
            self.start(id)?;
        }
        if self.cfg.chaos {
            let end = self.now + Millis(self.cfg.chaos_ms);
            while self.now < end {
                self.chaos_step();
                self.advance(self.now + Millis(100))?;
            }
            self.heal_all()?;
        }
        if self.cfg.partition.is_some() {
            self.advance(self.now + Millis(self.cfg.partition_ms))?;
            self.net.set_partition(None);
            self.log("*** partition healed".into());
        }
        let started = self.now;
        let (leader, epoch) = self.until_converged(started, 0)?;
        self.log(format!(
            "converged: leader={leader} epoch={epoch}, {}ms after the last fault healed",
            self.now.since(started).as_u64()
        ));
        if self.cfg.kill_leader {
            self.crash(leader);
            let killed = self.now;
            let (l2, e2) = self.until_converged(killed, epoch)?;
            if e2 <= epoch || l2 == leader {
                return Err(self.fail(format!(
                    "after killing {leader} (epoch {epoch}) got leader {l2} epoch {e2}"
                )));
            }
            self.log(format!(
                "converged: new leader={l2} epoch={e2}, {}ms after the leader was killed",
                self.now.since(killed).as_u64()
            ));
        }
        Ok(())
    }

    fn until_converged(
        &mut self,
        since: Millis,
        above_epoch: u64,
    ) -> Result<(ServerId, u64), SimFailure> {
        let deadline = since + Millis(self.cfg.converge_within_ms);
        loop {
            if let Some((l, e)) = self.converged() {
                if e > above_epoch {
                    return Ok((l, e));
                }
            }
            if self.now >= deadline {
                return Err(self.fail(format!(
                    "no agreement within {}ms of healing: {}",
                    self.cfg.converge_within_ms,
                    self.describe()
                )));
            }
            self.advance(self.now + TICK)?;
        }
    }

    fn describe(&self) -> String {
        let parts: Vec<String> = self
            .nodes
            .iter()
            .map(|(id, n)| match n {
                None => format!("n{id}=down"),
                Some(n) => format!("n{id}={}:{:?}:r{}", n.state(), n.established(), n.round()),
            })
            .collect();
        parts.join(" ")
    }

    /// `(leader, epoch)` when every live server is established on it.
    fn converged(&self) -> Option<(ServerId, u64)> {
        let mut agreed = None;
        for n in self.nodes.values().flatten() {
            let e = n.established()?;
            if agreed.is_some_and(|a| a != e) {
                return None;
            }
            agreed = Some(e);
        }
        agreed
    }

    fn chaos_step(&mut self) {
        let n = self.cfg.nodes;
        let id = 1 + self.rng.below(n);
        match self.rng.below(100) {
            0..=3 => {
                if self.nodes[&id].is_some() {
                    self.crash(id);
                }
            }
            4..=13 => {
                if self.nodes[&id].is_none() {
                    let _ = self.start(id);
                }
            }
            14..=16 => {
                let groups = random_halves(&mut self.rng, n);
                self.log(format!("*** partition {}", show_groups(&groups)));
                self.net.set_partition(Some(groups));
            }
            17..=22 => {
                if self.net.is_partitioned() {
                    self.log("*** partition healed".into());
                    self.net.set_partition(None);
                }
            }
            _ => {
                // Leaders write now and then so that histories diverge.
                let leaders: Vec<ServerId> = self
                    .nodes
                    .iter()
                    .filter(|(_, n)| {
                        n.as_ref()
                            .is_some_and(|n| n.state() == ServerState::Leading)
                    })
                    .map(|(id, _)| *id)
                    .collect();
                for l in leaders {
                    if let Some(node) = self.nodes.get_mut(&l).and_then(|n| n.as_mut()) {
                        node.propose();
                    }
                    let _ = self.flush(l);
                }
            }
        }
    }

    fn heal_all(&mut self) -> Result<(), SimFailure> {
        self.net.heal();
        self.log("*** all faults healed".into());
        for id in 1..=self.cfg.nodes {
            if self.nodes[&id].is_none() {
                self.start(id)?;
            }
        }
        Ok(())
    }

    fn crash(&mut self, id: ServerId) {
        if let Some(node) = self.nodes.insert(id, None).flatten() {
            self.disks.insert(id, node.persistent());
        }
        self.net.drop_node(id);
        self.log(format!("*** n{id} crashes"));
    }

    fn start(&mut self, id: ServerId) -> Result<(), SimFailure> {
        let node = ZabNode::new(node_config(id, self.cfg.nodes), self.disks[&id], self.now);
        self.nodes.insert(id, Some(node));
        if self.now > Millis(0) {
            self.log(format!("*** n{id} restarts"));
        }
        self.flush(id).map(|_| ())
    }

    /// Runs the cluster until `end`: deliveries in time order, ticks every
    /// `TICK`.
    fn advance(&mut self, end: Millis) -> Result<(), SimFailure> {
        let mut next_tick = Millis((self.now.as_u64() / TICK.as_u64() + 1) * TICK.as_u64());
        while self.now < end {
            let due = self.net.next_due().filter(|d| *d < next_tick);
            match due {
                Some(at) => {
                    self.now = self.now.max(at);
                    while let Some(env) = self.net.pop_due(self.now) {
                        let (msg, sender_zxid) = env.msg;
                        if let Some(node) = self.nodes.get_mut(&env.to).and_then(|n| n.as_mut()) {
                            if let ZabMessage::Notification(n) = msg {
                                if n.state == ServerState::Looking {
                                    self.votes_seen.vote_delivered(
                                        env.to,
                                        env.from,
                                        n.round,
                                        n.vote,
                                        sender_zxid,
                                    );
                                }
                            }
                            node.handle_message(self.now, env.from, msg);
                            self.flush(env.to)?;
                        }
                    }
                }
                None => {
                    self.now = next_tick;
                    next_tick = next_tick + TICK;
                    for id in 1..=self.cfg.nodes {
                        if let Some(node) = self.nodes.get_mut(&id).and_then(|n| n.as_mut()) {
                            // The sim ticks on a fixed beat; a beat before
                            // the node's own deadline must find nothing due,
                            // or a shell sleeping until `poll_timeout` would
                            // miss a timer.
                            let due = node.poll_timeout(self.now);
                            node.handle_timeout(self.now);
                            let outputs = self.flush(id)?;
                            timers_within_poll_timeout::check(
                                &format!("n{id}"),
                                self.now,
                                due,
                                outputs,
                            )
                            .map_err(|e| self.fail(e))?;
                        }
                    }
                }
            }
        }
        Ok(())
    }

    /// Moves a node's output to the network and checks its events; returns
    /// how many messages and events there were.
    fn flush(&mut self, id: ServerId) -> Result<usize, SimFailure> {
        let mut drained = 0;
        loop {
            let Some(node) = self.nodes.get_mut(&id).and_then(|n| n.as_mut()) else {
                return Ok(drained);
            };
            drained += 1;
            if let Some((to, msg)) = node.poll_transmit() {
                let zxid = node.last_zxid();
                let fate = self.net.send(&mut self.rng, self.now, id, to, (msg, zxid));
                if self.cfg.trace
                    && !matches!(msg, ZabMessage::Ping { .. } | ZabMessage::PingAck { .. })
                {
                    let note = match fate {
                        Fate::Queued {
                            duplicated: true, ..
                        } => " (duplicated)",
                        Fate::Queued { .. } => "",
                        Fate::Lost => " (lost)",
                        Fate::Cut => " (cut by partition)",
                    };
                    self.log(format!("n{id} -> n{to} {msg}{note}"));
                }
                continue;
            }
            match node.poll_event() {
                Some(ev) => self.on_event(id, ev)?,
                None => return Ok(drained - 1),
            }
        }
    }

    fn on_event(&mut self, id: ServerId, ev: ZabEvent) -> Result<(), SimFailure> {
        match ev {
            ZabEvent::StartedLooking {
                round,
                vote,
                reason,
            } => {
                self.log(format!(
                    "n{id} LOOKING in round {round}, votes for itself {vote} ({})",
                    reason.as_str()
                ));
            }
            ZabEvent::VoteChanged { round, vote, from } => {
                self.log(format!(
                    "n{id} now votes for n{} in round {round} (better vote from n{from}: {vote})",
                    vote.leader
                ));
            }
            ZabEvent::Decided {
                state,
                vote,
                round,
                backers,
                how,
            } => {
                let list: Vec<String> = backers.iter().map(|b| b.to_string()).collect();
                self.log(format!(
                    "n{id} decides {state} leader={} in round {round}: {} (backers {})",
                    vote.leader,
                    how.as_str(),
                    list.join(",")
                ));
                if state == ServerState::Leading && how == DecideHow::QuorumAfterFinalizeWait {
                    let own = self.disk_of(id).last_zxid;
                    self.votes_seen
                        .decided(id, own, vote, round, &backers)
                        .map_err(|e| self.fail(e))?;
                }
            }
            ZabEvent::Established {
                state,
                leader,
                epoch,
                zxid,
            } => {
                self.log(format!(
                    "n{id} {state} leader={leader} epoch={epoch} (synced at zxid {zxid})"
                ));
                match state {
                    ServerState::Leading => {
                        self.leaders.claim(epoch, leader).map_err(|other| {
                            self.fail(format!(
                                "two leaders in epoch {epoch}: n{other} and n{leader}"
                            ))
                        })?;
                        self.leaderships.push((self.now, leader, epoch));
                    }
                    _ => follower_follows_epoch_leader::check(&self.leaders, id, leader, epoch)
                        .map_err(|e| self.fail(e))?,
                }
            }
        }
        Ok(())
    }

    fn disk_of(&self, id: ServerId) -> Persistent {
        match self.nodes.get(&id) {
            Some(Some(n)) => n.persistent(),
            _ => self.disks[&id],
        }
    }
}

fn show_groups(groups: &[Vec<ServerId>]) -> String {
    let parts: Vec<String> = groups
        .iter()
        .map(|g| {
            let ids: Vec<String> = g.iter().map(|i| i.to_string()).collect();
            format!("{{{}}}", ids.join(","))
        })
        .collect();
    parts.join(" | ")
}
