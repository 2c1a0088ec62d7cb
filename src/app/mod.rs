//! App: one function per subcommand, wiring the stages together. `main.rs` only parses the
//! command line and calls into here.

pub mod check_config;
pub mod exit;
pub mod feeds_cmd;
pub mod iocs;
pub mod replay;
pub mod replay_cmd;
pub mod run;
pub mod startup;
pub mod summary;

/// The host name records carry (CEF `dvchost`, syslog HOSTNAME) unless configured.
pub fn hostname() -> String {
    crate::output::format::syslog::local_hostname()
}
