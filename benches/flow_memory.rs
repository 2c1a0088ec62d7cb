//! Memory per tracked flow, for sizing `flow.max_flows`: fills a flow table of each bound
//! (the default 500,000, and 5,000,000) with that many distinct TCP flows and prints the
//! resident memory it added, per flow. Run once: `cargo bench --bench flow_memory`.
//! Resident memory (VmRSS) is what the operator pays; the table reserves its slab up front,
//! so this is also what a full table costs.

use std::hint::black_box;

use c2tap::flow::{FlowConfig, FlowTable};

#[path = "support/flow_keys.rs"]
mod flow_keys;
use flow_keys::{key, noop};

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
