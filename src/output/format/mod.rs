//! Format: pure writers that turn a record into one CEF or JSON line (and its syslog envelope)
//! in a reused buffer. No I/O and no shared state: the severity table is an argument.

pub mod cef;
/// A CEF parser for tests and the fuzz round trip, never used on the data path.
#[cfg(any(test, feature = "test-support"))]
pub mod cef_parse;
/// Example records for tests and benches.
#[cfg(any(test, feature = "test-support"))]
pub mod examples;
pub mod json;
pub mod line;
pub mod syslog;

pub use line::{Format, LineWriter};
