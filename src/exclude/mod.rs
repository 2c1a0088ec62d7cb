//! Exclusions: the operator's false-positive controls, between detection and the outputs.
//!
//! ```text
//! detect → CountingSink → Suppressor (exclude rules) → outputs   (see crate::transform)
//! ```
//!
//! Known benign matches (backup jobs, remote management, update services, monitoring agents)
//! are described as `[[exclude]]` rules in the config. A matched alert (1001/1002) and its flow
//! summary (1003) are dropped, or, with `action = "report"`, sent for audit with
//! `act=suppressed`, the rule's reason and a low severity; either way they are counted per rule
//! (`c2tap_suppressed_total{rule}`, and the replay summary). Rules are judged on packet time,
//! so `c2tap replay --config FILE` shows exactly what the live sensor would suppress.
//! [`severity`] holds the configurable confidence → CEF severity table.

mod addr;
pub mod clock;
mod rule;
mod set;
pub mod severity;

pub use addr::AddrList;
pub use rule::{valid_name, Disposal, RawRule, Rule, MAX_NAME_LEN, MAX_REASON_LEN};
pub use set::{ExclusionSet, MAX_RULES};

#[cfg(test)]
mod tests;
