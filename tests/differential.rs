//! Differential tests: c2tap's hand-written decoder and capture-file reader against the two
//! libraries they were measured against (etherparse, pcap-parser), on random inputs built here
//! byte by byte — so neither side's writer is the oracle for its own reader.
//!
//! The decoder is compared on the layers etherparse covers: Ethernet, stacked 802.1Q/802.1ad
//! tags, IPv4 (with options) and IPv6, TCP (with options) and UDP. Addresses, ports, protocol,
//! TCP flags, the innermost VLAN id, the IP length and the transport payload (with the TCP
//! sequence number) must agree on every valid frame; on a frame cut short, whatever
//! etherparse's lax parser still reads must agree too. The reader is
//! compared on random classic pcap (either byte order, µs or ns) and pcapng (sections of either
//! byte order, several interfaces of different link types and timestamp resolutions): the same
//! packets with the same timestamps, link types, data and wire lengths.
//!
//! Where c2tap differs on purpose, the case is named where it is skipped:
//! - c2tap reports the *innermost* VLAN id of the Ethernet layer carrying the IP packet;
//!   etherparse lists every tag, so the last one is compared.
//! - On a frame cut inside the transport header c2tap still reports the addresses, with
//!   ports 0 and `has_ports` false; etherparse's lax parser drops the transport: only the
//!   layers it returns are compared.

use std::io::Write;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use c2tap::capture::file::CaptureFile;
use c2tap::decode::{decode, LinkType};
use etherparse::{
    LaxLinkExtSlice, LaxNetSlice, LaxSlicedPacket, LinkExtSlice, NetSlice, SingleVlanSlice,
    SlicedPacket, TransportSlice,
};
use pcap_parser::{Block, PcapBlockOwned, PcapError};
use proptest::prelude::*;

/// Cases per property: enough to cover every branch of the generators, few enough to run in a
/// couple of seconds in a debug build on a loaded machine.
const CASES: u32 = 512;

// ---------------------------------------------------------------------------------------------
// Decoder against etherparse.

#[derive(Clone, Debug)]
struct Frame {
    macs: [u8; 12],
    /// (TPID, TCI) of each tag, outermost first.
    vlans: Vec<(u16, u16)>,
    ip: Ip,
    transport: Transport,
    payload: Vec<u8>,
    /// Ethernet padding after the IP packet (a minimum-size frame on the wire).
    padding: usize,
}

#[derive(Clone, Debug)]
enum Ip {
    V4 {
        src: [u8; 4],
        dst: [u8; 4],
        tos: u8,
        id: u16,
        dont_fragment: bool,
        ttl: u8,
        /// 32-bit words of options (NOPs and an end-of-options byte).
        option_words: u8,
    },
    V6 {
        src: [u8; 16],
        dst: [u8; 16],
        flow: u32,
        hop_limit: u8,
    },
}

#[derive(Clone, Debug)]
enum Transport {
    Tcp {
        sport: u16,
        dport: u16,
        seq: u32,
        ack: u32,
        flags: u8,
        window: u16,
        option_words: u8,
    },
    Udp {
        sport: u16,
        dport: u16,
    },
}

impl Frame {
    fn proto(&self) -> u8 {
        match self.transport {
            Transport::Tcp { .. } => 6,
            Transport::Udp { .. } => 17,
        }
    }

    fn bytes(&self) -> Vec<u8> {
        let mut transport = Vec::new();
        match &self.transport {
            Transport::Tcp {
                sport,
                dport,
                seq,
                ack,
                flags,
                window,
                option_words,
            } => {
                transport.extend_from_slice(&sport.to_be_bytes());
                transport.extend_from_slice(&dport.to_be_bytes());
                transport.extend_from_slice(&seq.to_be_bytes());
                transport.extend_from_slice(&ack.to_be_bytes());
                transport.push((5 + option_words) << 4);
                transport.push(*flags);
                transport.extend_from_slice(&window.to_be_bytes());
                transport.extend_from_slice(&[0, 0, 0, 0]);
                transport.extend(std::iter::repeat_n(1u8, usize::from(*option_words) * 4));
            }
            Transport::Udp { sport, dport } => {
                let len = u16::try_from(8 + self.payload.len()).unwrap();
                transport.extend_from_slice(&sport.to_be_bytes());
                transport.extend_from_slice(&dport.to_be_bytes());
                transport.extend_from_slice(&len.to_be_bytes());
                transport.extend_from_slice(&[0, 0]);
            }
        }
        transport.extend_from_slice(&self.payload);
        let mut out = self.macs.to_vec();
        for (tpid, tci) in &self.vlans {
            out.extend_from_slice(&tpid.to_be_bytes());
            out.extend_from_slice(&tci.to_be_bytes());
        }
        match &self.ip {
            Ip::V4 {
                src,
                dst,
                tos,
                id,
                dont_fragment,
                ttl,
                option_words,
            } => {
                let header_len = 20 + usize::from(*option_words) * 4;
                let total = u16::try_from(header_len + transport.len()).unwrap();
                out.extend_from_slice(&[0x08, 0x00, 0x40 | (5 + option_words), *tos]);
                out.extend_from_slice(&total.to_be_bytes());
                out.extend_from_slice(&id.to_be_bytes());
                out.extend_from_slice(&[if *dont_fragment { 0x40 } else { 0 }, 0]);
                out.extend_from_slice(&[*ttl, self.proto(), 0, 0]);
                out.extend_from_slice(src);
                out.extend_from_slice(dst);
                let mut options = vec![1u8; usize::from(*option_words) * 4];
                if let Some(last) = options.last_mut() {
                    *last = 0;
                }
                out.extend_from_slice(&options);
            }
            Ip::V6 {
                src,
                dst,
                flow,
                hop_limit,
            } => {
                let payload_len = u16::try_from(transport.len()).unwrap();
                out.extend_from_slice(&[0x86, 0xdd]);
                out.extend_from_slice(&(0x6000_0000 | (flow & 0x000f_ffff)).to_be_bytes());
                out.extend_from_slice(&payload_len.to_be_bytes());
                out.extend_from_slice(&[self.proto(), *hop_limit]);
                out.extend_from_slice(src);
                out.extend_from_slice(dst);
            }
        }
        out.extend_from_slice(&transport);
        out.extend(std::iter::repeat_n(0u8, self.padding));
        out
    }
}

fn frames() -> impl Strategy<Value = Frame> {
    let vlan = (prop_oneof![Just(0x8100u16), Just(0x88a8u16)], any::<u16>());
    let v4 = (
        any::<[u8; 4]>(),
        any::<[u8; 4]>(),
        any::<u8>(),
        any::<u16>(),
        any::<bool>(),
        any::<u8>(),
        0u8..=10,
    )
        .prop_map(
            |(src, dst, tos, id, dont_fragment, ttl, option_words)| Ip::V4 {
                src,
                dst,
                tos,
                id,
                dont_fragment,
                ttl,
                option_words,
            },
        );
    let v6 = (
        any::<[u8; 16]>(),
        any::<[u8; 16]>(),
        any::<u32>(),
        any::<u8>(),
    )
        .prop_map(|(src, dst, flow, hop_limit)| Ip::V6 {
            src,
            dst,
            flow,
            hop_limit,
        });
    let tcp = (
        any::<u16>(),
        any::<u16>(),
        any::<u32>(),
        any::<u32>(),
        any::<u8>(),
        any::<u16>(),
        0u8..=10,
    )
        .prop_map(
            |(sport, dport, seq, ack, flags, window, option_words)| Transport::Tcp {
                sport,
                dport,
                seq,
                ack,
                flags,
                window,
                option_words,
            },
        );
    let udp =
        (any::<u16>(), any::<u16>()).prop_map(|(sport, dport)| Transport::Udp { sport, dport });
    (
        any::<[u8; 12]>(),
        prop::collection::vec(vlan, 0..=2),
        prop_oneof![v4, v6],
        prop_oneof![tcp, udp],
        prop::collection::vec(any::<u8>(), 0..80),
        prop_oneof![Just(0usize), 0usize..24],
    )
        .prop_map(|(macs, vlans, ip, transport, payload, padding)| Frame {
            macs,
            vlans,
            ip,
            transport,
            payload,
            padding,
        })
}

/// What both decoders are asked for, in c2tap's terms.
#[derive(Debug, PartialEq, Eq)]
struct View {
    src: IpAddr,
    dst: IpAddr,
    proto: u8,
    ports: Option<(u16, u16)>,
    tcp_flags: u8,
    vlan: u16,
    ip_len: u32,
    /// The innermost transport payload and, for TCP, its sequence number (0 for UDP).
    payload: (Vec<u8>, u32),
}

fn c2tap_view(frame: &[u8]) -> Option<View> {
    let m = decode(LinkType::ETHERNET, frame).ok()?;
    Some(View {
        payload: (m.payload.bytes(frame).to_vec(), m.payload.seq),
        src: m.src,
        dst: m.dst,
        proto: m.proto,
        ports: m.has_ports.then_some((m.sport, m.dport)),
        tcp_flags: m.tcp_flags,
        vlan: m.vlan,
        ip_len: m.ip_len,
    })
}

fn tcp_flags(tcp: &etherparse::TcpSlice<'_>) -> u8 {
    [
        tcp.fin(),
        tcp.syn(),
        tcp.rst(),
        tcp.psh(),
        tcp.ack(),
        tcp.urg(),
        tcp.ece(),
        tcp.cwr(),
    ]
    .iter()
    .enumerate()
    .map(|(bit, set)| u8::from(*set) << bit)
    .sum()
}

/// The last (innermost) VLAN id of a tag stack, 0 when untagged.
fn innermost_vlan<'a>(tags: impl Iterator<Item = Option<&'a SingleVlanSlice<'a>>>) -> u16 {
    tags.flatten()
        .last()
        .map_or(0, |v| v.vlan_identifier().value())
}

fn ports_and_flags(transport: Option<&TransportSlice<'_>>) -> (Option<(u16, u16)>, u8) {
    match transport {
        Some(TransportSlice::Tcp(t)) => {
            (Some((t.source_port(), t.destination_port())), tcp_flags(t))
        }
        Some(TransportSlice::Udp(u)) => (Some((u.source_port(), u.destination_port())), 0),
        _ => (None, 0),
    }
}

/// The transport payload and TCP sequence number, as c2tap reports them: no payload, no
/// sequence number (c2tap leaves the payload's place empty when there are no bytes).
fn payload_and_seq(transport: Option<&TransportSlice<'_>>) -> (Vec<u8>, u32) {
    let (payload, seq) = match transport {
        Some(TransportSlice::Tcp(t)) => (t.payload(), t.sequence_number()),
        Some(TransportSlice::Udp(u)) => (u.payload(), 0),
        _ => (&[][..], 0),
    };
    if payload.is_empty() {
        return (Vec::new(), 0);
    }
    (payload.to_vec(), seq)
}

fn etherparse_view(frame: &[u8]) -> Option<View> {
    let p = SlicedPacket::from_ethernet(frame).ok()?;
    let (src, dst, proto, ip_len) = match p.net.as_ref()? {
        NetSlice::Ipv4(s) => {
            let h = s.header();
            (
                IpAddr::V4(h.source_addr()),
                IpAddr::V4(h.destination_addr()),
                s.payload().ip_number.0,
                u32::from(h.total_len()),
            )
        }
        NetSlice::Ipv6(s) => {
            let h = s.header();
            (
                IpAddr::V6(h.source_addr()),
                IpAddr::V6(h.destination_addr()),
                s.payload().ip_number.0,
                u32::from(h.payload_length()) + 40,
            )
        }
        _ => return None,
    };
    let (ports, tcp_flags) = ports_and_flags(p.transport.as_ref());
    Some(View {
        payload: payload_and_seq(p.transport.as_ref()),
        src,
        dst,
        proto,
        ports,
        tcp_flags,
        vlan: innermost_vlan(p.link_exts.iter().map(|e| match e {
            LinkExtSlice::Vlan(v) => Some(v),
            _ => None,
        })),
        ip_len,
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: CASES, failure_persistence: None, ..ProptestConfig::default() })]

    /// Every valid frame: both decoders read the same fields.
    #[test]
    fn the_decoder_agrees_with_etherparse_on_valid_frames(frame in frames()) {
        let bytes = frame.bytes();
        let theirs = etherparse_view(&bytes);
        prop_assert!(theirs.is_some(), "etherparse rejects a valid frame: {frame:?}");
        prop_assert_eq!(c2tap_view(&bytes), theirs);
        // The generator's own values, so a bug shared by both decoders fails too.
        let mine = c2tap_view(&bytes).unwrap();
        let (src, dst) = match &frame.ip {
            Ip::V4 { src, dst, .. } => (IpAddr::V4(Ipv4Addr::from(*src)), IpAddr::V4(Ipv4Addr::from(*dst))),
            Ip::V6 { src, dst, .. } => (IpAddr::V6(Ipv6Addr::from(*src)), IpAddr::V6(Ipv6Addr::from(*dst))),
        };
        prop_assert_eq!((mine.src, mine.dst, mine.proto), (src, dst, frame.proto()));
        let (ports, flags) = match frame.transport {
            Transport::Tcp { sport, dport, flags, .. } => ((sport, dport), flags),
            Transport::Udp { sport, dport } => ((sport, dport), 0),
        };
        prop_assert_eq!((mine.ports, mine.tcp_flags), (Some(ports), flags));
        prop_assert_eq!(mine.vlan, frame.vlans.last().map_or(0, |(_, tci)| tci & 0x0fff));
        let seq = match frame.transport {
            Transport::Tcp { seq, .. } if !frame.payload.is_empty() => seq,
            _ => 0,
        };
        prop_assert_eq!(mine.payload, (frame.payload.clone(), seq));
    }

    /// A frame cut anywhere (a snap length): what etherparse's lax parser still reads, c2tap
    /// reads the same way; c2tap never panics.
    #[test]
    fn the_decoder_agrees_with_lax_etherparse_on_cut_frames(frame in frames(), cut in any::<prop::sample::Index>()) {
        let bytes = frame.bytes();
        let cut = &bytes[..cut.index(bytes.len() + 1)];
        let mine = c2tap_view(cut);
        let Ok(p) = LaxSlicedPacket::from_ethernet(cut) else {
            return Ok(());
        };
        let addresses = match &p.net {
            Some(LaxNetSlice::Ipv4(s)) => {
                let h = s.header();
                Some((IpAddr::V4(h.source_addr()), IpAddr::V4(h.destination_addr())))
            }
            Some(LaxNetSlice::Ipv6(s)) => {
                let h = s.header();
                Some((IpAddr::V6(h.source_addr()), IpAddr::V6(h.destination_addr())))
            }
            _ => None,
        };
        let Some(addresses) = addresses else {
            return Ok(());
        };
        // An IP header etherparse read whole: c2tap reads the same addresses.
        let mine = mine.ok_or_else(|| TestCaseError::fail(format!("c2tap rejects {cut:02x?}")))?;
        prop_assert_eq!((mine.src, mine.dst), addresses);
        let tags = p.link_exts.iter().map(|e| match e {
            LaxLinkExtSlice::Vlan(v) => Some(v),
            _ => None,
        });
        prop_assert_eq!(mine.vlan, innermost_vlan(tags));
        let (ports, flags) = ports_and_flags(p.transport.as_ref());
        if ports.is_some() {
            prop_assert_eq!((mine.ports, mine.tcp_flags), (ports, flags));
            // What was captured of the payload, within the IP and UDP lengths.
            prop_assert_eq!(mine.payload, payload_and_seq(p.transport.as_ref()));
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Capture-file reader against pcap-parser.

/// One packet as both readers report it.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Read {
    ts: u64,
    link: u32,
    data: Vec<u8>,
    wire_len: u32,
}

#[derive(Clone, Debug)]
struct PcapCase {
    big_endian: bool,
    nanos: bool,
    link: u32,
    /// (seconds, fraction, data, extra wire bytes beyond the data)
    packets: Vec<(u32, u32, Vec<u8>, u16)>,
}

fn put32(out: &mut Vec<u8>, v: u32, big_endian: bool) {
    out.extend_from_slice(&if big_endian {
        v.to_be_bytes()
    } else {
        v.to_le_bytes()
    });
}

fn put16(out: &mut Vec<u8>, v: u16, big_endian: bool) {
    out.extend_from_slice(&if big_endian {
        v.to_be_bytes()
    } else {
        v.to_le_bytes()
    });
}

impl PcapCase {
    fn bytes(&self) -> Vec<u8> {
        let be = self.big_endian;
        let mut out = Vec::new();
        put32(
            &mut out,
            if self.nanos { 0xa1b2_3c4d } else { 0xa1b2_c3d4 },
            be,
        );
        put16(&mut out, 2, be);
        put16(&mut out, 4, be);
        put32(&mut out, 0, be);
        put32(&mut out, 0, be);
        put32(&mut out, 262_144, be);
        put32(&mut out, self.link, be);
        for (secs, frac, data, extra) in &self.packets {
            put32(&mut out, *secs, be);
            put32(&mut out, *frac, be);
            put32(&mut out, u32::try_from(data.len()).unwrap(), be);
            put32(
                &mut out,
                u32::try_from(data.len()).unwrap() + u32::from(*extra),
                be,
            );
            out.extend_from_slice(data);
        }
        out
    }
}

fn pcap_cases() -> impl Strategy<Value = PcapCase> {
    (
        any::<bool>(),
        any::<bool>(),
        prop_oneof![Just(1u32), Just(101), Just(113), Just(276)],
    )
        .prop_flat_map(|(big_endian, nanos, link)| {
            let frac_max: u32 = if nanos { 999_999_999 } else { 999_999 };
            let packet = (
                any::<u32>(),
                0..=frac_max,
                prop::collection::vec(any::<u8>(), 0..200),
                prop_oneof![Just(0u16), any::<u16>()],
            );
            prop::collection::vec(packet, 0..12).prop_map(move |packets| PcapCase {
                big_endian,
                nanos,
                link,
                packets,
            })
        })
}

#[derive(Clone, Debug)]
struct NgSection {
    big_endian: bool,
    /// (link type, if_tsresol option as 10^-n, when present)
    interfaces: Vec<(u16, Option<u8>)>,
    /// (interface index into `interfaces`, timestamp in the interface's units, data, extra)
    packets: Vec<(usize, u64, Vec<u8>, u16)>,
}

fn block(out: &mut Vec<u8>, block_type: u32, body: &[u8], be: bool) {
    let padded = body.len().next_multiple_of(4);
    let len = u32::try_from(12 + padded).unwrap();
    put32(out, block_type, be);
    put32(out, len, be);
    out.extend_from_slice(body);
    out.extend(std::iter::repeat_n(0u8, padded - body.len()));
    put32(out, len, be);
}

fn pcapng_bytes(sections: &[NgSection]) -> Vec<u8> {
    let mut out = Vec::new();
    for s in sections {
        let be = s.big_endian;
        let mut shb = Vec::new();
        put32(&mut shb, 0x1a2b_3c4d, be);
        put16(&mut shb, 1, be);
        put16(&mut shb, 0, be);
        shb.extend_from_slice(&[0xff; 8]);
        block(&mut out, 0x0a0d_0d0a, &shb, be);
        for (link, resol) in &s.interfaces {
            let mut idb = Vec::new();
            put16(&mut idb, *link, be);
            put16(&mut idb, 0, be);
            put32(&mut idb, 262_144, be);
            if let Some(n) = resol {
                put16(&mut idb, 9, be);
                put16(&mut idb, 1, be);
                idb.extend_from_slice(&[*n, 0, 0, 0]);
                put32(&mut idb, 0, be);
            }
            block(&mut out, 1, &idb, be);
        }
        for (iface, ts, data, extra) in &s.packets {
            let mut epb = Vec::new();
            put32(&mut epb, u32::try_from(*iface).unwrap(), be);
            put32(&mut epb, (ts >> 32) as u32, be);
            put32(&mut epb, *ts as u32, be);
            put32(&mut epb, u32::try_from(data.len()).unwrap(), be);
            put32(
                &mut epb,
                u32::try_from(data.len()).unwrap() + u32::from(*extra),
                be,
            );
            epb.extend_from_slice(data);
            epb.extend(std::iter::repeat_n(
                0u8,
                data.len().next_multiple_of(4) - data.len(),
            ));
            block(&mut out, 6, &epb, be);
        }
    }
    out
}

fn pcapng_sections() -> impl Strategy<Value = Vec<NgSection>> {
    let iface = (
        prop_oneof![Just(1u16), Just(101), Just(113), Just(276)],
        prop_oneof![Just(None), Just(Some(3u8)), Just(Some(6)), Just(Some(9))],
    );
    let section = (any::<bool>(), prop::collection::vec(iface, 1..=3)).prop_flat_map(
        |(big_endian, interfaces)| {
            let n = interfaces.len();
            // Timestamps up to ~2^62 units: in nanoseconds that is year 2116, within u64.
            let packet = (
                0..n,
                0u64..(1 << 60),
                prop::collection::vec(any::<u8>(), 0..200),
                prop_oneof![Just(0u16), any::<u16>()],
            );
            prop::collection::vec(packet, 0..8).prop_map(move |packets| NgSection {
                big_endian,
                interfaces: interfaces.clone(),
                packets,
            })
        },
    );
    prop::collection::vec(section, 1..=3)
}

fn c2tap_reads(bytes: &[u8]) -> Vec<Read> {
    let mut file = tempfile::NamedTempFile::new().unwrap();
    file.write_all(bytes).unwrap();
    let mut capture = CaptureFile::open(file.path()).unwrap();
    let mut out = Vec::new();
    while let Some(p) = capture.next_packet().unwrap() {
        out.push(Read {
            ts: p.ts,
            link: p.link.0,
            data: p.data.to_vec(),
            wire_len: p.wire_len,
        });
    }
    out
}

fn pcap_parser_reads(bytes: &[u8]) -> Vec<Read> {
    let mut reader = pcap_parser::create_reader(1 << 16, bytes).unwrap();
    let mut out = Vec::new();
    let mut legacy = (0u32, 1_000u64);
    // Per interface of the current section: link type and nanoseconds per unit (or units per
    // nanosecond, for resolutions finer than 1 ns — not generated here).
    let mut interfaces: Vec<(u32, u64)> = Vec::new();
    loop {
        match reader.next() {
            Ok((offset, block)) => {
                match block {
                    PcapBlockOwned::LegacyHeader(h) => {
                        let unit = if h.is_nanosecond_precision() {
                            1
                        } else {
                            1_000
                        };
                        legacy = (u32::try_from(h.network.0).unwrap(), unit);
                    }
                    PcapBlockOwned::Legacy(b) => out.push(Read {
                        ts: u64::from(b.ts_sec) * 1_000_000_000 + u64::from(b.ts_usec) * legacy.1,
                        link: legacy.0,
                        data: b.data.to_vec(),
                        wire_len: b.origlen,
                    }),
                    PcapBlockOwned::NG(Block::SectionHeader(_)) => interfaces.clear(),
                    PcapBlockOwned::NG(Block::InterfaceDescription(idb)) => {
                        let per_sec = idb.ts_resolution().unwrap();
                        interfaces.push((
                            u32::try_from(idb.linktype.0).unwrap(),
                            1_000_000_000 / per_sec,
                        ));
                    }
                    PcapBlockOwned::NG(Block::EnhancedPacket(b)) => {
                        let (link, ns_per_unit) = interfaces[b.if_id as usize];
                        let units = (u64::from(b.ts_high) << 32) | u64::from(b.ts_low);
                        out.push(Read {
                            ts: units.saturating_mul(ns_per_unit),
                            link,
                            data: b.data[..b.caplen as usize].to_vec(),
                            wire_len: b.origlen,
                        });
                    }
                    _ => panic!("a block the generator does not write"),
                }
                reader.consume(offset);
            }
            Err(PcapError::Eof) => break,
            Err(PcapError::Incomplete(_)) => reader.refill().unwrap(),
            Err(e) => panic!("pcap-parser: {e:?}"),
        }
    }
    out
}

proptest! {
    #![proptest_config(ProptestConfig { cases: CASES / 4, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn the_reader_agrees_with_pcap_parser_on_pcap(case in pcap_cases()) {
        let bytes = case.bytes();
        let theirs = pcap_parser_reads(&bytes);
        prop_assert_eq!(theirs.len(), case.packets.len());
        prop_assert_eq!(c2tap_reads(&bytes), theirs);
    }

    #[test]
    fn the_reader_agrees_with_pcap_parser_on_pcapng(sections in pcapng_sections()) {
        let bytes = pcapng_bytes(&sections);
        let theirs = pcap_parser_reads(&bytes);
        prop_assert_eq!(theirs.len(), sections.iter().map(|s| s.packets.len()).sum::<usize>());
        prop_assert_eq!(c2tap_reads(&bytes), theirs);
    }
}
