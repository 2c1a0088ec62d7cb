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
}

mod expire;

#[cfg(test)]
mod tests;
