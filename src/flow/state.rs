//! Per-flow state: counters each way, what the TCP flags told us (who started it, how it
//! ended), and the detection state the alert logic keeps on the flow.

use std::sync::Arc;

use crate::decode::tcp_flags::{ACK, FIN, RST, SYN};
use crate::decode::Tunnel;
use crate::ioc::{Ioc, MatchKind};
use crate::time::Nanos;

use super::key::Dir;

/// How the client (initiator) side was decided, strongest first.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ClientBasis {
    /// A SYN (without ACK) was seen: its sender started the connection.
    Syn,
    /// A SYN/ACK was seen: its sender is the server.
    SynAck,
    /// Mid-stream or connectionless: the endpoint on the IOC's port is the server, otherwise the
    /// first packet's sender is the client.
    Inferred,
}

/// Lifecycle of a flow as far as the timeouts care.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Phase {
    /// TCP before the handshake completed.
    Opening,
    /// TCP established, or any packet seen mid-stream.
    Established,
    /// TCP after FIN from both sides or a RST: kept a short while to absorb stragglers.
    Closed,
    /// Not TCP.
    Connectionless,
}

/// Whether (and how) this flow still owes its 1001/1002 alert.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AlertState {
    /// The flow touches no IOC.
    None,
    /// Matched; the alert waits until the outcome is known or the hold-down expires.
    Pending,
    /// The alert left (or another worker owns it, see `shadow`).
    Sent,
}

/// The IOC a flow matched.
#[derive(Clone, Debug, PartialEq)]
pub struct FlowMatch {
    pub kind: MatchKind,
    pub ioc: Arc<Ioc>,
    /// Which endpoint is the IOC, relative to the key's canonical order.
    pub ioc_is_lo: bool,
}

/// `repr(C)` with the fields every packet touches first: with the key in front of it, they
/// fill the first two cache lines of a table entry, the ones the worker prefetches.
#[derive(Clone, Debug)]
#[repr(C)]
pub struct Flow {
    pub last: Nanos,
    pub packets: [u64; 2],
    pub bytes: [u64; 2],
    pub matched: Option<FlowMatch>,
    /// True when the client is the key's `lo` endpoint.
    pub client_is_lo: bool,
    pub basis: ClientBasis,
    pub phase: Phase,
    pub syn_seen: [bool; 2],
    pub synack_seen: [bool; 2],
    pub fin_seen: [bool; 2],
    pub rst_seen: [bool; 2],
    pub alert: AlertState,
    /// Another worker alerts for the same flow (one flow mirrored through two tunnels that the
    /// kernel hashed to two workers): this copy counts but emits nothing.
    pub shadow: bool,
    /// The alert was folded into a contact storm (1005): the summary is folded too.
    pub stormed: bool,
    /// The flow is a tunnel's outer layer (a C2 reached over UDP 4789 or GRE), reported with
    /// the tunnel it carried in `tunnel`.
    pub outer: bool,
    /// Index of the capture interface / replayed file the flow was first seen on.
    pub iface: u16,
    /// Tunnel the first packet came through (reported, not part of the identity).
    pub tunnel: Tunnel,
    /// Unique per worker: tells a reused 5-tuple's new flow from the old one in timer queues.
    pub id: u64,
    pub first: Nanos,
    /// Sequence of the flow's live entry in the timeout queues.
    pub queue_seq: u64,
    /// Set when the match is a name IOC's (DNS, TLS SNI, HTTP), see [`super::names`]. Cold:
    /// read only when a record is made, so it sits after the per-packet fields.
    pub name: Option<Arc<super::NameMatch>>,
}

impl Flow {
    pub fn new(id: u64, now: Nanos, connection_oriented: bool) -> Flow {
        Flow {
            id,
            first: now,
            last: now,
            packets: [0; 2],
            bytes: [0; 2],
            client_is_lo: true,
            basis: ClientBasis::Inferred,
            phase: if connection_oriented {
                Phase::Opening
            } else {
                Phase::Connectionless
            },
            syn_seen: [false; 2],
            synack_seen: [false; 2],
            fin_seen: [false; 2],
            rst_seen: [false; 2],
            matched: None,
            alert: AlertState::None,
            shadow: false,
            stormed: false,
            outer: false,
            queue_seq: 0,
            name: None,
            tunnel: Tunnel::None,
            iface: 0,
        }
    }

    /// Count one packet. `now` may run backwards across files: the flow keeps its max.
    #[inline]
    pub fn count(&mut self, dir: Dir, now: Nanos, bytes: u32) {
        let i = dir.index();
        self.packets[i] += 1;
        self.bytes[i] += u64::from(bytes);
        if now > self.last {
            self.last = now;
        }
    }

    /// Fold one TCP flags byte into the flow's connection state.
    pub fn tcp(&mut self, dir: Dir, flags: u8) {
        let i = dir.index();
        let from_lo = dir == Dir::LoToHi;
        if flags & SYN != 0 && flags & ACK == 0 {
            self.syn_seen[i] = true;
            if self.basis != ClientBasis::Syn {
                self.basis = ClientBasis::Syn;
                self.client_is_lo = from_lo;
            }
        } else if flags & SYN != 0 {
            self.synack_seen[i] = true;
            if self.basis == ClientBasis::Inferred {
                self.basis = ClientBasis::SynAck;
                self.client_is_lo = !from_lo;
            }
        }
        if flags & FIN != 0 {
            self.fin_seen[i] = true;
        }
        if flags & RST != 0 {
            self.rst_seen[i] = true;
        }
        let client = self.client_index();
        let server = 1 - client;
        match self.phase {
            Phase::Opening => {
                let answered = self.synack_seen[server];
                let client_acked = i == client && flags & ACK != 0 && flags & SYN == 0;
                if answered && client_acked {
                    self.phase = Phase::Established;
                }
            }
            Phase::Established | Phase::Closed | Phase::Connectionless => {}
        }
        if self.rst_seen[0] || self.rst_seen[1] || (self.fin_seen[0] && self.fin_seen[1]) {
            self.phase = Phase::Closed;
        }
    }

    /// Index (0 = lo→hi, 1 = hi→lo) of the client→server direction.
    pub fn client_index(&self) -> usize {
        if self.client_is_lo {
            0
        } else {
            1
        }
    }

    /// A flow first seen without any SYN is mid-stream: it counts as established.
    pub fn mark_midstream(&mut self) {
        if self.phase == Phase::Opening {
            self.phase = Phase::Established;
        }
    }

    /// A pure SYN on a closed flow starts a new connection on the same 5-tuple.
    pub fn is_reuse(&self, flags: u8) -> bool {
        self.phase == Phase::Closed && flags & SYN != 0 && flags & ACK == 0
    }

    pub fn total_packets(&self) -> u64 {
        self.packets[0] + self.packets[1]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn syn_sender_is_client_even_when_it_is_hi() {
        let mut f = Flow::new(1, 0, true);
        f.tcp(Dir::HiToLo, SYN);
        assert!(!f.client_is_lo);
        f.tcp(Dir::LoToHi, SYN | ACK);
        assert_eq!(f.phase, Phase::Opening);
        f.tcp(Dir::HiToLo, ACK);
        assert_eq!(f.phase, Phase::Established);
    }

    #[test]
    fn synack_without_syn_names_the_server() {
        let mut f = Flow::new(1, 0, true);
        f.tcp(Dir::LoToHi, SYN | ACK);
        assert!(!f.client_is_lo);
        assert_eq!(f.basis, ClientBasis::SynAck);
    }

    #[test]
    fn fin_both_ways_or_rst_closes() {
        let mut f = Flow::new(1, 0, true);
        f.tcp(Dir::LoToHi, FIN | ACK);
        assert_ne!(f.phase, Phase::Closed);
        f.tcp(Dir::HiToLo, FIN | ACK);
        assert_eq!(f.phase, Phase::Closed);
        assert!(f.is_reuse(SYN));
        assert!(!f.is_reuse(SYN | ACK));
        let mut g = Flow::new(2, 0, true);
        g.tcp(Dir::HiToLo, RST);
        assert_eq!(g.phase, Phase::Closed);
    }
}
