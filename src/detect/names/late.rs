//! Peer bindings that arrive after the flow they bind was created ([`super::recent`]): the
//! worker asks whether a scan is due, walks the recent flows newest first, and hands each
//! unmatched one here to be matched against the bindings as they stood at its first packet.

use crate::flow::Flow;
use crate::time::Nanos;

use super::recent::Entry;
use super::Names;

impl Names {
    /// True when flows are remembered for late bindings: only while bindings are shared.
    #[inline]
    pub fn remembers(&self) -> bool {
        self.peers.is_some()
    }

    /// Remember a flow just created (call only when [`Names::remembers`]).
    #[inline]
    pub fn remember(&mut self, e: Entry) {
        self.recent.push(e);
    }

    /// True when peer bindings were taken since the recent flows were last scanned.
    #[inline]
    pub fn late(&self) -> bool {
        self.late_since.is_some()
    }

    /// Start a scan: the oldest answer time of the bindings taken since the last one (flows
    /// first seen before it cannot be bound by them). Counted.
    pub fn take_late(&mut self) -> Option<Nanos> {
        let since = self.late_since.take()?;
        self.bindings.stats.late_scans += 1;
        Some(since)
    }

    /// The `i`-th newest flow remembered.
    #[inline]
    pub fn recent(&self, i: usize) -> Option<Entry> {
        self.recent.newest(i)
    }

    /// A scan looked at `n` entries.
    pub fn scanned(&mut self, n: usize) {
        self.bindings.stats.late_visited += n as u64;
    }

    /// True when an address of `e`'s first packet was bound when that packet was seen (the
    /// cheap test before its flow is looked up).
    #[inline]
    pub fn binds(&self, e: &Entry) -> bool {
        self.bindings.either(e.dst, e.src, e.first).is_some()
    }

    /// Match `flow` (remembered as `e`, unmatched) if an address of its first packet was bound
    /// when that packet was seen: the 1011 it would have had, had the binding been there. The
    /// first packet's destination is tried first (a SYN's is the server).
    pub fn attach_late(&mut self, flow: &mut Flow, e: &Entry) -> bool {
        let attached = self.give_binding(flow, e.dst, e.src, !e.from_lo);
        self.bindings.stats.late += u64::from(attached);
        attached
    }
}
