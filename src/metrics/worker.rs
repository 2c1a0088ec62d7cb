//! Per-worker counters: the capture loop publishes a copy of its plain [`WorkerStats`] here once
//! per dispatch batch (relaxed atomic stores, no lock), and the scrape reads and sums them. The
//! packet path itself never touches an atomic or the registry.

use crate::detect::names::{NameStats, NAME_EVENTS};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex, PoisonError};

use crate::decode::DecodeError;
use crate::detect::storm::StormStats;
use crate::pipeline::WorkerStats;

use super::matches::{IocLabelGate, MatchTally};

/// One worker's published counters. Shared by the worker (writer) and the scrape (reader).
#[derive(Debug)]
pub struct WorkerCounters {
    interface: Arc<str>,
    worker: usize,
    stats: PublishedStats,
    kernel: [AtomicU64; 3],
    kernel_seen: AtomicBool,
    /// Matches by malware family and IOC, written by [`super::CountingSink`] once per record.
    pub(super) tally: Mutex<MatchTally>,
    pub(super) gate: Arc<IocLabelGate>,
}

/// Kernel (pcap) statistics as last reported.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct KernelStats {
    pub received: u64,
    pub dropped: u64,
    pub if_dropped: u64,
}

impl WorkerCounters {
    pub(super) fn new(interface: &str, worker: usize, gate: Arc<IocLabelGate>) -> WorkerCounters {
        WorkerCounters {
            interface: Arc::from(interface),
            worker,
            stats: PublishedStats::default(),
            kernel: Default::default(),
            kernel_seen: AtomicBool::new(false),
            tally: Mutex::new(MatchTally::default()),
            gate,
        }
    }

    pub fn interface(&self) -> &str {
        &self.interface
    }

    pub fn worker(&self) -> usize {
        self.worker
    }

    /// Store the worker's counters as they are now. Call once per dispatch batch (or every few
    /// thousand packets), never per packet: each call is a couple of dozen relaxed stores.
    pub fn publish(&self, s: &WorkerStats) {
        self.stats.store(s);
    }

    /// Store the capture handle's pcap statistics: cumulative values since the handle opened.
    /// libpcap's counters are 32-bit; the caller widens them so they never run backwards.
    pub fn kernel(&self, received: u64, dropped: u64, if_dropped: u64) {
        let [r, d, i] = &self.kernel;
        r.store(received, Relaxed);
        d.store(dropped, Relaxed);
        i.store(if_dropped, Relaxed);
        self.kernel_seen.store(true, Relaxed);
    }

    /// The last published counters.
    pub fn snapshot(&self) -> WorkerStats {
        self.stats.load()
    }

    /// The last reported kernel statistics; `None` when none were (replay has no kernel).
    pub fn kernel_snapshot(&self) -> Option<KernelStats> {
        if !self.kernel_seen.load(Relaxed) {
            return None;
        }
        let [r, d, i] = &self.kernel;
        Some(KernelStats {
            received: r.load(Relaxed),
            dropped: d.load(Relaxed),
            if_dropped: i.load(Relaxed),
        })
    }

    pub(super) fn tally(&self) -> MatchTally {
        self.tally
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }
}

/// [`WorkerStats`] field by field as atomics.
#[derive(Debug, Default)]
struct PublishedStats {
    packets: AtomicU64,
    bytes: AtomicU64,
    wire_len_implausible: AtomicU64,
    decode_errors: [AtomicU64; DecodeError::ALL.len()],
    fragments_unattributed: AtomicU64,
    flows_created: AtomicU64,
    flows_evicted: AtomicU64,
    flows_timed_out: AtomicU64,
    flows_active: AtomicU64,
    matches: [AtomicU64; crate::record::Signature::ALERTS.len()],
    summaries: AtomicU64,
    shadowed: AtomicU64,
    retro_matches: AtomicU64,
    flows_evicted_matched: AtomicU64,
    alerts_early: AtomicU64,
    storm_folded: [AtomicU64; 3],
    storm_records: AtomicU64,
    storm_untracked: AtomicU64,
    names: [AtomicU64; NAME_EVENTS.len()],
}

impl PublishedStats {
    fn store(&self, s: &WorkerStats) {
        self.packets.store(s.packets, Relaxed);
        self.bytes.store(s.bytes, Relaxed);
        self.wire_len_implausible
            .store(s.wire_len_implausible, Relaxed);
        for (a, v) in self.decode_errors.iter().zip(s.decode_errors) {
            a.store(v, Relaxed);
        }
        self.fragments_unattributed
            .store(s.fragments_unattributed, Relaxed);
        self.flows_created.store(s.flows_created, Relaxed);
        self.flows_evicted.store(s.flows_evicted, Relaxed);
        self.flows_timed_out.store(s.flows_timed_out, Relaxed);
        self.flows_active.store(s.flows_active, Relaxed);
        for (a, v) in self.matches.iter().zip(s.matches) {
            a.store(v, Relaxed);
        }
        self.summaries.store(s.summaries, Relaxed);
        self.shadowed.store(s.shadowed, Relaxed);
        self.retro_matches.store(s.retro_matches, Relaxed);
        self.flows_evicted_matched
            .store(s.flows_evicted_matched, Relaxed);
        self.alerts_early.store(s.alerts_early, Relaxed);
        for (a, v) in self.storm_folded.iter().zip(s.storms.folded) {
            a.store(v, Relaxed);
        }
        self.storm_records.store(s.storms.records, Relaxed);
        self.storm_untracked.store(s.storms.untracked, Relaxed);
        for (a, v) in self.names.iter().zip(s.names.events()) {
            a.store(v, Relaxed);
        }
    }

    fn load(&self) -> WorkerStats {
        WorkerStats {
            packets: self.packets.load(Relaxed),
            bytes: self.bytes.load(Relaxed),
            wire_len_implausible: self.wire_len_implausible.load(Relaxed),
            decode_errors: self.decode_errors.each_ref().map(|a| a.load(Relaxed)),
            fragments_unattributed: self.fragments_unattributed.load(Relaxed),
            flows_created: self.flows_created.load(Relaxed),
            flows_evicted: self.flows_evicted.load(Relaxed),
            flows_timed_out: self.flows_timed_out.load(Relaxed),
            flows_active: self.flows_active.load(Relaxed),
            matches: self.matches.each_ref().map(|a| a.load(Relaxed)),
            summaries: self.summaries.load(Relaxed),
            shadowed: self.shadowed.load(Relaxed),
            retro_matches: self.retro_matches.load(Relaxed),
            flows_evicted_matched: self.flows_evicted_matched.load(Relaxed),
            alerts_early: self.alerts_early.load(Relaxed),
            storms: StormStats {
                folded: self.storm_folded.each_ref().map(|a| a.load(Relaxed)),
                records: self.storm_records.load(Relaxed),
                untracked: self.storm_untracked.load(Relaxed),
            },
            names: NameStats::from_events(self.names.each_ref().map(|a| a.load(Relaxed))),
            // Packet-time anomalies are reported in the replay summary, not as metrics.
            ..WorkerStats::default()
        }
    }
}

/// Adds `s` into `acc` (the scrape's per-interface and global sums).
pub(super) fn add_stats(acc: &mut WorkerStats, s: &WorkerStats) {
    acc.packets = acc.packets.saturating_add(s.packets);
    acc.bytes = acc.bytes.saturating_add(s.bytes);
    acc.wire_len_implausible = acc
        .wire_len_implausible
        .saturating_add(s.wire_len_implausible);
    for (a, v) in acc.decode_errors.iter_mut().zip(s.decode_errors) {
        *a = a.saturating_add(v);
    }
    acc.fragments_unattributed = acc
        .fragments_unattributed
        .saturating_add(s.fragments_unattributed);
    acc.flows_created = acc.flows_created.saturating_add(s.flows_created);
    acc.flows_evicted = acc.flows_evicted.saturating_add(s.flows_evicted);
    acc.flows_timed_out = acc.flows_timed_out.saturating_add(s.flows_timed_out);
    acc.flows_active = acc.flows_active.saturating_add(s.flows_active);
    for (a, v) in acc.matches.iter_mut().zip(s.matches) {
        *a = a.saturating_add(v);
    }
    acc.summaries = acc.summaries.saturating_add(s.summaries);
    acc.shadowed = acc.shadowed.saturating_add(s.shadowed);
    acc.retro_matches = acc.retro_matches.saturating_add(s.retro_matches);
    acc.flows_evicted_matched = acc
        .flows_evicted_matched
        .saturating_add(s.flows_evicted_matched);
    acc.alerts_early = acc.alerts_early.saturating_add(s.alerts_early);
    for (a, v) in acc.storms.folded.iter_mut().zip(s.storms.folded) {
        *a = a.saturating_add(v);
    }
    acc.storms.records = acc.storms.records.saturating_add(s.storms.records);
    acc.storms.untracked = acc.storms.untracked.saturating_add(s.storms.untracked);
    let mut names = acc.names.events();
    for (a, v) in names.iter_mut().zip(s.names.events()) {
        *a = a.saturating_add(v);
    }
    acc.names = NameStats::from_events(names);
}

impl KernelStats {
    pub(super) fn add(&mut self, k: &KernelStats) {
        self.received = self.received.saturating_add(k.received);
        self.dropped = self.dropped.saturating_add(k.dropped);
        self.if_dropped = self.if_dropped.saturating_add(k.if_dropped);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn publish_then_snapshot_round_trips_every_field() {
        let gate = Arc::new(IocLabelGate::new(100));
        let w = WorkerCounters::new("eth0", 3, gate);
        // Every field named (no `..Default::default()`): a new counter that `publish` forgets
        // fails to compile here until it is given a value and round-tripped.
        let s = WorkerStats {
            packets: 1,
            bytes: 2,
            decode_errors: std::array::from_fn(|i| 100 + i as u64),
            fragments_unattributed: 3,
            flows_created: 4,
            flows_evicted: 5,
            flows_timed_out: 6,
            flows_active: 7,
            matches: [8, 9, 0, 0, 0, 0],
            summaries: 10,
            shadowed: 11,
            retro_matches: 12,
            flows_evicted_matched: 13,
            alerts_early: 14,
            storms: StormStats {
                folded: [15, 16, 17],
                records: 18,
                untracked: 19,
            },
            time_steps_back: 20,
            time_jumps: 21,
            wire_len_implausible: 22,
            names: NameStats::from_events(std::array::from_fn(|i| 200 + i as u64)),
        };
        w.publish(&s);
        // Packet-time anomalies go to the replay summary only (`load` leaves them at zero);
        // every other field comes back as published.
        let published = WorkerStats {
            time_steps_back: 0,
            time_jumps: 0,
            ..s
        };
        assert_eq!(w.snapshot(), published);
        assert_eq!((w.interface(), w.worker()), ("eth0", 3));
        assert_eq!(w.kernel_snapshot(), None);
        w.kernel(10, 2, 1);
        assert_eq!(
            w.kernel_snapshot(),
            Some(KernelStats {
                received: 10,
                dropped: 2,
                if_dropped: 1
            })
        );
        let mut sum = s;
        add_stats(&mut sum, &s);
        assert_eq!(
            (sum.packets, sum.matches, sum.decode_errors[8]),
            (2, [16, 18, 0, 0, 0, 0], 216)
        );
    }
}
