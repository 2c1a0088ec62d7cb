//! The worker loop: decode, IOC check, flow update and alert decisions for one worker's
//! packets, in packet time.

use std::collections::VecDeque;
use std::sync::Arc;

use crate::decode::{self, proto, Layers, LinkType, PacketMeta};
use crate::detect::names::Names;
use crate::detect::storm::Storms;
use crate::detect::{self, Hit, IocHandle};
use crate::flow::{AlertState, ClientBasis, Dir, EndReason, FlowHash, FlowKey, FlowTable};
use crate::ioc::IocSet;
use crate::record::RecordSink;
use crate::time::Nanos;

use super::claims::Claims;
use super::emitter::Emitter;
use super::fragments::Fragments;
use super::lookahead::{Decoded, Lookahead};
use super::stats::WorkerStats;
use super::{WorkerConfig, WIRE_LEN_MAX};

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
    pub(super) cfg: WorkerConfig,
    pub(super) iocs: Arc<IocHandle>,
    pub(super) set: Arc<IocSet>,
    pub(super) generation: u64,
    pub(super) table: FlowTable,
    ahead: Lookahead,
    /// Alerts waiting for their hold-down: deadline, flow, flow id (a reused slot is a new id).
    pub(super) pending: VecDeque<(Nanos, FlowKey, u64)>,
    pub(super) fragments: Fragments,
    /// Scratch for the other IP layers of the frame being decoded.
    layers: Layers,
    /// Name IOCs: DNS bindings, hellos being gathered, the packet's name match.
    pub(super) names: Names,
    pub(super) out: Emitter<S>,
    iface: u16,
    pub(super) now: Nanos,
    pub(super) next_tick: Nanos,
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

    /// Share DNS bindings with the other workers of the same capture (live fanout): the DNS
    /// answer and the connection it leads to may reach different workers.
    pub fn with_bindings(mut self, peers: crate::detect::names::shared::Peers) -> Self {
        self.names.share(peers);
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
        self.reload_if_due();
        let wire_len = self.wire_len(wire_len, frame);
        let d = self.decode(ts, link, frame, wire_len);
        let found = self.names.inspect(&*self.set, ts, frame, &d.meta);
        self.names.arm(found);
        self.process(d);
        self.names.clear();
        if self.names.late() {
            self.late_bindings();
        }
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
        self.reload_if_due();
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
        if self.names.late() {
            // Peer bindings arrived: the flows of the frames held so far exist first.
            self.flush();
            self.late_bindings();
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
            if self.cfg.track_all && self.names.remembers() && self.set.has_names() {
                super::late::remember(&mut self.names, key, flow, meta, from_lo);
            }
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
