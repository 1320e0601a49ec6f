//! The acting half of the timer and of INFO handling: what a sentinel does
//! (rather than observes) about a master. Skipped entirely during TILT.

use super::info::InfoReport;
use super::links::Target;
use super::Sentinel;
use crate::time::Millis;

impl Sentinel {
    /// Per-master work after SDOWN/ODOWN were judged.
    pub(crate) fn master_acting(&mut self, now: Millis, name: &str) {
        self.ask_master_state(now, name, false);
    }

    /// Work done once per tick after every instance was handled.
    pub(crate) fn after_tick(&mut self, _now: Millis) {}

    /// Reactions to an INFO reply (promotion, demotion, reconfiguration).
    pub(crate) fn info_acting(
        &mut self,
        _now: Millis,
        _master: &str,
        _target: &Target,
        _report: &InfoReport,
    ) {
    }
}
