//! Instance addresses as Sentinel compares and prints them.

use std::fmt;

/// A host (IP literal, or hostname with `resolve-hostnames yes`) and a port.
#[derive(Clone, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Addr {
    pub host: String,
    pub port: u16,
}

impl Addr {
    pub fn new(host: impl Into<String>, port: u16) -> Addr {
        Addr {
            host: host.into(),
            port,
        }
    }

    /// Redis's rule: same port and the same host, compared without case
    /// (hostnames are case-insensitive; IP literals are unaffected).
    pub fn same_as(&self, host: &str, port: u16) -> bool {
        self.port == port && self.host.eq_ignore_ascii_case(host)
    }

    /// The `ip:port` name Redis gives a replica (`[ip]:port` for IPv6).
    pub fn key(&self) -> String {
        if self.host.contains(':') {
            format!("[{}]:{}", self.host, self.port)
        } else {
            format!("{}:{}", self.host, self.port)
        }
    }
}

impl fmt::Display for Addr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.host, self.port)
    }
}

/// True when `host` could be a DNS name: 1–253 bytes of letters, digits,
/// `-`, `_` and `.`. Peers and instances may send anything; a host that is
/// neither this nor an IP literal would be written to the config and then
/// refused by the loader (ours and Redis's).
pub fn is_plausible_hostname(host: &str) -> bool {
    !host.is_empty()
        && host.len() <= 253
        && host
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
}

/// True when `host` is an IPv4 or IPv6 literal.
pub fn is_ip_literal(host: &str) -> bool {
    host.parse::<std::net::IpAddr>().is_ok()
}
