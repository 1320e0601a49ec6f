//! Everything the core has decided and not yet handed to the shell: the
//! action queue, the owed config snapshot and the script queue.
//!
//! It is a field of its own (`Sentinel::out`), apart from the state, so a
//! handler can hold `&mut Master` while it queues events and actions about
//! it — no second lookup by name, no silent "master gone" branch — and a
//! test can drain the complete output of one step.

use std::collections::VecDeque;

use super::addr::Addr;
use super::links::Target;
use super::scripts::ScriptQueue;
use super::{Action, Event, Level, Master, Subject};

/// Room the action queue keeps once drained (actions, ~100 bytes each).
const KEPT_CAPACITY: usize = 256;

#[derive(Default)]
pub(crate) struct Output {
    actions: VecDeque<Action>,
    /// A config snapshot is owed to the shell ([`Action::Persist`], taken
    /// when drained so that it is the latest state).
    persist_pending: bool,
    /// The shell has a write in flight: an owed snapshot waits for it
    /// (see `Sentinel::defer_persist`).
    pub(crate) persist_deferred: bool,
    /// How many persists were asked for, so `command` can tell whether
    /// its reply must wait for a write.
    persist_requests: u64,
    /// Scripts waiting, running or to be retried (policy in `scripts.rs`).
    pub(crate) scripts: ScriptQueue,
}

impl Output {
    pub(crate) fn push(&mut self, action: Action) {
        self.actions.push_back(action);
    }

    pub(crate) fn pop(&mut self) -> Option<Action> {
        let action = self.actions.pop_front();
        if action.is_none() && self.actions.capacity() > KEPT_CAPACITY {
            // A pass that sends every master its hello at once queues
            // thousands of actions at 1 000 masters: the queue grew to
            // 1.3 MiB and kept it. Between bursts it holds a few.
            self.actions.shrink_to(KEPT_CAPACITY);
        }
        action
    }

    /// State that must survive a crash changed: owe the shell a snapshot.
    pub(crate) fn persist(&mut self) {
        self.persist_pending = true;
        self.persist_requests += 1;
    }

    /// Whether a snapshot is owed.
    pub(crate) fn persist_owed(&self) -> bool {
        self.persist_pending
    }

    /// Takes the owed snapshot, if any (the caller builds it).
    pub(crate) fn take_persist(&mut self) -> bool {
        std::mem::take(&mut self.persist_pending)
    }

    /// How many persists were asked for so far.
    pub(crate) fn persist_requests(&self) -> u64 {
        self.persist_requests
    }

    /// How much output has been queued so far: a step that leaves this
    /// unchanged queued no action and asked for no write.
    pub(crate) fn queued(&self) -> (usize, u64) {
        (self.actions.len(), self.persist_requests)
    }

    /// An event about nothing in particular (`+tilt`): no script.
    pub(crate) fn event(&mut self, level: Level, kind: &str, msg: String) {
        self.push(Action::Event(Event {
            level,
            kind: kind.to_string(),
            msg,
            master: None,
        }));
    }

    /// An event of master `m` whose message is given as is (no `%@`);
    /// warnings also run the master's notification script.
    pub(crate) fn master_event_plain(&mut self, m: &Master, level: Level, kind: &str, msg: String) {
        if level == Level::Warning {
            if let Some(path) = &m.notification_script {
                self.scripts
                    .queue(vec![path.clone(), kind.to_string(), msg.clone()]);
            }
        }
        self.push(Action::Event(Event {
            level,
            kind: kind.to_string(),
            msg,
            master: Some(m.name.clone()),
        }));
    }

    /// An event about master `m` itself: `%@` + `rest`.
    pub(crate) fn master_event(
        &mut self,
        m: &Master,
        hostnames: bool,
        level: Level,
        kind: &str,
        rest: &str,
    ) {
        let subject = Subject::Master {
            name: &m.name,
            addr: &m.common.addr,
        };
        let msg = describe(subject, hostnames, rest);
        self.master_event_plain(m, level, kind, msg);
    }

    /// An event about `target` as an instance of master `m`: `%@` + `rest`.
    /// A replica or peer `m` does not know has no `%@`, so no event: the
    /// callers name one they just found in `m`.
    pub(crate) fn instance_event(
        &mut self,
        m: &Master,
        target: &Target,
        hostnames: bool,
        level: Level,
        kind: &str,
        rest: &str,
    ) {
        let replica_name;
        let subject = match target {
            Target::Master(_) => Subject::Master {
                name: &m.name,
                addr: &m.common.addr,
            },
            Target::Replica { key, .. } => match m.replicas.get(key) {
                Some(r) => Subject::Replica {
                    name: {
                        replica_name = r.common.addr.announced_key(hostnames);
                        &replica_name
                    },
                    addr: &r.common.addr,
                    master: &m.name,
                    master_addr: &m.common.addr,
                },
                None => {
                    debug_assert!(false, "event {kind} about an unknown replica {key}");
                    return;
                }
            },
            Target::Sentinel(id) => match m.sentinels.get(id) {
                Some(s) => Subject::Sentinel {
                    runid: id,
                    addr: &s.common.addr,
                    master: &m.name,
                    master_addr: &m.common.addr,
                },
                None => {
                    debug_assert!(false, "event {kind} about an unknown peer {id}");
                    return;
                }
            },
        };
        let msg = describe(subject, hostnames, rest);
        self.master_event_plain(m, level, kind, msg);
    }

    /// Master `m`'s `client-reconfig-script`, if it has one, with
    /// `<master> <role> start <from-ip> <from-port> <to-ip> <to-port>`.
    pub(crate) fn reconfig_script(&mut self, m: &Master, role: &str, from: Addr, to: Addr) {
        if let Some(path) = &m.client_reconfig_script {
            self.scripts.queue(vec![
                path.clone(),
                m.name.clone(),
                role.to_string(),
                "start".into(),
                from.host,
                from.port.to_string(),
                to.host,
                to.port.to_string(),
            ]);
        }
    }
}

/// `%@` of `subject`, then `rest` after a space when there is one.
fn describe(subject: Subject<'_>, hostnames: bool, rest: &str) -> String {
    let mut msg = subject.describe(hostnames);
    if !rest.is_empty() {
        msg.push(' ');
        msg.push_str(rest);
    }
    msg
}

/// The same events for handlers that hold a master's name rather than the
/// master. The master must exist: debug builds (every simulator seed and
/// end-to-end test) check it, so an event lost to a stale name is a
/// failing test rather than a quiet no-op.
impl super::Sentinel {
    fn named(&self, name: &str, kind: &str) -> Option<&Master> {
        let m = self.masters.get(name);
        debug_assert!(m.is_some(), "event {kind} about unknown master {name}");
        m
    }

    pub(crate) fn master_event_plain(&mut self, name: &str, level: Level, kind: &str, msg: String) {
        if let Some(m) = self.masters.get(name) {
            self.out.master_event_plain(m, level, kind, msg);
        } else {
            debug_assert!(false, "event {kind} about unknown master {name}");
        }
    }

    pub(crate) fn master_event(
        &mut self,
        name: &str,
        level: Level,
        kind: &str,
        rest: impl FnOnce(&Master) -> String,
    ) {
        let hostnames = self.settings.announce_hostnames;
        if self.named(name, kind).is_some() {
            let m = &self.masters[name];
            let rest = rest(m);
            self.out.master_event(m, hostnames, level, kind, &rest);
        }
    }

    pub(crate) fn instance_event(
        &mut self,
        name: &str,
        target: &Target,
        level: Level,
        kind: &str,
        rest: &str,
    ) {
        let hostnames = self.settings.announce_hostnames;
        if self.named(name, kind).is_some() {
            let m = &self.masters[name];
            self.out
                .instance_event(m, target, hostnames, level, kind, rest);
        }
    }
}
