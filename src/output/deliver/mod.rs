//! Deliver: per-output hand-off channels, memory queues, the on-disk spool and the transports
//! (file, stdout, syslog over UDP/TCP/TLS, RELP). Every record is sent or counted as lost.

pub mod dispatcher;
mod sender;
pub mod spool;
mod spooler;
pub mod transport;
mod worker;

pub use dispatcher::{DispatchSink, Dispatcher, OutputStats, ShutdownReport};
pub use worker::DropReason;
