//! Per-worker counters: the capture loop publishes a copy of its plain [`WorkerStats`] here once
//! per dispatch batch (relaxed atomic stores, no lock), and the scrape reads and sums them. The
//! packet path itself never touches an atomic or the registry.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex, PoisonError};

use crate::ioc::Ioc;
use crate::pipeline::stats::PUBLISHED;
use crate::pipeline::WorkerStats;
use crate::record::Signature;

use super::tally::{IocLabelGate, MatchTally, MATCH_SIGNATURES};

/// One worker's published counters. Shared by the worker (writer) and the scrape (reader).
#[derive(Debug)]
pub struct WorkerCounters {
    interface: Arc<str>,
    worker: usize,
    stats: PublishedStats,
    kernel: [AtomicU64; 3],
    kernel_seen: AtomicBool,
    /// Matches by malware family and IOC, counted by [`WorkerCounters::count_match`].
    tally: Mutex<MatchTally>,
    gate: Arc<IocLabelGate>,
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

    /// Count an alert record (by signature, malware family and, while the IOC set is small,
    /// IOC value); other records are not matches. Once per record, never per packet.
    pub fn count_match(&self, signature: Signature, ioc: &Ioc, n: u64) {
        let Some(sig) = MATCH_SIGNATURES.iter().position(|s| *s == signature) else {
            return;
        };
        let value = self.gate.is_open().then_some(ioc.value.as_str());
        self.tally
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .count(sig, &ioc.malware, value, n, self.gate.limit());
    }

    pub(super) fn tally(&self) -> MatchTally {
        self.tally
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }
}

/// [`WorkerStats::published`] as atomics: metrics stores and loads the worker's counters
/// without naming them.
#[derive(Debug)]
struct PublishedStats([AtomicU64; PUBLISHED]);

impl Default for PublishedStats {
    fn default() -> Self {
        PublishedStats(std::array::from_fn(|_| AtomicU64::new(0)))
    }
}

impl PublishedStats {
    fn store(&self, s: &WorkerStats) {
        for (a, v) in self.0.iter().zip(s.published()) {
            a.store(v, Relaxed);
        }
    }

    fn load(&self) -> WorkerStats {
        WorkerStats::from_published(&self.0.each_ref().map(|a| a.load(Relaxed)))
    }
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
    use crate::detect::storm::StormStats;

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
            names: crate::detect::names::NameStats::from_events(std::array::from_fn(|i| {
                200 + i as u64
            })),
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
        sum.add(&s);
        assert_eq!(
            (sum.packets, sum.matches, sum.decode_errors[8]),
            (2, [16, 18, 0, 0, 0, 0], 216)
        );
    }
}
