//! The ThreatFox CSV export parser; the banner line makes detection choose it.
#![no_main]

use c2tap_fuzz::{check_feed, without};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = check_feed(b"# \"ioc_value\"\n", &without(data, b"\0"));
});
