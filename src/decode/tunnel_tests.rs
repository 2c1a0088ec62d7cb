#![allow(clippy::indexing_slicing)]

use std::net::{IpAddr, Ipv4Addr};

use super::super::test_frames::*;
use super::super::{
    decode, decode_layers, proto, DecodeError, Layer, Layers, LinkType, PacketMeta, Tunnel,
};

const UNDERLAY_VLAN: u16 = 10;

/// The mirror transport: Ethernet, VLAN 10, IPv4 203.0.113.1 → 203.0.113.2.
fn underlay(protocol: u8, payload: &[u8]) -> Vec<u8> {
    let mut packet = ipv4(protocol, payload);
    packet[12..20].copy_from_slice(&[203, 0, 113, 1, 203, 0, 113, 2]);
    eth_tagged(&[(0x8100, UNDERLAY_VLAN)], ETH_IPV4, &packet)
}

fn gre(flags: u16, protocol: u16, words: &[u32], payload: &[u8]) -> Vec<u8> {
    let mut g = [flags.to_be_bytes(), protocol.to_be_bytes()].concat();
    for word in words {
        g.extend_from_slice(&word.to_be_bytes());
    }
    g.extend_from_slice(payload);
    underlay(proto::GRE, &g)
}

fn ethernet(frame: &[u8]) -> Result<PacketMeta, DecodeError> {
    decode(LinkType::ETHERNET, frame)
}

fn assert_outer(meta: &PacketMeta, protocol: u8) {
    assert_eq!(meta.src, IpAddr::V4(Ipv4Addr::new(203, 0, 113, 1)));
    assert_eq!(
        (meta.proto, meta.tunnel, meta.vlan),
        (protocol, Tunnel::None, UNDERLAY_VLAN)
    );
}

#[test]
fn gre_plain_ip() {
    let meta = ethernet(&gre(0, 0x0800, &[], &ipv4_tcp(SYN))).unwrap();
    assert_tunnelled_tcp4(&meta, Tunnel::Gre { key: None }, 0);
    let meta = ethernet(&gre(0, 0x86dd, &[], &ipv6_udp())).unwrap();
    assert_udp6(&meta);
}

#[test]
fn gre_checksum_key_sequence() {
    let frame = gre(
        0xb000,
        0x0800,
        &[0xffff_0000, 0x0102_0304, 7],
        &ipv4_tcp(SYN),
    );
    let meta = ethernet(&frame).unwrap();
    assert_tunnelled_tcp4(
        &meta,
        Tunnel::Gre {
            key: Some(0x0102_0304),
        },
        0,
    );
    let key_only = gre(
        0x2000,
        0x6558,
        &[42],
        &eth_tagged(&[(0x8100, 77)], ETH_IPV4, &ipv4_tcp(SYN)),
    );
    assert_tunnelled_tcp4(
        &ethernet(&key_only).unwrap(),
        Tunnel::Gre { key: Some(42) },
        77,
    );
    let mpls = [&0x0006_4140u32.to_be_bytes()[..], &ipv4_tcp(SYN)].concat();
    let meta = ethernet(&gre(0, 0x8847, &[], &mpls)).unwrap();
    assert_tunnelled_tcp4(&meta, Tunnel::Gre { key: None }, 0);
    // A key of 0 is a key: it differs from no key field at all.
    let zero_key = gre(0x2000, 0x0800, &[0], &ipv4_tcp(SYN));
    assert_tunnelled_tcp4(
        &ethernet(&zero_key).unwrap(),
        Tunnel::Gre { key: Some(0) },
        0,
    );
}

#[test]
fn gre_that_is_not_a_mirror_stays_the_outer_flow() {
    // PPTP enhanced GRE (version 1), an unknown payload, RFC 1701 routing.
    for frame in [
        gre(0x2001, 0x880b, &[0x0010_0001], &[0xff, 0x03]),
        gre(0, 0x0806, &[], &[0; 28]),
        gre(0x4000, 0x0800, &[0], &ipv4_tcp(SYN)),
    ] {
        assert_outer(&ethernet(&frame).unwrap(), proto::GRE);
    }
}

#[test]
fn gre_cut_short() {
    let frame = gre(0xb000, 0x0800, &[0, 1, 2], &ipv4_tcp(SYN));
    let gre_at = 18 + 20;
    for cut in [gre_at, gre_at + 3, gre_at + 8, gre_at + 11, gre_at + 15] {
        assert_eq!(
            ethernet(&frame[..cut]),
            Err(DecodeError::BadTunnel),
            "cut {cut}"
        );
    }
    assert_eq!(
        ethernet(&frame[..gre_at + 16]),
        Err(DecodeError::TruncatedIp)
    );
}

fn erspan_ii_word(vlan: u16, en: u32, session: u16) -> u32 {
    (1 << 28) | (u32::from(vlan) << 16) | (en << 11) | u32::from(session)
}

#[test]
fn erspan_ii() {
    let inner = eth_tagged(&[(0x8100, 55)], ETH_IPV4, &ipv4_tcp(SYN));
    let header = [erspan_ii_word(0, 3, 0x123).to_be_bytes(), [0, 0, 0, 9]].concat();
    let frame = gre(0x1000, 0x88be, &[1], &[&header[..], &inner].concat());
    assert_tunnelled_tcp4(
        &ethernet(&frame).unwrap(),
        Tunnel::ErspanII { session: 0x123 },
        55,
    );
    // The switch stripped the original 802.1Q tag into the header (En = 2).
    let header = [erspan_ii_word(99, 2, 7).to_be_bytes(), [0; 4]].concat();
    let frame = gre(
        0x1000,
        0x88be,
        &[1],
        &[&header[..], &eth(ETH_IPV4, &ipv4_tcp(SYN))].concat(),
    );
    assert_tunnelled_tcp4(
        &ethernet(&frame).unwrap(),
        Tunnel::ErspanII { session: 7 },
        99,
    );
    let header = [erspan_ii_word(99, 0, 7).to_be_bytes(), [0; 4]].concat();
    let frame = gre(
        0x1000,
        0x88be,
        &[1],
        &[&header[..], &eth(ETH_IPV4, &ipv4_tcp(SYN))].concat(),
    );
    assert_eq!(ethernet(&frame).unwrap().vlan, 0);
}

#[test]
fn erspan_ii_errors() {
    let header = [(2u32 << 28).to_be_bytes(), [0; 4]].concat();
    let wrong_version = gre(
        0x1000,
        0x88be,
        &[1],
        &[&header[..], &eth(ETH_IPV4, &ipv4_tcp(SYN))].concat(),
    );
    assert_eq!(ethernet(&wrong_version), Err(DecodeError::BadTunnel));
    let header = [erspan_ii_word(0, 0, 1).to_be_bytes(), [0; 4]].concat();
    let frame = gre(
        0x1000,
        0x88be,
        &[1],
        &[&header[..], &eth(ETH_IPV4, &ipv4_tcp(SYN))].concat(),
    );
    let erspan_at = 18 + 20 + 8;
    for cut in [erspan_at, erspan_at + 3, erspan_at + 7] {
        assert_eq!(
            ethernet(&frame[..cut]),
            Err(DecodeError::BadTunnel),
            "cut {cut}"
        );
    }
    assert_eq!(
        ethernet(&frame[..erspan_at + 8]),
        Err(DecodeError::TruncatedLink)
    );
}

fn erspan_iii(frame_type: u32, subheader: bool, session: u16, payload: &[u8]) -> Vec<u8> {
    let last = (0xabcd << 16) | (frame_type << 10) | u32::from(subheader);
    let mut header = [
        ((2u32 << 28) | u32::from(session)).to_be_bytes(),
        [0, 0, 1, 0],
        last.to_be_bytes(),
    ]
    .concat();
    if subheader {
        header.extend_from_slice(&[0xee; 8]);
    }
    gre(0, 0x22eb, &[], &[&header[..], payload].concat())
}

#[test]
fn erspan_iii_frame_types_and_subheader() {
    let inner = eth_tagged(&[(0x88a8, 5), (0x8100, 6)], ETH_IPV4, &ipv4_tcp(SYN));
    for subheader in [false, true] {
        let meta = ethernet(&erspan_iii(0, subheader, 0x3ff, &inner)).unwrap();
        assert_tunnelled_tcp4(&meta, Tunnel::ErspanIII { session: 0x3ff }, 6);
    }
    let meta = ethernet(&erspan_iii(2, false, 3, &ipv6_udp())).unwrap();
    assert_udp6(&meta);
    assert_eq!(meta.tunnel, Tunnel::ErspanIII { session: 3 });
    assert_eq!(
        ethernet(&erspan_iii(5, false, 3, &inner)),
        Err(DecodeError::BadTunnel)
    );
    let cut = erspan_iii(0, true, 3, &inner);
    assert_eq!(
        ethernet(&cut[..18 + 20 + 4 + 12 + 7]),
        Err(DecodeError::BadTunnel)
    );
    assert_eq!(
        ethernet(&cut[..18 + 20 + 4 + 11]),
        Err(DecodeError::BadTunnel)
    );
}

fn vxlan(flags: u8, vni: u32, inner: &[u8]) -> Vec<u8> {
    let header = [[flags, 0, 0, 0], (vni << 8).to_be_bytes()].concat();
    underlay(
        proto::UDP,
        &udp(51000, 4789, &[&header[..], inner].concat()),
    )
}

#[test]
fn vxlan_with_inner_vlan() {
    let inner = eth_tagged(&[(0x8100, 12)], ETH_IPV4, &ipv4_tcp(SYN));
    let meta = ethernet(&vxlan(0x08, 0x12_3456, &inner)).unwrap();
    assert_tunnelled_tcp4(&meta, Tunnel::Vxlan { vni: 0x12_3456 }, 12);
    let meta = ethernet(&vxlan(0x08, 1, &eth(ETH_IPV6, &ipv6_udp()))).unwrap();
    assert_udp6(&meta);
    assert_eq!((meta.tunnel, meta.vlan), (Tunnel::Vxlan { vni: 1 }, 0));
}

#[test]
fn vxlan_port_without_vxlan_is_plain_udp() {
    let meta = ethernet(&vxlan(0x00, 1, &eth(ETH_IPV4, &ipv4_tcp(SYN)))).unwrap();
    assert_outer(&meta, proto::UDP);
    assert_eq!((meta.sport, meta.dport), (51000, 4789));
}

#[test]
fn vxlan_cut_and_non_ip_inside() {
    let frame = vxlan(0x08, 1, &eth(ETH_IPV4, &ipv4_tcp(SYN)));
    let vxlan_at = 18 + 20 + 8;
    for cut in [vxlan_at - 4, vxlan_at, vxlan_at + 7] {
        assert_eq!(
            ethernet(&frame[..cut]),
            Err(DecodeError::BadTunnel),
            "cut {cut}"
        );
    }
    assert_eq!(
        ethernet(&frame[..vxlan_at + 8]),
        Err(DecodeError::TruncatedLink)
    );
    let arp = vxlan(0x08, 1, &eth(0x0806, &[0; 28]));
    assert_eq!(ethernet(&arp), Err(DecodeError::NotIp));
}

fn geneve(version: u8, protocol: u16, options: &[u8], vni: u32, inner: &[u8]) -> Vec<u8> {
    let opt_words = u8::try_from(options.len() / 4).unwrap();
    let mut header = vec![(version << 6) | opt_words, 0];
    header.extend_from_slice(&protocol.to_be_bytes());
    header.extend_from_slice(&(vni << 8).to_be_bytes());
    header.extend_from_slice(options);
    underlay(
        proto::UDP,
        &udp(51000, 6081, &[&header[..], inner].concat()),
    )
}

#[test]
fn geneve_options_and_payload_types() {
    let inner = eth_tagged(&[(0x8100, 3)], ETH_IPV4, &ipv4_tcp(SYN));
    let options = [0x01, 0x02, 0x80, 0x01, 0xde, 0xad, 0xbe, 0xef];
    let meta = ethernet(&geneve(0, 0x6558, &options, 0xabcdef, &inner)).unwrap();
    assert_tunnelled_tcp4(&meta, Tunnel::Geneve { vni: 0xabcdef }, 3);
    let meta = ethernet(&geneve(0, 0x86dd, &[], 9, &ipv6_udp())).unwrap();
    assert_udp6(&meta);
    assert_eq!(meta.tunnel, Tunnel::Geneve { vni: 9 });
    assert_outer(
        &ethernet(&geneve(1, 0x6558, &[], 9, &inner)).unwrap(),
        proto::UDP,
    );
    assert_outer(
        &ethernet(&geneve(0, 0x0806, &[], 9, &[0; 28])).unwrap(),
        proto::UDP,
    );
    let cut = geneve(0, 0x6558, &options, 1, &inner);
    assert_eq!(
        ethernet(&cut[..18 + 20 + 8 + 8 + 7]),
        Err(DecodeError::BadTunnel)
    );
}

#[test]
fn nesting_is_bounded() {
    let vxlan_in = |inner: &[u8]| vxlan(0x08, 1, inner);
    let four = vxlan_in(&vxlan_in(&vxlan_in(&vxlan_in(&eth(
        ETH_IPV4,
        &ipv4_tcp(SYN),
    )))));
    assert_tunnelled_tcp4(&ethernet(&four).unwrap(), Tunnel::Vxlan { vni: 1 }, 0);
    let five = vxlan_in(&four);
    assert_eq!(ethernet(&five), Err(DecodeError::TooManyLayers));
}

fn with_layers(frame: &[u8]) -> (Result<PacketMeta, DecodeError>, Vec<Layer>) {
    let mut layers = Layers::default();
    let meta = decode_layers(LinkType::ETHERNET, frame, &mut layers);
    (meta, layers.as_slice().to_vec())
}

/// The underlay packet as a layer: 203.0.113.1 → 203.0.113.2 on VLAN 10.
fn assert_underlay(layer: &Layer, protocol: u8, ports: Option<(u16, u16)>) {
    let meta = &layer.meta;
    assert_eq!(meta.src, IpAddr::V4(Ipv4Addr::new(203, 0, 113, 1)));
    assert_eq!(meta.dst, IpAddr::V4(Ipv4Addr::new(203, 0, 113, 2)));
    assert_eq!((meta.proto, meta.vlan), (protocol, UNDERLAY_VLAN));
    assert_eq!(meta.has_ports, ports.is_some());
    assert_eq!((meta.sport, meta.dport), ports.unwrap_or((0, 0)));
    assert_eq!(layer.arrived, Tunnel::None);
}

#[test]
fn each_peeled_tunnel_leaves_its_outer_layer() {
    let inner = eth_tagged(&[(0x8100, 12)], ETH_IPV4, &ipv4_tcp(SYN));
    let (meta, layers) = with_layers(&vxlan(0x08, 77, &inner));
    assert_tunnelled_tcp4(&meta.unwrap(), Tunnel::Vxlan { vni: 77 }, 12);
    assert_eq!(layers.len(), 1);
    assert_underlay(&layers[0], proto::UDP, Some((51000, 4789)));
    assert_eq!(
        (layers[0].meta.outer, layers[0].meta.tunnel),
        (true, Tunnel::Vxlan { vni: 77 })
    );
    let (meta, layers) = with_layers(&gre(0x2000, 0x0800, &[5], &ipv4_tcp(SYN)));
    assert!(!meta.unwrap().outer);
    assert_underlay(&layers[0], proto::GRE, None);
    assert_eq!(layers[0].meta.tunnel, Tunnel::Gre { key: Some(5) });
    // A frame without tunnels leaves none, on the fast path or not.
    for frame in [
        eth(ETH_IPV4, &ipv4_tcp(SYN)),
        eth_tagged(&[(0x88a8, 1), (0x8100, 2)], ETH_IPV6, &ipv6_udp()),
    ] {
        let (meta, layers) = with_layers(&frame);
        assert_eq!(meta, ethernet(&frame));
        assert!(layers.is_empty());
    }
}

#[test]
fn nested_tunnels_leave_every_layer_in_order_with_its_context() {
    // Geneve inside VXLAN: the middle layer arrived in VXLAN and carried Geneve.
    let innermost = eth(ETH_IPV4, &ipv4_tcp(SYN));
    let middle = eth_tagged(
        &[(0x8100, 44)],
        ETH_IPV4,
        &ipv4(
            17,
            &udp(
                7,
                6081,
                &[&[0, 0, 0x65, 0x58, 0, 0, 9, 0][..], &innermost].concat(),
            ),
        ),
    );
    let (meta, layers) = with_layers(&vxlan(0x08, 3, &middle));
    assert_tunnelled_tcp4(&meta.unwrap(), Tunnel::Geneve { vni: 9 }, 0);
    assert_eq!(layers.len(), 2);
    assert_eq!(layers[0].meta.tunnel, Tunnel::Vxlan { vni: 3 });
    let mid = &layers[1];
    assert_eq!((mid.meta.src, mid.meta.dport), (IpAddr::V4(SRC4), 6081));
    assert_eq!((mid.meta.vlan, mid.arrived), (44, Tunnel::Vxlan { vni: 3 }));
    assert_eq!(
        (mid.meta.outer, mid.meta.tunnel),
        (true, Tunnel::Geneve { vni: 9 })
    );
}

#[test]
fn too_deep_still_leaves_the_layers_read() {
    let vxlan_in = |inner: &[u8]| vxlan(0x08, 1, inner);
    let mut frame = eth(ETH_IPV4, &ipv4_tcp(SYN));
    for _ in 0..5 {
        frame = vxlan_in(&frame);
    }
    let (meta, layers) = with_layers(&frame);
    assert_eq!(meta, Err(DecodeError::TooManyLayers));
    // Four outer layers, then the fifth packet, whose VXLAN was one too many, as itself.
    assert_eq!(layers.len(), 5);
    assert!(layers[..4].iter().all(|l| l.meta.outer));
    assert_underlay(&layers[0], proto::UDP, Some((51000, 4789)));
    let stopped = &layers[4].meta;
    assert_eq!(
        (stopped.outer, stopped.tunnel),
        (false, Tunnel::Vxlan { vni: 1 })
    );
    assert_eq!((stopped.proto, stopped.dport), (proto::UDP, 4789));
    // Nine VLAN tags inside a tunnel: the inner packet is out of reach, the outer is not.
    let (meta, layers) = with_layers(&vxlan_in(&eth_tagged(
        &[(0x8100, 9); 9],
        ETH_IPV4,
        &ipv4_tcp(SYN),
    )));
    assert_eq!(meta, Err(DecodeError::TooManyLayers));
    assert_eq!(layers.len(), 1);
    assert!(layers[0].meta.outer);
}

#[test]
fn a_bad_tunnel_header_leaves_the_packet_that_carried_it() {
    let short_vxlan = vxlan(0x08, 1, &[]);
    let (meta, layers) = with_layers(&short_vxlan[..short_vxlan.len() - 4]);
    assert_eq!(meta, Err(DecodeError::BadTunnel));
    assert_eq!(layers.len(), 1);
    assert_underlay(&layers[0], proto::UDP, Some((51000, 4789)));
    assert_eq!(
        (layers[0].meta.outer, layers[0].meta.tunnel),
        (false, Tunnel::None)
    );
    let (meta, layers) = with_layers(&gre(0x2000, 0x0800, &[], &[]));
    assert_eq!(meta, Err(DecodeError::BadTunnel));
    assert_underlay(&layers[0], proto::GRE, None);
    // Errors before any IP header leave nothing.
    let (meta, layers) = with_layers(&eth(0x0806, &[0; 28]));
    assert_eq!((meta, layers.len()), (Err(DecodeError::NotIp), 0));
}

#[test]
fn only_the_first_outer_fragment_is_peeled() {
    let payload = udp(
        51000,
        4789,
        &[
            &[8, 0, 0, 0, 0, 0, 1, 0][..],
            &eth(ETH_IPV4, &ipv4_tcp(SYN)),
        ]
        .concat(),
    );
    let first = eth(ETH_IPV4, &ipv4_with(&[], 0x2000, proto::UDP, &payload));
    assert_tunnelled_tcp4(&ethernet(&first).unwrap(), Tunnel::Vxlan { vni: 1 }, 0);
    let later = eth(ETH_IPV4, &ipv4_with(&[], 0x0010, proto::UDP, &payload));
    let meta = ethernet(&later).unwrap();
    assert_eq!(
        (meta.proto, meta.tunnel, meta.has_ports),
        (proto::UDP, Tunnel::None, false)
    );
}
