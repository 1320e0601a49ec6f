//! One broker's side of controller election, independent of the store it
//! runs against (the in-memory model or a real Redis): it says what to do
//! next, digests what the store answered, and fences orders from stale
//! controllers. The controller epoch is the shared [`Epoch`]: the agent
//! follows it with an [`EpochClock`] and fences with a [`FencingGate`].
//!
//! The contract is the one every core follows: `handle_*` inputs,
//! `poll_*` outputs. The agent keeps no timer (renewals are paced by the
//! store's session, which the shell keeps alive), so it takes no `now` and
//! has no `poll_timeout`.

use std::collections::VecDeque;

use thiserror::Error;

use super::partition::BrokerId;
use crate::election::{EpochClock, FencingGate};
use crate::ids::Epoch;

/// What the store currently says about `/controller`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ControllerView {
    Vacant,
    Held { controller: BrokerId, epoch: Epoch },
}

/// What the broker should do against the store next.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AgentStep {
    /// Create `/controller` if absent; on success take the next epoch.
    TryAcquire,
    /// Keep our claim alive (compare-and-refresh).
    Renew { epoch: Epoch },
    /// Wait for the watch (or poll) on `/controller`.
    Observe,
}

/// A change in who this broker believes is controller.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ControllerChange {
    pub controller: BrokerId,
    pub epoch: Epoch,
}

/// An order refused because a newer controller has already been obeyed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Error)]
#[error("controller epoch {carried} < {highest} (stale controller fenced)")]
pub struct StaleController {
    pub carried: Epoch,
    pub highest: Epoch,
}

/// Controller election, broker side.
///
/// ```
/// use rsentinel_core::ids::Epoch;
/// use rsentinel_core::kafka::{AgentStep, ControllerAgent, ControllerView, CoordStore};
/// use rsentinel_core::time::Millis;
///
/// let mut store = CoordStore::new();
/// let mut agents = [ControllerAgent::new(1), ControllerAgent::new(2)];
/// let sessions = [store.open_session(Millis(0), Millis(3000)), store.open_session(Millis(0), Millis(3000))];
/// for (agent, session) in agents.iter_mut().zip(sessions) {
///     assert_eq!(agent.poll_step(), AgentStep::TryAcquire);
///     let won = store.create(session, "/controller", &agent.broker().to_string(), true).is_ok();
///     if won {
///         agent.handle_acquired(Some(Epoch(store.increment("/controller_epoch"))));
///     } else {
///         agent.handle_acquired(None);
///         store.watch(session, "/controller");
///         let holder: u64 = store.get("/controller").unwrap().data.parse().unwrap();
///         let epoch = Epoch(store.counter("/controller_epoch"));
///         agent.handle_observed(ControllerView::Held { controller: holder, epoch });
///     }
/// }
/// assert_eq!(agents[0].controller_epoch(), Some(Epoch(1)));
/// assert_eq!(agents[1].known(), Some((1, Epoch(1))));
/// // The controller's session ends: the watch fires and broker 2 races again.
/// store.close_session(sessions[0]);
/// assert!(store.poll_watch().is_some());
/// agents[1].handle_observed(ControllerView::Vacant);
/// assert_eq!(agents[1].poll_step(), AgentStep::TryAcquire);
/// store.create(sessions[1], "/controller", "2", true).unwrap();
/// agents[1].handle_acquired(Some(Epoch(store.increment("/controller_epoch"))));
/// assert_eq!(agents[1].controller_epoch(), Some(Epoch(2)));
/// // Broker 1 now refuses orders of the controller it used to be.
/// assert!(agents[0].handle_controller_request(Epoch(2)).is_ok());
/// assert!(agents[0].handle_controller_request(Epoch(1)).is_err());
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ControllerAgent {
    broker: BrokerId,
    view: Option<ControllerView>,
    /// Highest controller epoch ever read from the store: older reads are
    /// stale.
    seen: EpochClock,
    /// Highest controller epoch whose orders this broker obeyed. Kept apart
    /// from `seen`: an order may arrive before the store read that would
    /// have told us about its controller.
    fence: FencingGate,
    last_reported: Option<(BrokerId, Epoch)>,
    changes: VecDeque<ControllerChange>,
}

impl ControllerAgent {
    pub fn new(broker: BrokerId) -> Self {
        ControllerAgent {
            broker,
            view: None,
            seen: EpochClock::default(),
            fence: FencingGate::new(),
            last_reported: None,
            changes: VecDeque::new(),
        }
    }

    pub fn broker(&self) -> BrokerId {
        self.broker
    }

    /// What to do against the store next (derived from the view, so it is
    /// always there).
    pub fn poll_step(&self) -> AgentStep {
        match self.view {
            None | Some(ControllerView::Vacant) => AgentStep::TryAcquire,
            Some(ControllerView::Held { controller, epoch }) if controller == self.broker => {
                AgentStep::Renew { epoch }
            }
            Some(ControllerView::Held { .. }) => AgentStep::Observe,
        }
    }

    /// Our epoch if we believe we are the controller.
    pub fn controller_epoch(&self) -> Option<Epoch> {
        match self.view {
            Some(ControllerView::Held { controller, epoch }) if controller == self.broker => {
                Some(epoch)
            }
            _ => None,
        }
    }

    /// The controller we know of, as `(broker, epoch)`.
    pub fn known(&self) -> Option<(BrokerId, Epoch)> {
        match self.view {
            Some(ControllerView::Held { controller, epoch }) => Some((controller, epoch)),
            _ => None,
        }
    }

    /// Result of a TryAcquire: `Some(epoch)` when we created the node.
    pub fn handle_acquired(&mut self, won: Option<Epoch>) {
        // On a loss someone else holds it; the caller reads and reports it.
        if let Some(epoch) = won {
            self.handle_observed(ControllerView::Held {
                controller: self.broker,
                epoch,
            });
        }
    }

    /// Result of a Renew: false means our claim is gone (expired, or a newer
    /// controller fenced us), so we must look again.
    pub fn handle_renewed(&mut self, still_held: bool) {
        if !still_held {
            self.view = Some(ControllerView::Vacant);
        }
    }

    /// What the store says now (a read, or a fired watch).
    pub fn handle_observed(&mut self, view: ControllerView) {
        if let ControllerView::Held { controller, epoch } = view {
            // An epoch older than one we saw is a stale read: ignore it.
            if epoch < self.seen.current() {
                return;
            }
            self.seen.observe(epoch);
            if self.last_reported != Some((controller, epoch)) {
                self.last_reported = Some((controller, epoch));
                self.changes
                    .push_back(ControllerChange { controller, epoch });
            }
        }
        self.view = Some(view);
    }

    /// An order from a controller (Kafka's LeaderAndIsr) carrying its
    /// controller epoch: obeyed unless a newer controller's order was
    /// obeyed before, which is how a controller that was paused past its
    /// session is kept from acting.
    pub fn handle_controller_request(&mut self, epoch: Epoch) -> Result<(), StaleController> {
        if self.fence.admit(epoch) {
            Ok(())
        } else {
            Err(StaleController {
                carried: epoch,
                highest: self.fence.highest(),
            })
        }
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
        assert_eq!(a.poll_step(), AgentStep::TryAcquire);
        a.handle_observed(ControllerView::Held {
            controller: 1,
            epoch: Epoch(4),
        });
        assert_eq!(a.poll_step(), AgentStep::Observe);
        assert_eq!(a.controller_epoch(), None);
        a.handle_observed(ControllerView::Vacant);
        assert_eq!(a.poll_step(), AgentStep::TryAcquire);
        a.handle_acquired(Some(Epoch(5)));
        assert_eq!(a.poll_step(), AgentStep::Renew { epoch: Epoch(5) });
        a.handle_renewed(false);
        assert_eq!(a.poll_step(), AgentStep::TryAcquire);
    }

    #[test]
    fn each_change_is_reported_once_and_stale_reads_are_ignored() {
        let mut a = ControllerAgent::new(3);
        let held = |c, e| ControllerView::Held {
            controller: c,
            epoch: Epoch(e),
        };
        a.handle_observed(held(1, 1));
        a.handle_observed(held(1, 1));
        a.handle_observed(ControllerView::Vacant);
        a.handle_observed(held(1, 1));
        a.handle_observed(held(2, 2));
        a.handle_observed(held(1, 1));
        let got: Vec<_> = std::iter::from_fn(|| a.poll_change()).collect();
        assert_eq!(
            got,
            vec![
                ControllerChange {
                    controller: 1,
                    epoch: Epoch(1)
                },
                ControllerChange {
                    controller: 2,
                    epoch: Epoch(2)
                }
            ]
        );
        assert_eq!(a.known(), Some((2, Epoch(2))));
    }

    #[test]
    fn orders_of_an_older_controller_are_refused() {
        let mut a = ControllerAgent::new(1);
        // (order epoch, obeyed)
        let table = [(1, true), (3, true), (3, true), (2, false), (4, true)];
        for (epoch, obeyed) in table {
            assert_eq!(
                a.handle_controller_request(Epoch(epoch)).is_ok(),
                obeyed,
                "{epoch}"
            );
        }
        assert_eq!(
            a.handle_controller_request(Epoch(1)),
            Err(StaleController {
                carried: Epoch(1),
                highest: Epoch(4)
            })
        );
    }
}
