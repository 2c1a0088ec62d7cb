//! Capture-file reader throughput: packets/s of 64-byte frames from the page cache, c2tap's own
//! reader next to `pcap-parser` (the alternative it was measured against), classic pcap and pcapng.

use std::fs::File;
use std::io::BufWriter;
use std::path::Path;

use c2tap::capture::file::CaptureFile;
use c2tap_pcapgen::{write_bench, BenchSpec, Endian, Interface, PcapngWriter, Shape};
use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use pcap_parser::PcapError;

const PACKETS: u64 = 1_000_000;

fn write_files(dir: &Path) -> (std::path::PathBuf, std::path::PathBuf) {
    let pcap = dir.join("small.pcap");
    let spec = BenchSpec {
        shape: Shape::Small,
        packets: PACKETS,
        flows: 10_000,
        ioc_flows: 2,
    };
    write_bench(BufWriter::new(File::create(&pcap).unwrap()), &spec).unwrap();
    // The same frames as pcapng: re-read the pcap records and write them as EPBs.
    let bytes = std::fs::read(&pcap).unwrap();
    let ng = dir.join("small.pcapng");
    let mut w =
        PcapngWriter::new(BufWriter::new(File::create(&ng).unwrap()), Endian::Little).unwrap();
    let iface = w.interface(Interface::new(1)).unwrap();
    let mut at = 24;
    while at + 16 <= bytes.len() {
        let word = |o: usize| u32::from_le_bytes(bytes[at + o..at + o + 4].try_into().unwrap());
        let ts = u64::from(word(0)) * 1_000_000_000 + u64::from(word(4)) * 1_000;
        let caplen = word(8) as usize;
        w.epb(iface, ts, &bytes[at + 16..at + 16 + caplen]).unwrap();
        at += 16 + caplen;
    }
    drop(w);
    (pcap, ng)
}

fn c2tap_reader(path: &Path) -> u64 {
    let mut file = CaptureFile::open(path).unwrap();
    let mut sum = 0u64;
    while let Some(p) = file.next_packet().unwrap() {
        sum = sum.wrapping_add(p.ts).wrapping_add(p.data.len() as u64);
    }
    sum
}

fn pcap_parser_reader(path: &Path) -> u64 {
    let file = File::open(path).unwrap();
    let mut reader = pcap_parser::create_reader(1 << 20, file).unwrap();
    let mut sum = 0u64;
    loop {
        match reader.next() {
            Ok((offset, block)) => {
                sum = sum.wrapping_add(match block {
                    pcap_parser::PcapBlockOwned::Legacy(b) => {
                        u64::from(b.ts_sec) + b.data.len() as u64
                    }
                    pcap_parser::PcapBlockOwned::NG(pcap_parser::Block::EnhancedPacket(b)) => {
                        u64::from(b.ts_low) + b.data.len() as u64
                    }
                    _ => 0,
                });
                reader.consume(offset);
            }
            Err(PcapError::Eof) => break,
            Err(PcapError::Incomplete(_)) => reader.refill().unwrap(),
            Err(e) => panic!("{e:?}"),
        }
    }
    sum
}

fn bench_readers(c: &mut Criterion) {
    let dir = tempfile::tempdir().unwrap();
    let (pcap, ng) = write_files(dir.path());
    let mut group = c.benchmark_group("reader_64B");
    group.throughput(Throughput::Elements(PACKETS));
    group.sample_size(10);
    group.bench_function("c2tap/pcap", |b| b.iter(|| c2tap_reader(&pcap)));
    group.bench_function("pcap_parser/pcap", |b| b.iter(|| pcap_parser_reader(&pcap)));
    group.bench_function("c2tap/pcapng", |b| b.iter(|| c2tap_reader(&ng)));
    group.bench_function("pcap_parser/pcapng", |b| b.iter(|| pcap_parser_reader(&ng)));
    group.finish();
}

criterion_group!(benches, bench_readers);
criterion_main!(benches);
