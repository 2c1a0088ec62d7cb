//! Packet time. All time inside c2tap (timeouts, hold-downs, record timestamps) is the capture
//! timestamp of the packets, never the wall clock, so a replay is deterministic.

/// Nanoseconds since the Unix epoch, UTC, as stamped by the capture.
pub type Nanos = u64;

pub const NANOS_PER_SEC: u64 = 1_000_000_000;
pub const NANOS_PER_MILLI: u64 = 1_000_000;

/// Epoch milliseconds, the time unit CEF `rt`/`start`/`end` carry.
pub fn to_millis(t: Nanos) -> u64 {
    t / NANOS_PER_MILLI
}

/// Seconds to nanoseconds, saturating so that a huge configured timeout cannot wrap.
pub fn secs(s: u64) -> Nanos {
    s.saturating_mul(NANOS_PER_SEC)
}
