//! The packet decoder on any frame of any link type: byte 0 picks the link type (tunnels are
//! reached through the Ethernet/IP ones), the rest is the frame.
#![no_main]

use c2tap_fuzz::{check_decode, link_type};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Some((&selector, frame)) = data.split_first() {
        check_decode(link_type(selector), frame);
    }
});
