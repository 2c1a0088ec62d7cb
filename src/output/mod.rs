//! Output: records become CEF or JSON lines and leave through stdout, files or syslog.
//! Formatting is pure (one reused buffer per writer); transports own their sockets and queues.

pub mod aggregate;
pub mod cef;
/// A CEF parser for tests and the fuzz round trip, never used on the data path.
#[cfg(any(test, feature = "test-support"))]
pub mod cef_parse;
pub mod dispatcher;
/// Example records for tests and benches.
#[cfg(any(test, feature = "test-support"))]
pub mod examples;
pub mod json;
pub mod line;
pub mod options;
mod sender;
pub mod spool;
pub mod syslog;
pub mod timefmt;
pub mod transport;
mod worker;

pub use dispatcher::{DispatchSink, Dispatcher, OutputStats, ShutdownReport};
pub use line::{Format, LineWriter};
pub use options::{OutputError, OutputOptions, OutputSpec};
pub use worker::DropReason;

use crate::record::Record;

/// Where detection puts records. The packet path calls this; an implementation must never
/// block the capture for long (live sinks hand records to a queue).
pub trait RecordSink {
    fn emit(&mut self, record: Record);
}

/// Collects records in memory: replay tests and the deterministic replay path use it.
impl RecordSink for Vec<Record> {
    fn emit(&mut self, record: Record) {
        self.push(record);
    }
}

/// Both sinks get every record (replay printing on stdout and sending to syslog at once).
pub struct Tee<A, B>(pub A, pub B);

impl<A: RecordSink, B: RecordSink> RecordSink for Tee<A, B> {
    fn emit(&mut self, record: Record) {
        self.0.emit(record.clone());
        self.1.emit(record);
    }
}

/// An optional sink: `None` discards, so wiring can keep one sink type either way.
impl<S: RecordSink> RecordSink for Option<S> {
    fn emit(&mut self, record: Record) {
        if let Some(sink) = self {
            sink.emit(record);
        }
    }
}
