//! Leaving the table: idle flows time out on packet time, a full table evicts (unmatched
//! flows first), and shutdown drains every flow oldest first, each with its end reason.

use crate::time::Nanos;

use super::*;

impl FlowTable {
    /// The live flow a queue entry names, if the entry is not stale.
    fn queued(&self, slot: u32, seq: u64) -> Option<&Flow> {
        let flow = &self.entries.get(slot as usize)?.flow;
        (flow.queue_seq == seq).then_some(flow)
    }

    /// Expire every flow idle past its timeout at packet time `now`.
    pub fn expire(&mut self, now: Nanos, ended: &mut dyn FnMut(FlowKey, Flow, EndReason)) {
        for class in 0..CLASSES {
            let timeout = self.timeout(class);
            while let Some(e) = self.queues.front(class) {
                if e.since.saturating_add(timeout) > now {
                    break;
                }
                self.queues.pop_front(class);
                let Some(flow) = self.queued(e.slot, e.seq) else {
                    continue; // stale: the flow moved class or left the table
                };
                let last = flow.last;
                if last.saturating_add(timeout) <= now {
                    if let Some((key, flow)) = self.take(e.slot) {
                        self.stats.timed_out += 1;
                        let reason = end_reason(&flow, EndReason::Timeout);
                        ended(key, flow, reason);
                    }
                } else {
                    let seq = self.queues.push(class, e.slot, last);
                    if let Some(flow) = self.flow_mut(e.slot) {
                        flow.queue_seq = seq;
                    }
                }
            }
        }
    }

    /// Make room for one flow: the oldest ordinary flow (cheapest class first), or, when only
    /// protected flows (matched an IOC) are left, the oldest of those, with its summary.
    /// O(1) amortized whatever the table holds: protected flows sit in queues of their own, so
    /// a flood of matched flows (spoofed SYNs from a C2 address) never makes this step over
    /// them; the only entries passed over are stale ones (each pushed once, dropped once) and
    /// a flow whose protection changed without a [`FlowTable::requeue`] (moved once).
    pub(super) fn evict_one(&mut self, ended: &mut dyn FnMut(FlowKey, Flow, EndReason)) {
        for class in EVICTION_ORDER {
            while let Some(e) = self.queues.pop_front(class) {
                #[cfg(test)]
                {
                    self.eviction_steps += 1;
                }
                let Some(entry) = self.entries.get(e.slot as usize) else {
                    continue;
                };
                if entry.flow.queue_seq != e.seq {
                    continue; // stale: the flow moved class or left the table
                }
                let belongs = class_of(&entry.key, &entry.flow);
                if belongs != class {
                    let seq = self.queues.push(belongs, e.slot, e.since);
                    if let Some(flow) = self.flow_mut(e.slot) {
                        flow.queue_seq = seq;
                    }
                    continue;
                }
                if let Some((key, flow)) = self.take(e.slot) {
                    self.stats.evicted += 1;
                    if is_protected_class(class) {
                        self.stats.evicted_protected += 1;
                    }
                    self.prefetch_victims(class);
                    ended(key, flow, EndReason::Evicted);
                    return;
                }
            }
        }
    }

    /// Under a flood every packet evicts: fetch the entry of the victim [`VICTIM_ENTRY_AHEAD`]
    /// evictions ahead and the index slot of the one [`VICTIM_SLOT_AHEAD`] ahead (its hash is
    /// in its entry, fetched earlier) while the packets in between are processed.
    #[inline]
    fn prefetch_victims(&self, class: usize) {
        if let Some(e) = self.queues.get(class, VICTIM_ENTRY_AHEAD) {
            self.prefetch_entry(e.slot);
        }
        if let Some(entry) = self
            .queues
            .get(class, VICTIM_SLOT_AHEAD)
            .and_then(|e| self.entries.get(e.slot as usize))
        {
            self.index.prefetch(entry.hash);
        }
    }

    /// Stale entries (moved or removed flows) normally drain as they reach the head; a burst of
    /// short connections could pile them up behind a long timeout, so bound them.
    pub(super) fn maybe_compact(&mut self) {
        let bound = self.cfg.max_flows.saturating_mul(2).saturating_add(1024);
        if self.queues.total_len() <= bound {
            return;
        }
        let entries = &self.entries;
        self.queues.retain(|e| {
            entries
                .get(e.slot as usize)
                .is_some_and(|x| x.flow.queue_seq == e.seq)
        });
    }

    /// Live flows as (first packet time, id, slot), oldest first: a deterministic order.
    /// With `matched_only`, just the flows that matched an IOC.
    fn by_age(&self, matched_only: bool) -> Vec<(Nanos, u64, u32)> {
        let mut all: Vec<(Nanos, u64, u32)> = self
            .index
            .entries()
            .filter_map(|slot| {
                let f = &self.entries.get(slot as usize)?.flow;
                (!matched_only || f.matched.is_some()).then_some((f.first, f.id, slot))
            })
            .collect();
        all.sort_unstable();
        all
    }

    /// Remove every flow (end of replay, shutdown). Flows that matched an IOC leave last and
    /// oldest first, so their summaries come out in a deterministic order; the others (which
    /// only count) leave first, in slab order — deterministic too, and no sort of the whole
    /// table. Flows leave one at a time: no second copy of a full table.
    pub fn drain(&mut self, ended: &mut dyn FnMut(FlowKey, Flow, EndReason)) {
        let matched = self.by_age(true);
        for e in &mut self.entries {
            if e.flow.queue_seq != 0 && e.flow.matched.is_none() {
                let flow = std::mem::replace(&mut e.flow, vacant());
                let reason = end_reason(&flow, EndReason::Shutdown);
                ended(e.key, flow, reason);
            }
        }
        for (_, _, slot) in matched {
            if let Some(e) = self.entries.get_mut(slot as usize) {
                let flow = std::mem::replace(&mut e.flow, vacant());
                let reason = end_reason(&flow, EndReason::Shutdown);
                ended(e.key, flow, reason);
            }
        }
        self.index.clear();
        self.entries = Vec::new();
        self.free = Vec::new();
        self.queues.clear();
    }

    /// Visit every flow (retro-matching after an IOC reload), in a deterministic order.
    pub fn keys_by_age(&self) -> Vec<FlowKey> {
        self.by_age(false)
            .into_iter()
            .filter_map(|(_, _, slot)| Some(self.entries.get(slot as usize)?.key))
            .collect()
    }
}

/// A closed TCP flow ends as Closed/Reset whatever removed it from the table.
fn end_reason(flow: &Flow, otherwise: EndReason) -> EndReason {
    if flow.phase != Phase::Closed {
        return otherwise;
    }
    if flow.rst_seen[0] || flow.rst_seen[1] {
        EndReason::Reset
    } else {
        EndReason::Closed
    }
}
