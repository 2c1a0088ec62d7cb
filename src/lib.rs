//! c2tap: a network sensor that flags every flow touching a malware C2 endpoint.
//!
//! The data path reads left to right, one module per stage:
//!
//! ```text
//! capture (live | file) → decode → flow → detect (ioc) → transform (count, suppress, aggregate)
//!     → output (format: cef/json → deliver: syslog/file/stdout)
//!                 config, ioc loading, metrics sit beside the path; pipeline wires them
//! ```
//!
//! Each stage imports only the stages before it: ARCHITECTURE.md gives the layers and today's
//! known exceptions, and `tests/architecture.rs` fails on a new one. `pipeline` owns the
//! per-worker loop that both `c2tap replay` and `c2tap run` drive, so live capture and replay
//! share one code path.
// A panic or a stray print is never how c2tap reports: errors are values (clippy.toml lets
// unit tests unwrap, expect and print).
#![deny(clippy::unwrap_used, clippy::expect_used, clippy::print_stdout)]

pub mod app;
pub mod capture;
pub mod config;
pub mod decode;
pub mod detect;
pub mod exclude;
pub mod feeds;
pub mod flow;
pub mod ioc;
pub mod metrics;
pub mod output;
pub mod pipeline;
pub mod privilege;
pub mod problem;
pub mod record;
pub mod time;
pub mod transform;
pub mod units;
