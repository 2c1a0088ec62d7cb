//! Transform: what happens to a record between detection and the outputs.
//!
//! ```text
//! detect → CountingSink (count) → Suppressor (exclude rules) → outputs ─┬─ Aggregator → format → deliver
//!                                                                        └─ …one per output
//! ```
//!
//! [`chain`] builds the one sink chain `c2tap run` and `c2tap replay` both use. Counting and
//! suppression run on each capture worker, once per record. Aggregation runs in each output's
//! intake thread, not before the fan-out: `aggregate_window` is a per-output setting (a SIEM
//! and a local file may want different windows), the windows must span every capture worker
//! of an interface (fanout spreads one host's connections over workers), and a quiet live link
//! needs a thread that wakes on a timer to let held-back records leave ([`aggregate::Aggregator::idle`]);
//! the capture workers block in libpcap and have none.

pub mod aggregate;
pub mod chain;
mod count;
mod suppress;

pub use count::{CountingSink, MatchCounter};
pub use suppress::{
    Exclusions, RuleCounters, RuleTally, SharedExclusions, SuppressionCounts, Suppressor,
};
