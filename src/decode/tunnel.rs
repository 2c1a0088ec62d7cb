//! Tunnels in decode: the encapsulations mirrored traffic arrives in (GRE, ERSPAN II/III over
//! GRE, VXLAN, Geneve). Each peels its header, records the tunnel in [`Encap`] and hands back
//! the [`Inner`] packet, which the IP layer decodes in its place, so the flow that reaches the
//! flow table is the mirrored one, tagged with the tunnel that carried it. Handing the bytes
//! back (rather than decoding them here) keeps every layer's `PacketMeta` a tail return.
//!
//! `Ok(None)` means "not a tunnel c2tap peels" (PPTP's enhanced GRE, an unknown GRE payload, a
//! UDP packet on port 4789 without the VXLAN I flag): the outer packet then stands as its own
//! flow, which keeps an IOC on the outer addresses visible. A header cut short is `BadTunnel`.

use super::{be16, be32, ether, fast, ip, tail, DecodeError, Encap, PacketMeta, Tunnel};

const GRE_CHECKSUM: u16 = 0x8000;
const GRE_ROUTING: u16 = 0x4000;
const GRE_KEY: u16 = 0x2000;
const GRE_SEQUENCE: u16 = 0x1000;
const GRE_VERSION: u16 = 0x0007;
const TRANSPARENT_ETHERNET: u16 = 0x6558;
const ERSPAN_II: u16 = 0x88be;
const ERSPAN_III: u16 = 0x22eb;

const ERSPAN_II_HEADER: usize = 8;
const ERSPAN_III_HEADER: usize = 12;
const ERSPAN_III_PLATFORM_SUBHEADER: usize = 8;
/// ERSPAN II `En`: the mirrored frame's 802.1Q (or ISL) tag was stripped into the VLAN field.
const ERSPAN_EN_ISL: u32 = 1;
const ERSPAN_EN_DOT1Q: u32 = 2;
const ERSPAN_FRAME_ETHERNET: u32 = 0;
const ERSPAN_FRAME_IP: u32 = 2;

const VXLAN_HEADER: usize = 8;
const VXLAN_VNI_VALID: u8 = 0x08;
const GENEVE_HEADER: usize = 8;

/// The packet a tunnel carried, and what it starts with.
#[derive(Clone, Copy, Debug)]
pub(super) enum Inner<'a> {
    Ethernet(&'a [u8]),
    Ip(&'a [u8]),
    Mpls(&'a [u8]),
}

impl Inner<'_> {
    pub(super) fn decode(self, encap: &mut Encap) -> Result<PacketMeta, DecodeError> {
        match self {
            Inner::Ethernet(frame) => match fast::ethernet(frame, encap) {
                Some(meta) => Ok(meta),
                None => ether::frame(frame, encap),
            },
            Inner::Ip(packet) => ip::by_version(packet, encap),
            Inner::Mpls(stack) => ether::mpls(stack, encap),
        }
    }
}

type Peeled<'a> = Result<Option<Inner<'a>>, DecodeError>;

pub(super) fn gre<'a>(bytes: &'a [u8], encap: &mut Encap) -> Peeled<'a> {
    let flags = be16(bytes, 0).ok_or(DecodeError::BadTunnel)?;
    let protocol = be16(bytes, 2).ok_or(DecodeError::BadTunnel)?;
    if flags & (GRE_ROUTING | GRE_VERSION) != 0 {
        return Ok(None);
    }
    let mut at = 4;
    if flags & GRE_CHECKSUM != 0 {
        at += 4;
    }
    let mut key = None;
    if flags & GRE_KEY != 0 {
        key = Some(be32(bytes, at).ok_or(DecodeError::BadTunnel)?);
        at += 4;
    }
    if flags & GRE_SEQUENCE != 0 {
        at += 4;
    }
    let payload = bytes.get(at..).ok_or(DecodeError::BadTunnel)?;
    let gre = Tunnel::Gre { key };
    match protocol {
        ether::IPV4 | ether::IPV6 => inner_ip(gre, payload, encap),
        TRANSPARENT_ETHERNET => inner_ethernet(gre, payload, encap),
        ether::MPLS_UNICAST => {
            encap.enter(gre)?;
            Ok(Some(Inner::Mpls(payload)))
        }
        ERSPAN_II => erspan_ii(payload, encap),
        ERSPAN_III => erspan_iii(payload, encap),
        _ => Ok(None),
    }
}

/// ERSPAN type II: version 1, session id, and the original VLAN when the switch stripped it.
fn erspan_ii<'a>(bytes: &'a [u8], encap: &mut Encap) -> Peeled<'a> {
    let word = be32(bytes, 0).ok_or(DecodeError::BadTunnel)?;
    let frame = bytes
        .get(ERSPAN_II_HEADER..)
        .ok_or(DecodeError::BadTunnel)?;
    if word >> 28 != 1 {
        return Err(DecodeError::BadTunnel);
    }
    encap.enter(Tunnel::ErspanII {
        session: session_id(word),
    })?;
    if matches!((word >> 11) & 0b11, ERSPAN_EN_ISL | ERSPAN_EN_DOT1Q) {
        encap.vlan = original_vlan(word);
    }
    Ok(Some(Inner::Ethernet(frame)))
}

/// ERSPAN type III: version 2, a 12-byte header, an optional platform-specific subheader, and a
/// frame type saying whether Ethernet or bare IP follows.
fn erspan_iii<'a>(bytes: &'a [u8], encap: &mut Encap) -> Peeled<'a> {
    let word = be32(bytes, 0).ok_or(DecodeError::BadTunnel)?;
    let last = be32(bytes, 8).ok_or(DecodeError::BadTunnel)?;
    if word >> 28 != 2 {
        return Err(DecodeError::BadTunnel);
    }
    let subheader = if last & 1 != 0 {
        ERSPAN_III_PLATFORM_SUBHEADER
    } else {
        0
    };
    let frame = bytes
        .get(ERSPAN_III_HEADER + subheader..)
        .ok_or(DecodeError::BadTunnel)?;
    let tunnel = Tunnel::ErspanIII {
        session: session_id(word),
    };
    match (last >> 10) & 0x1f {
        ERSPAN_FRAME_ETHERNET => inner_ethernet(tunnel, frame, encap),
        ERSPAN_FRAME_IP => inner_ip(tunnel, frame, encap),
        _ => Err(DecodeError::BadTunnel),
    }
}

fn session_id(word: u32) -> u16 {
    (word & 0x3ff) as u16
}

fn original_vlan(word: u32) -> u16 {
    ((word >> 16) & 0x0fff) as u16
}

pub(super) fn vxlan<'a>(bytes: &'a [u8], encap: &mut Encap) -> Peeled<'a> {
    let flags = *bytes.first().ok_or(DecodeError::BadTunnel)?;
    let vni = be32(bytes, 4).ok_or(DecodeError::BadTunnel)? >> 8;
    if flags & VXLAN_VNI_VALID == 0 {
        return Ok(None);
    }
    inner_ethernet(Tunnel::Vxlan { vni }, tail(bytes, VXLAN_HEADER), encap)
}

pub(super) fn geneve<'a>(bytes: &'a [u8], encap: &mut Encap) -> Peeled<'a> {
    let word = be32(bytes, 0).ok_or(DecodeError::BadTunnel)?;
    let vni = be32(bytes, 4).ok_or(DecodeError::BadTunnel)? >> 8;
    if word >> 30 != 0 {
        return Ok(None);
    }
    let options = ((word >> 24) & 0x3f) as usize * 4;
    let payload = bytes
        .get(GENEVE_HEADER + options..)
        .ok_or(DecodeError::BadTunnel)?;
    let tunnel = Tunnel::Geneve { vni };
    match (word & 0xffff) as u16 {
        TRANSPARENT_ETHERNET => inner_ethernet(tunnel, payload, encap),
        ether::IPV4 | ether::IPV6 => inner_ip(tunnel, payload, encap),
        _ => Ok(None),
    }
}

fn inner_ethernet<'a>(tunnel: Tunnel, frame: &'a [u8], encap: &mut Encap) -> Peeled<'a> {
    encap.enter(tunnel)?;
    Ok(Some(Inner::Ethernet(frame)))
}

fn inner_ip<'a>(tunnel: Tunnel, packet: &'a [u8], encap: &mut Encap) -> Peeled<'a> {
    encap.enter(tunnel)?;
    Ok(Some(Inner::Ip(packet)))
}

#[cfg(test)]
#[path = "tunnel_tests.rs"]
mod tests;
