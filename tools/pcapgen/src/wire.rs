//! Frame builders, written byte by byte from the RFCs so they owe nothing to the decoder they
//! test. Each builder takes its payload and returns the bytes of its own layer in front of it;
//! frames are built inside out (transport → IP → tunnel → link).

use std::net::IpAddr;

pub mod ethertype {
    pub const IPV4: u16 = 0x0800;
    pub const ARP: u16 = 0x0806;
    pub const VLAN: u16 = 0x8100;
    pub const QINQ: u16 = 0x88a8;
    pub const QINQ_OLD: u16 = 0x9100;
    pub const IPV6: u16 = 0x86dd;
    pub const MPLS: u16 = 0x8847;
    pub const TEB: u16 = 0x6558;
    pub const ERSPAN_II: u16 = 0x88be;
    pub const ERSPAN_III: u16 = 0x22eb;
}

pub mod tcp_flags {
    pub const FIN: u8 = 0x01;
    pub const SYN: u8 = 0x02;
    pub const RST: u8 = 0x04;
    pub const PSH: u8 = 0x08;
    pub const ACK: u8 = 0x10;
}

pub const PROTO_ICMP: u8 = 1;
pub const PROTO_TCP: u8 = 6;
pub const PROTO_UDP: u8 = 17;
pub const PROTO_GRE: u8 = 47;
pub const PROTO_ICMPV6: u8 = 58;

/// Internet checksum (RFC 1071) over `parts` as one byte string; odd-length parts are allowed only last.
pub fn checksum(parts: &[&[u8]]) -> u16 {
    let mut sum: u32 = 0;
    for part in parts {
        let mut chunks = part.chunks_exact(2);
        for c in &mut chunks {
            sum += u32::from(u16::from_be_bytes([c[0], c[1]]));
        }
        if let [last] = chunks.remainder() {
            sum += u32::from(*last) << 8;
        }
    }
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    !(sum as u16)
}

fn pseudo_header(src: IpAddr, dst: IpAddr, proto: u8, len: usize) -> Vec<u8> {
    let mut p = Vec::with_capacity(40);
    match (src, dst) {
        (IpAddr::V4(s), IpAddr::V4(d)) => {
            p.extend_from_slice(&s.octets());
            p.extend_from_slice(&d.octets());
            p.extend_from_slice(&[0, proto]);
            p.extend_from_slice(&(len as u16).to_be_bytes());
        }
        _ => {
            p.extend_from_slice(&v6_octets(src));
            p.extend_from_slice(&v6_octets(dst));
            p.extend_from_slice(&(len as u32).to_be_bytes());
            p.extend_from_slice(&[0, 0, 0, proto]);
        }
    }
    p
}

fn v6_octets(a: IpAddr) -> [u8; 16] {
    match a {
        IpAddr::V4(v4) => v4.to_ipv6_mapped().octets(),
        IpAddr::V6(v6) => v6.octets(),
    }
}

/// Transport segment with its checksum filled in at `csum_at`.
fn with_checksum(mut seg: Vec<u8>, src: IpAddr, dst: IpAddr, proto: u8, csum_at: usize) -> Vec<u8> {
    let sum = checksum(&[&pseudo_header(src, dst, proto, seg.len()), &seg]);
    seg[csum_at..csum_at + 2].copy_from_slice(&sum.to_be_bytes());
    seg
}

#[derive(Clone, Copy, Debug)]
pub struct TcpHeader {
    pub sport: u16,
    pub dport: u16,
    pub seq: u32,
    pub ack: u32,
    pub flags: u8,
    pub window: u16,
}

/// TCP segment; a SYN carries an MSS option as real stacks do (header 24 bytes).
pub fn tcp(src: IpAddr, dst: IpAddr, h: TcpHeader, payload: &[u8]) -> Vec<u8> {
    let options: &[u8] = if h.flags & tcp_flags::SYN != 0 {
        &[2, 4, 0x05, 0xb4]
    } else {
        &[]
    };
    tcp_with_options(src, dst, h, options, payload)
}

/// TCP segment with the given options (a multiple of 4 bytes).
pub fn tcp_with_options(
    src: IpAddr,
    dst: IpAddr,
    h: TcpHeader,
    options: &[u8],
    payload: &[u8],
) -> Vec<u8> {
    let header_len = 20 + options.len();
    let mut s = Vec::with_capacity(header_len + payload.len());
    s.extend_from_slice(&h.sport.to_be_bytes());
    s.extend_from_slice(&h.dport.to_be_bytes());
    s.extend_from_slice(&h.seq.to_be_bytes());
    s.extend_from_slice(&h.ack.to_be_bytes());
    s.push(((header_len / 4) as u8) << 4);
    s.push(h.flags);
    s.extend_from_slice(&h.window.to_be_bytes());
    s.extend_from_slice(&[0, 0, 0, 0]); // checksum, urgent pointer
    s.extend_from_slice(options);
    s.extend_from_slice(payload);
    with_checksum(s, src, dst, PROTO_TCP, 16)
}

pub fn udp(src: IpAddr, dst: IpAddr, sport: u16, dport: u16, payload: &[u8]) -> Vec<u8> {
    let mut s = Vec::with_capacity(8 + payload.len());
    s.extend_from_slice(&sport.to_be_bytes());
    s.extend_from_slice(&dport.to_be_bytes());
    s.extend_from_slice(&((8 + payload.len()) as u16).to_be_bytes());
    s.extend_from_slice(&[0, 0]);
    s.extend_from_slice(payload);
    with_checksum(s, src, dst, PROTO_UDP, 6)
}

/// ICMP (v4) or ICMPv6 echo; `reply` picks type 0/129 instead of 8/128.
pub fn icmp_echo(
    src: IpAddr,
    dst: IpAddr,
    reply: bool,
    id: u16,
    seq: u16,
    payload: &[u8],
) -> Vec<u8> {
    let v6 = src.is_ipv6();
    let kind = match (v6, reply) {
        (false, false) => 8,
        (false, true) => 0,
        (true, false) => 128,
        (true, true) => 129,
    };
    let mut s = vec![kind, 0, 0, 0];
    s.extend_from_slice(&id.to_be_bytes());
    s.extend_from_slice(&seq.to_be_bytes());
    s.extend_from_slice(payload);
    if v6 {
        with_checksum(s, src, dst, PROTO_ICMPV6, 2)
    } else {
        let sum = checksum(&[&s]);
        s[2..4].copy_from_slice(&sum.to_be_bytes());
        s
    }
}

/// IPv4 header fields a fixture may want to vary.
#[derive(Clone, Copy, Debug)]
pub struct Ipv4Header {
    pub id: u16,
    pub ttl: u8,
    /// Fragment offset in bytes (a multiple of 8).
    pub frag_offset: u16,
    pub more_fragments: bool,
}

impl Default for Ipv4Header {
    fn default() -> Self {
        Ipv4Header {
            id: 0,
            ttl: 64,
            frag_offset: 0,
            more_fragments: false,
        }
    }
}

pub fn ipv4(src: [u8; 4], dst: [u8; 4], proto: u8, h: Ipv4Header, payload: &[u8]) -> Vec<u8> {
    let mut p = Vec::with_capacity(20 + payload.len());
    p.push(0x45);
    p.push(0);
    p.extend_from_slice(&((20 + payload.len()) as u16).to_be_bytes());
    p.extend_from_slice(&h.id.to_be_bytes());
    let mut frag = h.frag_offset / 8;
    if h.more_fragments {
        frag |= 0x2000;
    } else if h.frag_offset == 0 {
        frag |= 0x4000; // DF on unfragmented packets, as modern stacks send them
    }
    p.extend_from_slice(&frag.to_be_bytes());
    p.push(h.ttl);
    p.push(proto);
    p.extend_from_slice(&[0, 0]);
    p.extend_from_slice(&src);
    p.extend_from_slice(&dst);
    let sum = checksum(&[&p]);
    p[10..12].copy_from_slice(&sum.to_be_bytes());
    p.extend_from_slice(payload);
    p
}

/// IPv6 extension headers, in the order they are given.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Ipv6Ext {
    HopByHop,
    DestinationOptions,
    Routing,
    Fragment { offset: u16, more: bool, id: u32 },
}

impl Ipv6Ext {
    fn number(self) -> u8 {
        match self {
            Ipv6Ext::HopByHop => 0,
            Ipv6Ext::Routing => 43,
            Ipv6Ext::Fragment { .. } => 44,
            Ipv6Ext::DestinationOptions => 60,
        }
    }

    /// Eight bytes each: options headers carry one PadN option, routing a type-0 header with no
    /// segments left.
    fn write(self, next: u8, out: &mut Vec<u8>) {
        match self {
            Ipv6Ext::HopByHop | Ipv6Ext::DestinationOptions => {
                out.extend_from_slice(&[next, 0, 1, 4, 0, 0, 0, 0])
            }
            Ipv6Ext::Routing => out.extend_from_slice(&[next, 0, 0, 0, 0, 0, 0, 0]),
            Ipv6Ext::Fragment { offset, more, id } => {
                out.extend_from_slice(&[next, 0]);
                out.extend_from_slice(&((offset & !7) | u16::from(more)).to_be_bytes());
                out.extend_from_slice(&id.to_be_bytes());
            }
        }
    }
}

pub fn ipv6(src: [u8; 16], dst: [u8; 16], proto: u8, ext: &[Ipv6Ext], payload: &[u8]) -> Vec<u8> {
    let ext_len = ext.len() * 8;
    let mut p = Vec::with_capacity(40 + ext_len + payload.len());
    p.extend_from_slice(&[0x60, 0, 0, 0]);
    p.extend_from_slice(&((ext_len + payload.len()) as u16).to_be_bytes());
    p.push(ext.first().map_or(proto, |e| e.number()));
    p.push(64);
    p.extend_from_slice(&src);
    p.extend_from_slice(&dst);
    for (i, e) in ext.iter().enumerate() {
        e.write(ext.get(i + 1).map_or(proto, |n| n.number()), &mut p);
    }
    p.extend_from_slice(payload);
    p
}

/// IP packet of the family of `src`/`dst` (which must agree) with default header fields.
pub fn ip(src: IpAddr, dst: IpAddr, proto: u8, id: u16, payload: &[u8]) -> Vec<u8> {
    match (src, dst) {
        (IpAddr::V4(s), IpAddr::V4(d)) => ipv4(
            s.octets(),
            d.octets(),
            proto,
            Ipv4Header {
                id,
                ..Ipv4Header::default()
            },
            payload,
        ),
        _ => ipv6(v6_octets(src), v6_octets(dst), proto, &[], payload),
    }
}

/// EtherType of an IP packet, by its version nibble.
pub fn ip_ethertype(ip: &[u8]) -> u16 {
    match ip.first().map(|b| b >> 4) {
        Some(6) => ethertype::IPV6,
        _ => ethertype::IPV4,
    }
}

/// Ethernet II frame; `tags` are (TPID, TCI) pairs, outermost first.
pub fn ethernet(
    dst: [u8; 6],
    src: [u8; 6],
    tags: &[(u16, u16)],
    ethertype: u16,
    payload: &[u8],
) -> Vec<u8> {
    let mut f = Vec::with_capacity(14 + 4 * tags.len() + payload.len());
    f.extend_from_slice(&dst);
    f.extend_from_slice(&src);
    for (tpid, tci) in tags {
        f.extend_from_slice(&tpid.to_be_bytes());
        f.extend_from_slice(&tci.to_be_bytes());
    }
    f.extend_from_slice(&ethertype.to_be_bytes());
    f.extend_from_slice(payload);
    f
}

/// MPLS label stack (outermost first), TTL 64, bottom-of-stack on the last.
pub fn mpls(labels: &[u32], payload: &[u8]) -> Vec<u8> {
    let mut f = Vec::with_capacity(4 * labels.len() + payload.len());
    for (i, label) in labels.iter().enumerate() {
        let bos = u32::from(i + 1 == labels.len());
        f.extend_from_slice(&((label << 12) | (bos << 8) | 64).to_be_bytes());
    }
    f.extend_from_slice(payload);
    f
}

/// GRE (RFC 2784/2890) with optional key and sequence number.
pub fn gre(protocol: u16, key: Option<u32>, seq: Option<u32>, payload: &[u8]) -> Vec<u8> {
    let mut flags = 0u16;
    if key.is_some() {
        flags |= 0x2000;
    }
    if seq.is_some() {
        flags |= 0x1000;
    }
    let mut f = Vec::with_capacity(12 + payload.len());
    f.extend_from_slice(&flags.to_be_bytes());
    f.extend_from_slice(&protocol.to_be_bytes());
    for v in [key, seq].into_iter().flatten() {
        f.extend_from_slice(&v.to_be_bytes());
    }
    f.extend_from_slice(payload);
    f
}

/// ERSPAN type II header (8 bytes) in front of the mirrored Ethernet frame; goes in GRE 0x88be
/// with a sequence number.
pub fn erspan2(session: u16, vlan: u16, index: u32, frame: &[u8]) -> Vec<u8> {
    let mut f = Vec::with_capacity(8 + frame.len());
    f.extend_from_slice(&((1u16 << 12) | (vlan & 0xfff)).to_be_bytes());
    f.extend_from_slice(&(session & 0x3ff).to_be_bytes());
    f.extend_from_slice(&(index & 0xf_ffff).to_be_bytes());
    f.extend_from_slice(frame);
    f
}

/// ERSPAN type III header (12 bytes, plus the 8-byte platform subheader when `platform` is set)
/// in front of the mirrored frame; goes in GRE 0x22eb.
pub fn erspan3(session: u16, vlan: u16, timestamp: u32, platform: bool, frame: &[u8]) -> Vec<u8> {
    let mut f = Vec::with_capacity(20 + frame.len());
    f.extend_from_slice(&((2u16 << 12) | (vlan & 0xfff)).to_be_bytes());
    f.extend_from_slice(&(session & 0x3ff).to_be_bytes());
    f.extend_from_slice(&timestamp.to_be_bytes());
    f.extend_from_slice(&[0, 0]); // security group tag
    f.extend_from_slice(&u16::from(platform).to_be_bytes()); // P/FT/HwID/D/Gra/O: only O
    if platform {
        f.extend_from_slice(&[0x0c, 0, 0, 0, 0, 0, 0, 0]); // platform id 3, no data
    }
    f.extend_from_slice(frame);
    f
}

/// VXLAN header (RFC 7348), goes in UDP 4789 in front of an Ethernet frame.
pub fn vxlan(vni: u32, frame: &[u8]) -> Vec<u8> {
    let mut f = vec![0x08, 0, 0, 0];
    f.extend_from_slice(&(vni << 8).to_be_bytes());
    f.extend_from_slice(frame);
    f
}

/// Geneve header (RFC 8926) with one 8-byte option, goes in UDP 6081 in front of a frame.
pub fn geneve(vni: u32, protocol: u16, frame: &[u8]) -> Vec<u8> {
    let mut f = vec![2, 0]; // version 0, option length 2 words
    f.extend_from_slice(&protocol.to_be_bytes());
    f.extend_from_slice(&(vni << 8).to_be_bytes());
    f.extend_from_slice(&[0x01, 0x02, 0x03, 0x01, 0, 0, 0, 42]); // class 0x0102, type 3, 1 word
    f.extend_from_slice(frame);
    f
}

/// Linux cooked capture v1 (LINKTYPE_LINUX_SLL, 16-byte header).
pub fn sll(packet_type: u16, mac: [u8; 6], protocol: u16, payload: &[u8]) -> Vec<u8> {
    let mut f = Vec::with_capacity(16 + payload.len());
    f.extend_from_slice(&packet_type.to_be_bytes());
    f.extend_from_slice(&1u16.to_be_bytes()); // ARPHRD_ETHER
    f.extend_from_slice(&6u16.to_be_bytes());
    f.extend_from_slice(&mac);
    f.extend_from_slice(&[0, 0]);
    f.extend_from_slice(&protocol.to_be_bytes());
    f.extend_from_slice(payload);
    f
}

/// Linux cooked capture v2 (LINKTYPE_LINUX_SLL2, 20-byte header).
pub fn sll2(protocol: u16, ifindex: u32, packet_type: u8, mac: [u8; 6], payload: &[u8]) -> Vec<u8> {
    let mut f = Vec::with_capacity(20 + payload.len());
    f.extend_from_slice(&protocol.to_be_bytes());
    f.extend_from_slice(&[0, 0]);
    f.extend_from_slice(&ifindex.to_be_bytes());
    f.extend_from_slice(&1u16.to_be_bytes());
    f.push(packet_type);
    f.push(6);
    f.extend_from_slice(&mac);
    f.extend_from_slice(&[0, 0]);
    f.extend_from_slice(payload);
    f
}

/// BSD loopback header: the address family as a 4-byte integer, host order for LINKTYPE_NULL
/// (`big_endian` false for a little-endian capture host), network order for LINKTYPE_LOOP.
pub fn loopback(family: u32, big_endian: bool, payload: &[u8]) -> Vec<u8> {
    let mut f = Vec::with_capacity(4 + payload.len());
    f.extend_from_slice(&if big_endian {
        family.to_be_bytes()
    } else {
        family.to_le_bytes()
    });
    f.extend_from_slice(payload);
    f
}

/// A TLS ClientHello record (RFC 8446 §4.1.2) for `server_name` (RFC 6066 §3): a 32-byte
/// session id, two TLS 1.3 suites, then the extensions `filler` (type, zero bytes of that
/// length) and server_name, in that order.
pub fn tls_client_hello(server_name: &str, filler: (u16, usize)) -> Vec<u8> {
    let mut body = vec![3, 3];
    body.extend_from_slice(&[0x42; 32]);
    body.push(32);
    body.extend_from_slice(&[0x24; 32]);
    body.extend_from_slice(&[0, 4, 0x13, 0x01, 0x13, 0x02, 1, 0]);
    let n = server_name.as_bytes();
    let mut exts = Vec::new();
    exts.extend_from_slice(&filler.0.to_be_bytes());
    exts.extend_from_slice(&(filler.1 as u16).to_be_bytes());
    exts.resize(exts.len() + filler.1, 0);
    exts.extend_from_slice(&[0, 0]);
    exts.extend_from_slice(&((n.len() + 5) as u16).to_be_bytes());
    exts.extend_from_slice(&((n.len() + 3) as u16).to_be_bytes());
    exts.push(0);
    exts.extend_from_slice(&(n.len() as u16).to_be_bytes());
    exts.extend_from_slice(n);
    body.extend_from_slice(&(exts.len() as u16).to_be_bytes());
    body.extend(exts);
    let mut hs = vec![1, 0];
    hs.extend_from_slice(&(body.len() as u16).to_be_bytes());
    hs.extend(body);
    let mut record = vec![0x16, 3, 1];
    record.extend_from_slice(&(hs.len() as u16).to_be_bytes());
    record.extend(hs);
    record
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::Ipv4Addr;

    const A: IpAddr = IpAddr::V4(Ipv4Addr::new(10, 1, 2, 3));
    const B: IpAddr = IpAddr::V4(Ipv4Addr::new(138, 9, 223, 13));

    #[test]
    fn checksum_of_rfc1071_example() {
        // RFC 1071 section 3: 00 01 f2 03 f4 f5 f6 f7 sums to 0xddf2, complement 0x220d.
        assert_eq!(
            checksum(&[&[0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7]]),
            0x220d
        );
    }

    #[test]
    fn ipv4_header_fields_and_checksum() {
        let p = ipv4(
            [10, 1, 2, 3],
            [138, 9, 223, 13],
            PROTO_TCP,
            Ipv4Header {
                id: 7,
                ..Default::default()
            },
            &[1, 2, 3],
        );
        assert_eq!(p.len(), 23);
        assert_eq!(p[0], 0x45);
        assert_eq!(u16::from_be_bytes([p[2], p[3]]), 23);
        assert_eq!(u16::from_be_bytes([p[4], p[5]]), 7);
        assert_eq!(u16::from_be_bytes([p[6], p[7]]), 0x4000);
        assert_eq!(p[9], PROTO_TCP);
        assert_eq!(&p[16..20], &[138, 9, 223, 13]);
        assert_eq!(
            checksum(&[&p[..20]]),
            0,
            "a header with its checksum sums to zero"
        );
    }

    #[test]
    fn ipv4_fragment_offset_in_8_byte_units() {
        let h = Ipv4Header {
            id: 9,
            ttl: 64,
            frag_offset: 24,
            more_fragments: true,
        };
        let p = ipv4([1, 1, 1, 1], [2, 2, 2, 2], PROTO_TCP, h, &[]);
        assert_eq!(u16::from_be_bytes([p[6], p[7]]), 0x2000 | 3);
    }

    #[test]
    fn tcp_syn_has_mss_and_valid_checksum() {
        let h = TcpHeader {
            sport: 49823,
            dport: 8015,
            seq: 100,
            ack: 0,
            flags: tcp_flags::SYN,
            window: 64240,
        };
        let s = tcp(A, B, h, &[]);
        assert_eq!(s.len(), 24);
        assert_eq!(s[12] >> 4, 6);
        assert_eq!(s[13], tcp_flags::SYN);
        assert_eq!(u16::from_be_bytes([s[2], s[3]]), 8015);
        assert_eq!(u32::from_be_bytes([s[4], s[5], s[6], s[7]]), 100);
        assert_eq!(checksum(&[&pseudo_header(A, B, PROTO_TCP, s.len()), &s]), 0);
    }

    #[test]
    fn udp_length_and_checksum() {
        let s = udp(A, B, 5000, 8015, b"hello");
        assert_eq!(u16::from_be_bytes([s[4], s[5]]), 13);
        assert_eq!(checksum(&[&pseudo_header(A, B, PROTO_UDP, s.len()), &s]), 0);
    }

    #[test]
    fn ipv6_extension_chain_links_next_headers() {
        let ext = [
            Ipv6Ext::HopByHop,
            Ipv6Ext::Routing,
            Ipv6Ext::Fragment {
                offset: 0,
                more: true,
                id: 5,
            },
        ];
        let p = ipv6([0x20; 16], [0x30; 16], PROTO_TCP, &ext, &[9; 4]);
        assert_eq!(p.len(), 40 + 24 + 4);
        assert_eq!(u16::from_be_bytes([p[4], p[5]]), 28);
        assert_eq!(p[6], 0);
        assert_eq!(p[40], 43);
        assert_eq!(p[48], 44);
        assert_eq!(p[56], PROTO_TCP);
        assert_eq!(&p[58..60], &[0, 1]);
    }

    #[test]
    fn ethernet_with_qinq_tags() {
        let f = ethernet(
            [1; 6],
            [2; 6],
            &[(ethertype::QINQ, 10), (ethertype::VLAN, 20)],
            ethertype::IPV4,
            &[0x45],
        );
        assert_eq!(f.len(), 14 + 8 + 1);
        assert_eq!(&f[12..22], &[0x88, 0xa8, 0, 10, 0x81, 0, 0, 20, 0x08, 0]);
    }

    #[test]
    fn mpls_bottom_of_stack_only_on_last() {
        let f = mpls(&[16, 17], &[]);
        assert_eq!(f, vec![0, 1, 0, 64, 0, 1, 0x11, 64]);
    }

    #[test]
    fn tunnel_header_lengths() {
        assert_eq!(gre(0x0800, Some(1), None, &[]).len(), 8);
        assert_eq!(gre(ethertype::ERSPAN_II, None, Some(1), &[]).len(), 8);
        assert_eq!(erspan2(5, 0, 0, &[]).len(), 8);
        assert_eq!(erspan2(5, 0, 0, &[])[0] >> 4, 1);
        assert_eq!(erspan3(5, 0, 0, false, &[]).len(), 12);
        assert_eq!(erspan3(5, 0, 0, true, &[]).len(), 20);
        assert_eq!(vxlan(0x123456, &[]), vec![8, 0, 0, 0, 0x12, 0x34, 0x56, 0]);
        let g = geneve(7, ethertype::TEB, &[]);
        assert_eq!(g.len(), 16);
        assert_eq!(8 + 4 * usize::from(g[0] & 0x3f), 16);
    }

    #[test]
    fn cooked_and_loopback_headers() {
        assert_eq!(sll(0, [1; 6], ethertype::IPV4, &[]).len(), 16);
        assert_eq!(&sll(0, [1; 6], ethertype::IPV4, &[])[14..], &[8, 0]);
        assert_eq!(sll2(ethertype::IPV6, 3, 4, [1; 6], &[]).len(), 20);
        assert_eq!(loopback(2, false, &[]), vec![2, 0, 0, 0]);
        assert_eq!(loopback(24, true, &[]), vec![0, 0, 0, 24]);
    }

    #[test]
    fn icmp_echo_types() {
        assert_eq!(icmp_echo(A, B, false, 1, 1, &[])[0], 8);
        let v6: IpAddr = "2001:db8::1".parse().unwrap();
        let e = icmp_echo(v6, v6, true, 1, 1, b"x");
        assert_eq!(e[0], 129);
        assert_eq!(
            checksum(&[&pseudo_header(v6, v6, PROTO_ICMPV6, e.len()), &e]),
            0
        );
    }
}
