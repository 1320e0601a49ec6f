//! The virtual clock: events keyed by virtual milliseconds, popped in time
//! order and, within one millisecond, in the order they were scheduled (so a
//! run never depends on anything but its seed).

use std::collections::BTreeMap;

use rsentinel_core::time::Millis;

pub struct Queue<E> {
    events: BTreeMap<(Millis, u64), E>,
    seq: u64,
}

impl<E> Queue<E> {
    pub fn new() -> Self {
        Queue {
            events: BTreeMap::new(),
            seq: 0,
        }
    }

    pub fn push(&mut self, at: Millis, event: E) {
        self.seq += 1;
        self.events.insert((at, self.seq), event);
    }

    /// The earliest event, with its time.
    pub fn pop(&mut self) -> Option<(Millis, E)> {
        self.events.pop_first().map(|((at, _), e)| (at, e))
    }
}
