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
}

impl Shape {
    pub fn parse(s: &str) -> Option<Shape> {
        match s {
            "imix" => Some(Shape::Imix),
            "small" => Some(Shape::Small),
            "synflood" => Some(Shape::SynFlood),
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
    let flows = if spec.shape == Shape::SynFlood {
        spec.packets
    } else {
        spec.flows.min(spec.packets)
    };
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
        let is_ioc = flow % stride == 0 && flow / stride < spec.ioc_flows;
        let (client, sport) = client_of(flow);
        let (server, dport) = if is_ioc {
            C2_ENDPOINTS[(flow / stride % 2) as usize]
        } else {
            benign_server(flow)
        };
        let size = match spec.shape {
            Shape::Imix => IMIX[(i % 12) as usize],
            Shape::Small | Shape::SynFlood => 64,
        };
        let frame = if nth == 0 {
            packet(client, server, sport, dport, F::SYN, 0x1000, 0, 64)
        } else {
            let step = nth as u32 * 1460;
            let (src, dst, sp, dp, seq, ack) = if nth % 2 == 1 {
                (server, client, dport, sport, 0x9000 + step, 0x1001)
            } else {
                (client, server, sport, dport, 0x1001 + step, 0x9000)
            };
            packet(src, dst, sp, dp, F::ACK | F::PSH, seq, ack, size)
        };
        bytes += frame.len() as u64;
        w.write(T0_NS + i * 1_000, &frame, None)?;
    }
    w.into_inner().flush()?;
    Ok(BenchSummary {
        packets: spec.packets,
        flows,
        ioc_flows: spec.ioc_flows,
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
