//! What a seed means: the shape of the world (how many sentinels and
//! replicas) and the schedule of faults injected during the chaos phase.

use std::collections::{BTreeMap, BTreeSet};

use rsentinel_core::prng::Prng;
use rsentinel_core::time::Millis;

use super::network::Node;

/// Which instance a fault hits; `Master` is resolved when the fault fires
/// (whoever is master by then).
#[derive(Clone, Debug)]
pub enum Pick {
    Master,
    Index(usize),
}

#[derive(Clone, Debug)]
pub enum Fault {
    /// kill -9 an instance; it restarts `down_ms` later with a new run id.
    KillRedis {
        pick: Pick,
        down_ms: u64,
    },
    RestartRedis(usize),
    /// SIGSTOP an instance for `hang_ms`, then SIGCONT.
    HangRedis {
        pick: Pick,
        hang_ms: u64,
    },
    ResumeRedis(usize),
    /// Split the nodes into groups that cannot reach each other.
    Partition {
        groups: BTreeMap<Node, u8>,
        heal_ms: u64,
    },
    /// Cut single pairs of nodes (a non-transitive partition).
    Cut {
        pairs: BTreeSet<(Node, Node)>,
        heal_ms: u64,
    },
    HealPartition(u32),
    /// A sentinel process dies; it restarts from its persisted config.
    CrashSentinel {
        index: usize,
        down_ms: u64,
    },
    RestartSentinel(usize),
    /// One open connection (chosen by `selector`) is reset.
    BreakConn {
        selector: u64,
    },
}

#[derive(Clone, Debug)]
pub struct SimConfig {
    pub seed: u64,
    pub sentinels: usize,
    pub quorum: u32,
    /// Replicas besides the initial master.
    pub replicas: usize,
    /// Faults are injected during `[0, chaos_ms)`, then everything heals.
    pub chaos_ms: u64,
    /// After healing, convergence must happen within this long.
    pub liveness_ms: u64,
    /// Convergence must hold this long to count.
    pub stable_ms: u64,
    pub faults: Vec<(Millis, Fault)>,
    /// Every sentinel's `current-epoch` at start (near `u64::MAX` to check
    /// that epochs never wrap).
    pub initial_epoch: u64,
    /// Random connection breaks, stalls and slow messages while in chaos.
    pub flaky_network: bool,
    /// Record a readable timeline.
    pub trace: bool,
}

impl SimConfig {
    /// A world without faults: three sentinels, two replicas.
    pub fn calm(seed: u64) -> SimConfig {
        SimConfig {
            seed,
            sentinels: 3,
            quorum: 2,
            replicas: 2,
            chaos_ms: 10_000,
            liveness_ms: 120_000,
            stable_ms: 5_000,
            faults: Vec::new(),
            initial_epoch: 0,
            flaky_network: false,
            trace: false,
        }
    }

    /// The world and fault schedule seed `seed` stands for.
    pub fn chaos(seed: u64) -> SimConfig {
        let mut p = Prng::new(seed ^ 0x005E_ED0F_C4A0_5000);
        let five = p.chance(1, 4);
        let sentinels = if five { 5 } else { 3 };
        let mut cfg = SimConfig {
            seed,
            sentinels,
            quorum: if five { 3 } else { 2 },
            replicas: 2 + p.below(2) as usize,
            chaos_ms: 60_000 + p.below(30_001),
            flaky_network: true,
            ..SimConfig::calm(seed)
        };
        cfg.faults = fault_schedule(&mut p, &cfg);
        cfg
    }
}

/// Faults every 1–7 s from 4 s on (sentinels first discover each other).
fn fault_schedule(p: &mut Prng, cfg: &SimConfig) -> Vec<(Millis, Fault)> {
    let instances = cfg.replicas + 1;
    let mut out = Vec::new();
    let mut t = 4_000 + p.below(3_000);
    while t < cfg.chaos_ms {
        let pick = |p: &mut Prng| {
            if p.chance(3, 5) {
                Pick::Master
            } else {
                Pick::Index(p.below(instances as u64) as usize)
            }
        };
        let fault = match p.below(100) {
            0..=24 => Fault::KillRedis {
                pick: pick(p),
                down_ms: 2_000 + p.below(23_000),
            },
            25..=39 => Fault::HangRedis {
                pick: pick(p),
                hang_ms: 1_000 + p.below(11_000),
            },
            40..=59 => {
                let mut groups = BTreeMap::new();
                for s in 0..cfg.sentinels {
                    groups.insert(Node::Sentinel(s), p.below(2) as u8);
                }
                for r in 0..instances {
                    groups.insert(Node::Redis(r), p.below(2) as u8);
                }
                Fault::Partition {
                    groups,
                    heal_ms: 2_000 + p.below(18_000),
                }
            }
            60..=79 => Fault::CrashSentinel {
                index: p.below(cfg.sentinels as u64) as usize,
                down_ms: 500 + p.below(14_500),
            },
            _ => Fault::BreakConn {
                selector: p.next_u64(),
            },
        };
        out.push((Millis(t), fault));
        t += 1_000 + p.below(6_000);
    }
    out
}
