//! The markdown IOC table parser (write-ups). Quotes are blanked so detection keeps choosing
//! markdown over ThreatFox CSV.
#![no_main]

use c2tap_fuzz::{check_feed, without};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = check_feed(b"| markdown | table |\n", &without(data, b"\"\0"));
});
