//! TILT: when timer passes arrive too far apart (or time runs backwards)
//! the sentinel's view of timeouts cannot be trusted, so for a while it
//! keeps monitoring but stops acting; entered and left here, checked at the
//! start of every timer pass.

use super::{Level, Sentinel};
use crate::time::Millis;

impl Sentinel {
    pub(crate) fn check_tilt(&mut self, now: Millis) {
        if let Some(prev) = self.previous_tick {
            let backwards = now < prev;
            // Passes are TIMER_PERIOD apart when something is due, further
            // apart by plan when nothing is: only lateness beyond the plan
            // is a stall (Redis, ticking every 100 ms, sees the same).
            let planned_extra = self
                .wakeups
                .planned
                .filter(|p| *p > prev)
                .map_or(0, |p| p.since(prev + super::timer::TIMER_PERIOD).0);
            if backwards || now.since(prev).0 > self.timing.tilt_trigger + planned_extra {
                if !self.tilt {
                    self.tilt = true;
                    self.out
                        .event(Level::Warning, "+tilt", "#tilt mode entered".into());
                }
                self.tilt_start = now;
            }
        }
        self.previous_tick = Some(now);
        if self.tilt && now.since(self.tilt_start).0 > self.timing.tilt_period {
            self.tilt = false;
            self.out
                .event(Level::Warning, "-tilt", "#tilt mode exited".into());
        }
    }
}
