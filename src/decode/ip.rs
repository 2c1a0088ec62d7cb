//! IP layer of decode: IPv4 (options skipped by IHL) and IPv6 (extension header chain), fragment
//! facts, and the hand-off to the transport layer, which may peel a tunnel.
//!
//! Lengths: `ip_len` is what the header states, while parsing stops at whichever ends first, the
//! stated length (Ethernet padding is not payload) or the captured bytes (snap length). A stated
//! length of 0 is what TSO/GSO offload leaves in captures of outgoing traffic, so it means
//! "as captured" rather than "malformed".

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use super::transport::{self, Transport, Upper};
use super::{be16, be32, tail, DecodeError, Encap, Fragment, Layer, PacketMeta, PayloadAt, Tunnel};

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
    let offset = (fragment_field & IPV4_OFFSET_MASK) << 3;
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
                let offset = field & 0xfff8;
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
            // A first fragment's payload is only the start of the datagram's.
            payload: match self.fragment {
                None => transport.payload,
                Some(_) => PayloadAt::NONE,
            },
        }
    }
}

#[cfg(test)]
#[path = "ip_tests.rs"]
mod tests;
