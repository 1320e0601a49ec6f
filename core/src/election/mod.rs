//! The shared election core: quorum rules, vote tallies, the one-vote-per-epoch
//! keeper, epochs, failure detection and fencing.
//!
//! Every protocol in rsentinel that elects something (the Sentinel failover
//! leader, ZooKeeper's fast leader election, the Kafka-style controller) is
//! built from these pieces, so their arithmetic is written and tested once.
//! Nothing here reads a clock: time arrives as [`crate::time::Millis`].
//!
//! The Redis Sentinel leader vote, for example:
//!
//! ```
//! use rsentinel_core::election::{EpochClock, QuorumRule, Tally, VoteRecord};
//! use rsentinel_core::ids::{Epoch, RunId};
//!
//! let rid = |s: &str| RunId(s.to_string());
//! // A voter: first request in an epoch wins, a newer epoch is adopted on
//! // the voter's one clock (a sentinel votes per master, in one epoch).
//! let mut clock = EpochClock::default();
//! clock.observe(Epoch(4));
//! let mut vote: VoteRecord<RunId> = VoteRecord::default();
//! assert!(vote.request(&mut clock, Epoch(5), rid("aaa")).granted);
//! assert!(!vote.request(&mut clock, Epoch(5), rid("bbb")).granted);
//! assert_eq!(clock.current(), Epoch(5));
//!
//! // The candidate's tally: only votes of the current epoch count; equal
//! // counts go to the lexicographically greatest run id.
//! let mut tally = Tally::new();
//! tally.record("sentinel-1", Epoch(5), rid("aaa"));
//! tally.record("sentinel-2", Epoch(5), rid("aaa"));
//! tally.record("sentinel-3", Epoch(4), rid("ccc"));
//! // 5 sentinels known (4 others + itself), quorum 2: needs max(2, 3) = 3.
//! let rule = QuorumRule::sentinel_leader(5, 2);
//! assert_eq!(tally.winner(Epoch(5), rule), None);
//! tally.record("sentinel-4", Epoch(5), rid("aaa"));
//! assert_eq!(tally.winner(Epoch(5), rule), Some(rid("aaa")));
//! ```

pub mod epoch;
pub mod failure_detector;
pub mod fencing;
pub mod quorum;
pub mod tally;
pub mod vote_record;

pub use epoch::EpochClock;
pub use failure_detector::FailureDetector;
pub use fencing::FencingGate;
pub use quorum::{MajorityVerifier, NodeId, QuorumRule, QuorumVerifier, WeightedVerifier};
pub use tally::Tally;
pub use vote_record::{CastVote, VoteOutcome, VoteRecord};
