//! Name IOCs on the wire: DNS lookups of an IOC name (1010), connections to the addresses its
//! answers returned (1011), TLS SNI (1012) and HTTP Host/URL (1013).
//!
//! Runs per packet right after decode, while the frame is still there (the worker's lookahead
//! keeps only the decoded facts), and costs nothing unless the loaded set has names:
//! - DNS is parsed only on port 53 (UDP, and TCP with its length prefix);
//! - TLS and HTTP only on a TCP segment that starts like a ClientHello or a request line (a
//!   young flow's first client payload), or continues one being gathered ([`gather`]);
//! - the binding table ([`bindings`]) is probed only while it holds an address.
//!
//! A match leaves a [`Found`] for the packet's own flow; the worker attaches it when it
//! updates that flow ([`Names::attach`]), so the flow gets one alert and one 1003 summary like
//! any match, with exclusions and severity applied downstream. Everything that is skipped is
//! counted in [`NameStats`].

pub mod bindings;
mod dns_path;
pub mod gather;
mod late;
pub mod payload;
mod payload_path;
pub mod recent;
mod retro;
mod seen;
pub mod shared;
mod stats;

use std::sync::Arc;

use crate::decode::{proto, DecodeError, PacketMeta};
use crate::flow::{AlertState, Flow, NameMatch, NameVia};
use crate::ioc::{Ioc, IocSet};
use crate::time::{Nanos, NANOS_PER_SEC};

use bindings::Bindings;
use gather::Gather;
use seen::Seen;
use shared::{Peers, DRAIN};

pub use retro::{Retro, RetroFlow};
pub use seen::SeenStats;
pub use stats::{NameStats, NAME_EVENTS};

const DNS_PORT: u16 = 53;
/// Longest URL kept in a record (CEF `request`).
pub const MAX_URL: usize = 1024;
/// How often (packet time) expired bindings and stale gathered payloads are swept.
const SWEEP: Nanos = NANOS_PER_SEC;

/// The name side of an IOC set. Implemented by [`IocSet`]; a separate trait so the name path
/// is tested against a small set of its own.
pub trait NameIocs {
    /// True when any name or URL IOC is loaded: otherwise the name path does nothing.
    fn has_names(&self) -> bool;
    /// The IOC for a normalised host name (lower case, no trailing dot).
    fn host_ioc(&self, host: &[u8]) -> Option<Arc<Ioc>>;
    /// The IOC for a URL: `host[:port]` as sent and the path.
    fn url_ioc(&self, host: &[u8], path: &[u8]) -> Option<Arc<Ioc>>;
}

impl NameIocs for IocSet {
    #[inline]
    fn has_names(&self) -> bool {
        IocSet::has_names(self)
    }
    fn host_ioc(&self, host: &[u8]) -> Option<Arc<Ioc>> {
        self.match_host(host).map(|n| Arc::clone(&n.ioc))
    }
    fn url_ioc(&self, host: &[u8], path: &[u8]) -> Option<Arc<Ioc>> {
        self.match_url(host, path).map(|n| Arc::clone(&n.ioc))
    }
}

/// A name match for the packet just decoded, waiting for the worker to update its flow.
#[derive(Clone, Debug, PartialEq)]
pub struct Found {
    pub ioc: Arc<Ioc>,
    pub name: Arc<NameMatch>,
    /// The packet's destination is the server (the IOC side); false when its source is.
    pub server_is_dst: bool,
}

/// Per-worker name state: the binding table, first payloads being gathered, the kept names,
/// the pending match.
#[derive(Default)]
pub struct Names {
    bindings: Bindings,
    /// First client payloads (TLS hellos, HTTP request heads) being gathered ([`gather`]).
    gather: Gather,
    current: Option<Found>,
    stats: NameStats,
    next_sweep: Nanos,
    /// The other workers of the interface, when there are any ([`shared`]).
    peers: Option<Peers>,
    /// The flows this worker created last, while it shares bindings ([`recent`]).
    recent: recent::Recent,
    /// The oldest answer among peer bindings taken since the recent flows were last scanned.
    late_since: Option<Nanos>,
    /// Names that matched nothing, for a later set ([`seen`], [`retro`]).
    seen: Seen,
}

impl Names {
    /// Share DNS bindings with the other workers of the interface (live fanout).
    pub fn share(&mut self, peers: Peers) {
        self.peers = Some(peers);
    }

    pub fn stats(&self) -> NameStats {
        NameStats {
            bindings: self.bindings.stats,
            gather: self.gather.stats,
            seen: self.seen.stats,
            ..self.stats
        }
    }

    /// Look at one decoded packet: its name match, if any. The worker hands it back with
    /// [`Names::arm`] right before it processes that packet (after the frames it holds back),
    /// so [`Names::attach`] gives it to that packet's flow and no other.
    #[inline]
    pub fn inspect(
        &mut self,
        set: &impl NameIocs,
        ts: Nanos,
        frame: &[u8],
        meta: &Result<PacketMeta, DecodeError>,
    ) -> Option<Found> {
        if !set.has_names() {
            return None;
        }
        let Ok(m) = meta else { return None };
        if !m.has_ports || self.skips(frame, m) {
            return None;
        }
        self.inspect_meta(set, ts, frame, m)
    }

    /// The packet cannot match, from what the decoder already knows and one byte of the frame:
    /// nothing is bound, gathered or waiting from a peer, it is not DNS, and it is UDP, a TCP
    /// SYN, a TCP segment without payload, or one whose first payload byte starts neither a
    /// TLS handshake record (0x16) nor a request method (an ASCII upper-case letter). The
    /// decoder left the payload's offset in the meta, so that byte is one read of a frame that
    /// is still in cache; the common packet costs these few branches.
    #[inline(always)]
    fn skips(&self, frame: &[u8], m: &PacketMeta) -> bool {
        let tcp = m.proto == proto::TCP;
        if !tcp && m.proto != proto::UDP {
            return true;
        }
        let quiet = self.bindings.is_empty()
            && self.gather.is_empty()
            && !self.peers.as_ref().is_some_and(Peers::waiting);
        if !quiet || m.sport == DNS_PORT || m.dport == DNS_PORT {
            return false;
        }
        !tcp || m.tcp_flags & crate::decode::tcp_flags::SYN != 0 || !may_start(frame, m)
    }

    /// The match [`Names::inspect`] returned, for the packet about to be processed.
    #[inline]
    pub fn arm(&mut self, found: Option<Found>) {
        self.current = found;
    }

    /// A new IOC set: bindings of names it no longer lists go (their flows would no longer be
    /// C2 connections); payloads being gathered stay (they are matched with the new set). The
    /// names seen before it are matched next, by [`Names::retro`]; a set without names frees
    /// the rings that keep them.
    pub fn reload(&mut self, set: &impl NameIocs) {
        if !set.has_names() {
            self.seen.release();
        }
        if self.bindings.is_empty() {
            return;
        }
        self.bindings.retain(|name| set.host_ioc(name.as_bytes()));
    }

    /// The packet just inspected matched a name: its flow is tracked even in alerts-only mode.
    #[inline]
    pub fn pending(&self) -> bool {
        self.current.is_some()
    }

    /// Forget a match nobody took (the packet's flow was not updated).
    #[inline]
    pub fn clear(&mut self) {
        self.current = None;
    }

    #[inline(never)]
    fn inspect_meta(
        &mut self,
        set: &impl NameIocs,
        ts: Nanos,
        frame: &[u8],
        m: &PacketMeta,
    ) -> Option<Found> {
        if self.peers.as_ref().is_some_and(Peers::waiting) {
            self.receive(set);
        }
        if ts >= self.next_sweep {
            self.next_sweep = ts.saturating_add(SWEEP);
            self.bindings.expire(ts);
            self.gather.sweep(ts);
        }
        if !self.bindings.is_empty() {
            if let Some(found) = self.bound(m, ts) {
                return Some(self.found(found));
            }
        }
        let dns_port = m.sport == DNS_PORT || m.dport == DNS_PORT;
        if !dns_port {
            // TLS and HTTP: TCP only, never a SYN, and (unless a hello is being gathered) only
            // a segment whose first byte can start a ClientHello or a request line.
            if m.proto != proto::TCP || m.tcp_flags & crate::decode::tcp_flags::SYN != 0 {
                return None;
            }
            if self.gather.is_empty() && !may_start(frame, m) {
                return None;
            }
        }
        let payload = payload::of(frame, m)?;
        let found = if dns_port {
            self.dns(set, ts, m, payload.bytes)
        } else {
            self.tcp(set, ts, m, payload)
        };
        found.map(|f| self.found(f))
    }

    /// Take the bindings peers made (at most [`DRAIN`] per packet). A name the current set no
    /// longer lists is not bound; a newer local binding of the address is kept. Flows this
    /// worker created before a binding arrived are matched by the worker afterwards
    /// ([`Names::take_late`]).
    #[cold]
    #[inline(never)]
    fn receive(&mut self, set: &impl NameIocs) {
        let Some(peers) = &self.peers else { return };
        for _ in 0..DRAIN {
            let Some(a) = peers.next() else { break };
            if self
                .bindings
                .answered(a.addr)
                .is_some_and(|t| t >= a.answered)
            {
                continue;
            }
            if let Some(ioc) = set.host_ioc(a.name.as_bytes()) {
                self.bindings
                    .insert(a.addr, &ioc, &a.name, a.answered, a.ttl);
                // Even with no flow remembered yet: the worker's lookahead may hold the
                // frame that creates one.
                self.late_since = Some(self.late_since.map_or(a.answered, |t| t.min(a.answered)));
            }
        }
    }

    /// Count a hit by how it matched.
    fn found(&mut self, f: Found) -> Found {
        let via = match f.name.via {
            NameVia::Lookup => 0,
            NameVia::Connection => 1,
            NameVia::Sni => 2,
            NameVia::Http => 3,
        };
        if let Some(c) = self.stats.hits.get_mut(via) {
            *c += 1;
        }
        f
    }

    /// A flow to (or from) an address a name IOC's answer bound, within its TTL.
    fn bound(&self, m: &PacketMeta, ts: Nanos) -> Option<Found> {
        let (b, server_is_dst) = self.bindings.either(m.dst, m.src, ts)?;
        Some(Found {
            ioc: Arc::clone(&b.ioc),
            name: Arc::clone(&b.connection),
            server_is_dst,
        })
    }

    /// Attach the packet's name match to its flow (which matched nothing yet). True when it
    /// did: the worker then holds the alert like any new match.
    pub fn attach(&mut self, flow: &mut Flow, from_lo: bool) -> bool {
        let Some(f) = self.current.take() else {
            return false;
        };
        if f.name.via == NameVia::Connection && f.name.answered.is_some_and(|t| flow.first < t) {
            // The flow was open before the answer: not a connection the answer led to.
            return false;
        }
        retro::give(flow, f.ioc, f.name, f.server_is_dst != from_lo);
        true
    }

    /// A DNS answer for a lookup whose flow already matched: the answers join its match (and
    /// its still pending 1010 leaves with them).
    pub fn update(&mut self, flow: &mut Flow) {
        let Some(f) = self.current.take() else {
            return;
        };
        if let Some(old) = &flow.name {
            if old.via == NameVia::Lookup
                && f.name.via == NameVia::Lookup
                && old.answered.is_none()
                && f.name.answered.is_some()
            {
                flow.name = Some(f.name);
            }
        }
    }
}

/// The TCP payload's first byte can start a ClientHello (a TLS handshake record, 0x16) or an
/// HTTP request line (a method: ASCII upper-case letters); false without payload.
#[inline(always)]
fn may_start(frame: &[u8], m: &PacketMeta) -> bool {
    m.payload
        .first(frame)
        .is_some_and(|b| b == 0x16 || b.is_ascii_uppercase())
}

/// A 1010 alert waits for the DNS answer (or the hold-down) so it reports the answers.
pub fn awaits_answer(flow: &Flow) -> bool {
    flow.alert == AlertState::Pending
        && flow
            .name
            .as_ref()
            .is_some_and(|n| n.via == NameVia::Lookup && n.answered.is_none())
}

#[cfg(test)]
mod retro_tests;
#[cfg(test)]
mod tests;
