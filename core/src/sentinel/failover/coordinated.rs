//! `SENTINEL FAILOVER <name> COORDINATED` (valkey 9's semantics): instead of
//! promoting a replica behind the running master's back (`SLAVEOF NO ONE`),
//! the elected leader asks the master itself to hand over with
//! `FAILOVER TO <host> <port> TIMEOUT <ms>` (Redis ≥ 6.2). The master pauses
//! writes, waits until the chosen replica has every acknowledged write, and
//! only then swaps roles: nothing acknowledged is lost. The leader asks
//! the replica to acknowledge at once (`REPLCONF GETACK`) so the master's
//! wait is a round trip, not the replica's one-second cron. The rest (INFO
//! showing the promotion, replica reconfiguration, config epoch,
//! `+switch-master`) is the usual failover.

use crate::reply::Reply;
use crate::sentinel::commands::FailoverOption;
use crate::sentinel::failover::FailoverState;
use crate::sentinel::links::{LinkId, Tag, Target};
use crate::sentinel::{Action, Level, Sentinel};
use crate::time::Millis;

/// valkey's answer when the master's INFO has no `master_failover_state`
/// (a server without the `FAILOVER` command).
pub const NO_FAILOVER_COMMAND: &str = "NOGOODPRIMARY Primary does not support FAILOVER command";
/// The master must be running to coordinate anything: say so rather than
/// quietly doing a plain failover.
pub const PRIMARY_UNREACHABLE: &str =
    "NOGOODPRIMARY Primary is not reachable, a coordinated failover needs it running";
pub const UNKNOWN_OPTION: &str = "Unknown failover option specified";

/// The `FAILOVER` command must have at least this much of the failover
/// timeout left, or the failover is aborted (as valkey does).
const MIN_FAILOVER_TIMEOUT: u64 = 1000;

impl Sentinel {
    /// Why a coordinated failover of `name` cannot start, if it cannot.
    pub(crate) fn coordinated_refusal(&self, name: &str) -> Option<Reply> {
        let m = self.masters.known(name)?;
        let c = &m.common;
        // Either link down (what SENTINEL MASTER shows as `disconnected`)
        // means the master is not known to be running right now.
        if c.disconnected(true) || c.s_down || c.info_text.is_none() {
            return Some(Reply::Error(PRIMARY_UNREACHABLE.into()));
        }
        let supports = c
            .info_text
            .as_deref()
            .is_some_and(|t| t.lines().any(|l| l.starts_with("master_failover_state:")));
        if !supports {
            return Some(Reply::Error(NO_FAILOVER_COMMAND.into()));
        }
        None
    }

    /// Marks the just started failover as coordinated and asks the peers
    /// for their votes at once: unlike a plain `SENTINEL FAILOVER`, the
    /// leader is elected.
    pub(crate) fn begin_coordinated(&mut self, now: Millis, name: &str) {
        if let Some(m) = self.masters.known_mut(name) {
            m.coordinated = true;
        }
        self.ask_master_state(now, name, true);
    }

    /// `send_slaveof_noone` of a coordinated failover: the transaction
    /// `MULTI`, `CLIENT PAUSE <ms> WRITE`, `FAILOVER TO <host> <port>
    /// TIMEOUT <ms>`, `EXEC` to the master. The pause outlives the handover
    /// so clients stay blocked until they are disconnected (and ask the
    /// sentinels again) instead of writing to a fresh replica.
    pub(crate) fn send_failover_to(&mut self, now: Millis, name: &str) {
        let Some(m) = self.masters.known(name) else {
            return;
        };
        let passed = now.since(m.failover_state_change_time).0;
        let left = m.failover_timeout.saturating_sub(passed);
        if left < MIN_FAILOVER_TIMEOUT {
            self.abort_failover_with(now, name, "-failover-abort-master-timeout");
            return;
        }
        if !m.common.link.cc_connected {
            // Retried on every tick until the time above runs out.
            return;
        }
        let Some(key) = m.promoted.clone() else {
            return;
        };
        let Some(to) = m.replicas.get(&key).map(|r| r.common.addr.clone()) else {
            return;
        };
        let host = self.announced(&to).as_bytes().to_vec();
        let port = to.port.to_string().into_bytes();
        let ms = left.to_string().into_bytes();
        let link = LinkId::cmd(Target::Master(name.to_string()));
        let cmds: [Vec<Vec<u8>>; 4] = [
            vec![b"MULTI".to_vec()],
            vec![
                b"CLIENT".to_vec(),
                b"PAUSE".to_vec(),
                ms.clone(),
                b"WRITE".to_vec(),
            ],
            vec![
                b"FAILOVER".to_vec(),
                b"TO".to_vec(),
                host,
                port,
                b"TIMEOUT".to_vec(),
                ms,
            ],
            vec![b"EXEC".to_vec()],
        ];
        let last = cmds.len() - 1;
        for (i, cmd) in cmds.into_iter().enumerate() {
            let tag = if i == last {
                Tag::FailoverTo(name.into())
            } else {
                Tag::Ignore
            };
            self.send(link.clone(), tag, cmd);
        }
        let target = Target::Replica {
            master: name.to_string(),
            key,
        };
        self.enter_wait_promotion(now, name, target);
    }

    /// The master took `FAILOVER TO`: it now waits for the chosen replica to
    /// acknowledge its last offset, which a Redis 7.0 replica only does on its
    /// once-a-second cron (the master sends no `GETACK` while writes are
    /// paused). Ask the replica for that acknowledgement now.
    ///
    /// If the master refused, the pause taken in the same transaction is
    /// lifted at once. The passing refusals — the target is not yet an
    /// online replica in the master's eyes, as right after its initial
    /// sync — are retried on the next pass for as long as the failover
    /// timeout allows; any other (ACL, a renamed command…) would only repeat,
    /// so the failover is left to time out.
    pub(crate) fn handle_failover_to_reply(&mut self, name: &str, reply: &Reply) {
        let refusal = match reply {
            Reply::Error(e) => Some(e.clone()),
            Reply::Array(items) => items.iter().find_map(|r| match r {
                Reply::Error(e) => Some(e.clone()),
                _ => None,
            }),
            _ => None,
        };
        let Some(refusal) = refusal else {
            self.nudge_replica_ack(name);
            return;
        };
        let Some(m) = self.masters.get_mut(name) else {
            return;
        };
        if !m.coordinated || m.failover != FailoverState::WaitPromotion {
            return;
        }
        // Redis 7.0's refusals about the target's state: not (yet) listed as
        // a replica, listed but not online, or no replica connected.
        let passing = refusal.contains("FAILOVER target")
            || refusal.contains("FAILOVER requires connected replicas");
        if passing {
            // Back one step; the time in that step keeps counting from the
            // first attempt, so the retries end with the failover timeout.
            m.failover = FailoverState::SendSlaveofNoone;
        }
        let next = if passing {
            "asking again"
        } else {
            "waiting for the failover timeout"
        };
        self.out.push(Action::Log {
            level: Level::Warning,
            text: format!("FAILOVER TO refused by master {name} ({refusal}), {next}"),
        });
        let link = LinkId::cmd(Target::Master(name.to_string()));
        self.send(
            link,
            Tag::Ignore,
            vec![b"CLIENT".to_vec(), b"UNPAUSE".to_vec()],
        );
    }

    /// `REPLCONF GETACK *` to the replica a coordinated failover promotes:
    /// any client may send it, and the replica answers by sending
    /// `REPLCONF ACK <offset>` to its master at once, not to us. Until the
    /// replica has every write that offset falls short, so this is repeated
    /// on each promotion poll (see `wait_promotion`).
    pub(crate) fn nudge_replica_ack(&mut self, name: &str) {
        let Some(m) = self.masters.known(name) else {
            return;
        };
        if !m.coordinated || m.failover != FailoverState::WaitPromotion {
            return;
        }
        let Some(key) = m.promoted.clone() else {
            return;
        };
        let target = Target::Replica {
            master: name.to_string(),
            key,
        };
        let args = vec![b"REPLCONF".to_vec(), b"GETACK".to_vec(), b"*".to_vec()];
        self.send(LinkId::cmd(target), Tag::NoReply, args);
    }

    /// The promoted replica reports `role:master`: the old master (now its
    /// replica) gets `MULTI`, `CONFIG REWRITE`, `CLIENT KILL TYPE normal`,
    /// `CLIENT KILL TYPE pubsub`, `CLIENT UNPAUSE`, `EXEC`, so that its
    /// clients reconnect through the sentinels and nothing stays paused.
    pub(crate) fn release_old_master(&mut self, name: &str) {
        let link = LinkId::cmd(Target::Master(name.to_string()));
        let connected = self
            .masters
            .get(name)
            .is_some_and(|m| m.coordinated && m.common.link.cc_connected);
        if !connected {
            return;
        }
        let kill = |kind: &[u8]| {
            vec![
                b"CLIENT".to_vec(),
                b"KILL".to_vec(),
                b"TYPE".to_vec(),
                kind.to_vec(),
            ]
        };
        let cmds: [Vec<Vec<u8>>; 6] = [
            vec![b"MULTI".to_vec()],
            vec![b"CONFIG".to_vec(), b"REWRITE".to_vec()],
            kill(b"normal"),
            kill(b"pubsub"),
            vec![b"CLIENT".to_vec(), b"UNPAUSE".to_vec()],
            vec![b"EXEC".to_vec()],
        ];
        for cmd in cmds {
            self.send(link.clone(), Tag::Ignore, cmd);
        }
    }

    /// No hello may go to a master whose writes a coordinated failover has
    /// paused: the `PUBLISH` would block the command link, and the release
    /// above behind it.
    pub(crate) fn hello_blocked(&self, master: &str, target: &Target) -> bool {
        matches!(target, Target::Master(_))
            && self
                .masters
                .get(master)
                .is_some_and(|m| m.coordinated && m.failover_in_progress())
    }

    /// `SENTINEL FAILOVER <name> [COORDINATED]`: whether the option asks for
    /// a coordinated failover, or why it cannot be honoured — checked as
    /// valkey checks it (before INPROG / NOGOODSLAVE).
    pub(crate) fn failover_option(
        &self,
        name: &str,
        option: FailoverOption,
    ) -> Result<bool, Reply> {
        match option {
            FailoverOption::Plain => Ok(false),
            FailoverOption::Coordinated => match self.coordinated_refusal(name) {
                Some(r) => Err(r),
                None => Ok(true),
            },
            FailoverOption::Unknown => Err(Reply::err(UNKNOWN_OPTION)),
        }
    }
}
