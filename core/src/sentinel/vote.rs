//! `SENTINEL is-master-down-by-addr`: answering peers about a master's state
//! and granting votes for a failover leader.

use super::actions::CommandOutput;
use super::failover::FailoverState;
use super::links::Target;
use super::{Level, Sentinel};
use crate::election::VoteOutcome;
use crate::ids::{Epoch, RunId};
use crate::reply::Reply;
use crate::time::Millis;

impl Sentinel {
    /// `port` and `req_epoch` were read strictly by `commands::parse`.
    pub(crate) fn is_master_down_cmd(
        &mut self,
        now: Millis,
        host: &str,
        port: i64,
        req_epoch: i64,
        runid: &str,
    ) -> CommandOutput {
        let name = u16::try_from(port)
            .ok()
            .and_then(|port| self.master_by_addr(host, port))
            .map(|m| m.name.clone());
        let mut isdown = 0;
        let mut leader: Option<RunId> = None;
        let mut leader_epoch = Epoch(0);
        if let Some(name) = name {
            if !self.tilt && self.masters[&name].common.s_down {
                isdown = 1;
            }
            if runid != "*" {
                let before = self.settings.current_epoch.current();
                let req_epoch = Epoch(req_epoch.max(0) as u64);
                let (l, e) = self.vote_leader(now, &name, req_epoch, runid);
                leader = l;
                leader_epoch = e;
                if req_epoch < before {
                    self.stale_vote_request(now, &name, runid);
                }
            }
        }
        CommandOutput::reply(Reply::Array(vec![
            Reply::Int(isdown),
            Reply::bulk(leader.as_deref().unwrap_or("*")),
            Reply::Int(leader_epoch.0 as i64),
        ]))
    }

    /// A peer asked for our vote in an epoch older than our current one, so
    /// it was refused: when many masters fail at once, the other
    /// failovers moved our epoch on. The peer is campaigning for this
    /// master right now, so we hold back our own attempt as if we had
    /// voted for it (two candidates would split the votes or both win in
    /// turn), and send it a hello at once: it carries our current epoch,
    /// which the peer adopts and asks again in (a redis-sentinel peer
    /// adopts it too, then re-asks within its ask period).
    fn stale_vote_request(&mut self, now: Millis, name: &str, runid: &str) {
        if runid.eq_ignore_ascii_case(self.myid()) {
            return;
        }
        let jitter = self.prng.below(1000);
        let Some(m) = self.masters.known_mut(name) else {
            return;
        };
        if !m.failover_in_progress() {
            m.failover_start_time = Some(now + Millis(jitter));
        }
        let peer = Target::Sentinel(RunId::from(runid));
        if m.sentinels
            .get(runid)
            .is_some_and(|s| s.common.link.cc_connected)
        {
            self.send_hello(name, &peer);
        }
    }

    /// Grants `runid` our vote for master `name` in `req_epoch` if we have
    /// not voted in that epoch yet (first request wins), adopting a newer
    /// epoch first. Returns our current vote. The vote is flushed to disk
    /// before the caller replies.
    pub(crate) fn vote_leader(
        &mut self,
        now: Millis,
        name: &str,
        req_epoch: Epoch,
        runid: &str,
    ) -> (Option<RunId>, Epoch) {
        let myid = self.myid().to_string();
        let ask_period = self.timing.ask_period;
        let Some(m) = self.masters.known_mut(name) else {
            return (None, Epoch(0));
        };
        // The shared election pieces decide: this master's vote record and
        // the sentinel's one epoch clock, both persisted. A vote whose run
        // id was forgotten (restart, reset) still blocks a second vote in
        // its epoch.
        // The elected leader of this master's failover votes for no rival
        // (it still adopts the epoch): a rival that started a moment later
        // would otherwise win a later epoch and a second leader would
        // promote too. Once the failover ends or aborts it votes again.
        // Likewise, for an ask period after voting for a candidate, no vote
        // goes to another one (a candidate that started a moment later,
        // before our vote request reached it): the first has its votes
        // and is about to lead. Refusing a vote is always safe; after the
        // period Redis's rule applies again.
        let rival = !runid.eq_ignore_ascii_case(&myid);
        let sticky = m
            .voted_other_at
            .is_some_and(|t| now.since(t).0 < ask_period)
            && m.vote.last().is_some_and(|v| {
                v.candidate.as_ref().is_some_and(|c| {
                    !c.as_str().eq_ignore_ascii_case(runid)
                        && !c.as_str().eq_ignore_ascii_case(&myid)
                })
            });
        let leading = rival && (m.failover > FailoverState::WaitStart || sticky);
        let clock = &mut self.settings.current_epoch;
        let VoteOutcome {
            granted,
            epoch_adopted,
        } = if leading {
            VoteOutcome {
                granted: false,
                epoch_adopted: clock.observe(req_epoch),
            }
        } else {
            m.vote.request(clock, req_epoch, Some(RunId::from(runid)))
        };
        let current = self.settings.current_epoch.current();
        let warn = Level::Warning;
        if epoch_adopted {
            self.out.persist();
            self.out
                .master_event_plain(m, warn, "+new-epoch", current.to_string());
        }
        if granted {
            let jitter = self.prng.below(1000);
            if rival {
                // Having voted for someone else, hold back our own attempt.
                m.failover_start_time = Some(now + Millis(jitter));
                m.voted_other_at = Some(now);
            }
            self.out.persist();
            let msg = format!("{runid} {current}");
            self.out
                .master_event_plain(m, warn, "+vote-for-leader", msg);
        }
        match m.vote.last() {
            Some(v) => (v.candidate.clone(), v.epoch),
            None => (None, Epoch(0)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sentinel::commands::not_an_integer;

    fn sentinel(lines: &[&str]) -> Sentinel {
        let mut s = Sentinel::new(1, 26379);
        for l in lines {
            let args: Vec<String> = l.split(' ').map(String::from).collect();
            s.apply_directive(Millis(0), &args).unwrap();
        }
        s
    }

    fn ask(s: &mut Sentinel, epoch: &str, runid: &str) -> Reply {
        let args: Vec<Vec<u8>> = ["is-master-down-by-addr", "127.0.0.1", "6379", epoch, runid]
            .iter()
            .map(|a| a.as_bytes().to_vec())
            .collect();
        s.command(Millis(10), &args).reply
    }

    fn vote_of(r: &Reply) -> (String, i64) {
        match r {
            Reply::Array(items) => match (&items[1], &items[2]) {
                (Reply::Bulk(l), Reply::Int(e)) => (String::from_utf8_lossy(l).into_owned(), *e),
                other => panic!("unexpected {other:?}"),
            },
            other => panic!("unexpected {other:?}"),
        }
    }

    #[test]
    fn a_persisted_vote_blocks_a_second_vote_in_its_epoch_after_a_restart() {
        // What a restart reads back: only the epoch of the vote.
        let mut s = sentinel(&[
            "monitor m 127.0.0.1 6379 2",
            "current-epoch 5",
            "leader-epoch m 5",
        ]);
        let (leader, epoch) = vote_of(&ask(&mut s, "5", "bbbb"));
        assert_ne!(leader, "bbbb", "no second vote in epoch 5");
        assert_eq!(epoch, 5);
        assert_eq!(vote_of(&ask(&mut s, "6", "bbbb")), ("bbbb".into(), 6));
    }

    #[test]
    fn no_vote_is_ever_granted_in_epoch_zero() {
        let mut s = sentinel(&["monitor m 127.0.0.1 6379 2"]);
        assert_eq!(vote_of(&ask(&mut s, "0", "aaaa")), ("*".into(), 0));
        assert!(s.masters["m"].vote.last().is_none());
        // So the persisted `leader-epoch m 0` truthfully means "no vote".
        assert!(s
            .config_lines()
            .iter()
            .any(|l| l.joined() == b"sentinel leader-epoch m 0"));
    }

    #[test]
    fn epochs_are_read_as_strictly_as_redis_does_and_a_vote_waits_for_its_write() {
        let mut s = sentinel(&["monitor m 127.0.0.1 6379 2"]);
        for bad in ["+5", "05", " 5", "5 ", "-0", "99999999999999999999"] {
            assert_eq!(ask(&mut s, bad, "aaaa"), not_an_integer(), "{bad:?}");
        }
        assert!(s.masters["m"].vote.last().is_none());
        let args: Vec<Vec<u8>> = ["is-master-down-by-addr", "127.0.0.1", "6379", "5", "aaaa"]
            .iter()
            .map(|a| a.as_bytes().to_vec())
            .collect();
        let out = s.command(Millis(10), &args);
        assert_eq!(vote_of(&out.reply), ("aaaa".into(), 5));
        assert!(out.after_write(), "a vote is answered once written");
    }
}
