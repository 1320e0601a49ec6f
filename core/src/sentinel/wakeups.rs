//! Which masters a timer pass must visit, and the exact deadlines behind
//! `poll_timeout`, kept without walking every master.
//!
//! A pass used to visit every instance of every master 20 times a second,
//! and `poll_timeout` walked every master after every reply. At 1 000
//! masters that was most of an idle sentinel's CPU, though almost every
//! visit found nothing due. Now:
//! - a *quiet* master (every instance connected and not SDOWN, no ODOWN,
//!   no failover, no peer verdict held, not in TILT) records the first
//!   moment any timed condition of a pass can turn true for it
//!   ([`Sentinel::next_visit`]) and is skipped until then, or until an
//!   input about it arrives ([`Sentinel::touch_master`]): replies, hellos,
//!   link changes and commands change what is due;
//! - each master's own exact deadline (see `master_deadline`) sits in an
//!   ordered index, refreshed only for the masters an input or a pass
//!   touched.
//!
//! Debug builds still visit a skipped master and assert that the visit
//! queued nothing, and check the index against a walk of every master, so
//! every test and simulator run checks that skipping changes nothing.

use std::collections::BTreeSet;

use foldhash::HashMap;

use super::failover::{FailoverState, PROMOTION_POLL};
use super::instance::{Common, Master, Role};
use super::links::{Target, MAX_PENDING_COMMANDS};
use super::Sentinel;
use crate::time::Millis;

/// The deadline index and the masters whose entry must be recomputed.
///
/// Masters are known here by a number given to each name on first sight
/// (names are never forgotten: a removed master's number is reused if it
/// comes back). Every PONG, INFO and hello re-indexes its master; with
/// names as keys that was four `String` copies and B-tree nodes keyed by
/// them each time, some 35 000 allocations a second at 1 000 masters.
#[derive(Debug)]
pub(crate) struct Wakeups {
    /// (deadline, master number) for every master that has one.
    index: BTreeSet<(Millis, u32)>,
    /// Each master's indexed deadline, by number.
    at: Vec<Option<Millis>>,
    /// Master names by number, and numbers by name (foldhash, as SipHash
    /// was a few per cent of an idle sentinel at 1 000 masters).
    names: Vec<String>,
    numbers: HashMap<String, u32>,
    /// Masters whose deadline may have changed since it was indexed.
    stale: Vec<u32>,
    /// Every master's may have (a command, a resolution, a new peer).
    all_stale: bool,
    /// The peers a master watches may have changed: `ping_owner` flags are
    /// recomputed before the next pass.
    peers_changed: bool,
    /// The earliest `next_visit` of any master (`ZERO`: the next period).
    visit_at: Millis,
    /// The wake-up `poll_timeout` last asked for: a pass later than the
    /// period by design is not a stall (see `check_tilt`).
    pub(crate) planned: Option<Millis>,
}

impl Default for Wakeups {
    /// Nothing indexed yet: the masters a config load created are indexed
    /// on the first `poll_timeout`.
    fn default() -> Wakeups {
        Wakeups {
            index: BTreeSet::new(),
            at: Vec::new(),
            names: Vec::new(),
            numbers: HashMap::default(),
            stale: Vec::new(),
            all_stale: true,
            peers_changed: true,
            visit_at: Millis::ZERO,
            planned: None,
        }
    }
}

impl Wakeups {
    /// Master `name`'s number.
    fn number(&mut self, name: &str) -> u32 {
        if let Some(&n) = self.numbers.get(name) {
            return n;
        }
        let n = u32::try_from(self.names.len()).expect("fewer than 4 billion master names");
        self.names.push(name.to_string());
        self.numbers.insert(name.to_string(), n);
        self.at.push(None);
        n
    }

    /// Master `name`'s deadline may have changed.
    fn mark_stale(&mut self, name: &str) {
        let n = self.number(name);
        self.stale.push(n);
    }
}

/// The first moment `now.since(t) > period` holds.
fn after(t: Millis, period: u64) -> Millis {
    t + Millis(period) + Millis(1)
}

impl Sentinel {
    /// Something about master `name` changed outside a timer pass: visit
    /// it on the next pass and re-index its deadline.
    pub(crate) fn touch_master(&mut self, name: &str) {
        if let Some(m) = self.masters.get_mut(name) {
            m.next_visit = Millis::ZERO;
        }
        self.wakeups.visit_at = Millis::ZERO;
        self.wakeups.mark_stale(name);
    }

    /// A reply from `target` was handled outside a pass: the master whose
    /// visits time that instance learns when it is next due, as a pass
    /// would compute it. A PONG or an INFO answered only moves its timers
    /// (a visit planned while the PING or INFO was unanswered, half a slot
    /// later, would find nothing due), or makes the master due now.
    pub(crate) fn settle(&mut self, now: Millis, target: &Target) {
        let owner = match target {
            Target::Master(name) | Target::Replica { master: name, .. } => self.masters.get(name),
            Target::Sentinel(id) => self
                .masters
                .values()
                .find(|m| m.sentinels.get(id).is_some_and(|s| s.ping_owner)),
        };
        let Some(name) = owner.map(|m| m.name.clone()) else {
            return;
        };
        if let Some(next) = self.plan_visit(now, &name) {
            self.wakeups.visit_at = self.wakeups.visit_at.min(next);
        }
    }

    /// Records when master `name` is next due a visit (see
    /// [`Sentinel::next_visit`]) and returns it.
    pub(crate) fn plan_visit(&mut self, now: Millis, name: &str) -> Option<Millis> {
        let next = self.next_visit(now, self.masters.get(name)?);
        if let Some(m) = self.masters.get_mut(name) {
            m.next_visit = next;
        }
        Some(next)
    }

    /// Something about the instance behind `target` changed.
    pub(crate) fn touch(&mut self, target: &Target) {
        match target {
            Target::Master(name) | Target::Replica { master: name, .. } => {
                let name = name.clone();
                self.touch_master(&name);
            }
            // A peer's link is shared by every master it watches; its
            // state has no deadline of the masters' own.
            Target::Sentinel(id) => {
                for m in self.masters.values_mut() {
                    if m.sentinels.contains_key(id) {
                        m.next_visit = Millis::ZERO;
                    }
                }
                self.wakeups.visit_at = Millis::ZERO;
            }
        }
    }

    /// Anything may have changed: visit and re-index every master.
    pub(crate) fn touch_all(&mut self) {
        for m in self.masters.values_mut() {
            m.next_visit = Millis::ZERO;
        }
        self.wakeups.all_stale = true;
        self.wakeups.peers_changed = true;
        self.wakeups.visit_at = Millis::ZERO;
    }

    /// After a pass: when the next one has a master to visit.
    pub(crate) fn note_next_visits(&mut self) {
        self.wakeups.visit_at = self
            .masters
            .values()
            .map(|m| m.next_visit)
            .min()
            .unwrap_or(Millis(u64::MAX));
    }

    /// When the next pass is due for a visit: `period` (the earliest a pass
    /// may follow the last one) or later, when every master is quiet.
    pub(crate) fn next_visit_pass(&self, period: Millis) -> Millis {
        self.wakeups.visit_at.max(period)
    }

    /// Marks, for every peer, the copy in the first master (by name) that
    /// watches it as the one whose visits time the peer's PINGs. The pass
    /// visits masters in name order, so that master's visit always comes
    /// first and the others' would find the PING already sent.
    pub(crate) fn assign_ping_owners(&mut self) {
        if !std::mem::take(&mut self.wakeups.peers_changed) {
            return;
        }
        let mut seen = std::collections::HashSet::new();
        for m in self.masters.values_mut() {
            for (id, s) in m.sentinels.iter_mut() {
                s.ping_owner = !seen.contains(id.as_str());
                if s.ping_owner {
                    seen.insert(id.clone());
                }
            }
        }
    }

    /// Only master `name`'s deadline may have changed (a PING answered):
    /// re-index it without scheduling a visit.
    pub(crate) fn reindex(&mut self, name: &str) {
        self.wakeups.mark_stale(name);
    }

    /// Whether the pass at `now` visits `m`.
    pub(crate) fn visit_due(&self, now: Millis, m: &Master) -> bool {
        self.tilt || m.next_visit <= now
    }

    /// The first moment a timer pass could do anything for `m`, if no input
    /// about it arrives before: `now` (every pass) unless `m` is quiet.
    /// Each term mirrors a timed condition of `reconnect`, `send_periodic`,
    /// `check_sdown`, `check_odown` or `master_acting`.
    pub(crate) fn next_visit(&self, now: Millis, m: &Master) -> Millis {
        let quiet = !self.tilt
            && !m.common.o_down
            && !m.failover_in_progress()
            && !m.master_reboot
            && m.common.role_reported == Role::Master
            && m.sentinels
                .values()
                .all(|s| !s.master_down && s.leader.is_none());
        if !quiet {
            return now;
        }
        let info = self.timing.info_period;
        let mut due = self.instance_due(now, &m.common, true, Some(info), None);
        for r in m.replicas.values() {
            let period = if r.master_link_down_time != 0 {
                1000
            } else {
                info
            };
            due = due.min(self.instance_due(now, &r.common, true, Some(period), None));
        }
        for (id, s) in &m.sentinels {
            let pending = self.peer_pending.get(id).copied().unwrap_or(0);
            let pings = s.ping_owner;
            due = due.min(self.instance_due(now, &s.common, pings, None, Some(pending)));
        }
        due
    }

    /// `next_visit` for one instance: `pings` whether this visit times its
    /// PINGs, `info_period` its INFO period (`None` for a peer sentinel),
    /// `pending` a peer's shared count of unanswered commands.
    fn instance_due(
        &self,
        now: Millis,
        c: &Common,
        pings: bool,
        info_period: Option<u64>,
        pending: Option<u32>,
    ) -> Millis {
        // Masters and replicas have a pub/sub link and an INFO period;
        // peer sentinels neither.
        let pubsub = info_period.is_some();
        let pending = pending.unwrap_or(c.link.pending_commands);
        if c.s_down
            || c.disconnected(pubsub)
            || pending >= MAX_PENDING_COMMANDS * c.link.refcount.max(1)
        {
            return now;
        }
        let link = &c.link;
        let mut due = Millis(u64::MAX);
        if pings {
            due = self.ping_due_at(c);
        }
        if let Some(period) = info_period {
            due = due.min(
                self.periodic_due_at(c, c.last_info(), period)
                    .unwrap_or(now),
            );
        }
        let hello = self
            .periodic_due_at(c, link.last_pub_time, self.timing.publish_period)
            .unwrap_or(now);
        due = due.min(hello);
        // SDOWN by silence, and a quiet command link reconnected.
        if let Some(d) = link.ping_detector(false) {
            due = due.min(d.down_at(Millis(c.down_after)));
        }
        let min_age = self.timing.min_link_reconnect_period;
        let half = c.down_after / 2;
        if let Some(asked) = link.act_ping_time {
            let quiet_link = (link.cc_conn_time + Millis(min_age))
                .max(after(asked, half))
                .max(after(link.last_pong_time, half));
            due = due.min(quiet_link);
        }
        if pubsub {
            let quiet_pubsub = (link.pc_conn_time + Millis(min_age))
                .max(after(link.pc_last_activity, 3 * self.timing.publish_period));
            due = due.min(quiet_pubsub);
        }
        due
    }

    /// The earliest of `m`'s exact deadlines after `now`: its SDOWN by
    /// silence, its next PING slot, a staggered failover start, the INFO polls of a failover
    /// in progress.
    pub(crate) fn master_deadline(&self, now: Millis, m: &Master) -> Option<Millis> {
        let mut next: Option<Millis> = None;
        let mut consider = |t: Millis| {
            if t > now {
                next = Some(next.map_or(t, |n| n.min(t)));
            }
        };
        let c = &m.common;
        if !c.s_down {
            // A PING outstanding, or a link down, counts to SDOWN exactly:
            // judged at a pass instead, sentinels would see the same
            // silence up to a period apart.
            if let Some(d) = c.link.ping_detector(c.disconnected(true)) {
                consider(d.down_at(Millis(c.down_after)));
            }
            // Its next PING slot, exactly: a pass held back by the period
            // would send it up to a period late, and the sentinels' PINGs
            // would drift apart again (see `ping_due_at`). While a PING is
            // unanswered the SDOWN deadline above is the one that matters.
            if !c.disconnected(true) && c.link.act_ping_time.is_none() {
                consider(self.ping_due_at(c));
            }
        }
        if c.o_down && !m.failover_in_progress() {
            consider(c.o_down_since + Millis(self.stagger(m)));
        }
        if matches!(
            m.failover,
            FailoverState::WaitPromotion | FailoverState::ReconfSlaves
        ) {
            for r in m.replicas.values() {
                if let Some(t) = r.common.info_refresh {
                    consider(t + Millis(PROMOTION_POLL));
                }
            }
        }
        next
    }

    /// Re-indexes the masters touched since the last call.
    fn refresh_index(&mut self, now: Millis) {
        let all = std::mem::take(&mut self.wakeups.all_stale);
        let mut numbers: Vec<u32> = if all {
            // Every master, and every name indexed before (a removed
            // master leaves the index here).
            for name in self.masters.keys() {
                self.wakeups.number(name);
            }
            self.wakeups.stale.clear();
            (0..self.wakeups.names.len() as u32).collect()
        } else {
            std::mem::take(&mut self.wakeups.stale)
        };
        for &n in &numbers {
            let i = n as usize;
            let t = self
                .masters
                .get(&self.wakeups.names[i])
                .and_then(|m| self.master_deadline(now, m));
            let old = self.wakeups.at[i];
            // Most re-indexed masters (a PONG, a pass) keep their
            // deadline: leave the ordered index alone then.
            if old == t {
                continue;
            }
            if let Some(old) = old {
                self.wakeups.index.remove(&(old, n));
            }
            if let Some(t) = t {
                self.wakeups.index.insert((t, n));
            }
            self.wakeups.at[i] = t;
        }
        // The list's buffer serves the next round of touches.
        if !all && self.wakeups.stale.is_empty() {
            numbers.clear();
            self.wakeups.stale = numbers;
        }
    }

    /// The earliest indexed master deadline; `now` if one has passed
    /// without a pass since (the pass re-indexes it).
    pub(crate) fn next_master_deadline(&mut self, now: Millis) -> Option<Millis> {
        self.refresh_index(now);
        let first = self.wakeups.index.first().map(|(t, _)| (*t).max(now));
        #[cfg(debug_assertions)]
        {
            let walked = self
                .masters
                .values()
                .filter_map(|m| Some((self.master_deadline(now, m)?, &m.name)))
                .min();
            debug_assert!(
                walked.is_none_or(|(w, _)| first.is_some_and(|f| f <= w)),
                "deadline index {first:?} later than a walk of every master {walked:?}"
            );
        }
        first
    }
}

#[cfg(test)]
mod tests_support {
    use super::*;
    use crate::reply::Reply;
    use crate::sentinel::links::{LinkId, Tag};

    /// A sentinel watching master `m` (D = 1 000 ms), connected, answered,
    /// after a pass at 3 ms.
    pub(super) fn quiet_master() -> (Sentinel, Target) {
        quiet_master_with(1000)
    }

    pub(super) fn quiet_master_with(down_after: u64) -> (Sentinel, Target) {
        let mut s = Sentinel::new(7, 26379);
        let d = format!("down-after-milliseconds m {down_after}");
        for l in ["monitor m 127.0.0.1 6379 2", &d] {
            let args: Vec<&str> = l.split_whitespace().collect();
            s.apply_directive(Millis(0), &args).unwrap();
        }
        s.ensure_myid();
        let master = Target::Master("m".into());
        s.handle_timeout(Millis(0));
        s.link_connected(Millis(1), LinkId::cmd(master.clone()), "127.0.0.1".into());
        s.link_connected(
            Millis(1),
            LinkId::pubsub(master.clone()),
            "127.0.0.1".into(),
        );
        let info = "# Replication\r\nrole:master\r\nrun_id:abc\r\n";
        s.handle_reply(
            Millis(2),
            &LinkId::cmd(master.clone()),
            Tag::Info,
            Reply::Bulk(info.into()),
        );
        s.handle_reply(
            Millis(2),
            &LinkId::cmd(master.clone()),
            Tag::Ping,
            Reply::Simple("PONG".into()),
        );
        s.handle_timeout(Millis(3));
        while s.poll_action().is_some() {}
        (s, master)
    }
}

#[cfg(test)]
mod tests {
    use super::tests_support::{quiet_master, quiet_master_with};
    use super::*;
    use crate::reply::Reply;
    use crate::sentinel::links::{LinkId, Tag, HELLO_CHANNEL};

    #[test]
    fn a_quiet_master_is_skipped_until_a_timer_or_an_input_makes_it_due() {
        let (mut s, master) = quiet_master();
        let next = s.masters["m"].next_visit;
        // Nothing due right after the pass: the next PING is (D/10 = 100
        // ms after the PONG), so the master waits for it.
        assert!(next > Millis(3) && next <= Millis(103), "{next:?}");
        assert!(!s.visit_due(Millis(50), &s.masters["m"]));
        assert!(s.visit_due(next, &s.masters["m"]));
        // A lost link is an input about it: the next pass reconnects.
        s.link_closed(Millis(10), LinkId::cmd(master));
        assert!(s.visit_due(Millis(11), &s.masters["m"]));
    }

    #[test]
    fn an_unanswered_ping_is_indexed_as_the_exact_sdown_deadline() {
        let (mut s, master) = quiet_master();
        s.handle_timeout(Millis(200));
        let pinged = (0..)
            .map_while(|_| s.poll_action())
            .any(|a| matches!(a, crate::sentinel::Action::Send(o) if o.tag == Tag::Ping));
        assert!(pinged, "the pass at 200 ms PINGs the master");
        assert_eq!(s.next_master_deadline(Millis(201)), Some(Millis(1201)));
        s.handle_reply(
            Millis(205),
            &LinkId::cmd(master),
            Tag::Ping,
            Reply::Simple("PONG".into()),
        );
        // Answered: what remains is its next PING slot (D/10 = 100 ms
        // slots from the wall clock, here 0 at start).
        assert_eq!(s.next_master_deadline(Millis(206)), Some(Millis(300)));
    }

    #[test]
    fn a_closed_link_is_judged_from_the_last_answer_whatever_was_sent_after() {
        // PONG at 205 (D = 1 000); the link then closes at 310, in one
        // case after a PING went out at the 300 slot: SDOWN at 1 206 in
        // both, exactly (an indexed deadline, not a pass later).
        for ping_first in [false, true] {
            let (mut s, master) = quiet_master();
            let pong = Reply::Simple("PONG".into());
            s.handle_reply(Millis(205), &LinkId::cmd(master.clone()), Tag::Ping, pong);
            if ping_first {
                s.handle_timeout(Millis(300));
                let pinged = std::iter::from_fn(|| s.poll_action())
                    .any(|a| matches!(a, crate::sentinel::Action::Send(o) if o.tag == Tag::Ping));
                assert!(pinged, "the 300 ms slot PINGs the master");
            }
            s.link_closed(Millis(310), LinkId::cmd(master.clone()));
            s.link_closed(Millis(310), LinkId::pubsub(master.clone()));
            assert_eq!(s.next_master_deadline(Millis(311)), Some(Millis(1206)));
            s.handle_timeout(Millis(1205));
            assert!(!s.masters["m"].common.s_down, "ping_first={ping_first}");
            s.handle_timeout(Millis(1206));
            assert!(s.masters["m"].common.s_down, "ping_first={ping_first}");
        }
    }

    #[test]
    fn pings_go_out_on_slots_of_the_wall_clock_whatever_the_last_pong() {
        // Two sentinels started 37 ms apart on one wall clock, with PONGs
        // 12 ms apart (205 and 180 ms after their own starts): both next
        // PING at the same wall-clock moment, the next 100 ms slot.
        let wall_start = [1_700_000_000_000u64, 1_700_000_000_037];
        let pong_at = [Millis(205), Millis(180)];
        let mut due_wall = Vec::new();
        for (start, pong) in wall_start.into_iter().zip(pong_at) {
            let (mut s, master) = quiet_master();
            s.set_clock_origin(start);
            s.handle_reply(
                pong,
                &LinkId::cmd(master.clone()),
                Tag::Ping,
                Reply::Simple("PONG".into()),
            );
            let c = &s.masters["m"].common;
            due_wall.push(start + s.ping_due_at(c).0);
        }
        assert_eq!(due_wall, vec![1_700_000_000_300, 1_700_000_000_300]);
    }

    #[test]
    fn with_every_master_quiet_the_next_pass_waits_for_the_first_due_timer() {
        let (mut s, _) = quiet_master();
        let next = s.masters["m"].next_visit;
        // Later than the 50 ms period, and exactly when the master is due.
        assert_eq!(s.poll_timeout(Millis(4)), next);
        assert!(next > Millis(53), "{next:?}");
    }

    #[test]
    fn a_pass_later_than_the_period_by_plan_is_no_stall_but_lateness_is() {
        // D = 30 s: PINGs every second, so a quiet master's passes are
        // about a second apart by plan.
        let (mut s, _) = quiet_master_with(30_000);
        let tilt = |s: &mut Sentinel| {
            std::iter::from_fn(|| s.poll_action())
                .any(|a| matches!(a, crate::sentinel::Action::Event(ref e) if e.kind == "+tilt"))
        };
        let planned = s.poll_timeout(Millis(4));
        assert!(planned >= Millis(900), "{planned:?}");
        // 1.5 s late: 2.5 s after the last pass, yet no stall of 2 s.
        s.handle_timeout(planned + Millis(1_500));
        assert!(!tilt(&mut s));
        let planned = s.poll_timeout(planned + Millis(1_500));
        s.handle_timeout(planned + Millis(2_100));
        assert!(tilt(&mut s));
    }

    #[test]
    fn an_idle_master_gets_its_info_and_hellos_with_a_ping_once_a_slot() {
        // D = 30 s: a PING slot every second. Every command is answered
        // 1 ms after it is sent.
        let (mut s, master) = quiet_master_with(30_000);
        let mut now = Millis(3);
        let mut sent: Vec<(Millis, Tag)> = Vec::new();
        let mut passes = 0;
        let mut times = Vec::new();
        while now < Millis(40_003) {
            now = s.poll_timeout(now);
            s.handle_timeout(now);
            passes += 1;
            times.push(now);
            let out: Vec<_> = std::iter::from_fn(|| s.poll_action()).collect();
            now = now + Millis(1);
            for a in out {
                let crate::sentinel::Action::Send(o) = a else {
                    continue;
                };
                sent.push((now - Millis(1), o.tag.clone()));
                if let Tag::Hello(_) = o.tag {
                    // The master delivers our own hello to our subscription.
                    let msg = ["message", HELLO_CHANNEL].map(Reply::bulk);
                    let mut msg = msg.to_vec();
                    msg.push(Reply::Bulk(o.args[2].clone()));
                    let pubsub = LinkId::pubsub(master.clone());
                    s.handle_reply(now, &pubsub, Tag::Ignore, Reply::Array(msg));
                }
                let reply = match o.tag {
                    Tag::Ping => Reply::Simple("PONG".into()),
                    Tag::Info => {
                        Reply::Bulk("# Replication\r\nrole:master\r\nrun_id:abc\r\n".into())
                    }
                    _ => Reply::Int(1),
                };
                s.handle_reply(now, &LinkId::cmd(master.clone()), o.tag, reply);
            }
        }
        let count = |f: fn(&Tag) -> bool| sent.iter().filter(|(_, t)| f(t)).count();
        let pings = count(|t| *t == Tag::Ping);
        let infos = count(|t| *t == Tag::Info);
        let hellos = count(|t| matches!(t, Tag::Hello(_)));
        // The rates of Redis: a PING a second, INFO every 10 s, a hello
        // every 2 s.
        assert!((39..=41).contains(&pings), "{pings} PINGs: {sent:?}");
        assert!((4..=5).contains(&infos), "{infos} INFOs: {sent:?}");
        assert!((19..=21).contains(&hellos), "{hellos} hellos: {sent:?}");
        // Each goes out in the pass of a PING; passes are the slots' and at
        // most one more a slot (planned half a slot after a PING, for the
        // case it goes unanswered), not one every 50 ms.
        let ping_at: Vec<Millis> = sent
            .iter()
            .filter(|(_, t)| *t == Tag::Ping)
            .map(|(at, _)| *at)
            .collect();
        assert!(sent.iter().all(|(at, _)| ping_at.contains(at)), "{sent:?}");
        assert!(passes <= 85, "{passes} passes: {times:?}");
    }
}
