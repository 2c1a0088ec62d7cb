//! The ThreatFox API reply parser; the input continues an object that starts with
//! `query_status`, which makes detection choose it.
#![no_main]

use c2tap_fuzz::check_feed;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = check_feed(b"{\"query_status\": \"ok\", ", data);
});
