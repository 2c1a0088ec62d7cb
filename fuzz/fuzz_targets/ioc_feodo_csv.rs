//! The Feodo Tracker CSV blocklist parser, behind its real column header (which makes
//! detection choose it).
#![no_main]

use c2tap_fuzz::{check_feed, without};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = check_feed(
        b"\"first_seen_utc\",\"dst_ip\",\"dst_port\",\"c2_status\",\"last_online\",\"malware\"\n",
        &without(data, b"\0"),
    );
});
