//! The rings that keep names for retro-matching (issue 17) are allocated once: once they are
//! full, a DNS lookup, TLS hello or HTTP request that matches nothing is kept (overwriting the
//! oldest entry) without any allocation. Counted with an allocator that counts the test
//! thread's allocations only while asked to.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::net::IpAddr;

use c2tap::decode::dns::build as dnsb;
use c2tap::decode::dns::TYPE_A;
use c2tap::decode::tls::build as tlsb;
use c2tap::decode::{decode, LinkType};
use c2tap::detect::names::Names;
use c2tap::ioc::{self, FeedSource, Filters};
use c2tap::time::NANOS_PER_SEC;
use c2tap_pcapgen::traffic::TcpConn;
use c2tap_pcapgen::wire;

struct Counting;

thread_local! {
    static COUNTING: Cell<bool> = const { Cell::new(false) };
    static COUNT: Cell<u64> = const { Cell::new(0) };
}

// A global allocator is an unsafe trait; each block says why it is sound.
#[allow(unsafe_code)]
// SAFETY: forwards to the system allocator unchanged; only counts (thread-local `Cell`s with
// const initialisers, which do not allocate).
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        if COUNTING.with(Cell::get) {
            COUNT.with(|c| c.set(c.get() + 1));
        }
        // SAFETY: the caller's contract is passed on unchanged.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: `ptr` came from `System.alloc` with this layout.
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static ALLOC: Counting = Counting;

fn eth(ip: &[u8]) -> Vec<u8> {
    wire::ethernet([2; 6], [4; 6], &[], wire::ip_ethertype(ip), ip)
}

fn frames(from: u16, n: u16) -> Vec<Vec<u8>> {
    let ip = |s: &str| s.parse::<IpAddr>().unwrap();
    let mut out = Vec::new();
    for i in from..from + n {
        let q = dnsb::query(i, &format!("n{i}.example"), TYPE_A);
        let seg = wire::udp(ip("10.1.0.5"), ip("10.1.0.53"), 1024 + i, 53, &q);
        out.push(eth(&wire::ip(
            ip("10.1.0.5"),
            ip("10.1.0.53"),
            wire::PROTO_UDP,
            1,
            &seg,
        )));
        let client = format!("10.1.{}.{}:{}", i / 250, i % 250 + 1, 1024 + i);
        let mut c = TcpConn::new(
            client.parse().unwrap(),
            "203.0.113.9:443".parse().unwrap(),
            1,
            1,
        );
        let hello = tlsb::records(&tlsb::hello(&format!("h{i}.example"), 0), 1 << 14);
        out.push(eth(&c.client_data(&hello)));
        let mut w = TcpConn::new(
            client.parse().unwrap(),
            "203.0.113.9:80".parse().unwrap(),
            1,
            1,
        );
        let get = format!("GET /p{i} HTTP/1.1\r\nHost: w{i}.example\r\n\r\n");
        out.push(eth(&w.client_data(get.as_bytes())));
    }
    out
}

#[test]
fn full_rings_keep_names_without_allocating() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("names.txt");
    std::fs::write(&path, "unrelated.example\n").unwrap();
    let set = ioc::load(
        &[FeedSource::File(path)],
        &Filters::default(),
        1_780_000_000,
    )
    .unwrap()
    .set;
    let mut names = Names::default();
    let warm = frames(0, 4200);
    let more = frames(4200, 1000);
    let metas: Vec<_> = more.iter().map(|f| decode(LinkType::ETHERNET, f)).collect();
    for f in &warm {
        let meta = decode(LinkType::ETHERNET, f);
        assert!(names.inspect(&set, NANOS_PER_SEC, f, &meta).is_none());
    }
    let before = names.stats().seen.overwritten;
    COUNTING.with(|c| c.set(true));
    for (f, meta) in more.iter().zip(&metas) {
        let found = names.inspect(&set, 2 * NANOS_PER_SEC, f, meta);
        assert!(found.is_none());
    }
    COUNTING.with(|c| c.set(false));
    assert_eq!(
        COUNT.with(Cell::get),
        0,
        "allocations while the rings were full"
    );
    // Every one of those 3,000 names was kept, each overwriting an older one.
    assert_eq!(names.stats().seen.overwritten - before, 3000);
}
