//! Alert-storm aggregation, in front of each output: a host beaconing to its C2 every second
//! opens a new connection each time, and each would be an alert billed by Sentinel. At most one
//! record per (client address, IOC, signature) leaves per window; the ones held back are folded
//! into the next record of that key as its `cnt`, or, when the storm stops, into one summary
//! record once the window has passed. Windows are measured on record (packet) time, so a replay
//! aggregates exactly like live capture. On a quiet live link no record moves that clock, so
//! the live output calls [`Aggregator::idle`] while it waits: packet time then advances with
//! the wall clock from the last record on (as the flow tables' timers do), and a held-back
//! record leaves at most [`MAX_SWEEP`] after its window closes. A replay sends what is held
//! back at the end of its input ([`Aggregator::flush`]).
//!
//! Default window: 60 s. A host that connects to its C2 less often than once a minute (the
//! usual beacon interval of commodity RATs is tens of seconds to minutes) gets one alert per
//! connection; a faster one gets one record per minute saying how many connections it stands for.

use std::collections::HashMap;
use std::hash::{Hash, Hasher};
use std::net::IpAddr;
use std::sync::Arc;
use std::time::Instant;

use crate::ioc::Ioc;
use crate::record::RecordSink;
use crate::record::{FlowRecord, Record, Signature};
use crate::time::{Nanos, NANOS_PER_SEC};

/// Keys tracked at most; past this, records pass through unaggregated (never dropped), so
/// memory stays bounded when an attacker sprays many clients.
pub const MAX_KEYS: usize = 65_536;

/// Windows are looked at least this often (of record time): a held-back record leaves at most
/// this long after its window closes. One sweep walks every key, so not on every record.
pub const MAX_SWEEP: Nanos = NANOS_PER_SEC;

#[derive(Clone, Debug)]
struct Key {
    client: IpAddr,
    signature: Signature,
    /// Compared by value: an IOC reload makes new `Arc`s for the same indicator.
    ioc: Arc<Ioc>,
}

impl PartialEq for Key {
    fn eq(&self, other: &Key) -> bool {
        self.client == other.client
            && self.signature == other.signature
            && self.ioc.value == other.ioc.value
    }
}

impl Eq for Key {}

impl Hash for Key {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.client.hash(state);
        self.signature.hash(state);
        self.ioc.value.hash(state);
    }
}

#[derive(Debug)]
struct Entry {
    window_start: Nanos,
    /// Sum of `count` of the records held back in this window.
    held: u64,
    /// The latest held-back record: the summary is made from it.
    last: Option<FlowRecord>,
}

/// Per-output aggregation state. `window == 0` turns it off.
#[derive(Debug)]
pub struct Aggregator {
    window: Nanos,
    entries: HashMap<Key, Entry, foldhash::fast::RandomState>,
    /// Latest record time seen: the clock windows expire by.
    watermark: Nanos,
    /// When (monotonic wall clock) a record last moved `watermark`; `idle` counts from it.
    moved_at: Option<(Instant, Nanos)>,
    next_sweep: Nanos,
    held_back: u64,
}

impl Aggregator {
    pub fn new(window: Nanos) -> Aggregator {
        Aggregator {
            window,
            entries: HashMap::default(),
            watermark: 0,
            moved_at: None,
            next_sweep: 0,
            held_back: 0,
        }
    }

    /// Records held back so far (each stands inside the `cnt` of one sent later).
    pub fn held_back(&self) -> u64 {
        self.held_back
    }

    /// Passes `rec` on to `out` now, or holds it back inside its key's current window.
    pub fn offer(&mut self, rec: Record, out: &mut impl FnMut(Record)) {
        let Record::Flow(mut flow) = rec else {
            if let Record::Health(h) = &rec {
                self.advance(h.time, out);
            }
            return out(rec);
        };
        if self.window == 0 {
            return out(Record::Flow(flow));
        }
        let now = flow.end;
        let key = Key {
            client: flow.client.addr,
            signature: flow.signature,
            ioc: Arc::clone(&flow.ioc),
        };
        match self.entries.get_mut(&key) {
            Some(entry) if now < entry.window_start.saturating_add(self.window) => {
                entry.held = entry.held.saturating_add(u64::from(flow.count));
                entry.last = Some(flow);
                self.held_back += 1;
            }
            Some(entry) => {
                flow.count = saturating_count(u64::from(flow.count) + entry.held);
                *entry = Entry {
                    window_start: now,
                    held: 0,
                    last: None,
                };
                out(Record::Flow(flow));
            }
            None => {
                if self.entries.len() < MAX_KEYS {
                    self.entries.insert(
                        key,
                        Entry {
                            window_start: now,
                            held: 0,
                            last: None,
                        },
                    );
                }
                out(Record::Flow(flow));
            }
        }
        self.advance(now, out);
    }

    /// The live output had no record for a while: packet time has moved on by the wall-clock
    /// time since the last record, and windows that closed meanwhile send their summaries.
    /// `now` is the monotonic clock (a step of the system clock changes nothing).
    pub fn idle(&mut self, now: Instant, out: &mut impl FnMut(Record)) {
        let Some((at, mark)) = self.moved_at else {
            return;
        };
        let quiet = u64::try_from(now.saturating_duration_since(at).as_nanos()).unwrap_or(u64::MAX);
        self.sweep_to(mark.saturating_add(quiet), out);
    }

    /// Moves the clock to a record's time.
    fn advance(&mut self, now: Nanos, out: &mut impl FnMut(Record)) {
        if now > self.watermark || self.moved_at.is_none() {
            self.moved_at = Some((Instant::now(), now.max(self.watermark)));
        }
        self.sweep_to(now, out);
    }

    /// Moves the clock; at most once per [`MAX_SWEEP`], sends the summaries of windows that
    /// have ended and forgets keys that were quiet for a whole window.
    fn sweep_to(&mut self, now: Nanos, out: &mut impl FnMut(Record)) {
        self.watermark = self.watermark.max(now);
        if self.window == 0 || self.watermark < self.next_sweep {
            return;
        }
        self.next_sweep = self
            .watermark
            .saturating_add((self.window / 4).min(MAX_SWEEP));
        let (watermark, window) = (self.watermark, self.window);
        self.entries.retain(|_, entry| {
            if watermark < entry.window_start.saturating_add(window) {
                return true;
            }
            match entry.last.take() {
                Some(mut last) => {
                    last.count = saturating_count(entry.held);
                    out(Record::Flow(last));
                    // The summary counts as this key's record for a new window.
                    *entry = Entry {
                        window_start: watermark,
                        held: 0,
                        last: None,
                    };
                    true
                }
                None => false,
            }
        });
    }

    /// Sends every held-back summary now (shutdown, end of replay).
    pub fn flush(&mut self, out: &mut impl FnMut(Record)) {
        for (_, entry) in self.entries.drain() {
            if let Some(mut last) = entry.last {
                last.count = saturating_count(entry.held);
                out(Record::Flow(last));
            }
        }
    }
}

fn saturating_count(n: u64) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

/// Aggregation in front of any sink (e.g. the replay's line writer); call
/// [`Aggregating::finish`] at the end so held-back summaries are not lost.
pub struct Aggregating<S: RecordSink> {
    pub inner: S,
    aggregator: Aggregator,
}

impl<S: RecordSink> Aggregating<S> {
    pub fn new(inner: S, window: Nanos) -> Aggregating<S> {
        Aggregating {
            inner,
            aggregator: Aggregator::new(window),
        }
    }

    pub fn finish(mut self) -> S {
        let inner = &mut self.inner;
        self.aggregator.flush(&mut |r| inner.emit(r));
        self.inner
    }
}

impl<S: RecordSink> RecordSink for Aggregating<S> {
    fn emit(&mut self, record: Record) {
        let inner = &mut self.inner;
        self.aggregator.offer(record, &mut |r| inner.emit(r));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::output::format::examples::{flow, health_record, ioc, T0};
    use crate::time::NANOS_PER_SEC;

    fn conn(at_secs: u64, client: u8) -> Record {
        let mut f = flow(ioc());
        f.client.addr = IpAddr::from([10, 0, 0, client]);
        f.start = T0 + at_secs * NANOS_PER_SEC;
        f.end = f.start;
        Record::Flow(f)
    }

    fn counts(out: &[Record]) -> Vec<(u8, u64, u32)> {
        out.iter()
            .filter_map(|r| match r {
                Record::Flow(f) => {
                    let IpAddr::V4(a) = f.client.addr else {
                        return None;
                    };
                    Some((a.octets()[3], (f.end - T0) / NANOS_PER_SEC, f.count))
                }
                Record::Health(_) => None,
            })
            .collect()
    }

    #[test]
    fn storm_becomes_one_record_per_window_with_counts() {
        let mut sink = Aggregating::new(Vec::new(), 60 * NANOS_PER_SEC);
        for s in 0..150 {
            sink.emit(conn(s, 1));
        }
        let out = sink.finish();
        // t=0 alone, t=60 stands for 1..=60, t=120 for 61..=120, flush: 121..=149.
        assert_eq!(
            counts(&out),
            [(1, 0, 1), (1, 60, 60), (1, 120, 60), (1, 149, 29)]
        );
        let total: u32 = out
            .iter()
            .map(|r| if let Record::Flow(f) = r { f.count } else { 0 })
            .sum();
        assert_eq!(total, 150);
    }

    #[test]
    fn slow_beacons_keep_one_alert_each_and_keys_are_separate() {
        let mut sink = Aggregating::new(Vec::new(), 60 * NANOS_PER_SEC);
        for s in [0, 61, 200, 400] {
            sink.emit(conn(s, 1));
            sink.emit(conn(s, 2));
        }
        let out = sink.finish();
        assert_eq!(
            counts(&out),
            [
                (1, 0, 1),
                (2, 0, 1),
                (1, 61, 1),
                (2, 61, 1),
                (1, 200, 1),
                (2, 200, 1),
                (1, 400, 1),
                (2, 400, 1)
            ]
        );
    }

    #[test]
    fn ended_storm_summary_comes_when_the_clock_moves_on() {
        let mut agg = Aggregator::new(60 * NANOS_PER_SEC);
        let mut out = Vec::new();
        for s in 0..10 {
            agg.offer(conn(s, 1), &mut |r| out.push(r));
        }
        assert_eq!(counts(&out), [(1, 0, 1)]);
        // Another client's record 70 s later moves packet time past the window.
        agg.offer(conn(70, 2), &mut |r| out.push(r));
        assert_eq!(counts(&out), [(1, 0, 1), (2, 70, 1), (1, 9, 9)]);
        // Health records move the clock too, and pass straight through.
        let mut health = health_record();
        if let Record::Health(h) = &mut health {
            h.time = T0 + 500 * NANOS_PER_SEC;
        }
        agg.offer(health, &mut |r| out.push(r));
        assert!(matches!(out.last(), Some(Record::Health(_))));
        assert_eq!(agg.held_back(), 9);
        assert!(agg.entries.is_empty());
    }

    #[test]
    fn on_a_quiet_link_the_held_back_record_leaves_when_its_window_closes() {
        let mut agg = Aggregator::new(60 * NANOS_PER_SEC);
        let mut out = Vec::new();
        let start = Instant::now();
        agg.offer(conn(0, 1), &mut |r| out.push(r));
        agg.offer(conn(5, 1), &mut |r| out.push(r));
        assert_eq!(counts(&out), [(1, 0, 1)]);
        // Nothing arrives any more. The output looks every 200 ms; packet time follows the
        // wall clock from the last record (t=5 s): the window (0..60 s) closes 55 s later.
        let tick = std::time::Duration::from_millis(200);
        let mut left_at = None;
        for i in 1..=400u32 {
            agg.idle(start + tick * i, &mut |r| out.push(r));
            if out.len() == 2 {
                left_at = Some(tick * i);
                break;
            }
        }
        let left_at = left_at.expect("the held-back record never left");
        assert_eq!(counts(&out), [(1, 0, 1), (1, 5, 1)]);
        let closes = std::time::Duration::from_secs(55);
        assert!(
            left_at >= closes && left_at <= closes + std::time::Duration::from_secs(1),
            "left {left_at:?} after the last record; its window closed after {closes:?}"
        );
    }

    #[test]
    fn idle_before_any_record_does_nothing() {
        let mut agg = Aggregator::new(60 * NANOS_PER_SEC);
        let mut n = 0;
        agg.idle(Instant::now(), &mut |_| n += 1);
        assert_eq!(n, 0);
    }

    #[test]
    fn zero_window_passes_everything() {
        let mut sink = Aggregating::new(Vec::new(), 0);
        for s in 0..5 {
            sink.emit(conn(s, 1));
        }
        assert_eq!(sink.finish().len(), 5);
    }

    #[test]
    fn key_table_is_bounded_and_overflow_passes_through() {
        let mut agg = Aggregator::new(60 * NANOS_PER_SEC);
        let mut sent = 0;
        for i in 0..(MAX_KEYS as u32 + 10) {
            let mut f = flow(ioc());
            f.client.addr = IpAddr::from(i.to_be_bytes());
            agg.offer(Record::Flow(f), &mut |_| sent += 1);
        }
        assert_eq!(agg.entries.len(), MAX_KEYS);
        assert_eq!(sent, MAX_KEYS + 10);
    }
}
