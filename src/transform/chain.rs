//! The sink chain every capture worker emits into, built one way for `c2tap run` and
//! `c2tap replay`:
//!
//! ```text
//! worker → CountingSink → Suppressor → outputs (each: aggregate → format → deliver)
//! ```
//!
//! [`ChainTables`] is what every worker's chain shares and a config reload replaces: the
//! exclusion rules with their tallies, and the `[severity]` table the outputs format with. It
//! is a value the caller owns, not process state, so two chains in one process (tests, a
//! replay beside a sensor) never see each other's tables.

use std::sync::Arc;

use crate::exclude::severity::{self, SeverityTable, SharedSeverity};
use crate::exclude::ExclusionSet;

use super::{
    CountingSink, Exclusions, MatchCounter, RuleCounters, SharedExclusions, SuppressionCounts,
    Suppressor,
};

/// A worker's sink chain in front of the outputs `S`: counting sees every detection,
/// exclusions apply after it.
pub type Chain<S> = CountingSink<Suppressor<S>>;

/// The tables a chain reads, each behind a handle a reload swaps whole.
#[derive(Clone)]
pub struct ChainTables {
    pub exclusions: SharedExclusions,
    /// Give this to the outputs (`Dispatcher::start_with_severity`, `LineWriter::with_severity`).
    pub severity: SharedSeverity,
}

impl ChainTables {
    /// Tables for `rules` and `severity`; with `counters`, the per-rule alert tallies are the
    /// metrics registry's.
    pub fn new(
        rules: &ExclusionSet,
        severity: SeverityTable,
        counters: Option<&dyn RuleCounters>,
    ) -> ChainTables {
        ChainTables {
            exclusions: Arc::new(arc_swap::ArcSwap::from_pointee(exclusions(rules, counters))),
            severity: severity::shared(severity),
        }
    }

    /// A reload: new rules (counted afresh, so a record is never counted against a rule of
    /// another set) and a new severity table, each stored whole.
    pub fn replace(
        &self,
        rules: &ExclusionSet,
        severity: SeverityTable,
        counters: Option<&dyn RuleCounters>,
    ) {
        self.exclusions.store(Arc::new(exclusions(rules, counters)));
        self.severity.store(Arc::new(severity));
    }

    /// One worker's chain in front of `outputs`; `matches` counts its alerts (none: uncounted).
    pub fn chain<S>(&self, outputs: S, matches: Option<Arc<dyn MatchCounter>>) -> Chain<S> {
        let suppressing = Suppressor::shared(outputs, Arc::clone(&self.exclusions));
        match matches {
            Some(m) => CountingSink::new(suppressing, m),
            None => CountingSink::uncounted(suppressing),
        }
    }

    /// The tallies of the rules in force now.
    pub fn suppression_counts(&self) -> Arc<SuppressionCounts> {
        Arc::clone(&self.exclusions.load().counts)
    }
}

fn exclusions(rules: &ExclusionSet, counters: Option<&dyn RuleCounters>) -> Exclusions {
    Exclusions {
        set: rules.clone(),
        counts: SuppressionCounts::new(rules, counters),
    }
}
