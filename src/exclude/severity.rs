//! The severity table: IOC confidence and match kind → CEF Severity (Sentinel `LogSeverity`),
//! the lever that decides which hits page an analyst. Built at start from `[severity]`, held by
//! the sink chain in a [`SharedSeverity`] handle that a config reload swaps whole, and passed
//! to the CEF and JSON writers with each record; without a `[severity]` section it is
//! [`DEFAULT`], the record format's table:
//!
//! | record | confidence (missing counts as 50) | severity |
//! |---|---|---|
//! | 1001 exact IOC match | ≥ 90 / ≥ 75 / ≥ 50 / below | 9 / 8 / 7 / 6 |
//! | 1002 IOC address, other port | ≥ 75 / below | 5 / 4 |
//! | 1003 flow summary | – | 3 |
//! | 1004 sensor health | – | 1 |
//! | 1005 contact storm | as 1001 | 9 / 8 / 7 / 6 |
//! | any record an exclusion rule reports (act=suppressed) | – | 1 |

use std::borrow::Cow;
use std::sync::Arc;

use arc_swap::ArcSwap;

use serde::Deserialize;

use crate::problem::Problem;
use crate::record::{Action, Record, Signature};

/// One row: IOCs with at least `min_confidence` get `severity`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Step {
    pub min_confidence: u8,
    pub severity: u8,
}

const fn step(min_confidence: u8, severity: u8) -> Step {
    Step {
        min_confidence,
        severity,
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SeverityTable {
    /// 1001, highest confidence first; the last step starts at 0.
    pub exact: Cow<'static, [Step]>,
    /// 1002, same shape.
    pub other_port: Cow<'static, [Step]>,
    pub summary: u8,
    pub health: u8,
    pub suppressed: u8,
    /// Confidence assumed for IOCs whose feed gives none.
    pub unknown_confidence: u8,
}

pub const DEFAULT: SeverityTable = SeverityTable {
    exact: Cow::Borrowed(&[step(90, 9), step(75, 8), step(50, 7), step(0, 6)]),
    other_port: Cow::Borrowed(&[step(75, 5), step(0, 4)]),
    summary: 3,
    health: 1,
    suppressed: 1,
    unknown_confidence: 50,
};

impl Default for SeverityTable {
    fn default() -> Self {
        DEFAULT
    }
}

impl SeverityTable {
    pub fn of(&self, rec: &Record) -> u8 {
        let Record::Flow(flow) = rec else {
            return self.health;
        };
        if flow.action == Action::Suppressed {
            return self.suppressed;
        }
        let c = flow.ioc.confidence.unwrap_or(self.unknown_confidence);
        let steps = match flow.signature {
            // A contact storm rates like the exact match it is made of: one record per IOC and
            // window, worth an analyst's look.
            // A name IOC matched exactly (looked up, connected to by its answer, named in SNI
            // or HTTP) rates like an exact address match.
            Signature::IocMatch
            | Signature::ContactStorm
            | Signature::DomainLookup
            | Signature::DomainConnection
            | Signature::TlsSni
            | Signature::HttpHost => &self.exact,
            Signature::IocAddressMatch => &self.other_port,
            Signature::FlowSummary => return self.summary,
            Signature::Health => return self.health,
        };
        steps
            .iter()
            .find(|s| c >= s.min_confidence)
            .map_or(0, |s| s.severity)
    }
}

/// The table a sink chain formats with: built at start from `[severity]`, replaced whole on a
/// config reload through this handle (a lock-free load per record on the outputs' threads
/// while the control thread may swap it). Each chain owns its own: there is no process-wide
/// table, so two chains in one process never see each other's.
pub type SharedSeverity = Arc<ArcSwap<SeverityTable>>;

/// A handle holding `table`.
pub fn shared(table: SeverityTable) -> SharedSeverity {
    Arc::new(ArcSwap::from_pointee(table))
}

/// `[severity]` as written: steps are `[min_confidence, severity]` pairs.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RawSeverity {
    pub exact: Vec<(u8, u8)>,
    pub other_port: Vec<(u8, u8)>,
    pub summary: u8,
    pub health: u8,
    pub suppressed: u8,
    pub unknown_confidence: u8,
}

impl Default for RawSeverity {
    fn default() -> Self {
        let pairs = |s: &[Step]| s.iter().map(|s| (s.min_confidence, s.severity)).collect();
        RawSeverity {
            exact: pairs(&DEFAULT.exact),
            other_port: pairs(&DEFAULT.other_port),
            summary: DEFAULT.summary,
            health: DEFAULT.health,
            suppressed: DEFAULT.suppressed,
            unknown_confidence: DEFAULT.unknown_confidence,
        }
    }
}

impl RawSeverity {
    pub fn validate(&self, problems: &mut Vec<Problem>) -> SeverityTable {
        let mut fail = |key: String, message: &str| {
            problems.push(Problem {
                key,
                message: message.to_string(),
            })
        };
        let mut steps = |name: &str, pairs: &[(u8, u8)]| -> Vec<Step> {
            let key = format!("severity.{name}");
            if pairs.last().is_none_or(|&(min, _)| min != 0) {
                fail(
                    key.clone(),
                    "the last step must start at confidence 0, so every IOC gets a severity",
                );
            }
            for (i, &(min, sev)) in pairs.iter().enumerate() {
                if min > 100 || sev > 10 {
                    fail(
                        format!("{key}[{i}]"),
                        "must be [confidence 0-100, severity 0-10]",
                    );
                }
                if i > 0 && pairs.get(i - 1).is_some_and(|&(prev, _)| prev <= min) {
                    fail(
                        format!("{key}[{i}]"),
                        "steps must go from highest to lowest confidence",
                    );
                }
            }
            pairs.iter().map(|&(m, s)| step(m, s)).collect()
        };
        let exact = steps("exact", &self.exact);
        let other_port = steps("other_port", &self.other_port);
        for (name, v) in [
            ("summary", self.summary),
            ("health", self.health),
            ("suppressed", self.suppressed),
        ] {
            if v > 10 {
                fail(format!("severity.{name}"), "must be between 0 and 10");
            }
        }
        if self.unknown_confidence > 100 {
            fail(
                "severity.unknown_confidence".into(),
                "must be between 0 and 100",
            );
        }
        SeverityTable {
            exact: Cow::Owned(exact),
            other_port: Cow::Owned(other_port),
            summary: self.summary,
            health: self.health,
            suppressed: self.suppressed,
            unknown_confidence: self.unknown_confidence,
        }
    }
}
