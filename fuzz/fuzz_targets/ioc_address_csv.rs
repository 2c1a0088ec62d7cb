//! The generic `ip,port[,malware]` CSV parser, behind its header. Quotes and pipes are blanked
//! so format detection keeps choosing this parser over ThreatFox's CSV and markdown.
#![no_main]

use c2tap_fuzz::{check_feed, without};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = check_feed(b"ip,port,malware\n", &without(data, b"|\"\0"));
});
