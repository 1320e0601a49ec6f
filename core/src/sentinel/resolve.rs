//! Hostname resolution without blocking the core: the core asks the shell
//! to resolve a hostname (`Action::Resolve`), keeps the answers, and fills
//! in the IP of every address with that host when an answer arrives. Until
//! then a hostname compares by name only, so decisions that would need its
//! IP wait for it (the shell answers within one DNS round trip).

use std::collections::{BTreeMap, BTreeSet};

use super::addr::{is_ip_literal, Addr};
use super::{Action, Sentinel};

/// The answers the shell gave, by lower-cased hostname.
#[derive(Clone, Debug, Default)]
pub struct Resolutions {
    /// Last answer: the IP Redis would pick (the first of getaddrinfo's),
    /// `None` when the lookup failed.
    answers: BTreeMap<String, Option<String>>,
    /// Asked for and not answered yet.
    pending: BTreeSet<String>,
}

impl Sentinel {
    /// The address `host:port` with its IP when known. An unknown hostname
    /// is sent to the shell for resolution (with `resolve-hostnames yes`;
    /// without it only IP literals are ever accepted).
    pub(crate) fn addr_of(&mut self, host: &str, port: u16) -> Addr {
        let mut addr = Addr::new(host, port);
        if addr.ip.is_none() {
            addr.ip = self.known_ip(host);
        }
        addr
    }

    /// The cached IP of `host`; asks for it when it was never resolved.
    fn known_ip(&mut self, host: &str) -> Option<String> {
        let name = host.to_ascii_lowercase();
        if let Some(answer) = self.resolutions.answers.get(&name) {
            return answer.clone();
        }
        if self.settings.resolve_hostnames && self.resolutions.pending.insert(name) {
            self.out.push(Action::Resolve {
                host: host.to_string(),
            });
        }
        None
    }

    /// Whether `host` was asked for and its answer has not come yet:
    /// comparing it by name now could take one instance for two.
    pub(crate) fn resolving(&self, host: &str) -> bool {
        !is_ip_literal(host)
            && self
                .resolutions
                .pending
                .contains(&host.to_ascii_lowercase())
    }

    /// Whether the instance at `a` is `host:port` (as an INFO reply or a
    /// hello names it), by resolved IP; `None` while `host` is resolving.
    pub(crate) fn is_at(&mut self, a: &Addr, host: &str, port: u16) -> Option<bool> {
        let other = self.addr_of(host, port);
        if other.ip.is_none() && self.resolving(host) {
            return None;
        }
        Some(a.same_instance(&other))
    }

    /// The shell's answer for `host`: the IP (first of the lookup), or
    /// `None` when it failed. A failure keeps the IP learnt before, as Redis
    /// keeps an address it cannot re-resolve.
    pub fn host_resolved(&mut self, host: &str, ip: Option<String>) {
        let name = host.to_ascii_lowercase();
        self.resolutions.pending.remove(&name);
        let Some(ip) = ip else {
            self.resolutions.answers.entry(name).or_insert(None);
            return;
        };
        self.touch_all();
        self.resolutions.answers.insert(name, Some(ip.clone()));
        for m in self.masters.values_mut() {
            let addrs = std::iter::once(&mut m.common.addr)
                .chain(m.replicas.values_mut().map(|r| &mut r.common.addr))
                .chain(m.sentinels.values_mut().map(|s| &mut s.common.addr));
            for a in addrs {
                if a.host.eq_ignore_ascii_case(host) {
                    a.ip = Some(ip.clone());
                }
            }
        }
    }

    /// How `a` is shown and sent under the current `announce-hostnames`.
    pub(crate) fn announced<'a>(&self, a: &'a Addr) -> &'a str {
        a.announced(self.settings.announce_hostnames)
    }

    /// `a` in its announced form, as a plain address (for event texts and
    /// script arguments, which carry no IP of their own).
    pub(crate) fn announced_addr(&self, a: &Addr) -> Addr {
        Addr::new(self.announced(a), a.port)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::time::Millis;

    fn sentinel(lines: &[&str]) -> Sentinel {
        let mut s = Sentinel::new(1, 26379);
        for l in lines {
            let args: Vec<String> = l.split_whitespace().map(String::from).collect();
            s.apply_directive(Millis(0), &args).unwrap();
        }
        s
    }

    fn resolve_requests(s: &mut Sentinel) -> Vec<String> {
        std::iter::from_fn(|| s.poll_action())
            .filter_map(|a| match a {
                Action::Resolve { host } => Some(host),
                _ => None,
            })
            .collect()
    }

    #[test]
    fn a_hostname_is_resolved_once_and_fills_every_address() {
        let mut s = sentinel(&[
            "resolve-hostnames yes",
            "monitor m localhost 6379 2",
            "known-replica m LOCALHOST 6380",
        ]);
        assert_eq!(resolve_requests(&mut s), vec!["localhost".to_string()]);
        assert!(s.resolving("localhost"));
        let m = &s.masters["m"];
        assert_eq!(m.common.addr.announced(false), "localhost");
        s.host_resolved("localhost", Some("127.0.0.1".into()));
        let m = &s.masters["m"];
        assert_eq!(m.common.addr.announced(false), "127.0.0.1");
        assert_eq!(m.common.addr.announced(true), "localhost");
        let r = m.replicas.values().next().unwrap();
        assert_eq!(r.common.addr.announced(true), "LOCALHOST");
        assert_eq!(r.common.addr.ip.as_deref(), Some("127.0.0.1"));
        // Later addresses with that host take the cached IP, unasked.
        let a = s.addr_of("localhost", 1);
        assert_eq!(a.ip.as_deref(), Some("127.0.0.1"));
        assert!(resolve_requests(&mut s).is_empty());
    }

    #[test]
    fn comparing_with_a_resolving_host_waits_for_its_answer() {
        let mut s = sentinel(&["resolve-hostnames yes", "monitor m 127.0.0.1 6379 2"]);
        let master = s.masters["m"].common.addr.clone();
        assert_eq!(s.is_at(&master, "localhost", 6379), None);
        s.host_resolved("localhost", Some("127.0.0.1".into()));
        assert_eq!(s.is_at(&master, "localhost", 6379), Some(true));
        assert_eq!(s.is_at(&master, "localhost", 6380), Some(false));
        // A failed lookup leaves the name to compare by.
        s.host_resolved("db.invalid", None);
        assert_eq!(s.is_at(&master, "db.invalid", 6379), Some(false));
    }
}
