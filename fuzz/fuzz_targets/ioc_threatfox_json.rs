//! The ThreatFox JSON export parser (an object keyed by IOC id).
#![no_main]

use c2tap_fuzz::check_feed;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = check_feed(b"{", data);
});
