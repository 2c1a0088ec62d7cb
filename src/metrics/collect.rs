//! The scrape: a `prometheus` [`Collector`] that, when the registry is gathered, reads every
//! worker's published counters, sums them per interface, and turns them, the feed state and the
//! outputs' counters into metric families. All work happens here, on the scrape's thread; the
//! workers only ever stored numbers.

use crate::detect::names::NAME_EVENTS;
use std::collections::BTreeMap;
use std::sync::{Arc, PoisonError};

use prometheus::core::{Collector, Desc};
use prometheus::proto::{self, MetricFamily, MetricType};

use crate::decode::DecodeError;
use crate::ioc::RejectReason;
use crate::pipeline::WorkerStats;

use super::names::{self, Kind, Spec};
use super::tally::{MATCH_SIGNATURES, UNKNOWN_MALWARE};
use super::worker::KernelStats;
use super::Shared;

/// Filter reasons in [`super::FeedState::filtered`] order.
pub(super) const FILTER_REASONS: [&str; 3] = ["low_confidence", "stale", "malware"];

pub(super) struct Scrape {
    shared: Arc<Shared>,
    descs: Vec<Desc>,
}

impl Scrape {
    pub(super) fn new(shared: Arc<Shared>) -> prometheus::Result<Scrape> {
        let mut descs = Vec::with_capacity(names::ALL.len());
        for spec in &names::ALL {
            descs.push(Desc::new(
                spec.name.to_string(),
                spec.help.to_string(),
                spec.labels.iter().map(|l| l.to_string()).collect(),
                Default::default(),
            )?);
        }
        Ok(Scrape { shared, descs })
    }
}

/// One family being filled.
struct Family {
    spec: Spec,
    metrics: Vec<proto::Metric>,
}

impl Family {
    fn new(spec: Spec) -> Family {
        Family {
            spec,
            metrics: Vec::new(),
        }
    }

    fn add(&mut self, values: &[&str], v: f64) -> &mut Family {
        let labels = self
            .spec
            .labels
            .iter()
            .zip(values)
            .map(|(name, value)| {
                let mut pair = proto::LabelPair::default();
                pair.set_name((*name).to_string());
                pair.set_value((*value).to_string());
                pair
            })
            .collect();
        let mut m = proto::Metric::from_label(labels);
        match self.spec.kind {
            Kind::Counter => {
                let mut c = proto::Counter::default();
                c.set_value(v);
                m.set_counter(c);
            }
            Kind::Gauge => {
                let mut g = proto::Gauge::default();
                g.set_value(v);
                m.set_gauge(g);
            }
        }
        self.metrics.push(m);
        self
    }

    fn done(self) -> MetricFamily {
        let mut mf = MetricFamily::default();
        mf.set_name(self.spec.name.to_string());
        mf.set_help(self.spec.help.to_string());
        mf.set_field_type(match self.spec.kind {
            Kind::Counter => MetricType::COUNTER,
            Kind::Gauge => MetricType::GAUGE,
        });
        mf.set_metric(self.metrics);
        mf
    }
}

/// A family with one unlabelled sample.
fn single(spec: Spec, v: f64) -> MetricFamily {
    let mut f = Family::new(spec);
    f.add(&[], v);
    f.done()
}

fn add_to(map: &mut BTreeMap<String, u64>, label: &str, n: u64) {
    match map.get_mut(label) {
        Some(c) => *c = c.saturating_add(n),
        None => {
            map.insert(label.to_string(), n);
        }
    }
}

fn flag(b: bool) -> f64 {
    if b {
        1.0
    } else {
        0.0
    }
}

impl Collector for Scrape {
    fn desc(&self) -> Vec<&Desc> {
        self.descs.iter().collect()
    }

    fn collect(&self) -> Vec<MetricFamily> {
        let mut out = Vec::with_capacity(names::ALL.len());
        let total = self.traffic(&mut out);
        self.flows(&total, &mut out);
        self.matches(&mut out);
        self.suppressed(&mut out);
        self.feed(&mut out);
        self.outputs(&mut out);
        out.push(single(
            names::CAPTURE_RUNNING,
            flag(self.shared.readiness().capture_running),
        ));
        let mut up = Family::new(names::CAPTURE_UP);
        for (iface, is_up) in self.shared.capture_up().iter() {
            up.add(&[iface], flag(*is_up));
        }
        out.push(up.done());
        out.push(single(
            names::CONFIG_RELOAD_FAILURES,
            self.shared
                .reload_failures
                .load(std::sync::atomic::Ordering::Relaxed) as f64,
        ));
        let mut build = Family::new(names::BUILD_INFO);
        build.add(&[env!("CARGO_PKG_VERSION")], 1.0);
        out.push(build.done());
        out
    }
}

impl Scrape {
    /// Per-interface families; returns the sum over all workers.
    fn traffic(&self, out: &mut Vec<MetricFamily>) -> WorkerStats {
        let mut by_iface: BTreeMap<Arc<str>, (WorkerStats, Option<KernelStats>)> = BTreeMap::new();
        let mut total = WorkerStats::default();
        for w in self.shared.workers().iter() {
            let s = w.snapshot();
            total.add(&s);
            let entry = by_iface.entry(Arc::from(w.interface())).or_default();
            entry.0.add(&s);
            if let Some(k) = w.kernel_snapshot() {
                entry.1.get_or_insert_with(KernelStats::default).add(&k);
            }
        }
        let mut packets = Family::new(names::PACKETS);
        let mut bytes = Family::new(names::BYTES);
        let mut implausible = Family::new(names::WIRE_LEN_IMPLAUSIBLE);
        let mut received = Family::new(names::KERNEL_RECEIVED);
        let mut drops = Family::new(names::KERNEL_DROPS);
        let mut if_drops = Family::new(names::KERNEL_IF_DROPS);
        for (iface, (s, kernel)) in &by_iface {
            packets.add(&[iface], s.packets as f64);
            bytes.add(&[iface], s.bytes as f64);
            implausible.add(&[iface], s.wire_len_implausible as f64);
            if let Some(k) = kernel {
                received.add(&[iface], k.received as f64);
                drops.add(&[iface], k.dropped as f64);
                if_drops.add(&[iface], k.if_dropped as f64);
            }
        }
        out.extend([packets, bytes, implausible, received, drops, if_drops].map(Family::done));
        let mut errors = Family::new(names::DECODE_ERRORS);
        for (kind, n) in DecodeError::ALL.iter().zip(total.decode_errors) {
            errors.add(&[kind.kind()], n as f64);
        }
        out.push(errors.done());
        total
    }

    fn flows(&self, s: &WorkerStats, out: &mut Vec<MetricFamily>) {
        out.extend([
            single(
                names::FRAGMENTS_UNATTRIBUTED,
                s.fragments_unattributed as f64,
            ),
            single(names::FLOWS_ACTIVE, s.flows_active as f64),
            single(names::FLOWS, s.flows_created as f64),
            single(names::FLOWS_EVICTED, s.flows_evicted as f64),
            single(names::FLOWS_TIMED_OUT, s.flows_timed_out as f64),
            single(names::SUMMARIES, s.summaries as f64),
            single(names::SHADOWED, s.shadowed as f64),
            single(names::RETRO_MATCHES, s.retro_matches as f64),
            single(names::FLOWS_EVICTED_MATCHED, s.flows_evicted_matched as f64),
            single(names::ALERTS_EARLY, s.alerts_early as f64),
            single(names::STORM_RECORDS, s.storms.records as f64),
            single(names::STORM_UNTRACKED, s.storms.untracked as f64),
        ]);
        let mut storm = Family::new(names::STORM_FLOWS);
        for (id, n) in ["1001", "1002", "1003"].iter().zip(s.storms.folded) {
            storm.add(&[id], n as f64);
        }
        out.push(storm.done());
        // Only once the name path has run (name IOCs loaded): 27 zero series otherwise.
        let events = s.names.events();
        if events.iter().any(|n| *n > 0) {
            let mut name_path = Family::new(names::NAME_PATH);
            for (event, n) in NAME_EVENTS.iter().zip(events) {
                name_path.add(&[event], n as f64);
            }
            out.push(name_path.done());
        }
    }

    fn matches(&self, out: &mut Vec<MetricFamily>) {
        let mut by_malware: [BTreeMap<String, u64>; MATCH_SIGNATURES.len()] = Default::default();
        let mut by_ioc: BTreeMap<String, u64> = BTreeMap::new();
        for w in self.shared.workers().iter() {
            let tally = w.tally();
            let counted = w.snapshot().matches;
            for ((sum, map), counted) in by_malware.iter_mut().zip(tally.by_malware).zip(counted) {
                // A worker without a counting sink still counts its alerts: unattributed.
                let tallied = map.values().fold(0u64, |a, n| a.saturating_add(*n));
                let untallied = counted.saturating_sub(tallied);
                if untallied > 0 {
                    add_to(sum, UNKNOWN_MALWARE, untallied);
                }
                for (label, n) in map {
                    add_to(sum, &label, n);
                }
            }
            for (label, n) in tally.by_ioc {
                add_to(&mut by_ioc, &label, n);
            }
        }
        let mut matches = Family::new(names::MATCHES);
        for (sig, map) in MATCH_SIGNATURES.iter().zip(&by_malware) {
            let id = sig.id().to_string();
            for (malware, n) in map {
                matches.add(&[&id, malware], *n as f64);
            }
        }
        out.push(matches.done());
        if self.shared.gate.is_open() {
            let mut iocs = Family::new(names::IOC_MATCHES);
            for (ioc, n) in &by_ioc {
                iocs.add(&[ioc], *n as f64);
            }
            out.push(iocs.done());
        }
    }

    fn suppressed(&self, out: &mut Vec<MetricFamily>) {
        let rules = self
            .shared
            .suppressed
            .read()
            .unwrap_or_else(PoisonError::into_inner);
        if rules.is_empty() {
            return;
        }
        let mut family = Family::new(names::SUPPRESSED);
        for (rule, n) in rules.iter() {
            family.add(&[rule], n.load(std::sync::atomic::Ordering::Relaxed) as f64);
        }
        out.push(family.done());
    }

    fn feed(&self, out: &mut Vec<MetricFamily>) {
        let feed = self
            .shared
            .feed
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone();
        out.push(single(names::FEED_LOAD_FAILURES, feed.load_failures as f64));
        let Some(last) = feed.last else {
            return;
        };
        out.extend([
            single(names::IOCS_LOADED, last.iocs as f64),
            single(names::FEED_LOAD_DURATION, last.seconds),
            single(names::FEED_LAST_RELOAD, last.epoch_secs as f64),
        ]);
        let mut rejected = Family::new(names::FEED_REJECTED);
        for (reason, n) in RejectReason::ALL.iter().zip(feed.rejected) {
            rejected.add(&[reason.label()], n as f64);
        }
        let mut filtered = Family::new(names::FEED_FILTERED);
        for (reason, n) in FILTER_REASONS.iter().zip(feed.filtered) {
            filtered.add(&[reason], n as f64);
        }
        out.extend([rejected.done(), filtered.done()]);
    }

    fn outputs(&self, out: &mut Vec<MetricFamily>) {
        let samples = match &*self
            .shared
            .outputs
            .read()
            .unwrap_or_else(PoisonError::into_inner)
        {
            Some(source) => source(),
            None => return,
        };
        let mut fams = [
            names::OUTPUT_QUEUED,
            names::OUTPUT_SENT,
            names::OUTPUT_RESENT,
            names::OUTPUT_SPOOLED,
            names::OUTPUT_SPOOL_BYTES,
            names::OUTPUT_CONNECTED,
            names::OUTPUT_DOWN,
        ]
        .map(Family::new);
        let mut dropped = Family::new(names::OUTPUT_DROPPED);
        for s in &samples {
            let values = [
                s.queued as f64,
                s.sent as f64,
                s.resent as f64,
                s.spooled as f64,
                s.spool_bytes as f64,
                flag(s.connected),
                flag(s.down),
            ];
            for (f, v) in fams.iter_mut().zip(values) {
                f.add(&[&s.name], v);
            }
            for (reason, n) in &s.dropped {
                dropped.add(&[&s.name, reason], *n as f64);
            }
        }
        out.push(dropped.done());
        out.extend(fams.map(Family::done));
    }
}
