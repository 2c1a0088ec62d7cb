//! Link layer: the first step of decode. Each pcap link type is reduced to "an ethertype and its
//! payload" or "an IP packet", so everything after it is shared with tunnels' inner frames.

use super::{be16, ether, ip, tail, DecodeError, Encap, LinkType, PacketMeta};

/// `LINKTYPE_RAW` under the DLT numbers some BSDs wrote into pcap files.
const RAW_BSD_12: u32 = 12;
const RAW_BSD_14: u32 = 14;

/// BSD address families as loopback headers carry them: `AF_INET6` differs per OS
/// (NetBSD/OpenBSD 24, FreeBSD 28, macOS 30).
const AF_INET: u32 = 2;
const AF_INET6_BSD: u32 = 24;
const AF_INET6_FREEBSD: u32 = 28;
const AF_INET6_DARWIN: u32 = 30;

const SLL_HEADER: usize = 16;
const SLL_PROTOCOL_AT: usize = 14;
const SLL2_HEADER: usize = 20;

pub(super) fn decode(
    link: LinkType,
    frame: &[u8],
    encap: &mut Encap,
) -> Result<PacketMeta, DecodeError> {
    match link {
        LinkType::ETHERNET => ether::frame(frame, encap),
        LinkType::RAW | LinkType(RAW_BSD_12) | LinkType(RAW_BSD_14) => ip::by_version(frame, encap),
        LinkType::IPV4 => ip::v4(frame, encap),
        LinkType::IPV6 => ip::v6(frame, encap),
        LinkType::LINUX_SLL => cooked(frame, SLL_PROTOCOL_AT, SLL_HEADER, encap),
        LinkType::LINUX_SLL2 => cooked(frame, 0, SLL2_HEADER, encap),
        LinkType::NULL => {
            // The capturing host wrote the family in its own byte order, which the file does
            // not record; families are small numbers, so the smaller reading is the right one.
            let raw = family_bytes(frame)?;
            let family = u32::from_le_bytes(raw).min(u32::from_be_bytes(raw));
            loopback(family, frame, encap)
        }
        LinkType::LOOP => loopback(u32::from_be_bytes(family_bytes(frame)?), frame, encap),
        _ => Err(DecodeError::UnsupportedLinkType),
    }
}

/// Linux cooked capture (SLL v1/v2): a fixed header whose protocol field is an ethertype.
fn cooked(
    frame: &[u8],
    protocol_at: usize,
    header: usize,
    encap: &mut Encap,
) -> Result<PacketMeta, DecodeError> {
    if frame.len() < header {
        return Err(DecodeError::TruncatedLink);
    }
    let protocol = be16(frame, protocol_at).ok_or(DecodeError::TruncatedLink)?;
    ether::payload(protocol, tail(frame, header), encap)
}

fn family_bytes(frame: &[u8]) -> Result<[u8; 4], DecodeError> {
    frame
        .first_chunk::<4>()
        .copied()
        .ok_or(DecodeError::TruncatedLink)
}

/// BSD loopback (NULL / LOOP): a 4-byte address family, then the IP packet.
fn loopback(family: u32, frame: &[u8], encap: &mut Encap) -> Result<PacketMeta, DecodeError> {
    let packet = tail(frame, 4);
    match family {
        AF_INET => ip::v4(packet, encap),
        AF_INET6_BSD | AF_INET6_FREEBSD | AF_INET6_DARWIN => ip::v6(packet, encap),
        _ => Err(DecodeError::NotIp),
    }
}

#[cfg(test)]
#[allow(clippy::indexing_slicing)]
mod tests {
    use super::super::test_frames::*;
    use super::super::{decode, DecodeError, LinkType};

    fn with_header(header: &[u8], packet: &[u8]) -> Vec<u8> {
        [header, packet].concat()
    }

    #[test]
    fn ethernet_ipv4_tcp() {
        let meta = decode(LinkType::ETHERNET, &eth(ETH_IPV4, &ipv4_tcp(SYN))).unwrap();
        assert_tcp4(&meta, SYN);
        assert_eq!(meta.ip_len, 40);
    }

    #[test]
    fn raw_ip_by_version_and_aliases() {
        for link in [101, 12, 14] {
            let meta = decode(LinkType(link), &ipv4_tcp(SYN)).unwrap();
            assert_tcp4(&meta, SYN);
            let meta = decode(LinkType(link), &ipv6_udp()).unwrap();
            assert_udp6(&meta);
        }
        assert_eq!(
            decode(LinkType::RAW, &[0x50; 40]),
            Err(DecodeError::BadIpHeader)
        );
    }

    #[test]
    fn ipv4_and_ipv6_link_types_insist_on_their_version() {
        assert_tcp4(&decode(LinkType::IPV4, &ipv4_tcp(SYN)).unwrap(), SYN);
        assert_udp6(&decode(LinkType::IPV6, &ipv6_udp()).unwrap());
        assert_eq!(
            decode(LinkType::IPV4, &ipv6_udp()),
            Err(DecodeError::BadIpHeader)
        );
        assert_eq!(
            decode(LinkType::IPV6, &ipv4_tcp(SYN)),
            Err(DecodeError::BadIpHeader)
        );
    }

    #[test]
    fn null_loopback_reads_either_byte_order() {
        for header in [[2, 0, 0, 0], [0, 0, 0, 2]] {
            let meta = decode(LinkType::NULL, &with_header(&header, &ipv4_tcp(SYN))).unwrap();
            assert_tcp4(&meta, SYN);
        }
        for af in [24u32, 28, 30] {
            for header in [af.to_le_bytes(), af.to_be_bytes()] {
                let meta = decode(LinkType::NULL, &with_header(&header, &ipv6_udp())).unwrap();
                assert_udp6(&meta);
            }
        }
        let unknown_family = with_header(&[7, 0, 0, 0], &ipv4_tcp(SYN));
        assert_eq!(
            decode(LinkType::NULL, &unknown_family),
            Err(DecodeError::NotIp)
        );
        assert_eq!(
            decode(LinkType::NULL, &[2, 0, 0]),
            Err(DecodeError::TruncatedLink)
        );
    }

    #[test]
    fn loop_is_network_order_only() {
        let meta = decode(LinkType::LOOP, &with_header(&[0, 0, 0, 2], &ipv4_tcp(SYN))).unwrap();
        assert_tcp4(&meta, SYN);
        let meta = decode(LinkType::LOOP, &with_header(&[0, 0, 0, 30], &ipv6_udp())).unwrap();
        assert_udp6(&meta);
        let little_endian = with_header(&[2, 0, 0, 0], &ipv4_tcp(SYN));
        assert_eq!(
            decode(LinkType::LOOP, &little_endian),
            Err(DecodeError::NotIp)
        );
    }

    fn sll(protocol: u16) -> Vec<u8> {
        let mut h = vec![0, 0, 0, 1, 0, 6, 2, 0, 0, 0, 0, 1, 0, 0];
        h.extend_from_slice(&protocol.to_be_bytes());
        h
    }

    fn sll2(protocol: u16) -> Vec<u8> {
        let mut h = protocol.to_be_bytes().to_vec();
        h.extend_from_slice(&[0, 0, 0, 0, 0, 3, 0, 1, 0, 6, 2, 0, 0, 0, 0, 1, 0, 0]);
        h
    }

    #[test]
    fn linux_cooked_v1_and_v2() {
        for (link, header) in [
            (LinkType::LINUX_SLL, sll as fn(u16) -> Vec<u8>),
            (LinkType::LINUX_SLL2, sll2),
        ] {
            let meta = decode(link, &with_header(&header(ETH_IPV4), &ipv4_tcp(SYN))).unwrap();
            assert_tcp4(&meta, SYN);
            let meta = decode(link, &with_header(&header(ETH_IPV6), &ipv6_udp())).unwrap();
            assert_udp6(&meta);
            let tagged = with_header(
                &header(0x8100),
                &[&[0x00, 0x2a], &ETH_IPV4.to_be_bytes()[..], &ipv4_tcp(SYN)].concat(),
            );
            assert_eq!(decode(link, &tagged).unwrap().vlan, 42);
            assert_eq!(decode(link, &header(0x0806)), Err(DecodeError::NotIp));
            let cut = header(ETH_IPV4);
            assert_eq!(
                decode(link, &cut[..cut.len() - 1]),
                Err(DecodeError::TruncatedLink)
            );
            assert_eq!(decode(link, &cut), Err(DecodeError::TruncatedIp));
        }
    }

    #[test]
    fn empty_and_unknown() {
        assert_eq!(decode(LinkType::ETHERNET, &[]), Err(DecodeError::Empty));
        assert_eq!(decode(LinkType::NULL, &[]), Err(DecodeError::Empty));
        assert_eq!(
            decode(LinkType(147), &ipv4_tcp(SYN)),
            Err(DecodeError::UnsupportedLinkType)
        );
    }
}
