//! The command line, redis-sentinel style: `rsentinel <config-file>
//! [--<directive> <args>...]`, plus `--version`, `--help` and the `elect`
//! companion tool.

pub const USAGE: &str = "\
Usage: rsentinel <config-file> [--<directive> <args>...]
       rsentinel elect zab|kafka [options]   (election simulator and demos)
       rsentinel --version
       rsentinel --help

rsentinel is a drop-in replacement for redis-sentinel: it reads and rewrites
the same sentinel.conf and serves the same commands. Directives given on the
command line are applied after the config file, as Redis does:

       rsentinel /etc/redis/sentinel.conf --port 26380 --loglevel verbose
";

/// What the process was asked to do.
#[derive(Debug, PartialEq, Eq)]
pub enum Invocation {
    Version,
    Help,
    Elect(Vec<String>),
    Sentinel(Vec<String>),
}

/// `args` excludes the program name.
pub fn parse(args: Vec<String>) -> Invocation {
    match args.first().map(String::as_str) {
        Some("-v" | "--version") => Invocation::Version,
        Some("-h" | "--help") | None => Invocation::Help,
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
