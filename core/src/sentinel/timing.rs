//! Sentinel's timing constants. Redis lets `SENTINEL DEBUG` change them at
//! run time (never persisted), so they live in a value, not in consts.

pub const DEFAULT_DOWN_AFTER: u64 = 30_000;
pub const DEFAULT_FAILOVER_TIMEOUT: u64 = 180_000;

/// The tunable periods, with Redis's defaults.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Timing {
    pub(crate) info_period: u64,
    pub(crate) ping_period: u64,
    pub(crate) ask_period: u64,
    pub(crate) publish_period: u64,
    pub(crate) default_down_after: u64,
    pub(crate) default_failover_timeout: u64,
    pub(crate) tilt_trigger: u64,
    pub(crate) tilt_period: u64,
    pub(crate) slave_reconf_timeout: u64,
    pub(crate) min_link_reconnect_period: u64,
    pub(crate) election_timeout: u64,
    pub(crate) script_max_runtime: u64,
    pub(crate) script_retry_delay: u64,
}

impl Default for Timing {
    fn default() -> Self {
        Timing {
            info_period: 10_000,
            ping_period: 1_000,
            ask_period: 1_000,
            publish_period: 2_000,
            default_down_after: DEFAULT_DOWN_AFTER,
            default_failover_timeout: DEFAULT_FAILOVER_TIMEOUT,
            tilt_trigger: 2_000,
            tilt_period: 30_000,
            slave_reconf_timeout: 10_000,
            min_link_reconnect_period: 15_000,
            election_timeout: 10_000,
            script_max_runtime: 60_000,
            script_retry_delay: 30_000,
        }
    }
}

impl Timing {
    /// `(DEBUG name, value)` in the order `SENTINEL DEBUG` lists them.
    pub fn entries(&self) -> [(&'static str, u64); 13] {
        [
            ("INFO-PERIOD", self.info_period),
            ("PING-PERIOD", self.ping_period),
            ("ASK-PERIOD", self.ask_period),
            ("PUBLISH-PERIOD", self.publish_period),
            ("DEFAULT-DOWN-AFTER", self.default_down_after),
            ("DEFAULT-FAILOVER-TIMEOUT", self.default_failover_timeout),
            ("TILT-TRIGGER", self.tilt_trigger),
            ("TILT-PERIOD", self.tilt_period),
            ("SLAVE-RECONF-TIMEOUT", self.slave_reconf_timeout),
            ("MIN-LINK-RECONNECT-PERIOD", self.min_link_reconnect_period),
            ("ELECTION-TIMEOUT", self.election_timeout),
            ("SCRIPT-MAX-RUNTIME", self.script_max_runtime),
            ("SCRIPT-RETRY-DELAY", self.script_retry_delay),
        ]
    }

    /// The field a lower-case `SENTINEL DEBUG` parameter names.
    pub fn field_mut(&mut self, name: &str) -> Option<&mut u64> {
        Some(match name.to_ascii_lowercase().as_str() {
            "info-period" => &mut self.info_period,
            "ping-period" => &mut self.ping_period,
            "ask-period" => &mut self.ask_period,
            "publish-period" => &mut self.publish_period,
            "default-down-after" => &mut self.default_down_after,
            "default-failover-timeout" => &mut self.default_failover_timeout,
            "tilt-trigger" => &mut self.tilt_trigger,
            "tilt-period" => &mut self.tilt_period,
            "slave-reconf-timeout" => &mut self.slave_reconf_timeout,
            "min-link-reconnect-period" => &mut self.min_link_reconnect_period,
            "election-timeout" => &mut self.election_timeout,
            "script-max-runtime" => &mut self.script_max_runtime,
            "script-retry-delay" => &mut self.script_retry_delay,
            _ => return None,
        })
    }
}
