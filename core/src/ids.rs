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

/// Maps keyed by run id answer lookups by `&str` (a hello's or a
/// command's text) without building a `RunId`.
impl std::borrow::Borrow<str> for RunId {
    fn borrow(&self) -> &str {
        &self.0
    }
}

/// Read as the text it is (formatting, comparisons, `as_deref`); the
/// newtype only keeps other strings out of the places that hold run ids.
impl std::ops::Deref for RunId {
    type Target = str;
    fn deref(&self) -> &str {
        &self.0
    }
}

impl From<&str> for RunId {
    fn from(s: &str) -> RunId {
        RunId(s.to_string())
    }
}

impl From<String> for RunId {
    fn from(s: String) -> RunId {
        RunId(s)
    }
}

impl PartialEq<str> for RunId {
    fn eq(&self, other: &str) -> bool {
        self.0 == other
    }
}

impl fmt::Display for RunId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}
