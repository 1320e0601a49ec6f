//! The Sentinel brain.
