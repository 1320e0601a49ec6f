//! Every core: `poll_timeout` covers every timer. The simulator ticks on a
//! fixed beat; a beat before the deadline the core gave must find nothing
//! due, or a shell sleeping until `poll_timeout` would miss a timer.

use crate::time::Millis;

/// A timer input at `now` made a node with deadline `due` produce `outputs`
/// messages and events.
pub fn check(node: &str, now: Millis, due: Millis, outputs: usize) -> Result<(), String> {
    if outputs > 0 && due > now {
        Err(format!(
            "{node} acted at a tick before its poll_timeout ({due})"
        ))
    } else {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn acting_before_the_deadline_is_a_violation() {
        assert!(check("n1", Millis(10), Millis(10), 3).is_ok());
        assert!(check("n1", Millis(10), Millis(20), 0).is_ok());
        assert!(check("n1", Millis(10), Millis(20), 1).is_err());
    }
}
