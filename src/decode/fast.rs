//! Fast path of decode for what a span port mostly carries: Ethernet, at most one 802.1Q tag,
//! IPv4 without options or IPv6 without extension headers, then TCP or UDP, unfragmented and
//! captured at least through the TCP flags. One length check up front and fixed offsets after
//! it; anything else returns `None` and takes the general layered path, which yields the same
//! meta for these frames too (a property test holds the two together). Tunnels' inner frames
//! take it as well, so mirrored traffic pays the layered path only for the outer headers.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use super::{be16, ether, proto, transport, Encap, PacketMeta, PayloadAt, Tunnel};

const VLAN_CTAG: u16 = 0x8100;
const IPV4_NO_OPTIONS: u8 = 0x45;
/// Flags and offset bits that make a packet a fragment (MF and the offset; DF is fine).
const IPV4_FRAGMENT_BITS: u16 = 0x3fff;
/// Bytes of transport header through the TCP flags byte.
const TCP_THROUGH_FLAGS: usize = 14;
const UDP_PORTS: usize = 4;
const VXLAN_PORT: u16 = 4789;
const GENEVE_PORT: u16 = 6081;

/// `encap` is what the layers above already said: the tunnel this frame came through and the
/// VLAN to report when the frame itself is untagged.
#[inline(always)]
pub(super) fn ethernet(frame: &[u8], encap: &Encap) -> Option<PacketMeta> {
    let mut ethertype = be16(frame, 12)?;
    let mut network_at = 14;
    let mut vlan = encap.vlan;
    if ethertype == VLAN_CTAG {
        vlan = be16(frame, 14)? & 0x0fff;
        ethertype = be16(frame, 16)?;
        network_at = 18;
    }
    let packet = frame.get(network_at..)?;
    match ethertype {
        ether::IPV4 => ipv4(packet, vlan, encap),
        ether::IPV6 => ipv6(packet, vlan, encap),
        _ => None,
    }
}

#[inline(always)]
fn ipv4(packet: &[u8], vlan: u16, encap: &Encap) -> Option<PacketMeta> {
    let header = packet.first_chunk::<{ 20 + TCP_THROUGH_FLAGS }>()?;
    let [version_ihl, _, len_hi, len_lo, _, _, frag_hi, frag_lo, _, protocol, _, _, s0, s1, s2, s3, d0, d1, d2, d3, sp_hi, sp_lo, dp_hi, dp_lo, _, _, _, _, _, _, _, _, _, flags] =
        *header;
    let total = u16::from_be_bytes([len_hi, len_lo]);
    if version_ihl != IPV4_NO_OPTIONS
        || u16::from_be_bytes([frag_hi, frag_lo]) & IPV4_FRAGMENT_BITS != 0
    {
        return None;
    }
    let transport_len = usize::from(total).checked_sub(20)?;
    let (sport, dport) = (
        u16::from_be_bytes([sp_hi, sp_lo]),
        u16::from_be_bytes([dp_hi, dp_lo]),
    );
    let tcp_flags = transport(protocol, transport_len, dport, flags)?;
    let payload = payload(protocol, packet, 20, transport_len, encap);
    Some(plain_flow(
        IpAddr::V4(Ipv4Addr::new(s0, s1, s2, s3)),
        IpAddr::V4(Ipv4Addr::new(d0, d1, d2, d3)),
        protocol,
        (sport, dport, tcp_flags),
        (vlan, encap.tunnel, payload),
        u32::from(total),
    ))
}

#[inline(always)]
fn ipv6(packet: &[u8], vlan: u16, encap: &Encap) -> Option<PacketMeta> {
    let header = packet.first_chunk::<{ 40 + TCP_THROUGH_FLAGS }>()?;
    let (fixed, rest) = header.split_first_chunk::<8>()?;
    let (src, rest) = rest.split_first_chunk::<16>()?;
    let (dst, transport_header) = rest.split_first_chunk::<16>()?;
    let [version, _, _, _, len_hi, len_lo, protocol, _] = *fixed;
    if version >> 4 != 6 {
        return None;
    }
    let payload_len = u16::from_be_bytes([len_hi, len_lo]);
    let sport = be16(transport_header, 0)?;
    let dport = be16(transport_header, 2)?;
    let flags = *transport_header.get(13)?;
    let tcp_flags = transport(protocol, usize::from(payload_len), dport, flags)?;
    let payload = payload(protocol, packet, 40, usize::from(payload_len), encap);
    Some(plain_flow(
        IpAddr::V6(Ipv6Addr::from(*src)),
        IpAddr::V6(Ipv6Addr::from(*dst)),
        protocol,
        (sport, dport, tcp_flags),
        (vlan, encap.tunnel, payload),
        40 + u32::from(payload_len),
    ))
}

/// An unfragmented TCP/UDP packet with its ports.
#[inline(always)]
fn plain_flow(
    src: IpAddr,
    dst: IpAddr,
    protocol: u8,
    (sport, dport, tcp_flags): (u16, u16, u8),
    (vlan, tunnel, payload): (u16, Tunnel, PayloadAt),
    ip_len: u32,
) -> PacketMeta {
    PacketMeta {
        src,
        dst,
        proto: protocol,
        sport,
        dport,
        has_ports: true,
        tcp_flags,
        icmp_type: 0,
        icmp_code: 0,
        vlan,
        tunnel,
        fragment: None,
        ip_len,
        outer: false,
        payload,
    }
}

/// The transport payload of the packet whose IP header (of `header` bytes) starts `packet`, the
/// transport header cut to its stated length as the layered path cuts it.
#[inline(always)]
fn payload(
    protocol: u8,
    packet: &[u8],
    header: usize,
    stated_len: usize,
    encap: &Encap,
) -> PayloadAt {
    let segment = packet.get(header..).unwrap_or(&[]);
    let segment = segment.get(..stated_len).unwrap_or(segment);
    transport::payload(protocol, segment, encap)
}

/// The TCP flags to report when the fast path covers this transport, `None` when it does not
/// (other protocols, headers cut by the stated length, UDP ports that may carry a tunnel).
#[inline(always)]
fn transport(protocol: u8, stated_len: usize, dport: u16, flags: u8) -> Option<u8> {
    match protocol {
        proto::TCP if stated_len >= TCP_THROUGH_FLAGS => Some(flags),
        proto::UDP if stated_len >= UDP_PORTS && dport != VXLAN_PORT && dport != GENEVE_PORT => {
            Some(0)
        }
        _ => None,
    }
}

#[cfg(test)]
#[allow(clippy::indexing_slicing)]
mod tests {
    use proptest::prelude::*;

    use super::super::test_frames::*;
    use super::super::{link, proto, Encap, LinkType, PacketMeta, Tunnel};
    use super::ethernet;

    fn layered(frame: &[u8], mut encap: Encap) -> Option<PacketMeta> {
        link::decode(LinkType::ETHERNET, frame, &mut encap).ok()
    }

    /// Decoding context for `frame` at the top level, payload offsets relative to it.
    fn top(frame: &[u8]) -> Encap<'static> {
        Encap {
            base: frame.as_ptr() as usize,
            ..Encap::default()
        }
    }

    fn covered_frames() -> Vec<Vec<u8>> {
        vec![
            eth(ETH_IPV4, &ipv4_tcp(SYN)),
            eth_tagged(
                &[(0x8100, 42)],
                ETH_IPV6,
                &ipv6(proto::UDP, &udp(5353, 53, &[0; 20])),
            ),
            eth(ETH_IPV6, &ipv6(proto::TCP, &tcp(1, 2, SYN))),
            eth_tagged(
                &[(0x8100, 7)],
                ETH_IPV4,
                &ipv4(proto::UDP, &udp(9, 53, &[0; 20])),
            ),
        ]
    }

    #[test]
    fn covers_the_common_shapes_exactly_like_the_layered_path() {
        for frame in covered_frames() {
            let fast = ethernet(&frame, &top(&frame));
            assert!(fast.is_some());
            assert_eq!(fast, layered(&frame, top(&frame)));
        }
    }

    #[test]
    fn leaves_everything_else_to_the_layered_path() {
        let udp_to = |port| eth(ETH_IPV4, &ipv4(proto::UDP, &udp(9, port, &[8; 30])));
        let ipv6_ext = eth(
            ETH_IPV6,
            &ipv6(
                60,
                &[&[proto::TCP, 0, 0, 0, 0, 0, 0, 0][..], &tcp(1, 2, SYN)].concat(),
            ),
        );
        for frame in [
            eth(
                ETH_IPV4,
                &ipv4_with(&[1; 4], 0, proto::TCP, &tcp(1, 2, SYN)),
            ),
            eth(
                ETH_IPV4,
                &ipv4_with(&[], 0x2000, proto::TCP, &tcp(1, 2, SYN)),
            ),
            eth(ETH_IPV4, &ipv4(proto::ICMP, &[8; 40])),
            eth_tagged(&[(0x88a8, 1), (0x8100, 2)], ETH_IPV4, &ipv4_tcp(SYN)),
            udp_to(4789),
            udp_to(6081),
            ipv6_ext,
        ] {
            assert_eq!(ethernet(&frame, &Encap::default()), None);
        }
        let frame = eth(ETH_IPV4, &ipv4_tcp(SYN));
        assert_eq!(ethernet(&frame[..47], &Encap::default()), None);
        assert!(ethernet(&frame[..48], &Encap::default()).is_some());
    }

    proptest! {
        #[test]
        fn agrees_with_the_layered_path_on_mutated_frames(
            which in 0usize..4,
            flips in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 0..3),
            cut in any::<prop::sample::Index>(),
            vlan in 0u16..4096,
            vni in any::<u32>(),
        ) {
            let mut frame = covered_frames().swap_remove(which);
            for (at, value) in flips {
                let at = at.index(frame.len());
                frame[at] = value;
            }
            let frame = &frame[..cut.index(frame.len() + 1)];
            // As a tunnel's inner frame: the tunnel and a VLAN from the tunnel header carry over.
            let inner = Encap { vlan, tunnel: Tunnel::Vxlan { vni }, depth: 1, ..top(frame) };
            for encap in [top(frame), inner] {
                if let Some(fast) = ethernet(frame, &encap) {
                    prop_assert_eq!(Some(fast), layered(frame, encap));
                }
            }
        }
    }
}
