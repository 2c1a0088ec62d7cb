//! ZIP-packed feeds (the ThreatFox full export): the archive reader, entry choice and size
//! bounds, then format detection of the entry.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = c2tap_fuzz::check_feed(b"PK", data);
});
