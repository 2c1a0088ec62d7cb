#![allow(clippy::indexing_slicing)]

use proptest::prelude::*;

use super::test_frames::*;
use super::{decode, decode_layers, DecodeError, Layers, LinkType, Tunnel};

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
