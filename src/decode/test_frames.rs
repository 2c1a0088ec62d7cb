//! Frame builders for the decode tests: each layer is written byte by byte the way the wire
//! carries it, so the tests read as "Ethernet / VLAN 42 / IPv4 / TCP SYN".

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use super::{proto, tcp_flags, PacketMeta, Tunnel};

pub const ETH_IPV4: u16 = 0x0800;
pub const ETH_IPV6: u16 = 0x86dd;
pub const SYN: u8 = tcp_flags::SYN;
pub const SRC4: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 1);
pub const DST4: Ipv4Addr = Ipv4Addr::new(198, 51, 100, 7);
pub const SRC6: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 1);
pub const DST6: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 2);

pub fn tcp(sport: u16, dport: u16, flags: u8) -> Vec<u8> {
    let mut t = [sport.to_be_bytes(), dport.to_be_bytes()].concat();
    t.extend_from_slice(&[0, 0, 0, 1, 0, 0, 0, 0, 0x50, flags, 0xff, 0xff, 0, 0, 0, 0]);
    t
}

pub fn udp(sport: u16, dport: u16, payload: &[u8]) -> Vec<u8> {
    let len = u16::try_from(8 + payload.len()).unwrap();
    let mut u = [
        sport.to_be_bytes(),
        dport.to_be_bytes(),
        len.to_be_bytes(),
        [0, 0],
    ]
    .concat();
    u.extend_from_slice(payload);
    u
}

/// IPv4 with `options` (a multiple of 4 bytes) and the raw flags/fragment-offset field.
pub fn ipv4_with(options: &[u8], fragment_field: u16, protocol: u8, payload: &[u8]) -> Vec<u8> {
    let header_len = 20 + options.len();
    let ihl = u8::try_from(header_len / 4).unwrap();
    let total = u16::try_from(header_len + payload.len()).unwrap();
    let mut p = vec![0x40 | ihl, 0];
    p.extend_from_slice(&total.to_be_bytes());
    p.extend_from_slice(&[0x12, 0x34]);
    p.extend_from_slice(&fragment_field.to_be_bytes());
    p.extend_from_slice(&[64, protocol, 0, 0]);
    p.extend_from_slice(&SRC4.octets());
    p.extend_from_slice(&DST4.octets());
    p.extend_from_slice(options);
    p.extend_from_slice(payload);
    p
}

pub fn ipv4(protocol: u8, payload: &[u8]) -> Vec<u8> {
    ipv4_with(&[], 0x4000, protocol, payload)
}

pub fn ipv6(next: u8, payload: &[u8]) -> Vec<u8> {
    let len = u16::try_from(payload.len()).unwrap();
    let mut p = vec![0x60, 0, 0, 0];
    p.extend_from_slice(&len.to_be_bytes());
    p.extend_from_slice(&[next, 64]);
    p.extend_from_slice(&SRC6.octets());
    p.extend_from_slice(&DST6.octets());
    p.extend_from_slice(payload);
    p
}

/// 192.0.2.1:40000 → 198.51.100.7:443 TCP.
pub fn ipv4_tcp(flags: u8) -> Vec<u8> {
    ipv4(proto::TCP, &tcp(40000, 443, flags))
}

/// [2001:db8::1]:5353 → [2001:db8::2]:53 UDP.
pub fn ipv6_udp() -> Vec<u8> {
    ipv6(proto::UDP, &udp(5353, 53, b"query"))
}

pub fn eth(ethertype: u16, payload: &[u8]) -> Vec<u8> {
    eth_tagged(&[], ethertype, payload)
}

/// Ethernet with `(tpid, vlan id)` tags, outermost first.
pub fn eth_tagged(tags: &[(u16, u16)], ethertype: u16, payload: &[u8]) -> Vec<u8> {
    let mut f = vec![0x02, 0, 0, 0, 0, 0x02, 0x02, 0, 0, 0, 0, 0x01];
    for (tpid, vid) in tags {
        f.extend_from_slice(&tpid.to_be_bytes());
        f.extend_from_slice(&(0x2000 | vid).to_be_bytes());
    }
    f.extend_from_slice(&ethertype.to_be_bytes());
    f.extend_from_slice(payload);
    f
}

/// The flow of [`ipv4_tcp`] with `flags`, no tunnel.
pub fn assert_tcp4(meta: &PacketMeta, flags: u8) {
    assert_eq!(meta.src, IpAddr::V4(SRC4));
    assert_eq!(meta.dst, IpAddr::V4(DST4));
    assert_eq!(meta.proto, proto::TCP);
    assert_eq!((meta.sport, meta.dport, meta.has_ports), (40000, 443, true));
    assert_eq!(meta.tcp_flags, flags);
    assert_eq!(meta.fragment, None);
}

/// The flow of [`ipv6_udp`].
pub fn assert_udp6(meta: &PacketMeta) {
    assert_eq!(meta.src, IpAddr::V6(SRC6));
    assert_eq!(meta.dst, IpAddr::V6(DST6));
    assert_eq!(meta.proto, proto::UDP);
    assert_eq!((meta.sport, meta.dport, meta.has_ports), (5353, 53, true));
    assert_eq!(meta.tcp_flags, 0);
    assert_eq!(meta.ip_len, 40 + 13);
}

/// The flow of [`ipv4_tcp`] arriving through `tunnel` on `vlan`.
pub fn assert_tunnelled_tcp4(meta: &PacketMeta, tunnel: Tunnel, vlan: u16) {
    assert_tcp4(meta, SYN);
    assert_eq!((meta.tunnel, meta.vlan), (tunnel, vlan));
}
