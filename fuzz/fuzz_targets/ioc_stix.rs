//! The STIX 2.1 parser (bundles and object arrays, indicator patterns); the input continues a
//! bundle object.
#![no_main]

use c2tap_fuzz::check_feed;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = check_feed(b"{\"type\": \"bundle\", ", data);
});
