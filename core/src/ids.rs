//! Identifier newtypes shared by the protocols.

use std::fmt;

/// A configuration or election epoch: a logical clock that only moves forward.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Epoch(pub u64);

impl Epoch {
    /// The epoch after this one; `None` at the maximum, where no new
    /// election can start (an epoch must never wrap back to 0).
    pub fn next(self) -> Option<Epoch> {
        self.0.checked_add(1).map(Epoch)
    }
}

impl std::str::FromStr for Epoch {
    type Err = std::num::ParseIntError;

    /// As `u64`'s parser: digits only (hellos and config files).
    fn from_str(s: &str) -> Result<Epoch, Self::Err> {
        s.parse().map(Epoch)
    }
}

impl fmt::Display for Epoch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// A Redis/Sentinel run id: 40 hex characters.
#[derive(Clone, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct RunId(pub String);

impl RunId {
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for RunId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}
