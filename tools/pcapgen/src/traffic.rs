//! Conversations and captures: a TCP connection that keeps its sequence numbers right, the
//! encapsulation a span port or mirror adds around each IP packet, and an in-memory capture with
//! packet time that fixtures fill and then write as pcap or pcapng.

use std::net::{IpAddr, SocketAddr};

use crate::wire::{self, ethertype, tcp_flags as F, TcpHeader};

/// Link types (pcap LINKTYPE_* numbers) the generator writes.
pub mod link {
    pub const NULL: u32 = 0;
    pub const ETHERNET: u32 = 1;
    pub const RAW: u32 = 101;
    pub const LOOP: u32 = 108;
    pub const LINUX_SLL: u32 = 113;
    pub const IPV4: u32 = 228;
    pub const IPV6: u32 = 229;
    pub const LINUX_SLL2: u32 = 276;
}

/// 2026-05-09 14:03:27.123456 UTC: every fixture's first packet.
pub const T0_NS: u64 = 1_778_335_407_123_456_000;

pub const CLIENT_MAC: [u8; 6] = [0x02, 0x00, 0x0a, 0x01, 0x00, 0x01];
pub const ROUTER_MAC: [u8; 6] = [0x02, 0x00, 0x0a, 0x01, 0x00, 0xfe];
/// Outer addresses of mirror tunnels (switch → collector).
pub const MIRROR_SRC: [u8; 4] = [172, 16, 0, 1];
pub const MIRROR_DST: [u8; 4] = [172, 16, 0, 2];

/// One TCP connection seen from the wire; each call returns the next IP packet.
#[derive(Clone, Debug)]
pub struct TcpConn {
    pub client: SocketAddr,
    pub server: SocketAddr,
    client_next: u32,
    server_next: u32,
    ip_id: u16,
}

impl TcpConn {
    pub fn new(
        client: SocketAddr,
        server: SocketAddr,
        client_isn: u32,
        server_isn: u32,
    ) -> TcpConn {
        TcpConn {
            client,
            server,
            client_next: client_isn,
            server_next: server_isn,
            ip_id: client_isn as u16,
        }
    }

    fn segment(&mut self, from_client: bool, flags: u8, payload: &[u8]) -> Vec<u8> {
        let (src, dst) = if from_client {
            (self.client, self.server)
        } else {
            (self.server, self.client)
        };
        let seg = self.tcp_only(from_client, flags, payload);
        wire::ip(src.ip(), dst.ip(), wire::PROTO_TCP, self.ip_id, &seg)
    }

    /// The next TCP segment without its IP header (for fixtures that build their own IP layer).
    pub fn tcp_only(&mut self, from_client: bool, flags: u8, payload: &[u8]) -> Vec<u8> {
        let (src, dst) = if from_client {
            (self.client, self.server)
        } else {
            (self.server, self.client)
        };
        let (seq, ack) = if from_client {
            (self.client_next, self.server_next)
        } else {
            (self.server_next, self.client_next)
        };
        let ack = if flags & F::ACK != 0 { ack } else { 0 };
        let h = TcpHeader {
            sport: src.port(),
            dport: dst.port(),
            seq,
            ack,
            flags,
            window: 64240,
        };
        let advance = payload.len() as u32 + u32::from(flags & (F::SYN | F::FIN) != 0);
        let next = if from_client {
            &mut self.client_next
        } else {
            &mut self.server_next
        };
        *next = next.wrapping_add(advance);
        self.ip_id = self.ip_id.wrapping_add(1);
        wire::tcp(src.ip(), dst.ip(), h, payload)
    }

    /// The client's segment with the given flags, without advancing (a retransmission).
    pub fn client_retransmit(&mut self, flags: u8, payload: &[u8]) -> Vec<u8> {
        let saved = self.client_next;
        let p = self.segment(true, flags, payload);
        self.client_next = saved;
        p
    }

    pub fn client(&mut self, flags: u8, payload: &[u8]) -> Vec<u8> {
        self.segment(true, flags, payload)
    }

    pub fn server(&mut self, flags: u8, payload: &[u8]) -> Vec<u8> {
        self.segment(false, flags, payload)
    }

    /// SYN, SYN/ACK, ACK.
    pub fn handshake(&mut self) -> Vec<Vec<u8>> {
        vec![
            self.client(F::SYN, &[]),
            self.server(F::SYN | F::ACK, &[]),
            self.client(F::ACK, &[]),
        ]
    }

    pub fn client_data(&mut self, payload: &[u8]) -> Vec<u8> {
        self.client(F::PSH | F::ACK, payload)
    }

    pub fn server_data(&mut self, payload: &[u8]) -> Vec<u8> {
        self.server(F::PSH | F::ACK, payload)
    }

    /// Client-initiated close: FIN/ACK, FIN/ACK, ACK.
    pub fn close(&mut self) -> Vec<Vec<u8>> {
        vec![
            self.client(F::FIN | F::ACK, &[]),
            self.server(F::FIN | F::ACK, &[]),
            self.client(F::ACK, &[]),
        ]
    }
}

/// What wraps each IP packet on the way to the capture.
#[derive(Clone, Debug)]
pub enum Encap {
    Ethernet,
    /// Ethernet with (TPID, TCI) tags, outermost first.
    Tagged(Vec<(u16, u16)>),
    Mpls(Vec<u32>),
    /// GRE over IPv4 (protocol 0x0800/0x86dd) with an optional key.
    Gre {
        key: Option<u32>,
    },
    ErspanII {
        session: u16,
    },
    ErspanIII {
        session: u16,
        platform: bool,
    },
    /// VXLAN with the inner Ethernet frame tagged with `inner_vlan` when non-zero.
    Vxlan {
        vni: u32,
        inner_vlan: u16,
    },
    Geneve {
        vni: u32,
    },
    Sll,
    Sll2,
    Raw,
    /// BSD loopback with this AF value for IPv6 (24, 28 or 30 depending on the BSD).
    Null {
        af_inet6: u32,
    },
    Loop,
}

impl Encap {
    /// The frame the capture sees for `ip`; `seq` numbers tunnel headers that carry one.
    pub fn frame(&self, ip: &[u8], seq: u32) -> Vec<u8> {
        let ethertype = wire::ip_ethertype(ip);
        let v6 = ethertype == ethertype::IPV6;
        let (dst_mac, src_mac) = macs(ip);
        let inner_eth = |tags: &[(u16, u16)]| wire::ethernet(dst_mac, src_mac, tags, ethertype, ip);
        match self {
            Encap::Ethernet => inner_eth(&[]),
            Encap::Tagged(tags) => inner_eth(tags),
            Encap::Mpls(labels) => wire::ethernet(
                dst_mac,
                src_mac,
                &[],
                ethertype::MPLS,
                &wire::mpls(labels, ip),
            ),
            Encap::Gre { key } => mirror(wire::PROTO_GRE, &wire::gre(ethertype, *key, None, ip)),
            Encap::ErspanII { session } => {
                let span = wire::erspan2(*session, 0, 0, &inner_eth(&[]));
                mirror(
                    wire::PROTO_GRE,
                    &wire::gre(ethertype::ERSPAN_II, None, Some(seq), &span),
                )
            }
            Encap::ErspanIII { session, platform } => {
                let span = wire::erspan3(
                    *session,
                    0,
                    seq.wrapping_mul(1000),
                    *platform,
                    &inner_eth(&[]),
                );
                mirror(
                    wire::PROTO_GRE,
                    &wire::gre(ethertype::ERSPAN_III, None, Some(seq), &span),
                )
            }
            Encap::Vxlan { vni, inner_vlan } => {
                let tags: &[(u16, u16)] = if *inner_vlan != 0 {
                    &[(ethertype::VLAN, *inner_vlan)]
                } else {
                    &[]
                };
                let udp = wire::udp(
                    MIRROR_SRC.into(),
                    MIRROR_DST.into(),
                    50000 + (seq % 1000) as u16,
                    4789,
                    &wire::vxlan(*vni, &inner_eth(tags)),
                );
                mirror(wire::PROTO_UDP, &udp)
            }
            Encap::Geneve { vni } => {
                let g = wire::geneve(*vni, ethertype::TEB, &inner_eth(&[]));
                mirror(
                    wire::PROTO_UDP,
                    &wire::udp(MIRROR_SRC.into(), MIRROR_DST.into(), 50001, 6081, &g),
                )
            }
            Encap::Sll => wire::sll(if from_inside(ip) { 4 } else { 0 }, src_mac, ethertype, ip),
            Encap::Sll2 => wire::sll2(
                ethertype,
                2,
                if from_inside(ip) { 4 } else { 0 },
                src_mac,
                ip,
            ),
            Encap::Raw => ip.to_vec(),
            Encap::Null { af_inet6 } => wire::loopback(if v6 { *af_inet6 } else { 2 }, false, ip),
            Encap::Loop => wire::loopback(if v6 { 24 } else { 2 }, true, ip),
        }
    }
}

fn mirror(proto: u8, payload: &[u8]) -> Vec<u8> {
    let outer = wire::ipv4(
        MIRROR_SRC,
        MIRROR_DST,
        proto,
        wire::Ipv4Header::default(),
        payload,
    );
    wire::ethernet(
        ROUTER_MAC,
        [0x02, 0, 0xac, 0x10, 0, 1],
        &[],
        ethertype::IPV4,
        &outer,
    )
}

/// Packets from the clients' networks (10/8, fd00::/8, 2001:db8:1::/48) leave through the router.
fn from_inside(ip: &[u8]) -> bool {
    match ip.first().map(|b| b >> 4) {
        Some(4) => ip.get(12) == Some(&10),
        _ => matches!(
            ip.get(8..14),
            Some([0xfd, ..]) | Some([0x20, 0x01, 0x0d, 0xb8, 0x00, 0x01])
        ),
    }
}

fn macs(ip: &[u8]) -> ([u8; 6], [u8; 6]) {
    if from_inside(ip) {
        (ROUTER_MAC, CLIENT_MAC)
    } else {
        (CLIENT_MAC, ROUTER_MAC)
    }
}

/// A packet in a capture under construction.
#[derive(Clone, Debug)]
pub struct Captured {
    pub ts_ns: u64,
    pub frame: Vec<u8>,
    /// Captured length when shorter than the frame (a per-packet snap length).
    pub cut: Option<usize>,
    /// Wire length the record header claims instead of the frame's (a crafted or corrupt file).
    pub claimed_len: Option<u32>,
}

/// A capture under construction: packet time moves forward by the gaps pushes give.
#[derive(Clone, Debug)]
pub struct Capture {
    pub link: u32,
    pub encap: Encap,
    pub now_ns: u64,
    pub packets: Vec<Captured>,
}

impl Capture {
    pub fn new(link: u32, encap: Encap) -> Capture {
        Capture {
            link,
            encap,
            now_ns: T0_NS,
            packets: Vec::new(),
        }
    }

    /// Adds `ip` (wrapped by the current encapsulation) `gap_us` after the previous packet.
    pub fn push(&mut self, gap_us: u64, ip: Vec<u8>) {
        let frame = self.encap.frame(&ip, self.packets.len() as u32);
        self.push_frame(gap_us, frame);
    }

    pub fn push_all(&mut self, gap_us: u64, ips: Vec<Vec<u8>>) {
        for ip in ips {
            self.push(gap_us, ip);
        }
    }

    /// Adds a ready frame (for malformed input the encapsulation cannot produce).
    pub fn push_frame(&mut self, gap_us: u64, frame: Vec<u8>) {
        self.now_ns += gap_us * 1_000;
        self.packets.push(Captured {
            ts_ns: self.now_ns,
            frame,
            cut: None,
            claimed_len: None,
        });
    }

    /// Cuts the last packet's captured bytes to `len`.
    pub fn cut_last(&mut self, len: usize) {
        if let Some(p) = self.packets.last_mut() {
            p.cut = Some(len);
        }
    }
}

/// A socket address from a literal the fixtures know to be valid.
pub fn sa(addr: &str) -> SocketAddr {
    addr.parse()
        .unwrap_or_else(|_| panic!("bad fixture address {addr}"))
}

pub fn addr(ip: &str) -> IpAddr {
    ip.parse()
        .unwrap_or_else(|_| panic!("bad fixture address {ip}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tcp_sequence_numbers_follow_the_conversation() {
        let mut c = TcpConn::new(sa("10.1.2.3:49823"), sa("138.9.223.13:8015"), 1000, 5000);
        let hs = c.handshake();
        let seq_ack = |p: &[u8]| {
            (
                u32::from_be_bytes(p[24..28].try_into().unwrap()),
                u32::from_be_bytes(p[28..32].try_into().unwrap()),
            )
        };
        assert_eq!(seq_ack(&hs[0]), (1000, 0));
        assert_eq!(seq_ack(&hs[1]), (5000, 1001));
        assert_eq!(seq_ack(&hs[2]), (1001, 5001));
        let d = c.client_data(&[0x24, 0x04, 0xff, 0x00]);
        assert_eq!(seq_ack(&d), (1001, 5001));
        assert_eq!(d[33], F::PSH | F::ACK);
        let r = c.server_data(b"ok");
        assert_eq!(seq_ack(&r), (5001, 1005));
        let fin = c.close();
        assert_eq!(seq_ack(&fin[1]), (5003, 1006));
    }

    #[test]
    fn encapsulations_put_the_ip_packet_at_the_expected_offset() {
        let ip = wire::ip(
            addr("10.1.2.3"),
            addr("138.9.223.13"),
            wire::PROTO_UDP,
            1,
            &[0; 8],
        );
        let at = |e: Encap| {
            let f = e.frame(&ip, 0);
            (f.len() - ip.len(), f[f.len() - ip.len()..] == ip[..])
        };
        assert_eq!(at(Encap::Ethernet), (14, true));
        assert_eq!(
            at(Encap::Tagged(vec![(0x88a8, 1), (0x8100, 2)])),
            (22, true)
        );
        assert_eq!(at(Encap::Mpls(vec![16, 17])), (22, true));
        assert_eq!(at(Encap::Gre { key: Some(1) }), (14 + 20 + 8, true));
        assert_eq!(
            at(Encap::ErspanII { session: 1 }),
            (14 + 20 + 8 + 8 + 14, true)
        );
        assert_eq!(
            at(Encap::ErspanIII {
                session: 1,
                platform: true
            }),
            (14 + 20 + 8 + 20 + 14, true)
        );
        assert_eq!(
            at(Encap::Vxlan {
                vni: 1,
                inner_vlan: 5
            }),
            (14 + 20 + 8 + 8 + 18, true)
        );
        assert_eq!(at(Encap::Geneve { vni: 1 }), (14 + 20 + 8 + 16 + 14, true));
        assert_eq!(at(Encap::Sll), (16, true));
        assert_eq!(at(Encap::Sll2), (20, true));
        assert_eq!(at(Encap::Raw), (0, true));
        assert_eq!(at(Encap::Null { af_inet6: 30 }), (4, true));
    }
}
