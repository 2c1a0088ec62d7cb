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

#[cfg(test)]
mod tests {
    use std::cell::RefCell;
    use std::io::{self, Write};
    use std::rc::Rc;

    use super::*;
    use crate::exclude::severity::{Step, DEFAULT};
    use crate::output::format::cef_parse::parse_cef;
    use crate::output::format::examples::{ctx, flow_record};
    use crate::output::format::{Format, LineWriter};
    use crate::record::RecordSink;

    /// Every 1001 record gets `severity`, whatever its confidence.
    fn flat(severity: u8) -> SeverityTable {
        SeverityTable {
            exact: vec![Step {
                min_confidence: 0,
                severity,
            }]
            .into(),
            ..DEFAULT
        }
    }

    /// A CEF line sink that the test can read while the chain still holds it.
    #[derive(Clone, Default)]
    struct Lines(Rc<RefCell<Vec<u8>>>);

    impl Write for Lines {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            self.0.borrow_mut().write(buf)
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    type TestChain = Chain<LineWriter<Lines>>;

    fn chain(tables: &ChainTables, lines: &Lines) -> TestChain {
        let writer =
            LineWriter::with_severity(lines.clone(), Format::Cef, ctx(), tables.severity.clone());
        tables.chain(writer, None)
    }

    /// The Severity of the example alert sent through `chain` now.
    fn rated(chain: &mut TestChain, lines: &Lines) -> String {
        lines.0.borrow_mut().clear();
        chain.emit(flow_record());
        chain.inner_mut().inner_mut().flush().unwrap();
        let text = String::from_utf8(lines.0.borrow().clone()).unwrap();
        parse_cef(text.trim_end()).unwrap().severity
    }

    #[test]
    fn two_chains_in_one_process_keep_their_own_tables() {
        let none = ExclusionSet::default();
        let (a, b) = (
            ChainTables::new(&none, flat(2), None),
            ChainTables::new(&none, DEFAULT, None),
        );
        let (la, lb) = (Lines::default(), Lines::default());
        let (mut ca, mut cb) = (chain(&a, &la), chain(&b, &lb));
        let mut both = || (rated(&mut ca, &la), rated(&mut cb, &lb));
        assert_eq!(both(), ("2".into(), "8".into()));
        // A reload of one chain swaps the table its running writers use, and only theirs.
        a.replace(&none, flat(10), None);
        assert_eq!(both(), ("10".into(), "8".into()));
        b.replace(&none, flat(0), None);
        assert_eq!(both(), ("10".into(), "0".into()));
    }
}
