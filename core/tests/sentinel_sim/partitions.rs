//! The partition scenarios of the real-process suite (tests/e2e_partition.rs)
//! as simulator schedules. Host i runs `Sentinel(i)` and `Redis(i)`;
//! `Redis(0)` is the first master. Each seed picks a scenario and jitters
//! its start and length.

use std::collections::{BTreeMap, BTreeSet};

use rsentinel_core::prng::Prng;
use rsentinel_core::time::Millis;

use super::network::Node;
use super::scenario::{Fault, SimConfig};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Scenario {
    /// The master and its sentinel cut off from the other two hosts.
    IsolateMasterHost,
    /// The master alone, cut off from everyone.
    IsolateMaster,
    /// One sentinel (not on the master's host) alone.
    SentinelMinority,
    /// The master's host cut off and healed, five times.
    Flapping,
    /// Host 0 sees hosts 1 and 2; hosts 1 and 2 do not see each other.
    Bridge,
}

pub const ALL: [Scenario; 5] = [
    Scenario::IsolateMasterHost,
    Scenario::IsolateMaster,
    Scenario::SentinelMinority,
    Scenario::Flapping,
    Scenario::Bridge,
];

/// How many separate partitions the scenario makes.
pub fn cuts(s: Scenario) -> usize {
    if s == Scenario::Flapping {
        FLAPS
    } else {
        1
    }
}

const FLAPS: usize = 5;

fn alone(nodes: &[Node]) -> BTreeMap<Node, u8> {
    nodes.iter().map(|n| (*n, 1)).collect()
}

/// Three hosts, quorum 2, the scenario's faults from about 5 s on.
pub fn config(seed: u64, s: Scenario) -> SimConfig {
    let mut p = Prng::new(seed ^ 0x9A27_1710_0000_0005);
    let mut cfg = SimConfig::calm(seed);
    cfg.sentinels = 3;
    cfg.quorum = 2;
    cfg.replicas = 2;
    let start = 5_000 + p.below(2_000);
    let host0 = [Node::Sentinel(0), Node::Redis(0)];
    let mut faults = Vec::new();
    match s {
        Scenario::IsolateMasterHost => faults.push((
            Millis(start),
            Fault::Partition {
                groups: alone(&host0),
                heal_ms: 8_000 + p.below(4_000),
            },
        )),
        Scenario::IsolateMaster => faults.push((
            Millis(start),
            Fault::Partition {
                groups: alone(&[Node::Redis(0)]),
                heal_ms: 8_000 + p.below(4_000),
            },
        )),
        Scenario::SentinelMinority => faults.push((
            Millis(start),
            Fault::Partition {
                groups: alone(&[Node::Sentinel(2)]),
                heal_ms: 8_000 + p.below(4_000),
            },
        )),
        Scenario::Flapping => {
            let mut t = start;
            for _ in 0..FLAPS {
                let cut = 1_500 + p.below(1_000);
                faults.push((
                    Millis(t),
                    Fault::Partition {
                        groups: alone(&host0),
                        heal_ms: cut,
                    },
                ));
                t += cut + 1_500 + p.below(1_000);
            }
        }
        Scenario::Bridge => {
            let one = [Node::Sentinel(1), Node::Redis(1)];
            let two = [Node::Sentinel(2), Node::Redis(2)];
            let pairs: BTreeSet<(Node, Node)> = one
                .iter()
                .flat_map(|a| two.iter().map(move |b| (*a, *b)))
                .collect();
            faults.push((
                Millis(start),
                Fault::Cut {
                    pairs,
                    heal_ms: 8_000 + p.below(4_000),
                },
            ));
        }
    }
    let last = faults.last().map_or(start, |(t, _)| t.as_u64());
    cfg.chaos_ms = last + 15_000;
    cfg.faults = faults;
    cfg
}
