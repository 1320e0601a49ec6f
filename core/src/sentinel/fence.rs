//! Write fencing (rsentinel only, opt in): keep `min-replicas-to-write` and
//! `min-replicas-max-lag` set on every master and replica a sentinel
//! monitors, so that a master cut off from its replicas refuses writes
//! (`-NOREPLICAS`) within about max-lag seconds instead of accepting writes
//! that the next failover throws away. Replicas carry the setting too, so a
//! promoted replica enforces it from its first write on.
//!
//! Driven by INFO: after an INFO reply (at most once per [`CHECK_PERIOD`]
//! per instance) the sentinel asks `CONFIG GET min-replicas-*`; the pure
//! [`fence_update`] decides from that reply which `CONFIG SET`s are needed.
//! Every command goes through the master's `rename-command`.

use std::collections::BTreeMap;

use super::links::{LinkId, Tag, Target};
use super::{Action, Level, Sentinel};
use crate::reply::Reply;
use crate::time::Millis;

/// How often one instance's settings are re-checked (INFO arrives every
/// 10 s normally, every 100 ms–1 s around a failover).
pub const CHECK_PERIOD: u64 = 1000;

/// The settings every monitored instance should carry.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FencePolicy {
    pub min_replicas: u32,
    pub max_lag: u32,
}

/// One setting to change: `(name, wanted value, value found)`.
pub type FenceChange = (&'static str, u32, Option<String>);

/// The sentinel's fencing state: the policy, and per instance when it was
/// last checked and whether the last attempt failed (logged only once).
#[derive(Clone, Debug, Default)]
pub struct Fence {
    pub(crate) policy: Option<FencePolicy>,
    checked: BTreeMap<Target, (Millis, bool)>,
}

/// What must change on an instance, from its `CONFIG GET min-replicas-*`
/// reply (an array of name/value pairs, or a RESP3 map). `None` when the
/// reply is not a CONFIG GET answer at all.
pub fn fence_update(policy: FencePolicy, reply: &Reply) -> Option<Vec<FenceChange>> {
    let pairs: Vec<(&Reply, &Reply)> = match reply {
        Reply::Array(items) if items.len() % 2 == 0 => {
            items.chunks(2).map(|p| (&p[0], &p[1])).collect()
        }
        Reply::Map(pairs) => pairs.iter().map(|(k, v)| (k, v)).collect(),
        _ => return None,
    };
    let current = |name: &str| {
        pairs
            .iter()
            .find(|(k, _)| k.as_str().is_some_and(|k| k.eq_ignore_ascii_case(name)))
            .and_then(|(_, v)| v.as_str().map(str::to_string))
    };
    let wanted = [
        ("min-replicas-to-write", policy.min_replicas),
        ("min-replicas-max-lag", policy.max_lag),
    ];
    Some(
        wanted
            .into_iter()
            .filter_map(|(name, want)| {
                let found = current(name);
                let ok = found
                    .as_deref()
                    .and_then(|v| v.parse::<u32>().ok())
                    .is_some_and(|v| v == want);
                (!ok).then_some((name, want, found))
            })
            .collect(),
    )
}

impl Sentinel {
    /// Turns write fencing on (the shell reads `RSENTINEL_FENCE_WRITES`).
    pub fn set_write_fence(&mut self, policy: Option<FencePolicy>) {
        self.fence.policy = policy;
        self.touch_all();
    }

    pub fn write_fence(&self) -> Option<FencePolicy> {
        self.fence.policy
    }

    /// After an INFO reply from a master or replica: ask for its fencing
    /// settings unless they were checked less than a period ago.
    pub(crate) fn fence_check(&mut self, now: Millis, target: &Target) {
        if self.fence.policy.is_none() || matches!(target, Target::Sentinel(_)) {
            return;
        }
        let connected = self.common(target).is_some_and(|c| c.link.cc_connected);
        let failed = match self.fence.checked.get(target) {
            Some((t, _)) if now.since(*t).0 < CHECK_PERIOD => return,
            Some((_, failed)) => *failed,
            None => false,
        };
        if !connected {
            return;
        }
        self.fence.checked.insert(target.clone(), (now, failed));
        self.send(
            LinkId::cmd(target.clone()),
            Tag::FenceGet,
            vec![
                b"CONFIG".to_vec(),
                b"GET".to_vec(),
                b"min-replicas-*".to_vec(),
            ],
        );
    }

    /// The answer to `CONFIG GET min-replicas-*`: set what differs.
    pub(crate) fn handle_fence_get(&mut self, target: &Target, reply: &Reply) {
        let Some(policy) = self.fence.policy else {
            return;
        };
        let Some(changes) = fence_update(policy, reply) else {
            self.fence_failed(target, reply);
            return;
        };
        let Some(master) = master_of(target) else {
            return;
        };
        if changes.is_empty() {
            if let Some((_, failed)) = self.fence.checked.get_mut(target) {
                *failed = false;
            }
            return;
        }
        let mut what = Vec::new();
        for (name, want, found) in changes {
            self.send(
                LinkId::cmd(target.clone()),
                Tag::FenceSet,
                vec![
                    b"CONFIG".to_vec(),
                    b"SET".to_vec(),
                    name.as_bytes().to_vec(),
                    want.to_string().into_bytes(),
                ],
            );
            let was = found.unwrap_or_else(|| "?".into());
            what.push(format!("{name} {want} (was {was})"));
        }
        self.instance_event(
            &master,
            target,
            Level::Notice,
            "+fence-writes",
            &what.join(" "),
        );
    }

    /// The answer to one `CONFIG SET`: only a failure matters.
    pub(crate) fn handle_fence_set(&mut self, target: &Target, reply: &Reply) {
        if reply.is_error() {
            self.fence_failed(target, reply);
        } else if let Some((_, failed)) = self.fence.checked.get_mut(target) {
            *failed = false;
        }
    }

    /// Logs a failure to read or change the settings, once until it works
    /// again (it is retried every check).
    fn fence_failed(&mut self, target: &Target, reply: &Reply) {
        let entry = self
            .fence
            .checked
            .entry(target.clone())
            .or_insert((Millis::ZERO, false));
        if entry.1 {
            return;
        }
        entry.1 = true;
        let addr = self
            .common(target)
            .map(|c| format!("{}:{}", c.addr.host, c.addr.port))
            .unwrap_or_default();
        let why = reply.as_str().unwrap_or("unexpected reply").to_string();
        self.out.push(Action::Log {
            level: Level::Warning,
            text: format!("Could not fence writes on {addr}: {why}"),
        });
    }

    /// Forgets instances that are no longer monitored.
    pub(crate) fn fence_forget(&mut self, master: &str) {
        self.fence
            .checked
            .retain(|t, _| master_of(t).as_deref() != Some(master));
    }
}

fn master_of(target: &Target) -> Option<String> {
    match target {
        Target::Master(name) | Target::Replica { master: name, .. } => Some(name.clone()),
        Target::Sentinel(_) => None,
    }
}
