//! Deterministic simulators: an in-memory network with seeded loss, delay,
//! duplication and partitions, a virtual clock, and one runner per protocol
//! that injects crashes and restarts and checks safety invariants after
//! every step. Everything derives from one `u64` seed, so a failing seed
//! replays exactly.

pub mod invariants;
pub mod kafka_sim;
pub mod network;
pub mod queue;
pub mod zab_sim;

use std::fmt;

use crate::time::Millis;

/// A broken invariant (or a missed liveness deadline) in a seeded run.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SimFailure {
    pub seed: u64,
    pub at: Millis,
    pub what: String,
    /// The timeline up to the failure, when the run was traced.
    pub timeline: Vec<String>,
}

impl fmt::Display for SimFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "seed {} failed at {}: {} (replay: RSENTINEL_SIM_SEED={})",
            self.seed, self.at, self.what, self.seed
        )
    }
}

impl std::error::Error for SimFailure {}

/// A timeline line: virtual time, right-aligned, then the text.
pub fn stamp(at: Millis, text: &str) -> String {
    format!("[{:>8}ms] {}", at.as_u64(), text)
}

/// What one seeded run records: its timeline (only when traced, as it is
/// costly) and, on a broken invariant, the failure carrying that timeline.
#[derive(Clone, Debug, Default)]
pub(crate) struct Timeline {
    seed: u64,
    trace: bool,
    pub(crate) lines: Vec<String>,
}

impl Timeline {
    pub(crate) fn new(seed: u64, trace: bool) -> Timeline {
        Timeline {
            seed,
            trace,
            lines: Vec::new(),
        }
    }

    pub(crate) fn log(&mut self, at: Millis, text: &str) {
        if self.trace {
            self.lines.push(stamp(at, text));
        }
    }

    pub(crate) fn fail(&self, at: Millis, what: impl Into<String>) -> SimFailure {
        SimFailure {
            seed: self.seed,
            at,
            what: what.into(),
            timeline: self.lines.clone(),
        }
    }
}
