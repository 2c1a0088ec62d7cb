//! Benchmark traffic: large captures streamed straight to disk in the shapes the benchmark
//! suite measures (IMIX, all-64-byte, SYN flood), with an exact number of flows to the built-in
//! C2 endpoints so a run can check that it saw exactly that many alerts.

use std::io::{self, Write};
use std::net::{IpAddr, Ipv4Addr};

use crate::traffic::{link, Encap, T0_NS};
use crate::wire::{self, tcp_flags as F, TcpHeader};
use crate::writer::{PcapFormat, PcapWriter};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Shape {
    /// 64/576/1500-byte frames in 7:4:1.
    Imix,
    /// Every frame 64 bytes.
    Small,
    /// Every packet a SYN from a new client port: one flow per packet.
    SynFlood,
    /// DNS-heavy: every flow a UDP lookup and its answer, repeated ([`crate::bench_names`]).
    Dns,
    /// TLS-heavy: every flow a TCP connection opening with a ClientHello and its SNI.
    Tls,
}

impl Shape {
    pub fn parse(s: &str) -> Option<Shape> {
        match s {
            "imix" => Some(Shape::Imix),
            "small" => Some(Shape::Small),
            "synflood" => Some(Shape::SynFlood),
            "dns" => Some(Shape::Dns),
            "tls" => Some(Shape::Tls),
            _ => None,
        }
    }
}

#[derive(Clone, Copy, Debug)]
pub struct BenchSpec {
    pub shape: Shape,
    pub packets: u64,
    /// Flows the packets are spread over (round robin); ignored by the SYN flood.
    pub flows: u64,
    /// How many of the flows go to the built-in C2 endpoints.
    pub ioc_flows: u64,
}

/// What a benchmark file holds, for the run that replays it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BenchSummary {
    pub packets: u64,
    pub flows: u64,
    pub ioc_flows: u64,
    pub bytes: u64,
}

/// Frame sizes of one IMIX cycle (7 × 64, 4 × 576, 1 × 1500), interleaved.
const IMIX: [usize; 12] = [64, 576, 64, 64, 1500, 64, 576, 64, 64, 576, 64, 576];
/// Ethernet + IPv4 + TCP without options.
const HEADERS: usize = 54;
const C2_ENDPOINTS: [([u8; 4], u16); 2] = [([138, 9, 223, 13], 8015), ([138, 9, 41, 254], 8015)];

pub fn write_bench<W: Write>(out: W, spec: &BenchSpec) -> io::Result<BenchSummary> {
    if matches!(spec.shape, Shape::Dns | Shape::Tls) {
        return crate::bench_names::write_names_bench(out, spec);
    }
    let flows = if spec.shape == Shape::SynFlood {
        spec.packets
    } else {
        spec.flows.min(spec.packets)
    };
    write_flows(out, spec, flows, |i, flow, nth, ioc| {
        let (client, sport) = client_of(flow);
        let (server, dport) = match ioc {
            Some(k) => C2_ENDPOINTS[(k % 2) as usize],
            None => benign_server(flow),
        };
        let size = match spec.shape {
            Shape::Imix => IMIX[(i % 12) as usize],
            Shape::Small | Shape::SynFlood | Shape::Dns | Shape::Tls => 64,
        };
        if nth == 0 {
            return packet(client, server, sport, dport, F::SYN, 0x1000, 0, 64);
        }
        let step = nth as u32 * 1460;
        let (src, dst, sp, dp, seq, ack) = if nth % 2 == 1 {
            (server, client, dport, sport, 0x9000 + step, 0x1001)
        } else {
            (client, server, sport, dport, 0x1001 + step, 0x9000)
        };
        packet(src, dst, sp, dp, F::ACK | F::PSH, seq, ack, size)
    })
}

/// The loop every benchmark shape shares: `spec.packets` frames round-robin over `flows`
/// flows, `spec.ioc_flows` of them spread evenly and marked IOC flows. `frame(i, flow, nth,
/// ioc)` makes packet `i`, the `nth` of `flow`; `ioc` is the IOC flow's index among them.
pub(crate) fn write_flows<W: Write>(
    out: W,
    spec: &BenchSpec,
    flows: u64,
    mut frame: impl FnMut(u64, u64, u64, Option<u64>) -> Vec<u8>,
) -> io::Result<BenchSummary> {
    if flows == 0 || spec.ioc_flows > flows {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "need 1 <= flows and ioc-flows <= flows (and <= packets)",
        ));
    }
    if flows > 1 << 24 {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "at most 16,777,216 flows (one client address each in 10/8)",
        ));
    }
    let stride = flows.checked_div(spec.ioc_flows).unwrap_or(u64::MAX);
    let mut w = PcapWriter::new(out, PcapFormat::new(link::ETHERNET))?;
    let mut bytes = 0;
    for i in 0..spec.packets {
        let flow = i % flows;
        let nth = i / flows;
        let ioc = (flow % stride == 0 && flow / stride < spec.ioc_flows).then_some(flow / stride);
        let f = frame(i, flow, nth, ioc);
        bytes += f.len() as u64;
        w.write(T0_NS + i * 1_000, &f, None)?;
    }
    w.into_inner().flush()?;
    Ok(BenchSummary {
        packets: spec.packets,
        flows,
        ioc_flows: spec.ioc_flows,
        bytes,
    })
}

/// A spoofed-SYN flood: every packet a SYN from one source (`from`) to a new internal
/// host:port, one flow each; with `genuine`, a real C2 session (10.200.0.1:40001 →
/// 138.9.223.13:8015: handshake, data both ways, FIN close) is woven into its middle, one
/// session packet every [`GENUINE_SPACING`] flood packets. `from` = [`C2_SOURCE`] is the
/// matched flood (issue 13: each flow matches the IOC); a benign source gives the same load
/// without matches, the baseline it is compared with.
#[derive(Clone, Copy, Debug)]
pub struct FloodSpec {
    pub packets: u64,
    pub from: ([u8; 4], u16),
    pub genuine: bool,
}

/// The built-in Remcos C2 endpoint, as a flood source.
pub const C2_SOURCE: ([u8; 4], u16) = ([138, 9, 223, 13], 8015);
/// A documentation address on the same port: the non-matching flood.
pub const BENIGN_SOURCE: ([u8; 4], u16) = ([192, 0, 2, 13], 8015);
/// The genuine session's client.
pub const GENUINE_CLIENT: ([u8; 4], u16) = ([10, 200, 0, 1], 40001);
/// Flood packets between two packets of the genuine session.
pub const GENUINE_SPACING: u64 = 100;

/// Writes the flood; returns its summary (`flows` = flood flows, plus one for the session).
pub fn write_flood<W: Write>(out: W, spec: &FloodSpec) -> io::Result<BenchSummary> {
    if spec.packets > 1 << 24 {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "at most 16,777,216 flood packets (one target address each in 10/8)",
        ));
    }
    let (c2, c2_port) = C2_SOURCE;
    let (client, cport) = GENUINE_CLIENT;
    let session: [(bool, u8, u32, u32, usize); 8] = [
        (true, F::SYN, 0x5000, 0, 64),
        (false, F::SYN | F::ACK, 0x7000, 0x5001, 64),
        (true, F::ACK, 0x5001, 0x7001, 64),
        (true, F::ACK | F::PSH, 0x5001, 0x7001, 118),
        (false, F::ACK | F::PSH, 0x7001, 0x5041, 70),
        (true, F::FIN | F::ACK, 0x5041, 0x7011, 64),
        (false, F::FIN | F::ACK, 0x7011, 0x5042, 64),
        (true, F::ACK, 0x5042, 0x7012, 64),
    ];
    let session_at = spec.packets / 2;
    let mut w = PcapWriter::new(out, PcapFormat::new(link::ETHERNET))?;
    let (mut bytes, mut written, mut next) = (0, 0u64, 0usize);
    let mut write = |w: &mut PcapWriter<W>, frame: Vec<u8>| -> io::Result<()> {
        bytes += frame.len() as u64;
        w.write(T0_NS + written * 1_000, &frame, None)?;
        written += 1;
        Ok(())
    };
    for i in 0..spec.packets {
        if spec.genuine && i >= session_at && (i - session_at) % GENUINE_SPACING == 0 {
            if let Some(&(to_server, flags, seq, ack, size)) = session.get(next) {
                let frame = if to_server {
                    packet(client, c2, cport, c2_port, flags, seq, ack, size)
                } else {
                    packet(c2, client, c2_port, cport, flags, seq, ack, size)
                };
                write(&mut w, frame)?;
                next += 1;
            }
        }
        let target = (0x0a00_0000u32 + i as u32).to_be_bytes();
        let dport = 1024 + (i % 60_000) as u16;
        let frame = packet(
            spec.from.0,
            target,
            spec.from.1,
            dport,
            F::SYN,
            0x1000,
            0,
            64,
        );
        write(&mut w, frame)?;
    }
    w.into_inner().flush()?;
    Ok(BenchSummary {
        packets: written,
        flows: spec.packets + u64::from(spec.genuine),
        ioc_flows: if spec.from == C2_SOURCE {
            spec.packets + u64::from(spec.genuine)
        } else {
            u64::from(spec.genuine)
        },
        bytes,
    })
}

/// Client address and port of flow `n`: one address per flow in 10.1.0.0 upwards.
fn client_of(n: u64) -> ([u8; 4], u16) {
    let a = 0x0a01_0000u32.wrapping_add(n as u32);
    (a.to_be_bytes(), 10_000 + (n % 50_000) as u16)
}

fn benign_server(n: u64) -> ([u8; 4], u16) {
    let host = 1 + (n % 254) as u8;
    let net = [[192, 0, 2], [198, 51, 100], [203, 0, 113]][(n % 3) as usize];
    (
        [net[0], net[1], net[2], host],
        if n % 2 == 0 { 443 } else { 80 },
    )
}

/// Ethernet/IPv4/TCP frame of exactly `size` bytes (a SYN is always 64).
#[allow(clippy::too_many_arguments)]
fn packet(
    src: [u8; 4],
    dst: [u8; 4],
    sport: u16,
    dport: u16,
    flags: u8,
    seq: u32,
    ack: u32,
    size: usize,
) -> Vec<u8> {
    let syn = flags & F::SYN != 0;
    // A SYN carries no payload and no options: 54 bytes plus a 10-byte Ethernet trailer.
    let size = if syn { 64 } else { size };
    let (s, d) = (
        IpAddr::V4(Ipv4Addr::from(src)),
        IpAddr::V4(Ipv4Addr::from(dst)),
    );
    let h = TcpHeader {
        sport,
        dport,
        seq,
        ack: if flags & F::ACK != 0 { ack } else { 0 },
        flags,
        window: 64240,
    };
    const ZEROS: [u8; 1500] = [0; 1500];
    let payload_len = if syn { 0 } else { size.saturating_sub(HEADERS) };
    let payload = ZEROS.get(..payload_len).unwrap_or(&ZEROS);
    let seg = wire::tcp_with_options(s, d, h, &[], payload);
    let ip = wire::ip(s, d, wire::PROTO_TCP, seq as u16, &seg);
    let mut frame = Encap::Ethernet.frame(&ip, 0);
    frame.resize(size.max(frame.len()), 0);
    frame
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_have_the_requested_sizes() {
        for size in [64, 576, 1500] {
            assert_eq!(
                packet([10, 1, 0, 1], [192, 0, 2, 1], 1, 2, F::ACK, 0, 0, size).len(),
                size
            );
        }
        let syn = packet([10, 1, 0, 1], [192, 0, 2, 1], 1, 2, F::SYN, 0, 0, 1500);
        assert_eq!(syn.len(), 64);
        assert_eq!(
            u16::from_be_bytes([syn[16], syn[17]]),
            40,
            "IP total length excludes the trailer"
        );
    }

    #[test]
    fn ioc_flows_are_exact_and_spread() {
        let spec = BenchSpec {
            shape: Shape::Imix,
            packets: 1200,
            flows: 100,
            ioc_flows: 7,
        };
        let mut out = Vec::new();
        let summary = write_bench(&mut out, &spec).unwrap();
        assert_eq!(
            summary,
            BenchSummary {
                packets: 1200,
                flows: 100,
                ioc_flows: 7,
                bytes: summary.bytes
            }
        );
        // Count distinct client addresses that send a SYN to a C2 endpoint.
        let mut c2_syns = 0;
        let mut at = 24;
        let mut sizes = [0u32; 3];
        while at < out.len() {
            let caplen = u32::from_le_bytes(out[at + 8..at + 12].try_into().unwrap()) as usize;
            let f = &out[at + 16..at + 16 + caplen];
            match f.len() {
                64 => sizes[0] += 1,
                576 => sizes[1] += 1,
                1500 => sizes[2] += 1,
                n => panic!("unexpected size {n}"),
            }
            if f[47] == F::SYN && (f[30..34] == [138, 9, 223, 13] || f[30..34] == [138, 9, 41, 254])
            {
                c2_syns += 1;
            }
            at += 16 + caplen;
        }
        assert_eq!(c2_syns, 7);
        assert_eq!(sizes.iter().sum::<u32>(), 1200);
        assert!(
            sizes[0] > 7 * 100 && sizes[1] < 4 * 100 && sizes[2] < 100,
            "SYNs are 64 bytes: {sizes:?}"
        );
    }

    #[test]
    fn syn_flood_is_one_flow_per_packet() {
        let spec = BenchSpec {
            shape: Shape::SynFlood,
            packets: 50,
            flows: 3,
            ioc_flows: 2,
        };
        let summary = write_bench(io::sink(), &spec).unwrap();
        assert_eq!((summary.flows, summary.bytes), (50, 50 * 64));
    }

    #[test]
    fn a_flood_holds_the_whole_genuine_session_in_its_middle() {
        let spec = FloodSpec {
            packets: 2_000,
            from: C2_SOURCE,
            genuine: true,
        };
        let mut out = Vec::new();
        let s = write_flood(&mut out, &spec).unwrap();
        assert_eq!((s.packets, s.flows, s.ioc_flows), (2_008, 2_001, 2_001));
        let mut at = 24;
        let mut session = Vec::new();
        let mut n = 0;
        while at < out.len() {
            let caplen = u32::from_le_bytes(out[at + 8..at + 12].try_into().unwrap()) as usize;
            let f = &out[at + 16..at + 16 + caplen];
            if f[26..30] == [10, 200, 0, 1] || f[30..34] == [10, 200, 0, 1] {
                session.push((n, f[47]));
            }
            n += 1;
            at += 16 + caplen;
        }
        let flags: Vec<u8> = session.iter().map(|s| s.1).collect();
        assert_eq!(flags[..3], [F::SYN, F::SYN | F::ACK, F::ACK]);
        assert_eq!(session.len(), 8);
        assert_eq!(session[0].0, 1_000);
    }

    #[test]
    fn rejects_more_ioc_flows_than_flows() {
        let spec = BenchSpec {
            shape: Shape::Small,
            packets: 10,
            flows: 5,
            ioc_flows: 6,
        };
        assert!(write_bench(io::sink(), &spec).is_err());
    }
}
