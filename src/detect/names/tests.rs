//! The name path on whole frames (built by the independent generator's wire helpers), against
//! a small name set: what matches, what binds, what expires, what is counted.

use std::net::IpAddr;
use std::sync::Arc;

use c2tap_pcapgen::traffic::TcpConn;
use c2tap_pcapgen::wire;

use super::*;
use crate::decode::dns::build as dnsb;
use crate::decode::dns::{DnsError, TYPE_A, TYPE_AAAA, TYPE_CNAME};
use crate::decode::http::HttpError;
use crate::decode::tls::build as tlsb;
use crate::decode::{decode, LinkType};

pub(super) struct Set {
    pub(super) names: Vec<&'static str>,
    pub(super) urls: Vec<(&'static str, &'static str)>,
}

pub(super) fn ioc(value: &str) -> Arc<Ioc> {
    Arc::new(Ioc {
        value: value.into(),
        port: None,
        malware: "Remcos".into(),
        threat_type: String::new(),
        confidence: None,
        first_seen: None,
        last_seen: None,
        source: "test".into(),
        reference: None,
    })
}

impl NameIocs for Set {
    fn has_names(&self) -> bool {
        !self.names.is_empty() || !self.urls.is_empty()
    }
    fn host_ioc(&self, host: &[u8]) -> Option<Arc<Ioc>> {
        self.names
            .iter()
            .find(|n| n.as_bytes() == host)
            .map(|n| ioc(n))
    }
    fn url_ioc(&self, host: &[u8], path: &[u8]) -> Option<Arc<Ioc>> {
        self.urls
            .iter()
            .find(|(h, p)| h.as_bytes() == host.to_ascii_lowercase() && p.as_bytes() == path)
            .map(|(h, p)| ioc(&format!("http://{h}{p}")))
    }
}

pub(super) fn set() -> Set {
    Set {
        names: vec!["c2.example.org"],
        urls: vec![("files.example.net", "/stage2.bin")],
    }
}

pub(super) const CLIENT: &str = "10.1.0.5";
pub(super) const RESOLVER: &str = "10.1.0.53";
pub(super) const SEC: Nanos = NANOS_PER_SEC;

fn a(s: &str) -> IpAddr {
    s.parse().unwrap()
}

pub(super) fn eth(ip: &[u8]) -> Vec<u8> {
    wire::ethernet([2; 6], [4; 6], &[], wire::ip_ethertype(ip), ip)
}

pub(super) fn udp(src: &str, dst: &str, sport: u16, dport: u16, payload: &[u8]) -> Vec<u8> {
    let seg = wire::udp(a(src), a(dst), sport, dport, payload);
    eth(&wire::ip(a(src), a(dst), wire::PROTO_UDP, 1, &seg))
}

pub(super) fn run(
    names: &mut Names,
    set: &impl NameIocs,
    ts: Nanos,
    frame: &[u8],
) -> Option<Found> {
    let meta = decode(LinkType::ETHERNET, frame);
    names.inspect(set, ts, frame, &meta)
}

pub(super) fn chain_response() -> Vec<u8> {
    let target = dnsb::name("cdn.example.net");
    // The CNAME's rdata starts at 12 + 16 + 4 + 12 = 44.
    dnsb::response(
        9,
        "C2.Example.ORG.",
        TYPE_A,
        &[
            dnsb::record(&dnsb::QNAME_PTR, TYPE_CNAME, 300, &target),
            dnsb::record(&[0xc0, 44], TYPE_A, 120, &[192, 0, 2, 7]),
            dnsb::record(
                &[0xc0, 44],
                TYPE_AAAA,
                60,
                &[0x20, 1, 0xd, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 7],
            ),
            dnsb::record(&dnsb::name("other.example"), TYPE_A, 60, &[198, 51, 100, 1]),
        ],
    )
}

#[test]
fn nothing_happens_without_names() {
    let mut names = Names::default();
    let empty = Set {
        names: vec![],
        urls: vec![],
    };
    let q = dnsb::query(1, "c2.example.org", TYPE_A);
    assert_eq!(
        run(
            &mut names,
            &empty,
            SEC,
            &udp(CLIENT, RESOLVER, 5353, 53, &q)
        ),
        None
    );
    assert_eq!(names.stats(), NameStats::default());
}

#[test]
fn a_lookup_matches_with_the_resolver_as_server() {
    let mut names = Names::default();
    let q = dnsb::query(1, "C2.example.org.", TYPE_A);
    let f = run(
        &mut names,
        &set(),
        SEC,
        &udp(CLIENT, RESOLVER, 5353, 53, &q),
    )
    .unwrap();
    assert!(f.server_is_dst);
    assert_eq!(f.name.via, NameVia::Lookup);
    assert_eq!(&*f.name.host, "c2.example.org");
    assert_eq!(f.name.answers, None);
    let benign = dnsb::query(2, "example.org", TYPE_A);
    assert_eq!(
        run(
            &mut names,
            &set(),
            SEC,
            &udp(CLIENT, RESOLVER, 5353, 53, &benign)
        ),
        None
    );
    assert_eq!(names.stats().dns_messages, 2);
    assert_eq!(names.stats().hits, [1, 0, 0, 0]);
}

#[test]
fn an_answer_binds_the_cname_chain_addresses_until_the_clamped_ttl() {
    let mut names = Names::default();
    let r = chain_response();
    let f = run(
        &mut names,
        &set(),
        10 * SEC,
        &udp(RESOLVER, CLIENT, 53, 5353, &r),
    )
    .unwrap();
    assert!(!f.server_is_dst);
    assert_eq!(f.name.answers.as_deref(), Some("192.0.2.7,2001:db8::7"));
    assert_eq!(f.name.ttl, Some(60));
    assert_eq!(f.name.answered, Some(10 * SEC));
    assert_eq!(names.stats().bindings.inserts, 2);
    // A connection to the bound address 100 s later (TTL 120): 1011.
    let mut conn = TcpConn::new(
        "10.1.0.5:40000".parse().unwrap(),
        "192.0.2.7:443".parse().unwrap(),
        1,
        1,
    );
    let syn = eth(&conn.client(wire::tcp_flags::SYN, &[]));
    let f = run(&mut names, &set(), 110 * SEC, &syn).unwrap();
    assert_eq!(f.name.via, NameVia::Connection);
    assert_eq!(&*f.name.host, "c2.example.org");
    assert_eq!(f.name.ttl, Some(120));
    assert_eq!(f.name.answered, Some(10 * SEC));
    assert!(f.server_is_dst);
    // The unrelated A record in the same answer is not bound.
    let mut other = TcpConn::new(
        "10.1.0.5:40001".parse().unwrap(),
        "198.51.100.1:443".parse().unwrap(),
        1,
        1,
    );
    let syn = eth(&other.client(wire::tcp_flags::SYN, &[]));
    assert_eq!(run(&mut names, &set(), 110 * SEC, &syn), None);
    // After the TTL (120 s from 10 s): nothing, and the binding expires at the next sweep.
    let syn = eth(&conn.client(wire::tcp_flags::SYN, &[]));
    assert_eq!(run(&mut names, &set(), 131 * SEC, &syn), None);
    assert_eq!(names.stats().bindings.expired, 2);
}

#[test]
fn dns_over_tcp_is_read_from_its_length_prefix() {
    let mut names = Names::default();
    let q = dnsb::query(3, "c2.example.org", TYPE_A);
    let mut framed = (q.len() as u16).to_be_bytes().to_vec();
    framed.extend(&q);
    let mut conn = TcpConn::new(
        "10.1.0.5:40002".parse().unwrap(),
        "10.1.0.53:53".parse().unwrap(),
        1,
        1,
    );
    let frame = eth(&conn.client_data(&framed));
    let f = run(&mut names, &set(), SEC, &frame).unwrap();
    assert_eq!(f.name.via, NameVia::Lookup);
    // A message cut by the segment is counted.
    let frame = eth(&conn.client_data(&framed[..framed.len() - 3]));
    assert_eq!(run(&mut names, &set(), SEC, &frame), None);
    assert_eq!(names.stats().dns_errors[DnsError::BadTcpLength.index()], 1);
}

#[test]
fn hostile_dns_is_counted() {
    let mut names = Names::default();
    let records: Vec<_> = (0..1000u16)
        .map(|i| {
            dnsb::record(
                &dnsb::QNAME_PTR,
                TYPE_A,
                5,
                &[10, 9, (i >> 8) as u8, i as u8],
            )
        })
        .collect();
    let many = dnsb::response(1, "c2.example.org", TYPE_A, &records);
    let f = run(
        &mut names,
        &set(),
        SEC,
        &udp(RESOLVER, CLIENT, 53, 5353, &many[..1400]),
    )
    .unwrap();
    assert_eq!(f.name.answers.as_deref().unwrap().split(',').count(), 16);
    let s = names.stats();
    assert_eq!(s.dns_answers_over_limit, 1000 - 64);
    // 64 read (of which the 1,400 bytes hold 86), at most 16 bound from one answer.
    assert_eq!(s.bindings.inserts, 16);
    assert_eq!(s.bindings.answer_overflow, 64 - 16);
    let mut looped = dnsb::query(1, "a", TYPE_A);
    looped.truncate(12);
    looped.extend([0xc0, 12, 0, 1, 0, 1]);
    assert_eq!(
        run(
            &mut names,
            &set(),
            SEC,
            &udp(CLIENT, RESOLVER, 1, 53, &looped)
        ),
        None
    );
    assert_eq!(names.stats().dns_errors[DnsError::BadPointer.index()], 1);
}

#[test]
fn a_split_client_hello_matches_on_the_segment_that_completes_its_sni() {
    let mut names = Names::default();
    let stream = tlsb::records(&tlsb::hello("C2.example.org", 700), 1 << 14);
    let mut conn = TcpConn::new(
        "10.1.0.5:40003".parse().unwrap(),
        "203.0.113.9:8443".parse().unwrap(),
        1,
        1,
    );
    for p in conn.handshake() {
        assert_eq!(run(&mut names, &set(), SEC, &eth(&p)), None);
    }
    let (a1, rest) = stream.split_at(300);
    let (a2, a3) = rest.split_at(300);
    let first = eth(&conn.client_data(a1));
    assert_eq!(run(&mut names, &set(), SEC, &first), None);
    // A retransmission of the first segment changes nothing.
    assert_eq!(run(&mut names, &set(), SEC, &first), None);
    assert_eq!(
        run(&mut names, &set(), SEC, &eth(&conn.client_data(a2))),
        None
    );
    let f = run(&mut names, &set(), SEC, &eth(&conn.client_data(a3))).unwrap();
    assert_eq!(f.name.via, NameVia::Sni);
    assert_eq!(&*f.name.host, "c2.example.org");
    assert!(f.server_is_dst);
    assert!(names.gather.is_empty());
    assert_eq!(names.stats().gather.started, [1, 0]);
}

#[test]
fn a_hello_with_a_gap_is_abandoned_and_counted() {
    let mut names = Names::default();
    let stream = tlsb::records(&tlsb::hello("c2.example.org", 700), 1 << 14);
    let mut conn = TcpConn::new(
        "10.1.0.5:40004".parse().unwrap(),
        "203.0.113.9:443".parse().unwrap(),
        1,
        1,
    );
    run(
        &mut names,
        &set(),
        SEC,
        &eth(&conn.client_data(&stream[..300])),
    );
    let _lost = conn.client_data(&stream[300..600]);
    assert_eq!(
        run(
            &mut names,
            &set(),
            SEC,
            &eth(&conn.client_data(&stream[600..]))
        ),
        None
    );
    assert_eq!(names.stats().gather.abandoned, [1, 0]);
}

#[test]
fn http_host_and_url_iocs() {
    let mut names = Names::default();
    let mut conn = TcpConn::new(
        "10.1.0.5:40005".parse().unwrap(),
        "203.0.113.10:80".parse().unwrap(),
        1,
        1,
    );
    let req = b"GET /gate.php?x=1 HTTP/1.1\r\nHost: C2.EXAMPLE.ORG.:80\r\n\r\n";
    let f = run(&mut names, &set(), SEC, &eth(&conn.client_data(req))).unwrap();
    assert_eq!(f.name.via, NameVia::Http);
    assert_eq!(&*f.name.host, "c2.example.org");
    assert_eq!(
        f.name.url.as_deref(),
        Some("http://c2.example.org.:80/gate.php?x=1")
    );
    let req = b"GET http://files.example.net/stage2.bin HTTP/1.1\r\n\r\n";
    let f = run(&mut names, &set(), SEC, &eth(&conn.client_data(req))).unwrap();
    assert_eq!(f.ioc.value, "http://files.example.net/stage2.bin");
    assert_eq!(
        f.name.url.as_deref(),
        Some("http://files.example.net/stage2.bin")
    );
    let other = b"GET /other HTTP/1.1\r\nHost: files.example.net\r\n\r\n";
    assert_eq!(
        run(&mut names, &set(), SEC, &eth(&conn.client_data(other))),
        None
    );
    assert!(names.gather.is_empty(), "complete heads are not gathered");
    // A line without end within the bound is a counted skip at once (nothing to gather).
    let mut endless = b"GET /".to_vec();
    endless.resize(crate::decode::http::MAX_REQUEST + 10, b'a');
    assert_eq!(
        run(&mut names, &set(), SEC, &eth(&conn.client_data(&endless))),
        None
    );
    assert_eq!(names.stats().http_errors[HttpError::NoEnd.index()], 1);
    assert!(names.gather.is_empty());
}

/// A client's HTTP connection (port 80) and the frames of `parts`, one segment each.
fn http_segments(port: u16, parts: &[&[u8]]) -> Vec<Vec<u8>> {
    let mut conn = TcpConn::new(
        format!("10.1.0.5:{port}").parse().unwrap(),
        "203.0.113.10:80".parse().unwrap(),
        1,
        1,
    );
    parts.iter().map(|p| eth(&conn.client_data(p))).collect()
}

/// Runs `frames` in order; the match each gave.
fn run_all(names: &mut Names, frames: &[&Vec<u8>]) -> Vec<Option<Found>> {
    frames.iter().map(|f| run(names, &set(), SEC, f)).collect()
}

fn assert_http_c2(f: &Option<Found>) {
    let f = f.as_ref().expect("a match");
    assert_eq!(f.name.via, NameVia::Http);
    assert_eq!(&*f.name.host, "c2.example.org");
    assert!(f.server_is_dst);
}

#[test]
fn a_request_line_split_over_segments_matches_on_the_one_that_completes_it() {
    for (port, parts) in [
        (
            41001,
            [
                &b"GET /gate.php HT"[..],
                b"TP/1.1\r\nHost: c2.example.org\r\n\r\n",
            ],
        ),
        // The method itself cut: the first segment is only its start.
        (
            41002,
            [
                &b"GE"[..],
                b"T /gate.php HTTP/1.1\r\nHost: C2.example.org\r\n\r\n",
            ],
        ),
        // Between headers: the request line complete, Host in the next write.
        (
            41003,
            [
                &b"GET /gate.php HTTP/1.1\r\nUser-Agent: x\r\n"[..],
                b"Host: c2.example.org\r\n\r\n",
            ],
        ),
    ] {
        let mut names = Names::default();
        let f = http_segments(port, &parts);
        let got = run_all(&mut names, &[&f[0], &f[1]]);
        assert_eq!(got[0], None, "{parts:?}");
        assert_http_c2(&got[1]);
        assert_eq!(
            got[1]
                .as_ref()
                .unwrap()
                .name
                .url
                .as_deref()
                .map(|u| u.ends_with("/gate.php")),
            Some(true)
        );
        assert!(names.gather.is_empty());
        let s = names.stats();
        assert_eq!(s.gather.started, [0, 1]);
        assert_eq!(s.gather.abandoned, [0, 0]);
        assert_eq!(s.http_requests, 1);
        assert_eq!(s.skips(), 0, "{}", s.skip_reasons());
    }
}

#[test]
fn host_in_the_third_segment_matches_and_retransmissions_are_ignored() {
    let mut names = Names::default();
    let f = http_segments(
        41004,
        &[
            b"GET / HTTP/1.1\r\n",
            b"Accept: */*\r\n",
            b"Host: c2.example.org\r\n\r\n",
        ],
    );
    // Each segment sent twice (a retransmission): the copies change nothing.
    let got = run_all(&mut names, &[&f[0], &f[0], &f[1], &f[0], &f[1], &f[2]]);
    assert!(got[..5].iter().all(Option::is_none), "{got:?}");
    assert_http_c2(&got[5]);
    assert_eq!(names.stats().gather.started, [0, 1]);
    assert_eq!(names.stats().skips(), 0);
}

#[test]
fn a_request_over_five_segments_is_abandoned_and_counted() {
    let mut names = Names::default();
    let f = http_segments(
        41005,
        &[
            b"GET / HTTP/1.1\r\n",
            b"A: 1\r\n",
            b"B: 2\r\n",
            b"C: 3\r\n",
            b"Host: c2.example.org\r\n\r\n",
        ],
    );
    let got = run_all(&mut names, &f.iter().collect::<Vec<_>>());
    assert!(got.iter().all(Option::is_none), "{got:?}");
    let s = names.stats();
    assert_eq!(s.gather.started, [0, 1]);
    assert_eq!(s.gather.abandoned, [0, 1]);
    assert!(names.gather.is_empty());
    assert!(
        s.skip_reasons().contains("http_request_abandoned=1"),
        "{}",
        s.skip_reasons()
    );
    let events = s.events();
    let at = |name: &str| events[NAME_EVENTS.iter().position(|e| *e == name).unwrap()];
    assert_eq!((at("http_gathered"), at("http_abandoned")), (1, 1));
    assert_eq!((at("hello_gathered"), at("hello_abandoned")), (0, 0));
    assert_eq!(NameStats::from_events(events).gather, s.gather);
}

#[test]
fn a_request_out_of_order_is_abandoned_and_counted() {
    let mut names = Names::default();
    let f = http_segments(
        41006,
        &[
            b"GET / HTTP/1.1\r\n",
            b"Accept: */*\r\n",
            b"Host: c2.example.org\r\n\r\n",
        ],
    );
    // The third segment before the second: a gap (no reassembly beyond in-order segments).
    let got = run_all(&mut names, &[&f[0], &f[2], &f[1]]);
    assert!(got.iter().all(Option::is_none), "{got:?}");
    assert_eq!(names.stats().gather.abandoned, [0, 1]);
    assert!(names.gather.is_empty());
}

#[test]
fn a_request_still_cut_after_the_window_is_abandoned() {
    let mut names = Names::default();
    let f = http_segments(
        41007,
        &[b"GET / HTTP/1.1\r\n", b"Host: c2.example.org\r\n\r\n"],
    );
    assert_eq!(run(&mut names, &set(), SEC, &f[0]), None);
    let late = SEC + gather::GATHER_WINDOW + 1;
    assert_eq!(run(&mut names, &set(), late, &f[1]), None);
    assert_eq!(names.stats().gather.abandoned, [0, 1]);
}

#[test]
fn a_reload_without_the_name_drops_its_bindings() {
    let mut names = Names::default();
    let r = chain_response();
    run(
        &mut names,
        &set(),
        10 * SEC,
        &udp(RESOLVER, CLIENT, 53, 5353, &r),
    )
    .unwrap();
    names.reload(&set());
    assert!(!names.bindings.is_empty());
    names.reload(&Set {
        names: vec!["other.example"],
        urls: vec![],
    });
    assert!(names.bindings.is_empty());
    let mut conn = TcpConn::new(
        "10.1.0.5:40000".parse().unwrap(),
        "192.0.2.7:443".parse().unwrap(),
        1,
        1,
    );
    let syn = eth(&conn.client(wire::tcp_flags::SYN, &[]));
    assert_eq!(run(&mut names, &set(), 20 * SEC, &syn), None);
}
