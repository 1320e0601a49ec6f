//! `sentinel.conf`: reading it (with command-line options), the generic
//! server options, and the in-place rewrite with an atomic replace.
//!
//! The `sentinel ...` directives are only collected and ordered here; their
//! meaning belongs to the core, whose reasons become [`ConfigError::at`].

pub mod atomic_write;
pub mod client_limits;
pub mod cmdline;
pub mod error;
pub mod known_directives;
pub mod read;
pub mod rewrite;
pub mod server_options;
#[cfg(test)]
mod server_options_tests;

pub use atomic_write::{rewrite_file, rewrite_file_cached, write_atomically, WrittenConfig};
pub use cmdline::CommandLine;
pub use error::ConfigError;
pub use read::{ensure_writable, load, sentinel_load_order, Directive, LoadedConfig};
pub use rewrite::{
    rewrite_config, rewrite_key, DesiredLines, ParsedConfig, RewriteLine, REWRITE_SIGNATURE,
    SENTINEL_REWRITE_KEYS,
};
pub use server_options::{LogLevel, ServerOptions, Supervised, SYSLOG_FACILITIES};
