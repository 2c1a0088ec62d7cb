//! The metrics side of the transform stage's counters: each worker's [`WorkerCounters`] is the
//! [`MatchCounter`] its [`crate::transform::CountingSink`] hands alert records to, and the
//! registry is the suppressor's [`RuleCounters`]. The traits live in `transform` so that stage
//! does not depend on `metrics`; the labels and their bounds are decided here (`tally`).

use std::sync::atomic::AtomicU64;
use std::sync::Arc;

use crate::ioc::Ioc;
use crate::record::Signature;
use crate::transform::{MatchCounter, RuleCounters};

use super::worker::WorkerCounters;
use super::Metrics;

impl MatchCounter for WorkerCounters {
    fn count(&self, signature: Signature, ioc: &Ioc, n: u64) {
        self.count_match(signature, ioc, n);
    }
}

/// Every worker's suppressor adds into the registry's `c2tap_suppressed_total{rule}` series.
impl RuleCounters for Metrics {
    fn rule_counter(&self, rule: &str) -> Arc<AtomicU64> {
        self.suppression_counter(rule)
    }
}
