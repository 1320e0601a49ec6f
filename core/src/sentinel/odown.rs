//! Objective down: asking the other sentinels whether they also see the
//! master down (`is-master-down-by-addr`), and counting fresh answers
//! against the quorum.

use super::links::{Asked, LinkId, Tag, Target};
use super::{Level, Sentinel};
use crate::ids::{Epoch, RunId};
use crate::reply::Reply;
use crate::time::Millis;

/// While a master is SDOWN but not yet ODOWN, peers are re-asked this often
/// (Redis waits a whole ask period): each answer may complete the quorum.
const FAST_ASK: u64 = 100;

impl Sentinel {
    pub(crate) fn check_odown(&mut self, now: Millis, name: &str) {
        let hostnames = self.settings.announce_hostnames;
        let Some(m) = self.masters.known_mut(name) else {
            return;
        };
        let votes = if m.common.s_down {
            1 + m.sentinels.values().filter(|s| s.master_down).count()
        } else {
            0
        };
        let odown = m.common.s_down && m.odown_rule().is_reached(votes);
        if odown && !m.common.o_down {
            m.common.o_down = true;
            m.common.o_down_since = now;
            let rest = format!("#quorum {votes}/{}", m.quorum);
            self.out
                .master_event(m, hostnames, Level::Warning, "+odown", &rest);
        } else if !odown && m.common.o_down {
            m.common.o_down = false;
            self.out
                .master_event(m, hostnames, Level::Warning, "-odown", "");
        }
    }

    /// Asks every connected peer about master `name` while we see it down.
    /// `force` skips the once-per-ask-period limit (a vote request).
    pub(crate) fn ask_master_state(&mut self, now: Millis, name: &str, force: bool) {
        let ask_period = self.timing.ask_period;
        let Some(m) = self.masters.known_mut(name) else {
            return;
        };
        // A coordinated failover asks for votes about a master that is up.
        let s_down = m.common.s_down || (m.coordinated && m.failover_in_progress());
        let o_down = m.common.o_down;
        let mut ask = Vec::new();
        for (runid, s) in m.sentinels.iter_mut() {
            let elapsed = now.since(s.last_master_down_reply_time).0;
            // Old answers no longer count, neither as "down" nor as a vote.
            if elapsed > ask_period * 5 {
                s.master_down = false;
                s.leader = None;
            }
            if !s_down || !s.common.link.cc_connected {
                continue;
            }
            let period = if o_down { ask_period } else { FAST_ASK };
            if !force && elapsed < period {
                continue;
            }
            ask.push(runid.clone());
        }
        // Runs on every timer pass for every master: nothing below is built
        // unless someone is to be asked.
        if ask.is_empty() {
            return;
        }
        let current_epoch = self.settings.current_epoch.current();
        let Some(m) = self.masters.known(name) else {
            return;
        };
        let (voter, vote_epoch) = if m.failover_in_progress() {
            (self.myid().to_string(), Some(current_epoch))
        } else {
            ("*".to_string(), None)
        };
        let addr = m
            .common
            .addr
            .announced(self.settings.announce_hostnames)
            .to_string();
        let port = m.common.addr.port;
        let asked = Asked {
            addr: m.common.addr.key(),
            config_epoch: m.config_epoch,
            vote_epoch,
        };
        for runid in ask {
            self.send(
                LinkId::cmd(Target::Sentinel(runid)),
                Tag::AskMasterState(name.into(), Box::new(asked.clone())),
                vec![
                    b"SENTINEL".to_vec(),
                    b"is-master-down-by-addr".to_vec(),
                    addr.clone().into_bytes(),
                    port.to_string().into_bytes(),
                    current_epoch.to_string().into_bytes(),
                    voter.clone().into_bytes(),
                ],
            );
        }
    }

    /// A peer asked us about master `host:port` without asking for a vote
    /// (`is-master-down-by-addr <host> <port> <epoch> *`). Sentinels ask
    /// only about a master they see SDOWN (redis-sentinel and we alike), so
    /// the question is that peer's "down" answer, arriving the moment it
    /// sees the master down rather than when we next ask it (an ask period
    /// later, or `FAST_ASK`): the quorum completes as soon as its last
    /// member sees the failure. `asker` is the run id prefix of the peer's
    /// link, from its client name `sentinel-<8 chars of run id>-cmd`; a
    /// prefix matching no peer, or more than one, is ignored, and so is a
    /// question about an address that is not one of our masters.
    pub fn handle_peer_question(&mut self, now: Millis, asker: &str, host: &str, port: u16) {
        if asker.len() < 8 {
            return;
        }
        let Some(name) = self.master_by_addr(host, port).map(|m| m.name.clone()) else {
            return;
        };
        let Some(m) = self.masters.known_mut(&name) else {
            return;
        };
        let prefix_of = |id: &RunId| {
            id.as_str()
                .get(..asker.len())
                .is_some_and(|p| p.eq_ignore_ascii_case(asker))
        };
        let mut peers = m.sentinels.iter_mut().filter(|(id, _)| prefix_of(id));
        let (Some((_, s)), None) = (peers.next(), peers.next()) else {
            return;
        };
        s.master_down = true;
        s.last_master_down_reply_time = now;
        self.touch_master(&name);
        self.react(now, &name);
    }

    pub(crate) fn handle_ask_reply(
        &mut self,
        now: Millis,
        from: &Target,
        master: &str,
        asked: &Asked,
        reply: &Reply,
    ) {
        let Target::Sentinel(runid) = from else {
            return;
        };
        // Never count a stale answer: the master was switched (another
        // address, a newer config epoch) since the question was sent, so
        // "down" and the vote are about an instance that is not our master
        // any more.
        let current = self
            .masters
            .get(master)
            .map(|m| (m.common.addr.key(), m.config_epoch));
        if current != Some((asked.addr.clone(), asked.config_epoch)) {
            return;
        }
        let Reply::Array(items) = reply else {
            return;
        };
        let [Reply::Int(down), leader, Reply::Int(epoch)] = items.as_slice() else {
            return;
        };
        let Some(leader) = leader.as_str() else {
            return;
        };
        let Some(m) = self.masters.get_mut(master) else {
            return;
        };
        if asked.vote_epoch.is_some_and(|e| e == m.failover_epoch) {
            m.election_answers.insert(runid.clone());
        }
        let Some(s) = m.sentinels.get_mut(runid) else {
            return;
        };
        s.last_master_down_reply_time = now;
        s.master_down = *down == 1;
        if leader != "*" {
            s.leader = Some(RunId::from(leader));
            s.leader_epoch = Epoch((*epoch).max(0) as u64);
        }
        self.react(now, master);
    }
}

/// `is-master-down-by-addr <host> <port> <epoch> *` (the arguments after
/// `SENTINEL`): a peer asking about a master it sees down, not for a vote.
/// (host, port), for [`Sentinel::handle_peer_question`]; `None` for any
/// other command, a vote request, or a malformed question.
pub fn down_question(sentinel_args: &[Vec<u8>]) -> Option<(&str, u16)> {
    let [sub, host, port, _, runid] = sentinel_args else {
        return None;
    };
    let is_question = sub.eq_ignore_ascii_case(b"is-master-down-by-addr")
        || sub.eq_ignore_ascii_case(b"is-primary-down-by-addr");
    if !is_question || runid.as_slice() != b"*" {
        return None;
    }
    let port = u16::try_from(crate::string2ll::string2ll(port)?).ok()?;
    Some((std::str::from_utf8(host).ok()?, port))
}
