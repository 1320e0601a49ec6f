//! Time as a value: milliseconds on a clock chosen by the caller.

use std::fmt;
use std::ops::{Add, Sub};

/// A point in time or a duration, in milliseconds. The core never reads a
/// clock; the shell (or a simulator) passes `now` into every call.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Millis(pub u64);

impl Millis {
    pub const ZERO: Millis = Millis(0);

    pub fn as_u64(self) -> u64 {
        self.0
    }

    /// `self - earlier`, or zero when `earlier` lies in the future (clocks
    /// handed to the core may be adjusted; a negative age means "just now").
    pub fn since(self, earlier: Millis) -> Millis {
        Millis(self.0.saturating_sub(earlier.0))
    }
}

impl Add for Millis {
    type Output = Millis;
    fn add(self, rhs: Millis) -> Millis {
        Millis(self.0.saturating_add(rhs.0))
    }
}

impl Sub for Millis {
    type Output = Millis;
    fn sub(self, rhs: Millis) -> Millis {
        Millis(self.0.saturating_sub(rhs.0))
    }
}

impl fmt::Display for Millis {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}ms", self.0)
    }
}
