//! Memory per tracked flow, for sizing `flow.max_flows`: fills a flow table of each bound
//! (the default 500,000, and 5,000,000) with that many distinct TCP flows and prints the
//! resident memory it added, per flow. Run once: `cargo bench --bench flow_memory`.
//! Resident memory (VmRSS) is what the operator pays; the table reserves its slab up front,
//! so this is also what a full table costs.

use std::hint::black_box;

use c2tap::flow::{EndReason, Flow, FlowConfig, FlowKey, FlowTable};

fn key(n: u32) -> FlowKey {
    FlowKey {
        lo_addr: u128::from(0x0a00_0000 + n) | 0xffff_0000_0000,
        hi_addr: u128::from(0xc000_0201u32 + n % 254) | 0xffff_0000_0000,
        lo_port: 10_000 + (n % 50_000) as u16,
        hi_port: 443,
        proto: 6,
        vlan: 0,
        vni: 0,
    }
}

fn noop(_: FlowKey, _: Flow, _: EndReason) {}

/// VmRSS of this process, bytes.
fn rss() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse::<u64>().ok())
        })
        .unwrap_or(0)
        * 1024
}

fn main() {
    // `cargo bench` passes `--bench`; any other filter argument selects nothing here.
    for flows in [500_000u32, 5_000_000] {
        let before = rss();
        let mut table = FlowTable::new(FlowConfig {
            max_flows: flows as usize,
            ..FlowConfig::default()
        });
        for n in 0..flows {
            table.upsert(key(n), u64::from(n), true, &mut noop);
        }
        let added = rss().saturating_sub(before);
        println!(
            "flow_memory: {flows} flows: {:.1} MiB resident, {} bytes per flow",
            added as f64 / (1024.0 * 1024.0),
            added / u64::from(flows)
        );
        black_box(&table);
        drop(table);
    }
}
