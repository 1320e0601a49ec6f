//! A timeout failure detector: a peer is down when it has not answered for
//! longer than a timeout.
//!
//! Like Sentinel, an outstanding probe is timed from when the *oldest*
//! unanswered probe was sent, so a peer that keeps receiving new probes but
//! never answers still ages; with no probe outstanding we time from the last
//! good answer (or heartbeat).

use crate::time::Millis;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FailureDetector {
    last_ok: Millis,
    oldest_unanswered: Option<Millis>,
}

impl FailureDetector {
    /// A detector that counts `now` as the last sign of life, so a fresh peer
    /// gets one full timeout before it can be judged.
    pub fn new(now: Millis) -> Self {
        FailureDetector {
            last_ok: now,
            oldest_unanswered: None,
        }
    }

    /// A probe was sent; only the first unanswered one starts the clock.
    pub fn probe_sent(&mut self, now: Millis) {
        if self.oldest_unanswered.is_none() {
            self.oldest_unanswered = Some(now);
        }
    }

    /// A valid answer or heartbeat arrived.
    pub fn heard(&mut self, now: Millis) {
        self.last_ok = self.last_ok.max(now);
        self.oldest_unanswered = None;
    }

    /// How long the peer has been silent as far as the rule is concerned.
    fn silence(&self, now: Millis) -> Millis {
        now.since(self.oldest_unanswered.unwrap_or(self.last_ok))
    }

    /// True when the silence is strictly longer than `timeout`.
    pub fn is_down(&self, now: Millis, timeout: Millis) -> bool {
        self.silence(now) > timeout
    }

    /// The first moment [`FailureDetector::is_down`] turns true if nothing is
    /// heard meanwhile: what a core's `poll_timeout` waits for.
    pub fn down_at(&self, timeout: Millis) -> Millis {
        self.oldest_unanswered.unwrap_or(self.last_ok) + timeout + Millis(1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn detector_table() {
        // (events, now, timeout, down)
        enum Ev {
            Probe(u64),
            Heard(u64),
        }
        use Ev::*;
        let table: Vec<(Vec<Ev>, u64, u64, bool)> = vec![
            (vec![], 100, 100, false),
            (vec![], 101, 100, true),
            (vec![Heard(50)], 140, 100, false),
            (vec![Heard(50), Probe(60), Probe(120)], 161, 100, true),
            (vec![Heard(50), Probe(60), Heard(70)], 160, 100, false),
            (vec![Probe(10), Heard(20), Probe(90)], 150, 100, false),
            (vec![Probe(10), Heard(20), Probe(90)], 191, 100, true),
        ];
        for (i, (evs, now, timeout, down)) in table.into_iter().enumerate() {
            let mut d = FailureDetector::new(Millis(0));
            for e in evs {
                match e {
                    Probe(t) => d.probe_sent(Millis(t)),
                    Heard(t) => d.heard(Millis(t)),
                }
            }
            assert_eq!(d.is_down(Millis(now), Millis(timeout)), down, "row {i}");
            let at = d.down_at(Millis(timeout));
            assert!(d.is_down(at, Millis(timeout)), "row {i}");
            assert!(!d.is_down(at - Millis(1), Millis(timeout)), "row {i}");
        }
    }

    #[test]
    fn a_clock_behind_the_last_answer_is_not_silence() {
        let mut d = FailureDetector::new(Millis(0));
        d.heard(Millis(500));
        assert_eq!(d.silence(Millis(400)), Millis(0));
    }
}
