//! Retro-matching by name: what the rings keep under one set, what a later set makes of it,
//! and which flows may take it.

use c2tap_pcapgen::traffic::TcpConn;

use super::tests::{chain_response, eth, run, set, udp, Set, CLIENT, RESOLVER, SEC};
use super::*;
use crate::decode::tls::build as tlsb;
use crate::flow::FlowKey;

/// A set with a name IOC (so the name path runs) that none of the traffic names.
fn before() -> Set {
    Set {
        names: vec!["unrelated.example"],
        urls: vec![],
    }
}

fn conn(client: &str, server: &str) -> TcpConn {
    TcpConn::new(client.parse().unwrap(), server.parse().unwrap(), 1, 1)
}

fn key(client: &str, server: &str) -> FlowKey {
    let c: std::net::SocketAddr = client.parse().unwrap();
    let s: std::net::SocketAddr = server.parse().unwrap();
    let ip = |a: std::net::IpAddr| crate::flow::key::addr_bits(a);
    let (lo, hi) = if (ip(c.ip()), c.port()) <= (ip(s.ip()), s.port()) {
        (c, s)
    } else {
        (s, c)
    };
    FlowKey {
        lo_addr: ip(lo.ip()),
        hi_addr: ip(hi.ip()),
        lo_port: lo.port(),
        hi_port: hi.port(),
        proto: 6,
        vlan: 0,
        vni: 0,
    }
}

#[test]
fn sni_host_and_url_seen_before_the_set_match_their_flows_newest_first() {
    let mut names = Names::default();
    let mut tls = conn("10.1.0.5:40001", "203.0.113.9:443");
    let hello = tlsb::records(&tlsb::hello("C2.Example.org.", 0), 1 << 14);
    assert_eq!(
        run(&mut names, &before(), SEC, &eth(&tls.client_data(&hello))),
        None
    );
    let mut web = conn("10.1.0.5:40002", "203.0.113.10:80");
    let get = b"GET /stage2.bin HTTP/1.1\r\nHost: Files.Example.NET\r\n\r\n";
    assert_eq!(
        run(&mut names, &before(), 2 * SEC, &eth(&web.client_data(get))),
        None
    );
    let mut other = conn("10.1.0.5:40003", "203.0.113.11:80");
    let get = b"GET /x HTTP/1.1\r\nHost: c2.example.org\r\n\r\n";
    run(
        &mut names,
        &before(),
        3 * SEC,
        &eth(&other.client_data(get)),
    );
    // The old set matches none of them.
    assert!(names.retro(&before(), 4 * SEC).flows.is_empty());
    let r = names.retro(&set(), 4 * SEC);
    let got: Vec<_> = r
        .flows
        .iter()
        .map(|f| {
            (
                f.key,
                f.at,
                f.server_is_lo,
                f.name.via,
                &*f.name.host,
                f.name.url.as_deref(),
                &*f.ioc.value,
            )
        })
        .collect();
    assert_eq!(
        got,
        [
            (
                key("10.1.0.5:40003", "203.0.113.11:80"),
                3 * SEC,
                false,
                NameVia::Http,
                "c2.example.org",
                Some("http://c2.example.org/x"),
                "c2.example.org",
            ),
            (
                key("10.1.0.5:40002", "203.0.113.10:80"),
                2 * SEC,
                false,
                NameVia::Http,
                "files.example.net",
                Some("http://files.example.net/stage2.bin"),
                "http://files.example.net/stage2.bin",
            ),
            (
                key("10.1.0.5:40001", "203.0.113.9:443"),
                SEC,
                false,
                NameVia::Sni,
                "c2.example.org",
                None,
                "c2.example.org",
            ),
        ]
    );
    assert!(!r.bound);
    assert!(names.bindings.is_empty());
}

#[test]
fn a_url_cut_by_the_ring_matches_only_its_host() {
    let mut names = Names::default();
    let mut web = conn("10.1.0.5:40002", "203.0.113.10:80");
    let long = format!(
        "GET /stage2.bin?{} HTTP/1.1\r\nHost: files.example.net\r\n\r\n",
        "a".repeat(400)
    );
    run(
        &mut names,
        &before(),
        SEC,
        &eth(&web.client_data(long.as_bytes())),
    );
    let urls = Set {
        names: vec![],
        urls: vec![("files.example.net", "/stage2.bin")],
    };
    assert!(names.retro(&urls, SEC).flows.is_empty());
    let hosts = Set {
        names: vec!["files.example.net"],
        urls: vec![],
    };
    let r = names.retro(&hosts, SEC);
    let url = r.flows[0].name.url.as_deref().unwrap();
    assert_eq!(url.len(), "http://".len() + seen::MAX_TARGET);
}

#[test]
fn only_the_flow_that_sent_the_name_and_matched_nothing_takes_it() {
    let mut names = Names::default();
    let mut tls = conn("10.1.0.5:40001", "203.0.113.9:443");
    let hello = tlsb::records(&tlsb::hello("c2.example.org", 0), 1 << 14);
    run(
        &mut names,
        &before(),
        10 * SEC,
        &eth(&tls.client_data(&hello)),
    );
    let take = |names: &mut Names, flow: &mut Flow| {
        let m = names.retro(&set(), 20 * SEC).flows.remove(0);
        names.attach_retro(flow, m)
    };
    // A newer connection on the same 5-tuple (it started after the hello).
    let mut newer = Flow::new(2, 10 * SEC + 1, true);
    assert!(!take(&mut names, &mut newer));
    assert!(newer.matched.is_none());
    // A flow that matched something since keeps its match.
    let mut matched = Flow::new(1, 5 * SEC, true);
    matched.name = Some(Arc::new(NameMatch {
        via: NameVia::Sni,
        host: Arc::from("x"),
        url: None,
        answers: None,
        ttl: None,
        answered: None,
    }));
    matched.matched = Some(crate::flow::FlowMatch {
        kind: crate::ioc::MatchKind::Exact,
        ioc: tests::ioc("x"),
        ioc_is_lo: false,
    });
    assert!(!take(&mut names, &mut matched));
    assert_eq!(matched.name.as_ref().unwrap().host.as_ref(), "x");
    // The flow that sent it, first seen mid-stream: the server is the hello's destination.
    let mut open = Flow::new(1, 5 * SEC, true);
    assert!(take(&mut names, &mut open));
    let m = open.matched.as_ref().unwrap();
    assert_eq!((m.ioc_is_lo, open.client_is_lo), (false, true));
    assert_eq!(open.name.as_ref().unwrap().via, NameVia::Sni);
    assert_eq!(names.stats().seen.retro, 1);
}

#[test]
fn a_kept_answer_matches_its_lookup_and_binds_its_addresses_within_the_ttl() {
    let mut names = Names::default();
    let r = chain_response();
    let resp = udp(RESOLVER, CLIENT, 53, 5353, &r);
    assert_eq!(run(&mut names, &before(), 10 * SEC, &resp), None);
    assert!(names.bindings.is_empty());
    // Past the longest (clamped) TTL of the answer: the lookup still matches, nothing binds.
    let late = names.retro(&set(), 10 * SEC + 121 * SEC);
    assert_eq!(late.flows.len(), 1);
    assert!(!late.bound && names.bindings.is_empty());
    let r = names.retro(&set(), 40 * SEC);
    assert!(r.bound);
    let f = &r.flows[0];
    let n = &f.name;
    assert_eq!(
        (n.via, &*n.host, n.answers.as_deref(), n.ttl, n.answered),
        (
            NameVia::Lookup,
            "c2.example.org",
            Some("192.0.2.7,2001:db8::7"),
            Some(60),
            Some(10 * SEC)
        )
    );
    // The resolver (the response's source) is the server.
    let lo_is_resolver = crate::flow::key::addr_bits(RESOLVER.parse().unwrap()) == f.key.lo_addr;
    assert_eq!(f.server_is_lo, lo_is_resolver);
    // A connection that started after the answer is via it; one open before is not.
    let k = key("10.1.0.5:40010", "192.0.2.7:443");
    let mut after = Flow::new(3, 11 * SEC, true);
    assert!(names.bound_retro(&k, &mut after));
    assert_eq!(after.name.as_ref().unwrap().via, NameVia::Connection);
    assert_eq!(after.name.as_ref().unwrap().answered, Some(10 * SEC));
    let mut before_answer = Flow::new(4, 9 * SEC, true);
    assert!(!names.bound_retro(&k, &mut before_answer));
    // A second reload does not rebind over the same answer.
    let inserts = names.stats().bindings.inserts;
    assert!(!names.retro(&set(), 41 * SEC).bound);
    assert_eq!(names.stats().bindings.inserts, inserts);
}

#[test]
fn nothing_is_kept_without_name_iocs_or_for_what_matched() {
    let mut names = Names::default();
    let empty = Set {
        names: vec![],
        urls: vec![],
    };
    let mut tls = conn("10.1.0.5:40001", "203.0.113.9:443");
    let hello = tlsb::records(&tlsb::hello("c2.example.org", 0), 1 << 14);
    let frame = eth(&tls.client_data(&hello));
    run(&mut names, &empty, SEC, &frame);
    assert!(names.retro(&set(), SEC).flows.is_empty());
    assert!(run(&mut names, &set(), SEC, &frame).is_some());
    assert!(names.retro(&set(), SEC).flows.is_empty());
}
