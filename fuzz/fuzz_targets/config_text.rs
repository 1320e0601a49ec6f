//! Arbitrary sentinel.conf text: reading it and applying every `sentinel`
//! directive must give errors, never panics.
#![no_main]

use libfuzzer_sys::fuzz_target;
use rsentinel::config::{read::parse, sentinel_load_order};
use rsentinel_core::sentinel::Sentinel;
use rsentinel_core::time::Millis;

fuzz_target!(|data: &[u8]| {
    let Ok(directives) = parse(data) else {
        return;
    };
    let sentinel: Vec<_> = directives
        .iter()
        .filter(|d| d.is_sentinel())
        .cloned()
        .collect();
    let mut core = Sentinel::new(1, 26379);
    for d in sentinel_load_order(&sentinel) {
        let _ = core.apply_directive(Millis(0), d.sentinel_raw_args());
    }
    core.ensure_myid();
    let _ = core.config_lines();
});
