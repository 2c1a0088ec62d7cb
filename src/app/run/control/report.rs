//! What the control loop reports on its timers: the outputs' counters for the metrics scrape
//! and `/readyz`, and the 1004 health record with its `STATUS=` line.

use sd_notify::NotifyState;

use crate::metrics::OutputSample;
use crate::record::{HealthRecord, Record, RecordSink, Signature};

use super::super::feeds;
use super::super::notify;
use super::{Capture, ControlLoop};

/// Reads the outputs' counters for the metrics scrape and `/readyz`.
pub(super) fn sample_outputs(c: &ControlLoop<'_>) {
    let stats = c.outputs.stats();
    c.metrics.set_outputs_ok(stats.iter().all(|o| o.ready()));
    let samples = stats
        .into_iter()
        .map(|o| OutputSample {
            name: o.name.clone(),
            queued: o.queued,
            sent: o.sent,
            resent: o.resent,
            spooled: o.spooled,
            dropped: o.drop_reasons().collect(),
            spool_bytes: o.spool_bytes,
            connected: o.connected,
            down: o.down,
        })
        .collect();
    if let Ok(mut s) = c.output_samples.lock() {
        *s = samples;
    }
}

/// Sends a 1004 record and the matching `STATUS=`; returns whether it said "capturing".
pub(super) fn emit_health(c: &ControlLoop<'_>) -> bool {
    let (mut packets, mut drops, mut matches) = (0u64, 0u64, 0u64);
    for w in c.counters {
        let s = w.snapshot();
        packets = packets.saturating_add(s.packets);
        matches = s.matches.iter().fold(matches, |a, n| a.saturating_add(*n));
        if let Some(k) = w.kernel_snapshot() {
            drops = drops.saturating_add(k.dropped).saturating_add(k.if_dropped);
        }
    }
    let now = crate::time::wall_secs();
    let capture_problem = Capture::of(c.links).problem();
    let status = match &capture_problem {
        None => format!(
            "capturing: packets {packets}, kernel drops {drops}, matches {matches}, {} IOCs",
            c.feeds.size
        ),
        Some(problem) => format!("not capturing: {problem}"),
    };
    let rec = HealthRecord {
        time: now.saturating_mul(crate::time::NANOS_PER_SEC),
        packets,
        kernel_drops: drops,
        matches,
        iocs_loaded: c.feeds.size as u64,
        ioc_age_secs: now.saturating_sub(c.feeds.loaded_at),
        capture_problem,
        stale_feeds: feeds::stale_feeds(now),
    };
    notify(&[NotifyState::Status(&status)]);
    debug_assert_eq!(Signature::Health.id(), 1004);
    let up = rec.capture_problem.is_none();
    if let Ok(mut sink) = c.health.lock() {
        sink.emit(Record::Health(rec));
    }
    up
}
