//! A seeded Kafka (ZooKeeper-mode) cluster simulation: brokers with store
//! sessions race for `/controller`, the controller elects partition leaders
//! and keeps ISRs, and chaos crashes, pauses (stale controllers) and cuts
//! brokers. Invariants (one per file in `sim/invariants/`) are checked
//! after every step; a liveness phase with faults healed must bring back one
//! controller and the preferred leaders.

use std::collections::{BTreeMap, BTreeSet};

use crate::ids::Epoch;
use crate::kafka::{
    AgentStep, BrokerId, ControllerAgent, ControllerView, CoordStore, ElectionKind, LeaderChange,
    PartitionState, SessionId, StoreError, WatchKind, BROKER_IDS_PREFIX, CONTROLLER_EPOCH_PATH,
    CONTROLLER_PATH,
};
use crate::prng::Prng;
use crate::time::Millis;

use super::invariants::one_per_epoch::OnePerEpoch;
use super::invariants::{clean_elections_pick_isr, leader_in_isr};
use super::network::{random_halves, NetFaults, SimNet};
use super::{SimFailure, Timeline};

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KafkaSimConfig {
    pub brokers: u64,
    pub partitions: u64,
    pub seed: u64,
    pub chaos: bool,
    pub chaos_ms: u64,
    pub converge_within_ms: u64,
    /// After converging, crash the controller, require a new one with a
    /// higher epoch, then restart the old one and converge again.
    pub kill_controller: bool,
    pub unclean: bool,
    pub session_timeout_ms: u64,
    pub trace: bool,
}

impl KafkaSimConfig {
    pub fn chaos(seed: u64) -> KafkaSimConfig {
        KafkaSimConfig {
            brokers: if seed.is_multiple_of(2) { 3 } else { 4 },
            partitions: 4,
            seed,
            chaos: true,
            chaos_ms: 4_000,
            converge_within_ms: 15_000,
            kill_controller: seed.is_multiple_of(3),
            unclean: seed.is_multiple_of(5),
            session_timeout_ms: 600,
            trace: false,
        }
    }

    pub fn calm(brokers: u64, partitions: u64, seed: u64) -> KafkaSimConfig {
        KafkaSimConfig {
            brokers,
            partitions,
            seed,
            chaos: false,
            chaos_ms: 0,
            converge_within_ms: 30_000,
            kill_controller: false,
            unclean: false,
            session_timeout_ms: 3_000,
            trace: true,
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KafkaSimReport {
    pub timeline: Vec<String>,
    /// Every controller that won the race: (time, broker, epoch).
    pub controllers: Vec<(Millis, BrokerId, u64)>,
    /// Final state: controller, epoch, and each partition's leader.
    pub final_controller: (BrokerId, u64),
    pub final_leaders: Vec<Option<BrokerId>>,
}

/// A controller's order to a replica.
#[derive(Clone, Debug, PartialEq, Eq)]
struct LeaderAndIsr {
    controller_epoch: u64,
    partition: u64,
    state: PartitionState,
}

const TICK: Millis = Millis(50);
const CATCH_UP: Millis = Millis(300);
const RESEND_EVERY: u64 = 1_000;

struct Broker {
    alive: bool,
    paused_until: Option<Millis>,
    session: Option<SessionId>,
    agent: ControllerAgent,
    registered_at: Millis,
    /// Partition → (leader, leader epoch) as this replica was told.
    leaders: BTreeMap<u64, (Option<BrokerId>, u64)>,
}

struct Sim {
    cfg: KafkaSimConfig,
    rng: Prng,
    now: Millis,
    store: CoordStore,
    net: SimNet<LeaderAndIsr>,
    brokers: BTreeMap<BrokerId, Broker>,
    acted: OnePerEpoch<BrokerId>,
    controllers: Vec<(Millis, BrokerId, u64)>,
    timeline: Timeline,
}

pub fn run_kafka(cfg: &KafkaSimConfig) -> Result<KafkaSimReport, SimFailure> {
    let mut sim = Sim::new(cfg.clone());
    sim.run()?;
    let (c, e) = sim
        .controller_agreed()
        .ok_or_else(|| sim.fail("ended without a controller"))?;
    let final_leaders = (0..cfg.partitions)
        .map(|p| sim.partition(p).leader)
        .collect();
    Ok(KafkaSimReport {
        timeline: sim.timeline.lines,
        controllers: sim.controllers,
        final_controller: (c, e),
        final_leaders,
    })
}

fn partition_path(p: u64) -> String {
    format!("/brokers/topics/t/partitions/{p}/state")
}

impl Sim {
    fn new(cfg: KafkaSimConfig) -> Sim {
        let mut rng = Prng::new(cfg.seed);
        let faults = if cfg.chaos {
            NetFaults::chaotic(&mut rng, 20, 100)
        } else {
            NetFaults::reliable()
        };
        let brokers = (1..=cfg.brokers)
            .map(|id| {
                (
                    id,
                    Broker {
                        alive: false,
                        paused_until: None,
                        session: None,
                        agent: ControllerAgent::new(id),
                        registered_at: Millis(0),
                        leaders: BTreeMap::new(),
                    },
                )
            })
            .collect();
        let timeline = Timeline::new(cfg.seed, cfg.trace);
        Sim {
            cfg,
            rng,
            now: Millis(0),
            store: CoordStore::new(),
            net: SimNet::new(faults),
            brokers,
            acted: OnePerEpoch::default(),
            controllers: Vec::new(),
            timeline,
        }
    }

    fn fail(&self, what: impl Into<String>) -> SimFailure {
        self.timeline.fail(self.now, what)
    }

    fn log(&mut self, text: String) {
        self.timeline.log(self.now, &text);
    }

    /// Replicas of partition `p`: `rf` brokers starting at `p mod n`.
    fn assignment(&self, p: u64) -> Vec<BrokerId> {
        let n = self.cfg.brokers;
        let rf = n.min(3);
        (0..rf).map(|i| 1 + (p + i) % n).collect()
    }

    fn partition(&self, p: u64) -> PartitionState {
        self.store
            .get(&partition_path(p))
            .and_then(|z| PartitionState::decode(&z.data))
            .unwrap_or_else(|| PartitionState::new(self.assignment(p)))
    }

    fn run(&mut self) -> Result<(), SimFailure> {
        self.log(format!(
            "{} brokers, {} partitions (replication factor {}), session timeout {}ms, unclean election {} (seed {})",
            self.cfg.brokers,
            self.cfg.partitions,
            self.cfg.brokers.min(3),
            self.cfg.session_timeout_ms,
            if self.cfg.unclean { "on" } else { "off" },
            self.cfg.seed
        ));
        for id in 1..=self.cfg.brokers {
            self.start(id);
        }
        if self.cfg.chaos {
            let end = self.now + Millis(self.cfg.chaos_ms);
            while self.now < end {
                self.chaos_step();
                self.step()?;
            }
            self.heal_all();
        }
        let since = self.now;
        self.until(
            since,
            "every broker alive with one controller and the preferred leaders",
            |s| s.fully_converged(),
        )?;
        let (c, e) = self.controller_agreed().unwrap_or((0, 0));
        self.log(format!(
            "converged: controller={c} epoch={e}, every partition led by its preferred replica, {}ms after start/heal",
            self.now.since(since).as_u64()
        ));
        if self.cfg.kill_controller {
            self.crash(c);
            let killed = self.now;
            self.until(killed, "a new controller after the kill", |s| {
                s.controller_agreed()
                    .is_some_and(|(c2, e2)| c2 != c && e2 > e)
                    && s.all_partitions_led()
            })?;
            let (c2, e2) = self.controller_agreed().unwrap_or((0, 0));
            self.log(format!(
                "new controller={c2} epoch={e2}, {}ms after the controller was killed",
                self.now.since(killed).as_u64()
            ));
            self.start(c);
            let back = self.now;
            self.until(
                back,
                "preferred leaders back after the old controller rejoined",
                |s| s.fully_converged(),
            )?;
            self.log(format!(
                "b{c} rejoined the ISRs and got its preferred leaderships back, {}ms after restarting",
                self.now.since(back).as_u64()
            ));
        }
        Ok(())
    }

    fn until(
        &mut self,
        since: Millis,
        what: &str,
        done: impl Fn(&Sim) -> bool,
    ) -> Result<(), SimFailure> {
        let deadline = since + Millis(self.cfg.converge_within_ms);
        while !done(self) {
            if self.now >= deadline {
                return Err(self.fail(format!(
                    "not reached within {}ms: {what}; {}",
                    self.cfg.converge_within_ms,
                    self.describe()
                )));
            }
            self.step()?;
        }
        Ok(())
    }

    fn describe(&self) -> String {
        let brokers: Vec<String> = self
            .brokers
            .iter()
            .map(|(id, b)| format!("b{id}(alive={} knows={:?})", b.alive, b.agent.known()))
            .collect();
        let parts: Vec<String> = (0..self.cfg.partitions)
            .map(|p| format!("p{p}:{}", self.partition(p)))
            .collect();
        format!("{} | {}", brokers.join(" "), parts.join(" "))
    }

    /// `(controller, epoch)` when the store and every live broker agree.
    fn controller_agreed(&self) -> Option<(BrokerId, u64)> {
        let holder: BrokerId = self.store.get(CONTROLLER_PATH)?.data.parse().ok()?;
        let epoch = self.store.counter(CONTROLLER_EPOCH_PATH);
        let all_know =
            self.brokers.values().filter(|b| b.alive).all(|b| {
                b.agent.known() == Some((holder, Epoch(epoch))) && b.paused_until.is_none()
            });
        all_know.then_some((holder, epoch))
    }

    fn live(&self) -> BTreeSet<BrokerId> {
        self.brokers
            .iter()
            .filter(|(_, b)| b.alive && b.paused_until.is_none())
            .map(|(id, _)| *id)
            .collect()
    }

    fn all_partitions_led(&self) -> bool {
        let live = self.live();
        (0..self.cfg.partitions).all(|p| {
            let st = self.partition(p);
            st.leader.is_some_and(|l| live.contains(&l))
                && st
                    .replicas
                    .iter()
                    .filter(|r| live.contains(r))
                    .all(|r| self.brokers[r].leaders.get(&p) == Some(&(st.leader, st.leader_epoch)))
        })
    }

    fn fully_converged(&self) -> bool {
        self.brokers
            .values()
            .all(|b| b.alive && b.paused_until.is_none())
            && self.controller_agreed().is_some()
            && self.all_partitions_led()
            && (0..self.cfg.partitions).all(|p| {
                let st = self.partition(p);
                st.leader == st.preferred() && st.isr == st.replicas
            })
    }

    fn chaos_step(&mut self) {
        let id = 1 + self.rng.below(self.cfg.brokers);
        match self.rng.below(100) {
            0..=2 if self.brokers[&id].alive => self.crash(id),
            3..=10 if !self.brokers[&id].alive => self.start(id),
            11..=12 => {
                // A long pause (GC, VM stall): no heartbeats, no actions,
                // and no idea that time passed.
                let b = self.brokers.get_mut(&id).unwrap();
                if b.alive && b.paused_until.is_none() {
                    let len = self.cfg.session_timeout_ms / 2
                        + self.rng.below(self.cfg.session_timeout_ms * 2);
                    b.paused_until = Some(self.now + Millis(len));
                    self.log(format!("*** b{id} pauses for {len}ms"));
                }
            }
            13..=14 => {
                let groups = random_halves(&mut self.rng, self.cfg.brokers);
                self.net.set_partition(Some(groups));
            }
            15..=20 => self.net.set_partition(None),
            _ => {}
        }
    }

    fn heal_all(&mut self) {
        self.net.heal();
        for id in 1..=self.cfg.brokers {
            if !self.brokers[&id].alive {
                self.start(id);
            }
        }
        self.log("*** all faults healed".into());
    }

    fn crash(&mut self, id: BrokerId) {
        let b = self.brokers.get_mut(&id).unwrap();
        b.alive = false;
        b.paused_until = None;
        // The store keeps its session until the timeout: nobody told it.
        self.net.drop_node(id);
        self.log(format!(
            "*** b{id} crashes (its session lives until the {}ms timeout)",
            self.cfg.session_timeout_ms
        ));
    }

    fn start(&mut self, id: BrokerId) {
        let b = self.brokers.get_mut(&id).unwrap();
        b.alive = true;
        b.paused_until = None;
        b.session = None;
        b.agent = ControllerAgent::new(id);
        b.leaders.clear();
        if self.now > Millis(0) {
            self.log(format!("*** b{id} starts again"));
        }
    }

    fn step(&mut self) -> Result<(), SimFailure> {
        self.now = self.now + TICK;
        for id in 1..=self.cfg.brokers {
            self.broker_step(id)?;
        }
        for sid in self.store.expire_sessions(self.now) {
            if let Some((id, _)) = self.brokers.iter().find(|(_, b)| b.session == Some(sid)) {
                let id = *id;
                self.log(format!(
                    "session {sid} of b{id} expired: its ephemeral nodes are deleted"
                ));
            }
        }
        while let Some(ev) = self.store.poll_watch() {
            let Some((id, _)) = self
                .brokers
                .iter()
                .find(|(_, b)| b.session == Some(ev.session))
            else {
                continue;
            };
            let id = *id;
            self.log(format!("b{id}: watch on {} fired ({:?})", ev.path, ev.kind));
            if ev.kind == WatchKind::Deleted {
                self.brokers
                    .get_mut(&id)
                    .unwrap()
                    .agent
                    .handle_observed(ControllerView::Vacant);
            } else {
                self.observe_controller(id);
            }
            self.report_changes(id);
        }
        while let Some(env) = self.net.pop_due(self.now) {
            self.deliver(env.from, env.to, env.msg)?;
        }
        Ok(())
    }

    fn broker_step(&mut self, id: BrokerId) -> Result<(), SimFailure> {
        let b = &self.brokers[&id];
        if !b.alive {
            return Ok(());
        }
        if let Some(until) = b.paused_until {
            if self.now < until {
                return Ok(());
            }
            self.brokers.get_mut(&id).unwrap().paused_until = None;
            self.log(format!("*** b{id} resumes, unaware of the time it lost"));
        }
        // A resumed stale controller acts before it notices its session is
        // gone: exactly what fencing must catch.
        if let Some(Epoch(epoch)) = self.brokers[&id].agent.controller_epoch() {
            self.controller_duties(id, epoch)?;
        }
        self.keep_session(id);
        match self.brokers[&id].agent.poll_step() {
            AgentStep::TryAcquire => self.try_acquire(id),
            AgentStep::Renew { .. } | AgentStep::Observe => {}
        }
        self.report_changes(id);
        Ok(())
    }

    fn keep_session(&mut self, id: BrokerId) {
        let now = self.now;
        let session = self.brokers[&id].session;
        let path = format!("{BROKER_IDS_PREFIX}{id}");
        let sid = match session {
            Some(sid) if self.store.heartbeat(now, sid).is_ok() => sid,
            old => {
                if let Some(sid) = old {
                    self.log(format!("b{id}: session {sid} expired; opening a new one"));
                }
                let sid = self
                    .store
                    .open_session(now, Millis(self.cfg.session_timeout_ms));
                let b = self.brokers.get_mut(&id).unwrap();
                b.session = Some(sid);
                // Whatever we held died with the old session.
                b.agent.handle_renewed(false);
                sid
            }
        };
        // A previous session's node may linger until that session expires,
        // so registration is retried until it is ours.
        let registered = self
            .store
            .get(&path)
            .is_some_and(|z| z.ephemeral_owner == Some(sid));
        if !registered && self.store.create(sid, &path, "", true).is_ok() {
            self.brokers.get_mut(&id).unwrap().registered_at = now;
            self.log(format!("b{id} registers {path} (session {sid})"));
        }
    }

    fn try_acquire(&mut self, id: BrokerId) {
        let Some(sid) = self.brokers[&id].session else {
            return;
        };
        match self
            .store
            .create(sid, CONTROLLER_PATH, &id.to_string(), true)
        {
            Ok(()) => {
                let epoch = self.store.increment(CONTROLLER_EPOCH_PATH);
                self.brokers
                    .get_mut(&id)
                    .unwrap()
                    .agent
                    .handle_acquired(Some(Epoch(epoch)));
                self.controllers.push((self.now, id, epoch));
                self.log(format!(
                    "b{id} creates {CONTROLLER_PATH}: won, controller epoch {epoch}"
                ));
            }
            Err(_) => {
                self.brokers
                    .get_mut(&id)
                    .unwrap()
                    .agent
                    .handle_acquired(None);
                self.observe_controller(id);
            }
        }
    }

    /// Reads `/controller` and sets the one-shot watch again.
    fn observe_controller(&mut self, id: BrokerId) {
        let Some(sid) = self.brokers[&id].session else {
            return;
        };
        self.store.watch(sid, CONTROLLER_PATH);
        let view = match self
            .store
            .get(CONTROLLER_PATH)
            .and_then(|z| z.data.parse().ok())
        {
            Some(controller) => ControllerView::Held {
                controller,
                epoch: Epoch(self.store.counter(CONTROLLER_EPOCH_PATH)),
            },
            None => ControllerView::Vacant,
        };
        if let ControllerView::Held { controller, epoch } = view {
            self.log(format!(
                "b{id}: {CONTROLLER_PATH} exists (held by b{controller}, epoch {epoch}); watching it"
            ));
        }
        self.brokers
            .get_mut(&id)
            .unwrap()
            .agent
            .handle_observed(view);
    }

    fn report_changes(&mut self, id: BrokerId) {
        while let Some(c) = self.brokers.get_mut(&id).unwrap().agent.poll_change() {
            self.log(format!(
                "b{id} now knows controller={} epoch={}",
                c.controller, c.epoch
            ));
        }
    }

    /// What the controller does each tick: elect leaders for partitions whose
    /// leader died, shrink and expand ISRs, and move leadership back to
    /// preferred replicas; every write is fenced by the controller epoch.
    fn controller_duties(&mut self, id: BrokerId, epoch: u64) -> Result<(), SimFailure> {
        let live: BTreeSet<BrokerId> = self
            .store
            .children(BROKER_IDS_PREFIX)
            .iter()
            .filter_map(|p| p.strip_prefix(BROKER_IDS_PREFIX)?.parse().ok())
            .collect();
        let resend = self.now.as_u64() % RESEND_EVERY < TICK.as_u64();
        for p in 0..self.cfg.partitions {
            let old = self.partition(p);
            let mut st = old.clone();
            let mut notes = Vec::new();
            for r in old
                .isr
                .iter()
                .filter(|r| !live.contains(r) && Some(**r) != old.leader)
            {
                if st.shrink_isr(*r) {
                    notes.push(format!("b{r} dropped from ISR (offline)"));
                }
            }
            if st.leader.is_none_or(|l| !live.contains(&l)) {
                let kind = ElectionKind::Offline {
                    unclean: self.cfg.unclean,
                };
                match st.elect(&kind, &live) {
                    Ok(change) => notes.push(self.describe_change("offline", &change, &old)?),
                    Err(_) => {
                        if st.leader.is_some() {
                            st.go_offline();
                            notes.push("no live in-sync replica: partition offline".into());
                        }
                    }
                }
            }
            if st.leader.is_some_and(|l| live.contains(&l)) {
                for r in st.replicas.clone() {
                    let caught_up = self.brokers[&r].alive
                        && self.now.since(self.brokers[&r].registered_at) >= CATCH_UP;
                    if live.contains(&r) && caught_up && st.expand_isr(r) {
                        notes.push(format!("b{r} caught up: back in ISR"));
                    }
                }
                if st.leader != st.preferred() {
                    let before = st.clone();
                    if let Ok(change) = st.elect(&ElectionKind::Preferred, &live) {
                        notes.push(self.describe_change("preferred-replica", &change, &before)?);
                    }
                }
            }
            if st != old {
                match self.store.set_fenced(
                    CONTROLLER_EPOCH_PATH,
                    epoch,
                    &partition_path(p),
                    &st.encode(),
                ) {
                    Ok(()) => {
                        self.record_action(epoch, id)?;
                        leader_in_isr::check(p, &st).map_err(|e| self.fail(e))?;
                        self.log(format!(
                            "b{id} (controller, epoch {epoch}) p{p}: {} => {st}",
                            notes.join("; ")
                        ));
                        self.send_state(id, epoch, p, &st, true);
                    }
                    Err(StoreError::Fenced { current, carried }) => {
                        self.log(format!(
                            "b{id}: write for p{p} fenced (controller epoch is {current}, it carried {carried}): it resigns"
                        ));
                        self.brokers
                            .get_mut(&id)
                            .unwrap()
                            .agent
                            .handle_renewed(false);
                        return Ok(());
                    }
                    Err(e) => return Err(self.fail(format!("unexpected store error {e}"))),
                }
            } else if resend {
                self.send_state(id, epoch, p, &st, false);
            }
        }
        Ok(())
    }

    fn describe_change(
        &self,
        kind: &str,
        c: &LeaderChange,
        before: &PartitionState,
    ) -> Result<String, SimFailure> {
        clean_elections_pick_isr::check(kind, c, before, self.cfg.unclean)
            .map_err(|e| self.fail(e))?;
        let old = c.old.map_or("none".into(), |o| format!("b{o}"));
        let why = if c.unclean {
            "UNCLEAN: no live ISR member, took a live replica outside the ISR"
        } else if before.preferred() == Some(c.new) {
            "preferred replica, alive and in ISR"
        } else {
            "first live ISR member in assignment order"
        };
        Ok(format!(
            "{kind} election: leader {old} -> b{} ({why})",
            c.new
        ))
    }

    fn send_state(&mut self, from: BrokerId, epoch: u64, p: u64, st: &PartitionState, log: bool) {
        for r in st.replicas.clone() {
            let msg = LeaderAndIsr {
                controller_epoch: epoch,
                partition: p,
                state: st.clone(),
            };
            if r == from {
                // Local delivery needs no network.
                let _ = self.apply(from, from, msg);
                continue;
            }
            self.net.send(&mut self.rng, self.now, from, r, msg);
            if log {
                self.log(format!(
                    "b{from} -> b{r} LeaderAndIsr controller_epoch={epoch} p{p} {st}"
                ));
            }
        }
    }

    fn deliver(
        &mut self,
        from: BrokerId,
        to: BrokerId,
        msg: LeaderAndIsr,
    ) -> Result<(), SimFailure> {
        let b = &self.brokers[&to];
        if !b.alive || b.paused_until.is_some() {
            return Ok(());
        }
        self.apply(from, to, msg)
    }

    fn apply(&mut self, from: BrokerId, to: BrokerId, msg: LeaderAndIsr) -> Result<(), SimFailure> {
        let b = self.brokers.get_mut(&to).unwrap();
        if let Err(stale) = b
            .agent
            .handle_controller_request(Epoch(msg.controller_epoch))
        {
            self.log(format!("b{to} rejects LeaderAndIsr from b{from}: {stale}"));
            return Ok(());
        }
        let entry = b.leaders.entry(msg.partition).or_insert((None, 0));
        if msg.state.leader_epoch >= entry.1 {
            *entry = (msg.state.leader, msg.state.leader_epoch);
        }
        self.record_action(msg.controller_epoch, from)
    }

    fn record_action(&mut self, epoch: u64, by: BrokerId) -> Result<(), SimFailure> {
        self.acted.claim(epoch, by).map_err(|other| {
            self.fail(format!(
                "two controllers acted in controller epoch {epoch}: b{other} and b{by}"
            ))
        })
    }
}
