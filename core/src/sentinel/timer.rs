//! The timer: what every pass does for every instance — reconnect, send the
//! periodic PING / INFO / hello — and the calls into SDOWN (`sdown.rs`),
//! ODOWN (`odown.rs`) and the failover (`failover/progress.rs`); plus
//! `poll_timeout`, the one clock the shell waits on. Redis calls this
//! `sentinelTimer`; here `now` is an argument.

use std::fmt::Write as _;

use super::links::{LinkId, Tag, Target, HELLO_CHANNEL, MAX_PENDING_COMMANDS};
use super::Sentinel;
use crate::time::Millis;

/// Reconnect period for instances that are SDOWN.
const DOWN_RECONNECT_PERIOD: u64 = 200;

/// The shortest period between PINGs to a healthy instance.
const MIN_PING_PERIOD: u64 = 100;

/// Per-rank delay of a failover start after ODOWN (see `stagger`).
const STAGGER_STEP: u64 = 25;

/// How much longer a sentinel waits before its failover when a peer ranked
/// before it sees the master down too (see `stagger`).
const DEFER_TO_EARLIER_PEER: u64 = 100;

/// The core's own timer period: at the latest this long after a tick, the
/// next one is due (Redis's `sentinelTimer` runs at 10–19 Hz; periodic
/// PING/INFO/hello, reconnects, failover timeouts and TILT detection are
/// judged at ticks).
pub const TIMER_PERIOD: Millis = Millis(50);

/// The longest wait between two passes when nothing is due (capped at half
/// the TILT trigger).
const MAX_PASS_GAP: u64 = 1000;

impl Sentinel {
    /// One tick. The shell calls this when `poll_timeout` comes due (and
    /// may call it more often); after replies the core also reacts at once
    /// where the protocol allows.
    pub fn handle_timeout(&mut self, now: Millis) {
        self.check_tilt(now);
        self.assign_ping_owners();
        // Quiet masters with nothing due are skipped (see `wakeups.rs`).
        // Debug builds visit them anyway and check that nothing happened.
        let names: Vec<(String, bool)> = self
            .masters
            .values()
            .map(|m| (m, self.visit_due(now, m)))
            .filter(|(_, due)| *due || cfg!(debug_assertions))
            .map(|(m, due)| (m.name.clone(), due))
            .collect();
        for (name, due) in &names {
            let Some(m) = self.masters.known(name) else {
                continue;
            };
            let queued = self.out.queued();
            for target in m.targets() {
                self.handle_instance(now, name, &target);
            }
            debug_assert!(
                *due || self.out.queued() == queued,
                "master {name} was skipped as quiet, but its pass acted"
            );
            self.plan_visit(now, name);
            self.reindex(name);
        }
        self.after_tick(now);
        self.run_pending_scripts(now);
        self.note_next_visits();
    }

    /// When the shell must call `handle_timeout` next: the only clock it waits
    /// on (`now` before the first pass). Passes come when a master has
    /// something due (a PING, INFO or hello period, a reconnect, a failover
    /// step: see `wakeups.rs`), at most one per `TIMER_PERIOD` after the
    /// last, and at least every `MAX_PASS_GAP` so that TILT still sees a
    /// stalled process; the exact moments an instance crosses its
    /// down-after-milliseconds, a staggered failover start or a script
    /// comes due are not rounded to the period.
    pub fn poll_timeout(&mut self, now: Millis) -> Millis {
        let Some(last) = self.previous_tick else {
            return now;
        };
        let period = last + TIMER_PERIOD;
        let gap = Millis(MAX_PASS_GAP.min(self.timing.tilt_trigger / 2));
        let mut next = if self.tilt || self.out.scripts.has_waiting() {
            period
        } else {
            self.next_visit_pass(period).min(last + gap)
        };
        next = next.max(now);
        if let Some(t) = self.next_master_deadline(now) {
            next = next.min(t);
        }
        if let Some(t) = self
            .out
            .scripts
            .next_deadline(self.timing.script_max_runtime)
        {
            if t > now {
                next = next.min(t);
            }
        }
        self.wakeups.planned = Some(next);
        next
    }

    /// How long after ODOWN this sentinel waits before starting a failover:
    /// its rank among the known sentinels (lowest run id first) times a
    /// short step, so that sentinels seeing the failure at the same moment
    /// do not all ask for votes at once and split them.
    ///
    /// When a peer ranked before us says the master is down (its answer, or
    /// its own question to us), it reaches ODOWN as soon as our answer
    /// reaches it and is about to ask for our vote: we wait longer for
    /// that request instead of campaigning beside it. Under load (50
    /// masters failing at once) a round trip takes tens of ms, more than
    /// the step, and two candidates per master split and re-run the
    /// elections in waves. If that peer dies meanwhile we start at most
    /// [`DEFER_TO_EARLIER_PEER`] later.
    pub(crate) fn stagger(&self, m: &super::Master) -> u64 {
        let earlier = |id: &crate::ids::RunId| id.as_str() < self.myid();
        let rank = m.sentinels.keys().filter(|id| earlier(id)).count() as u64;
        let earlier_sees_it = m
            .sentinels
            .iter()
            .any(|(id, s)| earlier(id) && s.master_down && s.common.link.cc_connected);
        let defer = if earlier_sees_it {
            DEFER_TO_EARLIER_PEER
        } else {
            0
        };
        rank * STAGGER_STEP + defer
    }

    /// How often `c` is pinged. Redis pings every second, so a master that
    /// hangs just after a reply is only judged D after the next PING:
    /// detection anywhere in D … D + 1 s. A PING every D / 10 (at least
    /// 100 ms, at most the usual period) bounds that to D + D / 10 for
    /// small D and costs nothing extra for D ≥ 10 s (the default is 30 s).
    /// Silence still counts from an unanswered PING, never from before it:
    /// no instance is judged down sooner than D after a question it left
    /// unanswered. PINGs go out on timer passes (every 50 ms), so the
    /// period in effect is up to a pass longer; a deadline per PING would
    /// wake a full pass per instance.
    pub(crate) fn ping_period(&self, c: &super::instance::Common) -> u64 {
        (c.down_after / 10)
            .max(MIN_PING_PERIOD)
            .min(self.timing.ping_period)
    }

    /// The first moment `c` is due a PING: the start of the first PING
    /// slot after the one its last PONG came in, and half a period after
    /// the last PING at the earliest. Slots are cut from the wall clock
    /// (`clock_origin`), so sentinels whose clocks agree ping an instance
    /// at the same moments. Their last PONGs from an instance that dies
    /// then coincide, they judge it SDOWN and ODOWN together, and the
    /// failover's stagger by rank decides who asks for votes first. With
    /// PINGs phased from each instance's own last PONG, 50 masters dying
    /// at once were judged SDOWN over a whole period by each sentinel in
    /// its own order; overlapping candidacies then split the elections
    /// into waves. The rate is unchanged: at most one PING per slot.
    pub(crate) fn ping_due_at(&self, c: &super::instance::Common) -> Millis {
        let period = self.ping_period(c).max(1);
        let offset = self.clock_origin % period;
        let slot = (c.link.last_pong_time.0 + offset) / period;
        let next_slot = Millis((slot + 1) * period - offset);
        next_slot.max(c.link.last_ping_time + Millis(period / 2) + Millis(1))
    }

    /// The first PING slot of `c` at or after `t` (slots as in
    /// [`Sentinel::ping_due_at`]).
    fn slot_from(&self, c: &super::instance::Common, t: Millis) -> Millis {
        let period = self.ping_period(c).max(1);
        let offset = self.clock_origin % period;
        let k = (t.0 + offset).div_ceil(period);
        Millis(k * period - offset)
    }

    /// When a periodic command to `c` (INFO, a hello) last done at `last`
    /// is next due with period `every`: on the PING slot nearest to
    /// `last + every`, never more than half a slot early; `None`: now.
    ///
    /// Redis runs each period from the instance's own last INFO or hello,
    /// so an idle sentinel writes to an instance up to three times a
    /// second (PING, hello, INFO each on its own phase) and visits every
    /// master as often. On the PING's slot they go out in the PING's write
    /// and come back in its read, a peer's hellos for every master it
    /// shares go out together, and a quiet master is visited once a slot:
    /// at 1 000 masters an idle sentinel's writes fall from ~1 550 to
    /// ~1 000 a second. The rate of each command is unchanged.
    pub(crate) fn periodic_due_at(
        &self,
        c: &super::instance::Common,
        last: Option<Millis>,
        every: u64,
    ) -> Option<Millis> {
        let half = self.ping_period(c) / 2;
        last.map(|t| self.slot_from(c, t + Millis(every.saturating_sub(half))))
    }

    fn handle_instance(&mut self, now: Millis, master: &str, target: &Target) {
        self.reconnect(now, master, target);
        self.send_periodic(now, master, target);
        if self.tilt {
            return;
        }
        self.check_sdown(now, master, target);
        if let Target::Master(name) = target {
            self.check_odown(now, name);
            self.master_acting(now, name);
        }
    }

    pub(crate) fn reconnect(&mut self, now: Millis, master: &str, target: &Target) {
        let needs_pubsub = !matches!(target, Target::Sentinel(_));
        let ping_period = self.timing.ping_period;
        let Some(c) = self.instance_of_master_mut(master, target) else {
            return;
        };
        if !c.disconnected(needs_pubsub) || c.addr.port == 0 {
            return;
        }
        // An instance already judged down is retried more often, so that a
        // returning old master is noticed (and demoted) quickly.
        let period = if c.s_down {
            ping_period.min(DOWN_RECONNECT_PERIOD)
        } else {
            ping_period
        };
        if c.link
            .last_reconn_time
            .is_some_and(|t| now.since(t).0 < period)
        {
            return;
        }
        let addr = c.addr.clone();
        let want_cc = !c.link.cc_connected && !c.link.cc_connecting;
        let want_pc = needs_pubsub && !c.link.pc_connected && !c.link.pc_connecting;
        if want_cc {
            self.connect(now, LinkId::cmd(target.clone()), addr.clone());
        }
        if want_pc {
            self.connect(now, LinkId::pubsub(target.clone()), addr);
        }
    }

    fn send_periodic(&mut self, now: Millis, master: &str, target: &Target) {
        let is_sentinel = matches!(target, Target::Sentinel(_));
        let Some(m) = self.masters.known(master) else {
            return;
        };
        // Redis polls replicas every second once the master is ODOWN; we start
        // at SDOWN so that their INFO is fresh when a replica must be chosen.
        let master_busy = m.common.s_down || m.common.o_down || m.failover_in_progress();
        let Some(c) = self.instance_of_master(master, target) else {
            return;
        };
        if c.disconnected(!is_sentinel) {
            return;
        }
        if self.pending_commands(target, c) >= MAX_PENDING_COMMANDS * c.link.refcount.max(1) {
            return;
        }
        let mut info_period = self.timing.info_period;
        if let Target::Replica { master, key } = target {
            let link_down = self
                .masters
                .get(master)
                .and_then(|m| m.replicas.get(key))
                .is_some_and(|r| r.master_link_down_time != 0);
            if master_busy || link_down {
                info_period = 1000;
            }
        }
        let info_due = !is_sentinel
            && self
                .periodic_due_at(c, c.last_info(), info_period)
                .is_none_or(|t| now >= t);
        let ping_due = now >= self.ping_due_at(c);
        let hello_due = self
            .periodic_due_at(c, c.link.last_pub_time, self.timing.publish_period)
            .is_none_or(|t| now >= t);
        if info_due {
            if let Some(c) = self.instance_of_master_mut(master, target) {
                c.link.last_info_time = Some(now);
            }
            self.send(
                LinkId::cmd(target.clone()),
                Tag::Info,
                vec![b"INFO".to_vec()],
            );
        }
        if ping_due {
            self.send_ping(now, target.clone());
        }
        if hello_due {
            self.send_hello(master, target);
            // Counted from the send as well as from the reply: otherwise a
            // master answering slower than a tick gets a hello every tick
            // until MAX_PENDING_COMMANDS stops its PINGs too (SDOWN).
            if let Some(m) = self.masters.known_mut(master) {
                let link = match target {
                    Target::Master(_) => Some(&mut m.common.link),
                    Target::Replica { key, .. } => {
                        m.replicas.get_mut(key).map(|r| &mut r.common.link)
                    }
                    Target::Sentinel(id) => m.sentinels.get_mut(id).map(|s| &mut s.common.link),
                };
                if let Some(link) = link {
                    link.last_pub_time = Some(now);
                }
            }
        }
    }

    /// `PUBLISH __sentinel__:hello <8 fields>` on behalf of `master`.
    pub(crate) fn send_hello(&mut self, master: &str, target: &Target) {
        if self.hello_blocked(master, target) {
            return;
        }
        let Some(m) = self.masters.known(master) else {
            return;
        };
        let Some(c) = self.instance_of_master(master, target) else {
            return;
        };
        let ip = match &self.settings.announce_ip {
            Some(ip) => ip.clone(),
            None => c.link.local_ip.clone(),
        };
        let port = if self.settings.announce_port != 0 {
            self.settings.announce_port
        } else {
            self.port
        };
        let addr = m.current_addr();
        // Sized once: `format!` starts such a string empty and grows it
        // four or five times (a hello goes to every instance every 2 s).
        let mut payload = String::with_capacity(96 + m.name.len() + ip.len());
        let _ = write!(
            payload,
            "{ip},{port},{},{},{},{},{},{}",
            self.myid(),
            self.settings.current_epoch.current(),
            m.name,
            self.announced(addr),
            addr.port,
            m.config_epoch
        );
        self.send(
            LinkId::cmd(target.clone()),
            Tag::Hello(master.into()),
            vec![
                b"PUBLISH".to_vec(),
                HELLO_CHANNEL.as_bytes().to_vec(),
                payload.into_bytes(),
            ],
        );
    }

    /// Sends INFO to every connected replica of master `name` now.
    pub(crate) fn refresh_replicas(&mut self, name: &str) {
        let Some(m) = self.masters.known(name) else {
            return;
        };
        let targets: Vec<Target> = m
            .replicas
            .iter()
            .filter(|(_, r)| r.common.link.cc_connected)
            .map(|(k, _)| Target::Replica {
                master: name.to_string(),
                key: k.clone(),
            })
            .collect();
        for t in targets {
            self.send(LinkId::cmd(t), Tag::Info, vec![b"INFO".to_vec()]);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ids::RunId;

    #[test]
    fn the_stagger_waits_longer_while_an_earlier_peer_sees_the_master_down() {
        let earlier = "a".repeat(40);
        let later = "c".repeat(40);
        let mut s = Sentinel::new(1, 26379);
        for l in [
            format!("myid {}", "b".repeat(40)),
            "monitor m 127.0.0.1 6379 2".to_string(),
            format!("known-sentinel m 127.0.0.1 26380 {earlier}"),
            format!("known-sentinel m 127.0.0.1 26381 {later}"),
        ] {
            let args: Vec<&str> = l.split(' ').collect();
            s.apply_directive(Millis(0), &args).unwrap();
        }
        let set = |s: &mut Sentinel, id: &str, down: bool| {
            let peer = s.masters.get_mut("m").unwrap();
            let p = peer.sentinels.get_mut(&RunId::from(id)).unwrap();
            p.master_down = down;
            p.common.link.cc_connected = true;
        };
        // Rank 1 (one peer sorts first): one step.
        assert_eq!(s.stagger(&s.masters["m"]), STAGGER_STEP);
        // A later peer seeing it down changes nothing; an earlier one
        // does, while its link is up.
        set(&mut s, &later, true);
        assert_eq!(s.stagger(&s.masters["m"]), STAGGER_STEP);
        set(&mut s, &earlier, true);
        assert_eq!(
            s.stagger(&s.masters["m"]),
            STAGGER_STEP + DEFER_TO_EARLIER_PEER
        );
        let peer = s.masters.get_mut("m").unwrap();
        let p = peer
            .sentinels
            .get_mut(&RunId::from(earlier.as_str()))
            .unwrap();
        p.common.link.cc_connected = false;
        assert_eq!(s.stagger(&s.masters["m"]), STAGGER_STEP);
    }
}
