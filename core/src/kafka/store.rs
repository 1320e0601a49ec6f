//! A ZooKeeper-like coordination store model: sessions kept alive by
//! heartbeats, ephemeral nodes that die with their session, create-if-absent,
//! counters, one-shot watches, and epoch-checked writes.

use std::collections::{BTreeMap, BTreeSet, VecDeque};

use thiserror::Error;

use crate::election::FailureDetector;
use crate::time::Millis;

pub type SessionId = u64;

#[derive(Clone, Debug, PartialEq, Eq, Error)]
pub enum StoreError {
    #[error("node {0} already exists")]
    NodeExists(String),
    #[error("session {0} has expired")]
    SessionExpired(SessionId),
    #[error("write fenced: controller epoch is {current}, request carried {carried}")]
    Fenced { current: u64, carried: u64 },
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ZNode {
    pub data: String,
    /// The session whose end deletes this node (ephemeral), if any.
    pub ephemeral_owner: Option<SessionId>,
    /// Bumped on every write, like a znode's version.
    pub version: u64,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WatchKind {
    Created,
    Deleted,
    Changed,
}

/// A watch that fired: sent once to the session that set it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WatchEvent {
    pub session: SessionId,
    pub path: String,
    pub kind: WatchKind,
}

/// A session is alive while its heartbeats keep the shared failure
/// detector from judging it down.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Session {
    timeout: Millis,
    heartbeats: FailureDetector,
}

#[derive(Clone, Debug, Default)]
pub struct CoordStore {
    sessions: BTreeMap<SessionId, Session>,
    next_session: SessionId,
    nodes: BTreeMap<String, ZNode>,
    watches: BTreeMap<String, BTreeSet<SessionId>>,
    fired: VecDeque<WatchEvent>,
}

impl CoordStore {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn open_session(&mut self, now: Millis, timeout: Millis) -> SessionId {
        self.next_session += 1;
        self.sessions.insert(
            self.next_session,
            Session {
                timeout,
                heartbeats: FailureDetector::new(now),
            },
        );
        self.next_session
    }

    pub fn is_alive(&self, session: SessionId) -> bool {
        self.sessions.contains_key(&session)
    }

    /// Keeps a session alive; an expired session cannot be revived.
    pub fn heartbeat(&mut self, now: Millis, session: SessionId) -> Result<(), StoreError> {
        let s = self
            .sessions
            .get_mut(&session)
            .ok_or(StoreError::SessionExpired(session))?;
        s.heartbeats.heard(now);
        Ok(())
    }

    /// Ends every session silent for longer than its timeout, deleting its
    /// ephemeral nodes (which fires their watches). Returns the ended ids.
    pub fn expire_sessions(&mut self, now: Millis) -> Vec<SessionId> {
        let dead: Vec<SessionId> = self
            .sessions
            .iter()
            .filter(|(_, s)| s.heartbeats.is_down(now, s.timeout))
            .map(|(id, _)| *id)
            .collect();
        for id in &dead {
            self.close_session(*id);
        }
        dead
    }

    /// Ends a session now (a clean shutdown).
    pub fn close_session(&mut self, session: SessionId) {
        self.sessions.remove(&session);
        let owned: Vec<String> = self
            .nodes
            .iter()
            .filter(|(_, n)| n.ephemeral_owner == Some(session))
            .map(|(p, _)| p.clone())
            .collect();
        for path in owned {
            self.delete(&path);
        }
        for set in self.watches.values_mut() {
            set.remove(&session);
        }
    }

    /// Create-if-absent. Ephemeral nodes belong to `session`.
    pub fn create(
        &mut self,
        session: SessionId,
        path: &str,
        data: &str,
        ephemeral: bool,
    ) -> Result<(), StoreError> {
        if !self.is_alive(session) {
            return Err(StoreError::SessionExpired(session));
        }
        if self.nodes.contains_key(path) {
            return Err(StoreError::NodeExists(path.to_string()));
        }
        self.nodes.insert(
            path.to_string(),
            ZNode {
                data: data.to_string(),
                ephemeral_owner: ephemeral.then_some(session),
                version: 0,
            },
        );
        self.fire(path, WatchKind::Created);
        Ok(())
    }

    pub fn get(&self, path: &str) -> Option<&ZNode> {
        self.nodes.get(path)
    }

    /// Paths starting with `prefix`, in order.
    pub fn children(&self, prefix: &str) -> Vec<String> {
        self.nodes
            .range(prefix.to_string()..)
            .take_while(|(p, _)| p.starts_with(prefix))
            .map(|(p, _)| p.clone())
            .collect()
    }

    /// Unconditional write (creates persistent nodes).
    pub fn set(&mut self, path: &str, data: &str) {
        let node = self.nodes.entry(path.to_string()).or_insert(ZNode {
            data: String::new(),
            ephemeral_owner: None,
            version: 0,
        });
        node.data = data.to_string();
        node.version += 1;
        self.fire(path, WatchKind::Changed);
    }

    pub fn delete(&mut self, path: &str) -> bool {
        let existed = self.nodes.remove(path).is_some();
        if existed {
            self.fire(path, WatchKind::Deleted);
        }
        existed
    }

    /// Increments a persistent counter node and returns the new value.
    pub fn increment(&mut self, path: &str) -> u64 {
        let next = self.counter(path) + 1;
        self.set(path, &next.to_string());
        next
    }

    /// The value of a counter node (0 when absent).
    pub fn counter(&self, path: &str) -> u64 {
        self.get(path)
            .and_then(|n| n.data.parse().ok())
            .unwrap_or(0)
    }

    /// A write that only succeeds while the counter at `epoch_path` still
    /// equals `epoch`: how a controller's writes are fenced once a newer
    /// controller has taken over.
    pub fn set_fenced(
        &mut self,
        epoch_path: &str,
        epoch: u64,
        path: &str,
        data: &str,
    ) -> Result<(), StoreError> {
        let current = self.counter(epoch_path);
        if current != epoch {
            return Err(StoreError::Fenced {
                current,
                carried: epoch,
            });
        }
        self.set(path, data);
        Ok(())
    }

    /// Registers a one-shot watch on `path`: the next create, change or
    /// delete fires it once, after which it must be set again.
    pub fn watch(&mut self, session: SessionId, path: &str) {
        if self.is_alive(session) {
            self.watches
                .entry(path.to_string())
                .or_default()
                .insert(session);
        }
    }

    pub fn poll_watch(&mut self) -> Option<WatchEvent> {
        self.fired.pop_front()
    }

    fn fire(&mut self, path: &str, kind: WatchKind) {
        if let Some(sessions) = self.watches.remove(path) {
            for session in sessions {
                self.fired.push_back(WatchEvent {
                    session,
                    path: path.to_string(),
                    kind,
                });
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ephemeral_node_dies_with_its_session_and_fires_the_watch_once() {
        let mut s = CoordStore::new();
        let a = s.open_session(Millis(0), Millis(100));
        let b = s.open_session(Millis(0), Millis(100));
        s.create(a, "/controller", "1", true).unwrap();
        assert_eq!(
            s.create(b, "/controller", "2", true),
            Err(StoreError::NodeExists("/controller".into()))
        );
        s.watch(b, "/controller");
        s.heartbeat(Millis(90), b).unwrap();
        assert_eq!(s.expire_sessions(Millis(150)), vec![a]);
        assert!(s.get("/controller").is_none());
        let ev = s.poll_watch().unwrap();
        assert_eq!((ev.session, ev.kind), (b, WatchKind::Deleted));
        assert_eq!(s.poll_watch(), None);
        // One-shot: a second change fires nothing until re-registered.
        s.create(b, "/controller", "2", true).unwrap();
        assert_eq!(s.poll_watch(), None);
        assert_eq!(
            s.heartbeat(Millis(160), a),
            Err(StoreError::SessionExpired(a))
        );
        assert_eq!(
            s.create(a, "/x", "", false),
            Err(StoreError::SessionExpired(a))
        );
    }

    #[test]
    fn fenced_writes_need_the_current_epoch() {
        let mut s = CoordStore::new();
        assert_eq!(s.increment("/controller_epoch"), 1);
        assert_eq!(s.increment("/controller_epoch"), 2);
        assert_eq!(
            s.set_fenced("/controller_epoch", 1, "/p/0", "x"),
            Err(StoreError::Fenced {
                current: 2,
                carried: 1
            })
        );
        s.set_fenced("/controller_epoch", 2, "/p/0", "y").unwrap();
        assert_eq!(s.get("/p/0").unwrap().data, "y");
    }

    #[test]
    fn children_lists_a_prefix_in_order() {
        let mut s = CoordStore::new();
        let a = s.open_session(Millis(0), Millis(10));
        for p in ["/brokers/ids/2", "/brokers/ids/1", "/controller"] {
            s.create(a, p, "", true).unwrap();
        }
        assert_eq!(
            s.children("/brokers/ids/"),
            vec!["/brokers/ids/1", "/brokers/ids/2"]
        );
    }
}
