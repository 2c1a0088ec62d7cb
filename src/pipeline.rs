//! Pipeline: the per-worker loop that both `c2tap replay` and `c2tap run` drive — decode, IOC
//! check, flow update, alert decisions — so live capture and replay share one code path.
//!
//! A worker owns its flow table and counters outright (AF_PACKET fanout keeps each flow on one
//! worker). The only shared state on the packet path is the IOC handle (one atomic load per
//! packet) and, for matched flows only, the claim map that keeps one alert per flow when a
//! mirrored flow reaches two workers through two tunnels.

use crate::detect::storm::StormConfig;
use crate::flow::FlowConfig;
use crate::time::{Nanos, NANOS_PER_SEC};

mod claims;
mod emitter;
mod fragments;
mod late;
mod lookahead;
pub mod stats;
mod timers;
mod worker;

pub use claims::Claims;
pub use stats::WorkerStats;
pub use timers::PENDING_MAX;
pub use worker::Worker;

/// Settings of the per-packet path.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct WorkerConfig {
    pub flow: FlowConfig,
    /// How long a matched TCP flow's alert may wait to learn the outcome (packet time).
    pub holddown: Nanos,
    /// Track every flow (default), or only flows that touch an IOC ("alerts only").
    pub track_all: bool,
    /// When one IOC's flows become a storm of 1005 records instead of per-flow ones.
    pub storm: StormConfig,
}

impl Default for WorkerConfig {
    fn default() -> Self {
        WorkerConfig {
            flow: FlowConfig::default(),
            holddown: 3 * NANOS_PER_SEC,
            track_all: true,
            storm: StormConfig::default(),
        }
    }
}

/// A step back in packet time worth reporting (files out of order, a clock step).
pub const TIME_STEP_BACK: Nanos = NANOS_PER_SEC;
/// A jump ahead in packet time worth reporting (a clock set decades ahead, a long gap).
pub const TIME_JUMP: Nanos = 3600 * NANOS_PER_SEC;

/// The longest wire length taken at its word: the largest IP packet plus generous link-layer
/// overhead (Ethernet, stacked VLAN tags and MPLS labels, a pseudowire's inner Ethernet). A file
/// can claim anything (4 GB per frame from a crafted or corrupt record header); a longer claim
/// than this and what was captured, or a shorter one than what was captured, counts the
/// captured length instead.
pub const WIRE_LEN_MAX: u32 = 65_535 + 256;
