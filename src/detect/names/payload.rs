//! Where a decoded packet's transport payload starts in its frame. The decoder hands back only
//! the `Copy` facts of the innermost flow (addresses, ports), not offsets; the name path, which
//! needs the payload of a few packets (port 53, a young flow's first client bytes), finds it
//! again here: the innermost IP header is the first one in the frame that carries the flow's
//! addresses, protocol and ports. Plain Ethernet (with or without one VLAN tag) is tried at its
//! fixed offsets first; tunnels and other link types take a bounded scan of the frame.

#![warn(clippy::indexing_slicing)]

use std::net::IpAddr;

use crate::decode::{proto, PacketMeta};

/// IPv6 extension headers skipped before the transport header.
const MAX_EXTENSIONS: usize = 8;

/// A transport payload and, for TCP, its sequence number.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Payload<'a> {
    pub bytes: &'a [u8],
    pub seq: u32,
}

/// The payload of `meta`'s own (innermost) TCP or UDP packet in `frame`; `None` when it was
/// not captured or the packet is a fragment.
pub fn locate<'a>(frame: &'a [u8], meta: &PacketMeta) -> Option<Payload<'a>> {
    if !meta.has_ports || meta.fragment.is_some() {
        return None;
    }
    if !matches!(meta.proto, proto::TCP | proto::UDP) {
        return None;
    }
    for at in [14, 18] {
        if let Some(p) = at_offset(frame, at, meta) {
            return Some(p);
        }
    }
    (0..frame.len()).find_map(|at| at_offset(frame, at, meta))
}

/// What the fixed offsets of plain Ethernet (one VLAN tag at most) say about a TCP packet's
/// payload, without checking the addresses: only a hint that lets most segments skip
/// [`locate`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum First {
    Empty,
    Byte(u8),
    /// Not plain Ethernet IPv4/IPv6 TCP at the fixed offsets (tunnels, other link types).
    Unknown,
}

#[inline]
pub fn first_byte(frame: &[u8], meta: &PacketMeta) -> First {
    let (ethertype, ip_at) = match be16_at(frame, 12) {
        Some(0x8100) => (be16_at(frame, 16), 18),
        other => (other, 14),
    };
    let Some(&ver) = frame.get(ip_at) else {
        return First::Unknown;
    };
    let (proto_at, l4_at, total) = match (ethertype, ver >> 4, meta.src) {
        (Some(0x0800), 4, IpAddr::V4(_)) => {
            let total = be16_at(frame, ip_at + 2).map(usize::from);
            (ip_at + 9, ip_at + usize::from(ver & 0x0f) * 4, total)
        }
        (Some(0x86dd), 6, IpAddr::V6(_)) => {
            let total = be16_at(frame, ip_at + 4).map(|n| 40 + usize::from(n));
            (ip_at + 6, ip_at + 40, total)
        }
        _ => return First::Unknown,
    };
    let (Some(&proto), Some(total)) = (frame.get(proto_at), total) else {
        return First::Unknown;
    };
    if proto != proto::TCP {
        return First::Unknown;
    }
    let Some(&offset) = frame.get(l4_at + 12) else {
        return First::Unknown;
    };
    let at = l4_at + usize::from(offset >> 4) * 4;
    if at >= ip_at + total {
        return First::Empty;
    }
    match frame.get(at) {
        Some(&b) => First::Byte(b),
        None => First::Unknown,
    }
}

fn be16_at(b: &[u8], at: usize) -> Option<u16> {
    b.get(at..)?
        .first_chunk::<2>()
        .map(|c| u16::from_be_bytes(*c))
}

fn at_offset<'a>(frame: &'a [u8], at: usize, meta: &PacketMeta) -> Option<Payload<'a>> {
    let ip = frame.get(at..)?;
    let (l4, ip_end) = match (meta.src, meta.dst) {
        (IpAddr::V4(s), IpAddr::V4(d)) => {
            let h = ip.first_chunk::<20>()?;
            if h[0] >> 4 != 4
                || h[9] != meta.proto
                || h[12..16] != s.octets()
                || h[16..20] != d.octets()
            {
                return None;
            }
            let ihl = usize::from(h[0] & 0x0f) * 4;
            let total = usize::from(u16::from_be_bytes([h[2], h[3]]));
            if ihl < 20 || total < ihl {
                return None;
            }
            (ihl, total)
        }
        (IpAddr::V6(s), IpAddr::V6(d)) => {
            let h = ip.first_chunk::<40>()?;
            if h[0] >> 4 != 6 || h[8..24] != s.octets() || h[24..40] != d.octets() {
                return None;
            }
            let total = 40 + usize::from(u16::from_be_bytes([h[4], h[5]]));
            (skip_extensions(ip, h[6], meta.proto)?, total)
        }
        _ => return None,
    };
    let ip = ip.get(..ip_end.min(ip.len()))?;
    let t = ip.get(l4..)?;
    let ports = t.first_chunk::<4>()?;
    if u16::from_be_bytes([ports[0], ports[1]]) != meta.sport
        || u16::from_be_bytes([ports[2], ports[3]]) != meta.dport
    {
        return None;
    }
    if meta.proto == proto::UDP {
        let len = usize::from(u16::from_be_bytes([*t.get(4)?, *t.get(5)?]));
        let end = len.clamp(8, t.len().max(8));
        return Some(Payload {
            bytes: t.get(8..end.min(t.len()))?,
            seq: 0,
        });
    }
    let h = t.first_chunk::<20>()?;
    let offset = usize::from(h[12] >> 4) * 4;
    if offset < 20 {
        return None;
    }
    Some(Payload {
        bytes: t.get(offset..).unwrap_or(&[]),
        seq: u32::from_be_bytes([h[4], h[5], h[6], h[7]]),
    })
}

/// Offset of the transport header after IPv6's fixed header and extension headers.
fn skip_extensions(ip: &[u8], mut next: u8, want: u8) -> Option<usize> {
    let mut at = 40;
    for _ in 0..MAX_EXTENSIONS {
        if next == want {
            return Some(at);
        }
        match next {
            0 | 43 | 60 => {
                next = *ip.get(at)?;
                at += (usize::from(*ip.get(at + 1)?) + 1) * 8;
            }
            _ => return None,
        }
    }
    None
}

#[cfg(test)]
#[allow(clippy::indexing_slicing)]
mod tests {
    use super::*;
    use crate::decode::{decode, LinkType};

    use c2tap_pcapgen::wire;

    fn eth_ipv4_udp(src: &str, dst: &str, dport: u16, payload: &[u8]) -> Vec<u8> {
        let (src, dst) = (src.parse().unwrap(), dst.parse().unwrap());
        let seg = wire::udp(src, dst, 12345, dport, payload);
        let ip = wire::ip(src, dst, wire::PROTO_UDP, 1, &seg);
        wire::ethernet([2; 6], [4; 6], &[], 0x0800, &ip)
    }

    #[test]
    fn plain_and_tunnelled_udp_payloads_are_found() {
        let frame = eth_ipv4_udp("10.0.0.1", "10.0.0.53", 53, b"hello");
        let meta = decode(LinkType::ETHERNET, &frame).unwrap();
        assert_eq!(locate(&frame, &meta).unwrap().bytes, b"hello");
        // The same frame inside VXLAN: outer addresses differ, the inner flow's payload is found.
        let outer = eth_ipv4_udp("192.0.2.1", "192.0.2.2", 4789, &wire::vxlan(1, &frame));
        let meta = decode(LinkType::ETHERNET, &outer).unwrap();
        assert_eq!(meta.dport, 53);
        assert_eq!(locate(&outer, &meta).unwrap().bytes, b"hello");
        // Ethernet padding past the IP length is not payload.
        let mut padded = eth_ipv4_udp("10.0.0.1", "10.0.0.53", 53, b"hi");
        padded.extend([0; 20]);
        let meta = decode(LinkType::ETHERNET, &padded).unwrap();
        assert_eq!(locate(&padded, &meta).unwrap().bytes, b"hi");
    }

    #[test]
    fn the_first_byte_hint_agrees_with_locate() {
        use c2tap_pcapgen::traffic::TcpConn;
        let mut c = TcpConn::new(
            "10.0.0.1:40000".parse().unwrap(),
            "10.0.0.2:443".parse().unwrap(),
            1,
            1,
        );
        let frames = [
            wire::ethernet([2; 6], [4; 6], &[], 0x0800, &c.client_data(b"\x16\x03\x01")),
            wire::ethernet(
                [2; 6],
                [4; 6],
                &[(0x8100, 7)],
                0x0800,
                &c.client_data(b"GET /"),
            ),
            wire::ethernet([2; 6], [4; 6], &[], 0x0800, &c.client(0x10, &[])),
        ];
        for frame in &frames {
            let meta = decode(LinkType::ETHERNET, frame).unwrap();
            let located = locate(frame, &meta).unwrap().bytes;
            match first_byte(frame, &meta) {
                First::Byte(b) => assert_eq!(located.first(), Some(&b)),
                First::Empty => assert!(located.is_empty()),
                First::Unknown => panic!("plain Ethernet is known"),
            }
        }
        // Inside VXLAN the hint does not guess.
        let inner = &frames[0];
        let outer = eth_ipv4_udp("192.0.2.1", "192.0.2.2", 4789, &wire::vxlan(1, inner));
        let meta = decode(LinkType::ETHERNET, &outer).unwrap();
        assert_eq!(first_byte(&outer, &meta), First::Unknown);
    }

    proptest::proptest! {
        #[test]
        fn arbitrary_frames_never_panic(bytes in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..300)) {
            if let Ok(meta) = decode(LinkType::ETHERNET, &bytes) {
                let _ = locate(&bytes, &meta);
            }
        }
    }
}
