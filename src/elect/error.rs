//! Errors of the `rsentinel elect` subcommands.

use rsentinel_core::sim::SimFailure;
use thiserror::Error;

use super::USAGE;

#[derive(Debug, Error)]
pub enum ElectError {
    #[error("{0}\n{USAGE}")]
    Usage(String),
    /// A command line clap refused, rendered by clap.
    #[error("{0}")]
    Cli(String),
    #[error("I/O error: {0}")]
    Io(#[from] std::io::Error),
    #[error("simulation failed: {0}")]
    Simulation(#[from] SimFailure),
    #[error("protocol error: {0}")]
    Protocol(String),
    #[error("coordination store error: {0}")]
    Store(String),
}
