//! One broker's side of controller election, independent of the store it
//! runs against (the in-memory model or a real Redis): it says what to do
//! next and digests what the store answered.

use std::collections::VecDeque;

use super::partition::BrokerId;

/// What the store currently says about `/controller`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ControllerView {
    Vacant,
    Held { controller: BrokerId, epoch: u64 },
}

/// What the broker should do against the store next.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AgentStep {
    /// Create `/controller` if absent; on success take the next epoch.
    TryAcquire,
    /// Keep our claim alive (compare-and-refresh).
    Renew { epoch: u64 },
    /// Wait for the watch (or poll) on `/controller`.
    Observe,
}

/// A change in who this broker believes is controller.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ControllerChange {
    pub controller: BrokerId,
    pub epoch: u64,
}

/// Controller election, broker side.
///
/// ```
/// use rsentinel_core::kafka::{AgentStep, ControllerAgent, ControllerView, CoordStore};
/// use rsentinel_core::time::Millis;
///
/// let mut store = CoordStore::new();
/// let mut agents = [ControllerAgent::new(1), ControllerAgent::new(2)];
/// let sessions = [store.open_session(Millis(0), Millis(3000)), store.open_session(Millis(0), Millis(3000))];
/// for (agent, session) in agents.iter_mut().zip(sessions) {
///     assert_eq!(agent.next_step(), AgentStep::TryAcquire);
///     let won = store.create(session, "/controller", &agent.broker().to_string(), true).is_ok();
///     if won {
///         agent.on_acquired(Some(store.increment("/controller_epoch")));
///     } else {
///         agent.on_acquired(None);
///         store.watch(session, "/controller");
///         let holder: u64 = store.get("/controller").unwrap().data.parse().unwrap();
///         agent.on_observed(ControllerView::Held { controller: holder, epoch: store.counter("/controller_epoch") });
///     }
/// }
/// assert_eq!(agents[0].controller_epoch(), Some(1));
/// assert_eq!(agents[1].known(), Some((1, 1)));
/// // The controller's session ends: the watch fires and broker 2 races again.
/// store.close_session(sessions[0]);
/// assert!(store.poll_watch().is_some());
/// agents[1].on_observed(ControllerView::Vacant);
/// assert_eq!(agents[1].next_step(), AgentStep::TryAcquire);
/// store.create(sessions[1], "/controller", "2", true).unwrap();
/// agents[1].on_acquired(Some(store.increment("/controller_epoch")));
/// assert_eq!(agents[1].controller_epoch(), Some(2));
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ControllerAgent {
    broker: BrokerId,
    view: Option<ControllerView>,
    /// Highest controller epoch ever seen: older reads are stale.
    highest_epoch: u64,
    last_reported: Option<(BrokerId, u64)>,
    changes: VecDeque<ControllerChange>,
}

impl ControllerAgent {
    pub fn new(broker: BrokerId) -> Self {
        ControllerAgent {
            broker,
            view: None,
            highest_epoch: 0,
            last_reported: None,
            changes: VecDeque::new(),
        }
    }

    pub fn broker(&self) -> BrokerId {
        self.broker
    }

    pub fn next_step(&self) -> AgentStep {
        match self.view {
            None | Some(ControllerView::Vacant) => AgentStep::TryAcquire,
            Some(ControllerView::Held { controller, epoch }) if controller == self.broker => {
                AgentStep::Renew { epoch }
            }
            Some(ControllerView::Held { .. }) => AgentStep::Observe,
        }
    }

    /// Our epoch if we believe we are the controller.
    pub fn controller_epoch(&self) -> Option<u64> {
        match self.view {
            Some(ControllerView::Held { controller, epoch }) if controller == self.broker => {
                Some(epoch)
            }
            _ => None,
        }
    }

    /// The controller we know of, as `(broker, epoch)`.
    pub fn known(&self) -> Option<(BrokerId, u64)> {
        match self.view {
            Some(ControllerView::Held { controller, epoch }) => Some((controller, epoch)),
            _ => None,
        }
    }

    /// Result of a TryAcquire: `Some(epoch)` when we created the node.
    pub fn on_acquired(&mut self, won: Option<u64>) {
        // On a loss someone else holds it; the caller reads and reports it.
        if let Some(epoch) = won {
            self.on_observed(ControllerView::Held {
                controller: self.broker,
                epoch,
            });
        }
    }

    /// Result of a Renew: false means our claim is gone (expired, or a newer
    /// controller fenced us), so we must look again.
    pub fn on_renewed(&mut self, still_held: bool) {
        if !still_held {
            self.view = Some(ControllerView::Vacant);
        }
    }

    /// What the store says now (a read, or a fired watch).
    pub fn on_observed(&mut self, view: ControllerView) {
        if let ControllerView::Held { controller, epoch } = view {
            // An epoch older than one we saw is a stale read: ignore it.
            if epoch < self.highest_epoch {
                return;
            }
            self.highest_epoch = epoch;
            if self.last_reported != Some((controller, epoch)) {
                self.last_reported = Some((controller, epoch));
                self.changes
                    .push_back(ControllerChange { controller, epoch });
            }
        }
        self.view = Some(view);
    }

    pub fn poll_change(&mut self) -> Option<ControllerChange> {
        self.changes.pop_front()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn steps_follow_the_view() {
        let mut a = ControllerAgent::new(2);
        assert_eq!(a.next_step(), AgentStep::TryAcquire);
        a.on_observed(ControllerView::Held {
            controller: 1,
            epoch: 4,
        });
        assert_eq!(a.next_step(), AgentStep::Observe);
        assert_eq!(a.controller_epoch(), None);
        a.on_observed(ControllerView::Vacant);
        assert_eq!(a.next_step(), AgentStep::TryAcquire);
        a.on_acquired(Some(5));
        assert_eq!(a.next_step(), AgentStep::Renew { epoch: 5 });
        a.on_renewed(false);
        assert_eq!(a.next_step(), AgentStep::TryAcquire);
    }

    #[test]
    fn each_change_is_reported_once_and_stale_reads_are_ignored() {
        let mut a = ControllerAgent::new(3);
        let held = |c, e| ControllerView::Held {
            controller: c,
            epoch: e,
        };
        a.on_observed(held(1, 1));
        a.on_observed(held(1, 1));
        a.on_observed(ControllerView::Vacant);
        a.on_observed(held(1, 1));
        a.on_observed(held(2, 2));
        a.on_observed(held(1, 1));
        let got: Vec<_> = std::iter::from_fn(|| a.poll_change()).collect();
        assert_eq!(
            got,
            vec![
                ControllerChange {
                    controller: 1,
                    epoch: 1
                },
                ControllerChange {
                    controller: 2,
                    epoch: 2
                }
            ]
        );
        assert_eq!(a.known(), Some((2, 2)));
    }
}
