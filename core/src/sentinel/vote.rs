//! `SENTINEL is-master-down-by-addr`: answering peers about a master's state
//! and granting votes for a failover leader.

use super::actions::CommandOutput;
use super::commands::not_an_integer;
use super::{Action, Level, Sentinel};
use crate::election::VoteKeeper;
use crate::ids::Epoch;
use crate::reply::Reply;
use crate::time::Millis;

impl Sentinel {
    pub(crate) fn is_master_down_cmd(&mut self, now: Millis, args: &[Vec<u8>]) -> CommandOutput {
        let text =
            |i: usize| String::from_utf8_lossy(args.get(i).map_or(&[][..], |a| a)).into_owned();
        let Ok(port) = text(2).parse::<i64>() else {
            return CommandOutput::reply(not_an_integer());
        };
        let Ok(req_epoch) = text(3).parse::<i64>() else {
            return CommandOutput::reply(not_an_integer());
        };
        let host = text(1);
        let runid = text(4);
        let name = u16::try_from(port)
            .ok()
            .and_then(|port| self.master_by_addr(&host, port))
            .map(|m| m.name.clone());
        let mut isdown = 0;
        let mut leader: Option<String> = None;
        let mut leader_epoch = 0;
        if let Some(name) = name {
            if !self.tilt && self.masters[&name].common.s_down {
                isdown = 1;
            }
            if runid != "*" {
                let (l, e) = self.vote_leader(now, &name, req_epoch.max(0) as u64, &runid);
                leader = l;
                leader_epoch = e;
            }
        }
        CommandOutput::reply(Reply::Array(vec![
            Reply::Int(isdown),
            Reply::bulk(leader.as_deref().unwrap_or("*")),
            Reply::Int(leader_epoch as i64),
        ]))
    }

    /// Grants `runid` our vote for master `name` in `req_epoch` if we have
    /// not voted in that epoch yet (first request wins), adopting a newer
    /// epoch first. Returns our current vote. The vote is flushed to disk
    /// before the caller replies.
    pub(crate) fn vote_leader(
        &mut self,
        now: Millis,
        name: &str,
        req_epoch: u64,
        runid: &str,
    ) -> (Option<String>, u64) {
        let Some(m) = self.masters.get(name) else {
            return (None, 0);
        };
        // The shared keeper decides; this master's vote and the global epoch
        // are its persisted state.
        // The persisted `leader-epoch` alone says we already voted in that
        // epoch: the run id we voted for is not persisted (nor kept across a
        // reset), but the vote must not be granted twice.
        let previous = (m.leader_epoch > 0 || m.leader.is_some())
            .then(|| (Epoch(m.leader_epoch), m.leader.clone().unwrap_or_default()));
        let mut keeper = VoteKeeper::restore(Epoch(self.settings.current_epoch), previous);
        let outcome = keeper.request(Epoch(req_epoch), runid.to_string());
        if outcome.epoch_adopted {
            self.settings.current_epoch = keeper.current_epoch().0;
            self.push(Action::FlushConfig);
            let epoch = self.settings.current_epoch;
            self.master_event_plain(name, Level::Warning, "+new-epoch", epoch.to_string());
        }
        if outcome.granted {
            let current = self.settings.current_epoch;
            let myid = self.myid().to_string();
            let jitter = self.prng.below(1000);
            if let Some(m) = self.masters.get_mut(name) {
                m.leader = Some(runid.to_string());
                m.leader_epoch = current;
                if !runid.eq_ignore_ascii_case(&myid) {
                    // Having voted for someone else, hold back our own attempt.
                    m.failover_start_time = Some(now + Millis(jitter));
                }
            }
            self.push(Action::FlushConfig);
            self.master_event_plain(
                name,
                Level::Warning,
                "+vote-for-leader",
                format!("{runid} {current}"),
            );
        }
        let m = &self.masters[name];
        (m.leader.clone(), m.leader_epoch)
    }
}
