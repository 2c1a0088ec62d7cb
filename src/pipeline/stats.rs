//! Worker counters: plain integers the worker loop bumps (no atomics on the packet path), and
//! the one list of them that metrics publishes and sums.

use crate::decode::DecodeError;
use crate::detect::names::{NameStats, NAME_EVENTS};
use crate::detect::storm::StormStats;
use crate::record::Signature;

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
    /// Alerts by signature, in [`Signature::ALERTS`] order (1001, 1002, 1010-1013).
    pub matches: [u64; Signature::ALERTS.len()],
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
    /// The name path: DNS/TLS/HTTP parsed and skipped (by reason), bindings, hellos gathered.
    pub names: NameStats,
}

/// How many counters [`WorkerStats::published`] lists.
pub const PUBLISHED: usize =
    18 + DecodeError::ALL.len() + Signature::ALERTS.len() + NAME_EVENTS.len();

impl WorkerStats {
    /// The counters metrics publish, flat and in a fixed order, so the metrics side stores,
    /// loads and sums them without naming a field: a new counter is added here only.
    /// Packet-time anomalies (`time_steps_back`, `time_jumps`) are reported in the replay
    /// summary, not as metrics, and are not listed.
    pub fn published(&self) -> [u64; PUBLISHED] {
        let scalars = [
            self.packets,
            self.bytes,
            self.wire_len_implausible,
            self.fragments_unattributed,
            self.flows_created,
            self.flows_evicted,
            self.flows_timed_out,
            self.flows_active,
            self.summaries,
            self.shadowed,
            self.retro_matches,
            self.flows_evicted_matched,
            self.alerts_early,
            self.storms.records,
            self.storms.untracked,
        ];
        let names = self.names.events();
        let all = scalars
            .iter()
            .chain(&self.decode_errors)
            .chain(&self.matches)
            .chain(&self.storms.folded)
            .chain(&names);
        let mut out = [0; PUBLISHED];
        for (o, v) in out.iter_mut().zip(all) {
            *o = *v;
        }
        out
    }

    /// The counters of [`WorkerStats::published`] back, in its order (the others are zero).
    pub fn from_published(values: &[u64; PUBLISHED]) -> WorkerStats {
        let mut it = values.iter().copied();
        let mut next = || it.next().unwrap_or(0);
        let mut s = WorkerStats {
            packets: next(),
            bytes: next(),
            wire_len_implausible: next(),
            fragments_unattributed: next(),
            flows_created: next(),
            flows_evicted: next(),
            flows_timed_out: next(),
            flows_active: next(),
            summaries: next(),
            shadowed: next(),
            retro_matches: next(),
            flows_evicted_matched: next(),
            alerts_early: next(),
            ..WorkerStats::default()
        };
        s.storms.records = next();
        s.storms.untracked = next();
        for v in s
            .decode_errors
            .iter_mut()
            .chain(&mut s.matches)
            .chain(&mut s.storms.folded)
        {
            *v = next();
        }
        s.names = NameStats::from_events(std::array::from_fn(|_| next()));
        s
    }

    /// Adds `other`'s published counters into these (saturating): the scrape's per-interface
    /// and global sums.
    pub fn add(&mut self, other: &WorkerStats) {
        let mut sum = self.published();
        for (a, v) in sum.iter_mut().zip(other.published()) {
            *a = a.saturating_add(v);
        }
        let (steps_back, jumps) = (self.time_steps_back, self.time_jumps);
        *self = WorkerStats {
            time_steps_back: steps_back,
            time_jumps: jumps,
            ..WorkerStats::from_published(&sum)
        };
    }
}
