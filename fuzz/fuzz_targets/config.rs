//! The config file parser and validator on any text.
#![no_main]

use c2tap::config::RawConfig;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    if let Ok((raw, problems)) = RawConfig::parse_lenient(&text) {
        let strict = RawConfig::parse(&text);
        assert_eq!(strict.is_ok(), problems.is_empty());
        let _ = raw.validate();
    }
});
