//! The Feodo Tracker JSON blocklist parser (an array of objects with `ip_address`).
#![no_main]

use c2tap_fuzz::check_feed;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = check_feed(b"[{\"ip_address\":", data);
});
