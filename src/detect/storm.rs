//! Contact storms: one IOC touched by more new flows per window than a threshold. Spoofed SYNs
//! "from" a public C2 address to every internal host:port cost an attacker nothing and would
//! otherwise give two records per packet (1001 + 1003), each with a new client, so the output
//! aggregation (per client) cannot fold them. During a storm the IOC's flows are counted into
//! one 1005 record per IOC and window instead; per-flow records resume when a window passes
//! with at most the threshold of new flows.
//!
//! A storm does not hide a real session: a flow whose handshake completed (`act=established`)
//! still gets its own records, up to the threshold per window (a spoofer who also fakes
//! handshakes is folded beyond that). Nothing is dropped silently: every folded record counts
//! in [`StormStats`] and in the `cnt` of a 1005.
//!
//! Per worker (with fanout each worker sees its share of a flood), keyed by IOC value, bounded
//! ([`MAX_IOCS`] IOCs, one small estimator each). Only matched flows reach this module.

use std::collections::BTreeMap;
use std::net::IpAddr;

use crate::record::{Action, FlowRecord, Record, Signature, Totals};
use crate::time::{Nanos, NANOS_PER_SEC};

/// IOCs whose storm state is kept at once. Past this, new IOCs are not storm-tracked (their
/// flows get per-flow records as usual: more records, nothing lost) and the miss is counted.
pub const MAX_IOCS: usize = 1024;

/// Ranges shared by the command line (`replay --storm-flows/--storm-window-ms`) and the config
/// file (`flow.storm_flows`, `flow.storm_window`).
pub mod limits {
    use std::ops::RangeInclusive;

    /// New flows per window to one IOC beyond which it is a storm; 0 = off.
    pub const FLOWS: RangeInclusive<u64> = 0..=1_000_000;
    /// Window in ms: a second to an hour.
    pub const WINDOW_MS: RangeInclusive<u64> = 1_000..=3_600_000;
}

/// Threshold and window of storm detection; `flows == 0` turns it off.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct StormConfig {
    /// More new flows than this to one IOC within one window is a storm.
    pub flows: u32,
    pub window: Nanos,
}

impl Default for StormConfig {
    /// 100 new flows per 10 s to one IOC, per worker. A handful of infected hosts beaconing
    /// every second stays well below (and the output's per-client aggregation folds their
    /// repeats); 10 new connections a second to one C2 address from ever new peers is a
    /// scan, a flood or a spoofer, and 1005 records are what an analyst can read of it.
    fn default() -> Self {
        StormConfig {
            flows: 100,
            window: 10 * NANOS_PER_SEC,
        }
    }
}

/// What storms replaced, for the metrics.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct StormStats {
    /// Records folded into 1005s instead of being sent: [1001, 1002, 1003].
    pub folded: [u64; 3],
    /// 1005 records sent.
    pub records: u64,
    /// New matched flows of IOCs that could not be tracked ([`MAX_IOCS`] reached).
    pub untracked: u64,
}

pub struct Storms {
    cfg: StormConfig,
    iocs: BTreeMap<Box<str>, IocStorm>,
    pub stats: StormStats,
}

struct IocStorm {
    window_start: Nanos,
    /// New matched flows to this IOC in the current window.
    new_flows: u32,
    storming: bool,
    /// Established flows given their own records during this storm window.
    own_records: u32,
    folded: Option<Folded>,
}

/// The flows folded since the last 1005 of an IOC.
struct Folded {
    /// The latest folded alert: the 1005 takes its IOC, endpoints (a sample), interface.
    sample: FlowRecord,
    count: u64,
    first: Nanos,
    last: Nanos,
    totals: Totals,
    peers: Distinct,
}

impl Storms {
    pub fn new(cfg: StormConfig) -> Storms {
        Storms {
            cfg,
            iocs: BTreeMap::new(),
            stats: StormStats::default(),
        }
    }

    /// A flow newly matched `ioc` at `now`. A window of this IOC that ended first sends its
    /// 1005 through `emit`.
    pub fn new_flow(&mut self, ioc: &str, now: Nanos, emit: &mut dyn FnMut(Record)) {
        if self.cfg.flows == 0 {
            return;
        }
        let (cfg, stats) = (self.cfg, &mut self.stats);
        if let Some(storm) = self.iocs.get_mut(ioc) {
            storm.count_new_flow(now, cfg, &mut stats.records, emit);
            return;
        }
        if self.iocs.len() >= MAX_IOCS {
            stats.untracked += 1;
            return;
        }
        let mut fresh = IocStorm {
            window_start: now,
            new_flows: 0,
            storming: false,
            own_records: 0,
            folded: None,
        };
        fresh.count_new_flow(now, cfg, &mut stats.records, emit);
        self.iocs.insert(ioc.into(), fresh);
    }

    /// The alert `rec` of a flow is due: handed back to be sent, or None when it is folded
    /// into its IOC's storm (the caller then marks the flow so its summary is folded too).
    pub fn fold_alert(&mut self, rec: FlowRecord) -> Option<FlowRecord> {
        let threshold = self.cfg.flows;
        let Some(storm) = self.iocs.get_mut(rec.ioc.value.as_str()) else {
            return Some(rec);
        };
        if !storm.storming {
            return Some(rec);
        }
        if rec.action == Action::Established && storm.own_records < threshold {
            storm.own_records += 1;
            return Some(rec);
        }
        // The far side of the IOC: its clients, or the hosts it opened connections to.
        let peer = if rec.ioc_is_server {
            rec.client.addr
        } else {
            rec.server.addr
        };
        let i = usize::from(rec.signature == Signature::IocAddressMatch);
        if let Some(n) = self.stats.folded.get_mut(i) {
            *n += 1;
        }
        match &mut storm.folded {
            Some(f) => {
                f.count += 1;
                f.first = f.first.min(rec.start);
                f.last = f.last.max(rec.end);
                add_totals(&mut f.totals, &rec.totals);
                f.peers.insert(peer);
                f.sample = rec;
            }
            None => {
                let mut peers = Distinct::default();
                peers.insert(peer);
                storm.folded = Some(Folded {
                    count: 1,
                    first: rec.start,
                    last: rec.end,
                    totals: rec.totals,
                    peers,
                    sample: rec,
                });
            }
        }
        None
    }

    /// The summary of a flow whose alert was folded: it is part of that storm too.
    pub fn fold_summary(&mut self) {
        self.stats.folded[2] += 1;
    }

    /// Timer tick: every IOC whose window ended sends its 1005 (if flows were folded) and
    /// starts a new window; an IOC with no storm and nothing left is forgotten.
    pub fn tick(&mut self, now: Nanos, emit: &mut dyn FnMut(Record)) {
        let (cfg, records) = (self.cfg, &mut self.stats.records);
        self.iocs.retain(|_, storm| {
            storm.roll(now, cfg, records, emit);
            storm.storming || storm.new_flows > 0 || storm.folded.is_some()
        });
    }

    /// End of capture or shutdown: every storm still open sends its 1005 now.
    pub fn finish(&mut self, emit: &mut dyn FnMut(Record)) {
        for (_, storm) in std::mem::take(&mut self.iocs) {
            if let Some(f) = storm.folded {
                self.stats.records += 1;
                emit(f.record());
            }
        }
    }
}

impl IocStorm {
    fn count_new_flow(
        &mut self,
        now: Nanos,
        cfg: StormConfig,
        records: &mut u64,
        emit: &mut dyn FnMut(Record),
    ) {
        self.roll(now, cfg, records, emit);
        self.new_flows = self.new_flows.saturating_add(1);
        if self.new_flows > cfg.flows {
            self.storming = true;
        }
    }

    /// Close the window if `now` is past it: send the 1005 of what it folded, and keep
    /// storming only if it had more new flows than the threshold and was the window right
    /// before `now`'s (windows are aligned to the first flow, so a quiet stretch of several
    /// windows ends the storm too).
    fn roll(
        &mut self,
        now: Nanos,
        cfg: StormConfig,
        records: &mut u64,
        emit: &mut dyn FnMut(Record),
    ) {
        let window = cfg.window.max(1);
        let elapsed = now.saturating_sub(self.window_start) / window;
        if elapsed == 0 {
            return;
        }
        if let Some(f) = self.folded.take() {
            *records += 1;
            emit(f.record());
        }
        self.storming = elapsed == 1 && self.new_flows > cfg.flows;
        self.new_flows = 0;
        self.own_records = 0;
        self.window_start = self
            .window_start
            .saturating_add(elapsed.saturating_mul(window));
    }
}

impl Folded {
    fn record(self) -> Record {
        let mut rec = self.sample;
        rec.signature = Signature::ContactStorm;
        rec.action = Action::Storm;
        rec.start = self.first;
        rec.end = self.last;
        rec.totals = self.totals;
        rec.count = u32::try_from(self.count).unwrap_or(u32::MAX);
        rec.clients = self.peers.estimate();
        Record::Flow(rec)
    }
}

fn add_totals(sum: &mut Totals, t: &Totals) {
    sum.packets_to_server = sum.packets_to_server.saturating_add(t.packets_to_server);
    sum.bytes_to_server = sum.bytes_to_server.saturating_add(t.bytes_to_server);
    sum.packets_to_client = sum.packets_to_client.saturating_add(t.packets_to_client);
    sum.bytes_to_client = sum.bytes_to_client.saturating_add(t.bytes_to_client);
}

/// Addresses counted exactly up to this many (4 KiB), estimated beyond.
const EXACT: usize = 256;
/// HyperLogLog registers: standard error 1.04/sqrt(256) = 6.5 %, 256 bytes.
const REGISTERS: usize = 256;

/// Distinct addresses in bounded memory: exact for the small storms a fixture or a test
/// holds, a HyperLogLog estimate for a flood.
struct Distinct {
    exact: Vec<u128>,
    overflowed: bool,
    registers: [u8; REGISTERS],
}

impl Default for Distinct {
    fn default() -> Self {
        Distinct {
            exact: Vec::new(),
            overflowed: false,
            registers: [0; REGISTERS],
        }
    }
}

impl Distinct {
    fn insert(&mut self, addr: IpAddr) {
        let bits = match addr {
            IpAddr::V4(a) => u128::from(u32::from(a)),
            IpAddr::V6(a) => u128::from(a),
        };
        let h = mix(bits);
        let idx = (h >> 56) as usize;
        let rank = ((h << 8) | 0x80).leading_zeros() as u8 + 1;
        if let Some(r) = self.registers.get_mut(idx) {
            *r = (*r).max(rank);
        }
        if !self.overflowed && !self.exact.contains(&bits) {
            if self.exact.len() < EXACT {
                self.exact.push(bits);
            } else {
                self.overflowed = true;
                self.exact = Vec::new();
            }
        }
    }

    fn estimate(&self) -> u64 {
        if !self.overflowed {
            return self.exact.len() as u64;
        }
        let m = REGISTERS as f64;
        let sum: f64 = self
            .registers
            .iter()
            .map(|&r| 2f64.powi(-i32::from(r)))
            .sum();
        let zeros = self.registers.iter().filter(|&&r| r == 0).count();
        let raw = 0.7213 / (1.0 + 1.079 / m) * m * m / sum;
        let e = if raw <= 2.5 * m && zeros > 0 {
            m * (m / zeros as f64).ln()
        } else {
            raw
        };
        (e.round() as u64).max(EXACT as u64 + 1)
    }
}

/// A fixed 64-bit mix of an address (deterministic: the same capture gives the same record).
fn mix(bits: u128) -> u64 {
    let mut x = (bits as u64) ^ ((bits >> 64) as u64).rotate_left(29) ^ 0x9e37_79b9_7f4a_7c15;
    x = (x ^ (x >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    x ^ (x >> 31)
}

#[cfg(test)]
#[path = "storm_tests.rs"]
mod tests;
