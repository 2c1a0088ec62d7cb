//! Detect: the IOC check for each packet, and the rules that turn a matched flow into records —
//! which SignatureID, what happened on the wire (`act`), who is client and server.
//!
//! The lookup runs before any flow-table work, so traffic that touches no IOC costs two hash
//! probes and nothing else in alerts-only mode.

pub mod names;
pub mod storm;

use std::net::IpAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use arc_swap::ArcSwap;

use crate::decode::{proto, PacketMeta};
use crate::flow::{ClientBasis, Flow, FlowKey, FlowMatch, Phase};
use crate::ioc::{IocHit, IocSet, MatchKind};
use crate::record::{Action, Endpoint, FlowRecord, Signature, Totals};
use crate::time::Nanos;

/// The IOC set shared by all workers, swapped whole on reload. Workers keep their own `Arc`
/// and only compare the generation (one relaxed load) per packet.
pub struct IocHandle {
    set: ArcSwap<IocSet>,
    generation: AtomicU64,
}

impl IocHandle {
    pub fn new(set: IocSet) -> IocHandle {
        IocHandle {
            set: ArcSwap::from_pointee(set),
            generation: AtomicU64::new(1),
        }
    }

    /// Swap in a new set; workers pick it up at their next packet and retro-match open flows.
    pub fn replace(&self, set: IocSet) {
        self.set.store(Arc::new(set));
        self.generation.fetch_add(1, Ordering::Release);
    }

    pub fn current(&self) -> Arc<IocSet> {
        self.set.load_full()
    }

    #[inline]
    pub fn generation(&self) -> u64 {
        self.generation.load(Ordering::Acquire)
    }
}

/// A packet's (or flow's) IOC hit and which endpoint it is on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Hit {
    pub hit: IocHit,
    /// True when the IOC is the packet's source (or the key's `lo` endpoint for flows).
    pub on_first: bool,
}

fn port_of(proto_num: u8, port: u16) -> Option<u16> {
    match proto_num {
        proto::TCP | proto::UDP | proto::SCTP => Some(port),
        _ => None,
    }
}

/// Check both endpoints; an exact hit beats an address hit, the destination wins a tie.
#[inline]
pub fn check(set: &IocSet, proto_num: u8, a: (IpAddr, u16), b: (IpAddr, u16)) -> Option<Hit> {
    let ha = set.lookup(a.0, port_of(proto_num, a.1));
    let hb = set.lookup(b.0, port_of(proto_num, b.1));
    match (ha, hb) {
        (None, None) => None,
        (Some(h), None) => Some(Hit {
            hit: h,
            on_first: true,
        }),
        (None, Some(h)) => Some(Hit {
            hit: h,
            on_first: false,
        }),
        (Some(x), Some(y)) => Some(if x.kind > y.kind {
            Hit {
                hit: x,
                on_first: true,
            }
        } else {
            Hit {
                hit: y,
                on_first: false,
            }
        }),
    }
}

/// Check a packet.
#[inline]
pub fn check_packet(set: &IocSet, meta: &PacketMeta, sport: u16, dport: u16) -> Option<Hit> {
    check(set, meta.proto, (meta.src, sport), (meta.dst, dport))
}

/// Check a tracked flow (retro-matching after a reload).
pub fn check_flow(set: &IocSet, key: &FlowKey) -> Option<Hit> {
    check(set, key.proto, key.lo(), key.hi())
}

/// Attach the match to a flow. Returns false when the IOC index is not in `set` (cannot happen
/// for a hit from the same set; kept total so no input can panic here).
pub fn attach(flow: &mut Flow, set: &IocSet, hit: Hit, ioc_is_lo: bool) -> bool {
    let Some(ioc) = set.get(hit.hit.ioc) else {
        return false;
    };
    flow.matched = Some(FlowMatch {
        kind: hit.hit.kind,
        ioc: Arc::clone(ioc),
        ioc_is_lo,
    });
    true
}

/// For a flow that no SYN or SYN/ACK explains (mid-stream, UDP, ICMP): decide who is the client.
/// The endpoint on an ip:port IOC's port is the server; ICMP echo requests come from the client;
/// otherwise the first packet's sender is the client.
pub fn infer_client(flow: &mut Flow, meta: &PacketMeta, from_lo: bool, hit: Option<Hit>) {
    if flow.basis != ClientBasis::Inferred {
        return;
    }
    if let Some(h) = hit {
        if h.hit.kind == MatchKind::Exact && port_of(meta.proto, 0).is_some() {
            // The IOC endpoint is the server when it is a port IOC matched on its port.
            let ioc_is_src = h.on_first;
            flow.client_is_lo = if ioc_is_src { !from_lo } else { from_lo };
            return;
        }
    }
    let reply = matches!(
        (meta.proto, meta.icmp_type),
        (proto::ICMP, 0) | (proto::ICMPV6, 129)
    );
    flow.client_is_lo = if reply { !from_lo } else { from_lo };
}

/// The alert's `act` if the outcome is already known, else None (keep holding).
pub fn outcome_now(flow: &Flow, proto_num: u8) -> Option<Action> {
    if names::awaits_answer(flow) {
        return None;
    }
    if proto_num != proto::TCP || flow.basis == ClientBasis::Inferred {
        return Some(Action::Observed);
    }
    let client = flow.client_index();
    let server = 1 - client;
    if flow.phase == Phase::Established {
        return Some(Action::Established);
    }
    if flow.rst_seen[server] {
        return Some(if flow.synack_seen[server] {
            Action::Established
        } else {
            Action::Rejected
        });
    }
    if flow.rst_seen[client] {
        return Some(if flow.synack_seen[server] {
            Action::Established
        } else {
            Action::Attempted
        });
    }
    if flow.fin_seen[0] || flow.fin_seen[1] {
        return Some(Action::Established);
    }
    None
}

/// The alert's `act` when the hold-down ran out (or the flow ended) before the outcome was
/// known. A SYN/ACK means the server accepted, even if the span missed the client's ACK.
pub fn outcome_final(flow: &Flow, proto_num: u8) -> Action {
    if let Some(a) = outcome_now(flow, proto_num) {
        return a;
    }
    if proto_num != proto::TCP || flow.basis == ClientBasis::Inferred {
        return Action::Observed; // A lookup whose answer never came.
    }
    let server = 1 - flow.client_index();
    if flow.synack_seen[server] {
        Action::Established
    } else {
        Action::Attempted
    }
}

/// Build a record about `flow`. `now` is the record's end time (last packet seen).
pub fn flow_record(
    signature: Signature,
    action: Action,
    key: &FlowKey,
    flow: &Flow,
    m: &FlowMatch,
    interface: &Arc<str>,
) -> FlowRecord {
    let (lo, hi) = (key.lo(), key.hi());
    let (client, server) = if flow.client_is_lo {
        (lo, hi)
    } else {
        (hi, lo)
    };
    let c = flow.client_index();
    let s = 1 - c;
    FlowRecord {
        signature,
        action,
        client: Endpoint {
            addr: client.0,
            port: client.1,
        },
        server: Endpoint {
            addr: server.0,
            port: server.1,
        },
        proto: key.proto,
        start: flow.first,
        end: flow.last,
        ioc: Arc::clone(&m.ioc),
        ioc_is_server: m.ioc_is_lo != flow.client_is_lo,
        vlan: key.vlan,
        tunnel: flow.tunnel,
        outer: flow.outer,
        interface: Arc::clone(interface),
        totals: Totals {
            packets_to_server: flow.packets[c],
            bytes_to_server: flow.bytes[c],
            packets_to_client: flow.packets[s],
            bytes_to_client: flow.bytes[s],
        },
        count: 1,
        clients: 0,
        suppressed: None,
        name: flow.name.clone(),
    }
}

/// Summary `act` for how the flow ended.
pub fn end_action(reason: crate::flow::EndReason) -> Action {
    use crate::flow::EndReason;
    match reason {
        EndReason::Closed => Action::Closed,
        EndReason::Reset => Action::Reset,
        EndReason::Timeout => Action::Timeout,
        EndReason::Evicted => Action::Evicted,
        EndReason::Shutdown => Action::Shutdown,
    }
}

/// Convenience for callers: the earliest time a pending alert must leave.
pub fn holddown_deadline(flow: &Flow, holddown: Nanos) -> Nanos {
    flow.first.saturating_add(holddown)
}
