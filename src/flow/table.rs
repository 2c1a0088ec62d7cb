//! The per-worker flow table: flows with a hard size bound and timeouts on packet time. Each
//! worker owns one (AF_PACKET fanout keeps a flow on one worker), so there is no lock on the
//! per-packet path.
//!
//! Layout, chosen for cache misses (the per-packet cost on ~10^5 flows): flows live in a slab
//! (`Vec` of key + flow, freed positions reused first), found through a compact hash
//! [`index`](super::index). Because a flow's hash is known before its lookup, the worker
//! prefetches the index slot and then the entry a few packets ahead ([`FlowTable::prefetch_slot`],
//! [`FlowTable::prefetch_flow`]). Timeouts use per-class FIFO queues ([`super::timers`]).

use std::hash::BuildHasher;

use foldhash::fast::RandomState;

use crate::time::Nanos;

pub use super::config::{EndReason, FlowConfig, TableStats, Timeouts};
use super::index::{huge_pages, prefetch, Index};
use super::key::FlowKey;
use super::state::{Flow, Phase};
use super::timers::{
    class_of, is_protected_class, Queues, CLASSES, EVICTION_ORDER, TIMEOUT_CLASSES,
};

/// Largest bound a table accepts: slab positions are 32-bit.
const MAX_BOUND: usize = 1 << 30;
/// Most entries whose address space is reserved at once (768 MiB of it at 192 bytes each).
const UPFRONT_MAX: usize = 1 << 22;

/// A flow's hash under its table's hasher, computed once per packet and reused for the
/// prefetches and the lookup.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FlowHash(u64);

/// Cache-line aligned so that key, hash and the per-packet fields of the flow (see
/// [`Flow`]'s layout) are exactly the first two lines; the cold rest sits in the third.
#[repr(C, align(64))]
struct Entry {
    key: FlowKey,
    /// The key's hash, kept (in what would be padding) so removal and eviction prefetch need
    /// not rehash.
    hash: u64,
    flow: Flow,
}

/// Bytes of an entry that every packet reads or writes.
const HOT_BYTES: usize = 128;
/// Eviction prefetch distances (queue positions after the current victim left).
const VICTIM_ENTRY_AHEAD: usize = 3;
const VICTIM_SLOT_AHEAD: usize = 1;

/// What a freed slab position holds: `queue_seq == 0` matches no queue entry.
fn vacant() -> Flow {
    Flow::new(0, 0, false)
}

pub struct FlowTable {
    index: Index,
    entries: Vec<Entry>,
    free: Vec<u32>,
    queues: Queues,
    hasher: RandomState,
    cfg: FlowConfig,
    next_id: u64,
    scratch: Flow,
    pub stats: TableStats,
    /// Queue entries eviction looked at (tests check it stays O(1) per eviction).
    #[cfg(test)]
    eviction_steps: u64,
}

impl FlowTable {
    pub fn new(cfg: FlowConfig) -> FlowTable {
        FlowTable {
            // Grown on demand: a table presized to its bound would spread a few flows over
            // hundreds of MiB and pay a TLB miss on every packet.
            index: Index::new(),
            entries: Vec::new(),
            free: Vec::new(),
            queues: Queues::default(),
            hasher: RandomState::default(),
            cfg: FlowConfig {
                max_flows: cfg.max_flows.clamp(1, MAX_BOUND),
                ..cfg
            },
            next_id: 1,
            scratch: vacant(),
            stats: TableStats::default(),
            #[cfg(test)]
            eviction_steps: 0,
        }
    }

    pub fn len(&self) -> usize {
        self.entries.len() - self.free.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn config(&self) -> &FlowConfig {
        &self.cfg
    }

    #[inline(always)]
    pub fn hash(&self, key: &FlowKey) -> FlowHash {
        FlowHash(self.hasher.hash_one(key))
    }

    /// Hint, a few packets ahead: the index slot of `hash` will be read soon.
    #[inline(always)]
    pub fn prefetch_slot(&self, hash: FlowHash) {
        self.index.prefetch(hash.0);
    }

    /// Hint, once the slot is in cache: the entry it names will be updated soon (its two hot
    /// cache lines).
    #[inline(always)]
    pub fn prefetch_flow(&self, hash: FlowHash) {
        if let Some(slot) = self.index.candidates(hash.0).next() {
            self.prefetch_entry(slot);
        }
    }

    #[inline(always)]
    fn prefetch_entry(&self, slot: u32) {
        if let Some(entry) = self.entries.get(slot as usize) {
            let at = (entry as *const Entry).cast::<u8>();
            prefetch(at);
            prefetch(at.wrapping_add(HOT_BYTES - 1));
        }
    }

    fn find(&self, hash: FlowHash, key: &FlowKey) -> Option<u32> {
        self.index.candidates(hash.0).find(|&slot| {
            self.entries
                .get(slot as usize)
                .is_some_and(|e| e.key == *key)
        })
    }

    #[inline]
    pub fn get_mut(&mut self, key: &FlowKey) -> Option<&mut Flow> {
        let slot = self.find(self.hash(key), key)?;
        self.flow_mut(slot)
    }

    fn flow_mut(&mut self, slot: u32) -> Option<&mut Flow> {
        self.entries.get_mut(slot as usize).map(|e| &mut e.flow)
    }

    fn timeout(&self, class: usize) -> Nanos {
        let t = &self.cfg.timeouts;
        match class % TIMEOUT_CLASSES {
            0 => t.tcp_opening,
            1 => t.tcp_established,
            2 => t.tcp_closed,
            3 => t.udp,
            _ => t.other,
        }
    }

    /// The flow of `key`, created (making room first when the table is full) if it is new.
    /// Evicted flows are handed to `ended` so their summaries are not lost.
    #[inline]
    pub fn upsert(
        &mut self,
        key: FlowKey,
        now: Nanos,
        connection_oriented: bool,
        ended: &mut dyn FnMut(FlowKey, Flow, EndReason),
    ) -> (&mut Flow, bool) {
        let hash = self.hash(&key);
        self.upsert_hashed(key, hash, now, connection_oriented, ended)
    }

    /// [`FlowTable::upsert`] with the hash already computed (by [`FlowTable::hash`] on this
    /// table).
    #[inline]
    pub fn upsert_hashed(
        &mut self,
        key: FlowKey,
        hash: FlowHash,
        now: Nanos,
        connection_oriented: bool,
        ended: &mut dyn FnMut(FlowKey, Flow, EndReason),
    ) -> (&mut Flow, bool) {
        let found = self.find(hash, &key);
        let slot = match found {
            Some(slot) => slot,
            None => {
                if self.len() >= self.cfg.max_flows {
                    self.evict_one(ended);
                }
                self.create(key, hash, now, connection_oriented)
            }
        };
        let created = found.is_none();
        match self.entries.get_mut(slot as usize) {
            Some(e) => (&mut e.flow, created),
            // Unreachable: `find` and `create` return live positions. Kept total without a
            // panic: the caller updates a scratch flow that no one reads.
            None => (&mut self.scratch, created),
        }
    }

    fn create(&mut self, key: FlowKey, hash: FlowHash, now: Nanos, co: bool) -> u32 {
        let id = self.next_id;
        self.next_id += 1;
        let mut flow = Flow::new(id, now, co);
        let slot = match self.free.pop() {
            Some(slot) => slot,
            None => {
                self.reserve_one();
                self.entries.len() as u32
            }
        };
        flow.queue_seq = self.queues.push(class_of(&key, &flow), slot, now);
        let entry = Entry {
            key,
            hash: hash.0,
            flow,
        };
        match self.entries.get_mut(slot as usize) {
            Some(e) => *e = entry,
            None => self.entries.push(entry),
        }
        self.index.insert(hash.0, slot);
        self.stats.created += 1;
        if self.stats.created & 1023 == 0 {
            self.maybe_compact();
        }
        slot
    }

    /// Room for one more entry. The first call reserves address space for the whole bound
    /// (up to [`UPFRONT_MAX`] entries): flows fill the slab from its start, so untouched
    /// pages cost no memory, and the slab never moves (no copy of a full table while it
    /// grows, huge pages from the first flow on). Where that much address space is refused,
    /// the slab grows by doubling instead.
    fn reserve_one(&mut self) {
        let (len, cap) = (self.entries.len(), self.entries.capacity());
        if len < cap {
            return;
        }
        if cap == 0 {
            let upfront = self.cfg.max_flows.min(UPFRONT_MAX);
            if self.entries.try_reserve_exact(upfront).is_ok() {
                huge_pages(self.entries.spare_capacity_mut());
                return;
            }
        }
        let target = (cap * 2).max(64).min(self.cfg.max_flows).max(len + 1);
        self.entries.reserve_exact(target - len);
        huge_pages(self.entries.spare_capacity_mut());
    }

    /// Take the flow at `slot` out of the table.
    fn take(&mut self, slot: u32) -> Option<(FlowKey, Flow)> {
        let entry = self.entries.get_mut(slot as usize)?;
        let (key, hash) = (entry.key, entry.hash);
        let flow = std::mem::replace(&mut entry.flow, vacant());
        self.index.remove(hash, slot);
        self.free.push(slot);
        Some((key, flow))
    }

    /// Replace the flow of `key` by a new one (a closed 5-tuple reused by a new SYN); returns
    /// the old flow so its summary can be written.
    pub fn replace(&mut self, key: FlowKey, now: Nanos, connection_oriented: bool) -> Option<Flow> {
        let old = self.remove(&key);
        let mut noop = |_: FlowKey, _: Flow, _: EndReason| {};
        self.upsert(key, now, connection_oriented, &mut noop);
        old
    }

    /// Insert a new flow (tests and tools; the packet path uses [`FlowTable::upsert`]).
    pub fn insert(
        &mut self,
        key: FlowKey,
        now: Nanos,
        connection_oriented: bool,
        ended: &mut dyn FnMut(FlowKey, Flow, EndReason),
    ) -> &mut Flow {
        self.remove(&key);
        self.upsert(key, now, connection_oriented, ended).0
    }

    /// Call after a packet changed a flow's phase or protection: moves its live entry to the
    /// new class.
    pub fn requeue(&mut self, key: &FlowKey) {
        self.requeue_hashed(key, self.hash(key));
    }

    /// [`FlowTable::requeue`] with the hash already computed.
    pub fn requeue_hashed(&mut self, key: &FlowKey, hash: FlowHash) {
        let Some(slot) = self.find(hash, key) else {
            return;
        };
        let Some(flow) = self.flow_mut(slot) else {
            return;
        };
        let (class, last) = (class_of(key, flow), flow.last);
        let seq = self.queues.push(class, slot, last);
        if let Some(flow) = self.flow_mut(slot) {
            flow.queue_seq = seq;
        }
    }

    /// The queue class a flow currently belongs to (for callers that detect phase changes).
    pub fn class(key: &FlowKey, flow: &Flow) -> usize {
        class_of(key, flow)
    }

    /// Remove a flow now (e.g. a closed 5-tuple reused by a new SYN).
    pub fn remove(&mut self, key: &FlowKey) -> Option<Flow> {
        let slot = self.find(self.hash(key), key)?;
        self.take(slot).map(|(_, flow)| flow)
    }

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
    fn evict_one(&mut self, ended: &mut dyn FnMut(FlowKey, Flow, EndReason)) {
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
    fn maybe_compact(&mut self) {
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decode::proto;
    use crate::flow::key::Dir;
    use crate::flow::AlertState;
    use crate::time::secs;

    fn key(n: u16, proto: u8) -> FlowKey {
        FlowKey {
            lo_addr: 1,
            hi_addr: 2,
            lo_port: n,
            hi_port: 80,
            proto,
            vlan: 0,
            vni: 0,
        }
    }

    #[test]
    fn idle_flows_time_out_on_packet_time_only() {
        let mut t = FlowTable::new(FlowConfig::default());
        let mut ended = Vec::new();
        let k = key(1, proto::UDP);
        t.insert(k, 0, false, &mut |k, _, r| ended.push((k, r)));
        t.expire(secs(119), &mut |k, _, r| ended.push((k, r)));
        assert!(ended.is_empty());
        // A packet at 100 s keeps it alive past the first deadline.
        if let Some(f) = t.get_mut(&k) {
            f.count(Dir::LoToHi, secs(100), 60);
        }
        t.expire(secs(121), &mut |k, _, r| ended.push((k, r)));
        assert!(ended.is_empty());
        t.expire(secs(220), &mut |k, _, r| ended.push((k, r)));
        assert_eq!(ended, vec![(k, EndReason::Timeout)]);
        assert!(t.is_empty());
    }

    #[test]
    fn full_table_evicts_oldest_unmatched_and_protects_matched() {
        let cfg = FlowConfig {
            max_flows: 3,
            ..FlowConfig::default()
        };
        let mut t = FlowTable::new(cfg);
        let mut ended = Vec::new();
        let mut cb = |k: FlowKey, _f: Flow, r| ended.push((k, r));
        t.insert(key(1, proto::TCP), 1, true, &mut cb).alert = AlertState::Sent;
        t.insert(key(2, proto::TCP), 2, true, &mut cb);
        t.insert(key(3, proto::TCP), 3, true, &mut cb);
        t.insert(key(4, proto::TCP), 4, true, &mut cb);
        assert_eq!(ended, vec![(key(2, proto::TCP), EndReason::Evicted)]);
        assert_eq!(t.len(), 3);
        assert!(t.get_mut(&key(1, proto::TCP)).is_some());
        assert_eq!(t.stats.evicted, 1);
    }

    #[test]
    fn the_bound_holds_under_a_flood() {
        let cfg = FlowConfig {
            max_flows: 100,
            ..FlowConfig::default()
        };
        let mut t = FlowTable::new(cfg);
        let mut n = 0u64;
        for i in 0..10_000u16 {
            t.insert(key(i, proto::TCP), u64::from(i), true, &mut |_, _, _| {
                n += 1
            });
            assert!(t.len() <= 100);
        }
        assert_eq!(n, 9_900);
        let queued = t.queues.total_len();
        assert!(queued <= 2 * 100 + 1024 + 1);
    }

    /// A flood of flows that all matched an IOC (spoofed SYNs from a C2 address): each new one
    /// evicts the oldest matched flow, with its summary, after looking at O(1) queue entries —
    /// not at every protected flow in the table.
    #[test]
    fn a_flood_of_protected_flows_evicts_in_constant_work() {
        let bound = 2_000;
        let cfg = FlowConfig {
            max_flows: bound,
            ..FlowConfig::default()
        };
        let mut t = FlowTable::new(cfg);
        let mut ended = Vec::new();
        let flows = 40_000u16;
        for i in 0..flows {
            let k = key(i, proto::TCP);
            t.insert(k, u64::from(i), true, &mut |k, f, r| {
                ended.push((k, f.id, r))
            })
            .alert = AlertState::Pending;
            t.requeue(&k);
            assert!(t.len() <= bound);
        }
        let evicted = usize::from(flows) - bound;
        assert_eq!(ended.len(), evicted);
        assert_eq!(t.stats.evicted_protected, evicted as u64);
        // Oldest first: flow n leaves when flow n + bound arrives.
        for (n, (k, id, reason)) in ended.iter().enumerate() {
            assert_eq!(
                (*k, *id, *reason),
                (key(n as u16, proto::TCP), n as u64 + 1, EndReason::Evicted)
            );
        }
        // Each eviction passes over the stale entry the requeue left, and takes one flow.
        assert!(
            t.eviction_steps <= 3 * evicted as u64,
            "{} queue entries looked at for {evicted} evictions",
            t.eviction_steps
        );
    }

    #[test]
    fn ordinary_flows_leave_before_protected_ones_however_many_those_are() {
        let cfg = FlowConfig {
            max_flows: 1_000,
            ..FlowConfig::default()
        };
        let mut t = FlowTable::new(cfg);
        let mut ended = Vec::new();
        let mut cb = |k: FlowKey, _f: Flow, r| ended.push((k, r));
        t.insert(key(0, proto::TCP), 0, true, &mut cb);
        for i in 1..1_000u16 {
            t.insert(key(i, proto::TCP), u64::from(i), true, &mut cb)
                .alert = AlertState::Sent;
            t.requeue(&key(i, proto::TCP));
        }
        for i in 1_000..1_100u16 {
            t.insert(key(i, proto::TCP), u64::from(i), true, &mut cb);
        }
        // The one ordinary flow, then each newcomer evicts the previous (ordinary) newcomer.
        let want: Vec<(FlowKey, EndReason)> = (0..100u16)
            .map(|i| {
                (
                    key(if i == 0 { 0 } else { 999 + i }, proto::TCP),
                    EndReason::Evicted,
                )
            })
            .collect();
        assert_eq!(ended, want);
        assert_eq!(t.stats.evicted_protected, 0);
        // The 999 stale entries the requeues left are passed over once; then one per eviction.
        assert!(t.eviction_steps <= 999 + 2 * 100, "{}", t.eviction_steps);
    }

    #[test]
    fn entries_keep_their_hot_fields_in_two_cache_lines() {
        assert_eq!(std::mem::size_of::<Entry>(), 192);
        let flow_at = std::mem::offset_of!(Entry, flow);
        assert!(flow_at + std::mem::offset_of!(Flow, shadow) < HOT_BYTES);
    }

    #[test]
    fn drain_reports_closed_flows_as_closed() {
        let mut t = FlowTable::new(FlowConfig::default());
        let k = key(9, proto::TCP);
        let f = t.insert(k, 5, true, &mut |_, _, _| {});
        f.tcp(Dir::LoToHi, crate::decode::tcp_flags::RST);
        let mut ended = Vec::new();
        t.drain(&mut |k, _, r| ended.push((k, r)));
        assert_eq!(ended, vec![(k, EndReason::Reset)]);
    }
}
