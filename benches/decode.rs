//! Per-packet cost of `decode::decode`, the first stage of the packet path, on the shapes a span
//! port delivers; the etherparse row is the library decoder the design started from, measured on
//! the same frame so the hand-written decoder's speed-up is a number, not a claim.

use std::hint::black_box;
use std::net::IpAddr;

use c2tap::decode::{decode, decode_layers, Layers, LinkType, PacketMeta, Tunnel};
use criterion::{criterion_group, criterion_main, Criterion, Throughput};

const MACS: [u8; 12] = [2, 0, 0, 0, 0, 2, 2, 0, 0, 0, 0, 1];

/// IPv4 header for `payload_len` bytes of `protocol`, 10.0.0.1 → 10.0.0.2.
fn ipv4_header(protocol: u8, payload_len: usize) -> Vec<u8> {
    let total = u16::try_from(20 + payload_len)
        .unwrap_or(u16::MAX)
        .to_be_bytes();
    let mut h = vec![
        0x45, 0, total[0], total[1], 0, 1, 0x40, 0, 64, protocol, 0, 0,
    ];
    h.extend_from_slice(&[10, 0, 0, 1, 10, 0, 0, 2]);
    h
}

const TCP_SYN: [u8; 20] = [
    0x9c, 0x40, 0x01, 0xbb, 0, 0, 0, 1, 0, 0, 0, 0, 0x50, 0x02, 0xff, 0xff, 0, 0, 0, 0,
];

/// Ethernet / IPv4 / TCP SYN, padded to 64 bytes.
fn ethernet_ipv4_tcp() -> Vec<u8> {
    let payload = [&TCP_SYN[..], &[0; 10]].concat();
    [
        &MACS[..],
        &[0x08, 0x00],
        &ipv4_header(6, payload.len()),
        &payload,
    ]
    .concat()
}

/// Ethernet / 802.1Q 42 / IPv6 / UDP 53 with a 32-byte payload.
fn vlan_ipv6_udp() -> Vec<u8> {
    let udp = [&[0x14, 0xe9, 0x00, 0x35, 0x00, 40, 0, 0][..], &[0x61; 32]].concat();
    let mut ipv6 = vec![0x60, 0, 0, 0, 0, 40, 17, 64];
    ipv6.extend_from_slice(&[0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1]);
    ipv6.extend_from_slice(&[0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2]);
    [&MACS[..], &[0x81, 0x00, 0x00, 42, 0x86, 0xdd], &ipv6, &udp].concat()
}

/// The 64-byte TCP frame inside VXLAN (VNI 5000) inside Ethernet/IPv4/UDP 4789.
fn vxlan_in_udp() -> Vec<u8> {
    let vxlan = [
        &[0x08, 0, 0, 0, 0x00, 0x13, 0x88, 0][..],
        &ethernet_ipv4_tcp(),
    ]
    .concat();
    let udp_len = u16::try_from(8 + vxlan.len())
        .unwrap_or(u16::MAX)
        .to_be_bytes();
    let udp = [
        &[0xc7, 0x38, 0x12, 0xb5, udp_len[0], udp_len[1], 0, 0][..],
        &vxlan,
    ]
    .concat();
    [&MACS[..], &[0x08, 0x00], &ipv4_header(17, udp.len()), &udp].concat()
}

/// The 64-byte TCP frame mirrored by ERSPAN type II (session 100) over GRE with a sequence number.
fn erspan_ii() -> Vec<u8> {
    let gre = [
        &[0x10, 0x00, 0x88, 0xbe, 0, 0, 0, 7][..],
        &[0x10, 0x00, 0x18, 0x64, 0, 0, 0, 1],
        &ethernet_ipv4_tcp(),
    ]
    .concat();
    [&MACS[..], &[0x08, 0x00], &ipv4_header(47, gre.len()), &gre].concat()
}

fn bench_decode(c: &mut Criterion) {
    let mut group = c.benchmark_group("decode");
    group.throughput(Throughput::Elements(1));
    let frames = [
        ("ethernet_ipv4_tcp_64B", ethernet_ipv4_tcp()),
        ("vlan_ipv6_udp", vlan_ipv6_udp()),
        ("vxlan_in_udp", vxlan_in_udp()),
        ("erspan_ii", erspan_ii()),
    ];
    for (name, frame) in &frames {
        assert!(
            decode(LinkType::ETHERNET, frame).is_ok_and(|m| m.has_ports),
            "{name}"
        );
        group.bench_function(*name, |b| {
            b.iter(|| decode(black_box(LinkType::ETHERNET), black_box(frame)).map(flow_fields))
        });
    }
    // What the pipeline runs: the same, plus every other IP layer into a reused buffer.
    let mut layers = Layers::default();
    for (name, frame) in &frames {
        group.bench_function(format!("layers_{name}"), |b| {
            b.iter(|| {
                decode_layers(black_box(LinkType::ETHERNET), black_box(frame), &mut layers)
                    .map(flow_fields)
            })
        });
    }
    let frame = ethernet_ipv4_tcp();
    group.bench_function("etherparse_lax_ethernet_ipv4_tcp_64B", |b| {
        b.iter(|| etherparse_five_tuple(black_box(&frame)))
    });
    group.finish();
}

/// What the flow stage takes from a meta: addresses as 128-bit v4-mapped keys, ports, protocol,
/// flags, VLAN and tunnel, each field read on its own. Black-boxing the whole `PacketMeta`
/// instead would time a bulk copy of two 17-byte `IpAddr`s that the pipeline never makes.
fn flow_fields(meta: PacketMeta) -> (u128, u128, u16, u16, u8, u8, u16, Tunnel) {
    let bits = |addr: IpAddr| match addr {
        IpAddr::V4(v4) => u128::from(v4.to_ipv6_mapped()),
        IpAddr::V6(v6) => u128::from(v6),
    };
    (
        bits(meta.src),
        bits(meta.dst),
        meta.sport,
        meta.dport,
        meta.proto,
        meta.tcp_flags,
        meta.vlan,
        meta.tunnel,
    )
}

/// What the etherparse-based design would do per packet: slice, then pull out the 5-tuple.
fn etherparse_five_tuple(frame: &[u8]) -> Option<([u8; 4], [u8; 4], u16, u16)> {
    use etherparse::{LaxNetSlice, LaxSlicedPacket, TransportSlice};
    let packet = LaxSlicedPacket::from_ethernet(frame).ok()?;
    let Some(LaxNetSlice::Ipv4(ip)) = packet.net else {
        return None;
    };
    let header = ip.header();
    let (sport, dport) = match packet.transport? {
        TransportSlice::Tcp(tcp) => (tcp.source_port(), tcp.destination_port()),
        TransportSlice::Udp(udp) => (udp.source_port(), udp.destination_port()),
        _ => return None,
    };
    Some((header.source(), header.destination(), sport, dport))
}

criterion_group!(benches, bench_decode);
criterion_main!(benches);
