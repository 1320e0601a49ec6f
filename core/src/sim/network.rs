//! An in-memory network for simulations: per-message seeded loss,
//! duplication and delay, plus partitions that cut links both when a
//! message is sent and when it would be delivered.

use std::collections::BTreeSet;

use super::queue::Queue;
use crate::election::NodeId;
use crate::prng::Prng;
use crate::time::Millis;

/// How unreliable the network is. Percentages are 0..=100.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct NetFaults {
    pub loss_pct: u64,
    pub dup_pct: u64,
    pub min_delay: u64,
    pub max_delay: u64,
}

impl NetFaults {
    /// A healthy LAN: nothing lost, small delays.
    pub fn reliable() -> NetFaults {
        NetFaults {
            loss_pct: 0,
            dup_pct: 0,
            min_delay: 1,
            max_delay: 5,
        }
    }

    /// Seeded chaos: a loss rate below `max_loss_pct`, a duplication rate
    /// below 10 percent, delays from 1 ms to at most `max_delay` ms. The draws are made in
    /// that order, so a seed gives the same faults in every simulator.
    pub fn chaotic(rng: &mut Prng, max_loss_pct: u64, max_delay: u64) -> NetFaults {
        NetFaults {
            loss_pct: rng.below(max_loss_pct),
            dup_pct: rng.below(10),
            min_delay: 1,
            max_delay: 1 + rng.below(max_delay),
        }
    }
}

/// Splits `1..=n` into two random groups (either may be empty), one coin
/// flip per node in id order.
pub fn random_halves(rng: &mut Prng, n: u64) -> Vec<Vec<NodeId>> {
    let mut a = Vec::new();
    let mut b = Vec::new();
    for i in 1..=n {
        if rng.chance(1, 2) {
            a.push(i)
        } else {
            b.push(i)
        }
    }
    vec![a, b]
}

/// A message in flight.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Envelope<M> {
    pub from: NodeId,
    pub to: NodeId,
    pub msg: M,
    pub sent: Millis,
}

/// What happened to a message handed to [`SimNet::send`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fate {
    Queued { at: Millis, duplicated: bool },
    Lost,
    Cut,
}

#[derive(Debug)]
pub struct SimNet<M> {
    queue: Queue<Envelope<M>>,
    pub faults: NetFaults,
    groups: Option<Vec<BTreeSet<NodeId>>>,
}

impl<M: Clone> SimNet<M> {
    pub fn new(faults: NetFaults) -> Self {
        SimNet {
            queue: Queue::new(),
            faults,
            groups: None,
        }
    }

    /// Splits the nodes into groups that cannot talk to each other; nodes in
    /// no group are isolated. `None` heals.
    pub fn set_partition(&mut self, groups: Option<Vec<Vec<NodeId>>>) {
        self.groups = groups.map(|gs| gs.into_iter().map(|g| g.into_iter().collect()).collect());
    }

    /// Every fault healed: no partition, a reliable network from now on.
    pub fn heal(&mut self) {
        self.set_partition(None);
        self.faults = NetFaults::reliable();
    }

    pub fn is_partitioned(&self) -> bool {
        self.groups.is_some()
    }

    pub fn connected(&self, a: NodeId, b: NodeId) -> bool {
        match &self.groups {
            None => true,
            Some(gs) => gs.iter().any(|g| g.contains(&a) && g.contains(&b)),
        }
    }

    pub fn send(&mut self, rng: &mut Prng, now: Millis, from: NodeId, to: NodeId, msg: M) -> Fate {
        if !self.connected(from, to) {
            return Fate::Cut;
        }
        if rng.chance(self.faults.loss_pct, 100) {
            return Fate::Lost;
        }
        let at = now + Millis(self.delay(rng));
        let duplicated = rng.chance(self.faults.dup_pct, 100);
        if duplicated {
            let again = now + Millis(self.delay(rng));
            self.push(again, from, to, msg.clone(), now);
        }
        self.push(at, from, to, msg, now);
        Fate::Queued { at, duplicated }
    }

    fn delay(&self, rng: &mut Prng) -> u64 {
        let span = self.faults.max_delay.saturating_sub(self.faults.min_delay);
        self.faults.min_delay + rng.below(span + 1)
    }

    fn push(&mut self, at: Millis, from: NodeId, to: NodeId, msg: M, sent: Millis) {
        self.queue.push(
            at,
            Envelope {
                from,
                to,
                msg,
                sent,
            },
        );
    }

    /// When the next message is due.
    pub fn next_due(&self) -> Option<Millis> {
        self.queue.next_due()
    }

    /// The next message due at or before `now` whose link is still up;
    /// messages whose link was cut meanwhile are dropped.
    pub fn pop_due(&mut self, now: Millis) -> Option<Envelope<M>> {
        loop {
            let env = self.queue.pop_due(now)?;
            if self.connected(env.from, env.to) {
                return Some(env);
            }
        }
    }

    /// Drops everything in flight to or from `node` (it crashed).
    pub fn drop_node(&mut self, node: NodeId) {
        self.queue.retain(|e| e.from != node && e.to != node);
    }

    pub fn in_flight(&self) -> usize {
        self.queue.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reliable_network_delivers_in_time_order() {
        let mut rng = Prng::new(1);
        let mut net = SimNet::new(NetFaults::reliable());
        for i in 0..20u64 {
            net.send(&mut rng, Millis(i), 1, 2, i);
        }
        let mut last = Millis(0);
        let mut got = 0;
        while let Some(due) = net.next_due() {
            assert!(due >= last);
            last = due;
            net.pop_due(due).unwrap();
            got += 1;
        }
        assert_eq!(got, 20);
    }

    #[test]
    fn partitions_cut_at_send_and_at_delivery() {
        let mut rng = Prng::new(2);
        let mut net = SimNet::new(NetFaults::reliable());
        assert!(matches!(
            net.send(&mut rng, Millis(0), 1, 2, ()),
            Fate::Queued { .. }
        ));
        net.set_partition(Some(vec![vec![1], vec![2, 3]]));
        assert_eq!(net.send(&mut rng, Millis(0), 1, 2, ()), Fate::Cut);
        assert!(net.connected(2, 3) && !net.connected(1, 3));
        assert_eq!(net.pop_due(Millis(100)), None);
        net.set_partition(None);
        assert!(net.connected(1, 3));
    }

    #[test]
    fn total_loss_loses_everything() {
        let mut rng = Prng::new(3);
        let mut net = SimNet::new(NetFaults {
            loss_pct: 100,
            ..NetFaults::reliable()
        });
        for _ in 0..10 {
            assert_eq!(net.send(&mut rng, Millis(0), 1, 2, ()), Fate::Lost);
        }
        assert_eq!(net.in_flight(), 0);
    }
}
