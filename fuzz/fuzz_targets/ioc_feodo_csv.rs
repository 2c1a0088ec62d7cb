//! The Feodo Tracker CSV blocklist parser; a banner naming `dst_ip` and `dst_port` makes
//! detection choose it (the banner is one field, so it is not taken as the header).
#![no_main]

use c2tap_fuzz::{check_feed, without};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = check_feed(b"# Feodo Tracker dst_ip dst_port\n", &without(data, b"\0"));
});
