#![allow(clippy::indexing_slicing)]

use std::net::IpAddr;

use super::super::test_frames::*;
use super::super::{
    decode, decode_layers, proto, DecodeError, Fragment, Layers, LinkType, PacketMeta,
};

fn ethernet(frame: &[u8]) -> Result<PacketMeta, DecodeError> {
    decode(LinkType::ETHERNET, frame)
}

fn raw(packet: &[u8]) -> Result<PacketMeta, DecodeError> {
    decode(LinkType::RAW, packet)
}

#[test]
fn ipv4_options_are_skipped_by_ihl() {
    let packet = ipv4_with(
        &[1, 1, 1, 0, 7, 7, 4, 0],
        0,
        proto::TCP,
        &tcp(40000, 443, SYN),
    );
    let meta = ethernet(&eth(ETH_IPV4, &packet)).unwrap();
    assert_tcp4(&meta, SYN);
    assert_eq!(meta.ip_len, 48);
}

#[test]
fn ipv4_bad_headers() {
    let good = ipv4_tcp(SYN);
    let mut v5 = good.clone();
    v5[0] = 0x55;
    let mut ihl4 = good.clone();
    ihl4[0] = 0x44;
    let mut short_total = good.clone();
    short_total[2..4].copy_from_slice(&19u16.to_be_bytes());
    let mut options_beyond_total = ipv4_with(&[1; 8], 0, proto::TCP, &[]);
    options_beyond_total[2..4].copy_from_slice(&24u16.to_be_bytes());
    for bad in [v5, ihl4, short_total, options_beyond_total] {
        assert_eq!(
            ethernet(&eth(ETH_IPV4, &bad)),
            Err(DecodeError::BadIpHeader)
        );
    }
    assert_eq!(
        ethernet(&eth(ETH_IPV4, &good[..19])),
        Err(DecodeError::TruncatedIp)
    );
}

#[test]
fn ipv4_zero_total_length_means_as_captured() {
    let mut tso = ipv4_tcp(SYN);
    tso[2..4].copy_from_slice(&[0, 0]);
    tso.extend_from_slice(&[0xaa; 1000]);
    let meta = raw(&tso).unwrap();
    assert_tcp4(&meta, SYN);
    assert_eq!(meta.ip_len, 1040);
}

#[test]
fn padding_beyond_total_length_is_not_payload() {
    let packet = ipv4(proto::TCP, &tcp(40000, 443, SYN)[..3]);
    let frame = eth(ETH_IPV4, &[&packet[..], &[0xff; 30]].concat());
    let meta = ethernet(&frame).unwrap();
    assert_eq!(
        (meta.has_ports, meta.sport, meta.dport, meta.ip_len),
        (false, 0, 0, 23)
    );
}

#[test]
fn ipv4_snaplen_cuts_at_every_boundary() {
    let frame = eth(ETH_IPV4, &ipv4_tcp(SYN | 0x10));
    for cut in 14..34 {
        assert_eq!(
            ethernet(&frame[..cut]),
            Err(DecodeError::TruncatedIp),
            "cut {cut}"
        );
    }
    for cut in 34..frame.len() {
        let meta = ethernet(&frame[..cut]).unwrap();
        assert_eq!(meta.ip_len, 40, "cut {cut}");
        assert_eq!(meta.proto, proto::TCP);
        let ports_captured = cut >= 38;
        assert_eq!(meta.has_ports, ports_captured, "cut {cut}");
        assert_eq!(meta.dport, if ports_captured { 443 } else { 0 });
        assert_eq!(
            meta.tcp_flags,
            if cut >= 48 { SYN | 0x10 } else { 0 },
            "cut {cut}"
        );
    }
    let options_cut = eth(
        ETH_IPV4,
        &ipv4_with(&[1; 40], 0, proto::TCP, &tcp(1, 2, SYN)),
    );
    let meta = ethernet(&options_cut[..60]).unwrap();
    assert_eq!(
        (meta.proto, meta.has_ports, meta.ip_len),
        (proto::TCP, false, 80)
    );
}

#[test]
fn ipv4_fragments() {
    let first = ipv4_with(&[], 0x2000, proto::TCP, &tcp(40000, 443, SYN));
    let meta = raw(&first).unwrap();
    assert_eq!((meta.sport, meta.dport, meta.tcp_flags), (40000, 443, SYN));
    let expected = Fragment {
        id: 0x1234,
        offset: 0,
        more: true,
    };
    assert_eq!(meta.fragment, Some(expected));
    let later = ipv4_with(&[], 185, proto::TCP, &tcp(40000, 443, SYN));
    let meta = raw(&later).unwrap();
    assert_eq!(
        (meta.proto, meta.has_ports, meta.sport, meta.tcp_flags),
        (proto::TCP, false, 0, 0)
    );
    let expected = Fragment {
        id: 0x1234,
        offset: 1480,
        more: false,
    };
    assert_eq!(meta.fragment, Some(expected));
    let dont_fragment = ipv4_with(&[], 0x4000, proto::UDP, &udp(1, 2, &[]));
    assert_eq!(raw(&dont_fragment).unwrap().fragment, None);
}

/// A generic extension header of `len` bytes (a multiple of 8).
fn ext(next: u8, len: usize) -> Vec<u8> {
    let mut h = vec![next, u8::try_from(len / 8 - 1).unwrap()];
    h.resize(len, 0);
    h
}

fn fragment_header(next: u8, offset_units: u16, more: bool) -> Vec<u8> {
    let field = (offset_units << 3) | u16::from(more);
    [
        &[next, 0][..],
        &field.to_be_bytes(),
        &0xdead_beefu32.to_be_bytes(),
    ]
    .concat()
}

#[test]
fn ipv6_extension_chain() {
    let udp = udp(5353, 53, b"query");
    let chain = [ext(43, 8), ext(60, 24), ext(proto::UDP, 16), udp.clone()].concat();
    let meta = raw(&ipv6(0, &chain)).unwrap();
    assert_eq!(
        (meta.proto, meta.sport, meta.dport, meta.has_ports),
        (proto::UDP, 5353, 53, true)
    );
    assert_eq!(meta.ip_len, 40 + 48 + 13);
    // AH counts its length in 4-byte units minus 2.
    let ah = [&[proto::TCP, 4][..], &[0; 22]].concat();
    let meta = raw(&ipv6(51, &[ah, tcp(40000, 443, SYN)].concat())).unwrap();
    assert_eq!(
        (meta.proto, meta.dport, meta.tcp_flags),
        (proto::TCP, 443, SYN)
    );
}

#[test]
fn ipv6_stops_at_esp_and_no_next_header() {
    for next in [50, 59] {
        let meta = raw(&ipv6(60, &[ext(next, 8), vec![0xab; 16]].concat())).unwrap();
        assert_eq!((meta.proto, meta.has_ports, meta.sport), (next, false, 0));
    }
}

#[test]
fn ipv6_fragments() {
    let first = [
        fragment_header(proto::UDP, 0, true),
        udp(5353, 53, b"query"),
    ]
    .concat();
    let meta = raw(&ipv6(44, &first)).unwrap();
    assert_eq!((meta.sport, meta.dport, meta.proto), (5353, 53, proto::UDP));
    let expected = Fragment {
        id: 0xdead_beef,
        offset: 0,
        more: true,
    };
    assert_eq!(meta.fragment, Some(expected));
    let later = [
        fragment_header(proto::UDP, 100, false),
        udp(5353, 53, b"query"),
    ]
    .concat();
    let meta = raw(&ipv6(44, &later)).unwrap();
    assert_eq!(
        (meta.proto, meta.has_ports, meta.sport),
        (proto::UDP, false, 0)
    );
    let expected = Fragment {
        id: 0xdead_beef,
        offset: 800,
        more: false,
    };
    assert_eq!(meta.fragment, Some(expected));
    let atomic = [
        fragment_header(proto::UDP, 0, false),
        udp(5353, 53, b"query"),
    ]
    .concat();
    let meta = raw(&ipv6(44, &atomic)).unwrap();
    assert_eq!((meta.fragment, meta.dport), (None, 53));
}

#[test]
fn ipv6_bad_extensions() {
    let beyond_stated = ipv6(0, &ext(proto::TCP, 16)[..8]);
    assert_eq!(raw(&beyond_stated), Err(DecodeError::BadIpv6Extension));
    let packet = ipv6(
        0,
        &[
            ext(44, 8),
            fragment_header(proto::TCP, 0, false),
            tcp(1, 2, SYN),
        ]
        .concat(),
    );
    for cut in [40, 41, 47, 48, 49, 55] {
        assert_eq!(
            raw(&packet[..cut]),
            Err(DecodeError::BadIpv6Extension),
            "cut {cut}"
        );
    }
    assert!(!raw(&packet[..56]).unwrap().has_ports);
    assert_eq!(raw(&packet[..60]).unwrap().dport, 2);
    let long_chain: Vec<u8> = (0..17).flat_map(|_| ext(60, 8)).collect();
    assert_eq!(
        raw(&ipv6(60, &long_chain)),
        Err(DecodeError::BadIpv6Extension)
    );
}

/// `n` destination-options headers, then TCP 40000 → 443.
fn chain_of(n: usize) -> Vec<u8> {
    let mut chain: Vec<u8> = (1..n).flat_map(|_| ext(60, 8)).collect();
    chain.extend(ext(proto::TCP, 8));
    ipv6(60, &[chain, tcp(40000, 443, SYN)].concat())
}

#[test]
fn sixteen_extension_headers_decode_and_more_leave_the_addresses() {
    for n in [8, 16] {
        let meta = raw(&chain_of(n)).unwrap();
        assert_eq!(
            (meta.proto, meta.dport, meta.tcp_flags),
            (proto::TCP, 443, SYN),
            "{n}"
        );
    }
    let mut layers = Layers::default();
    let meta = decode_layers(LinkType::RAW, &chain_of(17), &mut layers);
    assert_eq!(meta, Err(DecodeError::BadIpv6Extension));
    let [stopped] = layers.as_slice() else {
        panic!("one layer: {layers:?}");
    };
    let m = &stopped.meta;
    assert_eq!((m.src, m.dst), (IpAddr::V6(SRC6), IpAddr::V6(DST6)));
    assert_eq!(
        (m.has_ports, m.sport, m.dport, m.outer),
        (false, 0, 0, false)
    );
    // A chain cut short leaves the addresses too.
    let cut = chain_of(3);
    let meta = decode_layers(LinkType::RAW, &cut[..52], &mut layers);
    assert_eq!(meta, Err(DecodeError::BadIpv6Extension));
    assert_eq!(layers.as_slice()[0].meta.dst, IpAddr::V6(DST6));
    // A header cut before the addresses leaves nothing.
    assert_eq!(
        decode_layers(LinkType::RAW, &cut[..30], &mut layers),
        Err(DecodeError::TruncatedIp)
    );
    assert!(layers.as_slice().is_empty());
}

#[test]
fn ipv6_header_errors_and_lengths() {
    let good = ipv6_udp();
    assert_eq!(
        ethernet(&eth(ETH_IPV6, &good[..39])),
        Err(DecodeError::TruncatedIp)
    );
    assert_eq!(
        ethernet(&eth(ETH_IPV6, &ipv4_tcp(SYN))),
        Err(DecodeError::BadIpHeader)
    );
    assert_eq!(
        ethernet(&eth(ETH_IPV4, &good)),
        Err(DecodeError::BadIpHeader)
    );
    let mut jumbo = good.clone();
    jumbo[4..6].copy_from_slice(&[0, 0]);
    assert_eq!(raw(&jumbo).unwrap().ip_len, 53);
    let meta = raw(&good[..44]).unwrap();
    assert_eq!(
        (meta.ip_len, meta.sport, meta.dport, meta.has_ports),
        (53, 5353, 53, true)
    );
    assert!(!raw(&good[..43]).unwrap().has_ports);
}

#[test]
fn icmp_type_and_code() {
    let meta = raw(&ipv4(proto::ICMP, &[8, 0, 0, 0])).unwrap();
    assert_eq!(
        (meta.icmp_type, meta.icmp_code, meta.has_ports),
        (8, 0, false)
    );
    let meta = raw(&ipv6(proto::ICMPV6, &[1, 4, 0, 0])).unwrap();
    assert_eq!((meta.icmp_type, meta.icmp_code), (1, 4));
    let meta = raw(&ipv6(proto::ICMPV6, &[])).unwrap();
    assert_eq!((meta.icmp_type, meta.icmp_code), (0, 0));
}

#[test]
fn other_port_protocols() {
    for protocol in [proto::SCTP, 33, 136] {
        let meta = raw(&ipv4(protocol, &[0x1f, 0x90, 0x00, 0x50, 0, 0, 0, 0])).unwrap();
        assert_eq!(
            (meta.sport, meta.dport, meta.has_ports, meta.proto),
            (8080, 80, true, protocol)
        );
    }
    let meta = raw(&ipv4(89, &[0x1f, 0x90, 0x00, 0x50])).unwrap();
    assert_eq!((meta.proto, meta.has_ports), (89, false));
}
