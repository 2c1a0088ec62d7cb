//! Whole pcap/pcapng files through the capture-file reader, each packet on into the decoder.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| c2tap_fuzz::check_capture_file(data));
