//! Packet time. All time inside c2tap (timeouts, hold-downs, record timestamps) is the capture
//! timestamp of the packets, never the wall clock, so a replay is deterministic. The wall-clock
//! section at the end is for the few "today" questions that are not about packets.

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

// ---------------------------------------------------------------------------------------------
// Wall clock. The one place c2tap reads "today": IOC ages and exclusion expiry, feed staleness,
// health heartbeats and records about the sensor itself. Nothing on the packet path uses it.
// Each returns 0 if the clock is set before the epoch, and saturates far past it.
// ---------------------------------------------------------------------------------------------

fn since_epoch() -> std::time::Duration {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default()
}

/// Wall-clock seconds since the Unix epoch.
pub fn wall_secs() -> u64 {
    since_epoch().as_secs()
}

/// Wall-clock milliseconds since the Unix epoch.
pub fn wall_millis() -> u64 {
    u64::try_from(since_epoch().as_millis()).unwrap_or(u64::MAX)
}

/// Wall-clock nanoseconds since the Unix epoch, in packet-time units ([`Nanos`]).
pub fn wall_nanos() -> Nanos {
    u64::try_from(since_epoch().as_nanos()).unwrap_or(u64::MAX)
}
