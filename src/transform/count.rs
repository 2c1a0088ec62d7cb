//! Match counting: [`CountingSink`] sits between a worker and the rest of the chain and hands
//! every alert record to a [`MatchCounter`] (the metrics registry's per-worker tally), then
//! passes the record on. Records are rare next to packets, so this stays off the per-packet
//! path. The counter is a trait so this stage does not depend on `metrics`: metrics implements
//! it and decides the labels and their bounds.

use std::sync::Arc;

use crate::ioc::Ioc;
use crate::record::{Record, RecordSink, Signature};

/// Where alert records are counted.
pub trait MatchCounter: Send + Sync {
    /// One record standing for `n` flows of `signature` that matched `ioc`. Called for every
    /// flow record; the counter picks the signatures it counts.
    fn count(&self, signature: Signature, ioc: &Ioc, n: u64);
}

/// A [`RecordSink`] that counts flow records, then passes every record on.
pub struct CountingSink<S> {
    inner: S,
    counters: Option<Arc<dyn MatchCounter>>,
}

impl<S> CountingSink<S> {
    pub fn new(inner: S, counters: Arc<dyn MatchCounter>) -> CountingSink<S> {
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

    pub fn counters(&self) -> Option<&Arc<dyn MatchCounter>> {
        self.counters.as_ref()
    }
}

impl<S: RecordSink> RecordSink for CountingSink<S> {
    fn emit(&mut self, record: Record) {
        if let (Record::Flow(f), Some(counters)) = (&record, &self.counters) {
            counters.count(f.signature, &f.ioc, u64::from(f.count.max(1)));
        }
        self.inner.emit(record);
    }
}
