//! Sentinel-wide settings: identity, epoch, announce options, peer auth.

use crate::election::EpochClock;
use crate::ids::RunId;

/// The global `sentinel ...` state that is not per master.
#[derive(Clone, Debug)]
pub struct Settings {
    pub(crate) myid: Option<RunId>,
    pub(crate) current_epoch: EpochClock,
    pub(crate) announce_ip: Option<String>,
    pub(crate) announce_port: u16,
    pub(crate) deny_scripts_reconfig: bool,
    /// Credentials for links to peer sentinels: any bytes.
    pub(crate) sentinel_user: Option<Vec<u8>>,
    pub(crate) sentinel_pass: Option<Vec<u8>>,
    pub(crate) resolve_hostnames: bool,
    pub(crate) announce_hostnames: bool,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            myid: None,
            current_epoch: EpochClock::default(),
            announce_ip: None,
            announce_port: 0,
            deny_scripts_reconfig: true,
            sentinel_user: None,
            sentinel_pass: None,
            resolve_hostnames: false,
            announce_hostnames: false,
        }
    }
}

/// Redis's yes/no parsing (case-insensitive).
pub fn parse_yes_no(s: &str) -> Option<bool> {
    if s.eq_ignore_ascii_case("yes") {
        Some(true)
    } else if s.eq_ignore_ascii_case("no") {
        Some(false)
    } else {
        None
    }
}

pub fn yes_no(b: bool) -> &'static str {
    if b {
        "yes"
    } else {
        "no"
    }
}
