//! rsentinel-core: the pure decision core of rsentinel.
//!
//! Nothing in this crate performs I/O, reads a clock or uses a global random
//! generator: time is passed in as [`time::Millis`], randomness comes from a
//! seeded [`prng::Prng`] owned by the caller, and every map that is iterated is
//! ordered. The same inputs therefore always give the same outputs, which is
//! what lets the simulators replay a failing seed exactly.

pub mod election;
pub mod glob;
pub mod ids;
pub mod kafka;
pub mod names;
pub mod prng;
pub mod reply;
pub mod reply_writer;
pub mod sentinel;
pub mod sim;
pub mod string2ll;
pub mod time;
pub mod zab;
