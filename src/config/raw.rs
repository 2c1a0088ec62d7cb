//! Stage one: the file as written. Each section is a serde struct with `deny_unknown_fields`
//! and defaults; durations and sizes stay as written (text or a number) until validation.

use std::collections::BTreeMap;

use serde::Deserialize;

use crate::exclude::severity::RawSeverity;
use crate::exclude::RawRule;
use crate::ioc::Filters;
use crate::units::{DurationText, SizeText};

/// The file as written. Sections are kept as TOML tables and deserialized one by one.
#[derive(Debug, Default)]
pub struct RawConfig {
    pub capture: RawCapture,
    pub iocs: RawIocs,
    pub flow: RawFlow,
    pub outputs: RawOutputs,
    pub metrics: RawMetrics,
    pub health: RawHealth,
    pub logging: RawLogging,
    pub user: Option<String>,
    /// `[[exclude]]` rules that parsed, each with its index in the file (for key paths).
    pub exclude: Vec<(usize, RawRule)>,
    /// Default disposal of excluded records: `drop` (default) or `report`.
    pub exclude_action: Option<String>,
    pub severity: RawSeverity,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RawCapture {
    pub interfaces: Vec<String>,
    pub snaplen: u32,
    pub buffer_size: SizeText,
    pub promiscuous: bool,
    pub immediate: bool,
    pub timeout: DurationText,
    pub workers: u32,
    pub fanout_group: Option<u16>,
    pub bpf: Option<String>,
    pub prefilter: bool,
    pub prefilter_max_iocs: u32,
}

impl Default for RawCapture {
    fn default() -> Self {
        RawCapture {
            interfaces: Vec::new(),
            snaplen: 512,
            buffer_size: "64MiB".into(),
            promiscuous: true,
            immediate: false,
            timeout: "50ms".into(),
            workers: 1,
            fanout_group: None,
            bpf: None,
            prefilter: false,
            prefilter_max_iocs: crate::capture::prefilter::DEFAULT_MAX_IOCS,
        }
    }
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RawIocs {
    pub feeds: Vec<String>,
    pub watch_interval: DurationText,
    pub filters: Filters,
    /// Minimum confidence of one feed (keyed as written in `feeds`), instead of
    /// `filters.min_confidence`.
    pub feed_min_confidence: BTreeMap<String, u8>,
    /// Feeds (keyed as written in `feeds`) allowed to hold broad IOCs: networks wider than
    /// /16 (IPv4) or /32 (IPv6), or in private, shared, documentation or reserved space.
    pub allow_broad: BTreeMap<String, bool>,
    /// Feeds whose host names are zones: each matches the name and every name below it.
    pub suffix_names: BTreeMap<String, bool>,
    /// Malware family of a feed's rows that name none (keyed as written in `feeds`).
    pub feed_malware: BTreeMap<String, String>,
    /// `[[iocs.source]]`: fetched feeds (`crate::feeds` validates them).
    pub source: Vec<crate::feeds::RawSource>,
    pub state_dir: Option<String>,
}

impl Default for RawIocs {
    fn default() -> Self {
        RawIocs {
            feeds: Vec::new(),
            watch_interval: "30s".into(),
            filters: Filters::default(),
            feed_min_confidence: BTreeMap::new(),
            allow_broad: BTreeMap::new(),
            suffix_names: BTreeMap::new(),
            feed_malware: BTreeMap::new(),
            source: Vec::new(),
            state_dir: None,
        }
    }
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RawFlow {
    pub max_flows: u64,
    pub holddown: DurationText,
    pub track_all: bool,
    pub storm_flows: u64,
    pub storm_window: DurationText,
    pub timeouts: RawTimeouts,
}

impl Default for RawFlow {
    fn default() -> Self {
        RawFlow {
            max_flows: 500_000,
            holddown: "3s".into(),
            track_all: true,
            storm_flows: 100,
            storm_window: "10s".into(),
            timeouts: RawTimeouts::default(),
        }
    }
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RawTimeouts {
    pub tcp_opening: DurationText,
    pub tcp_established: DurationText,
    pub tcp_closed: DurationText,
    pub udp: DurationText,
    pub other: DurationText,
}

impl Default for RawTimeouts {
    fn default() -> Self {
        RawTimeouts {
            tcp_opening: "30s".into(),
            tcp_established: "10m".into(),
            tcp_closed: "10s".into(),
            udp: "2m".into(),
            other: "1m".into(),
        }
    }
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RawOutputs {
    pub urls: Vec<String>,
    /// Handed to the output dispatcher's own option type (`OutputOptions`).
    pub options: toml::Table,
}

impl Default for RawOutputs {
    fn default() -> Self {
        RawOutputs {
            urls: vec!["udp://127.0.0.1:514".into()],
            options: toml::Table::new(),
        }
    }
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RawMetrics {
    pub listen: String,
    pub ioc_label_threshold: u32,
}

impl Default for RawMetrics {
    fn default() -> Self {
        RawMetrics {
            listen: "127.0.0.1:9917".into(),
            ioc_label_threshold: 100,
        }
    }
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RawHealth {
    pub interval: DurationText,
}

impl Default for RawHealth {
    fn default() -> Self {
        RawHealth {
            interval: "5m".into(),
        }
    }
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RawLogging {
    pub level: String,
}

impl Default for RawLogging {
    fn default() -> Self {
        RawLogging {
            level: "info".into(),
        }
    }
}

pub(super) const SECTIONS: [&str; 8] = [
    "capture", "iocs", "flow", "outputs", "metrics", "health", "logging", "severity",
];
