//! The per-worker flow table: a presized hash map with a hard size bound and timeouts on
//! packet time. Each worker owns one (AF_PACKET fanout keeps a flow on one worker), so there is
//! no lock on the per-packet path.
//!
//! Timeouts use one FIFO queue per timeout class. A flow has exactly one live entry; a packet
//! only refreshes `flow.last`, and an entry found unexpired at the head is pushed back — so
//! expiry costs O(1) amortized per flow instead of a scan of the table.

use std::collections::hash_map::Entry;
use std::collections::{HashMap, VecDeque};

use foldhash::fast::RandomState;

use crate::decode::proto;
use crate::time::{secs, Nanos};

use super::key::FlowKey;
use super::state::{AlertState, Flow, Phase};

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

const CLASSES: usize = 5;

/// Flows the table has room for before its first growth.
const INITIAL_CAPACITY: usize = 1 << 16;

/// Timeout class of a flow; also the index of its queue.
fn class_of(key: &FlowKey, flow: &Flow) -> usize {
    match flow.phase {
        Phase::Opening => 0,
        Phase::Established => 1,
        Phase::Closed => 2,
        Phase::Connectionless if key.proto == proto::UDP => 3,
        Phase::Connectionless => 4,
    }
}

/// Eviction order: what is cheapest to lose first. Half-open and closed flows go before
/// connectionless ones, and established sessions last.
const EVICTION_ORDER: [usize; CLASSES] = [2, 0, 4, 3, 1];

#[derive(Clone, Copy, Debug)]
struct QEntry {
    key: FlowKey,
    seq: u64,
    /// Lower bound of the flow's last packet time when the entry was pushed.
    since: Nanos,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TableStats {
    pub created: u64,
    pub evicted: u64,
    pub timed_out: u64,
}

pub struct FlowTable {
    map: HashMap<FlowKey, Flow, RandomState>,
    queues: [VecDeque<QEntry>; CLASSES],
    cfg: FlowConfig,
    next_seq: u64,
    next_id: u64,
    pub stats: TableStats,
}

impl FlowTable {
    pub fn new(cfg: FlowConfig) -> FlowTable {
        let max = cfg.max_flows.max(1);
        FlowTable {
            // Sized for a typical load, grown on demand: a table presized to its bound would
            // spread a few flows over hundreds of MiB and pay a TLB miss on every packet.
            map: HashMap::with_capacity_and_hasher(
                max.min(INITIAL_CAPACITY),
                RandomState::default(),
            ),
            queues: Default::default(),
            cfg: FlowConfig {
                max_flows: max,
                ..cfg
            },
            next_seq: 1,
            next_id: 1,
            stats: TableStats::default(),
        }
    }

    pub fn len(&self) -> usize {
        self.map.len()
    }

    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }

    pub fn config(&self) -> &FlowConfig {
        &self.cfg
    }

    #[inline]
    pub fn get_mut(&mut self, key: &FlowKey) -> Option<&mut Flow> {
        self.map.get_mut(key)
    }

    fn timeout(&self, class: usize) -> Nanos {
        let t = &self.cfg.timeouts;
        match class {
            0 => t.tcp_opening,
            1 => t.tcp_established,
            2 => t.tcp_closed,
            3 => t.udp,
            _ => t.other,
        }
    }

    fn push(&mut self, class: usize, key: FlowKey, since: Nanos) -> u64 {
        push(&mut self.queues[class], &mut self.next_seq, key, since)
    }

    /// The flow of `key`, created (making room first when the table is full) if it is new.
    /// One hash lookup on the common path; evicted flows are handed to `ended` so their
    /// summaries are not lost.
    #[inline]
    pub fn upsert(
        &mut self,
        key: FlowKey,
        now: Nanos,
        connection_oriented: bool,
        ended: &mut dyn FnMut(FlowKey, Flow, EndReason),
    ) -> (&mut Flow, bool) {
        if self.map.len() >= self.cfg.max_flows && !self.map.contains_key(&key) {
            self.evict_one(ended);
        }
        if self.stats.created & 1023 == 0 {
            self.maybe_compact();
        }
        match self.map.entry(key) {
            Entry::Occupied(e) => (e.into_mut(), false),
            Entry::Vacant(v) => {
                let id = self.next_id;
                self.next_id += 1;
                let mut flow = Flow::new(id, now, connection_oriented);
                let class = class_of(&key, &flow);
                flow.queue_seq = push(&mut self.queues[class], &mut self.next_seq, key, now);
                self.stats.created += 1;
                let flow = v.insert(flow);
                (flow, true)
            }
        }
    }

    /// Replace the flow of `key` by a new one (a closed 5-tuple reused by a new SYN); returns
    /// the old flow so its summary can be written.
    pub fn replace(&mut self, key: FlowKey, now: Nanos, connection_oriented: bool) -> Option<Flow> {
        let old = self.map.remove(&key);
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
        self.map.remove(&key);
        self.upsert(key, now, connection_oriented, ended).0
    }

    /// Call after a packet changed a flow's phase: moves its live entry to the new class.
    pub fn requeue(&mut self, key: &FlowKey) {
        let Some(flow) = self.map.get(key) else {
            return;
        };
        let class = class_of(key, flow);
        let last = flow.last;
        let seq = self.push(class, *key, last);
        if let Some(flow) = self.map.get_mut(key) {
            flow.queue_seq = seq;
        }
    }

    /// The queue class a flow currently belongs to (for callers that detect phase changes).
    pub fn class(key: &FlowKey, flow: &Flow) -> usize {
        class_of(key, flow)
    }

    /// Remove a flow now (e.g. a closed 5-tuple reused by a new SYN).
    pub fn remove(&mut self, key: &FlowKey) -> Option<Flow> {
        self.map.remove(key)
    }

    /// Expire every flow idle past its timeout at packet time `now`.
    pub fn expire(&mut self, now: Nanos, ended: &mut dyn FnMut(FlowKey, Flow, EndReason)) {
        for class in 0..CLASSES {
            let timeout = self.timeout(class);
            while let Some(&e) = self.queues[class].front() {
                if e.since.saturating_add(timeout) > now {
                    break;
                }
                self.queues[class].pop_front();
                let Some(flow) = self.map.get(&e.key) else {
                    continue;
                };
                if flow.queue_seq != e.seq {
                    continue; // stale: the flow moved class or the 5-tuple was reused
                }
                if flow.last.saturating_add(timeout) <= now {
                    if let Some(flow) = self.map.remove(&e.key) {
                        self.stats.timed_out += 1;
                        let reason = end_reason(&flow, EndReason::Timeout);
                        ended(e.key, flow, reason);
                    }
                } else {
                    let last = flow.last;
                    let seq = self.push(class, e.key, last);
                    if let Some(flow) = self.map.get_mut(&e.key) {
                        flow.queue_seq = seq;
                    }
                }
            }
        }
    }

    /// Make room for one flow. Flows that matched an IOC are protected: they are only evicted
    /// when every tracked flow matched, and then with their summary.
    fn evict_one(&mut self, ended: &mut dyn FnMut(FlowKey, Flow, EndReason)) {
        let mut fallback: Option<FlowKey> = None;
        for class in EVICTION_ORDER {
            let mut budget = self.queues[class].len();
            while budget > 0 {
                budget -= 1;
                let Some(e) = self.queues[class].pop_front() else {
                    break;
                };
                let Some(flow) = self.map.get(&e.key) else {
                    continue;
                };
                if flow.queue_seq != e.seq {
                    continue;
                }
                if flow.alert != AlertState::None {
                    fallback.get_or_insert(e.key);
                    self.queues[class].push_back(e);
                    continue;
                }
                if let Some(flow) = self.map.remove(&e.key) {
                    self.stats.evicted += 1;
                    ended(e.key, flow, EndReason::Evicted);
                    return;
                }
            }
        }
        if let Some(key) = fallback {
            if let Some(flow) = self.map.remove(&key) {
                self.stats.evicted += 1;
                ended(key, flow, EndReason::Evicted);
            }
        }
    }

    /// Stale entries (moved or removed flows) normally drain as they reach the head; a burst of
    /// short connections could pile them up behind a long timeout, so bound them.
    fn maybe_compact(&mut self) {
        let total: usize = self.queues.iter().map(VecDeque::len).sum();
        if total <= self.cfg.max_flows.saturating_mul(2).saturating_add(1024) {
            return;
        }
        let map = &self.map;
        for q in &mut self.queues {
            q.retain(|e| map.get(&e.key).is_some_and(|f| f.queue_seq == e.seq));
        }
    }

    /// Remove every flow (end of replay, shutdown), oldest first so output is deterministic.
    pub fn drain(&mut self, ended: &mut dyn FnMut(FlowKey, Flow, EndReason)) {
        let mut all: Vec<(FlowKey, Flow)> = self.map.drain().collect();
        all.sort_by_key(|(_, f)| (f.first, f.id));
        for q in &mut self.queues {
            q.clear();
        }
        for (key, flow) in all {
            let reason = end_reason(&flow, EndReason::Shutdown);
            ended(key, flow, reason);
        }
    }

    /// Visit every flow (retro-matching after an IOC reload), in a deterministic order.
    pub fn keys_by_age(&self) -> Vec<FlowKey> {
        let mut keys: Vec<(Nanos, u64, FlowKey)> =
            self.map.iter().map(|(k, f)| (f.first, f.id, *k)).collect();
        keys.sort_unstable_by_key(|(first, id, _)| (*first, *id));
        keys.into_iter().map(|(_, _, k)| k).collect()
    }
}

/// Append a live entry for `key`. Keeps each queue ordered by `since` (see module doc): a
/// slightly later `since` only delays an expiry, never advances it.
fn push(q: &mut VecDeque<QEntry>, next_seq: &mut u64, key: FlowKey, since: Nanos) -> u64 {
    let seq = *next_seq;
    *next_seq += 1;
    let since = q.back().map_or(since, |b| b.since.max(since));
    q.push_back(QEntry { key, seq, since });
    seq
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
    use crate::flow::key::Dir;

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
        let queued: usize = t.queues.iter().map(VecDeque::len).sum();
        assert!(queued <= 2 * 100 + 1024 + 1);
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
