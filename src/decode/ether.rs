//! Ethernet layer of decode: MAC header, 802.1Q/802.1ad tags in any stacking, and MPLS label
//! stacks, down to the IP packet (or, for an MPLS pseudowire, the next Ethernet frame).
//!
//! MPLS does not say what it carries. After the bottom-of-stack label the decoder looks at the
//! payload: the explicit-null labels (0 = IPv4, 2 = IPv6) decide outright; otherwise a first
//! nibble of 4 or 6 is IP. Anything else is taken as an Ethernet pseudowire, without a control
//! word when the ethertype sits where a bare frame has it (IPv4, IPv6, VLAN, MPLS), otherwise
//! with the 4-byte control word (RFC 4385, first nibble 0) if that puts a known ethertype in
//! place. A bare frame is tried first because a control-word frame fools it only when source
//! MAC bytes 2-3 spell a known ethertype, while the reverse order misreads every VLAN-tagged
//! bare frame whose MAC starts with nibble 0. A pseudowire frame whose destination MAC starts
//! with nibble 4 or 6 is read as IP: the ambiguity routers' ECMP hashing lives with too.

use super::{be16, be32, ip, tail, DecodeError, Encap, PacketMeta};

pub(super) const IPV4: u16 = 0x0800;
pub(super) const IPV6: u16 = 0x86dd;
const VLAN_CTAG: u16 = 0x8100;
const VLAN_STAG: u16 = 0x88a8;
/// Pre-standard QinQ outer tag, still emitted by older switches.
const VLAN_QINQ_OLD: u16 = 0x9100;
pub(super) const MPLS_UNICAST: u16 = 0x8847;
const MPLS_MULTICAST: u16 = 0x8848;

const ETHERNET_HEADER: usize = 14;
const ETHERTYPE_AT: usize = 12;
/// VLAN tags peeled before giving up: QinQ uses two, provider stacks three; twice QinQ-in-QinQ
/// is generous, more is crafted input.
const MAX_VLAN_TAGS: usize = 8;
/// MPLS labels peeled before giving up: segment-routing stacks reach about ten.
const MAX_MPLS_LABELS: usize = 16;
const MPLS_BOTTOM_OF_STACK: u32 = 0x100;
const MPLS_IPV4_EXPLICIT_NULL: u32 = 0;
const MPLS_IPV6_EXPLICIT_NULL: u32 = 2;
const PW_CONTROL_WORD: usize = 4;

/// An Ethernet frame (link layer or a tunnel's inner frame).
pub(super) fn frame(bytes: &[u8], encap: &mut Encap) -> Result<PacketMeta, DecodeError> {
    let ethertype = be16(bytes, ETHERTYPE_AT).ok_or(DecodeError::TruncatedLink)?;
    payload(ethertype, tail(bytes, ETHERNET_HEADER), encap)
}

/// What follows an ethertype: VLAN tags are peeled here, so SLL captures with tags that were
/// not offloaded take the same path as Ethernet.
pub(super) fn payload(
    mut ethertype: u16,
    mut bytes: &[u8],
    encap: &mut Encap,
) -> Result<PacketMeta, DecodeError> {
    for _ in 0..=MAX_VLAN_TAGS {
        match ethertype {
            IPV4 => return ip::v4(bytes, encap),
            IPV6 => return ip::v6(bytes, encap),
            VLAN_CTAG | VLAN_STAG | VLAN_QINQ_OLD => {
                let tci = be16(bytes, 0).ok_or(DecodeError::TruncatedLink)?;
                ethertype = be16(bytes, 2).ok_or(DecodeError::TruncatedLink)?;
                encap.vlan = tci & 0x0fff;
                bytes = tail(bytes, 4);
            }
            MPLS_UNICAST | MPLS_MULTICAST => return mpls(bytes, encap),
            _ => return Err(DecodeError::NotIp),
        }
    }
    Err(DecodeError::TooManyLayers)
}

/// An MPLS label stack and the packet under it (see the module doc for the payload heuristic).
pub(super) fn mpls(bytes: &[u8], encap: &mut Encap) -> Result<PacketMeta, DecodeError> {
    let mut at = 0;
    for _ in 0..MAX_MPLS_LABELS {
        let entry = be32(bytes, at).ok_or(DecodeError::TruncatedLink)?;
        at += 4;
        if entry & MPLS_BOTTOM_OF_STACK != 0 {
            return under_labels(entry >> 12, tail(bytes, at), encap);
        }
    }
    Err(DecodeError::TooManyLayers)
}

fn under_labels(label: u32, bytes: &[u8], encap: &mut Encap) -> Result<PacketMeta, DecodeError> {
    match label {
        MPLS_IPV4_EXPLICIT_NULL => return ip::v4(bytes, encap),
        MPLS_IPV6_EXPLICIT_NULL => return ip::v6(bytes, encap),
        _ => {}
    }
    let first = bytes.first().ok_or(DecodeError::TruncatedLink)?;
    match first >> 4 {
        4 => ip::v4(bytes, encap),
        6 => ip::v6(bytes, encap),
        nibble => {
            let inner = tail(bytes, PW_CONTROL_WORD);
            let known_at = |frame: &[u8]| be16(frame, ETHERTYPE_AT).is_some_and(ethertype_known);
            let control_word = nibble == 0 && !known_at(bytes) && known_at(inner);
            encap.enter(encap.tunnel)?;
            frame(if control_word { inner } else { bytes }, encap)
        }
    }
}

fn ethertype_known(ethertype: u16) -> bool {
    matches!(
        ethertype,
        IPV4 | IPV6 | VLAN_CTAG | VLAN_STAG | VLAN_QINQ_OLD | MPLS_UNICAST | MPLS_MULTICAST
    )
}

#[cfg(test)]
#[allow(clippy::indexing_slicing)]
mod tests {
    use super::super::test_frames::*;
    use super::super::{decode, DecodeError, LinkType};

    fn ethernet(frame: &[u8]) -> Result<super::PacketMeta, DecodeError> {
        decode(LinkType::ETHERNET, frame)
    }

    #[test]
    fn single_tag() {
        let meta = ethernet(&eth_tagged(&[(0x8100, 42)], ETH_IPV4, &ipv4_tcp(SYN))).unwrap();
        assert_tcp4(&meta, SYN);
        assert_eq!(meta.vlan, 42);
        assert_eq!(ethernet(&eth(ETH_IPV4, &ipv4_tcp(SYN))).unwrap().vlan, 0);
    }

    #[test]
    fn qinq_in_any_stacking_reports_innermost() {
        for outer in [0x88a8, 0x9100, 0x8100] {
            for inner in [0x8100, 0x88a8, 0x9100] {
                let frame = eth_tagged(&[(outer, 200), (inner, 100)], ETH_IPV6, &ipv6_udp());
                let meta = ethernet(&frame).unwrap();
                assert_udp6(&meta);
                assert_eq!(meta.vlan, 100);
            }
        }
        let four = eth_tagged(
            &[(0x88a8, 1), (0x8100, 2), (0x8100, 3), (0x8100, 4)],
            ETH_IPV4,
            &ipv4_tcp(SYN),
        );
        assert_eq!(ethernet(&four).unwrap().vlan, 4);
        let eight: Vec<(u16, u16)> = (1..=8).map(|v| (0x8100, v)).collect();
        let meta = ethernet(&eth_tagged(&eight, ETH_IPV4, &ipv4_tcp(SYN))).unwrap();
        assert_tcp4(&meta, SYN);
        assert_eq!(meta.vlan, 8);
        let nine = eth_tagged(&[(0x8100, 1); 9], ETH_IPV4, &ipv4_tcp(SYN));
        assert_eq!(ethernet(&nine), Err(DecodeError::TooManyLayers));
    }

    #[test]
    fn cut_ethernet_and_tags() {
        let frame = eth_tagged(&[(0x88a8, 200), (0x8100, 100)], ETH_IPV4, &ipv4_tcp(SYN));
        for cut in [1, 13, 14, 16, 17, 18, 21] {
            assert_eq!(
                ethernet(&frame[..cut]),
                Err(DecodeError::TruncatedLink),
                "cut {cut}"
            );
        }
        assert_eq!(ethernet(&frame[..22]), Err(DecodeError::TruncatedIp));
    }

    #[test]
    fn non_ip_is_counted_apart() {
        assert_eq!(ethernet(&eth(0x0806, &[0; 28])), Err(DecodeError::NotIp));
        // 802.3 length field (LLC/STP).
        assert_eq!(ethernet(&eth(0x0026, &[0x42; 38])), Err(DecodeError::NotIp));
        let tagged_arp = eth_tagged(&[(0x8100, 5)], 0x0806, &[0; 28]);
        assert_eq!(ethernet(&tagged_arp), Err(DecodeError::NotIp));
    }

    fn label(value: u32, bottom: bool) -> [u8; 4] {
        ((value << 12) | if bottom { 0x100 } else { 0 } | 64).to_be_bytes()
    }

    fn labelled(labels: &[u32], payload: &[u8]) -> Vec<u8> {
        let mut stack = Vec::new();
        for (i, value) in labels.iter().enumerate() {
            stack.extend_from_slice(&label(*value, i + 1 == labels.len()));
        }
        stack.extend_from_slice(payload);
        stack
    }

    #[test]
    fn mpls_stack_then_ip_by_nibble() {
        let frame = eth(0x8847, &labelled(&[1000, 2000], &ipv4_tcp(SYN)));
        assert_tcp4(&ethernet(&frame).unwrap(), SYN);
        let frame = eth_tagged(&[(0x8100, 7)], 0x8848, &labelled(&[16], &ipv6_udp()));
        let meta = ethernet(&frame).unwrap();
        assert_udp6(&meta);
        assert_eq!(meta.vlan, 7);
    }

    #[test]
    fn mpls_explicit_null_decides() {
        assert_tcp4(
            &ethernet(&eth(0x8847, &labelled(&[0], &ipv4_tcp(SYN)))).unwrap(),
            SYN,
        );
        assert_udp6(&ethernet(&eth(0x8847, &labelled(&[2], &ipv6_udp()))).unwrap());
        // IPv6 explicit null over an IPv4 packet is a bad IPv6 header, not a guess.
        let lying = eth(0x8847, &labelled(&[2], &ipv4_tcp(SYN)));
        assert_eq!(ethernet(&lying), Err(DecodeError::BadIpHeader));
    }

    #[test]
    fn mpls_pseudowire_with_and_without_control_word() {
        let customer = eth_tagged(&[(0x8100, 300)], ETH_IPV4, &ipv4_tcp(SYN));
        let without = eth_tagged(&[(0x8100, 9)], 0x8847, &labelled(&[500], &customer));
        let meta = ethernet(&without).unwrap();
        assert_tcp4(&meta, SYN);
        assert_eq!(meta.vlan, 300);
        let with_cw = [&[0, 0, 0, 1][..], &eth(ETH_IPV6, &ipv6_udp())].concat();
        let meta = ethernet(&eth(0x8847, &labelled(&[500, 501], &with_cw))).unwrap();
        assert_udp6(&meta);
        assert_eq!(meta.vlan, 0);
        // Destination MAC with a leading zero nibble and no control word still decodes.
        let mut zero_mac = eth(ETH_IPV4, &ipv4_tcp(SYN));
        zero_mac[0] = 0x00;
        assert_tcp4(
            &ethernet(&eth(0x8847, &labelled(&[500], &zero_mac))).unwrap(),
            SYN,
        );
    }

    #[test]
    fn mpls_bounds_and_cuts() {
        let deep = eth(0x8847, &labelled(&[1; 17], &ipv4_tcp(SYN)));
        assert_eq!(ethernet(&deep), Err(DecodeError::TooManyLayers));
        let sixteen = eth(0x8847, &labelled(&[1; 16], &ipv4_tcp(SYN)));
        assert_tcp4(&ethernet(&sixteen).unwrap(), SYN);
        let frame = eth(0x8847, &labelled(&[1000, 2000], &ipv4_tcp(SYN)));
        for cut in [15, 18, 21, 22] {
            assert_eq!(
                ethernet(&frame[..cut]),
                Err(DecodeError::TruncatedLink),
                "cut {cut}"
            );
        }
        assert_eq!(ethernet(&frame[..23]), Err(DecodeError::TruncatedIp));
    }
}
