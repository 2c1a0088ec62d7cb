//! Name-heavy benchmark traffic: a DNS-heavy capture (every flow a UDP lookup and its answer,
//! repeated) and a TLS-heavy one (every flow a TCP connection whose first client payload is a
//! ClientHello with an SNI, then data). `ioc_flows` of the flows use [`NAME_IOC`], the name the
//! benchmark's name IOC file lists, so a run can check it saw exactly that many name alerts.

use std::io::{self, Write};
use std::net::{IpAddr, Ipv4Addr};

use crate::bench::{write_flows, BenchSpec, BenchSummary, Shape};
use crate::traffic::Encap;
use crate::wire::{self, tcp_flags as F, TcpHeader};

/// The IOC name the benchmark's IOC flows look up or name in their SNI.
pub const NAME_IOC: &str = "rmc-c2.duckdns.org";
const RESOLVER: [u8; 4] = [192, 0, 2, 53];

pub fn write_names_bench<W: Write>(out: W, spec: &BenchSpec) -> io::Result<BenchSummary> {
    let flows = spec.flows.min(spec.packets);
    write_flows(out, spec, flows, |_, flow, nth, ioc| {
        let name = if ioc.is_some() {
            NAME_IOC.to_string()
        } else {
            format!("host{flow}.example.com")
        };
        let client = 0x0a01_0000u32.wrapping_add(flow as u32).to_be_bytes();
        let sport = 10_000 + (flow % 50_000) as u16;
        match spec.shape {
            Shape::Dns => dns_packet(client, sport, flow as u16, &name, nth % 2 == 1),
            _ => tls_packet(client, sport, flow, nth, &name),
        }
    })
}

fn v4(a: [u8; 4]) -> IpAddr {
    IpAddr::V4(Ipv4Addr::from(a))
}

/// A query for `name` (A), or its answer with one address.
fn dns_packet(client: [u8; 4], sport: u16, id: u16, name: &str, answer: bool) -> Vec<u8> {
    let mut m = id.to_be_bytes().to_vec();
    m.extend_from_slice(if answer {
        &[0x81, 0x80, 0, 1, 0, 1]
    } else {
        &[0x01, 0x00, 0, 1, 0, 0]
    });
    m.extend_from_slice(&[0, 0, 0, 0]);
    for label in name.split('.') {
        m.push(label.len() as u8);
        m.extend_from_slice(label.as_bytes());
    }
    m.extend_from_slice(&[0, 0, 1, 0, 1]);
    if answer {
        m.extend_from_slice(&[0xc0, 12, 0, 1, 0, 1, 0, 0, 1, 0x2c, 0, 4, 198, 51, 100, 70]);
    }
    let (src, dst, sp, dp) = if answer {
        (RESOLVER, client, 53, sport)
    } else {
        (client, RESOLVER, sport, 53)
    };
    let udp = wire::udp(v4(src), v4(dst), sp, dp, &m);
    Encap::Ethernet.frame(&wire::ip(v4(src), v4(dst), wire::PROTO_UDP, id, &udp), 0)
}

/// Packet `nth` of a TLS flow: SYN, SYN/ACK, the ClientHello naming `name`, then 576-byte data
/// segments each way.
fn tls_packet(client: [u8; 4], sport: u16, flow: u64, nth: u64, name: &str) -> Vec<u8> {
    let server = [203, 0, 113, 1 + (flow % 254) as u8];
    let (cs, ss) = (0x1000u32, 0x9000u32);
    let hello = client_hello(name);
    let (from_client, flags, seq, ack, payload): (bool, u8, u32, u32, Vec<u8>) = match nth {
        0 => (true, F::SYN, cs, 0, Vec::new()),
        1 => (false, F::SYN | F::ACK, ss, cs + 1, Vec::new()),
        2 => (true, F::ACK | F::PSH, cs + 1, ss + 1, hello.clone()),
        n => {
            let step = (n as u32) * 522;
            if n % 2 == 1 {
                (
                    false,
                    F::ACK | F::PSH,
                    ss + 1 + step,
                    cs + 1,
                    vec![0x17; 522],
                )
            } else {
                (
                    true,
                    F::ACK | F::PSH,
                    cs + 1 + hello.len() as u32 + step,
                    ss + 1,
                    vec![0x17; 522],
                )
            }
        }
    };
    let (src, dst, sp, dp) = if from_client {
        (client, server, sport, 443)
    } else {
        (server, client, 443, sport)
    };
    let h = TcpHeader {
        sport: sp,
        dport: dp,
        seq,
        ack,
        flags,
        window: 64240,
    };
    let seg = wire::tcp(v4(src), v4(dst), h, &payload);
    Encap::Ethernet.frame(
        &wire::ip(v4(src), v4(dst), wire::PROTO_TCP, seq as u16, &seg),
        0,
    )
}

/// A ClientHello with a 200-byte key share stand-in before the SNI (as browsers often send
/// it), about 380 bytes.
fn client_hello(name: &str) -> Vec<u8> {
    wire::tls_client_hello(name, (51, 200))
}
