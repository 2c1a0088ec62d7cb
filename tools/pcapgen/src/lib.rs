//! c2tap-pcapgen: the independent source of truth for c2tap's tests and benchmarks. It writes
//! frames byte by byte (it shares no code with the sensor it checks), wraps them in every link
//! type and tunnel a span port delivers, and writes them as classic pcap or pcapng.
//!
//! `fixtures` builds the described fixture set under `pcaps/`; `bench` streams large captures in
//! the benchmark traffic shapes.

pub mod bench;
pub mod bench_names;
pub mod fixtures;
pub mod traffic;
pub mod wire;
pub mod writer;

pub use bench::{write_bench, write_flood, BenchSpec, BenchSummary, FloodSpec, Shape};
pub use fixtures::{
    all_fixtures, file_names, write_fixtures, Expect, FixtureInfo, FlowNote, IocSource,
};
pub use writer::{Endian, Interface, PcapFormat, PcapWriter, PcapngWriter};
