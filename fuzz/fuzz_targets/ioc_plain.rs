//! The plain one-IOC-per-line feed parser (defanged forms, comments, URLs). Quotes and pipes
//! are blanked so format detection keeps choosing this parser.
#![no_main]

use c2tap_fuzz::{check_feed, without};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = check_feed(b"# plain\n", &without(data, b"|\"\0"));
});
