//! [`Suppressor`]: the exclusion rules (`crate::exclude`) as a [`RecordSink`] wrapper, so `run` and `replay` apply
//! them by wrapping their sink and the per-packet path does not change. It sits after match
//! counting (`c2tap_matches_total` still counts what detection found) and before the outputs.
//! Records are rare next to packets; a verdict is a scan over a few rules, with no allocation:
//! a reported record only gains a shared pointer to its rule's text.

use std::io::{self, Write};
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::Arc;

use arc_swap::ArcSwap;

use crate::exclude::{Disposal, ExclusionSet};
use crate::record::{Action, Record, RecordSink, Signature};

/// Where the per-rule alert counters live: the metrics registry implements this, so its
/// `c2tap_suppressed_total{rule}` series are the counters every worker's suppressor adds into.
pub trait RuleCounters {
    /// The counter of rule `rule`; the same counter for the same name.
    fn rule_counter(&self, rule: &str) -> Arc<AtomicU64>;
}

/// Per-rule tallies, shared by every worker's suppressor. The alert counters are the ones the
/// metrics registry exports as `c2tap_suppressed_total{rule}` when one is given.
#[derive(Debug)]
pub struct SuppressionCounts {
    rules: Vec<RuleCount>,
}

#[derive(Debug)]
struct RuleCount {
    name: Arc<str>,
    disposal: Disposal,
    alerts: Arc<AtomicU64>,
    summaries: AtomicU64,
}

/// One rule's tallies.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RuleTally {
    pub rule: Arc<str>,
    /// 1001/1002 records (weighted by their flow count).
    pub alerts: u64,
    /// 1003 summaries of those flows.
    pub summaries: u64,
}

impl SuppressionCounts {
    /// Counters for `set`'s rules; with `metrics`, the alert counters are the registry's.
    pub fn new(set: &ExclusionSet, metrics: Option<&dyn RuleCounters>) -> Arc<SuppressionCounts> {
        let rules = set
            .rules()
            .iter()
            .map(|r| RuleCount {
                name: Arc::clone(&r.name),
                disposal: r.disposal,
                alerts: match metrics {
                    Some(m) => m.rule_counter(&r.name),
                    None => Arc::new(AtomicU64::new(0)),
                },
                summaries: AtomicU64::new(0),
            })
            .collect();
        Arc::new(SuppressionCounts { rules })
    }

    /// Tallies in rule order.
    pub fn tallies(&self) -> Vec<RuleTally> {
        self.rules
            .iter()
            .map(|r| RuleTally {
                rule: Arc::clone(&r.name),
                alerts: r.alerts.load(Relaxed),
                summaries: r.summaries.load(Relaxed),
            })
            .collect()
    }

    /// The replay summary's lines: one per rule, zero counts included, so an operator testing
    /// a rule against a pcap sees it matched nothing.
    pub fn write_summary(&self, w: &mut dyn Write) -> io::Result<()> {
        if self.rules.is_empty() {
            return Ok(());
        }
        writeln!(w, "  exclusions ({} rule(s)):", self.rules.len())?;
        for r in &self.rules {
            writeln!(
                w,
                "    {}: alerts={} summaries={} ({})",
                r.name,
                r.alerts.load(Relaxed),
                r.summaries.load(Relaxed),
                match r.disposal {
                    Disposal::Drop => "dropped",
                    Disposal::Report => "reported as act=suppressed",
                }
            )?;
        }
        Ok(())
    }

    fn count(&self, rule: usize, signature: Signature, n: u32) {
        let Some(r) = self.rules.get(rule) else {
            return;
        };
        let counter = match signature {
            Signature::FlowSummary => &r.summaries,
            _ => &*r.alerts,
        };
        counter.fetch_add(u64::from(n), Relaxed);
    }
}

/// The rules in force with their tallies: one value, so a reload swaps both at once and a
/// record is never counted against a rule of another set.
#[derive(Debug)]
pub struct Exclusions {
    pub set: ExclusionSet,
    /// From [`SuppressionCounts::new`] for `set`.
    pub counts: Arc<SuppressionCounts>,
}

/// Shared by every worker's suppressor; the live sensor stores a new [`Exclusions`] on reload.
pub type SharedExclusions = Arc<ArcSwap<Exclusions>>;

/// Applies the exclusion rules to records on their way to `inner`.
pub struct Suppressor<S> {
    rules: SharedExclusions,
    inner: S,
}

impl<S> Suppressor<S> {
    /// `counts` must come from [`SuppressionCounts::new`] for the same `set`.
    pub fn new(inner: S, set: ExclusionSet, counts: Arc<SuppressionCounts>) -> Suppressor<S> {
        let rules = Arc::new(ArcSwap::from_pointee(Exclusions { set, counts }));
        Suppressor::shared(inner, rules)
    }

    /// A suppressor that follows `rules` as they are replaced (config reload).
    pub fn shared(inner: S, rules: SharedExclusions) -> Suppressor<S> {
        Suppressor { rules, inner }
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

    /// The tallies of the rules in force now.
    pub fn counts(&self) -> Arc<SuppressionCounts> {
        Arc::clone(&self.rules.load().counts)
    }
}

impl<S: RecordSink> RecordSink for Suppressor<S> {
    fn emit(&mut self, mut record: Record) {
        let Record::Flow(flow) = &mut record else {
            return self.inner.emit(record);
        };
        // Records are rare next to packets; this load takes no lock.
        let rules = self.rules.load();
        let Some(i) = rules.set.first_match(flow) else {
            return self.inner.emit(record);
        };
        rules.counts.count(i, flow.signature, flow.count);
        let Some(rule) = rules.set.rules().get(i) else {
            return;
        };
        if rule.disposal == Disposal::Report {
            flow.action = Action::Suppressed;
            flow.suppressed = Some(Arc::clone(&rule.label));
            self.inner.emit(record);
        }
    }
}
