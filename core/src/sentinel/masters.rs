//! The monitored masters by name, with the two ways a handler looks one up.
//!
//! An input names its master (a reply tagged with it, a client's command, a
//! peer's hello); at that entry point a miss is normal — the master was
//! removed while the reply was in flight, or a client misspelt it — and the
//! handler answers or drops the input there (`get` / `get_mut`). Past the
//! entry, every step works on a master known to exist: nothing inside a
//! handler removes masters except `SENTINEL REMOVE` and `RESET`, which end
//! their handler. A miss there is a bug (a stale or wrong name) that would
//! otherwise hide as a quiet no-op, so [`Masters::known`] and
//! [`Masters::known_mut`] stop debug builds — every test and simulator
//! seed — on it, and release builds skip the step rather than crash.

use std::collections::BTreeMap;
use std::ops::{Deref, DerefMut};

use super::Master;

/// Masters by name, ordered so that every walk is deterministic.
#[derive(Clone, Debug, Default)]
pub(crate) struct Masters(BTreeMap<String, Master>);

impl Masters {
    /// Master `name`, which the caller's entry point already resolved.
    #[track_caller]
    pub(crate) fn known(&self, name: &str) -> Option<&Master> {
        let m = self.0.get(name);
        debug_assert!(m.is_some(), "master {name} vanished inside a handler");
        m
    }

    /// [`Masters::known`], mutable.
    #[track_caller]
    pub(crate) fn known_mut(&mut self, name: &str) -> Option<&mut Master> {
        let m = self.0.get_mut(name);
        debug_assert!(m.is_some(), "master {name} vanished inside a handler");
        m
    }
}

impl Deref for Masters {
    type Target = BTreeMap<String, Master>;

    fn deref(&self) -> &Self::Target {
        &self.0
    }
}

impl DerefMut for Masters {
    fn deref_mut(&mut self) -> &mut Self::Target {
        &mut self.0
    }
}
