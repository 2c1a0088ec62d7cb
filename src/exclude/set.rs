//! The configured rules in file order, and what `check-config` says about them: rules that
//! can never match and rules an earlier rule already covers. First match wins, so a later rule
//! covered by an earlier one never counts anything and its reason never reaches Sentinel.

use std::sync::Arc;

use super::rule::{compile, Disposal, RawRule, Rule};
use crate::problem::Problem;
use crate::record::{has_ports, FlowRecord};

/// Most rules in one config: each record is checked against every rule in turn.
pub const MAX_RULES: usize = 256;

/// Compiled rules, shared by every worker's suppressor.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ExclusionSet {
    rules: Arc<[Rule]>,
}

impl ExclusionSet {
    /// Checks every rule; all problems at once, keyed `exclude[i].field`.
    pub fn compile(raws: &[RawRule], default: Disposal) -> Result<ExclusionSet, Vec<Problem>> {
        let indexed: Vec<(usize, RawRule)> = raws.iter().cloned().enumerate().collect();
        ExclusionSet::compile_indexed(&indexed, default)
    }

    /// [`ExclusionSet::compile`] for rules that keep their index in the file (the config
    /// leaves out rules that did not parse, without renumbering the others).
    pub fn compile_indexed(
        raws: &[(usize, RawRule)],
        default: Disposal,
    ) -> Result<ExclusionSet, Vec<Problem>> {
        let mut problems = Vec::new();
        if raws.len() > MAX_RULES {
            problems.push(Problem {
                key: "exclude".into(),
                message: format!("more than {MAX_RULES} rules"),
            });
        }
        let mut rules: Vec<(usize, Rule)> = Vec::with_capacity(raws.len().min(MAX_RULES));
        for (i, raw) in raws.iter().take(MAX_RULES) {
            let Some(rule) = compile(raw, *i, default, &mut problems) else {
                continue;
            };
            if let Some((j, _)) = rules.iter().find(|(_, r)| r.name == rule.name) {
                problems.push(Problem {
                    key: format!("exclude[{i}].name"),
                    message: format!("`{}` is already the name of exclude[{j}]", rule.name),
                });
                continue;
            }
            rules.push((*i, rule));
        }
        match problems.is_empty() {
            true => Ok(ExclusionSet {
                rules: rules.into_iter().map(|(_, r)| r).collect(),
            }),
            false => Err(problems),
        }
    }

    pub fn rules(&self) -> &[Rule] {
        &self.rules
    }

    pub fn is_empty(&self) -> bool {
        self.rules.is_empty()
    }

    /// Index of the first rule that matches the flow.
    #[inline]
    pub fn first_match(&self, flow: &FlowRecord) -> Option<usize> {
        self.rules.iter().position(|r| r.matches(flow))
    }

    /// Warnings for `check-config`: rules that can never match (judged against the wall clock
    /// `now_epoch_secs` for expiry) and rules shadowed by an earlier one.
    pub fn lint(&self, now_epoch_secs: u64) -> Vec<Problem> {
        let mut warnings = Vec::new();
        for (i, rule) in self.rules.iter().enumerate() {
            let key = format!("exclude[{i}]");
            for why in never_matches(rule, now_epoch_secs) {
                warnings.push(Problem {
                    key: key.clone(),
                    message: format!("rule `{}` can never match: {why}", rule.name),
                });
            }
            let earlier = self.rules.get(..i).unwrap_or_default();
            if let Some((j, by)) = earlier.iter().enumerate().find(|(_, e)| shadows(e, rule)) {
                warnings.push(Problem {
                    key,
                    message: format!(
                        "rule `{}` is shadowed by exclude[{j}] `{}`, which matches everything it does (first match wins)",
                        rule.name, by.name
                    ),
                });
            }
        }
        warnings
    }
}

fn never_matches(rule: &Rule, now_epoch_secs: u64) -> Vec<String> {
    let mut why = Vec::new();
    if let Some(e) = &rule.expires {
        if i64::try_from(now_epoch_secs).unwrap_or(i64::MAX) >= e.end_epoch_secs() {
            why.push(format!("it expired at the end of {e}"));
        }
    }
    if rule.window.is_some_and(|w| w.is_empty()) {
        why.push("its window is empty (start = end)".into());
    }
    for (side, list) in [("client", &rule.client), ("server", &rule.server)] {
        if list.contradicts_itself() {
            why.push(format!("every `{side}` entry is negated by another entry"));
        }
    }
    if !rule.ports.is_empty()
        && !rule.protocols.is_empty()
        && !rule.protocols.iter().any(|&p| has_ports(p))
    {
        why.push("`ports` with only port-less protocols".into());
    }
    why
}

/// Whether every flow `later` matches is matched by `earlier` too. Conservative: only says so
/// when it is sure.
fn shadows(earlier: &Rule, later: &Rule) -> bool {
    earlier.client.covers(&later.client)
        && earlier.server.covers(&later.server)
        && superset(&earlier.ports, &later.ports, |a, b| a == b)
        && superset(&earlier.protocols, &later.protocols, |a, b| a == b)
        && superset(&earlier.vlans, &later.vlans, |a, b| a == b)
        && superset(&earlier.iocs, &later.iocs, |a, b| a.eq_ignore_ascii_case(b))
        && superset(&earlier.malware, &later.malware, |a, b| {
            a.eq_ignore_ascii_case(b)
        })
        && match (&earlier.window, &later.window) {
            (None, _) => true,
            (Some(_), None) => false,
            (Some(a), Some(b)) => a.covers(b),
        }
        && match (&earlier.expires, &later.expires) {
            (None, _) => true,
            (Some(_), None) => false,
            (Some(a), Some(b)) => a.end_epoch_secs() >= b.end_epoch_secs(),
        }
}

/// An empty list matches anything, so it covers every list; a non-empty one covers only lists
/// whose every value it holds.
fn superset<T>(wide: &[T], narrow: &[T], eq: impl Fn(&T, &T) -> bool) -> bool {
    wide.is_empty() || (!narrow.is_empty() && narrow.iter().all(|n| wide.iter().any(|w| eq(w, n))))
}
