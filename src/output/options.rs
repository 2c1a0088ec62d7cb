//! Output settings: where records go (`OutputSpec`, one per `--syslog`/`outputs.urls` entry) and
//! how (`OutputOptions`, the `[outputs.options]` table). Parsed and checked before anything is
//! started, so a typo fails at startup rather than at the first alert.

use std::path::PathBuf;
use std::str::FromStr;
use std::time::Duration;

use serde::Deserialize;
use thiserror::Error;

use crate::output::line::Format;
use crate::output::spool::SpoolError;
use crate::output::syslog::{Facility, Framing};
use crate::problem::{quote_key, Problem};

#[derive(Debug, Error)]
pub enum OutputError {
    #[error("output {0:?}: expected udp://HOST:PORT, tcp://HOST:PORT, tls://HOST:PORT, relp://HOST:PORT, relp+tls://HOST:PORT or file:///PATH[?format=cef|json]")]
    BadUrl(String),
    #[error("output {url}: {reason}")]
    Invalid { url: String, reason: String },
    #[error("output {0} is listed twice")]
    Duplicate(String),
    #[error("TLS settings: {0}")]
    Tls(String),
    #[error("output options: {0}")]
    Options(String),
    #[error(transparent)]
    Spool(#[from] SpoolError),
    #[error("starting output thread: {0}")]
    Thread(std::io::Error),
}

/// Where one output sends. Host names are resolved at every (re)connect.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum OutputSpec {
    Udp {
        host: String,
        port: u16,
    },
    Tcp {
        host: String,
        port: u16,
    },
    Tls {
        host: String,
        port: u16,
    },
    /// RELP (rsyslog's imrelp): every message acknowledged by the receiving program.
    Relp {
        host: String,
        port: u16,
        tls: bool,
    },
    /// Lines appended to a file (reopened on SIGHUP for log rotation); no syslog envelope.
    File {
        path: PathBuf,
        format: Format,
    },
}

impl OutputSpec {
    /// A name for logs, metrics and the spool directory: `tcp-127.0.0.1-514`.
    pub fn name(&self) -> String {
        let clean = |s: &str| {
            s.chars()
                .map(|c| {
                    if c.is_ascii_alphanumeric() || c == '.' {
                        c
                    } else {
                        '_'
                    }
                })
                .collect::<String>()
        };
        match self {
            OutputSpec::Udp { host, port } => format!("udp-{}-{port}", clean(host)),
            OutputSpec::Tcp { host, port } => format!("tcp-{}-{port}", clean(host)),
            OutputSpec::Tls { host, port } => format!("tls-{}-{port}", clean(host)),
            OutputSpec::Relp { host, port, tls } => {
                let scheme = if *tls { "relptls" } else { "relp" };
                format!("{scheme}-{}-{port}", clean(host))
            }
            OutputSpec::File { path, .. } => format!("file-{}", clean(&path.to_string_lossy())),
        }
    }
}

impl FromStr for OutputSpec {
    type Err = OutputError;

    fn from_str(url: &str) -> Result<OutputSpec, OutputError> {
        let bad = || OutputError::BadUrl(url.to_string());
        let (scheme, rest) = url.split_once("://").ok_or_else(bad)?;
        if scheme == "file" {
            let (path, query) = rest.split_once('?').unwrap_or((rest, ""));
            if !path.starts_with('/') || path.len() < 2 {
                return Err(bad());
            }
            let format = match query {
                "" => Format::Cef,
                q => q
                    .strip_prefix("format=")
                    .and_then(|f| f.parse().ok())
                    .ok_or_else(bad)?,
            };
            return Ok(OutputSpec::File {
                path: PathBuf::from(path),
                format,
            });
        }
        let (host, port) = if let Some(v6) = rest.strip_prefix('[') {
            let (host, port) = v6.split_once("]:").ok_or_else(bad)?;
            (host, port)
        } else {
            rest.rsplit_once(':').ok_or_else(bad)?
        };
        let port: u16 = port.parse().map_err(|_| bad())?;
        if host.is_empty() || port == 0 || host.contains(['/', ' ']) {
            return Err(bad());
        }
        let host = host.to_string();
        match scheme {
            "udp" => Ok(OutputSpec::Udp { host, port }),
            "tcp" => Ok(OutputSpec::Tcp { host, port }),
            "tls" => Ok(OutputSpec::Tls { host, port }),
            "relp" => Ok(OutputSpec::Relp {
                host,
                port,
                tls: false,
            }),
            "relp+tls" => Ok(OutputSpec::Relp {
                host,
                port,
                tls: true,
            }),
            _ => Err(bad()),
        }
    }
}

/// How outputs send; the `[outputs.options]` table of the config file.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct OutputOptions {
    /// Syslog facility (default `local4`, a facility only CEF uses).
    pub facility: Facility,
    /// RFC 5424 header instead of RFC 3164. Riskier: the CEF path of the Azure Monitor Agent
    /// has misfiled messages with an APP-NAME before `CEF:` into the Syslog table.
    pub rfc5424: bool,
    /// TCP/TLS framing: `lf` (default) or `octet-counting`.
    pub framing: Framing,
    /// Largest syslog message in bytes, header included (default 2048). 2048 is the size the
    /// whole chain takes without cutting: RFC 5424 receivers should accept it, the Log
    /// Analytics agent historically cut at it, and it stays far below the ~4 KiB practical UDP
    /// limit and rsyslog's 8 KiB default. Longer records are shortened field by field.
    #[serde(deserialize_with = "crate::units::size_usize")]
    pub max_record_bytes: usize,
    /// In-memory queue per output, in records (default 10,000); beyond it records go to the spool.
    pub queue_records: usize,
    /// State directory for the on-disk spool (one subdirectory per output). Without it, records
    /// that do not fit the memory queue while the receiver is away are dropped (counted).
    pub spool_dir: Option<PathBuf>,
    /// Spool bound per output, in bytes (default 256 MiB).
    #[serde(deserialize_with = "crate::units::size")]
    pub spool_max_bytes: u64,
    /// Alert-storm aggregation window on packet time, e.g. `"60s"` (default); `"0s"` disables.
    #[serde(deserialize_with = "crate::units::duration")]
    pub aggregate_window: Duration,
    /// A connection whose receiver confirms nothing for this long while messages are
    /// outstanding is given up: the output is marked down (metric, `/readyz`, log), its
    /// unconfirmed messages go back to the spool, and it reconnects (default `"30s"`).
    #[serde(deserialize_with = "crate::units::duration")]
    pub stall_timeout: Duration,
    /// TCP/TLS: bytes of sent messages kept for a resend after a connection loss (default
    /// 8 MiB). Unconfirmed messages are always kept; beyond this bound the sender waits for
    /// the receiver's kernel to acknowledge before sending more.
    #[serde(deserialize_with = "crate::units::size")]
    pub resend_window_bytes: u64,
    /// Longest wait between reconnect attempts (default `"5s"`; backoff doubles from 100 ms).
    #[serde(deserialize_with = "crate::units::duration")]
    pub reconnect_max: Duration,
    /// PEM file of the CA(s) that sign the TLS receiver's certificate (required for tls://).
    pub tls_ca: Option<PathBuf>,
    /// PEM client certificate chain and key, for receivers that authenticate clients.
    pub tls_cert: Option<PathBuf>,
    pub tls_key: Option<PathBuf>,
    /// Name checked against the receiver's certificate (default: the host of the URL).
    pub tls_server_name: Option<String>,
    /// Syslog HOSTNAME and CEF `dvchost` (default: the sensor's host name).
    pub hostname: Option<String>,
}

impl Default for OutputOptions {
    fn default() -> OutputOptions {
        OutputOptions {
            facility: Facility::Local4,
            rfc5424: false,
            framing: Framing::Lf,
            max_record_bytes: 2048,
            queue_records: 10_000,
            spool_dir: None,
            spool_max_bytes: 256 << 20,
            aggregate_window: Duration::from_secs(60),
            reconnect_max: Duration::from_secs(5),
            stall_timeout: Duration::from_secs(30),
            resend_window_bytes: 8 << 20,
            tls_ca: None,
            tls_cert: None,
            tls_key: None,
            tls_server_name: None,
            hostname: None,
        }
    }
}

/// Smallest `max_record_bytes`: RFC 5424's minimum every receiver must accept.
pub const MIN_RECORD_BYTES: usize = 480;

impl OutputOptions {
    /// Checks value ranges; every problem in one message.
    pub fn validate(&self) -> Result<(), OutputError> {
        let mut problems = Vec::new();
        if self.max_record_bytes < MIN_RECORD_BYTES || self.max_record_bytes > 65_000 {
            problems.push(format!(
                "max_record_bytes must be {MIN_RECORD_BYTES}..=65000"
            ));
        }
        if self.queue_records == 0 || self.queue_records > 10_000_000 {
            problems.push("queue_records must be 1..=10000000".to_string());
        }
        if self.spool_dir.is_some() && self.spool_max_bytes < 64 * 1024 {
            problems.push("spool_max_bytes must be at least 65536".to_string());
        }
        if self.reconnect_max < Duration::from_millis(100) {
            problems.push("reconnect_max must be at least 100ms".to_string());
        }
        if self.stall_timeout < Duration::from_secs(1) {
            problems.push("stall_timeout must be at least 1s".to_string());
        }
        if !(64 * 1024..=1 << 30).contains(&self.resend_window_bytes) {
            problems.push("resend_window_bytes must be 65536..=1073741824".to_string());
        }
        if self.tls_cert.is_some() != self.tls_key.is_some() {
            problems.push("tls_cert and tls_key go together".to_string());
        }
        if problems.is_empty() {
            Ok(())
        } else {
            Err(OutputError::Options(problems.join("; ")))
        }
    }

    /// From the config file's `[outputs.options]` table, every bad option reported under its
    /// own key path (`outputs.options.queue_records: ...`), for `check-config`.
    pub fn from_config(table: &toml::Table) -> Result<OutputOptions, Vec<Problem>> {
        let e = match OutputOptions::from_table(table.clone()) {
            Ok(options) => return Ok(options),
            Err(e) => e.to_string(),
        };
        // Each key alone, so every bad option is listed under its own key.
        let mut problems = Vec::new();
        for (key, value) in table {
            let mut one = toml::Table::new();
            one.insert(key.clone(), value.clone());
            if let Err(e) = OutputOptions::from_table(one) {
                // The option parser's text names the key on a line of its own; the key path
                // says it already.
                let e = e.to_string();
                let lines: Vec<&str> = e
                    .lines()
                    .map(str::trim)
                    .filter(|l| !l.is_empty() && !l.starts_with("in `"))
                    .collect();
                let message = lines.join(" ");
                let message = message.strip_prefix("output options: ").unwrap_or(&message);
                problems.push(Problem::new(
                    format!("outputs.options.{}", quote_key(key)),
                    message,
                ));
            }
        }
        if problems.is_empty() {
            problems.push(Problem::new("outputs.options", e));
        }
        Err(problems)
    }

    /// From the config file's `[outputs.options]` table.
    pub fn from_table(table: toml::Table) -> Result<OutputOptions, OutputError> {
        let opts: OutputOptions = toml::Value::Table(table)
            .try_into()
            .map_err(|e: toml::de::Error| OutputError::Options(e.to_string()))?;
        opts.validate()?;
        Ok(opts)
    }
}

#[cfg(test)]
#[path = "options_tests.rs"]
mod tests;
