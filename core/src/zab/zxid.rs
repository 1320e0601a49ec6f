//! ZooKeeper transaction ids: the epoch in the high 32 bits, a counter that
//! restarts at zero in every epoch in the low 32 bits, so comparing zxids as
//! plain integers orders them by epoch first.

use std::fmt;

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Zxid(pub u64);

impl Zxid {
    pub fn new(epoch: u32, counter: u32) -> Zxid {
        Zxid((u64::from(epoch) << 32) | u64::from(counter))
    }

    pub fn epoch(self) -> u32 {
        (self.0 >> 32) as u32
    }

    pub fn counter(self) -> u32 {
        self.0 as u32
    }

    /// The first zxid of a new epoch: the counter restarts at zero.
    pub fn start_of(epoch: u32) -> Zxid {
        Zxid::new(epoch, 0)
    }

    /// The next transaction in the same epoch.
    pub fn next(self) -> Zxid {
        Zxid::new(self.epoch(), self.counter().wrapping_add(1))
    }
}

impl fmt::Display for Zxid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "0x{:x}", self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn epoch_and_counter_round_trip() {
        let table = [
            (0, 0, 0u64),
            (1, 0, 1 << 32),
            (1, 5, (1 << 32) + 5),
            (u32::MAX, u32::MAX, u64::MAX),
        ];
        for (e, c, raw) in table {
            let z = Zxid::new(e, c);
            assert_eq!(z.0, raw);
            assert_eq!((z.epoch(), z.counter()), (e, c));
        }
    }

    #[test]
    fn a_newer_epoch_beats_any_counter() {
        assert!(Zxid::start_of(3) > Zxid::new(2, u32::MAX));
        assert_eq!(Zxid::new(2, 7).next(), Zxid::new(2, 8));
        assert_eq!(Zxid::new(2, 7).to_string(), "0x200000007");
    }
}
