//! Worker counters: plain integers the worker loop bumps (no atomics on the packet path), and
//! the one list of them that metrics publishes and sums.

use crate::decode::DecodeError;
use crate::detect::storm::StormStats;

/// Plain per-worker counters: no atomics on the packet path; the metrics scrape reads the
/// published copy.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct WorkerStats {
    pub packets: u64,
    pub bytes: u64,
    pub decode_errors: [u64; DecodeError::ALL.len()],
    /// Later IPv4/IPv6 fragments whose first fragment was not seen (no ports to attribute).
    pub fragments_unattributed: u64,
    pub flows_created: u64,
    pub flows_evicted: u64,
    pub flows_timed_out: u64,
    pub flows_active: u64,
    /// Alerts by signature: [1001, 1002].
    pub matches: [u64; 2],
    pub summaries: u64,
    /// Flows whose alert another worker owns.
    pub shadowed: u64,
    pub retro_matches: u64,
    /// Packets stamped more than [`super::TIME_STEP_BACK`] before the newest time seen (kept in their
    /// flows, but the clock does not go back).
    pub time_steps_back: u64,
    /// Packets stamped more than [`super::TIME_JUMP`] after the newest time seen: every open flow's
    /// timeout passes at once.
    pub time_jumps: u64,
    /// Matched flows evicted from a table holding nothing else (summary `act=evicted`).
    pub flows_evicted_matched: u64,
    /// Alerts sent before their hold-down ended because the hold-down queue was full.
    pub alerts_early: u64,
    pub storms: StormStats,
    /// Frames whose stated wire length was implausible (shorter than what was captured, or
    /// beyond [`super::WIRE_LEN_MAX`]): their captured length was counted instead.
    pub wire_len_implausible: u64,
}
