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
