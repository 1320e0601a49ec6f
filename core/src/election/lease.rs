//! A time-bounded lease with a fencing token, and the gate that checks tokens.
//!
//! A lease alone cannot stop a holder that was paused past its expiry from
//! acting; the fencing token (which grows with every new holder) lets the
//! resource reject such a stale holder's requests.

use thiserror::Error;

use crate::time::Millis;

#[derive(Clone, Debug, PartialEq, Eq, Error)]
pub enum LeaseError {
    #[error("lease is held by another holder until {0}")]
    Held(Millis),
    #[error("lease is not held by the caller")]
    NotHolder,
}

/// Who holds the lease, until when, and the token of that tenure.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Lease<H> {
    holder: Option<H>,
    expires: Millis,
    token: u64,
}

impl<H> Default for Lease<H> {
    fn default() -> Self {
        Lease {
            holder: None,
            expires: Millis::ZERO,
            token: 0,
        }
    }
}

impl<H: Clone + PartialEq> Lease<H> {
    pub fn new() -> Self {
        Self::default()
    }

    /// The holder if the lease has not expired at `now`.
    pub fn holder(&self, now: Millis) -> Option<&H> {
        self.holder.as_ref().filter(|_| now < self.expires)
    }

    /// The token of the latest tenure (0 before anyone held it).
    pub fn token(&self) -> u64 {
        self.token
    }

    pub fn expires(&self) -> Millis {
        self.expires
    }

    /// Takes the lease if free (or expired); a new tenure gets a new, larger
    /// token. Re-acquiring while already holding it only renews.
    pub fn acquire(&mut self, now: Millis, who: H, ttl: Millis) -> Result<u64, LeaseError> {
        match self.holder(now) {
            Some(h) if *h == who => {
                self.expires = now + ttl;
                Ok(self.token)
            }
            Some(_) => Err(LeaseError::Held(self.expires)),
            None => {
                self.holder = Some(who);
                self.expires = now + ttl;
                self.token += 1;
                Ok(self.token)
            }
        }
    }

    /// Extends the lease; only the current, unexpired holder with the
    /// current token may.
    pub fn renew(
        &mut self,
        now: Millis,
        who: &H,
        token: u64,
        ttl: Millis,
    ) -> Result<(), LeaseError> {
        if self.holder(now) == Some(who) && token == self.token {
            self.expires = now + ttl;
            Ok(())
        } else {
            Err(LeaseError::NotHolder)
        }
    }

    /// Gives the lease up early.
    pub fn release(&mut self, now: Millis, who: &H) -> Result<(), LeaseError> {
        if self.holder(now) == Some(who) {
            self.holder = None;
            self.expires = Millis::ZERO;
            Ok(())
        } else {
            Err(LeaseError::NotHolder)
        }
    }
}

/// Remembers the highest fencing token seen and refuses anything older.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct FencingGate {
    highest: u64,
}

impl FencingGate {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn highest(&self) -> u64 {
        self.highest
    }

    /// Admits `token` if it is not older than any admitted before.
    pub fn admit(&mut self, token: u64) -> bool {
        if token >= self.highest {
            self.highest = token;
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
    fn lease_lifecycle() {
        let mut l: Lease<&str> = Lease::new();
        assert_eq!(l.acquire(Millis(0), "a", Millis(100)), Ok(1));
        assert_eq!(
            l.acquire(Millis(50), "b", Millis(100)),
            Err(LeaseError::Held(Millis(100)))
        );
        assert_eq!(l.holder(Millis(99)), Some(&"a"));
        assert_eq!(l.renew(Millis(90), &"a", 1, Millis(100)), Ok(()));
        assert_eq!(l.holder(Millis(150)), Some(&"a"));
        assert_eq!(l.holder(Millis(190)), None);
        assert_eq!(
            l.renew(Millis(190), &"a", 1, Millis(100)),
            Err(LeaseError::NotHolder)
        );
        assert_eq!(l.acquire(Millis(190), "b", Millis(100)), Ok(2));
        assert_eq!(
            l.renew(Millis(200), &"b", 1, Millis(100)),
            Err(LeaseError::NotHolder)
        );
        assert_eq!(l.release(Millis(200), &"a"), Err(LeaseError::NotHolder));
        assert_eq!(l.release(Millis(200), &"b"), Ok(()));
        assert_eq!(l.acquire(Millis(201), "a", Millis(10)), Ok(3));
        assert_eq!(l.acquire(Millis(205), "a", Millis(10)), Ok(3));
    }

    #[test]
    fn fencing_gate_rejects_older_tokens() {
        let mut g = FencingGate::new();
        let table = [
            (1, true),
            (3, true),
            (2, false),
            (3, true),
            (4, true),
            (1, false),
        ];
        for (token, ok) in table {
            assert_eq!(g.admit(token), ok, "{token}");
        }
        assert_eq!(g.highest(), 4);
    }
}
