//! Transport layer of decode: ports, TCP flags and ICMP type/code, each filled in only when its
//! bytes were captured; also the switch into tunnels (GRE by protocol, VXLAN and Geneve by UDP
//! destination port), whose inner flow replaces the outer one.

use super::tunnel::{self, Inner};
use super::{be16, proto, tail, DecodeError, Encap, PayloadAt};

/// Protocols that start with a 16-bit source and destination port like TCP and UDP.
const DCCP: u8 = 33;
const UDP_LITE: u8 = 136;
const TCP_FLAGS_AT: usize = 13;
const TCP_HEADER: usize = 20;
const UDP_HEADER: usize = 8;
const VXLAN_PORT: u16 = 4789;
const GENEVE_PORT: u16 = 6081;

/// What the transport header said, when the packet is its own flow.
#[derive(Clone, Copy, Debug, Default)]
pub(super) struct Transport {
    pub sport: u16,
    pub dport: u16,
    pub has_ports: bool,
    pub tcp_flags: u8,
    pub icmp_type: u8,
    pub icmp_code: u8,
    pub payload: PayloadAt,
}

/// The packet's own transport facts, or the inner packet of a tunnel it carried. Kept apart
/// from [`PacketMeta`] so this returns a few bytes in registers and the caller writes the meta
/// once (mutating a returned meta in place cost a store-forwarding stall per packet).
pub(super) enum Upper<'a> {
    Transport(Transport),
    Tunnel(Inner<'a>),
}

pub(super) fn upper_layer<'a>(
    protocol: u8,
    payload: &'a [u8],
    encap: &mut Encap,
) -> Result<Upper<'a>, DecodeError> {
    let mut transport = Transport::default();
    match protocol {
        proto::TCP => {
            read_ports(&mut transport, payload);
            transport.tcp_flags = payload.get(TCP_FLAGS_AT).copied().unwrap_or(0);
            transport.payload = tcp_payload(payload, encap);
        }
        proto::UDP => {
            read_ports(&mut transport, payload);
            let inner = match (transport.has_ports, transport.dport) {
                (true, VXLAN_PORT) => tunnel::vxlan(tail(payload, UDP_HEADER), encap)?,
                (true, GENEVE_PORT) => tunnel::geneve(tail(payload, UDP_HEADER), encap)?,
                _ => None,
            };
            if let Some(inner) = inner {
                return Ok(Upper::Tunnel(inner));
            }
            transport.payload = udp_payload(payload, encap);
        }
        proto::SCTP | DCCP | UDP_LITE => read_ports(&mut transport, payload),
        proto::ICMP | proto::ICMPV6 => {
            transport.icmp_type = payload.first().copied().unwrap_or(0);
            transport.icmp_code = payload.get(1).copied().unwrap_or(0);
        }
        proto::GRE => {
            if let Some(inner) = tunnel::gre(payload, encap)? {
                return Ok(Upper::Tunnel(inner));
            }
        }
        _ => {}
    }
    Ok(Upper::Transport(transport))
}

/// Only the ports (for protocols that have them), for a layer reported beside the flow's own:
/// a tunnel's outer layer, or one whose tunnel header was bad.
pub(super) fn ports(protocol: u8, payload: &[u8]) -> Transport {
    let mut transport = Transport::default();
    if matches!(
        protocol,
        proto::TCP | proto::UDP | proto::SCTP | DCCP | UDP_LITE
    ) {
        read_ports(&mut transport, payload);
    }
    transport
}

/// The payload of an unfragmented TCP or UDP packet whose transport header is `segment` (cut to
/// the IP length): for the fast path, which reads the ports and flags itself.
#[inline(always)]
pub(super) fn payload(protocol: u8, segment: &[u8], encap: &Encap) -> PayloadAt {
    match protocol {
        proto::TCP => tcp_payload(segment, encap),
        _ => udp_payload(segment, encap),
    }
}

/// The data after a TCP header whose 20 fixed bytes were captured (options skipped by the data
/// offset), with the segment's sequence number.
#[inline(always)]
fn tcp_payload(segment: &[u8], encap: &Encap) -> PayloadAt {
    let Some(header) = segment.first_chunk::<TCP_HEADER>() else {
        return PayloadAt::NONE;
    };
    let [_, _, _, _, s0, s1, s2, s3, _, _, _, _, data_offset, ..] = *header;
    let data_at = usize::from(data_offset >> 4) * 4;
    if data_at < TCP_HEADER {
        return PayloadAt::NONE;
    }
    encap.payload_at(tail(segment, data_at), u32::from_be_bytes([s0, s1, s2, s3]))
}

/// The data after a UDP header, within its length field (at least the header, at most what was
/// captured of the IP packet).
#[inline(always)]
fn udp_payload(datagram: &[u8], encap: &Encap) -> PayloadAt {
    let Some(stated) = be16(datagram, 4) else {
        return PayloadAt::NONE;
    };
    let end = usize::from(stated)
        .clamp(UDP_HEADER, datagram.len().max(UDP_HEADER))
        .min(datagram.len());
    match datagram.get(UDP_HEADER..end) {
        Some(data) => encap.payload_at(data, 0),
        None => PayloadAt::NONE,
    }
}

fn read_ports(transport: &mut Transport, payload: &[u8]) {
    if let (Some(sport), Some(dport)) = (be16(payload, 0), be16(payload, 2)) {
        transport.sport = sport;
        transport.dport = dport;
        transport.has_ports = true;
    }
}
