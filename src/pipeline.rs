//! Pipeline: the per-worker loop that both `c2tap replay` and `c2tap run` drive — decode, IOC
//! check, flow update, alert decisions — so live capture and replay share one code path.
//!
//! A worker owns its flow table and counters outright (AF_PACKET fanout keeps each flow on one
//! worker). The only shared state on the packet path is the IOC handle (one atomic load per
//! packet) and, for matched flows only, the claim map that keeps one alert per flow when a
//! mirrored flow reaches two workers through two tunnels.

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;

use dashmap::DashMap;

use crate::decode::{self, proto, DecodeError, Layers, LinkType, PacketMeta};
use crate::detect::names::{NameStats, Names};
use crate::detect::storm::{StormConfig, StormStats, Storms};
use crate::detect::{self, Hit, IocHandle};
use crate::flow::{
    AlertState, ClientBasis, Dir, EndReason, Flow, FlowConfig, FlowHash, FlowKey, FlowTable,
};
use crate::ioc::IocSet;
use crate::output::RecordSink;
use crate::record::{Record, Signature};
use crate::time::{Nanos, NANOS_PER_MILLI, NANOS_PER_SEC};

mod lookahead;

use lookahead::{Decoded, Lookahead};

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

/// Which worker alerts for a matched flow seen by several workers.
pub type Claims = DashMap<FlowKey, (usize, u64), foldhash::fast::RandomState>;

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
    /// Packets stamped more than [`TIME_STEP_BACK`] before the newest time seen (kept in their
    /// flows, but the clock does not go back).
    pub time_steps_back: u64,
    /// Packets stamped more than [`TIME_JUMP`] after the newest time seen: every open flow's
    /// timeout passes at once.
    pub time_jumps: u64,
    /// Matched flows evicted from a table holding nothing else (summary `act=evicted`).
    pub flows_evicted_matched: u64,
    /// Alerts sent before their hold-down ended because the hold-down queue was full.
    pub alerts_early: u64,
    pub storms: StormStats,
    /// Frames whose stated wire length was implausible (shorter than what was captured, or
    /// beyond [`WIRE_LEN_MAX`]): their captured length was counted instead.
    pub wire_len_implausible: u64,
    /// The name path: DNS/TLS/HTTP parsed and skipped (by reason), bindings, hellos gathered.
    pub names: NameStats,
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

/// Emits records and keeps the counters that go with them. A separate struct so the flow
/// table's callbacks can borrow it while the table itself is borrowed.
struct Emitter<S: RecordSink> {
    sink: S,
    stats: WorkerStats,
    interfaces: Vec<Arc<str>>,
    claims: Option<Arc<Claims>>,
    worker: usize,
    storms: Storms,
}

impl<S: RecordSink> Emitter<S> {
    fn interface(&self, idx: u16) -> Arc<str> {
        match self.interfaces.get(usize::from(idx)) {
            Some(i) => Arc::clone(i),
            None => Arc::from(""),
        }
    }

    fn alert(&mut self, key: &FlowKey, flow: &mut Flow, action: crate::record::Action) {
        flow.alert = AlertState::Sent;
        if flow.shadow {
            return;
        }
        let Some(m) = flow.matched.as_ref() else {
            return;
        };
        let sig = Signature::for_match(m.kind, flow.name.as_deref());
        let iface = self.interface(flow.iface);
        let rec = detect::flow_record(sig, action, key, flow, m, &iface);
        let Some(rec) = self.storms.fold_alert(rec) else {
            flow.stormed = true;
            return;
        };
        if let Some(n) = sig
            .alert_index()
            .and_then(|i| self.stats.matches.get_mut(i))
        {
            *n += 1;
        }
        self.sink.emit(Record::Flow(rec));
    }

    /// A flow just matched: it counts toward its IOC's storm detection.
    fn matched(&mut self, flow: &Flow, now: Nanos) {
        if let (false, Some(m)) = (flow.shadow, flow.matched.as_ref()) {
            let sink = &mut self.sink;
            self.storms
                .new_flow(&m.ioc.value, now, &mut |rec| sink.emit(rec));
        }
    }

    /// Storm windows that ended send their 1005 records.
    fn storm_tick(&mut self, now: Nanos) {
        let sink = &mut self.sink;
        self.storms.tick(now, &mut |rec| sink.emit(rec));
    }

    /// A flow left the table: settle a still-pending alert, then the summary.
    fn ended(&mut self, key: FlowKey, mut flow: Flow, reason: EndReason) {
        match reason {
            EndReason::Evicted if flow.matched.is_some() => {
                self.stats.flows_evicted += 1;
                self.stats.flows_evicted_matched += 1;
            }
            EndReason::Evicted => self.stats.flows_evicted += 1,
            EndReason::Timeout => self.stats.flows_timed_out += 1,
            _ => {}
        }
        if flow.matched.is_none() {
            return;
        }
        if flow.alert == AlertState::Pending {
            let action = detect::outcome_final(&flow, key.proto);
            self.alert(&key, &mut flow, action);
        }
        if flow.shadow {
            return;
        }
        if let Some(claims) = &self.claims {
            claims.remove_if(&key, |_, owner| *owner == (self.worker, flow.id));
        }
        if flow.stormed {
            self.storms.fold_summary();
            return;
        }
        let Some(m) = flow.matched.as_ref() else {
            return;
        };
        let iface = self.interface(flow.iface);
        let rec = detect::flow_record(
            Signature::FlowSummary,
            detect::end_action(reason),
            &key,
            &flow,
            m,
            &iface,
        );
        self.stats.summaries += 1;
        self.sink.emit(Record::Flow(rec));
    }

    /// Decide whether this worker owns the alert of a newly matched flow.
    fn claim(&mut self, key: &FlowKey, flow: &mut Flow) {
        let Some(claims) = &self.claims else { return };
        let owner = *claims.entry(*key).or_insert((self.worker, flow.id));
        if owner.0 != self.worker {
            flow.shadow = true;
            self.stats.shadowed += 1;
        }
    }
}

/// Ports of first fragments, so later fragments of the same datagram count toward its flow.
struct Fragments {
    map: HashMap<(u128, u128, u32, u8), (u16, u16), foldhash::fast::RandomState>,
    order: VecDeque<((u128, u128, u32, u8), Nanos)>,
}

/// Bound on remembered fragmented datagrams per worker.
const FRAGMENTS_MAX: usize = 4096;
/// How long a first fragment's ports are remembered (packet time).
const FRAGMENT_TTL: Nanos = 30 * NANOS_PER_SEC;

impl Fragments {
    fn new() -> Fragments {
        Fragments {
            map: HashMap::default(),
            order: VecDeque::new(),
        }
    }

    fn id(meta: &PacketMeta, id: u32) -> (u128, u128, u32, u8) {
        use crate::flow::key::addr_bits;
        (addr_bits(meta.src), addr_bits(meta.dst), id, meta.proto)
    }

    fn remember(&mut self, meta: &PacketMeta, id: u32, now: Nanos) {
        let k = Self::id(meta, id);
        if self.map.insert(k, (meta.sport, meta.dport)).is_none() {
            if self.order.len() >= FRAGMENTS_MAX {
                if let Some((old, _)) = self.order.pop_front() {
                    self.map.remove(&old);
                }
            }
            self.order.push_back((k, now));
        }
    }

    fn ports(&self, meta: &PacketMeta, id: u32) -> Option<(u16, u16)> {
        self.map.get(&Self::id(meta, id)).copied()
    }

    fn expire(&mut self, now: Nanos) {
        while let Some(&(k, t)) = self.order.front() {
            if t.saturating_add(FRAGMENT_TTL) > now {
                break;
            }
            self.order.pop_front();
            self.map.remove(&k);
        }
    }
}

/// Most alerts waiting for their hold-down per worker (64 bytes each: 4 MiB). A full queue
/// sends its oldest alert early (counted) rather than grow with a flood of matched flows.
pub const PENDING_MAX: usize = 1 << 16;

/// How often (packet time) timers run: hold-down deadlines and flow timeouts.
const TICK: Nanos = 100 * NANOS_PER_MILLI;

/// [`Worker::decode`] apart from the worker: given only what it uses, the meta is written
/// straight into the frame's [`Decoded`] rather than copied there.
#[inline(always)]
fn decode_frame(
    layers: &mut Layers,
    table: &FlowTable,
    track_all: bool,
    (ts, link, frame, wire_len): (Nanos, LinkType, &[u8], u32),
) -> Decoded {
    let meta = decode::decode_layers(link, frame, layers);
    // Later fragments take their ports from the fragment map, in order; alerts-only mode
    // hashes only the flows it tracks.
    let flow = match &meta {
        Ok(m) if m.fragment.is_none() && track_all => {
            let (key, dir) = FlowKey::of(m, m.sport, m.dport);
            Some((key, dir, table.hash(&key)))
        }
        _ => None,
    };
    Decoded {
        ts,
        wire_len,
        meta,
        flow,
    }
}

pub struct Worker<S: RecordSink> {
    cfg: WorkerConfig,
    iocs: Arc<IocHandle>,
    set: Arc<IocSet>,
    generation: u64,
    table: FlowTable,
    ahead: Lookahead,
    pending: VecDeque<(Nanos, FlowKey, u64)>,
    fragments: Fragments,
    /// Scratch for the other IP layers of the frame being decoded.
    layers: Layers,
    /// Name IOCs: DNS bindings, hellos being gathered, the packet's name match.
    names: Names,
    out: Emitter<S>,
    iface: u16,
    now: Nanos,
    next_tick: Nanos,
}

impl<S: RecordSink> Worker<S> {
    pub fn new(id: usize, cfg: WorkerConfig, iocs: Arc<IocHandle>, sink: S) -> Worker<S> {
        let set = iocs.current();
        let generation = iocs.generation();
        Worker {
            cfg,
            set,
            generation,
            iocs,
            table: FlowTable::new(cfg.flow),
            ahead: Lookahead::new(),
            pending: VecDeque::new(),
            fragments: Fragments::new(),
            layers: Layers::default(),
            names: Names::default(),
            out: Emitter {
                sink,
                stats: WorkerStats::default(),
                interfaces: vec![Arc::from("")],
                claims: None,
                worker: id,
                storms: Storms::new(cfg.storm),
            },
            iface: 0,
            now: 0,
            next_tick: 0,
        }
    }

    /// Share alert ownership with other workers of the same capture (live fanout).
    pub fn with_claims(mut self, claims: Arc<Claims>) -> Self {
        self.out.claims = Some(claims);
        self
    }

    /// Name the interface (or replayed file) the following packets come from. Frames held
    /// by [`Worker::packet_ahead`] came from the previous one, so they are processed first.
    pub fn set_interface(&mut self, name: &str) {
        self.flush();
        if let Some(i) = self.out.interfaces.iter().position(|n| &**n == name) {
            self.iface = u16::try_from(i).unwrap_or(0);
            return;
        }
        if self.out.interfaces.len() < usize::from(u16::MAX) {
            self.out.interfaces.push(Arc::from(name));
            self.iface = u16::try_from(self.out.interfaces.len() - 1).unwrap_or(0);
        }
    }

    pub fn stats(&self) -> WorkerStats {
        let mut s = self.out.stats;
        s.flows_created = self.table.stats.created;
        s.flows_active = self.table.len() as u64;
        s.storms = self.out.storms.stats;
        s.names = self.names.stats();
        s
    }

    pub fn sink_mut(&mut self) -> &mut S {
        &mut self.out.sink
    }

    /// Packet time as this worker knows it (the newest timestamp seen).
    pub fn now(&self) -> Nanos {
        self.now
    }

    /// Process one captured frame now. `wire_len` is the original length on the wire.
    #[inline]
    pub fn packet(&mut self, ts: Nanos, link: LinkType, frame: &[u8], wire_len: u32) {
        let wire_len = self.wire_len(wire_len, frame);
        let d = self.decode(ts, link, frame, wire_len);
        let found = self.names.inspect(&*self.set, ts, frame, &d.meta);
        self.names.arm(found);
        self.process(d);
        self.names.clear();
        if !self.layers.is_empty() {
            self.other_layers(ts);
        }
    }

    /// Process one captured frame a few packets later, and the frame from a few packets ago
    /// now: meanwhile its flow's table slot and entry are fetched into the cache, which is what
    /// a packet costs on a large table. The output is the same as with [`Worker::packet`];
    /// call [`Worker::flush`] when the input pauses or ends.
    #[inline]
    pub fn packet_ahead(&mut self, ts: Nanos, link: LinkType, frame: &[u8], wire_len: u32) {
        if !self.cfg.track_all {
            // Alerts only: the few tracked flows stay in cache; holding frames would only
            // cost copies (measured in benches/pipeline.rs).
            return self.packet(ts, link, frame, wire_len);
        }
        let wire_len = self.wire_len(wire_len, frame);
        let d = self.decode(ts, link, frame, wire_len);
        if let Some(found) = self.names.inspect(&*self.set, ts, frame, &d.meta) {
            // A name match is processed now, after the frames held before it, and only its
            // own flow takes it.
            self.flush();
            self.names.arm(Some(found));
            self.process(d);
            self.names.clear();
        } else if let Some(oldest) = self.ahead.push(d, &self.table) {
            self.process(oldest);
        }
        if !self.layers.is_empty() {
            self.other_layers(ts);
        }
    }

    /// Process every frame still held by [`Worker::packet_ahead`].
    pub fn flush(&mut self) {
        while let Some(d) = self.ahead.pop() {
            self.process(d);
        }
    }

    /// A file can claim any wire length (4 GB per frame from a crafted or corrupt record
    /// header): an implausible one is replaced by the captured length, and counted.
    #[inline(always)]
    fn wire_len(&mut self, wire_len: u32, frame: &[u8]) -> u32 {
        let caplen = u32::try_from(frame.len()).unwrap_or(u32::MAX);
        let implausible = wire_len < caplen || (wire_len > WIRE_LEN_MAX && wire_len > caplen);
        self.out.stats.wire_len_implausible += u64::from(implausible);
        if implausible {
            caplen
        } else {
            wire_len
        }
    }

    /// The part of a packet's work that depends on nothing but the packet itself.
    #[inline(always)]
    fn decode(&mut self, ts: Nanos, link: LinkType, frame: &[u8], wire_len: u32) -> Decoded {
        let track_all = self.cfg.track_all;
        decode_frame(
            &mut self.layers,
            &self.table,
            track_all,
            (ts, link, frame, wire_len),
        )
    }

    /// A frame's IP layers beside its own flow — each tunnel's outer layer, the layer decoding
    /// stopped in — are matched right after the frame is decoded, and tracked only when they
    /// touch an IOC: tunnelled traffic pays an IOC check per layer and no flow update, and the
    /// lookahead holds no layers. A matching layer is tracked once the frames held so far (its
    /// own included) are processed, so every flow still sees its packets in arrival order.
    #[inline(never)]
    fn other_layers(&mut self, ts: Nanos) {
        if self.iocs.generation() != self.generation {
            // A reload is due: let it happen where it would have, then match with the new set.
            self.flush();
            self.reload();
        }
        for i in 0..self.layers.as_slice().len() {
            let Some(&layer) = self.layers.as_slice().get(i) else {
                break;
            };
            let meta = layer.meta;
            let hit = detect::check_packet(&self.set, &meta, meta.sport, meta.dport);
            if hit.is_none() {
                continue;
            }
            self.flush();
            // Keyed like a packet arriving bare in its own context; the record reports `meta`.
            let keyed = PacketMeta {
                tunnel: layer.arrived,
                ..meta
            };
            let (key, dir) = FlowKey::of(&keyed, meta.sport, meta.dport);
            let hash = self.table.hash(&key);
            self.track(ts, &meta, (key, dir, hash), hit);
        }
    }

    #[inline]
    fn process(&mut self, d: Decoded) {
        let ts = d.ts;
        self.out.stats.packets += 1;
        self.out.stats.bytes += u64::from(d.wire_len);
        self.advance(ts);
        let meta = match d.meta {
            Ok(m) => m,
            Err(e) => {
                if let Some(c) = self.out.stats.decode_errors.get_mut(e.index()) {
                    *c += 1;
                }
                return;
            }
        };
        let (sport, dport) = match meta.fragment {
            Some(f) if f.offset == 0 => {
                if meta.has_ports {
                    self.fragments.remember(&meta, f.id, self.now);
                }
                (meta.sport, meta.dport)
            }
            Some(f) => match self.fragments.ports(&meta, f.id) {
                Some(p) => p,
                None => {
                    self.out.stats.fragments_unattributed += 1;
                    return;
                }
            },
            None => (meta.sport, meta.dport),
        };
        // The IOC check comes first: untouched traffic costs two probes in alerts-only mode.
        let hit = detect::check_packet(&self.set, &meta, sport, dport);
        if hit.is_none() && !self.cfg.track_all && !self.names.pending() {
            return;
        }
        let (key, dir, hash) = match d.flow {
            Some(f) => f,
            None => {
                let (key, dir) = FlowKey::of(&meta, sport, dport);
                (key, dir, self.table.hash(&key))
            }
        };
        self.track(ts, &meta, (key, dir, hash), hit);
    }

    fn track(
        &mut self,
        ts: Nanos,
        meta: &PacketMeta,
        (key, dir, hash): (FlowKey, Dir, FlowHash),
        hit: Option<Hit>,
    ) {
        let from_lo = dir == Dir::LoToHi;
        let is_tcp = meta.proto == proto::TCP;
        let flags = meta.tcp_flags;
        let out = &mut self.out;
        let (mut flow, mut created) =
            self.table
                .upsert_hashed(key, hash, ts, is_tcp, &mut |k, f, r| out.ended(k, f, r));
        if is_tcp && !created && flow.is_reuse(flags) {
            // A new connection on a closed 5-tuple: the old flow ends here, a new one starts.
            if let Some(old) = self.table.replace(key, ts, is_tcp) {
                let reason = if old.rst_seen[0] || old.rst_seen[1] {
                    EndReason::Reset
                } else {
                    EndReason::Closed
                };
                out.ended(key, old, reason);
            }
            match self.table.get_mut(&key) {
                Some(f) => (flow, created) = (f, true),
                None => return,
            }
        }
        if created {
            flow.tunnel = meta.tunnel;
            flow.outer = meta.outer;
            flow.iface = self.iface;
        }
        let class_before = FlowTable::class(&key, flow);
        flow.count(dir, ts, meta.ip_len);
        if is_tcp {
            flow.tcp(dir, flags);
        }
        if created {
            detect::infer_client(flow, meta, from_lo, hit);
            if is_tcp && flow.basis == ClientBasis::Inferred {
                flow.mark_midstream();
            }
        }
        let mut held = false;
        if flow.matched.is_none() {
            // `on_first` is relative to the packet; the flow wants it relative to `lo`.
            let attached = match hit {
                Some(h) => detect::attach(flow, &self.set, h, h.on_first == from_lo),
                None => self.names.attach(flow, from_lo),
            };
            if attached {
                flow.alert = AlertState::Pending;
                out.claim(&key, flow);
                out.matched(flow, ts);
                self.pending.push_back((
                    detect::holddown_deadline(flow, self.cfg.holddown),
                    key,
                    flow.id,
                ));
                held = true;
            }
        } else {
            self.names.update(flow);
        }
        if flow.alert == AlertState::Pending {
            if let Some(action) = detect::outcome_now(flow, key.proto) {
                out.alert(&key, flow, action);
            }
        }
        if FlowTable::class(&key, flow) != class_before {
            self.table.requeue_hashed(&key, hash);
        }
        if held && self.pending.len() > self.pending_max() {
            self.hold_down_overflow();
        }
    }

    /// Bound of the hold-down queue: at most one entry per flow the table can hold, and at
    /// most [`PENDING_MAX`].
    fn pending_max(&self) -> usize {
        self.table.config().max_flows.clamp(1, PENDING_MAX)
    }

    /// The hold-down queue is full (a flood of matched flows): its oldest alert leaves now,
    /// with the outcome known so far, instead of the queue growing with the flood.
    #[cold]
    fn hold_down_overflow(&mut self) {
        while self.pending.len() > self.pending_max() {
            let Some((_, key, id)) = self.pending.pop_front() else {
                return;
            };
            if let Some(flow) = self.table.get_mut(&key) {
                if flow.id == id && flow.alert == AlertState::Pending {
                    let action = detect::outcome_final(flow, key.proto);
                    self.out.stats.alerts_early += 1;
                    self.out.alert(&key, flow, action);
                }
            }
        }
    }

    /// Move packet time forward and run timers that are due. Time never runs backwards here
    /// (files replayed out of order, clock steps): the newest timestamp wins.
    #[inline]
    pub fn advance(&mut self, ts: Nanos) {
        if ts > self.now {
            if self.now != 0 && ts - self.now > TIME_JUMP {
                self.out.stats.time_jumps += 1;
            }
            self.now = ts;
        } else if self.now - ts > TIME_STEP_BACK {
            self.out.stats.time_steps_back += 1;
        }
        if self.now >= self.next_tick {
            self.tick();
        }
        if self.iocs.generation() != self.generation {
            self.reload();
        }
    }

    fn tick(&mut self) {
        let now = self.now;
        self.next_tick = now.saturating_add(TICK);
        while let Some(&(deadline, key, id)) = self.pending.front() {
            if deadline > now {
                break;
            }
            self.pending.pop_front();
            if let Some(flow) = self.table.get_mut(&key) {
                if flow.id == id && flow.alert == AlertState::Pending {
                    let action = detect::outcome_final(flow, key.proto);
                    self.out.alert(&key, flow, action);
                }
            }
        }
        let out = &mut self.out;
        self.table.expire(now, &mut |k, f, r| out.ended(k, f, r));
        self.fragments.expire(now);
        self.out.storm_tick(now);
    }

    /// A new IOC set arrived: flows already open that now match are flagged with their true
    /// start time and counters so far.
    fn reload(&mut self) {
        self.generation = self.iocs.generation();
        self.set = self.iocs.current();
        self.names.reload(&*self.set);
        for key in self.table.keys_by_age() {
            let Some(flow) = self.table.get_mut(&key) else {
                continue;
            };
            if flow.matched.is_some() {
                continue;
            }
            let Some(h) = detect::check_flow(&self.set, &key) else {
                continue;
            };
            if detect::attach(flow, &self.set, h, h.on_first) {
                self.out.stats.retro_matches += 1;
                self.out.claim(&key, flow);
                let action = detect::outcome_final(flow, key.proto);
                self.out.alert(&key, flow, action);
                self.table.requeue(&key);
            }
        }
    }

    /// End of capture / shutdown: settle every pending alert and summarize every open flow.
    pub fn finish(&mut self) {
        self.flush();
        let out = &mut self.out;
        self.table.drain(&mut |k, f, r| out.ended(k, f, r));
        self.pending.clear();
        let Emitter { storms, sink, .. } = &mut self.out;
        storms.finish(&mut |rec| sink.emit(rec));
    }
}
