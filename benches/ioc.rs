//! IOC set benchmarks: per-lookup cost with 2 and 200,000 IOCs (hits and misses, with and
//! without CIDRs), and the load time of generated 100k- and 1M-row ThreatFox CSV exports.
//! Run with `cargo bench --bench ioc`.

use std::hint::black_box;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::path::PathBuf;

use c2tap::ioc::{self, Endpoint, FeedSource, Filters, Ioc, IocSet, IocSetBuilder};
use criterion::{criterion_group, criterion_main, Criterion};

#[path = "../tests/feeds/threatfox_gen.rs"]
mod threatfox_gen;

/// Queries per pattern; a power of two so the index wraps with a mask.
const QUERIES: usize = 4096;

/// A deterministic xorshift so runs compare.
fn random_u32s(mut state: u32, n: usize) -> Vec<u32> {
    (0..n)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 17;
            state ^= state << 5;
            state
        })
        .collect()
}

fn blank(endpoint: Endpoint) -> Ioc {
    Ioc {
        value: endpoint.to_string(),
        port: endpoint.port(),
        malware: "Remcos".into(),
        threat_type: "botnet_cc".into(),
        confidence: Some(75),
        first_seen: None,
        last_seen: None,
        source: "bench".into(),
        reference: None,
    }
}

/// `n` random public-looking IPv4 ip:port IOCs (plus `cidrs` /24s), and the queries.
fn big_set(n: usize, cidrs: usize) -> (IocSet, Vec<(IpAddr, u16)>) {
    let mut builder = IocSetBuilder::default();
    let mut hits = Vec::new();
    for a in random_u32s(0x1234_5678, n) {
        let addr = IpAddr::V4(Ipv4Addr::from(a | 0x0100_0000));
        let endpoint = Endpoint::AddrPort(addr, 8015);
        if Endpoint::parse(&endpoint.to_string()).is_ok() {
            builder.insert(endpoint, blank(endpoint));
            hits.push((addr, 8015));
        }
    }
    for a in random_u32s(0x0bad_cafe, cidrs) {
        if let Ok(endpoint) = Endpoint::parse(&format!("{}/24", Ipv4Addr::from(a | 0x0100_0000))) {
            builder.insert(endpoint, blank(endpoint));
        }
    }
    (builder.build(), hits)
}

fn run_lookups(c: &mut Criterion, name: &str, set: &IocSet, queries: &[(IpAddr, u16)]) {
    // Cycled to exactly QUERIES entries so the loop indexes with a mask, not a division.
    let queries: Vec<(IpAddr, u16)> = queries.iter().copied().cycle().take(QUERIES).collect();
    let mut i = 0usize;
    c.bench_function(name, |b| {
        b.iter(|| {
            i = (i + 1) & (QUERIES - 1);
            let (addr, port) = queries[i];
            black_box(set.lookup(black_box(addr), Some(port)))
        })
    });
}

fn lookups(c: &mut Criterion) {
    let misses: Vec<(IpAddr, u16)> = random_u32s(0x9e37_79b9, QUERIES)
        .into_iter()
        .map(|a| (IpAddr::V4(Ipv4Addr::from(a)), 443))
        .collect();

    let builtin = IocSet::builtin();
    let builtin_hits: Vec<(IpAddr, u16)> = builtin
        .iter()
        .filter_map(|i| i.value.split(':').next()?.parse().ok())
        .map(|a| (a, 8015))
        .collect();
    run_lookups(c, "lookup/2 iocs/hit", &builtin, &builtin_hits);
    run_lookups(c, "lookup/2 iocs/miss", &builtin, &misses);

    let (set, hits) = big_set(200_000, 0);
    let hits: Vec<_> = hits.into_iter().take(QUERIES).collect();
    run_lookups(c, "lookup/200k iocs/hit", &set, &hits);
    let other_port: Vec<_> = hits.iter().map(|(a, _)| (*a, 443)).collect();
    run_lookups(c, "lookup/200k iocs/other port", &set, &other_port);
    run_lookups(c, "lookup/200k iocs/miss", &set, &misses);

    let (with_cidrs, _) = big_set(200_000, 1_000);
    run_lookups(c, "lookup/200k iocs + 1k cidrs/miss", &with_cidrs, &misses);

    let v6_misses: Vec<(IpAddr, u16)> = random_u32s(0x5151_5151, QUERIES)
        .into_iter()
        .map(|a| {
            (
                IpAddr::V6(Ipv6Addr::new(
                    0x2001,
                    0xdb8,
                    0,
                    0,
                    0,
                    0,
                    (a >> 16) as u16,
                    a as u16,
                )),
                443,
            )
        })
        .collect();
    run_lookups(c, "lookup/200k iocs/ipv6 miss", &set, &v6_misses);
}

fn loads(c: &mut Criterion) {
    let dir = std::env::temp_dir().join(format!("c2tap-ioc-bench-{}", std::process::id()));
    let _ = std::fs::create_dir_all(&dir);
    let mut group = c.benchmark_group("load threatfox csv");
    group.sample_size(10);
    for rows in [100_000u32, 1_000_000] {
        let path: PathBuf = dir.join(format!("{rows}.csv"));
        if std::fs::write(&path, threatfox_gen::threatfox_csv(rows)).is_err() {
            continue;
        }
        let sources = [FeedSource::File(path)];
        group.bench_function(format!("{rows} rows"), |b| {
            b.iter(|| {
                black_box(
                    ioc::load(&sources, &Filters::default(), 1_778_371_200).map(|l| l.set.len()),
                )
            })
        });
    }
    group.finish();
    let _ = std::fs::remove_dir_all(&dir);
}

criterion_group!(benches, lookups, loads);
criterion_main!(benches);
