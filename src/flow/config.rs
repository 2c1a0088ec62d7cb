//! Settings and outcomes of the flow table: the size bound and per-class idle timeouts the
//! config file sets, why a flow left, and the counters the metrics publish.

use crate::time::{secs, Nanos};

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
    pub timed_out: u64,
}
