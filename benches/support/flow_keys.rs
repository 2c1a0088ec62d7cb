//! Flow keys for the flow benchmarks (`flow`, `flow_memory`): distinct IPv4-mapped TCP flows to
//! port 443, spread over 254 servers and 50,000 client ports.

use c2tap::flow::{EndReason, Flow, FlowKey};

/// The `n`th distinct flow.
pub fn key(n: u32) -> FlowKey {
    FlowKey {
        lo_addr: u128::from(0x0a01_0000 + n) | 0xffff_0000_0000,
        hi_addr: u128::from(0xc000_0201u32 + n % 254) | 0xffff_0000_0000,
        lo_port: 10_000 + (n % 50_000) as u16,
        hi_port: 443,
        proto: 6,
        vlan: 0,
        vni: 0,
    }
}

/// An end-of-flow callback that drops the flow.
pub fn noop(_: FlowKey, _: Flow, _: EndReason) {}
