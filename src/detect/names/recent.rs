//! The flows a worker created last, for bindings that arrive late from a peer.
//!
//! Under fanout the worker that sees a DNS answer shares its binding with its peers
//! ([`super::shared`]); a peer may process the connection's SYN before it drains that binding.
//! Later packets of the flow still match (the binding is probed on every packet), but a lone
//! SYN — the C2 server down, or a firewall dropping the connection, the case a SOC most wants
//! as "blocked" — would have no later packet. So each worker that shares bindings remembers
//! its [`RECENT`] newest flows (written on flow creation in tracked mode: a few stores, the
//! ring allocated once), and a binding taken from a peer looks there for flows to its address
//! first seen at or after the answer and within its TTL.
//!
//! Bounded against spoofed answers (the names are public, an attacker can answer them at
//! will): a batch of peer bindings costs at most one scan of at most [`RECENT`] entries,
//! newest first, stopping at the first flow older than the batch's oldest answer.

use std::net::IpAddr;

use crate::flow::FlowKey;
use crate::time::Nanos;

/// Flows remembered per worker (at most 128 bytes each: 128 KiB per worker).
pub const RECENT: usize = 1024;

/// A flow as it was created.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Entry {
    pub key: FlowKey,
    /// The flow's id (a reused table slot is another flow).
    pub id: u64,
    pub first: Nanos,
    /// The creating packet's source and destination, and whether it went `lo` → `hi`.
    pub src: IpAddr,
    pub dst: IpAddr,
    pub from_lo: bool,
}

/// A ring of the newest [`RECENT`] flows.
#[derive(Default)]
pub struct Recent {
    ring: Vec<Entry>,
    /// Where the next entry goes once the ring is full.
    next: usize,
}

impl Recent {
    #[inline]
    pub fn push(&mut self, e: Entry) {
        if self.ring.capacity() == 0 {
            self.ring.reserve_exact(RECENT);
        }
        if self.ring.len() < RECENT {
            self.ring.push(e);
        } else if let Some(slot) = self.ring.get_mut(self.next) {
            *slot = e;
            self.next = (self.next + 1) % RECENT;
        }
    }

    pub fn len(&self) -> usize {
        self.ring.len()
    }

    pub fn is_empty(&self) -> bool {
        self.ring.is_empty()
    }

    /// The `i`-th newest entry (0 = the newest).
    #[inline]
    pub fn newest(&self, i: usize) -> Option<Entry> {
        let n = self.ring.len();
        if i >= n {
            return None;
        }
        // Full: the newest is just before `next`; filling: the last pushed.
        let newest = if n < RECENT {
            n - 1
        } else {
            (self.next + RECENT - 1) % RECENT
        };
        self.ring.get((newest + n - i) % n).copied()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(id: u64) -> Entry {
        let a: IpAddr = "192.0.2.1".parse().unwrap();
        Entry {
            key: FlowKey {
                lo_addr: 1,
                hi_addr: 2,
                lo_port: 1,
                hi_port: 2,
                proto: 6,
                vlan: 0,
                vni: 0,
            },
            id,
            first: id,
            src: a,
            dst: a,
            from_lo: true,
        }
    }

    #[test]
    fn newest_first_and_bounded() {
        let mut r = Recent::default();
        assert_eq!(r.newest(0), None);
        for id in 0..3 {
            r.push(entry(id));
        }
        let ids: Vec<u64> = (0..4).filter_map(|i| r.newest(i)).map(|e| e.id).collect();
        assert_eq!(ids, [2, 1, 0]);
        for id in 3..(RECENT as u64 + 10) {
            r.push(entry(id));
        }
        assert_eq!(r.len(), RECENT);
        assert_eq!(r.ring.capacity(), RECENT, "allocated once");
        let top = RECENT as u64 + 9;
        assert_eq!(r.newest(0).map(|e| e.id), Some(top));
        assert_eq!(r.newest(RECENT - 1).map(|e| e.id), Some(10));
        assert_eq!(r.newest(RECENT), None);
        assert!(std::mem::size_of::<Entry>() <= 128);
    }
}
