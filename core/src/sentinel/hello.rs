//! The hello protocol: learning about other sentinels and newer master
//! configurations from `__sentinel__:hello` messages.

use super::instance::PeerSentinel;
use super::links::Target;
use super::{Action, Addr, Level, Sentinel};
use crate::ids::{Epoch, RunId};
use crate::time::Millis;

/// A parsed hello: `ip,port,runid,current_epoch,master,mip,mport,config_epoch`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Hello {
    pub ip: String,
    pub port: u16,
    pub runid: RunId,
    pub current_epoch: Epoch,
    pub master: String,
    pub master_ip: String,
    pub master_port: u16,
    pub master_config_epoch: Epoch,
}

pub fn parse_hello(payload: &str) -> Option<Hello> {
    split_hello(payload).map(|f| f.to_hello())
}

/// A hello's fields borrowed from the payload: most hellos repeat what we
/// know, and are handled without copying any of them.
struct HelloFields<'a> {
    ip: &'a str,
    port: u16,
    runid: &'a str,
    current_epoch: Epoch,
    master: &'a str,
    master_ip: &'a str,
    master_port: u16,
    master_config_epoch: Epoch,
}

fn split_hello(payload: &str) -> Option<HelloFields<'_>> {
    let mut t = payload.split(',');
    let mut next = || t.next();
    let f = HelloFields {
        ip: next()?,
        port: next()?.parse().ok()?,
        runid: next()?,
        current_epoch: next()?.parse().ok()?,
        master: next()?,
        master_ip: next()?,
        master_port: next()?.parse().ok()?,
        master_config_epoch: next()?.parse().ok()?,
    };
    t.next().is_none().then_some(f)
}

impl HelloFields<'_> {
    fn to_hello(&self) -> Hello {
        Hello {
            ip: self.ip.to_string(),
            port: self.port,
            runid: RunId::from(self.runid),
            current_epoch: self.current_epoch,
            master: self.master.to_string(),
            master_ip: self.master_ip.to_string(),
            master_port: self.master_port,
            master_config_epoch: self.master_config_epoch,
        }
    }
}

/// `addr` is exactly the IP literal `ip` and `port`, as a hello writes it.
fn is_literally(addr: &Addr, ip: &str, port: u16) -> bool {
    addr.port == port && addr.host == ip && addr.ip.as_deref() == Some(ip)
}

/// A run id we can store and persist: printable ASCII without spaces (real
/// sentinels send 40 hex digits; the limit keeps forged ids bounded).
fn is_plausible_runid(runid: &str) -> bool {
    (1..=128).contains(&runid.len()) && runid.bytes().all(|b| b.is_ascii_graphic())
}

impl Sentinel {
    /// A hello received on a pub/sub link or published directly to us.
    pub fn process_hello(&mut self, now: Millis, payload: &str) {
        let Some(fields) = split_hello(payload) else {
            return;
        };
        // Never learn ourselves as a peer, whatever path the hello took
        // (our own come back on every master's pub/sub link).
        if fields.runid == self.myid() {
            return;
        }
        if self.repeat_hello(now, &fields) {
            return;
        }
        let h = fields.to_hello();
        if !self.masters.contains_key(&h.master) || !is_plausible_runid(h.runid.as_str()) {
            return;
        }
        // An epoch no vote request can carry (they are signed 64-bit) would
        // stop every future failover: only a forged hello sends one.
        let max = Epoch(super::failover::MAX_ELECTION_EPOCH);
        if h.current_epoch > max || h.master_config_epoch > max {
            self.out.push(Action::Log {
                level: Level::Warning,
                text: format!(
                    "Ignoring a hello from {} with an impossible epoch ({} / {})",
                    h.runid, h.current_epoch, h.master_config_epoch
                ),
            });
            return;
        }
        // Anyone who can PUBLISH to an instance can forge a hello: both
        // addresses must be ones the loader accepts, or nothing changes.
        if self.check_learnt_addr(&h.ip, i64::from(h.port)).is_none()
            || self
                .check_learnt_addr(&h.master_ip, i64::from(h.master_port))
                .is_none()
        {
            return;
        }
        let name = h.master.clone();
        // Addresses compare by resolved IP: a hello naming a host still
        // resolving waits for the answer (hellos come again every period).
        let peer_addr = self.addr_of(&h.ip, h.port);
        let master_addr = self.addr_of(&h.master_ip, h.master_port);
        if self.resolving(&h.ip) || self.resolving(&h.master_ip) {
            return;
        }
        let known = self.masters[&name]
            .sentinels
            .get(&h.runid)
            .is_some_and(|s| s.common.addr.same_instance(&peer_addr));
        // A hello that only repeats what we know (most of them: every peer
        // sends one per master every 2 s) changes nothing a pass acts on.
        if !known
            || h.current_epoch > self.settings.current_epoch.current()
            || self.masters[&name].config_epoch < h.master_config_epoch
        {
            self.touch_master(&name);
        }
        if !known {
            // A new or moved peer changes every master that shares it.
            self.touch_all();
            self.learn_sentinel(now, &name, &h);
            // It may not know us yet either: answer with our hello now
            // rather than at the next publish period.
            self.hello_now(&Target::Master(name.clone()));
        }
        if self.settings.current_epoch.observe(h.current_epoch) {
            self.out.persist();
            self.master_event_plain(
                &name,
                Level::Warning,
                "+new-epoch",
                h.current_epoch.to_string(),
            );
        }
        let sender = Target::Sentinel(h.runid.clone());
        let Some(m) = self.masters.known_mut(&name) else {
            return;
        };
        if m.config_epoch < h.master_config_epoch {
            m.config_epoch = h.master_config_epoch;
            // Persist it even when the address stays the same: a restart
            // must never see an older config epoch than we acted on.
            self.out.persist();
            if m.failover_in_progress() {
                // A newer configuration won: whatever we were promoting is
                // superseded. (Redis keeps advertising its own promoted
                // replica here, disagreeing with everyone at the same epoch.)
                m.abort_failover(now);
            }
            let hostnames = self.settings.announce_hostnames;
            let m = &self.masters[&name];
            if !m.common.addr.same_instance(&master_addr) {
                let old = m.common.addr.clone();
                let (from, to) = (self.announced_addr(&old), self.announced_addr(&master_addr));
                let msg = format!(
                    "{name} {} {} {} {}",
                    from.host, old.port, h.master_ip, h.master_port
                );
                let warn = Level::Warning;
                let kind = "+config-update-from";
                self.out
                    .instance_event(m, &sender, hostnames, warn, kind, "");
                self.out.master_event_plain(m, warn, "+switch-master", msg);
                self.reset_master_and_change_address(now, &name, master_addr);
                let m = &self.masters[&name];
                self.out.reconfig_script(m, "observer", from, to);
            }
        }
        if let Some(s) = self
            .masters
            .get_mut(&name)
            .and_then(|m| m.sentinels.get_mut(&h.runid))
        {
            s.last_hello_time = now;
            s.hello_epochs = Some((h.current_epoch, h.master_config_epoch));
        }
    }

    /// The common hello (every peer sends one per master every 2 s, ~2 500
    /// a second at 1 000 masters): from a peer we know at this very IP
    /// literal, about the master at the address we know it by, with no
    /// epoch newer than ours. All it changes is when we last heard from the
    /// peer, which is done here without the checks and copies a new fact
    /// needs; anything else is left to the full path. (Such a hello passed
    /// every check when its peer was learnt, and none of its epochs can be
    /// out of range while ours are not.)
    fn repeat_hello(&mut self, now: Millis, f: &HelloFields) -> bool {
        if f.current_epoch > self.settings.current_epoch.current() {
            return false;
        }
        let Some(m) = self.masters.get_mut(f.master) else {
            return false;
        };
        if m.config_epoch < f.master_config_epoch
            || !is_literally(&m.common.addr, f.master_ip, f.master_port)
        {
            return false;
        }
        let Some(s) = m.sentinels.get_mut(f.runid) else {
            return false;
        };
        if !is_literally(&s.common.addr, f.ip, f.port) {
            return false;
        }
        s.last_hello_time = now;
        s.hello_epochs = Some((f.current_epoch, f.master_config_epoch));
        true
    }

    /// A hello from a sentinel we do not know at this address.
    fn learn_sentinel(&mut self, now: Millis, name: &str, h: &Hello) {
        let addr = self.addr_of(&h.ip, h.port);
        let hostnames = self.settings.announce_hostnames;
        let Some(m) = self.masters.known_mut(name) else {
            return;
        };
        // Same run id at a new address: it moved.
        let moved = m.sentinels.remove(&h.runid).is_some();
        if moved {
            let rest = format!("ip {} port {} for {}", h.ip, h.port, h.runid);
            let kind = "+sentinel-address-switch";
            self.out
                .master_event(m, hostnames, Level::Notice, kind, &rest);
        } else {
            // Another run id at that address is stale: forget it everywhere.
            let stale = self.masters[name]
                .sentinels
                .iter()
                .find(|(_, s)| s.common.addr.same_instance(&addr))
                .map(|(id, _)| id.clone());
            if let Some(old) = stale {
                self.instance_event(
                    name,
                    &Target::Sentinel(old.clone()),
                    Level::Notice,
                    "+sentinel-invalid-addr",
                    "",
                );
                for m in self.masters.values_mut() {
                    m.sentinels.remove(&old);
                }
                self.out
                    .push(Action::Close(super::links::LinkId::cmd(Target::Sentinel(
                        old,
                    ))));
            }
        }
        let refs = self
            .masters
            .values()
            .filter(|m| m.sentinels.contains_key(&h.runid))
            .count() as u32;
        let Some(m) = self.masters.known_mut(name) else {
            return;
        };
        let mut peer = PeerSentinel::new(addr.clone(), h.runid.clone(), m.common.down_after, now);
        // Share the existing link state when another master already knows
        // this sentinel.
        let shared = self
            .masters
            .values()
            .find_map(|m| m.sentinels.get(&h.runid))
            .map(|s| s.common.link.clone());
        if let Some(link) = shared {
            if !moved {
                peer.common.link = link;
            }
        }
        let m = self.masters.known_mut(name).expect("master checked above");
        m.sentinels.insert(h.runid.clone(), Box::new(peer));
        for m in self.masters.values_mut() {
            if let Some(s) = m.sentinels.get_mut(&h.runid) {
                s.common.link.refcount = refs + 1;
            }
        }
        if moved {
            // Update the address under every other master too.
            let mut updated = 0;
            for m in self.masters.values_mut() {
                if m.name == name {
                    continue;
                }
                if let Some(s) = m.sentinels.get_mut(&h.runid) {
                    s.common.addr = addr.clone();
                    updated += 1;
                }
            }
            self.out
                .push(Action::Close(super::links::LinkId::cmd(Target::Sentinel(
                    h.runid.clone(),
                ))));
            self.link_closed(
                now,
                super::links::LinkId::cmd(Target::Sentinel(h.runid.clone())),
            );
            if updated > 0 {
                let rest = format!("{updated} additional matching instances");
                self.instance_event(
                    name,
                    &Target::Sentinel(h.runid.clone()),
                    Level::Notice,
                    "+sentinel-address-update",
                    &rest,
                );
            }
        } else {
            self.instance_event(
                name,
                &Target::Sentinel(h.runid.clone()),
                Level::Notice,
                "+sentinel",
                "",
            );
        }
        self.out.persist();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sentinel::Addr;

    #[test]
    fn our_own_hello_is_ignored() {
        let mut s = Sentinel::new(1, 26379);
        let args: Vec<String> = "monitor m 127.0.0.1 6379 2"
            .split_whitespace()
            .map(String::from)
            .collect();
        s.apply_directive(Millis(0), &args).unwrap();
        let me = s.ensure_myid().to_string();
        s.process_hello(
            Millis(1),
            &format!("127.0.0.1,26379,{me},0,m,127.0.0.1,6379,0"),
        );
        assert!(s.masters["m"].sentinels.is_empty());
    }

    fn monitoring(extra: &[&str]) -> Sentinel {
        let mut s = Sentinel::new(1, 26379);
        for l in ["monitor m 127.0.0.1 6379 2"].iter().chain(extra) {
            let args: Vec<String> = l.split(' ').map(String::from).collect();
            s.apply_directive(Millis(0), &args).unwrap();
        }
        s.ensure_myid();
        while s.poll_action().is_some() {}
        s
    }

    #[test]
    fn forged_addresses_change_nothing_and_are_logged() {
        let peer = "a".repeat(40);
        for (resolve, payload) in [
            (
                false,
                format!("not-an-ip,26379,{peer},7,m,127.0.0.1,6379,9"),
            ),
            (
                false,
                format!("127.0.0.2,26379,{peer},7,m,evil host,7000,9"),
            ),
            (
                false,
                format!("127.0.0.2,26379,{peer},7,m,localhost,7000,9"),
            ),
            (false, format!("127.0.0.2,0,{peer},7,m,127.0.0.1,7000,9")),
            (false, format!("127.0.0.2,26379,{peer},7,m,127.0.0.1,0,9")),
            (true, format!("127.0.0.2,26379,{peer},7,m,evil host,7000,9")),
            (true, format!("ev\u{e9}l,26379,{peer},7,m,127.0.0.1,7000,9")),
            (
                false,
                format!("127.0.0.2,26379,{peer},{},m,127.0.0.1,6379,0", u64::MAX),
            ),
            (
                false,
                format!("127.0.0.2,26379,{peer},1,m,127.0.0.1,6379,{}", 1u64 << 63),
            ),
        ] {
            let extra: &[&str] = if resolve {
                &["resolve-hostnames yes"]
            } else {
                &[]
            };
            let mut s = monitoring(extra);
            let before = s.config_lines();
            s.process_hello(Millis(5), &payload);
            assert!(s.masters["m"].sentinels.is_empty(), "{payload}");
            assert_eq!(s.masters["m"].common.addr, Addr::new("127.0.0.1", 6379));
            assert_eq!(s.settings.current_epoch.current(), Epoch(0), "{payload}");
            assert_eq!(s.config_lines(), before, "{payload}");
            let actions: Vec<Action> = std::iter::from_fn(|| s.poll_action()).collect();
            assert!(
                matches!(
                    actions.as_slice(),
                    [Action::Log {
                        level: Level::Warning,
                        ..
                    }]
                ),
                "{payload}: {actions:?}"
            );
        }
    }

    #[test]
    fn a_hostname_is_learnt_with_resolve_hostnames() {
        let peer = "b".repeat(40);
        let mut s = monitoring(&["resolve-hostnames yes"]);
        let hello = format!("localhost,26380,{peer},1,m,127.0.0.1,6379,0");
        // The name is resolved by the shell first; hellos repeat.
        s.process_hello(Millis(5), &hello);
        s.host_resolved("localhost", Some("127.0.0.1".into()));
        s.process_hello(Millis(6), &hello);
        assert!(s.masters["m"].sentinels.contains_key(peer.as_str()));
    }

    #[test]
    fn a_repeated_hello_only_refreshes_the_peer_and_a_newer_one_still_counts() {
        let peer = "c".repeat(40);
        let mut s = monitoring(&[]);
        let hello = |epoch: u64, config_epoch: u64| {
            format!("127.0.0.2,26380,{peer},{epoch},m,127.0.0.1,6379,{config_epoch}")
        };
        s.process_hello(Millis(5), &hello(0, 0));
        assert!(s.masters["m"].sentinels.contains_key(peer.as_str()));
        while s.poll_action().is_some() {}
        let lines = s.config_lines();

        s.process_hello(Millis(2005), &hello(0, 0));
        let p = &s.masters["m"].sentinels[peer.as_str()];
        assert_eq!(p.last_hello_time, Millis(2005));
        assert_eq!(p.hello_epochs, Some((Epoch(0), Epoch(0))));
        assert!(s.poll_action().is_none(), "a repeat changes nothing else");
        assert_eq!(s.config_lines(), lines);

        // A newer epoch takes the full path: observed and persisted.
        s.process_hello(Millis(4005), &hello(3, 0));
        assert_eq!(s.settings.current_epoch.current(), Epoch(3));
        assert_eq!(
            s.masters["m"].sentinels[peer.as_str()].last_hello_time,
            Millis(4005)
        );
        let actions: Vec<Action> = std::iter::from_fn(|| s.poll_action()).collect();
        assert!(
            actions
                .iter()
                .any(|a| matches!(a, Action::Event(e) if e.kind == "+new-epoch")),
            "{actions:?}"
        );

        // The same run id at another address is a move, not a repeat.
        s.process_hello(
            Millis(6005),
            &format!("127.0.0.3,26380,{peer},3,m,127.0.0.1,6379,0"),
        );
        let p = &s.masters["m"].sentinels[peer.as_str()];
        assert_eq!(p.common.addr, Addr::new("127.0.0.3", 26380));
    }

    #[test]
    fn hello_has_exactly_eight_fields() {
        let h = parse_hello("127.0.0.1,26379,abc,3,mymaster,127.0.0.1,6379,2").unwrap();
        assert_eq!(h.port, 26379);
        assert_eq!(h.current_epoch, Epoch(3));
        assert_eq!(h.master_config_epoch, Epoch(2));
        assert!(parse_hello("127.0.0.1,26379,abc,3,mymaster,127.0.0.1,6379").is_none());
        assert!(parse_hello("127.0.0.1,x,abc,3,mymaster,127.0.0.1,6379,2").is_none());
        assert!(parse_hello("127.0.0.1,26379,abc,3,mymaster,127.0.0.1,6379,2,9").is_none());
    }
}
