//! Timeout queues of the flow table: one FIFO per timeout class. A flow has exactly one live
//! entry; a packet only refreshes `flow.last`, and an entry found unexpired at the head is
//! pushed back, so expiry costs O(1) amortized per flow instead of a scan of the table.
//!
//! Entries name a flow by its slab position and the sequence number the flow stored when the
//! entry was pushed: a moved, removed or reused flow leaves a stale entry that simply fails
//! that check when it reaches the head. 24 bytes each, instead of a copy of the 48-byte key.

use std::collections::VecDeque;

use crate::decode::proto;
use crate::time::Nanos;

use super::key::FlowKey;
use super::state::{AlertState, Flow, Phase};

/// Timeout classes (each with its own timeout).
pub(super) const TIMEOUT_CLASSES: usize = 5;
/// Queues: each timeout class twice, once for ordinary flows and once (offset by
/// [`TIMEOUT_CLASSES`]) for protected flows, those that matched an IOC. Keeping protected flows
/// in queues of their own is what makes eviction O(1): it never has to step over them.
pub(super) const CLASSES: usize = 2 * TIMEOUT_CLASSES;

/// Eviction order: what is cheapest to lose first. Half-open and closed flows go before
/// connectionless ones, and established sessions last; every ordinary flow before any
/// protected one. Among protected flows half-open ones go first: a flood of matched flows
/// (spoofed SYNs) is half-open, and a real session that just closed keeps its closed timeout
/// to absorb its last ACK (evicted at once, that ACK would start a second, mid-stream flow).
pub(super) const EVICTION_ORDER: [usize; CLASSES] = [2, 0, 4, 3, 1, 5, 7, 9, 8, 6];

/// Queue of a flow: its timeout class, in the protected half once it matched an IOC.
pub(super) fn class_of(key: &FlowKey, flow: &Flow) -> usize {
    let timeout_class = match flow.phase {
        Phase::Opening => 0,
        Phase::Established => 1,
        Phase::Closed => 2,
        Phase::Connectionless if key.proto == proto::UDP => 3,
        Phase::Connectionless => 4,
    };
    if is_protected(flow) {
        timeout_class + TIMEOUT_CLASSES
    } else {
        timeout_class
    }
}

/// A flow that matched an IOC: it owes an alert or a summary, so it leaves the table last.
pub(super) fn is_protected(flow: &Flow) -> bool {
    flow.alert != AlertState::None
}

/// Whether a queue holds protected flows.
pub(super) fn is_protected_class(class: usize) -> bool {
    class >= TIMEOUT_CLASSES
}

#[derive(Clone, Copy, Debug)]
pub(super) struct QEntry {
    /// Lower bound of the flow's last packet time when the entry was pushed.
    pub since: Nanos,
    pub seq: u64,
    /// Slab position of the flow.
    pub slot: u32,
}

#[derive(Default)]
pub(super) struct Queues {
    queues: [VecDeque<QEntry>; CLASSES],
    next_seq: u64,
}

impl Queues {
    /// Append a live entry and return its sequence number (never 0: a flow whose
    /// `queue_seq` is 0 has no live entry). Keeps each queue ordered by `since`: a slightly
    /// later `since` only delays an expiry, never advances it.
    pub fn push(&mut self, class: usize, slot: u32, since: Nanos) -> u64 {
        self.next_seq += 1;
        let seq = self.next_seq;
        if let Some(q) = self.queues.get_mut(class) {
            let since = q.back().map_or(since, |b| b.since.max(since));
            q.push_back(QEntry { since, seq, slot });
        }
        seq
    }

    pub fn front(&self, class: usize) -> Option<QEntry> {
        self.queues.get(class)?.front().copied()
    }

    /// The `nth` entry from the head of a class's queue.
    pub fn get(&self, class: usize, nth: usize) -> Option<QEntry> {
        self.queues.get(class)?.get(nth).copied()
    }

    pub fn pop_front(&mut self, class: usize) -> Option<QEntry> {
        self.queues.get_mut(class)?.pop_front()
    }

    pub fn total_len(&self) -> usize {
        self.queues.iter().map(VecDeque::len).sum()
    }

    /// Drop every entry for which `live` says false.
    pub fn retain(&mut self, mut live: impl FnMut(&QEntry) -> bool) {
        for q in &mut self.queues {
            q.retain(&mut live);
        }
    }

    pub fn clear(&mut self) {
        for q in &mut self.queues {
            q.clear();
        }
    }
}
