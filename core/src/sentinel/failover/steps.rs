//! The failover state machine on the leader's side: from `wait_start`
//! (election) through promotion and replica reconfiguration to the switch.
//! Each step runs on ticks and, to be fast, also the moment a reply brings
//! news (a vote, the promoted replica's INFO).

use std::collections::BTreeMap;

use super::select_replica::{replica_may_qualify_soon, select_replica};
use super::{FailoverState, MAX_ELECTION_EPOCH};
use crate::election::QuorumRule;
use crate::ids::Epoch;
use crate::sentinel::instance::ReconfState;
use crate::sentinel::links::{LinkId, Tag, Target};
use crate::sentinel::{Level, Sentinel, SIMFAILURE_CRASH_AFTER_ELECTION};
use crate::time::Millis;

/// While waiting for the promoted replica to report `role:master`, or for
/// a reconfigured replica to report its link to the new master up, ask its
/// INFO this often instead of once a second (`poll_timeout` wakes the
/// driver for it). Only instances in a failover are polled so often.
pub(crate) const PROMOTION_POLL: u64 = 20;

/// After a split vote, how long each candidate with a lower run id is given
/// to start the next epoch before we do (see `follow_current_epoch`).
const SPLIT_RETRY_STEP: u64 = 100;

/// How long `select_slave` waits for fresh replica INFO before aborting.
const SELECT_GRACE: u64 = 1500;

impl Sentinel {
    /// Starts a failover when the master is ODOWN, none is running and the
    /// last attempt is old enough. True when one started.
    pub(crate) fn start_failover_if_needed(&mut self, now: Millis, name: &str) -> bool {
        let Some(m) = self.masters.known(name) else {
            return false;
        };
        if !m.common.o_down || m.failover_in_progress() {
            return false;
        }
        if let Some(start) = m.failover_start_time {
            if now.since(start).0 < 2 * m.failover_timeout {
                return false;
            }
        }
        if now.since(m.common.o_down_since).0 < self.stagger(m) {
            return false;
        }
        self.start_failover(now, name)
    }

    /// Emits the abort event `kind` about master `name`, then aborts.
    pub(crate) fn abort_failover_with(&mut self, now: Millis, name: &str, kind: &str) {
        let hostnames = self.settings.announce_hostnames;
        let Some(m) = self.masters.known_mut(name) else {
            debug_assert!(false, "{kind} for unknown master {name}");
            return;
        };
        self.out
            .master_event(m, hostnames, Level::Warning, kind, "");
        m.abort_failover(now);
    }

    pub(crate) fn abort_failover(&mut self, now: Millis, name: &str) {
        if let Some(m) = self.masters.known_mut(name) {
            m.abort_failover(now);
        }
    }

    /// Advances master `name`'s failover as far as it can go now.
    pub(crate) fn failover_step(&mut self, now: Millis, name: &str) {
        // Several states can complete in one call (elected → replica chosen
        // → SLAVEOF NO ONE sent); stop when a step makes no progress.
        for _ in 0..4 {
            let Some(state) = self.masters.known(name).map(|m| m.failover) else {
                return;
            };
            match state {
                FailoverState::None | FailoverState::UpdateConfig => return,
                FailoverState::WaitStart => self.wait_start(now, name),
                FailoverState::SelectSlave => self.select_slave(now, name),
                FailoverState::SendSlaveofNoone if self.masters[name].coordinated => {
                    self.send_failover_to(now, name)
                }
                FailoverState::SendSlaveofNoone => self.send_slaveof_noone(now, name),
                FailoverState::WaitPromotion => self.wait_promotion(now, name),
                FailoverState::ReconfSlaves => self.reconf_next_replica(now, name),
            }
            if self.masters.known(name).map(|m| m.failover) == Some(state) {
                return;
            }
        }
    }

    fn wait_start(&mut self, now: Millis, name: &str) {
        self.follow_current_epoch(now, name);
        let Some(epoch) = self.masters.known(name).map(|m| m.failover_epoch) else {
            return;
        };
        let leader = self.get_leader(now, name, epoch);
        let hostnames = self.settings.announce_hostnames;
        let Some(m) = self.masters.known(name) else {
            return;
        };
        // Having voted for a rival in a later epoch, we stand down: the
        // rival may win that epoch, and two leaders would both promote.
        let yielded = m.vote.last().is_some_and(|v| {
            v.epoch > epoch
                && v.candidate
                    .as_ref()
                    .is_some_and(|c| !c.as_str().eq_ignore_ascii_case(self.myid()))
        });
        let is_leader = !yielded
            && leader
                .as_deref()
                .is_some_and(|l| l.eq_ignore_ascii_case(self.myid()));
        if !is_leader && !m.force_failover {
            let timeout = self.timing.election_timeout.min(m.failover_timeout);
            let started = m.failover_start_time.unwrap_or(now);
            if now > started && now.since(started).0 > timeout {
                let kind = "-failover-abort-not-elected";
                self.out
                    .master_event(m, hostnames, Level::Warning, kind, "");
                self.abort_failover(now, name);
            }
            return;
        }
        self.out
            .master_event(m, hostnames, Level::Warning, "+elected-leader", "");
        if self.simulate_failure & SIMFAILURE_CRASH_AFTER_ELECTION != 0 {
            self.crash();
            return;
        }
        let Some(m) = self.masters.known_mut(name) else {
            return;
        };
        m.set_failover_state(now, FailoverState::SelectSlave);
        let kind = "+failover-state-select-slave";
        self.out
            .master_event(m, hostnames, Level::Warning, kind, "");
    }

    /// An election that has not been won yet moves up to the current
    /// epoch. When many masters fail at once, every other failover moves
    /// the (global) current epoch on, and voters refuse requests below
    /// their own current epoch (Redis's rule, which real redis-sentinel
    /// voters apply too): votes asked for in the epoch the election
    /// started in would never come. So the candidate asks again, at once,
    /// in the current epoch, and counts its own vote and the peers' in
    /// that one epoch. Still one vote per voter per master and epoch, so
    /// still at most one leader per epoch; the promotion then carries
    /// this epoch as its config epoch.
    ///
    /// Only when the votes we lack were refused as stale: once every
    /// connected peer answered this round (or an ask period passed) and
    /// no other candidate can have won our epoch (moving on would elect a
    /// second leader in a later epoch). Two candidates that crossed, each
    /// with only its own vote, both move on; the voters then pick one. A forced failover needs no votes and keeps
    /// its epoch.
    fn follow_current_epoch(&mut self, now: Millis, name: &str) {
        let current = self.settings.current_epoch.current();
        let ask_period = self.timing.ask_period;
        let myid = self.myid().to_string();
        let Some(m) = self.masters.known(name) else {
            return;
        };
        if m.force_failover {
            return;
        }
        let (epoch, asked) = (m.failover_epoch, m.election_asked_at);
        let answered = now.since(asked).0 >= ask_period
            || m.sentinels
                .iter()
                .all(|(id, s)| !s.common.link.cc_connected || m.election_answers.contains(id));
        if !answered {
            return;
        }
        // The votes in our epoch or later, as the peers reported them
        // (their own included), and ours.
        let needed = QuorumRule::sentinel_leader(m.sentinels.len() + 1, m.quorum as usize).needed();
        let unknown = m
            .sentinels
            .keys()
            .filter(|id| !m.election_answers.contains(*id))
            .count();
        let mut votes: BTreeMap<String, usize> = BTreeMap::new();
        for s in m.sentinels.values().filter(|s| s.leader_epoch >= epoch) {
            if let Some(l) = &s.leader {
                *votes.entry(l.to_ascii_lowercase()).or_default() += 1;
            }
        }
        if let Some(v) = m.vote.last().filter(|v| v.epoch >= epoch) {
            if let Some(c) = &v.candidate {
                if !c.as_str().eq_ignore_ascii_case(&myid) {
                    // Having voted for a rival, we stand down.
                    return;
                }
                *votes.entry(c.as_str().to_ascii_lowercase()).or_default() += 1;
            }
        }
        let myid = myid.to_ascii_lowercase();
        // Can a rival still win (its votes plus every peer that has not
        // answered reach the quorum)? Then it may lead: moving on would
        // elect a second leader in a later epoch.
        if votes
            .iter()
            .any(|(c, n)| *c != myid && n + unknown >= needed)
        {
            return;
        }
        if epoch < current {
            self.move_election(now, name, current, false);
            return;
        }
        // Nobody moves the epoch on, and nobody can win this one: the
        // candidates split the votes. The one with the lowest run id
        // starts a new epoch at once, the others a step later each (by
        // then they have usually voted for it and stood down).
        if votes.get(&myid).copied().unwrap_or(0) + unknown >= needed {
            return;
        }
        let before = m
            .sentinels
            .iter()
            .filter(|(id, s)| {
                id.to_ascii_lowercase() < myid
                    && s.leader_epoch == epoch
                    && s.leader
                        .as_deref()
                        .is_some_and(|l| l.eq_ignore_ascii_case(id))
            })
            .count() as u64;
        if now.since(asked).0 < before * SPLIT_RETRY_STEP {
            return;
        }
        if let Some(next) = current.next().filter(|e| e.0 <= MAX_ELECTION_EPOCH) {
            self.move_election(now, name, next, true);
        }
    }

    /// Moves our unwon election to `epoch` (a new one when `bump`) and asks
    /// for votes in it at once.
    fn move_election(&mut self, now: Millis, name: &str, epoch: Epoch, bump: bool) {
        let Some(m) = self.masters.known_mut(name) else {
            return;
        };
        m.failover_epoch = epoch;
        m.election_asked_at = now;
        m.election_answers.clear();
        if bump {
            self.settings.current_epoch.observe(epoch);
            self.out.persist();
            self.out
                .master_event_plain(m, Level::Warning, "+new-epoch", epoch.to_string());
        }
        self.ask_master_state(now, name, true);
    }

    fn select_slave(&mut self, now: Millis, name: &str) {
        let Some(m) = self.masters.known(name) else {
            return;
        };
        let Some(key) = select_replica(m, &self.timing, now) else {
            // Elected faster than Redis would be, we may be looking at
            // replica INFO that is a few seconds old, or at a replica just
            // discovered whose first INFO is on its way. Give fresh INFO
            // (asked for at SDOWN and every second since) a moment to
            // arrive before giving up.
            if replica_may_qualify_soon(m)
                && now.since(m.failover_state_change_time).0 < SELECT_GRACE
            {
                return;
            }
            self.abort_failover_with(now, name, "-failover-abort-no-good-slave");
            return;
        };
        let target = Target::Replica {
            master: name.to_string(),
            key: key.clone(),
        };
        let hostnames = self.settings.announce_hostnames;
        let Some(m) = self.masters.known_mut(name) else {
            return;
        };
        m.promoted = Some(key);
        let out = &mut self.out;
        out.instance_event(m, &target, hostnames, Level::Warning, "+selected-slave", "");
        m.set_failover_state(now, FailoverState::SendSlaveofNoone);
        let kind = "+failover-state-send-slaveof-noone";
        out.instance_event(m, &target, hostnames, Level::Notice, kind, "");
    }

    fn promoted_target(&self, name: &str) -> Option<Target> {
        let key = self.masters.known(name)?.promoted.clone()?;
        Some(Target::Replica {
            master: name.to_string(),
            key,
        })
    }

    fn send_slaveof_noone(&mut self, now: Millis, name: &str) {
        let Some(target) = self.promoted_target(name) else {
            return;
        };
        if !self.send_slaveof(&target, None) {
            self.abort_if_state_timed_out(now, name);
            return;
        }
        self.enter_wait_promotion(now, name, target);
    }

    /// The promotion was asked for (`SLAVEOF NO ONE`, or `FAILOVER TO`
    /// for a coordinated failover): wait for the replica's INFO to show it.
    pub(crate) fn enter_wait_promotion(&mut self, now: Millis, name: &str, target: Target) {
        self.instance_event(
            name,
            &target,
            Level::Notice,
            "+failover-state-wait-promotion",
            "",
        );
        if let Some(m) = self.masters.known_mut(name) {
            m.set_failover_state(now, FailoverState::WaitPromotion);
        }
        // Ask at once whether the promotion took.
        self.send(LinkId::cmd(target), Tag::Info, vec![b"INFO".to_vec()]);
    }

    /// The promoted replica has had failover-timeout to be reachable and
    /// to report the promotion: abort when that time is up. True if so.
    fn abort_if_state_timed_out(&mut self, now: Millis, name: &str) -> bool {
        let Some(m) = self.masters.known(name) else {
            return false;
        };
        if now.since(m.failover_state_change_time).0 <= m.failover_timeout {
            return false;
        }
        let hostnames = self.settings.announce_hostnames;
        let kind = "-failover-abort-slave-timeout";
        self.out
            .master_event(m, hostnames, Level::Warning, kind, "");
        self.abort_failover(now, name);
        true
    }

    fn wait_promotion(&mut self, now: Millis, name: &str) {
        if self.abort_if_state_timed_out(now, name) {
            return;
        }
        let Some(target) = self.promoted_target(name) else {
            return;
        };
        let due = self.common(&target).is_some_and(|c| {
            c.link.cc_connected
                && c.link.pending_commands < 2
                && c.info_refresh
                    .is_none_or(|t| now.since(t).0 >= PROMOTION_POLL)
        });
        if due {
            self.send(LinkId::cmd(target), Tag::Info, vec![b"INFO".to_vec()]);
            self.nudge_replica_ack(name);
        }
    }

    /// Sends SLAVEOF <promoted> to replicas, `parallel-syncs` at a time.
    fn reconf_next_replica(&mut self, now: Millis, name: &str) {
        let Some(promoted) = self.promoted_target(name) else {
            return;
        };
        let Some(promoted_addr) = self.common(&promoted).map(|c| c.addr.clone()) else {
            return;
        };
        // SLAVEOF carries the announced form (the hostname itself with
        // `announce-hostnames yes`).
        let to = self.announced(&promoted_addr).to_string();
        let reconf_timeout = self.timing.slave_reconf_timeout;
        let hostnames = self.settings.announce_hostnames;
        let Some(m) = self.masters.known_mut(name) else {
            return;
        };
        let out = &mut self.out;
        let promoted_key = m.promoted.clone();
        let mut in_progress = m
            .replicas
            .values()
            .filter(|r| matches!(r.reconf, ReconfState::Sent | ReconfState::InProgress))
            .count() as u32;
        let keys: Vec<String> = m.replicas.keys().cloned().collect();
        for key in keys {
            if in_progress >= m.parallel_syncs {
                break;
            }
            if Some(&key) == promoted_key.as_ref() {
                continue;
            }
            let target = Target::Replica {
                master: name.to_string(),
                key: key.clone(),
            };
            let Some(r) = m.replicas.get_mut(&key) else {
                continue;
            };
            if r.reconf == ReconfState::Done {
                continue;
            }
            if r.reconf == ReconfState::Sent && now.since(r.reconf_sent_time).0 > reconf_timeout {
                r.reconf = ReconfState::Done;
                let kind = "-slave-reconf-sent-timeout";
                out.instance_event(m, &target, hostnames, Level::Notice, kind, "");
                continue;
            }
            if matches!(r.reconf, ReconfState::Sent | ReconfState::InProgress) {
                continue;
            }
            if !r.common.link.cc_connected {
                continue;
            }
            if m.send_slaveof(out, &target, Some((&to, promoted_addr.port))) {
                if let Some(r) = m.replicas.get_mut(&key) {
                    r.reconf = ReconfState::Sent;
                    r.reconf_sent_time = now;
                }
                let kind = "+slave-reconf-sent";
                out.instance_event(m, &target, hostnames, Level::Notice, kind, "");
                // Answered after the transaction: shows the new master
                // at once (`+slave-reconf-inprog`).
                m.send(out, LinkId::cmd(target), Tag::Info, vec![b"INFO".to_vec()]);
                in_progress += 1;
            }
        }
        self.poll_reconfiguring(now, name);
        self.detect_failover_end(now, name, &promoted_addr);
    }

    /// Replicas told to follow the promoted one report their progress only
    /// through INFO: ask often instead of once a second.
    fn poll_reconfiguring(&mut self, now: Millis, name: &str) {
        let Some(m) = self.masters.known_mut(name) else {
            return;
        };
        let due: Vec<Target> = m
            .replicas
            .iter()
            .filter(|(_, r)| {
                matches!(r.reconf, ReconfState::Sent | ReconfState::InProgress)
                    && r.common.link.cc_connected
                    && r.common.link.pending_commands < 2
                    && r.common
                        .info_refresh
                        .is_none_or(|t| now.since(t).0 >= PROMOTION_POLL)
            })
            .map(|(k, _)| Target::Replica {
                master: name.to_string(),
                key: k.clone(),
            })
            .collect();
        for t in due {
            m.send(
                &mut self.out,
                LinkId::cmd(t),
                Tag::Info,
                vec![b"INFO".to_vec()],
            );
        }
    }

    fn detect_failover_end(
        &mut self,
        now: Millis,
        name: &str,
        promoted_addr: &crate::sentinel::Addr,
    ) {
        let to = self.announced(promoted_addr).to_string();
        let hostnames = self.settings.announce_hostnames;
        let Some(m) = self.masters.known_mut(name) else {
            return;
        };
        let out = &mut self.out;
        let Some(pkey) = m.promoted.clone() else {
            return;
        };
        // Not finished while the promoted replica is unreachable.
        if m.replicas.get(&pkey).is_none_or(|r| r.common.s_down) {
            return;
        }
        let mut not_reconfigured = m
            .replicas
            .iter()
            .filter(|(k, r)| **k != pkey && r.reconf != ReconfState::Done && !r.common.s_down)
            .count();
        let timed_out = now.since(m.failover_state_change_time).0 > m.failover_timeout;
        let warn = Level::Warning;
        if timed_out {
            not_reconfigured = 0;
            let kind = "+failover-end-for-timeout";
            out.master_event(m, hostnames, warn, kind, "");
        }
        if not_reconfigured == 0 {
            out.master_event(m, hostnames, warn, "+failover-end", "");
            m.set_failover_state(now, FailoverState::UpdateConfig);
        }
        if timed_out {
            let keys: Vec<String> = m
                .replicas
                .iter()
                .filter(|(k, r)| {
                    **k != pkey && r.reconf == ReconfState::None && r.common.link.cc_connected
                })
                .map(|(k, _)| k.clone())
                .collect();
            for key in keys {
                let target = Target::Replica {
                    master: name.to_string(),
                    key: key.clone(),
                };
                if m.send_slaveof(out, &target, Some((&to, promoted_addr.port))) {
                    let kind = "+slave-reconf-sent-be";
                    out.instance_event(m, &target, hostnames, Level::Notice, kind, "");
                    if let Some(r) = m.replicas.get_mut(&key) {
                        r.reconf = ReconfState::Sent;
                    }
                }
            }
        }
    }

    /// `update_config`: announce and adopt the promoted replica as master.
    pub(crate) fn switch_to_promoted(&mut self, now: Millis, name: &str) {
        let Some(m) = self.masters.known(name) else {
            return;
        };
        let old = m.common.addr.clone();
        let new = m.current_addr().clone();
        let msg = format!(
            "{name} {} {} {} {}",
            self.announced(&old),
            old.port,
            self.announced(&new),
            new.port
        );
        self.out
            .master_event_plain(m, Level::Warning, "+switch-master", msg);
        self.reset_master_and_change_address(now, name, new);
        self.force_hello(name);
    }

    /// Makes hellos for master `name` go out on the next chance (new
    /// config to spread).
    pub(crate) fn force_hello(&mut self, name: &str) {
        if let Some(m) = self.masters.known_mut(name) {
            m.common.link.last_pub_time = None;
            for r in m.replicas.values_mut() {
                r.common.link.last_pub_time = None;
            }
            for s in m.sentinels.values_mut() {
                s.common.link.last_pub_time = None;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sentinel::links::Channel;
    use crate::sentinel::Action;

    /// A leader whose promoted replica (6380) already reports master, with
    /// two more replicas to reconfigure one at a time.
    fn reconfiguring(parallel_syncs: u32) -> Sentinel {
        let mut s = Sentinel::new(1, 26379);
        let lines = [
            "myid 0000000000000000000000000000000000000000".to_string(),
            "monitor m 127.0.0.1 6379 2".into(),
            format!("parallel-syncs m {parallel_syncs}"),
            "known-replica m 127.0.0.1 6380".into(),
            "known-replica m 127.0.0.1 6381".into(),
            "known-replica m 127.0.0.1 6382".into(),
        ];
        for l in lines {
            let args: Vec<String> = l.split(' ').map(String::from).collect();
            s.apply_directive(Millis(0), &args).unwrap();
        }
        for port in [6380, 6381, 6382] {
            let target = Target::Replica {
                master: "m".into(),
                key: format!("127.0.0.1:{port}"),
            };
            s.link_connected(Millis(0), LinkId::cmd(target), "127.0.0.1".into());
        }
        let m = s.masters.get_mut("m").unwrap();
        m.failover = FailoverState::ReconfSlaves;
        m.failover_state_change_time = Millis(0);
        m.promoted = Some("127.0.0.1:6380".into());
        while s.poll_action().is_some() {}
        s
    }

    /// One output, as text: `send <port> <args>` or `event <kind> <msg>`.
    fn show(a: &Action) -> String {
        match a {
            Action::Send(o) => {
                let Target::Replica { key, .. } = &o.link.target else {
                    return format!("{a:?}");
                };
                assert_eq!(o.link.channel, Channel::Cmd);
                let args: Vec<String> = o
                    .args
                    .iter()
                    .map(|x| String::from_utf8_lossy(x).into_owned())
                    .collect();
                format!("send {key} {}", args.join(" "))
            }
            Action::Event(e) => format!("event {} {}", e.kind, e.msg),
            other => format!("{other:?}"),
        }
    }

    #[test]
    fn one_reconfiguration_step_queues_exactly_one_transaction_its_event_and_an_info() {
        let mut s = reconfiguring(1);
        let r = "127.0.0.1:6381";
        let owed = |s: &Sentinel| s.masters["m"].replicas[r].common.link.pending_commands;
        let owed_before = owed(&s);
        s.failover_step(Millis(100), "m");
        let out: Vec<String> = std::iter::from_fn(|| s.poll_action())
            .map(|a| show(&a))
            .collect();
        assert_eq!(
            out,
            [
                format!("send {r} MULTI"),
                format!("send {r} SLAVEOF 127.0.0.1 6380"),
                format!("send {r} CONFIG REWRITE"),
                format!("send {r} CLIENT KILL TYPE normal"),
                format!("send {r} CLIENT KILL TYPE pubsub"),
                format!("send {r} EXEC"),
                format!("event +slave-reconf-sent slave {r} 127.0.0.1 6381 @ m 127.0.0.1 6379"),
                format!("send {r} INFO"),
            ]
        );
        // parallel-syncs 1: the other replica waits; nothing else is owed.
        s.failover_step(Millis(150), "m");
        assert_eq!(s.poll_action(), None);
        let m = &s.masters["m"];
        assert_eq!(m.replicas[r].reconf, ReconfState::Sent);
        assert_eq!(m.replicas["127.0.0.1:6382"].reconf, ReconfState::None);
        // Each of the six commands and the INFO owes a reply.
        assert_eq!(owed(&s), owed_before + 7);
    }

    #[test]
    fn with_parallel_syncs_two_both_replicas_get_their_transaction_in_one_step() {
        let mut s = reconfiguring(2);
        s.failover_step(Millis(100), "m");
        let out: Vec<String> = std::iter::from_fn(|| s.poll_action())
            .map(|a| show(&a))
            .collect();
        let slaveofs: Vec<&String> = out.iter().filter(|l| l.contains(" SLAVEOF ")).collect();
        assert_eq!(
            slaveofs,
            [
                "send 127.0.0.1:6381 SLAVEOF 127.0.0.1 6380",
                "send 127.0.0.1:6382 SLAVEOF 127.0.0.1 6380"
            ]
        );
        assert_eq!(out.len(), 16, "{out:#?}");
    }
}
