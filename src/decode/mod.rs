//! Decode: a borrowed captured frame becomes a small `Copy` [`PacketMeta`] — addresses, ports,
//! TCP flags, lengths and the encapsulation context (VLAN, tunnel) of the *inner* flow.
//!
//! Malformed input is an error value ([`DecodeError`]) that the caller counts by
//! [`DecodeError::kind`]; nothing in packet data can panic or allocate here.
//!
//! This is the per-packet hot path, so it is a hand-written decoder over the borrowed bytes
//! (no intermediate slices struct, every read bounds-checked with `get`). Plain Ethernet
//! IPv4/IPv6 TCP/UDP takes a fixed-offset `fast` path; everything else walks the layers
//! `link` (pcap link types) → `ether` (Ethernet, VLAN/QinQ, MPLS) → `ip` (IPv4/IPv6,
//! extension headers, fragments) → `transport` (ports, flags, ICMP) and `tunnel` (GRE, ERSPAN,
//! VXLAN, Geneve), which loops back into `ether`/`ip` for the inner packet.
//!
//! A frame cut by the snap length is not an error as long as the IP addresses were captured:
//! whatever lies beyond the cut is simply absent (`has_ports == false`, `tcp_flags == 0`).
//!
//! Every IP layer matters to detection, not only the innermost: a C2 reached over UDP 4789 or
//! GRE is a C2 contact whatever its payload claims to be. [`decode_layers`] therefore also hands
//! back, in a caller-owned [`Layers`] buffer, each IP layer a tunnel was peeled from and, when
//! decoding stops early (too deep, malformed), the layer it stopped in, with what was read of it.

#![warn(clippy::indexing_slicing)]

use std::net::{IpAddr, Ipv4Addr};

pub mod dns;
mod ether;
mod fast;
pub mod http;
mod ip;
mod link;
#[cfg(test)]
mod test_frames;
pub mod tls;
mod transport;
mod tunnel;

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
    /// `None` when the GRE header has no key field (a key of 0 is still a key).
    Gre {
        key: Option<u32>,
    },
    ErspanII {
        session: u16,
    },
    ErspanIII {
        session: u16,
    },
    Vxlan {
        vni: u32,
    },
    Geneve {
        vni: u32,
    },
}

/// IPv4/IPv6 fragment facts. Only the first fragment (offset 0) carries the ports.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct Fragment {
    /// Identification (IPv4: 16 bits, IPv6: 32 bits).
    pub id: u32,
    /// Offset in bytes (13 bits of 8-byte units in both IPv4 and IPv6: at most 65,528).
    pub offset: u16,
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
    /// Innermost VLAN id of the Ethernet layer that carries the inner IP packet, 0 if untagged.
    /// A tunnel's underlay VLAN is not reported (it belongs to the mirror transport); ERSPAN II
    /// that stripped the mirrored frame's tag reports the VLAN from its header.
    pub vlan: u16,
    /// The innermost tunnel the packet came through (`None` if it arrived bare).
    pub tunnel: Tunnel,
    /// Set when the IP header says this is a fragment.
    pub fragment: Option<Fragment>,
    /// Bytes of the inner IP packet as stated by its header (total length / payload+40).
    pub ip_len: u32,
    /// True for a tunnel's outer layer reported as a flow of its own ([`Layers`]): `tunnel` is
    /// then the tunnel it carried. False for the packet's own (innermost) flow.
    pub outer: bool,
    /// Where the innermost TCP/UDP payload lies in the frame, so the few consumers of payload
    /// bytes (the name path) read it without walking the headers again.
    pub payload: PayloadAt,
}

/// The innermost TCP or UDP payload's place in the captured frame, and the TCP sequence number
/// of its first byte. Empty ([`PayloadAt::NONE`]) for other protocols, any fragment, outer
/// layers, and a payload that is empty or was not captured. The bytes end at whichever comes
/// first: the captured frame, the IP length (Ethernet padding is not payload) and, for UDP, its
/// length field. Offsets are `u16`: the payload of a frame whose headers alone pass 64 KiB
/// (crafted extension chains) is not recorded, and `len` stops at 64 KiB (an IP packet's most).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct PayloadAt {
    /// Offset of the first payload byte from the start of the frame.
    pub at: u16,
    pub len: u16,
    /// TCP sequence number (0 for UDP).
    pub seq: u32,
}

impl PayloadAt {
    pub const NONE: PayloadAt = PayloadAt {
        at: 0,
        len: 0,
        seq: 0,
    };

    /// The payload bytes in `frame` (the frame this meta was decoded from).
    #[inline(always)]
    pub fn bytes<'a>(&self, frame: &'a [u8]) -> &'a [u8] {
        let at = usize::from(self.at);
        frame.get(at..at + usize::from(self.len)).unwrap_or(&[])
    }

    /// The first payload byte, `None` when there is no payload.
    #[inline(always)]
    pub fn first(&self, frame: &[u8]) -> Option<u8> {
        if self.len == 0 {
            return None;
        }
        frame.get(usize::from(self.at)).copied()
    }

    /// `bytes` found at `from` (an offset into the frame), clamped to what fits the fields.
    #[inline(always)]
    fn new(from: usize, len: usize, seq: u32) -> PayloadAt {
        match u16::try_from(from) {
            Ok(at) if len != 0 => PayloadAt {
                at,
                len: u16::try_from(len).unwrap_or(u16::MAX),
                seq,
            },
            _ => PayloadAt::NONE,
        }
    }
}

impl PacketMeta {
    /// Filler for unused [`Layers`] slots; never reported.
    const UNSET: PacketMeta = PacketMeta {
        src: IpAddr::V4(Ipv4Addr::UNSPECIFIED),
        dst: IpAddr::V4(Ipv4Addr::UNSPECIFIED),
        proto: 0,
        sport: 0,
        dport: 0,
        has_ports: false,
        tcp_flags: 0,
        icmp_type: 0,
        icmp_code: 0,
        vlan: 0,
        tunnel: Tunnel::None,
        fragment: None,
        ip_len: 0,
        outer: false,
        payload: PayloadAt::NONE,
    };
}

/// An IP layer other than the flow [`decode`] returns, matched against the IOC set all the same.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Layer {
    /// The layer as its record reports it. For an outer layer (`meta.outer`), `tunnel` is the
    /// tunnel it carried; for the layer decoding stopped in, the tunnel it arrived in.
    pub meta: PacketMeta,
    /// The tunnel the layer arrived in ([`Tunnel::None`] for the outermost): with `meta.vlan`,
    /// the context that keys its flow, like any packet's.
    pub arrived: Tunnel,
}

/// Room for every layer one frame can yield: each tunnel's outer layer, and the layer decoding
/// stopped in.
pub const LAYERS_MAX: usize = MAX_TUNNELS as usize + 1;

/// The extra IP layers of one frame, outermost first: each layer a tunnel was peeled from, then
/// (when decoding stopped early) the layer it stopped in — addresses always, ports when they
/// were read. Owned by the caller and reused, so decoding never allocates; a frame without
/// tunnels or errors only clears it.
#[derive(Clone, Debug)]
pub struct Layers {
    len: u8,
    layers: [Layer; LAYERS_MAX],
}

impl Default for Layers {
    fn default() -> Self {
        Layers {
            len: 0,
            layers: [Layer {
                meta: PacketMeta::UNSET,
                arrived: Tunnel::None,
            }; LAYERS_MAX],
        }
    }
}

impl Layers {
    pub fn as_slice(&self) -> &[Layer] {
        self.layers.get(..usize::from(self.len)).unwrap_or(&[])
    }

    /// How many layers the last frame left (at most [`LAYERS_MAX`]).
    #[inline(always)]
    pub fn len(&self) -> u8 {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    #[inline(always)]
    pub fn clear(&mut self) {
        self.len = 0;
    }

    /// Bounded by construction (one per tunnel entered, one stop); a push beyond is dropped.
    fn push(&mut self, layer: Layer) {
        if let Some(slot) = self.layers.get_mut(usize::from(self.len)) {
            *slot = layer;
            self.len += 1;
        }
    }
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
        DecodeError::ALL
            .iter()
            .position(|k| *k == self)
            .unwrap_or(0)
    }
}

/// Decode one captured frame (possibly cut short by a snap length): the innermost flow only.
pub fn decode(link: LinkType, frame: &[u8]) -> Result<PacketMeta, DecodeError> {
    run(link, frame, Encap::default())
}

/// Decode one captured frame, and put every other IP layer it holds into `layers` (cleared
/// first): the outer layer of each tunnel peeled and, on an error, the layer decoding stopped in.
#[inline]
pub fn decode_layers(
    link: LinkType,
    frame: &[u8],
    layers: &mut Layers,
) -> Result<PacketMeta, DecodeError> {
    layers.clear();
    run(
        link,
        frame,
        Encap {
            layers: Some(layers),
            ..Encap::default()
        },
    )
}

#[inline(always)]
fn run(link: LinkType, frame: &[u8], mut encap: Encap) -> Result<PacketMeta, DecodeError> {
    if frame.is_empty() {
        return Err(DecodeError::Empty);
    }
    encap.base = frame.as_ptr() as usize;
    if link == LinkType::ETHERNET {
        if let Some(meta) = fast::ethernet(frame, &encap) {
            return Ok(meta);
        }
    }
    link::decode(link, frame, &mut encap)
}

/// Tunnels peeled inside one another before giving up: real mirror paths nest two (ERSPAN
/// carrying a VXLAN underlay packet), rarely three; more is crafted input. The layers peeled
/// before the limit are still matched ([`Layers`]).
pub const MAX_TUNNELS: u8 = 4;

/// Encapsulation context collected on the way down to the inner IP header, and where the layers
/// passed on the way go (none for [`decode`]).
#[derive(Debug, Default)]
struct Encap<'a> {
    /// Innermost VLAN id of the Ethernet layer that carries the current packet.
    vlan: u16,
    /// Innermost tunnel peeled so far.
    tunnel: Tunnel,
    /// Tunnels (including MPLS pseudowires) peeled so far, bounded by [`MAX_TUNNELS`].
    depth: u8,
    layers: Option<&'a mut Layers>,
    /// Address of the frame's first byte: every layer works on a sub-slice of the frame, so a
    /// sub-slice's address minus this is its offset in the frame ([`PayloadAt`]).
    base: usize,
}

impl Encap<'_> {
    /// Note an IP layer besides the flow's own (a tunnel's outer layer, or where decoding
    /// stopped); `build` runs only when the caller asked for layers.
    #[inline]
    fn note_layer(&mut self, build: impl FnOnce() -> Layer) {
        if let Some(layers) = self.layers.as_deref_mut() {
            layers.push(build());
        }
    }

    /// Where `payload` (a sub-slice of the frame) lies in the frame. `None` when it is empty:
    /// an empty slice may be the static `&[]` of [`tail`], which lies nowhere in the frame.
    #[inline(always)]
    fn payload_at(&self, payload: &[u8], seq: u32) -> PayloadAt {
        if payload.is_empty() {
            return PayloadAt::NONE;
        }
        PayloadAt::new(
            (payload.as_ptr() as usize).wrapping_sub(self.base),
            payload.len(),
            seq,
        )
    }

    /// Step into a tunnel's payload. The outer VLAN belonged to the mirror transport, not to the
    /// inner packet, so it is forgotten here; the inner Ethernet header sets its own.
    fn enter(&mut self, tunnel: Tunnel) -> Result<(), DecodeError> {
        self.depth += 1;
        if self.depth > MAX_TUNNELS {
            return Err(DecodeError::TooManyLayers);
        }
        self.tunnel = tunnel;
        self.vlan = 0;
        Ok(())
    }
}

/// Big-endian u16 at `at`, `None` when those bytes were not captured.
#[inline(always)]
fn be16(bytes: &[u8], at: usize) -> Option<u16> {
    bytes
        .get(at..)?
        .first_chunk::<2>()
        .map(|b| u16::from_be_bytes(*b))
}

/// Big-endian u32 at `at`, `None` when those bytes were not captured.
#[inline(always)]
fn be32(bytes: &[u8], at: usize) -> Option<u32> {
    bytes
        .get(at..)?
        .first_chunk::<4>()
        .map(|b| u32::from_be_bytes(*b))
}

/// The bytes from `at` on; empty when the frame ends before `at` (a snap-length cut).
#[inline(always)]
fn tail(bytes: &[u8], at: usize) -> &[u8] {
    bytes.get(at..).unwrap_or(&[])
}

#[cfg(test)]
mod tests;
