//! Stage two's result: the typed settings every stage is handed. Nothing here is text to be
//! parsed again.

use std::net::SocketAddr;
use std::time::Duration;

use crate::exclude::severity::SeverityTable;
use crate::exclude::ExclusionSet;
/// `[iocs]`, typed: defined beside the feed loader that takes it, so exclude needs nothing of
/// config.
pub use crate::feeds::IocSettings;
use crate::output::options::{OutputOptions, OutputSpec};
use crate::pipeline::WorkerConfig;

/// Everything `c2tap run` needs, validated.
#[derive(Clone, Debug, PartialEq)]
pub struct Settings {
    pub capture: CaptureSettings,
    pub iocs: IocSettings,
    pub worker: WorkerConfig,
    /// Flow-table size across all workers of one interface (each worker gets its share).
    pub max_flows: usize,
    pub outputs: OutputSettings,
    pub metrics: MetricsSettings,
    /// Period of the health record; `None` = off.
    pub health_interval: Option<Duration>,
    pub log_level: String,
    pub user: Option<String>,
    /// `[[exclude]]` rules, in file order (first match wins).
    pub exclusions: ExclusionSet,
    /// `[severity]`: confidence and match kind → CEF severity.
    pub severity: SeverityTable,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CaptureSettings {
    pub interfaces: Vec<String>,
    pub snaplen: i32,
    pub buffer_size: i32,
    pub promiscuous: bool,
    pub immediate: bool,
    pub timeout: Duration,
    pub workers: usize,
    pub fanout_group: Option<u16>,
    pub bpf: Option<String>,
    pub prefilter: bool,
    pub prefilter_max_iocs: usize,
}

/// `[outputs]`, typed: where records go and how, as the output stage takes them.
#[derive(Clone, Debug, PartialEq)]
pub struct OutputSettings {
    /// `outputs.urls` (or `--syslog`), in order.
    pub specs: Vec<OutputSpec>,
    /// `[outputs.options]`.
    pub options: OutputOptions,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MetricsSettings {
    /// `None` = no HTTP endpoint.
    pub listen: Option<SocketAddr>,
    pub ioc_label_threshold: usize,
}
