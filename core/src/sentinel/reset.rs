//! Resetting a master: what `SENTINEL RESET` and a switch to a new master
//! address do to the state kept about it.

use super::addr::Addr;
use super::failover::FailoverState;
use super::instance::{Common, Replica, Role};
use super::links::{LinkId, Target};
use super::{Action, Level, Sentinel};
use crate::ids::RunId;
use crate::time::Millis;

impl Sentinel {
    /// Forgets what was learnt about master `name`: replicas, (optionally)
    /// sentinels, run id, flags and failover state. With `event`, this is a
    /// user-requested reset: sentinels are dropped too and `+reset-master`
    /// is emitted.
    pub(crate) fn reset_master(&mut self, now: Millis, name: &str, event: bool) {
        let Some(m) = self.masters.known_mut(name) else {
            return;
        };
        m.replicas.clear();
        let mut forgotten = Vec::new();
        if event {
            forgotten = std::mem::take(&mut m.sentinels).into_keys().collect();
        }
        // Peers that said the previous master was down said nothing about
        // the one that replaces it (their votes count only in their epoch).
        for s in m.sentinels.values_mut() {
            s.master_down = false;
        }
        let addr = m.common.addr.clone();
        let down_after = m.common.down_after;
        m.common = Common::new(addr, down_after, Role::Master, now);
        m.failover = FailoverState::None;
        m.force_failover = false;
        m.coordinated = false;
        m.failover_start_time = None;
        m.failover_state_change_time = Millis::ZERO;
        m.promoted = None;
        // Forget whom we voted for, never that we voted in that epoch.
        m.vote.map_candidate(|c| *c = None);
        m.script_kill_sent = false;
        m.master_reboot = false;
        self.out.push(Action::DropLinks {
            master: name.to_string(),
        });
        // Check the (new) master and replicas' fencing as soon as they answer.
        self.fence_forget(name);
        self.close_orphan_sentinel_links(forgotten);
        if event {
            self.master_event(name, Level::Warning, "+reset-master", |_| String::new());
        }
    }

    /// Points master `name` at `new`: the old master and the other replicas
    /// become its replicas; sentinels are kept; everything else is relearnt.
    pub(crate) fn reset_master_and_change_address(&mut self, now: Millis, name: &str, new: Addr) {
        let Some(m) = self.masters.known(name) else {
            return;
        };
        let mut replicas: Vec<Addr> = m
            .replicas
            .values()
            .map(|r| r.common.addr.clone())
            .filter(|a| !a.same_instance(&new))
            .collect();
        if !m.common.addr.same_instance(&new) {
            replicas.push(m.common.addr.clone());
        }
        self.reset_master(now, name, false);
        let Some(m) = self.masters.known_mut(name) else {
            return;
        };
        m.common.addr = new;
        m.common.s_down_since = Millis::ZERO;
        m.common.o_down_since = Millis::ZERO;
        let down_after = m.common.down_after;
        let mut keys = Vec::new();
        for addr in replicas {
            let key = addr.key();
            if !m.replicas.contains_key(&key) {
                m.replicas
                    .insert(key.clone(), Box::new(Replica::new(addr, down_after, now)));
                keys.push(key);
            }
        }
        for key in keys {
            let target = Target::Replica {
                master: name.to_string(),
                key,
            };
            self.instance_event(name, &target, Level::Notice, "+slave", "");
        }
        self.out.persist();
    }
}

impl Sentinel {
    /// Closes the shared links of peers no master knows any more (after a
    /// reset or a removal), instead of leaving them open forever.
    pub(crate) fn close_orphan_sentinel_links(&mut self, runids: Vec<RunId>) {
        for runid in runids {
            if !self
                .masters
                .values()
                .any(|m| m.sentinels.contains_key(runid.as_str()))
            {
                self.out
                    .push(Action::Close(LinkId::cmd(Target::Sentinel(runid))));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const PEER: &str = "1111111111111111111111111111111111111111";

    fn sentinel_with_peer() -> Sentinel {
        let mut s = Sentinel::new(1, 26379);
        for line in [
            "monitor m 127.0.0.1 6379 2".to_string(),
            format!("known-sentinel m 127.0.0.1 26380 {PEER}"),
        ] {
            let args: Vec<String> = line.split_whitespace().map(String::from).collect();
            s.apply_directive(Millis(0), &args).unwrap();
        }
        s.ensure_myid();
        while s.poll_action().is_some() {}
        s
    }

    fn actions(s: &mut Sentinel) -> Vec<Action> {
        std::iter::from_fn(|| s.poll_action()).collect()
    }

    #[test]
    fn reset_forgets_peers_and_closes_their_links() {
        let mut s = sentinel_with_peer();
        let out = s.command(Millis(5), &[b"reset".to_vec(), b"*".to_vec()]);
        assert_eq!(out.reply, crate::reply::Reply::Int(1));
        let acts = actions(&mut s);
        assert!(acts.contains(&Action::Close(LinkId::cmd(Target::Sentinel(PEER.into())))));
        assert!(acts.contains(&Action::DropLinks { master: "m".into() }));
        assert!(s.masters["m"].sentinels.is_empty());
    }

    #[test]
    fn remove_drops_the_masters_links_and_orphaned_peers() {
        let mut s = sentinel_with_peer();
        let out = s.command(Millis(5), &[b"remove".to_vec(), b"m".to_vec()]);
        assert!(out.after_write());
        let acts = actions(&mut s);
        assert!(acts.contains(&Action::DropLinks { master: "m".into() }));
        assert!(acts.contains(&Action::Close(LinkId::cmd(Target::Sentinel(PEER.into())))));
        assert!(s.masters.is_empty());
    }
}
