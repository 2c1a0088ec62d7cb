//! The emitter: the worker's output side. It turns flow events (matched, alert due, ended)
//! into records for the sink chain and keeps the counters that go with them, apart from the
//! worker so the flow table's callbacks can borrow it while the table itself is borrowed.

use std::sync::Arc;

use crate::detect;
use crate::detect::storm::Storms;
use crate::flow::{AlertState, EndReason, Flow, FlowKey};
use crate::record::RecordSink;
use crate::record::{Record, Signature};
use crate::time::Nanos;

use super::claims::{self, Claims};
use super::stats::WorkerStats;

/// Emits records and keeps the counters that go with them. A separate struct so the flow
/// table's callbacks can borrow it while the table itself is borrowed.
pub(super) struct Emitter<S: RecordSink> {
    pub(super) sink: S,
    pub(super) stats: WorkerStats,
    pub(super) interfaces: Vec<Arc<str>>,
    pub(super) claims: Option<Arc<Claims>>,
    pub(super) worker: usize,
    pub(super) storms: Storms,
}

impl<S: RecordSink> Emitter<S> {
    pub(super) fn interface(&self, idx: u16) -> Arc<str> {
        match self.interfaces.get(usize::from(idx)) {
            Some(i) => Arc::clone(i),
            None => Arc::from(""),
        }
    }

    pub(super) fn alert(&mut self, key: &FlowKey, flow: &mut Flow, action: crate::record::Action) {
        flow.alert = AlertState::Sent;
        if flow.shadow {
            return;
        }
        let Some(m) = flow.matched.as_ref() else {
            return;
        };
        let sig = Signature::for_match(m.kind, flow.name.as_deref());
        let iface = self.interface(flow.iface);
        let rec = detect::flow_record(sig, action, key, flow, m, &iface);
        let Some(rec) = self.storms.fold_alert(rec) else {
            flow.stormed = true;
            return;
        };
        if let Some(n) = sig
            .alert_index()
            .and_then(|i| self.stats.matches.get_mut(i))
        {
            *n += 1;
        }
        self.sink.emit(Record::Flow(rec));
    }

    /// A flow just matched: it counts toward its IOC's storm detection.
    pub(super) fn matched(&mut self, flow: &Flow, now: Nanos) {
        if let (false, Some(m)) = (flow.shadow, flow.matched.as_ref()) {
            let sink = &mut self.sink;
            self.storms
                .new_flow(&m.ioc.value, now, &mut |rec| sink.emit(rec));
        }
    }

    /// Storm windows that ended send their 1005 records.
    pub(super) fn storm_tick(&mut self, now: Nanos) {
        let sink = &mut self.sink;
        self.storms.tick(now, &mut |rec| sink.emit(rec));
    }

    /// A flow left the table: settle a still-pending alert, then the summary.
    pub(super) fn ended(&mut self, key: FlowKey, mut flow: Flow, reason: EndReason) {
        match reason {
            EndReason::Evicted if flow.matched.is_some() => {
                self.stats.flows_evicted += 1;
                self.stats.flows_evicted_matched += 1;
            }
            EndReason::Evicted => self.stats.flows_evicted += 1,
            EndReason::Timeout => self.stats.flows_timed_out += 1,
            _ => {}
        }
        if flow.matched.is_none() {
            return;
        }
        if flow.alert == AlertState::Pending {
            let action = detect::outcome_final(&flow, key.proto);
            self.alert(&key, &mut flow, action);
        }
        if flow.shadow {
            return;
        }
        if let Some(claims) = &self.claims {
            claims::release(claims, &key, self.worker, flow.id);
        }
        if flow.stormed {
            self.storms.fold_summary();
            return;
        }
        let Some(m) = flow.matched.as_ref() else {
            return;
        };
        let iface = self.interface(flow.iface);
        let rec = detect::flow_record(
            Signature::FlowSummary,
            detect::end_action(reason),
            &key,
            &flow,
            m,
            &iface,
        );
        self.stats.summaries += 1;
        self.sink.emit(Record::Flow(rec));
    }

    /// Decide whether this worker owns the alert of a newly matched flow.
    pub(super) fn claim(&mut self, key: &FlowKey, flow: &mut Flow) {
        let Some(claims) = &self.claims else { return };
        if !claims::claim(claims, key, self.worker, flow.id) {
            flow.shadow = true;
            self.stats.shadowed += 1;
        }
    }
}
