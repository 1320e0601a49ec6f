//! Instance addresses as Sentinel compares and prints them: the host as
//! configured or reported (IP literal, or hostname with `resolve-hostnames
//! yes`) next to the IP it resolved to, as Redis 7.0 keeps them.

/// A host and a port, with the IP the host resolved to (`None` while a
/// hostname is unresolved; an IP literal is its own IP).
#[derive(Clone, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Addr {
    pub host: String,
    pub port: u16,
    pub ip: Option<String>,
}

impl Addr {
    /// An address whose IP is known only when `host` is an IP literal.
    pub fn new(host: impl Into<String>, port: u16) -> Addr {
        let host = host.into();
        let ip = is_ip_literal(&host).then(|| host.clone());
        Addr { host, port, ip }
    }

    /// What Redis shows and sends for this address: the host with
    /// `announce-hostnames yes`, else the resolved IP. An unresolved
    /// hostname is shown as itself (Redis would show an empty string, which
    /// it cannot read back from its own config file).
    pub fn announced(&self, hostnames: bool) -> &str {
        match &self.ip {
            Some(ip) if !hostnames => ip,
            _ => &self.host,
        }
    }

    /// The `host:port` name of a replica in its announced form (`[ip]:port`
    /// for IPv6).
    pub fn announced_key(&self, hostnames: bool) -> String {
        key_of(self.announced(hostnames), self.port)
    }

    /// Redis's rule: the same port, and the same resolved IP or (when
    /// either is unresolved) the same host compared without case.
    pub fn same_instance(&self, other: &Addr) -> bool {
        self.port == other.port
            && (matches!((&self.ip, &other.ip), (Some(a), Some(b)) if a.eq_ignore_ascii_case(b))
                || self.host.eq_ignore_ascii_case(&other.host))
    }

    /// The key this address is stored under: the host as first seen, so it
    /// never changes when the announced form does.
    pub fn key(&self) -> String {
        key_of(&self.host, self.port)
    }
}

fn key_of(host: &str, port: u16) -> String {
    if host.contains(':') {
        format!("[{host}]:{port}")
    } else {
        format!("{host}:{port}")
    }
}

/// `host port`, as configured (logs and simulators; what clients see goes
/// through [`Addr::announced`]).
impl std::fmt::Display for Addr {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
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

#[cfg(test)]
mod tests {
    use super::*;

    fn resolved(host: &str, ip: &str, port: u16) -> Addr {
        Addr {
            ip: Some(ip.into()),
            ..Addr::new(host, port)
        }
    }

    #[test]
    fn a_hostname_and_its_ip_are_the_same_instance() {
        let named = resolved("LocalHost", "127.0.0.1", 6380);
        assert!(named.same_instance(&Addr::new("127.0.0.1", 6380)));
        assert!(named.same_instance(&Addr::new("localhost", 6380)));
        assert!(!named.same_instance(&Addr::new("127.0.0.1", 6381)));
        assert!(!named.same_instance(&Addr::new("127.0.0.2", 6380)));
        // Unresolved: only the name can tell.
        assert!(!Addr::new("localhost", 6380).same_instance(&Addr::new("127.0.0.1", 6380)));
    }

    #[test]
    fn the_announced_form_follows_announce_hostnames() {
        let named = resolved("localhost", "::1", 6380);
        assert_eq!(named.announced(true), "localhost");
        assert_eq!(named.announced(false), "::1");
        assert_eq!(named.announced_key(false), "[::1]:6380");
        assert_eq!(named.announced_key(true), "localhost:6380");
        assert_eq!(Addr::new("db1", 1).announced(false), "db1");
    }
}
