//! A decoded packet's transport payload, as the name path reads it: the bytes and, for TCP,
//! the sequence number the hello gatherer orders segments by. The decoder already walked every
//! layer (VLAN, MPLS, tunnels, IPv6 extension headers) down to the innermost transport header
//! and left the payload's place in [`PacketMeta::payload`], so nothing here searches the frame.

use crate::decode::PacketMeta;

/// A transport payload and, for TCP, its sequence number.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Payload<'a> {
    pub bytes: &'a [u8],
    pub seq: u32,
}

/// The payload of `meta`'s own (innermost) TCP or UDP packet in `frame`, the frame it was
/// decoded from; `None` when there is none (not captured, a fragment, another protocol).
#[inline]
pub fn of<'a>(frame: &'a [u8], meta: &PacketMeta) -> Option<Payload<'a>> {
    let bytes = meta.payload.bytes(frame);
    if bytes.is_empty() {
        return None;
    }
    Some(Payload {
        bytes,
        seq: meta.payload.seq,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decode::{decode, LinkType};

    use c2tap_pcapgen::traffic::TcpConn;
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
        assert_eq!(of(&frame, &meta).unwrap().bytes, b"hello");
        // The same frame inside VXLAN: outer addresses differ, the inner flow's payload is found.
        let outer = eth_ipv4_udp("192.0.2.1", "192.0.2.2", 4789, &wire::vxlan(1, &frame));
        let meta = decode(LinkType::ETHERNET, &outer).unwrap();
        assert_eq!(meta.dport, 53);
        assert_eq!(of(&outer, &meta).unwrap().bytes, b"hello");
        // Ethernet padding past the IP length is not payload.
        let mut padded = eth_ipv4_udp("10.0.0.1", "10.0.0.53", 53, b"hi");
        padded.extend([0; 20]);
        let meta = decode(LinkType::ETHERNET, &padded).unwrap();
        assert_eq!(of(&padded, &meta).unwrap().bytes, b"hi");
    }

    #[test]
    fn tcp_payloads_carry_their_sequence_number() {
        let mut c = TcpConn::new(
            "10.0.0.1:40000".parse().unwrap(),
            "10.0.0.2:443".parse().unwrap(),
            1000,
            1,
        );
        let hello = wire::ethernet([2; 6], [4; 6], &[], 0x0800, &c.client_data(b"\x16\x03\x01"));
        let meta = decode(LinkType::ETHERNET, &hello).unwrap();
        let p = of(&hello, &meta).unwrap();
        assert_eq!((p.bytes, p.seq), (&b"\x16\x03\x01"[..], 1000));
        let next = wire::ethernet(
            [2; 6],
            [4; 6],
            &[(0x8100, 7)],
            0x0800,
            &c.client_data(b"GET /"),
        );
        let meta = decode(LinkType::ETHERNET, &next).unwrap();
        let q = of(&next, &meta).unwrap();
        assert_eq!((q.bytes, q.seq), (&b"GET /"[..], p.seq.wrapping_add(3)));
        let ack = wire::ethernet([2; 6], [4; 6], &[], 0x0800, &c.client(0x10, &[]));
        assert_eq!(of(&ack, &decode(LinkType::ETHERNET, &ack).unwrap()), None);
    }
}
