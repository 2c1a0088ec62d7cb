//! Transport layer of decode: ports, TCP flags and ICMP type/code, each filled in only when its
//! bytes were captured; also the switch into tunnels (GRE by protocol, VXLAN and Geneve by UDP
//! destination port), whose inner flow replaces the outer one.

use super::{be16, proto, tail, tunnel, DecodeError, Encap, PacketMeta};

/// Protocols that start with a 16-bit source and destination port like TCP and UDP.
const DCCP: u8 = 33;
const UDP_LITE: u8 = 136;
const TCP_FLAGS_AT: usize = 13;
const UDP_HEADER: usize = 8;
const VXLAN_PORT: u16 = 4789;
const GENEVE_PORT: u16 = 6081;

pub(super) fn upper_layer(
    mut meta: PacketMeta,
    payload: &[u8],
    encap: &mut Encap,
) -> Result<PacketMeta, DecodeError> {
    match meta.proto {
        proto::TCP => {
            read_ports(&mut meta, payload);
            meta.tcp_flags = payload.get(TCP_FLAGS_AT).copied().unwrap_or(0);
        }
        proto::UDP => {
            read_ports(&mut meta, payload);
            let inner = match (meta.has_ports, meta.dport) {
                (true, VXLAN_PORT) => tunnel::vxlan(tail(payload, UDP_HEADER), encap)?,
                (true, GENEVE_PORT) => tunnel::geneve(tail(payload, UDP_HEADER), encap)?,
                _ => None,
            };
            if let Some(inner) = inner {
                return Ok(inner);
            }
        }
        proto::SCTP | DCCP | UDP_LITE => read_ports(&mut meta, payload),
        proto::ICMP | proto::ICMPV6 => {
            meta.icmp_type = payload.first().copied().unwrap_or(0);
            meta.icmp_code = payload.get(1).copied().unwrap_or(0);
        }
        proto::GRE => {
            if let Some(inner) = tunnel::gre(payload, encap)? {
                return Ok(inner);
            }
        }
        _ => {}
    }
    Ok(meta)
}

fn read_ports(meta: &mut PacketMeta, payload: &[u8]) {
    if let (Some(sport), Some(dport)) = (be16(payload, 0), be16(payload, 2)) {
        meta.sport = sport;
        meta.dport = dport;
        meta.has_ports = true;
    }
}
