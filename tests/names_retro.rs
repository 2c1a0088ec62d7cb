//! Name IOCs that arrive while their flows are open (issue 17): a feed adds the C2 domain after
//! the implant opened its one long-lived TLS connection. The worker keeps the last names it saw
//! that matched nothing, and the reload that brings the IOC reports the open flows that named
//! it — TLS SNI (1012), HTTP Host and URL (1013), the DNS lookup (1010 with its answers) and a
//! connection to an address the lookup's answer gave (1011) — exactly once, with their true
//! start; flows that ended before, and a newer connection on a reused 5-tuple, are not.
//!
//! Drives the real worker with frames from the independent generator and IOC sets loaded
//! from feed files; the new set is swapped in mid-stream as a feed reload does.

use std::net::IpAddr;
use std::sync::Arc;

use c2tap::decode::dns::build as dnsb;
use c2tap::decode::dns::TYPE_A;
use c2tap::decode::tls::build as tlsb;
use c2tap::decode::LinkType;
use c2tap::detect::IocHandle;
use c2tap::ioc::{self, FeedSource, Filters, IocSet};
use c2tap::pipeline::{Worker, WorkerConfig};
use c2tap::record::{FlowRecord, Record, Signature};
use c2tap::time::{Nanos, NANOS_PER_SEC};
use c2tap_pcapgen::traffic::TcpConn;
use c2tap_pcapgen::wire;

const SEC: Nanos = NANOS_PER_SEC;
const T0: Nanos = 1_780_000_000 * SEC;

fn set(lines: &str) -> IocSet {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("names.txt");
    std::fs::write(&path, lines).expect("write feed");
    let set = ioc::load(
        &[FeedSource::File(path)],
        &Filters::default(),
        1_780_000_000,
    )
    .expect("feed loads")
    .set;
    assert!(set.has_names());
    set
}

fn eth(ip: &[u8]) -> Vec<u8> {
    wire::ethernet([2; 6], [4; 6], &[], wire::ip_ethertype(ip), ip)
}

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

fn udp(src: &str, dst: &str, sport: u16, dport: u16, payload: &[u8]) -> Vec<u8> {
    let seg = wire::udp(ip(src), ip(dst), sport, dport, payload);
    eth(&wire::ip(ip(src), ip(dst), wire::PROTO_UDP, 1, &seg))
}

fn conn(client: &str, server: &str) -> TcpConn {
    TcpConn::new(client.parse().unwrap(), server.parse().unwrap(), 7, 9)
}

fn flow_records(w: &mut Worker<Vec<Record>>) -> Vec<FlowRecord> {
    w.sink_mut()
        .iter()
        .filter_map(|r| match r {
            Record::Flow(f) => Some(f.clone()),
            Record::Health(_) => None,
        })
        .collect()
}

struct Rig {
    handle: Arc<IocHandle>,
    w: Worker<Vec<Record>>,
}

impl Rig {
    fn new() -> Rig {
        // The name path runs only while some name IOC is loaded: a set that names none of the
        // traffic below.
        let handle = Arc::new(IocHandle::new(set("unrelated.example\n")));
        let w = Worker::new(0, WorkerConfig::default(), Arc::clone(&handle), Vec::new());
        Rig { handle, w }
    }

    fn send(&mut self, t: Nanos, frame: &[u8]) {
        self.w
            .packet(T0 + t, LinkType::ETHERNET, frame, frame.len() as u32);
    }

    fn tcp(&mut self, t: Nanos, ips: Vec<Vec<u8>>) {
        for p in ips {
            self.send(t, &eth(&p));
        }
    }

    fn records(&mut self) -> Vec<FlowRecord> {
        flow_records(&mut self.w)
    }
}

/// (signature, act, client, server, start, dhost, request, answers, ttl)
type Row = (
    u16,
    &'static str,
    String,
    String,
    Nanos,
    String,
    Option<String>,
    Option<String>,
    Option<u32>,
);

fn rows(recs: &[FlowRecord], alerts: bool) -> Vec<Row> {
    let mut rows: Vec<Row> = recs
        .iter()
        .filter(|r| (r.signature != Signature::FlowSummary) == alerts)
        .map(|r| {
            let n = r.name.as_ref().expect("a name record carries its name");
            (
                r.signature.id(),
                r.action.as_str(),
                format!("{}:{}", r.client.addr, r.client.port),
                format!("{}:{}", r.server.addr, r.server.port),
                r.start - T0,
                n.host.to_string(),
                n.url.as_deref().map(str::to_string),
                n.answers.as_deref().map(str::to_string),
                n.ttl,
            )
        })
        .collect();
    rows.sort();
    rows
}

#[allow(clippy::too_many_arguments)]
fn row(
    sig: u16,
    act: &'static str,
    client: &str,
    server: &str,
    start: Nanos,
    host: &str,
    url: Option<&str>,
    answers: Option<&str>,
    ttl: Option<u32>,
) -> Row {
    (
        sig,
        act,
        client.into(),
        server.into(),
        start,
        host.into(),
        url.map(Into::into),
        answers.map(Into::into),
        ttl,
    )
}

/// The lookup of dl.example.net at 4 s, answered with 192.0.2.7 (TTL 300).
fn lookup_row() -> Row {
    row(
        1010,
        "observed",
        "10.1.0.5:5353",
        "10.1.0.53:53",
        4 * SEC,
        "dl.example.net",
        None,
        Some("192.0.2.7"),
        Some(300),
    )
}

/// The connection to 192.0.2.7:443 at 5 s that the lookup led to.
fn connection_row() -> Row {
    row(
        1011,
        "established",
        "10.1.0.5:40004",
        "192.0.2.7:443",
        5 * SEC,
        "dl.example.net",
        None,
        Some("192.0.2.7"),
        Some(300),
    )
}

fn hello(name: &str) -> Vec<u8> {
    tlsb::records(&tlsb::hello(name, 0), 1 << 14)
}

#[test]
fn open_flows_that_named_a_domain_before_it_became_an_ioc_are_reported_at_the_reload() {
    let mut r = Rig::new();
    // A: the implant's long-lived TLS connection, SNI named at 1 s.
    let mut a = conn("10.1.0.5:40001", "203.0.113.9:443");
    r.tcp(SEC, a.handshake());
    r.tcp(SEC, vec![a.client_data(&hello("C2.Example.org."))]);
    // B: HTTP to a host under a suffix IOC; G: HTTP to a URL IOC.
    let mut b = conn("10.1.0.5:40002", "203.0.113.10:80");
    r.tcp(2 * SEC, b.handshake());
    r.tcp(
        2 * SEC,
        vec![b.client_data(b"GET /poll HTTP/1.1\r\nHost: www.evil.example\r\n\r\n")],
    );
    let mut g = conn("10.1.0.5:40003", "203.0.113.11:80");
    r.tcp(3 * SEC, g.handshake());
    r.tcp(
        3 * SEC,
        vec![g.client_data(b"GET /stage2.bin HTTP/1.1\r\nHost: files.example.net\r\n\r\n")],
    );
    // C: a connection to 192.0.2.7 open before the lookup that returns it (not via it).
    let mut early = conn("10.1.0.5:40007", "192.0.2.7:8443");
    r.tcp(3 * SEC, early.handshake());
    // The lookup of dl.example.net at 4 s, answered with 192.0.2.7 (TTL 300).
    let q = dnsb::query(5, "dl.example.net", TYPE_A);
    r.send(4 * SEC, &udp("10.1.0.5", "10.1.0.53", 5353, 53, &q));
    let ans = dnsb::response(
        5,
        "dl.example.net",
        TYPE_A,
        &[dnsb::record(&dnsb::QNAME_PTR, TYPE_A, 300, &[192, 0, 2, 7])],
    );
    r.send(4 * SEC, &udp("10.1.0.53", "10.1.0.5", 53, 5353, &ans));
    // D: the connection the answer led to.
    let mut d = conn("10.1.0.5:40004", "192.0.2.7:443");
    r.tcp(5 * SEC, d.handshake());
    // E: named c2.example.org too, but closed and gone before the IOC arrives.
    let mut e = conn("10.1.0.5:40005", "203.0.113.9:443");
    r.tcp(SEC, e.handshake());
    r.tcp(SEC, vec![e.client_data(&hello("c2.example.org"))]);
    r.tcp(SEC + SEC / 2, e.close());
    // F: named it, closed, and its 5-tuple reused by a newer connection that named nothing.
    let mut f = conn("10.1.0.5:40006", "203.0.113.9:443");
    r.tcp(SEC, f.handshake());
    r.tcp(SEC, vec![f.client_data(&hello("c2.example.org"))]);
    r.tcp(2 * SEC, f.close());
    let mut f2 = conn("10.1.0.5:40006", "203.0.113.9:443");
    r.tcp(3 * SEC, f2.handshake());
    // Time passes: E's closed flow times out (F's newer connection and the others stay).
    r.tcp(20 * SEC, vec![a.client_data(b"\x17\x03\x03\x00\x01x")]);
    r.tcp(20 * SEC, vec![f2.client_data(b"\x17\x03\x03\x00\x01x")]);
    assert!(r.records().is_empty(), "{:?}", r.records());

    r.handle.replace(set(concat!(
        "c2.example.org\n",
        "*.evil.example\n",
        "http://files.example.net/stage2.bin\n",
        "dl.example.net\n",
    )));
    // The worker takes the new set at its next packet, of any flow.
    r.send(30 * SEC, &udp("10.1.0.9", "10.1.0.10", 1000, 2000, b"x"));
    let want = vec![
        lookup_row(),
        connection_row(),
        row(
            1012,
            "established",
            "10.1.0.5:40001",
            "203.0.113.9:443",
            SEC,
            "c2.example.org",
            None,
            None,
            None,
        ),
        row(
            1013,
            "established",
            "10.1.0.5:40002",
            "203.0.113.10:80",
            2 * SEC,
            "www.evil.example",
            Some("http://www.evil.example/poll"),
            None,
            None,
        ),
        row(
            1013,
            "established",
            "10.1.0.5:40003",
            "203.0.113.11:80",
            3 * SEC,
            "files.example.net",
            Some("http://files.example.net/stage2.bin"),
            None,
            None,
        ),
    ];
    assert_eq!(rows(&r.records(), true), want);
    let recs = r.records();
    let ioc_of = |port: u16| {
        recs.iter()
            .find(|x| x.client.port == port)
            .map(|x| x.ioc.value.clone())
    };
    assert_eq!(ioc_of(40001).as_deref(), Some("c2.example.org"));
    assert_eq!(ioc_of(40002).as_deref(), Some("*.evil.example"));
    assert_eq!(
        ioc_of(40003).as_deref(),
        Some("http://files.example.net/stage2.bin")
    );
    let st = r.w.stats();
    assert_eq!(st.retro_matches, 5);
    assert_eq!(st.names.seen.retro, 5);

    // Later packets of the reported flows make no second alert; each ends with one 1003
    // carrying the same name facts.
    r.tcp(31 * SEC, vec![a.client_data(b"\x17\x03\x03\x00\x01y")]);
    r.w.finish();
    let recs = r.records();
    assert_eq!(rows(&recs, true), want);
    let summaries: Vec<Row> = rows(&recs, false)
        .into_iter()
        .map(|mut s| {
            s.0 = 0;
            s.1 = "";
            s
        })
        .collect();
    let mut alerts = want.clone();
    for a in &mut alerts {
        a.0 = 0;
        a.1 = "";
    }
    alerts.sort();
    assert_eq!(summaries, alerts);
}

#[test]
fn a_name_the_ring_no_longer_holds_is_not_reported_and_the_churn_is_counted() {
    let mut r = Rig::new();
    let mut a = conn("10.1.0.5:40001", "203.0.113.9:443");
    r.tcp(SEC, a.handshake());
    r.tcp(SEC, vec![a.client_data(&hello("c2.example.org"))]);
    // 4,096 later lookups of other names rotate the worker's DNS ring, not its client ring:
    // the hello is still there.
    for i in 0..4100u16 {
        let q = dnsb::query(i, &format!("n{i}.flood.example"), TYPE_A);
        r.send(2 * SEC, &udp("10.1.0.66", "10.1.0.53", 1024 + i, 53, &q));
    }
    assert_eq!(r.w.stats().names.seen.overwritten, 4);
    // 4,096 later hellos of other names push it out.
    for i in 0..4096u16 {
        let mut c = conn(
            &format!("10.1.1.{}:{}", i % 200 + 1, 1024 + i),
            "203.0.113.20:443",
        );
        r.tcp(
            3 * SEC,
            vec![c.client_data(&hello(&format!("h{i}.example")))],
        );
    }
    assert_eq!(r.w.stats().names.seen.overwritten, 5);
    r.handle.replace(set("c2.example.org\n"));
    r.tcp(4 * SEC, vec![a.client_data(b"\x17\x03\x03\x00\x01x")]);
    assert!(r.records().is_empty());
    assert_eq!(r.w.stats().retro_matches, 0);
}

/// A packet read with the old set, still held by the lookahead when the new set arrives: the
/// worker processes the frames it holds before it takes the set, so the retro walk finds the
/// flow that packet creates.
#[test]
fn a_flow_whose_naming_packet_was_not_processed_at_the_reload_is_reported_too() {
    for ahead in [false, true] {
        let mut r = Rig::new();
        let send = |r: &mut Rig, t: Nanos, frame: &[u8]| {
            let len = frame.len() as u32;
            if ahead {
                r.w.packet_ahead(T0 + t, LinkType::ETHERNET, frame, len);
            } else {
                r.w.packet(T0 + t, LinkType::ETHERNET, frame, len);
            }
        };
        for i in 0..20u16 {
            send(
                &mut r,
                SEC,
                &udp("10.1.0.9", "10.1.0.10", 1000 + i, 2000, b"x"),
            );
        }
        // Its first packet is the hello (first seen mid-stream), read with the old set; the
        // new set arrives while the lookahead still holds it.
        let mut a = conn("10.1.0.5:40001", "203.0.113.9:443");
        send(
            &mut r,
            2 * SEC,
            &eth(&a.client_data(&hello("c2.example.org"))),
        );
        r.handle.replace(set("c2.example.org\n"));
        for i in 0..20u16 {
            let t = 2 * SEC + u64::from(i + 1) * SEC / 20;
            send(
                &mut r,
                t,
                &udp("10.1.0.9", "10.1.0.10", 3000 + i, 2000, b"x"),
            );
        }
        r.w.flush();
        let got = rows(&r.records(), true);
        assert_eq!(
            got,
            [row(
                1012,
                "observed",
                "10.1.0.5:40001",
                "203.0.113.9:443",
                2 * SEC,
                "c2.example.org",
                None,
                None,
                None,
            )],
            "ahead={ahead}"
        );
    }
}

/// Two workers of one interface: the lookup reached one, the connection it led to the other.
/// The bindings the reload makes from the kept answer go to the other worker, which takes the
/// new set before it reads them (a worker drops bindings of names its own set does not list),
/// and reports the open connection (among the flows it created last, or from its next packet).
#[test]
fn a_kept_answer_binds_on_the_other_workers_too() {
    kept_answer_on_two_workers(true);
}

/// The other worker saw no packet between the reload and the announcement: its next packet
/// takes the new set before it reads its inbox, so the binding (made with the new set) is not
/// dropped as a name its old set does not list.
#[test]
fn an_idle_worker_takes_a_kept_answer_made_by_a_reload_elsewhere() {
    kept_answer_on_two_workers(false);
}

fn kept_answer_on_two_workers(web_busy: bool) {
    let handle = Arc::new(IocHandle::new(set("unrelated.example\n")));
    let mut peers = c2tap::detect::names::shared::share(2).into_iter();
    let mut mk = |id| {
        Worker::new(id, WorkerConfig::default(), Arc::clone(&handle), Vec::new())
            .with_bindings(peers.next().unwrap())
    };
    let (mut dns, mut web) = (mk(0), mk(1));
    let send = |w: &mut Worker<Vec<Record>>, t: Nanos, frame: &[u8]| {
        w.packet(T0 + t, LinkType::ETHERNET, frame, frame.len() as u32);
    };
    let ans = dnsb::response(
        5,
        "dl.example.net",
        TYPE_A,
        &[dnsb::record(&dnsb::QNAME_PTR, TYPE_A, 300, &[192, 0, 2, 7])],
    );
    send(
        &mut dns,
        4 * SEC,
        &udp("10.1.0.53", "10.1.0.5", 53, 5353, &ans),
    );
    let mut d = conn("10.1.0.5:40004", "192.0.2.7:443");
    for p in d.handshake() {
        send(&mut web, 5 * SEC, &eth(&p));
    }
    handle.replace(set("dl.example.net\n"));
    let other = |port| udp("10.1.0.9", "10.1.0.10", port, 2000, b"x");
    send(&mut dns, 30 * SEC, &other(1000));
    if web_busy {
        send(&mut web, 30 * SEC, &other(1001));
    }
    send(&mut dns, 30 * SEC + SEC / 5, &other(1002));
    send(
        &mut web,
        31 * SEC,
        &eth(&d.client_data(b"\x17\x03\x03\x00\x01x")),
    );
    web.finish();
    dns.finish();
    assert_eq!(rows(&flow_records(&mut web), true), [connection_row()]);
    assert_eq!(rows(&flow_records(&mut dns), true), [lookup_row()]);
}
