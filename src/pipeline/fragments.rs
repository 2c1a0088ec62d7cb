//! The fragment cache: ports of first fragments, so later fragments of the same datagram
//! count toward its flow. Bounded in entries and in packet time (keys are attacker-chosen).

use std::collections::{HashMap, VecDeque};

use crate::decode::PacketMeta;
use crate::time::{Nanos, NANOS_PER_SEC};

/// Ports of first fragments, so later fragments of the same datagram count toward its flow.
pub(super) struct Fragments {
    map: HashMap<(u128, u128, u32, u8), (u16, u16), foldhash::fast::RandomState>,
    order: VecDeque<((u128, u128, u32, u8), Nanos)>,
}

/// Bound on remembered fragmented datagrams per worker.
const FRAGMENTS_MAX: usize = 4096;
/// How long a first fragment's ports are remembered (packet time).
const FRAGMENT_TTL: Nanos = 30 * NANOS_PER_SEC;

impl Fragments {
    pub(super) fn new() -> Fragments {
        Fragments {
            map: HashMap::default(),
            order: VecDeque::new(),
        }
    }

    fn id(meta: &PacketMeta, id: u32) -> (u128, u128, u32, u8) {
        use crate::flow::key::addr_bits;
        (addr_bits(meta.src), addr_bits(meta.dst), id, meta.proto)
    }

    pub(super) fn remember(&mut self, meta: &PacketMeta, id: u32, now: Nanos) {
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

    pub(super) fn ports(&self, meta: &PacketMeta, id: u32) -> Option<(u16, u16)> {
        self.map.get(&Self::id(meta, id)).copied()
    }

    pub(super) fn expire(&mut self, now: Nanos) {
        while let Some(&(k, t)) = self.order.front() {
            if t.saturating_add(FRAGMENT_TTL) > now {
                break;
            }
            self.order.pop_front();
            self.map.remove(&k);
        }
    }
}

#[cfg(test)]
mod tests {
    use std::net::{IpAddr, Ipv4Addr};

    use super::*;

    fn meta(src: u32, sport: u16) -> PacketMeta {
        PacketMeta {
            src: IpAddr::V4(Ipv4Addr::from(src)),
            dst: IpAddr::V4(Ipv4Addr::new(192, 0, 2, 1)),
            proto: 17,
            sport,
            dport: 53,
            has_ports: true,
            tcp_flags: 0,
            icmp_type: 0,
            icmp_code: 0,
            vlan: 0,
            tunnel: Default::default(),
            fragment: None,
            ip_len: 1500,
            outer: false,
            payload: crate::decode::PayloadAt::NONE,
        }
    }

    #[test]
    fn later_fragments_find_the_first_ones_ports_by_datagram() {
        let mut f = Fragments::new();
        f.remember(&meta(1, 4000), 7, 0);
        assert_eq!(f.ports(&meta(1, 0), 7), Some((4000, 53)));
        // Another id, source or protocol is another datagram.
        assert_eq!(f.ports(&meta(1, 0), 8), None);
        assert_eq!(f.ports(&meta(2, 0), 7), None);
        let tcp = PacketMeta {
            proto: 6,
            ..meta(1, 0)
        };
        assert_eq!(f.ports(&tcp, 7), None);
    }

    #[test]
    fn the_cache_is_bounded_and_forgets_the_oldest_first() {
        let mut f = Fragments::new();
        let n = u32::try_from(FRAGMENTS_MAX).unwrap();
        // A flood of first fragments, each a new datagram: the cache never grows past its bound.
        for id in 0..n + 100 {
            f.remember(&meta(1, 1000), id, 0);
            assert!(f.map.len() <= FRAGMENTS_MAX && f.order.len() <= FRAGMENTS_MAX);
        }
        assert_eq!((f.map.len(), f.order.len()), (FRAGMENTS_MAX, FRAGMENTS_MAX));
        assert_eq!(f.ports(&meta(1, 0), 99), None, "the oldest went first");
        assert_eq!(f.ports(&meta(1, 0), 100), Some((1000, 53)));
        assert_eq!(f.ports(&meta(1, 0), n + 99), Some((1000, 53)));
        // A repeated first fragment (retransmit) takes no second slot.
        f.remember(&meta(1, 2000), n + 99, 0);
        assert_eq!(f.order.len(), FRAGMENTS_MAX);
    }

    #[test]
    fn entries_expire_after_their_ttl_in_packet_time() {
        let mut f = Fragments::new();
        f.remember(&meta(1, 1000), 1, 0);
        f.remember(&meta(1, 1000), 2, FRAGMENT_TTL / 2);
        f.expire(FRAGMENT_TTL - 1);
        assert_eq!(f.ports(&meta(1, 0), 1), Some((1000, 53)));
        f.expire(FRAGMENT_TTL);
        assert_eq!(f.ports(&meta(1, 0), 1), None);
        assert_eq!(f.ports(&meta(1, 0), 2), Some((1000, 53)));
        f.expire(Nanos::MAX);
        assert!(f.map.is_empty() && f.order.is_empty());
    }
}
