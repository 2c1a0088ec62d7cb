//! DNS bindings shared by the workers of one interface: the DNS answer (one flow) and the
//! connection it leads to (another flow) reach different workers under AF_PACKET fanout, and
//! the connection is still a 1011 — whichever worker processes its packets first.

use std::path::Path;
use std::sync::Arc;

use c2tap::app::replay::replay_records;
use c2tap::capture::file::CaptureFile;
use c2tap::decode::LinkType;
use c2tap::detect::names::shared::share;
use c2tap::detect::IocHandle;
use c2tap::ioc::{self, FeedSource, Filters, IocSet};
use c2tap::pipeline::{Worker, WorkerConfig};
use c2tap::record::{FlowRecord, Record, Signature};
use c2tap::time::Nanos;

const ROOT: &str = env!("CARGO_MANIFEST_DIR");

fn set() -> IocSet {
    let sources = [FeedSource::File(
        Path::new(ROOT).join("pcaps/iocs/names.txt"),
    )];
    ioc::load(&sources, &Filters::default(), 1_780_000_000)
        .expect("names.txt loads")
        .set
}

fn pcap() -> std::path::PathBuf {
    Path::new(ROOT).join("pcaps/names-cname-connect.pcap")
}

/// Every frame of the fixture, and whether it belongs to the DNS flow (port 53).
fn frames() -> Vec<(Nanos, LinkType, Vec<u8>, u32, bool)> {
    let mut f = CaptureFile::open(&pcap()).expect("fixture");
    let mut out = Vec::new();
    while let Some(p) = f.next_packet().expect("readable") {
        let meta = c2tap::decode::decode(p.link, p.data);
        let dns = meta.is_ok_and(|m| m.sport == 53 || m.dport == 53);
        out.push((p.ts, p.link, p.data.to_vec(), p.wire_len, dns));
    }
    out
}

fn alerts(recs: impl IntoIterator<Item = Record>) -> Vec<String> {
    let mut v: Vec<String> = recs
        .into_iter()
        .filter_map(|r| match r {
            Record::Flow(f) if f.signature != Signature::FlowSummary => Some(row(&f)),
            _ => None,
        })
        .collect();
    v.sort();
    v
}

fn row(f: &FlowRecord) -> String {
    format!(
        "{:?} {:?} {:?} {:?} {:?}",
        f.signature, f.action, f.client, f.server, f.name
    )
}

/// Replays the fixture on two workers sharing bindings: the DNS flow on `a`, the rest on
/// `b`. `b_first` packets of `b` go before any of `a`'s (the connection's SYN seen before
/// the answer's binding reached `b`).
fn two_workers(b_first: usize) -> (Vec<Record>, Vec<Record>) {
    let handle = Arc::new(IocHandle::new(set()));
    let mut peers = share(2).into_iter();
    let mut a = Worker::new(0, WorkerConfig::default(), Arc::clone(&handle), Vec::new())
        .with_bindings(peers.next().unwrap());
    let mut b = Worker::new(1, WorkerConfig::default(), handle, Vec::new())
        .with_bindings(peers.next().unwrap());
    let frames = frames();
    let (dns, rest): (Vec<_>, Vec<_>) = frames.iter().partition(|f| f.4);
    assert!(!dns.is_empty() && rest.len() > b_first);
    for (ts, link, data, len, _) in rest.iter().take(b_first) {
        b.packet(*ts, *link, data, *len);
    }
    for (ts, link, data, len, _) in &dns {
        a.packet(*ts, *link, data, *len);
    }
    for (ts, link, data, len, _) in rest.iter().skip(b_first) {
        b.packet(*ts, *link, data, *len);
    }
    a.finish();
    b.finish();
    assert_eq!(b.stats().names.bindings.inserts, 1, "b took a's binding");
    (std::mem::take(a.sink_mut()), std::mem::take(b.sink_mut()))
}

fn replayed() -> Vec<String> {
    let (records, _, _) =
        replay_records(&[pcap()], set(), WorkerConfig::default()).expect("replay");
    alerts(records)
}

#[test]
fn the_answer_on_one_worker_binds_the_connection_on_another() {
    let (a, b) = two_workers(0);
    let b_alerts = alerts(b.clone());
    assert_eq!(b_alerts.len(), 1);
    assert!(b_alerts[0].starts_with("DomainConnection"), "{b_alerts:?}");
    assert_eq!(alerts(a.into_iter().chain(b)), replayed());
}

#[test]
fn a_syn_seen_before_the_binding_arrives_still_gets_its_1011() {
    // b processes the connection's SYN before a has even seen the answer (a lags); the
    // binding reaches b before the connection's next packet.
    let (a, b) = two_workers(1);
    let b_alerts = alerts(b.clone());
    assert_eq!(b_alerts.len(), 1, "{b_alerts:?}");
    assert_eq!(alerts(a.into_iter().chain(b)), replayed());
}

// ---- A lone SYN that loses the race with a peer's binding ----

use c2tap::decode::dns::build as dnsb;
use c2tap::detect::names::recent::RECENT;
use c2tap_pcapgen::traffic::TcpConn;
use c2tap_pcapgen::wire;

const SEC: Nanos = 1_000_000_000;
const RESOLVER: &str = "10.1.0.53";
const CLIENT: &str = "10.1.0.5";

fn eth(ip: &[u8]) -> Vec<u8> {
    wire::ethernet([2; 6], [4; 6], &[], wire::ip_ethertype(ip), ip)
}

/// A DNS answer binding `rmc-c2.duckdns.org` (an IOC of names.txt) to `addr`, TTL 60.
fn answer(id: u16, addr: [u8; 4]) -> Vec<u8> {
    let msg = dnsb::response(
        id,
        "rmc-c2.duckdns.org",
        1,
        &[dnsb::record(&dnsb::QNAME_PTR, 1, 60, &addr)],
    );
    let (src, dst) = (RESOLVER.parse().unwrap(), CLIENT.parse().unwrap());
    let seg = wire::udp(src, dst, 53, 5353, &msg);
    eth(&wire::ip(src, dst, wire::PROTO_UDP, 1, &seg))
}

/// A client's lone SYN to `server` (nothing answers it).
fn syn(client_port: u16, server: &str) -> Vec<u8> {
    let mut c = TcpConn::new(
        format!("{CLIENT}:{client_port}").parse().unwrap(),
        server.parse().unwrap(),
        1,
        1,
    );
    eth(&c.client(wire::tcp_flags::SYN, &[]))
}

/// Any packet of an unrelated flow on `b`: its name check drains the inbox.
fn other(port: u16) -> Vec<u8> {
    let (src, dst) = (CLIENT.parse().unwrap(), "198.18.0.1".parse().unwrap());
    let seg = wire::udp(src, dst, port, 9999, b"x");
    eth(&wire::ip(src, dst, wire::PROTO_UDP, 1, &seg))
}

fn pair() -> (Worker<Vec<Record>>, Worker<Vec<Record>>) {
    let handle = Arc::new(IocHandle::new(set()));
    let mut peers = share(2).into_iter();
    let a = Worker::new(0, WorkerConfig::default(), Arc::clone(&handle), Vec::new())
        .with_bindings(peers.next().unwrap());
    let b = Worker::new(1, WorkerConfig::default(), handle, Vec::new())
        .with_bindings(peers.next().unwrap());
    (a, b)
}

fn domain_connections(recs: &[Record]) -> Vec<&FlowRecord> {
    recs.iter()
        .filter_map(|r| match r {
            Record::Flow(f) if f.signature == Signature::DomainConnection => Some(f),
            _ => None,
        })
        .collect()
}

/// Feeds `frame` to `w`, now or through the lookahead the live capture uses.
fn feed(w: &mut Worker<Vec<Record>>, ahead: bool, ts: Nanos, frame: &[u8]) {
    if ahead {
        w.packet_ahead(ts, LinkType::ETHERNET, frame, frame.len() as u32);
    } else {
        w.packet(ts, LinkType::ETHERNET, frame, frame.len() as u32);
    }
}

#[test]
fn a_lone_syn_processed_before_the_binding_still_gets_its_1011() {
    for ahead in [false, true] {
        lone_syn_gets_its_1011(ahead);
    }
}

fn lone_syn_gets_its_1011(ahead: bool) {
    let (mut a, mut b) = pair();
    let eth_link = LinkType::ETHERNET;
    // The answer at 10 s; b sees the SYN it led to at 10.001 s, before a has even processed
    // the answer (a lags). Nothing ever answers the SYN, and b's next packets are other flows'.
    let ans = answer(7, [192, 0, 2, 99]);
    let lone = syn(40100, "192.0.2.99:443");
    feed(&mut b, ahead, 10 * SEC + 1_000_000, &lone);
    a.packet(10 * SEC, eth_link, &ans, ans.len() as u32);
    let o = other(50000);
    feed(&mut b, ahead, 10 * SEC + 2_000_000, &o);
    // Later packets of other flows: the binding is not scanned again, no second alert.
    for i in 1..5u16 {
        let o = other(50000 + i);
        feed(&mut b, ahead, 10 * SEC + u64::from(i) * SEC, &o);
    }
    a.finish();
    b.finish();
    let recs = std::mem::take(b.sink_mut());
    let hits = domain_connections(&recs);
    assert_eq!(hits.len(), 1, "ahead={ahead} {recs:#?}");
    let f = hits[0];
    assert_eq!(f.server.addr.to_string(), "192.0.2.99");
    assert_eq!(f.server.port, 443);
    assert_eq!(f.client.port, 40100);
    assert_eq!(f.action.as_str(), "attempted", "a SYN nothing answered");
    let name = f.name.as_ref().expect("name");
    assert_eq!(&*name.host, "rmc-c2.duckdns.org");
    assert_eq!(name.answers.as_deref(), Some("192.0.2.99"));
    let s = b.stats().names.bindings;
    assert_eq!((s.late, s.late_scans), (1, 1), "{s:?}");
    // One 1003 for the flow too, carrying the same name.
    let summaries = recs
        .iter()
        .filter(|r| matches!(r, Record::Flow(x) if x.signature == Signature::FlowSummary && x.client.port == 40100))
        .count();
    assert_eq!(summaries, 1);
}

#[test]
fn a_flow_older_than_the_answer_is_not_bound_late() {
    let (mut a, mut b) = pair();
    let eth_link = LinkType::ETHERNET;
    let ans = answer(7, [192, 0, 2, 99]);
    let lone = syn(40101, "192.0.2.99:443");
    // The SYN went out before the answer came back: not a connection the answer led to.
    b.packet(10 * SEC - 1, eth_link, &lone, lone.len() as u32);
    a.packet(10 * SEC, eth_link, &ans, ans.len() as u32);
    let o = other(50000);
    b.packet(10 * SEC + 2_000_000, eth_link, &o, o.len() as u32);
    b.finish();
    let recs = std::mem::take(b.sink_mut());
    assert!(domain_connections(&recs).is_empty(), "{recs:#?}");
    assert_eq!(b.stats().names.bindings.late, 0);
}

/// The names are public: an attacker can answer them with any address, as often as he likes.
/// Each batch of bindings a worker takes costs at most one scan of at most `RECENT` flows,
/// and only the flow one of the answers really binds is matched.
#[test]
fn a_flood_of_spoofed_answers_costs_at_most_one_bounded_scan_each() {
    const ANSWERS: u32 = 10_000;
    let (mut a, mut b) = pair();
    let eth_link = LinkType::ETHERNET;
    // b's ring full of lone SYNs to addresses no answer binds, but one.
    for i in 0..2 * RECENT as u32 {
        let server = format!("198.51.{}.{}:443", i / 250, 1 + i % 250);
        let s = syn(20_000 + i as u16, &server);
        b.packet(10 * SEC + u64::from(i), eth_link, &s, s.len() as u32);
    }
    let target = syn(40102, "192.0.2.99:443");
    b.packet(11 * SEC, eth_link, &target, target.len() as u32);
    let o = other(50000);
    for i in 0..ANSWERS {
        // Answer times before every flow in b's ring: the worst case, each scan walks it all.
        let addr = if i == ANSWERS / 2 {
            [192, 0, 2, 99]
        } else {
            (0xcb00_0000u32 + i).to_be_bytes()
        };
        let ans = answer(i as u16, addr);
        a.packet(9 * SEC, eth_link, &ans, ans.len() as u32);
        b.packet(12 * SEC, eth_link, &o, o.len() as u32);
    }
    a.finish();
    b.finish();
    let s = b.stats().names.bindings;
    assert!(s.inserts >= u64::from(ANSWERS), "{s:?}");
    assert!(s.late_scans <= u64::from(ANSWERS), "{s:?}");
    assert!(s.late_scans > 0, "{s:?}");
    assert!(s.late_visited <= s.late_scans * RECENT as u64, "{s:?}");
    assert_eq!(s.late, 1, "{s:?}");
    let recs = std::mem::take(b.sink_mut());
    let hits = domain_connections(&recs);
    assert_eq!(hits.len(), 1);
    assert_eq!(hits[0].client.port, 40102);
}
