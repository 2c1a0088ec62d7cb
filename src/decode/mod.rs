//! Decode: a borrowed captured frame becomes a small `Copy` [`PacketMeta`] — addresses, ports,
//! TCP flags, lengths and the encapsulation context (VLAN, tunnel) of the *inner* flow.
//!
//! Malformed input is an error value ([`DecodeError`]) that the caller counts by
//! [`DecodeError::kind`]; nothing in packet data can panic or allocate here.

use std::net::IpAddr;

/// Link-layer header type of a capture (the pcap `LINKTYPE_*` / `DLT_*` number).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct LinkType(pub u32);

impl LinkType {
    pub const NULL: LinkType = LinkType(0); // BSD loopback, host-order AF
    pub const ETHERNET: LinkType = LinkType(1);
    pub const RAW: LinkType = LinkType(101);
    pub const LOOP: LinkType = LinkType(108); // OpenBSD loopback, network-order AF
    pub const LINUX_SLL: LinkType = LinkType(113);
    pub const IPV4: LinkType = LinkType(228);
    pub const IPV6: LinkType = LinkType(229);
    pub const LINUX_SLL2: LinkType = LinkType(276);
}

/// IP protocol numbers c2tap treats specially.
pub mod proto {
    pub const ICMP: u8 = 1;
    pub const TCP: u8 = 6;
    pub const UDP: u8 = 17;
    pub const GRE: u8 = 47;
    pub const ICMPV6: u8 = 58;
    pub const SCTP: u8 = 132;
}

/// TCP flag bits as they sit in the header's flags byte.
pub mod tcp_flags {
    pub const FIN: u8 = 0x01;
    pub const SYN: u8 = 0x02;
    pub const RST: u8 = 0x04;
    pub const PSH: u8 = 0x08;
    pub const ACK: u8 = 0x10;
}

/// Which tunnel carried the inner packet. The outer headers are transport of the mirror, not the
/// identity of the flow; the tunnel id still separates overlapping tenant address spaces (VNI).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub enum Tunnel {
    #[default]
    None,
    Gre { key: u32 },
    ErspanII { session: u16 },
    ErspanIII { session: u16 },
    Vxlan { vni: u32 },
    Geneve { vni: u32 },
}

/// IPv4/IPv6 fragment facts. Only the first fragment (offset 0) carries the ports.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct Fragment {
    /// Identification (IPv4: 16 bits, IPv6: 32 bits).
    pub id: u32,
    /// Offset in bytes.
    pub offset: u32,
    pub more: bool,
}

/// Everything downstream needs from one packet. Small and `Copy` so the hot path never allocates.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PacketMeta {
    pub src: IpAddr,
    pub dst: IpAddr,
    /// IP protocol number of the innermost transport (after extension headers).
    pub proto: u8,
    /// Transport ports; both 0 when the packet has none (ICMP, later fragments, cut headers).
    pub sport: u16,
    pub dport: u16,
    /// True when `sport`/`dport` were actually read from the packet.
    pub has_ports: bool,
    /// TCP flags byte (0 for other protocols or when the TCP header was cut off).
    pub tcp_flags: u8,
    /// ICMP/ICMPv6 type and code (0 otherwise).
    pub icmp_type: u8,
    pub icmp_code: u8,
    /// Innermost 802.1Q VLAN id seen on the path to the inner IP header, 0 if untagged.
    pub vlan: u16,
    /// Outer tunnel, if the inner packet came through one.
    pub tunnel: Tunnel,
    /// Set when the IP header says this is a fragment.
    pub fragment: Option<Fragment>,
    /// Bytes of the inner IP packet as stated by its header (total length / payload+40).
    pub ip_len: u32,
}

/// Why a frame was skipped. `kind()` is the metric label: a closed set, never packet data.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum DecodeError {
    /// Zero-length frame.
    Empty,
    /// Link-layer header shorter than its type requires.
    TruncatedLink,
    /// Link type c2tap does not decode.
    UnsupportedLinkType,
    /// Not IP at all (ARP, LLDP, STP, ...): counted, not an error in the capture.
    NotIp,
    /// More VLAN/MPLS labels or tunnel layers than c2tap peels.
    TooManyLayers,
    /// IP header cut short.
    TruncatedIp,
    /// IP header fields inconsistent (version, IHL, total length < header).
    BadIpHeader,
    /// Extension header chain cut short or malformed.
    BadIpv6Extension,
    /// Tunnel header cut short or malformed.
    BadTunnel,
}

impl DecodeError {
    /// Closed set of labels, one per variant, for counters and the replay summary.
    pub const ALL: [DecodeError; 9] = [
        DecodeError::Empty,
        DecodeError::TruncatedLink,
        DecodeError::UnsupportedLinkType,
        DecodeError::NotIp,
        DecodeError::TooManyLayers,
        DecodeError::TruncatedIp,
        DecodeError::BadIpHeader,
        DecodeError::BadIpv6Extension,
        DecodeError::BadTunnel,
    ];

    pub fn kind(self) -> &'static str {
        match self {
            DecodeError::Empty => "empty",
            DecodeError::TruncatedLink => "truncated_link",
            DecodeError::UnsupportedLinkType => "unsupported_linktype",
            DecodeError::NotIp => "not_ip",
            DecodeError::TooManyLayers => "too_many_layers",
            DecodeError::TruncatedIp => "truncated_ip",
            DecodeError::BadIpHeader => "bad_ip_header",
            DecodeError::BadIpv6Extension => "bad_ipv6_extension",
            DecodeError::BadTunnel => "bad_tunnel",
        }
    }

    /// Index into [`DecodeError::ALL`], for per-kind counter arrays.
    pub fn index(self) -> usize {
        DecodeError::ALL.iter().position(|k| *k == self).unwrap_or(0)
    }
}

/// Decode one captured frame (possibly cut short by a snap length).
pub fn decode(link: LinkType, frame: &[u8]) -> Result<PacketMeta, DecodeError> {
    let _ = (link, frame);
    Err(DecodeError::UnsupportedLinkType)
}
