//! The simulated network: TCP-like connections opened by sentinels (to
//! modelled Redis instances and to each other), seeded delays with in-order
//! delivery per connection, partitions, and rare silent stalls. A lost
//! connection is reported as closed, never as quietly missing replies —
//! except for a stall, which is the one silent failure TCP allows.

use std::collections::{BTreeMap, BTreeSet};

use rsentinel_core::prng::Prng;
use rsentinel_core::sentinel::links::LinkId;
use rsentinel_core::time::Millis;

/// A machine on the simulated network.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Node {
    Sentinel(usize),
    Redis(usize),
}

pub const SENTINEL_BASE_PORT: u16 = 26379;
pub const REDIS_BASE_PORT: u16 = 6379;

impl Node {
    /// The node listening on `port` (every node lives on 127.0.0.1).
    pub fn by_port(port: u16, sentinels: usize, redis: usize) -> Option<Node> {
        if (SENTINEL_BASE_PORT..SENTINEL_BASE_PORT + sentinels as u16).contains(&port) {
            Some(Node::Sentinel((port - SENTINEL_BASE_PORT) as usize))
        } else if (REDIS_BASE_PORT..REDIS_BASE_PORT + redis as u16).contains(&port) {
            Some(Node::Redis((port - REDIS_BASE_PORT) as usize))
        } else {
            None
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ConnState {
    Connecting,
    Open,
}

/// One connection, always opened by a sentinel.
pub struct Conn {
    pub sentinel: usize,
    /// The sentinel process that opened it; a restarted sentinel starts
    /// with no connections.
    pub incarnation: u32,
    pub link: LinkId,
    pub dest: Node,
    pub state: ConnState,
    /// Silently dropping everything in both directions (a stuck TCP flow).
    pub stalled: bool,
    /// A `SUBSCRIBE __sentinel__:hello` was processed on it.
    pub subscribed: bool,
    /// Commands queued after MULTI, until EXEC.
    pub multi: Option<Vec<Vec<Vec<u8>>>>,
    /// Delivery times of the last message each way: later messages never
    /// overtake earlier ones on the same connection.
    last_to_dest: Millis,
    last_to_sentinel: Millis,
}

/// How unfriendly the network is right now.
#[derive(Clone, Copy, Debug)]
pub struct NetFaults {
    /// Chance per message (per 100 000) that the connection breaks.
    pub break_per_100k: u64,
    /// Chance per message (per 100 000) that the connection stalls.
    pub stall_per_100k: u64,
    /// Chance per message (per 1000) of a slow delivery (50–500 ms).
    pub slow_per_1000: u64,
}

impl NetFaults {
    pub fn perfect() -> NetFaults {
        NetFaults {
            break_per_100k: 0,
            stall_per_100k: 0,
            slow_per_1000: 0,
        }
    }

    pub fn chaos() -> NetFaults {
        NetFaults {
            break_per_100k: 150,
            stall_per_100k: 10,
            slow_per_1000: 20,
        }
    }
}

pub struct Network {
    pub conns: BTreeMap<u64, Conn>,
    /// The live connection of each (sentinel, link).
    pub by_link: BTreeMap<(usize, LinkId), u64>,
    next_id: u64,
    /// Partition group of each node; nodes not listed are in group 0.
    /// `None` = everybody reaches everybody.
    pub partition: Option<BTreeMap<Node, u8>>,
    /// Pairs that cannot reach each other on top of the groups: a
    /// non-transitive partition (A sees B and C, B and C do not see each
    /// other), as nftables rules between single hosts make it.
    pub cuts: BTreeSet<(Node, Node)>,
    pub faults: NetFaults,
}

/// What should happen to a message handed to the network.
pub enum Fate {
    Deliver(Millis),
    Drop,
    /// The connection breaks (reported closed after the given delay).
    Break(u64),
}

impl Network {
    pub fn new() -> Network {
        Network {
            conns: BTreeMap::new(),
            by_link: BTreeMap::new(),
            next_id: 0,
            partition: None,
            cuts: BTreeSet::new(),
            faults: NetFaults::perfect(),
        }
    }

    pub fn reachable(&self, a: Node, b: Node) -> bool {
        if self.cuts.contains(&(a, b)) || self.cuts.contains(&(b, a)) {
            return false;
        }
        match &self.partition {
            None => true,
            Some(groups) => {
                groups.get(&a).copied().unwrap_or(0) == groups.get(&b).copied().unwrap_or(0)
            }
        }
    }

    /// Registers a connection being opened for `link`, replacing (silently
    /// dropping) any previous one for the same link.
    pub fn open(&mut self, sentinel: usize, incarnation: u32, link: LinkId, dest: Node) -> u64 {
        self.next_id += 1;
        let id = self.next_id;
        if let Some(old) = self.by_link.insert((sentinel, link.clone()), id) {
            self.conns.remove(&old);
        }
        self.conns.insert(
            id,
            Conn {
                sentinel,
                incarnation,
                link,
                dest,
                state: ConnState::Connecting,
                stalled: false,
                subscribed: false,
                multi: None,
                last_to_dest: Millis::ZERO,
                last_to_sentinel: Millis::ZERO,
            },
        );
        id
    }

    /// Forgets a connection. Returns it, and whether it was the live one of
    /// its link (only then is its loss news to the sentinel).
    pub fn remove(&mut self, id: u64) -> Option<(Conn, bool)> {
        let conn = self.conns.remove(&id)?;
        let key = (conn.sentinel, conn.link.clone());
        let live = self.by_link.get(&key) == Some(&id);
        if live {
            self.by_link.remove(&key);
        }
        Some((conn, live))
    }

    pub fn live(&self, sentinel: usize, link: &LinkId) -> Option<u64> {
        self.by_link.get(&(sentinel, link.clone())).copied()
    }

    /// A one-way delay: loopback-fast, sometimes slow under chaos.
    pub fn delay(&self, prng: &mut Prng) -> u64 {
        if prng.chance(self.faults.slow_per_1000, 1000) {
            50 + prng.below(450)
        } else {
            1 + prng.below(4)
        }
    }

    /// Decides the fate of one message on connection `id`, `to_dest` telling
    /// the direction.
    pub fn route(&mut self, id: u64, to_dest: bool, now: Millis, prng: &mut Prng) -> Fate {
        let delay = self.delay(prng);
        let faults = self.faults;
        let reachable = match self.conns.get(&id) {
            Some(c) => self.reachable(Node::Sentinel(c.sentinel), c.dest),
            None => return Fate::Drop,
        };
        let Some(conn) = self.conns.get_mut(&id) else {
            return Fate::Drop;
        };
        if conn.state != ConnState::Open {
            return Fate::Drop;
        }
        if !reachable {
            // Across a partition TCP retransmits in vain and eventually
            // gives up; until then nothing gets through.
            if prng.chance(1, 20) {
                return Fate::Break(500 + prng.below(2500));
            }
            return Fate::Drop;
        }
        if prng.chance(faults.break_per_100k, 100_000) {
            return Fate::Break(prng.below(50));
        }
        if prng.chance(faults.stall_per_100k, 100_000) {
            conn.stalled = true;
        }
        if conn.stalled {
            return Fate::Drop;
        }
        let last = if to_dest {
            &mut conn.last_to_dest
        } else {
            &mut conn.last_to_sentinel
        };
        let at = (now + Millis(delay)).max(*last);
        *last = at;
        Fate::Deliver(at)
    }

    /// Open connections between the two sides of the current partition.
    pub fn crossing(&self) -> Vec<u64> {
        self.conns
            .iter()
            .filter(|(_, c)| !self.reachable(Node::Sentinel(c.sentinel), c.dest))
            .map(|(id, _)| *id)
            .collect()
    }

    /// Connections whose far end is `node`.
    pub fn reaching(&self, node: Node) -> Vec<u64> {
        self.conns
            .iter()
            .filter(|(_, c)| c.dest == node)
            .map(|(id, _)| *id)
            .collect()
    }

    /// Connections opened by sentinel `idx`.
    pub fn opened_by(&self, idx: usize) -> Vec<u64> {
        self.conns
            .iter()
            .filter(|(_, c)| c.sentinel == idx)
            .map(|(id, _)| *id)
            .collect()
    }
}
