//! IOC set benchmarks: per-lookup cost with 2 and 200,000 IOCs (hits and misses, with and
//! without CIDRs), the load time of generated 100k- and 1M-row ThreatFox CSV exports, and for
//! name IOCs: `match_host`/`match_url` cost at 2 and 1M names and the load time of a 1M-name
//! plain list (also printed once as `names: loaded 1000000 names in …`).
//! Run with `cargo bench --bench ioc` (names only: `cargo bench --bench ioc -- names`).

use std::hint::black_box;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::path::PathBuf;

use c2tap::ioc::{self, Endpoint, FeedSource, Filters, Ioc, IocSet, IocSetBuilder, NameKind};
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

/// `n` generated C2-like names, one per line, as a plain list would hold them.
fn name_list(n: usize) -> Vec<String> {
    random_u32s(0x0ddc_0ffe, n)
        .into_iter()
        .enumerate()
        .map(|(i, r)| format!("c2-{i}-{r:08x}.dyn{}.example.net", r % 97))
        .collect()
}

fn name_set(names: &[String], suffixes: usize, urls: usize) -> IocSet {
    let mut builder = IocSetBuilder::default();
    let meta = |value: &str| Ioc {
        value: value.to_string(),
        port: None,
        ..blank(Endpoint::Addr(IpAddr::V4(Ipv4Addr::new(1, 2, 3, 4))))
    };
    for name in names {
        builder.insert_name(NameKind::Domain, name.clone(), meta(name));
    }
    for i in 0..suffixes {
        let zone = format!("zone{i}.example.org");
        builder.insert_name(NameKind::Suffix, zone.clone(), meta(&zone));
    }
    for name in names.iter().take(urls) {
        let key = format!("{name}/gate.php");
        builder.insert_name(NameKind::Url, key.clone(), meta(&key));
    }
    builder.build()
}

fn run_hosts(c: &mut Criterion, label: &str, set: &IocSet, hosts: &[Vec<u8>]) {
    let hosts: Vec<&[u8]> = hosts
        .iter()
        .map(Vec::as_slice)
        .cycle()
        .take(QUERIES)
        .collect();
    let mut i = 0usize;
    c.bench_function(label, |b| {
        b.iter(|| {
            i = (i + 1) & (QUERIES - 1);
            black_box(set.match_host(black_box(hosts[i])).is_some())
        })
    });
}

fn names(c: &mut Criterion) {
    let misses: Vec<Vec<u8>> = random_u32s(0x7777_1234, QUERIES)
        .into_iter()
        .map(|r| format!("www.site-{r:08x}.Example.COM").into_bytes())
        .collect();
    let two = name_set(&name_list(2), 0, 0);
    let two_hits: Vec<Vec<u8>> = name_list(2)
        .iter()
        .map(|n| n.to_ascii_uppercase().into_bytes())
        .collect();
    run_hosts(c, "names/match_host/2 names/hit", &two, &two_hits);
    run_hosts(c, "names/match_host/2 names/miss", &two, &misses);

    let million = name_list(1_000_000);
    let set = name_set(&million, 0, 10_000);
    let hits: Vec<Vec<u8>> = million
        .iter()
        .step_by(997)
        .take(QUERIES)
        .map(|n| format!("{}.", n.to_ascii_uppercase()).into_bytes())
        .collect();
    run_hosts(c, "names/match_host/1M names/hit", &set, &hits);
    run_hosts(c, "names/match_host/1M names/miss", &set, &misses);
    let with_suffixes = name_set(&million, 1_000, 0);
    run_hosts(
        c,
        "names/match_host/1M names + 1k suffixes/miss",
        &with_suffixes,
        &misses,
    );
    let mut i = 0usize;
    c.bench_function("names/match_url/1M names + 10k urls/hit", |b| {
        b.iter(|| {
            i = (i + 1) % 10_000;
            let host = million[i].as_bytes();
            black_box(set.match_url(black_box(host), b"/gate.php?id=7").is_some())
        })
    });

    let dir = std::env::temp_dir().join(format!("c2tap-names-bench-{}", std::process::id()));
    let _ = std::fs::create_dir_all(&dir);
    let path = dir.join("names.txt");
    let text = format!("# malware: Remcos\n{}\n", million.join("\n"));
    if std::fs::write(&path, text).is_ok() {
        let sources = [FeedSource::File(path)];
        let load = || ioc::load(&sources, &Filters::default(), 1_778_371_200);
        let start = std::time::Instant::now();
        let loaded = load().map(|l| l.set.names().len());
        eprintln!(
            "names: loaded {loaded:?} names in {:.3} s",
            start.elapsed().as_secs_f64()
        );
        let mut group = c.benchmark_group("names/load plain list");
        group.sample_size(10);
        group.bench_function("1M names", |b| {
            b.iter(|| black_box(load().map(|l| l.set.names().len())))
        });
        group.finish();
    }
    let _ = std::fs::remove_dir_all(&dir);
}

criterion_group!(benches, lookups, loads, names);
criterion_main!(benches);
