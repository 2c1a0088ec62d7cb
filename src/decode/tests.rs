#![allow(clippy::indexing_slicing)]

use proptest::prelude::*;

use super::test_frames::*;
use super::{decode, decode_layers, proto, DecodeError, Layers, LinkType, PayloadAt, Tunnel};

const LINK_TYPES: [u32; 10] = [0, 1, 12, 14, 101, 108, 113, 228, 229, 276];

#[test]
fn error_kinds_are_a_closed_indexed_set() {
    for (i, error) in DecodeError::ALL.iter().enumerate() {
        assert_eq!(error.index(), i);
        let kind = error.kind();
        assert!(
            kind.bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_'),
            "{kind}"
        );
        let same_kind = DecodeError::ALL.iter().filter(|e| e.kind() == kind).count();
        assert_eq!(same_kind, 1, "{kind}");
    }
}

/// One valid frame per decoder path, for the truncation and mutation properties.
fn valid_frames() -> Vec<(u32, Vec<u8>)> {
    let tagged = eth_tagged(&[(0x88a8, 200), (0x8100, 100)], ETH_IPV4, &ipv4_tcp(SYN));
    let vxlan_header = [8, 0, 0, 0, 0, 0, 1, 0];
    let vxlan = eth(
        ETH_IPV4,
        &ipv4(17, &udp(1, 4789, &[&vxlan_header[..], &tagged].concat())),
    );
    let erspan = [&[0x10, 0x00, 0x10, 0x01, 0, 0, 0, 0][..], &tagged].concat();
    let gre = eth(
        ETH_IPV4,
        &ipv4(
            47,
            &[&[0x10, 0, 0x88, 0xbe, 0, 0, 0, 1][..], &erspan].concat(),
        ),
    );
    let mpls = eth(0x8847, &[&[0, 1, 0x01, 64][..], &[0; 4], &tagged].concat());
    let ext = ipv6(
        0,
        &[
            &[44, 0, 1, 4, 0, 0, 0, 0][..],
            &[17, 0, 0, 1, 0, 0, 0, 1],
            &udp(1, 2, b"x"),
        ]
        .concat(),
    );
    vec![
        (1, tagged),
        (1, vxlan),
        (1, gre),
        (1, mpls),
        (101, ext),
        (0, [&[2, 0, 0, 0][..], &ipv4_tcp(SYN)].concat()),
        (108, [&[0, 0, 0, 30][..], &ipv6_udp()].concat()),
        (276, [&[0x08, 0][..], &[0; 18], &ipv4_tcp(SYN)].concat()),
    ]
}

#[test]
fn every_truncation_of_a_valid_frame_decodes_or_errs() {
    for (link, frame) in valid_frames() {
        assert!(decode(LinkType(link), &frame).is_ok(), "link {link}");
        for cut in 0..frame.len() {
            let _ = decode(LinkType(link), &frame[..cut]);
        }
    }
}

/// Valid frame `which`, with bytes overwritten at `flips` and cut at `cut`.
fn mutated(
    which: usize,
    cut: prop::sample::Index,
    flips: &[(prop::sample::Index, u8)],
) -> (u32, Vec<u8>) {
    let (link, mut frame) = valid_frames().swap_remove(which);
    for (at, value) in flips {
        let at = at.index(frame.len());
        frame[at] = *value;
    }
    frame.truncate(cut.index(frame.len() + 1));
    (link, frame)
}

proptest! {
    #[test]
    fn arbitrary_bytes_never_panic(
        link in prop::sample::select(LINK_TYPES.to_vec()),
        bytes in prop::collection::vec(any::<u8>(), 0..200),
    ) {
        let _ = decode(LinkType(link), &bytes);
    }

    #[test]
    fn truncated_and_mutated_valid_frames_never_panic(
        which in 0usize..8,
        cut in any::<prop::sample::Index>(),
        flips in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 0..4),
    ) {
        let (link, frame) = mutated(which, cut, &flips);
        let _ = decode(LinkType(link), &frame);
    }

    /// The layers never change the flow `decode` finds; outer layers name the tunnel they
    /// carried; a layer decoding stopped in comes last, and only with an error.
    #[test]
    fn layers_are_consistent_with_the_innermost_flow(
        which in 0usize..8,
        cut in any::<prop::sample::Index>(),
        flips in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 0..4),
    ) {
        let (link, frame) = mutated(which, cut, &flips);
        let frame = &frame[..];
        let mut layers = Layers::default();
        let meta = decode_layers(LinkType(link), frame, &mut layers);
        prop_assert_eq!(meta, decode(LinkType(link), frame));
        let all = layers.as_slice();
        for (i, layer) in all.iter().enumerate() {
            if layer.meta.outer {
                prop_assert_ne!(layer.meta.tunnel, Tunnel::None);
            } else {
                prop_assert!(i + 1 == all.len() && meta.is_err());
                prop_assert_eq!(layer.meta.tunnel, layer.arrived);
            }
        }
    }
}

/// A TCP segment 40000 → 443 with sequence number `seq`, a 4-byte option and `data`.
fn tcp_data(seq: u32, data: &[u8]) -> Vec<u8> {
    let mut t = [40000u16.to_be_bytes(), 443u16.to_be_bytes()].concat();
    t.extend_from_slice(&seq.to_be_bytes());
    t.extend_from_slice(&[0, 0, 0, 0, 0x60, 0x18, 0xff, 0xff, 0, 0, 0, 0, 1, 1, 1, 0]);
    t.extend_from_slice(data);
    t
}

/// An IP packet (`ethertype` says which version) in each link layer and tunnel the decoder
/// peels, with the link type to decode it as.
fn encapsulated(ethertype: u16, inner_ip: &[u8]) -> Vec<(&'static str, u32, Vec<u8>)> {
    let inner_eth = &eth(ethertype, inner_ip)[..];
    let vxlan_header = [8, 0, 0, 0, 0, 0, 1, 0];
    let erspan_ii = [&[0x10, 0x00, 0x10, 0x01, 0, 0, 0, 0][..], inner_eth].concat();
    let erspan_iii = [
        &[0x20, 0, 0, 1, 0, 0, 1, 0, 0xab, 0xcd, 0, 1][..],
        &[0xee; 8],
        inner_eth,
    ]
    .concat();
    let geneve = [&[0x00, 0, 0x65, 0x58, 0, 0, 1, 0][..], inner_eth].concat();
    let label = |bottom: bool| [0x03, 0xe8, if bottom { 0x01 } else { 0 }, 64];
    vec![
        ("ethernet", 1, inner_eth.to_vec()),
        ("vlan", 1, eth_tagged(&[(0x8100, 7)], ethertype, inner_ip)),
        (
            "qinq",
            1,
            eth_tagged(&[(0x88a8, 200), (0x8100, 100)], ethertype, inner_ip),
        ),
        (
            "mpls",
            1,
            eth(
                0x8847,
                &[&label(false)[..], &label(true), inner_ip].concat(),
            ),
        ),
        (
            "mpls pseudowire",
            1,
            eth(0x8847, &[&label(true)[..], &[0; 4], inner_eth].concat()),
        ),
        (
            "vxlan",
            1,
            eth(
                ETH_IPV4,
                &ipv4(17, &udp(1, 4789, &[&vxlan_header[..], inner_eth].concat())),
            ),
        ),
        (
            "geneve",
            1,
            eth(ETH_IPV4, &ipv4(17, &udp(1, 6081, &geneve))),
        ),
        (
            "gre",
            1,
            eth(
                ETH_IPV4,
                &ipv4(
                    47,
                    &[&[0x20, 0, 0x08, 0, 0, 0, 0, 9][..], inner_ip].concat(),
                ),
            ),
        ),
        (
            "erspan ii",
            1,
            eth(
                ETH_IPV4,
                &ipv4(
                    47,
                    &[&[0x10, 0, 0x88, 0xbe, 0, 0, 0, 1][..], &erspan_ii].concat(),
                ),
            ),
        ),
        (
            "erspan iii",
            1,
            eth(
                ETH_IPV6,
                &ipv6(47, &[&[0, 0, 0x22, 0xeb][..], &erspan_iii].concat()),
            ),
        ),
        ("raw", 101, inner_ip.to_vec()),
        (
            "sll2",
            276,
            [&ethertype.to_be_bytes()[..], &[0; 18], inner_ip].concat(),
        ),
    ]
}

#[test]
fn the_payload_is_found_in_every_encapsulation() {
    let data = b"\x16\x03\x01 client hello";
    let v4 = ipv4(proto::TCP, &tcp_data(0xdead_beef, data));
    let options = ipv4_with(&[1, 1, 1, 0], 0, proto::TCP, &tcp_data(0xdead_beef, data));
    let ext = ipv6(
        0,
        &[
            &[60, 0, 1, 4, 0, 0, 0, 0][..],
            &[6, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0],
            &tcp_data(0xdead_beef, data),
        ]
        .concat(),
    );
    for (name, ip) in [
        ("ipv4", v4),
        ("ipv4 options", options),
        ("ipv6 extensions", ext),
    ] {
        let ethertype = if ip[0] >> 4 == 6 { ETH_IPV6 } else { ETH_IPV4 };
        for (encap, link, frame) in encapsulated(ethertype, &ip) {
            let mut frame = frame;
            frame.extend([0; 7]); // Ethernet padding (or trailer): not payload.
            let meta = decode(LinkType(link), &frame)
                .unwrap_or_else(|e| panic!("{name} in {encap}: {e:?}"));
            assert_eq!(meta.sport, 40000, "{name} in {encap}");
            assert_eq!(meta.payload.bytes(&frame), data, "{name} in {encap}");
            assert_eq!(meta.payload.seq, 0xdead_beef, "{name} in {encap}");
            assert_eq!(meta.payload.first(&frame), Some(0x16), "{name} in {encap}");
            let at = usize::from(meta.payload.at);
            assert_eq!(at + data.len() + 7, frame.len(), "{name} in {encap}");
            // Cut by a snap length: what was captured of it.
            let cut = &frame[..at + 5];
            let meta =
                decode(LinkType(link), cut).unwrap_or_else(|e| panic!("{name} in {encap}: {e:?}"));
            assert_eq!(meta.payload.bytes(cut), &data[..5], "{name} in {encap}");
            // The outer layers a tunnel was peeled from have none.
            let mut layers = Layers::default();
            decode_layers(LinkType(link), &frame, &mut layers).unwrap();
            for layer in layers.as_slice() {
                assert_eq!(layer.meta.payload, PayloadAt::NONE, "{name} in {encap}");
            }
        }
    }
}

#[test]
fn udp_payload_stops_at_its_length_field() {
    let mut datagram = udp(5353, 53, b"query");
    datagram.extend_from_slice(b"trailer");
    for frame in [
        eth(ETH_IPV4, &ipv4(17, &datagram)),
        eth(ETH_IPV6, &ipv6(17, &datagram)),
    ] {
        let meta = decode(LinkType::ETHERNET, &frame).unwrap();
        assert_eq!(meta.payload.bytes(&frame), b"query");
        assert_eq!(meta.payload.seq, 0);
    }
}

#[test]
fn no_payload_without_data_or_for_fragments_and_other_protocols() {
    let first_fragment = ipv4_with(&[], 0x2000, proto::TCP, &tcp_data(1, b"GET /"));
    let v6_fragment = ipv6(
        44,
        &[&[6, 0, 0, 1, 0, 0, 0, 1][..], &tcp_data(1, b"GET /")].concat(),
    );
    let bad_offset = {
        let mut t = tcp_data(1, b"GET /");
        t[12] = 0x40; // data offset 16 < the 20-byte header
        ipv4(proto::TCP, &t)
    };
    for (name, frame) in [
        ("syn", eth(ETH_IPV4, &ipv4_tcp(SYN))),
        ("ipv4 first fragment", eth(ETH_IPV4, &first_fragment)),
        ("ipv6 first fragment", eth(ETH_IPV6, &v6_fragment)),
        ("icmp", eth(ETH_IPV4, &ipv4(proto::ICMP, &[8; 40]))),
        ("sctp", eth(ETH_IPV4, &ipv4(proto::SCTP, &[8; 40]))),
        ("empty udp", eth(ETH_IPV4, &ipv4(17, &udp(1, 53, b"")))),
        ("bad data offset", eth(ETH_IPV4, &bad_offset)),
    ] {
        let meta = decode(LinkType::ETHERNET, &frame).unwrap();
        assert_eq!(meta.payload, PayloadAt::NONE, "{name}");
    }
}

proptest! {
    /// Whatever the frame, the payload lies within it, after the headers the decoder read.
    #[test]
    fn the_payload_lies_within_the_frame(
        which in 0usize..8,
        cut in any::<prop::sample::Index>(),
        flips in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 0..4),
    ) {
        let (link, frame) = mutated(which, cut, &flips);
        if let Ok(meta) = decode(LinkType(link), &frame) {
            let p = meta.payload;
            prop_assert!(usize::from(p.at) + usize::from(p.len) <= frame.len());
            prop_assert!(p.len == 0 || usize::from(p.at) >= 28);
        }
    }
}
