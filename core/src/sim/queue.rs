//! The virtual clock every simulator shares: events keyed by virtual
//! milliseconds, popped in time order and, within one millisecond, in the
//! order they were scheduled (so a run depends on nothing but its seed).

use std::collections::BTreeMap;

use crate::time::Millis;

#[derive(Clone, Debug)]
pub struct Queue<E> {
    events: BTreeMap<(Millis, u64), E>,
    seq: u64,
}

impl<E> Default for Queue<E> {
    fn default() -> Self {
        Queue {
            events: BTreeMap::new(),
            seq: 0,
        }
    }
}

impl<E> Queue<E> {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn push(&mut self, at: Millis, event: E) {
        self.seq += 1;
        self.events.insert((at, self.seq), event);
    }

    /// The earliest event, with its time.
    pub fn pop(&mut self) -> Option<(Millis, E)> {
        self.events.pop_first().map(|((at, _), e)| (at, e))
    }

    /// The earliest event if it is due at or before `now`.
    pub fn pop_due(&mut self, now: Millis) -> Option<E> {
        if self.next_due()? > now {
            return None;
        }
        self.pop().map(|(_, e)| e)
    }

    /// When the earliest event is due.
    pub fn next_due(&self) -> Option<Millis> {
        self.events.keys().next().map(|(at, _)| *at)
    }

    /// Keeps only the events `keep` accepts (e.g. drops a crashed node's).
    pub fn retain(&mut self, mut keep: impl FnMut(&E) -> bool) {
        self.events.retain(|_, e| keep(e));
    }

    pub fn len(&self) -> usize {
        self.events.len()
    }

    pub fn is_empty(&self) -> bool {
        self.events.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn time_order_then_scheduling_order() {
        let mut q = Queue::new();
        q.push(Millis(5), 'c');
        q.push(Millis(1), 'a');
        q.push(Millis(5), 'd');
        q.push(Millis(1), 'b');
        assert_eq!(q.pop_due(Millis(0)), None);
        assert_eq!(q.next_due(), Some(Millis(1)));
        let order: Vec<char> = std::iter::from_fn(|| q.pop_due(Millis(9))).collect();
        assert_eq!(order, vec!['a', 'b', 'c', 'd']);
        assert!(q.is_empty());
    }
}
