//! The fencing gate: a resource remembers the highest epoch it has obeyed and
//! refuses orders carrying an older one.
//!
//! A leader paused past its tenure (GC, VM stall) wakes up still believing it
//! leads; only the receiver can tell, because a newer leader has since
//! reached it with a larger epoch. Kafka's brokers fence controllers this way
//! (see `kafka::ControllerAgent::handle_controller_request`).

use crate::ids::Epoch;

/// Remembers the highest fencing epoch seen and refuses anything older.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct FencingGate {
    highest: Epoch,
}

impl FencingGate {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn highest(&self) -> Epoch {
        self.highest
    }

    /// Admits `epoch` if it is not older than any admitted before. An equal
    /// epoch passes: one leader sends many orders within its tenure.
    pub fn admit(&mut self, epoch: Epoch) -> bool {
        if epoch >= self.highest {
            self.highest = epoch;
            true
        } else {
            false
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fencing_gate_rejects_older_epochs() {
        let mut g = FencingGate::new();
        let table = [
            (1, true),
            (3, true),
            (2, false),
            (3, true),
            (4, true),
            (1, false),
        ];
        for (epoch, ok) in table {
            assert_eq!(g.admit(Epoch(epoch)), ok, "{epoch}");
        }
        assert_eq!(g.highest(), Epoch(4));
    }
}
