//! Output: records become CEF or JSON lines ([`format`]) and leave through stdout, files or
//! syslog ([`deliver`]). Formatting is pure (one reused buffer per writer); delivery owns the
//! queues, the spool and the connections.

pub mod deliver;
pub mod format;
pub mod options;
pub mod timefmt;

// `options` names these by their old paths; the `units` work rewrites it.
use deliver::spool;
use format::{line, syslog};

pub use deliver::{DispatchSink, Dispatcher, DropReason, OutputStats, ShutdownReport};
pub use format::{Format, LineWriter};
pub use options::{OutputError, OutputOptions, OutputSpec};
