//! rsentinel: a drop-in Redis Sentinel. This crate is the tokio shell around
//! the pure decision core in `rsentinel-core`: it parses `sentinel.conf`,
//! serves RESP clients, keeps links to Redis instances and peer sentinels,
//! and carries out what the core decides.

pub mod acl;
pub mod commands;
pub mod config;
pub mod driver;
pub mod elect;
pub mod fence;
pub mod heap_trim;
pub mod link;
pub mod logging;
pub mod observe;
pub mod persist;
pub mod resp;
pub mod scripts;
pub mod server;
pub mod supervise;
pub mod tls;

/// The Redis version rsentinel reports (INFO, HELLO): the redis-sentinel
/// release whose behaviour it reproduces.
pub const REDIS_VERSION: &str = "7.0.15";
