//! Match counting: [`CountingSink`] sits between a worker and its real sink and hands every
//! alert record to its worker's counters ([`WorkerCounters::count_match`]), then passes it on.

use std::sync::Arc;

use crate::output::RecordSink;
use crate::record::Record;

use super::worker::WorkerCounters;

/// A [`RecordSink`] that counts alert records for the metrics, then passes every record on.
pub struct CountingSink<S> {
    inner: S,
    counters: Option<Arc<WorkerCounters>>,
}

impl<S> CountingSink<S> {
    pub fn new(inner: S, counters: Arc<WorkerCounters>) -> CountingSink<S> {
        CountingSink {
            inner,
            counters: Some(counters),
        }
    }

    /// Passes records on without counting: one sink type whether metrics are on or off.
    pub fn uncounted(inner: S) -> CountingSink<S> {
        CountingSink {
            inner,
            counters: None,
        }
    }

    pub fn inner(&self) -> &S {
        &self.inner
    }

    pub fn inner_mut(&mut self) -> &mut S {
        &mut self.inner
    }

    pub fn into_inner(self) -> S {
        self.inner
    }

    pub fn counters(&self) -> Option<&Arc<WorkerCounters>> {
        self.counters.as_ref()
    }
}

impl<S: RecordSink> RecordSink for CountingSink<S> {
    fn emit(&mut self, record: Record) {
        if let (Record::Flow(f), Some(counters)) = (&record, &self.counters) {
            counters.count_match(f);
        }
        self.inner.emit(record);
    }
}
