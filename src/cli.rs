//! The command line, redis-sentinel style: `rsentinel [<config-file>]
//! [--<directive> <args>...] [-]`, plus `--version`, `--help` and the
//! `elect` companion tool.
//!
//! Only the first argument is looked at here, as Redis looks only at
//! `argv[1]` for `-v`/`-h`; the rest is Redis's own grammar (see
//! `config::CommandLine`).

/// redis-sentinel's usage text with our name in place of its
/// `./redis-server`, less its memory and system tests (not ours), plus the
/// `elect` tool. Like Redis, `--help` writes it to stderr and exits 1.
pub const USAGE: &str = "\
Usage: rsentinel [/path/to/sentinel.conf] [options] [-]
       rsentinel - (read config from stdin)
       rsentinel -v or --version
       rsentinel -h or --help
       rsentinel elect zab|kafka [options]   (election simulator and demos)

Examples:
       rsentinel /etc/redis/sentinel.conf
       rsentinel /etc/redis/sentinel.conf --port 26380
       rsentinel /etc/redis/sentinel.conf --loglevel verbose -
       rsentinel /etc/redis/sentinel.conf --loglevel verbose
";

/// What the process was asked to do.
#[derive(Debug, PartialEq, Eq)]
pub enum Invocation {
    Version,
    Help,
    Elect(Vec<String>),
    /// Run a sentinel; with no arguments at all too (redis-sentinel then
    /// says it needs a config file).
    Sentinel(Vec<String>),
}

/// `args` excludes the program name.
pub fn parse(args: Vec<String>) -> Invocation {
    match args.first().map(String::as_str) {
        Some("-v" | "--version") => Invocation::Version,
        Some("-h" | "--help") => Invocation::Help,
        Some("elect") => Invocation::Elect(args[1..].to_vec()),
        _ => Invocation::Sentinel(args),
    }
}

pub fn version() -> String {
    format!(
        "rsentinel v={} (Redis Sentinel {} compatible) bits=64",
        env!("CARGO_PKG_VERSION"),
        rsentinel::REDIS_VERSION
    )
}
