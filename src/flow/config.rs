//! Settings and outcomes of the flow table: the size bound and per-class idle timeouts the
//! config file sets, why a flow left, and the counters the metrics publish.

use crate::time::{secs, Nanos};

/// Ranges of the flow settings that both the command line (`replay`) and the config file set:
/// one source, so `--max-flows 0` is refused exactly like `flow.max_flows = 0`.
pub mod limits {
    use std::ops::RangeInclusive;

    /// Tracked flows (`--max-flows`, `flow.max_flows`): at least one, and a bound that fits
    /// memory (about 200 bytes a flow: 100,000,000 is 20 GB).
    pub const MAX_FLOWS: RangeInclusive<u64> = 1..=100_000_000;
    /// Alert hold-down in ms (`--holddown-ms`, `flow.holddown`): off to one day.
    pub const HOLDDOWN_MS: RangeInclusive<u64> = 0..=86_400_000;
}

/// Idle timeouts per class, in packet time.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Timeouts {
    pub tcp_opening: Nanos,
    pub tcp_established: Nanos,
    pub tcp_closed: Nanos,
    pub udp: Nanos,
    pub other: Nanos,
}

impl Default for Timeouts {
    /// Close to a production IDS's defaults: short for half-open and closed TCP, long for
    /// established sessions (a C2 session idles between heartbeats).
    fn default() -> Self {
        Timeouts {
            tcp_opening: secs(30),
            tcp_established: secs(600),
            tcp_closed: secs(10),
            udp: secs(120),
            other: secs(60),
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FlowConfig {
    /// Hard bound on tracked flows per table.
    pub max_flows: usize,
    pub timeouts: Timeouts,
}

impl Default for FlowConfig {
    fn default() -> Self {
        FlowConfig {
            max_flows: 500_000,
            timeouts: Timeouts::default(),
        }
    }
}

/// Why a flow left the table.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EndReason {
    /// FIN both ways, then the closed timeout.
    Closed,
    /// RST, then the closed timeout.
    Reset,
    /// Idle past its timeout.
    Timeout,
    /// Made room in a full table.
    Evicted,
    /// End of the capture or shutdown.
    Shutdown,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TableStats {
    pub created: u64,
    pub evicted: u64,
    /// Of `evicted`: flows that matched an IOC, evicted because nothing else was left (their
    /// summary says `act=evicted`).
    pub evicted_protected: u64,
    pub timed_out: u64,
}
