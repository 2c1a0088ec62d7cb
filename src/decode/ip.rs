//! IP layer of decode: IPv4 (options skipped by IHL) and IPv6 (extension header chain), fragment
//! facts, and the hand-off to the transport layer, which may peel a tunnel.
//!
//! Lengths: `ip_len` is what the header states, while parsing stops at whichever ends first, the
//! stated length (Ethernet padding is not payload) or the captured bytes (snap length). A stated
//! length of 0 is what TSO/GSO offload leaves in captures of outgoing traffic, so it means
//! "as captured" rather than "malformed".

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use super::transport::{self, Transport, Upper};
use super::{be16, be32, tail, DecodeError, Encap, Fragment, Layer, PacketMeta, Tunnel};

const IPV4_HEADER: usize = 20;
const IPV6_HEADER: usize = 40;
const IPV4_MORE_FRAGMENTS: u16 = 0x2000;
const IPV4_OFFSET_MASK: u16 = 0x1fff;

const EXT_HOP_BY_HOP: u8 = 0;
const EXT_ROUTING: u8 = 43;
const EXT_FRAGMENT: u8 = 44;
const EXT_AH: u8 = 51;
const EXT_DESTINATION: u8 = 60;
const EXT_MOBILITY: u8 = 135;
const EXT_HIP: u8 = 139;
const EXT_SHIM6: u8 = 140;
/// Extension headers walked before giving up: RFC 8200's order allows about nine (each once,
/// destination options twice), so twice that; a longer chain is crafted to make parsers walk.
const MAX_EXTENSION_HEADERS: usize = 16;

/// An IP packet of either version, told apart by the first nibble (raw IP, MPLS, tunnels).
pub(super) fn by_version(bytes: &[u8], encap: &mut Encap) -> Result<PacketMeta, DecodeError> {
    match bytes.first().map(|b| b >> 4) {
        Some(4) => v4(bytes, encap),
        Some(6) => v6(bytes, encap),
        Some(_) => Err(DecodeError::BadIpHeader),
        None => Err(DecodeError::TruncatedIp),
    }
}

pub(super) fn v4(bytes: &[u8], encap: &mut Encap) -> Result<PacketMeta, DecodeError> {
    let header = bytes
        .first_chunk::<IPV4_HEADER>()
        .ok_or(DecodeError::TruncatedIp)?;
    let [version_ihl, _, len_hi, len_lo, id_hi, id_lo, frag_hi, frag_lo, _, protocol, _, _, s0, s1, s2, s3, d0, d1, d2, d3] =
        *header;
    let header_len = usize::from(version_ihl & 0x0f) * 4;
    let stated = usize::from(u16::from_be_bytes([len_hi, len_lo]));
    if version_ihl >> 4 != 4 || header_len < IPV4_HEADER || (stated != 0 && stated < header_len) {
        return Err(DecodeError::BadIpHeader);
    }
    let (packet, ip_len) = within_stated(bytes, stated);
    let fragment_field = u16::from_be_bytes([frag_hi, frag_lo]);
    let offset = u32::from(fragment_field & IPV4_OFFSET_MASK) * 8;
    let more = fragment_field & IPV4_MORE_FRAGMENTS != 0;
    let fragment = (more || offset != 0).then(|| Fragment {
        id: u32::from(u16::from_be_bytes([id_hi, id_lo])),
        offset,
        more,
    });
    let network = Network {
        src: IpAddr::V4(Ipv4Addr::new(s0, s1, s2, s3)),
        dst: IpAddr::V4(Ipv4Addr::new(d0, d1, d2, d3)),
        protocol,
        ip_len,
        fragment,
    };
    network.finish(tail(packet, header_len), encap)
}

pub(super) fn v6(bytes: &[u8], encap: &mut Encap) -> Result<PacketMeta, DecodeError> {
    let (Some(fixed), Some(src), Some(dst)) = (
        bytes.first_chunk::<8>(),
        octets16(bytes, 8),
        octets16(bytes, 24),
    ) else {
        return Err(DecodeError::TruncatedIp);
    };
    let [version, _, _, _, len_hi, len_lo, next, _] = *fixed;
    if version >> 4 != 6 {
        return Err(DecodeError::BadIpHeader);
    }
    let payload_len = usize::from(u16::from_be_bytes([len_hi, len_lo]));
    let stated = if payload_len == 0 {
        0
    } else {
        IPV6_HEADER + payload_len
    };
    let (packet, ip_len) = within_stated(bytes, stated);
    let mut network = Network {
        src: IpAddr::V6(Ipv6Addr::from(src)),
        dst: IpAddr::V6(Ipv6Addr::from(dst)),
        protocol: next,
        ip_len,
        fragment: None,
    };
    match extensions(&mut network, tail(packet, IPV6_HEADER)) {
        Ok(rest) => network.finish(rest, encap),
        Err(e) => {
            network.stopped(Transport::default(), (encap.vlan, encap.tunnel), encap);
            Err(e)
        }
    }
}

/// Walks the extension header chain from `network.protocol` to the upper-layer header, whose
/// protocol it leaves in `network.protocol`; fragment facts go to `network.fragment`. On an
/// error `network.protocol` is the next header not yet walked.
fn extensions<'a>(network: &mut Network, mut rest: &'a [u8]) -> Result<&'a [u8], DecodeError> {
    for _ in 0..=MAX_EXTENSION_HEADERS {
        let ext_len = match network.protocol {
            EXT_HOP_BY_HOP | EXT_ROUTING | EXT_DESTINATION | EXT_MOBILITY | EXT_HIP | EXT_SHIM6 => {
                (usize::from(ext_byte(rest, 1)?) + 1) * 8
            }
            EXT_AH => (usize::from(ext_byte(rest, 1)?) + 2) * 4,
            EXT_FRAGMENT => {
                let field = be16(rest, 2).ok_or(DecodeError::BadIpv6Extension)?;
                let id = be32(rest, 4).ok_or(DecodeError::BadIpv6Extension)?;
                let offset = u32::from(field & 0xfff8);
                let more = field & 1 != 0;
                // An atomic fragment (offset 0, no more) is a whole packet (RFC 6946).
                network.fragment = (more || offset != 0).then_some(Fragment { id, offset, more });
                8
            }
            _ => return Ok(rest),
        };
        let next = ext_byte(rest, 0)?;
        rest = rest.get(ext_len..).ok_or(DecodeError::BadIpv6Extension)?;
        network.protocol = next;
    }
    Err(DecodeError::BadIpv6Extension)
}

fn octets16(bytes: &[u8], at: usize) -> Option<[u8; 16]> {
    bytes.get(at..)?.first_chunk::<16>().copied()
}

fn ext_byte(rest: &[u8], at: usize) -> Result<u8, DecodeError> {
    rest.get(at).copied().ok_or(DecodeError::BadIpv6Extension)
}

/// The captured part of the packet within its stated length, and the length to report.
fn within_stated(bytes: &[u8], stated: usize) -> (&[u8], u32) {
    if stated == 0 {
        return (bytes, u32::try_from(bytes.len()).unwrap_or(u32::MAX));
    }
    let packet = bytes.get(..stated).unwrap_or(bytes);
    (packet, u32::try_from(stated).unwrap_or(u32::MAX))
}

/// The IP layer's facts about a packet, waiting for its transport layer.
struct Network {
    src: IpAddr,
    dst: IpAddr,
    protocol: u8,
    ip_len: u32,
    fragment: Option<Fragment>,
}

impl Network {
    /// Only a first fragment (offset 0) holds the transport header; later ones end here.
    fn finish(self, payload: &[u8], encap: &mut Encap) -> Result<PacketMeta, DecodeError> {
        let (vlan, tunnel) = (encap.vlan, encap.tunnel);
        let transport = match self.fragment {
            Some(Fragment { offset, .. }) if offset != 0 => Transport::default(),
            _ => match transport::upper_layer(self.protocol, payload, encap) {
                Ok(Upper::Transport(transport)) => transport,
                Ok(Upper::Tunnel(inner)) => {
                    // This layer carried the tunnel just entered: it is matched as a flow of
                    // its own, reported with that tunnel, keyed by the context it arrived in.
                    let carried = encap.tunnel;
                    encap.note_layer(|| Layer {
                        meta: PacketMeta {
                            tunnel: carried,
                            outer: true,
                            ..self.meta(transport::ports(self.protocol, payload), vlan, tunnel)
                        },
                        arrived: tunnel,
                    });
                    return inner.decode(encap);
                }
                Err(e) => {
                    // A tunnel header cut short or nested too deep: the packet itself was
                    // read, ports included.
                    let ports = transport::ports(self.protocol, payload);
                    self.stopped(ports, (vlan, tunnel), encap);
                    return Err(e);
                }
            },
        };
        Ok(self.meta(transport, vlan, tunnel))
    }

    /// Decoding stops in this layer, which arrived on `vlan` in `tunnel`: note what was read.
    fn stopped(&self, transport: Transport, (vlan, tunnel): (u16, Tunnel), encap: &mut Encap) {
        encap.note_layer(|| Layer {
            meta: self.meta(transport, vlan, tunnel),
            arrived: tunnel,
        });
    }

    #[inline(always)]
    fn meta(&self, transport: Transport, vlan: u16, tunnel: Tunnel) -> PacketMeta {
        PacketMeta {
            src: self.src,
            dst: self.dst,
            proto: self.protocol,
            sport: transport.sport,
            dport: transport.dport,
            has_ports: transport.has_ports,
            tcp_flags: transport.tcp_flags,
            icmp_type: transport.icmp_type,
            icmp_code: transport.icmp_code,
            vlan,
            tunnel,
            fragment: self.fragment,
            ip_len: self.ip_len,
            outer: false,
        }
    }
}

#[cfg(test)]
#[allow(clippy::indexing_slicing)]
mod tests {
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
}
