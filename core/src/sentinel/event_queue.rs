//! Queuing events: every event goes through `master_event_plain`, which
//! decides whether the master's notification script runs; the other helpers
//! only build the message (`%@` descriptions).

use super::links::Target;
use super::{Action, Event, Level, Master, Sentinel, Subject};

impl Sentinel {
    /// An event about nothing in particular (`+tilt`): no script.
    pub(crate) fn event(&mut self, level: Level, kind: &str, msg: String) {
        self.push(Action::Event(Event {
            level,
            kind: kind.to_string(),
            msg,
            script_master: None,
        }));
    }

    /// An event of master `name` whose message is given as is (no `%@`);
    /// warnings still run the master's notification script.
    pub(crate) fn master_event_plain(&mut self, name: &str, level: Level, kind: &str, msg: String) {
        let script_master = (level == Level::Warning).then(|| name.to_string());
        if script_master.is_some() {
            self.queue_notification(name, kind, &msg);
        }
        self.push(Action::Event(Event {
            level,
            kind: kind.to_string(),
            msg,
            script_master,
        }));
    }

    /// An event about master `name` itself, the text after `%@` computed
    /// from it.
    pub(crate) fn master_event(
        &mut self,
        name: &str,
        level: Level,
        kind: &str,
        rest: impl FnOnce(&Master) -> String,
    ) {
        let Some(m) = self.masters.get(name) else {
            return;
        };
        let rest = rest(m);
        self.instance_event(name, &Target::Master(name.to_string()), level, kind, &rest);
    }

    /// An event about `target` as an instance of `master`: `%@` + `rest`.
    pub(crate) fn instance_event(
        &mut self,
        master: &str,
        target: &Target,
        level: Level,
        kind: &str,
        rest: &str,
    ) {
        let Some(m) = self.masters.get(master) else {
            return;
        };
        let hostnames = self.settings.announce_hostnames;
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
                None => return,
            },
            Target::Sentinel(id) => match m.sentinels.get(id) {
                Some(s) => Subject::Sentinel {
                    runid: id,
                    addr: &s.common.addr,
                    master: &m.name,
                    master_addr: &m.common.addr,
                },
                None => return,
            },
        };
        let mut msg = subject.describe(hostnames);
        if !rest.is_empty() {
            msg.push(' ');
            msg.push_str(rest);
        }
        self.master_event_plain(master, level, kind, msg);
    }
}
