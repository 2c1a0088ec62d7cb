//! What a test with real parts needs before it starts. A test that returned early when a part
//! is missing would be counted as passed, so these panic with the reason instead: a test either
//! runs or fails. The README's test command (scripts/test.sh) installs every part and runs as
//! root.
#![allow(dead_code)] // each test binary uses a part of it

use std::fs;

/// Panics, naming `what` the test needs, unless `present`.
#[track_caller]
pub fn require(present: bool, what: &str) {
    assert!(
        present,
        "this test needs {what}; scripts/test.sh installs every part the suite uses and runs as root"
    );
}

/// Whether this process runs as root (real uid 0).
pub fn is_root() -> bool {
    fs::read_to_string("/proc/self/status")
        .map(|s| s.lines().any(|l| l.starts_with("Uid:\t0\t")))
        .unwrap_or(false)
}

/// Whether the `nobody` account (uid and gid 65534) exists.
pub fn has_nobody() -> bool {
    fs::read_to_string("/etc/passwd")
        .map(|s| s.lines().any(|l| l.starts_with("nobody:x:65534:65534:")))
        .unwrap_or(false)
}
