//! The flow key: a bidirectional, canonical, `Copy` identity of a flow, so both directions of a
//! connection find the same table entry without allocating.

use std::net::{IpAddr, Ipv6Addr};

use crate::decode::{PacketMeta, Tunnel};

/// Both endpoints in a canonical order (lower (address, port) first), the protocol and the
/// context that separates overlapping address spaces: the inner VLAN and the tenant id of an
/// overlay (VXLAN/Geneve VNI). The mirror transport itself (GRE key, ERSPAN session, outer
/// addresses) is deliberately not part of the identity: one flow mirrored through two sessions
/// is still one flow and alerts once.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct FlowKey {
    pub lo_addr: u128,
    pub hi_addr: u128,
    pub lo_port: u16,
    pub hi_port: u16,
    pub proto: u8,
    pub vlan: u16,
    pub vni: u32,
}

/// Which way a packet travels relative to the key's canonical order.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Dir {
    /// From the `lo` endpoint to the `hi` endpoint.
    LoToHi,
    HiToLo,
}

impl Dir {
    pub fn index(self) -> usize {
        match self {
            Dir::LoToHi => 0,
            Dir::HiToLo => 1,
        }
    }
}

/// IPv4 addresses are kept v4-mapped so one key type serves both families.
pub fn addr_bits(addr: IpAddr) -> u128 {
    match addr {
        IpAddr::V4(v4) => u128::from(v4.to_ipv6_mapped()),
        IpAddr::V6(v6) => u128::from(v6),
    }
}

/// Inverse of [`addr_bits`].
pub fn bits_addr(bits: u128) -> IpAddr {
    let v6 = Ipv6Addr::from(bits);
    match v6.to_ipv4_mapped() {
        Some(v4) => IpAddr::V4(v4),
        None => IpAddr::V6(v6),
    }
}

impl FlowKey {
    /// Key and direction of a packet whose ports are `sport`/`dport` (0 when it has none).
    #[inline]
    pub fn of(meta: &PacketMeta, sport: u16, dport: u16) -> (FlowKey, Dir) {
        let s = (addr_bits(meta.src), sport);
        let d = (addr_bits(meta.dst), dport);
        let vni = match meta.tunnel {
            Tunnel::Vxlan { vni } | Tunnel::Geneve { vni } => vni,
            _ => 0,
        };
        let (lo, hi, dir) = if s <= d {
            (s, d, Dir::LoToHi)
        } else {
            (d, s, Dir::HiToLo)
        };
        let key = FlowKey {
            lo_addr: lo.0,
            hi_addr: hi.0,
            lo_port: lo.1,
            hi_port: hi.1,
            proto: meta.proto,
            vlan: meta.vlan,
            vni,
        };
        (key, dir)
    }

    pub fn lo(&self) -> (IpAddr, u16) {
        (bits_addr(self.lo_addr), self.lo_port)
    }

    pub fn hi(&self) -> (IpAddr, u16) {
        (bits_addr(self.hi_addr), self.hi_port)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn meta(src: &str, sport: u16, dst: &str, dport: u16) -> PacketMeta {
        PacketMeta {
            src: src.parse().unwrap(),
            dst: dst.parse().unwrap(),
            proto: 6,
            sport,
            dport,
            has_ports: true,
            tcp_flags: 0,
            icmp_type: 0,
            icmp_code: 0,
            vlan: 0,
            tunnel: Tunnel::None,
            fragment: None,
            ip_len: 40,
            outer: false,
            payload: crate::decode::PayloadAt::NONE,
        }
    }

    #[test]
    fn both_directions_share_one_key() {
        let a = meta("10.1.2.3", 49822, "138.9.223.13", 8015);
        let b = meta("138.9.223.13", 8015, "10.1.2.3", 49822);
        let (ka, da) = FlowKey::of(&a, a.sport, a.dport);
        let (kb, db) = FlowKey::of(&b, b.sport, b.dport);
        assert_eq!(ka, kb);
        assert_ne!(da, db);
        assert_eq!(ka.lo(), ("10.1.2.3".parse().unwrap(), 49822));
    }

    #[test]
    fn vni_separates_tenants_but_mirror_sessions_do_not() {
        let mut a = meta("10.1.2.3", 1, "10.1.2.4", 2);
        a.tunnel = Tunnel::Vxlan { vni: 7 };
        let mut b = a;
        b.tunnel = Tunnel::Vxlan { vni: 8 };
        assert_ne!(FlowKey::of(&a, 1, 2).0, FlowKey::of(&b, 1, 2).0);
        let mut c = a;
        c.tunnel = Tunnel::ErspanII { session: 1 };
        let mut d = a;
        d.tunnel = Tunnel::ErspanIII { session: 2 };
        assert_eq!(FlowKey::of(&c, 1, 2).0, FlowKey::of(&d, 1, 2).0);
    }

    #[test]
    fn address_bits_round_trip_both_families() {
        for s in ["138.9.223.13", "2001:db8::1", "0.0.0.1"] {
            let a: IpAddr = s.parse().unwrap();
            assert_eq!(bits_addr(addr_bits(a)), a);
        }
    }
}
