//! Configuration: one TOML file, validated into typed settings with every problem reported.
//! Sits beside the data path: `c2tap run` reads it once at start (and `check-config` reads it
//! for the operator); the packet path only ever sees the typed [`Settings`].
//!
//! Two stages. Serde structs with `deny_unknown_fields` hold what the file says, as written
//! (durations and sizes stay text); [`RawConfig::validate`] turns them into [`Settings`] and
//! collects every problem with its key path, so one run of `check-config` lists them all. Each
//! section is deserialized on its own, so an unknown key in one section does not hide the
//! problems of another.

use std::collections::BTreeMap;
use std::fmt;
use std::net::SocketAddr;
use std::ops::RangeInclusive;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;

use crate::detect::storm::{self, StormConfig};
use crate::exclude::severity::{RawSeverity, SeverityTable};
use crate::exclude::{Disposal, ExclusionSet, RawRule};
use crate::flow::{limits, FlowConfig, Timeouts};
use crate::ioc::{FeedSource, Filters};
use crate::pipeline::WorkerConfig;
use crate::time::Nanos;

/// Largest config file read; a config is a few KiB, anything near this is a wrong path.
const MAX_CONFIG_BYTES: u64 = 1024 * 1024;

/// One problem, with the dotted key path it concerns.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Problem {
    pub key: String,
    pub message: String,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.key, self.message)
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("{path}: cannot read: {source}", path = path.display())]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path}: larger than {MAX_CONFIG_BYTES} bytes; not a config file", path = path.display())]
    TooLarge { path: PathBuf },
    /// A config anyone but its owner may rewrite could steer the sensor.
    #[error(transparent)]
    Untrusted(#[from] crate::privilege::PrivilegeError),
    #[error("{}", list(.0))]
    Invalid(Vec<Problem>),
}

fn list(problems: &[Problem]) -> String {
    let lines: Vec<String> = problems.iter().map(Problem::to_string).collect();
    lines.join("\n")
}

impl ConfigError {
    /// The individual problems (one for an unreadable file).
    pub fn problems(&self) -> Vec<Problem> {
        match self {
            ConfigError::Invalid(p) => p.clone(),
            other => vec![Problem {
                key: "(file)".into(),
                message: other.to_string(),
            }],
        }
    }
}

// ---------------------------------------------------------------- stage 1: the file as written

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
    pub timeout: String,
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
            buffer_size: SizeText::Text("64MiB".into()),
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

/// A size: bytes as an integer, or text with a binary unit (`64MiB`, `512KiB`, `1GiB`).
#[derive(Clone, Debug, Deserialize, PartialEq, Eq)]
#[serde(untagged)]
pub enum SizeText {
    Bytes(u64),
    Text(String),
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RawIocs {
    pub feeds: Vec<String>,
    pub watch_interval: String,
    pub filters: Filters,
    /// Minimum confidence of one feed (keyed as written in `feeds`), instead of
    /// `filters.min_confidence`.
    pub feed_min_confidence: BTreeMap<String, u8>,
    /// Feeds (keyed as written in `feeds`) allowed to hold broad IOCs: networks wider than
    /// /16 (IPv4) or /32 (IPv6), or in private, shared, documentation or reserved space.
    pub allow_broad: BTreeMap<String, bool>,
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
    pub holddown: String,
    pub track_all: bool,
    pub storm_flows: u64,
    pub storm_window: String,
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
    pub tcp_opening: String,
    pub tcp_established: String,
    pub tcp_closed: String,
    pub udp: String,
    pub other: String,
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
    pub interval: String,
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

const SECTIONS: [&str; 8] = [
    "capture", "iocs", "flow", "outputs", "metrics", "health", "logging", "severity",
];

impl RawConfig {
    /// Reads and parses a file. Syntax and type errors are reported per section.
    pub fn read(path: &Path) -> Result<RawConfig, ConfigError> {
        let text = read_text(path)?;
        RawConfig::parse(&text).map_err(ConfigError::Invalid)
    }

    /// Reads, parses and validates, reporting the problems of both stages together. Checks
    /// of a section that did not parse are left out (they would judge its defaults).
    pub fn check(path: &Path) -> Result<Settings, ConfigError> {
        let (raw, problems) = RawConfig::read_lenient(path)?;
        raw.validate_after(problems)
    }

    /// Reads and parses what it can (see [`RawConfig::parse_lenient`]); `Err` for a file that
    /// cannot be read or trusted, or is not TOML.
    pub fn read_lenient(path: &Path) -> Result<(RawConfig, Vec<Problem>), ConfigError> {
        let text = read_text(path)?;
        RawConfig::parse_lenient(&text).map_err(ConfigError::Invalid)
    }

    /// Validates, reporting `problems` (of parsing) and the validation's own together.
    pub fn validate_after(&self, mut problems: Vec<Problem>) -> Result<Settings, ConfigError> {
        let raw = self;
        let failed: Vec<String> = problems.iter().map(|p| p.key.clone()).collect();
        match raw.validate() {
            Ok(settings) if problems.is_empty() => return Ok(settings),
            Ok(_) => {}
            // A key that did not parse keeps its default; judging that default would only
            // confuse, so problems under a failed key are left out.
            Err(e) => problems.extend(e.problems().into_iter().filter(|p| {
                !failed.iter().any(|f| {
                    p.key == *f
                        || p.key
                            .strip_prefix(f.as_str())
                            .is_some_and(|rest| rest.starts_with(['.', '[']))
                })
            })),
        }
        Err(ConfigError::Invalid(problems))
    }

    pub fn parse(text: &str) -> Result<RawConfig, Vec<Problem>> {
        let (raw, problems) = RawConfig::parse_lenient(text)?;
        match problems.is_empty() {
            true => Ok(raw),
            false => Err(problems),
        }
    }

    /// Parses what it can: a section that fails keeps its defaults and yields a problem.
    /// `Err` only for a file that is not TOML at all.
    pub fn parse_lenient(text: &str) -> Result<(RawConfig, Vec<Problem>), Vec<Problem>> {
        let table: toml::Table = toml::from_str(text).map_err(|e| {
            vec![Problem {
                key: "(syntax)".into(),
                // toml's own text: the line, the column and a caret under the spot.
                message: e.to_string().trim_end().to_string(),
            }]
        })?;
        let mut raw = RawConfig::default();
        let mut problems = Vec::new();
        for (key, value) in table {
            let p = &mut problems;
            match key.as_str() {
                "capture" => section(&key, value, p, &mut raw.capture),
                "iocs" => section(&key, value, p, &mut raw.iocs),
                "flow" => section(&key, value, p, &mut raw.flow),
                "outputs" => section(&key, value, p, &mut raw.outputs),
                "metrics" => section(&key, value, p, &mut raw.metrics),
                "health" => section(&key, value, p, &mut raw.health),
                "logging" => section(&key, value, p, &mut raw.logging),
                "severity" => section(&key, value, p, &mut raw.severity),
                "exclude" => raw.exclude = exclude_rules(value, p),
                "exclude_action" => match value {
                    toml::Value::String(s) => raw.exclude_action = Some(s),
                    _ => problems.push(problem("exclude_action", "must be a string")),
                },
                "user" => match value {
                    toml::Value::String(s) => raw.user = Some(s),
                    _ => problems.push(problem("user", "must be a string")),
                },
                other => problems.push(problem(
                    other,
                    &format!(
                        "unknown key (sections: {}, [[exclude]] rules, and the keys `user`, `exclude_action`)",
                        SECTIONS.join(", ")
                    ),
                )),
            }
        }
        Ok((raw, problems))
    }
}

/// The file's text, refusing anything too large to be a config before reading it.
fn read_text(path: &Path) -> Result<String, ConfigError> {
    let io = |source| ConfigError::Io {
        path: path.to_path_buf(),
        source,
    };
    let meta = std::fs::metadata(path).map_err(io)?;
    crate::privilege::check_file_trust(path)?;
    if meta.len() > MAX_CONFIG_BYTES {
        return Err(ConfigError::TooLarge {
            path: path.to_path_buf(),
        });
    }
    let mut text = String::new();
    std::io::Read::read_to_string(
        &mut crate::privilege::open_regular(path).map_err(io)?,
        &mut text,
    )
    .map_err(io)?;
    Ok(text)
}

fn problem(key: &str, message: &str) -> Problem {
    Problem {
        key: key.to_string(),
        message: message.to_string(),
    }
}

/// Deserializes one section. When it fails, every offending key is found and reported with
/// its full path (`capture.workers: invalid type: ...`), and the section keeps the keys that
/// did parse, so their own checks still run.
fn section<T: serde::de::DeserializeOwned>(
    name: &str,
    value: toml::Value,
    problems: &mut Vec<Problem>,
    into: &mut T,
) {
    let toml::Value::Table(table) = value else {
        problems.push(problem(name, "must be a table ([section])"));
        return;
    };
    match toml::Value::Table(table.clone()).try_into::<T>() {
        Ok(v) => *into = v,
        Err(e) => {
            let before = problems.len();
            let mut good = table;
            locate::<T>(name, &[], &mut good, problems);
            if problems.len() == before {
                problems.push(problem(name, e.message().trim()));
                return;
            }
            if let Ok(v) = toml::Value::Table(good).try_into::<T>() {
                *into = v;
            }
        }
    }
}

/// Finds the keys of `table` (found at `path` inside the section) that `T` refuses, one by one,
/// reports each with its dotted key, and removes it from `table`. Each key is tried alone
/// (nested inside its parents), the other fields taking their defaults.
fn locate<T: serde::de::DeserializeOwned>(
    section: &str,
    path: &[String],
    table: &mut toml::Table,
    problems: &mut Vec<Problem>,
) {
    let keys: Vec<String> = table.keys().cloned().collect();
    for key in keys {
        let Some(value) = table.get(&key).cloned() else {
            continue;
        };
        let mut at: Vec<String> = path.to_vec();
        at.push(key.clone());
        let error = match &value {
            // A table: first the key itself (unknown key, or a table where none belongs),
            // then each of its keys.
            toml::Value::Table(inner) => match try_alone::<T>(&at, toml::Table::new().into()) {
                Err(e) => Some(e),
                Ok(()) => {
                    let mut inner = inner.clone();
                    locate::<T>(section, &at, &mut inner, problems);
                    table.insert(key.clone(), toml::Value::Table(inner));
                    None
                }
            },
            _ => try_alone::<T>(&at, value.clone()).err(),
        };
        if let Some(message) = error {
            let dotted: Vec<String> = at.iter().map(|k| quote_key(k)).collect();
            problems.push(problem(
                &format!("{section}.{}", dotted.join(".")),
                &message,
            ));
            table.remove(&key);
        }
    }
}

/// Whether `T` accepts a section holding only `value` at `path`.
fn try_alone<T: serde::de::DeserializeOwned>(
    path: &[String],
    value: toml::Value,
) -> Result<(), String> {
    let mut v = value;
    for key in path.iter().rev() {
        let mut t = toml::Table::new();
        t.insert(key.clone(), v);
        v = toml::Value::Table(t);
    }
    v.try_into::<T>()
        .map(|_| ())
        .map_err(|e| e.message().trim().to_string())
}

/// A key as written in a dotted path: bare when it can be, quoted otherwise.
fn quote_key(key: &str) -> String {
    let bare = !key.is_empty()
        && key
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
    match bare {
        true => key.to_string(),
        false => format!("{key:?}"),
    }
}

/// `[[exclude]]`: each rule parsed on its own, so one bad rule does not hide the others.
fn exclude_rules(value: toml::Value, problems: &mut Vec<Problem>) -> Vec<(usize, RawRule)> {
    let toml::Value::Array(items) = value else {
        problems.push(problem(
            "exclude",
            "must be an array of tables ([[exclude]])",
        ));
        return Vec::new();
    };
    let mut rules = Vec::with_capacity(items.len());
    for (i, item) in items.into_iter().enumerate() {
        let key = format!("exclude[{i}]");
        if !item.is_table() {
            problems.push(problem(&key, "must be a table ([[exclude]])"));
            continue;
        }
        let before = problems.len();
        let mut rule = RawRule::default();
        section(&key, item, problems, &mut rule);
        if problems.len() == before {
            rules.push((i, rule));
        }
    }
    rules
}

// ---------------------------------------------------------------- stage 2: typed settings

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

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IocSettings {
    pub feeds: Vec<FeedSource>,
    pub filters: Filters,
    /// How often feed files are checked for changes; `None` = only on SIGHUP.
    pub watch_interval: Option<Duration>,
    /// Per feed, in `feeds` order: its own minimum confidence, if configured
    /// (`crate::exclude::load_feeds` applies it).
    pub feed_min_confidence: Vec<Option<u8>>,
    /// Per feed, in `feeds` order: whether `[iocs.allow_broad]` lets it hold broad IOCs.
    pub allow_broad: Vec<bool>,
    /// Per feed, in `feeds` order: the family `[iocs.feed_malware]` gives its unnamed rows.
    pub feed_malware: Vec<Option<String>>,
    /// `[[iocs.source]]` and `iocs.state_dir`.
    pub fetch: crate::feeds::FetchSettings,
}

#[derive(Clone, Debug, PartialEq)]
pub struct OutputSettings {
    pub urls: Vec<String>,
    /// The `[outputs.options]` table, for the dispatcher's own option type.
    pub options: toml::Table,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MetricsSettings {
    /// `None` = no HTTP endpoint.
    pub listen: Option<SocketAddr>,
    pub ioc_label_threshold: usize,
}

/// Collects problems while converting.
#[derive(Default)]
struct Check {
    problems: Vec<Problem>,
}

impl Check {
    fn fail(&mut self, key: &str, message: impl Into<String>) {
        self.problems.push(Problem {
            key: key.to_string(),
            message: message.into(),
        });
    }

    fn duration(&mut self, key: &str, text: &str, min: Duration, max: Duration) -> Duration {
        match parse_duration(text) {
            Ok(d) if d < min || d > max => {
                let (lo, hi) = (show(min), show(max));
                let msg = match min.is_zero() {
                    false if d.is_zero() => "must be > 0".to_string(),
                    _ => format!("must be between {lo} and {hi}"),
                };
                self.fail(key, msg);
                min
            }
            Ok(d) => d,
            Err(e) => {
                self.fail(key, e);
                min
            }
        }
    }

    /// Zero disables the feature.
    fn optional_duration(&mut self, key: &str, text: &str, min: Duration) -> Option<Duration> {
        match parse_duration(text) {
            Ok(d) if d.is_zero() => None,
            Ok(d) if d < min => {
                self.fail(key, format!("must be 0 (off) or at least {}", show(min)));
                None
            }
            Ok(d) => Some(d),
            Err(e) => {
                self.fail(key, e);
                None
            }
        }
    }

    /// [`Check::range`] over a range shared with the command line.
    fn within(&mut self, key: &str, v: u64, range: &RangeInclusive<u64>) -> u64 {
        self.range(key, v, *range.start(), *range.end())
    }

    /// [`Check::duration`] over a millisecond range shared with the command line.
    fn duration_within(&mut self, key: &str, text: &str, ms: &RangeInclusive<u64>) -> Duration {
        let (min, max) = (*ms.start(), *ms.end());
        self.duration(
            key,
            text,
            Duration::from_millis(min),
            Duration::from_millis(max),
        )
    }

    fn range(&mut self, key: &str, v: u64, min: u64, max: u64) -> u64 {
        if v < min || v > max {
            self.fail(key, format!("must be between {min} and {max}"));
            return min;
        }
        v
    }
}

fn show(d: Duration) -> String {
    match d.as_millis() {
        ms if ms % 1000 != 0 => format!("{ms}ms"),
        ms => format!("{}s", ms / 1000),
    }
}

/// `250ms`, `30s`, `10m`, `2h`, `1d`; a bare `0` is allowed (off).
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let t = text.trim();
    if t == "0" {
        return Ok(Duration::ZERO);
    }
    let split = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    let n: u64 = num
        .parse()
        .map_err(|_| format!("`{text}` is not a duration (e.g. 250ms, 30s, 10m, 2h, 1d)"))?;
    let ms_per: u64 = match unit.trim() {
        "ms" => 1,
        "s" => 1000,
        "m" => 60_000,
        "h" => 3_600_000,
        "d" => 86_400_000,
        _ => return Err(format!("`{text}`: unit must be one of ms, s, m, h, d")),
    };
    n.checked_mul(ms_per)
        .map(Duration::from_millis)
        .ok_or_else(|| format!("`{text}` is too long"))
}

/// Bytes, or `512KiB`, `64MiB`, `1GiB` (also `K`, `M`, `G`: binary units either way).
pub fn parse_size(size: &SizeText) -> Result<u64, String> {
    let t = match size {
        SizeText::Bytes(n) => return Ok(*n),
        SizeText::Text(t) => t.trim(),
    };
    let split = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    let n: u64 = num
        .parse()
        .map_err(|_| format!("`{t}` is not a size (e.g. 64MiB)"))?;
    let mul: u64 = match unit.trim() {
        "" | "B" => 1,
        "K" | "KiB" => 1 << 10,
        "M" | "MiB" => 1 << 20,
        "G" | "GiB" => 1 << 30,
        _ => return Err(format!("`{t}`: unit must be one of KiB, MiB, GiB")),
    };
    n.checked_mul(mul)
        .ok_or_else(|| format!("`{t}` is too large"))
}

/// Level words `[logging] level` takes, besides their synonyms in [`log_filter`].
const LEVELS: [&str; 6] = ["off", "error", "warn", "info", "debug", "trace"];

/// Checks `[logging] level`: a level, or a filter of `target=level` directives separated by
/// commas (e.g. `info,c2tap=debug`), returned with synonyms normalized (`warning` → `warn`).
/// A bare word that is not a level is refused: tracing would take it for a target name and
/// silently print nothing at all.
pub fn log_filter(text: &str) -> Result<String, String> {
    let level = |word: &str| -> Option<&'static str> {
        let word = word.trim().to_ascii_lowercase();
        let word = match word.as_str() {
            "warning" => "warn",
            "err" => "error",
            "information" => "info",
            "none" => "off",
            w => w,
        };
        LEVELS.iter().find(|l| **l == word).copied()
    };
    let mut out = Vec::new();
    for directive in text.split(',').map(str::trim) {
        let normalized = match directive.rsplit_once('=') {
            None => level(directive).map(str::to_string),
            Some((target, lvl)) if !target.trim().is_empty() => {
                level(lvl).map(|l| format!("{}={l}", target.trim()))
            }
            Some(_) => None,
        };
        match normalized {
            Some(d) => out.push(d),
            None => {
                return Err(format!(
                    "`{directive}` is not a level ({}) or a target=level filter",
                    LEVELS.join(", ")
                ))
            }
        }
    }
    let filter = out.join(",");
    tracing_subscriber::EnvFilter::try_new(&filter)
        .map_err(|e| format!("`{text}`: not a level or filter: {e}"))?;
    Ok(filter)
}

const MS: Duration = Duration::from_millis(1);
const DAY: Duration = Duration::from_secs(86_400);

fn nanos(d: Duration) -> Nanos {
    u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)
}

impl RawConfig {
    /// Stage two: every problem at once, or the typed settings.
    pub fn validate(&self) -> Result<Settings, ConfigError> {
        let mut c = Check::default();
        let capture = self.validate_capture(&mut c);
        let iocs = IocSettings {
            feeds: self
                .iocs
                .feeds
                .iter()
                .map(|f| FeedSource::parse(f))
                .collect(),
            filters: self.iocs.filters.clone(),
            watch_interval: c.optional_duration(
                "iocs.watch_interval",
                &self.iocs.watch_interval,
                Duration::from_secs(1),
            ),
            feed_min_confidence: self.feed_min_confidence(&mut c),
            allow_broad: self.allow_broad(&mut c),
            feed_malware: self.feed_malware(&mut c),
            fetch: crate::feeds::validate(
                &self.iocs.source,
                self.iocs.state_dir.as_deref(),
                &crate::feeds::Units {
                    duration: parse_duration,
                    size: |t| parse_size(&SizeText::Text(t.to_string())),
                },
                &mut |key, message| c.fail(&key, message),
            ),
        };
        for (i, feed) in self.iocs.feeds.iter().enumerate() {
            if feed.trim().is_empty() {
                c.fail(&format!("iocs.feeds[{i}]"), "must not be empty");
            }
        }
        if let Some(conf) = self.iocs.filters.min_confidence {
            if !crate::ioc::CONFIDENCE.contains(&conf) {
                c.fail("iocs.filters.min_confidence", "must be between 0 and 100");
            }
        }
        let f = &self.flow;
        let t = &f.timeouts;
        let mut timeout = |name: &str, text: &str| {
            nanos(c.duration(&format!("flow.timeouts.{name}"), text, MS, 7 * DAY))
        };
        let timeouts = Timeouts {
            tcp_opening: timeout("tcp_opening", &t.tcp_opening),
            tcp_established: timeout("tcp_established", &t.tcp_established),
            tcp_closed: timeout("tcp_closed", &t.tcp_closed),
            udp: timeout("udp", &t.udp),
            other: timeout("other", &t.other),
        };
        let max_flows = c.within("flow.max_flows", f.max_flows, &limits::MAX_FLOWS) as usize;
        let holddown = c.duration_within("flow.holddown", &f.holddown, &limits::HOLDDOWN_MS);
        let storm = StormConfig {
            flows: c.within("flow.storm_flows", f.storm_flows, &storm::limits::FLOWS) as u32,
            window: nanos(c.duration_within(
                "flow.storm_window",
                &f.storm_window,
                &storm::limits::WINDOW_MS,
            )),
        };
        let per_worker = (max_flows / capture.workers.max(1)).max(1);
        let worker = WorkerConfig {
            flow: FlowConfig {
                max_flows: per_worker,
                timeouts,
            },
            holddown: nanos(holddown),
            track_all: f.track_all,
            storm,
        };
        if self.outputs.urls.is_empty() {
            c.fail("outputs.urls", "at least one output is required");
        }
        for (i, url) in self.outputs.urls.iter().enumerate() {
            if let Err(e) = crate::app::run::check_output_url(url) {
                c.fail(&format!("outputs.urls[{i}]"), e);
            }
        }
        if let Err(e) = crate::app::run::check_output_options(&self.outputs.options) {
            // Each key alone, so every bad option is listed under its own key.
            let before = c.problems.len();
            for (key, value) in &self.outputs.options {
                let mut one = toml::Table::new();
                one.insert(key.clone(), value.clone());
                if let Err(e) = crate::app::run::check_output_options(&one) {
                    // The option parser's text names the key on a line of its own; the key
                    // path says it already.
                    let lines: Vec<&str> = e
                        .lines()
                        .map(str::trim)
                        .filter(|l| !l.is_empty() && !l.starts_with("in `"))
                        .collect();
                    let message = lines.join(" ");
                    let message = message.strip_prefix("output options: ").unwrap_or(&message);
                    c.fail(&format!("outputs.options.{}", quote_key(key)), message);
                }
            }
            if c.problems.len() == before {
                c.fail("outputs.options", e);
            }
        }
        let listen = match self.metrics.listen.trim() {
            "" => None,
            addr => match addr.parse::<SocketAddr>() {
                Ok(a) => Some(a),
                Err(_) => {
                    c.fail(
                        "metrics.listen",
                        format!(
                            "`{addr}` is not an address:port (e.g. 127.0.0.1:9917); \"\" = off"
                        ),
                    );
                    None
                }
            },
        };
        let health_interval = c.optional_duration(
            "health.interval",
            &self.health.interval,
            Duration::from_secs(1),
        );
        let log_level = match log_filter(&self.logging.level) {
            Ok(filter) => filter,
            Err(e) => {
                c.fail("logging.level", e);
                "info".to_string()
            }
        };
        if let Some(user) = &self.user {
            let ok = !user.is_empty()
                && user.len() <= 32
                && user
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
            if !ok {
                c.fail(
                    "user",
                    "must be a system user name (letters, digits, _ and -)",
                );
            }
        }
        let (exclusions, severity) = self.validate_exclusions(&mut c);
        if !c.problems.is_empty() {
            return Err(ConfigError::Invalid(c.problems));
        }
        Ok(Settings {
            capture,
            iocs,
            worker,
            max_flows,
            outputs: OutputSettings {
                urls: self.outputs.urls.clone(),
                options: self.outputs.options.clone(),
            },
            metrics: MetricsSettings {
                listen,
                ioc_label_threshold: self.metrics.ioc_label_threshold as usize,
            },
            health_interval,
            log_level,
            user: self.user.clone(),
            exclusions,
            severity,
        })
    }

    /// `[iocs.feed_min_confidence]`, aligned with `iocs.feeds`.
    fn feed_min_confidence(&self, c: &mut Check) -> Vec<Option<u8>> {
        let iocs = &self.iocs;
        for (feed, &min) in &iocs.feed_min_confidence {
            let key = format!("iocs.feed_min_confidence.\"{feed}\"");
            if !iocs.feeds.iter().any(|f| f == feed) {
                c.fail(&key, "not one of iocs.feeds");
            }
            if !crate::ioc::CONFIDENCE.contains(&min) {
                c.fail(&key, "must be between 0 and 100");
            }
        }
        iocs.feeds
            .iter()
            .map(|f| iocs.feed_min_confidence.get(f).copied())
            .collect()
    }

    /// `[iocs.allow_broad]`, aligned with `iocs.feeds`.
    fn allow_broad(&self, c: &mut Check) -> Vec<bool> {
        let iocs = &self.iocs;
        for feed in iocs.allow_broad.keys() {
            if !iocs.feeds.iter().any(|f| f == feed) {
                c.fail(
                    &format!("iocs.allow_broad.\"{feed}\""),
                    "not one of iocs.feeds",
                );
            }
        }
        iocs.feeds
            .iter()
            .map(|f| iocs.allow_broad.get(f).copied().unwrap_or(false))
            .collect()
    }

    /// `[iocs.feed_malware]`, aligned with `iocs.feeds`.
    fn feed_malware(&self, c: &mut Check) -> Vec<Option<String>> {
        let iocs = &self.iocs;
        for (feed, name) in &iocs.feed_malware {
            let key = format!("iocs.feed_malware.\"{feed}\"");
            if !iocs.feeds.iter().any(|f| f == feed) {
                c.fail(&key, "not one of iocs.feeds");
            }
            if name.trim().is_empty() {
                c.fail(&key, "must name a malware family");
            }
        }
        iocs.feeds
            .iter()
            .map(|f| iocs.feed_malware.get(f).map(|m| m.trim().to_string()))
            .collect()
    }

    /// `[[exclude]]`, `exclude_action` and `[severity]`.
    fn validate_exclusions(&self, c: &mut Check) -> (ExclusionSet, SeverityTable) {
        let default = match self.exclude_action.as_deref().map(Disposal::parse) {
            None => Disposal::Drop,
            Some(Ok(d)) => d,
            Some(Err(e)) => {
                c.fail("exclude_action", e);
                Disposal::Drop
            }
        };
        let exclusions = match ExclusionSet::compile_indexed(&self.exclude, default) {
            Ok(set) => set,
            Err(problems) => {
                c.problems.extend(problems);
                ExclusionSet::default()
            }
        };
        (exclusions, self.severity.validate(&mut c.problems))
    }

    fn validate_capture(&self, c: &mut Check) -> CaptureSettings {
        let r = &self.capture;
        if r.interfaces.is_empty() {
            c.fail("capture.interfaces", "at least one interface is required");
        }
        for (i, name) in r.interfaces.iter().enumerate() {
            // IFNAMSIZ is 16 including the NUL.
            let ok = !name.is_empty()
                && name.len() < 16
                && !name.contains(['/', ' ', '\0'])
                && name != "."
                && name != "..";
            if !ok {
                c.fail(&format!("capture.interfaces[{i}]"), "not an interface name");
            }
            if r.interfaces
                .get(..i)
                .is_some_and(|before| before.contains(name))
            {
                c.fail(&format!("capture.interfaces[{i}]"), "listed twice");
            }
        }
        let snaplen = c.range("capture.snaplen", r.snaplen.into(), 64, 262_144);
        let buffer_size = match parse_size(&r.buffer_size) {
            Ok(n) => c.range("capture.buffer_size", n, 1 << 20, 1 << 30),
            Err(e) => {
                c.fail("capture.buffer_size", e);
                1 << 20
            }
        };
        let timeout = c.duration("capture.timeout", &r.timeout, MS, Duration::from_secs(10));
        let workers = c.range("capture.workers", r.workers.into(), 1, 64) as usize;
        let bpf = r
            .bpf
            .as_ref()
            .map(|s| s.trim().to_string())
            .filter(|s| !s.is_empty());
        if let Some(expr) = &bpf {
            if let Err(e) = crate::capture::prefilter::check_expression(expr) {
                c.fail("capture.bpf", e.to_string());
            }
        }
        let prefilter_max_iocs = c.range(
            "capture.prefilter_max_iocs",
            r.prefilter_max_iocs.into(),
            1,
            crate::capture::prefilter::HARD_MAX_IOCS as u64,
        ) as usize;
        CaptureSettings {
            interfaces: r.interfaces.clone(),
            snaplen: i32::try_from(snaplen).unwrap_or(512),
            buffer_size: i32::try_from(buffer_size).unwrap_or(i32::MAX),
            promiscuous: r.promiscuous,
            immediate: r.immediate,
            timeout,
            workers,
            fanout_group: r.fanout_group,
            bpf,
            prefilter: r.prefilter,
            prefilter_max_iocs,
        }
    }
}

/// Reads, parses and validates a file.
pub fn load(path: &Path) -> Result<Settings, ConfigError> {
    RawConfig::check(path)
}

/// What `replay --config` takes from a file: the exclusion rules and the severity table. The
/// file may be the sensor's full config or only `[[exclude]]`/`[severity]`; problems elsewhere
/// in it are not `replay`'s business and are left to `check-config`.
pub fn load_exclusions(path: &Path) -> Result<(ExclusionSet, SeverityTable), ConfigError> {
    let text = read_text(path)?;
    let (raw, problems) = RawConfig::parse_lenient(&text).map_err(ConfigError::Invalid)?;
    let ours = |p: &Problem| {
        let section = p.key.split(['.', '[']).next().unwrap_or("");
        matches!(section, "exclude" | "exclude_action" | "severity")
    };
    let mut problems: Vec<Problem> = problems.into_iter().filter(ours).collect();
    let mut c = Check::default();
    let (exclusions, severity) = raw.validate_exclusions(&mut c);
    problems.extend(c.problems);
    match problems.is_empty() {
        true => Ok((exclusions, severity)),
        false => Err(ConfigError::Invalid(problems)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn problems(text: &str) -> Vec<String> {
        let raw = match RawConfig::parse(text) {
            Ok(raw) => raw,
            Err(p) => return p.iter().map(Problem::to_string).collect(),
        };
        match raw.validate() {
            Ok(_) => Vec::new(),
            Err(e) => e.problems().iter().map(Problem::to_string).collect(),
        }
    }

    #[test]
    fn shipped_example_is_valid() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("config/c2tap.toml");
        let settings = match load(&path) {
            Ok(s) => s,
            Err(e) => panic!("config/c2tap.toml: {e}"),
        };
        assert_eq!(settings.capture.interfaces, vec!["eth1".to_string()]);
        assert_eq!(settings.capture.buffer_size, 128 << 20);
        assert_eq!(settings.worker.flow.timeouts, Timeouts::default());
        assert_eq!(settings.health_interval, Some(Duration::from_secs(300)));
    }

    #[test]
    fn minimal_file_gets_defaults() {
        let raw = RawConfig::parse("[capture]\ninterfaces = [\"eth0\"]\n");
        let s = match raw.map(|r| r.validate()) {
            Ok(Ok(s)) => s,
            _ => panic!("minimal config rejected"),
        };
        assert_eq!(s.capture.snaplen, 512);
        assert_eq!(s.capture.buffer_size, 64 << 20);
        assert_eq!(s.capture.timeout, Duration::from_millis(50));
        assert_eq!(s.worker.flow.max_flows, 500_000);
        assert_eq!(s.worker.flow.timeouts, Timeouts::default());
        assert_eq!(s.iocs.watch_interval, Some(Duration::from_secs(30)));
        assert_eq!(s.outputs.urls, vec!["udp://127.0.0.1:514".to_string()]);
        assert_eq!(s.metrics.listen, "127.0.0.1:9917".parse().ok());
    }

    #[test]
    fn every_problem_is_reported_with_its_key() {
        let got = problems(
            r#"
            [capture]
            interfaces = []
            workers = 0
            buffer_size = "12 parsecs"
            [flow.timeouts]
            tcp_established = "0s"
            udp = "forever"
            [metrics]
            listen = "localhost"
            [health]
            interval = "10ms"
            "#,
        );
        assert_eq!(
            got,
            vec![
                "capture.interfaces: at least one interface is required",
                "capture.buffer_size: `12 parsecs`: unit must be one of KiB, MiB, GiB",
                "capture.workers: must be between 1 and 64",
                "flow.timeouts.tcp_established: must be > 0",
                "flow.timeouts.udp: `forever` is not a duration (e.g. 250ms, 30s, 10m, 2h, 1d)",
                "metrics.listen: `localhost` is not an address:port (e.g. 127.0.0.1:9917); \"\" = off",
                "health.interval: must be 0 (off) or at least 1s",
            ]
        );
    }

    #[test]
    fn unknown_keys_are_errors_in_every_section() {
        let got = problems(
            "colour = 1\n[capture]\ninterfaces=[\"eth0\"]\nsnaplenn = 3\n[flow.timeouts]\nicmp = \"1s\"\n",
        );
        assert_eq!(got.len(), 3, "{got:?}");
        assert!(
            got[0].starts_with("capture.snaplenn: unknown field `snaplenn`"),
            "{got:?}"
        );
        assert!(got[1].starts_with("colour: unknown key"), "{got:?}");
        assert!(
            got[2].starts_with("flow.timeouts.icmp: unknown field `icmp`"),
            "{got:?}"
        );
    }

    #[test]
    fn durations_and_sizes() {
        assert_eq!(parse_duration("250ms"), Ok(Duration::from_millis(250)));
        assert_eq!(parse_duration("10m"), Ok(Duration::from_secs(600)));
        assert_eq!(parse_duration("1d"), Ok(Duration::from_secs(86_400)));
        assert_eq!(parse_duration("0"), Ok(Duration::ZERO));
        assert!(parse_duration("10").is_err());
        assert!(parse_duration("-1s").is_err());
        assert!(parse_duration("99999999999999999999d").is_err());
        assert_eq!(parse_size(&SizeText::Text("64MiB".into())), Ok(64 << 20));
        assert_eq!(parse_size(&SizeText::Bytes(4096)), Ok(4096));
        assert!(parse_size(&SizeText::Text("1TB".into())).is_err());
    }

    #[test]
    fn problems_of_both_stages_are_reported_together() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("c.toml");
        let text = "[capture]\ninterfaces=[]\nworkerz=2\n[flow.timeouts]\nudp=\"0s\"\n";
        std::fs::write(&path, text).unwrap();
        let got: Vec<String> = match load(&path) {
            Err(e) => e.problems().iter().map(Problem::to_string).collect(),
            Ok(_) => Vec::new(),
        };
        // The rest of [capture] is still checked: only the bad key is left out.
        assert_eq!(got.len(), 3, "{got:?}");
        assert!(
            got[0].starts_with("capture.workerz: unknown field `workerz`"),
            "{got:?}"
        );
        assert_eq!(
            got[1],
            "capture.interfaces: at least one interface is required"
        );
        assert_eq!(got[2], "flow.timeouts.udp: must be > 0");
    }

    #[test]
    fn every_type_error_is_reported_with_its_key_path() {
        let got = problems(
            "[capture]\ninterfaces = [\"eth0\"]\nworkers = \"2\"\nsnaplen = true\n\
             [flow]\nmax_flows = \"many\"\n[flow.timeouts]\nudp = 5\n\
             [iocs.filters]\nmax_age_days = -1\n[[exclude]]\nname = 7\n",
        );
        assert_eq!(
            got,
            vec![
                "capture.snaplen: invalid type: boolean `true`, expected u32",
                "capture.workers: invalid type: string \"2\", expected u32",
                "exclude[0].name: invalid type: integer `7`, expected a string",
                "flow.max_flows: invalid type: string \"many\", expected u64",
                "flow.timeouts.udp: invalid type: integer `5`, expected a string",
                "iocs.filters.max_age_days: invalid value: integer `-1`, expected u32",
            ]
        );
    }

    #[test]
    fn log_levels_are_checked_and_synonyms_normalized() {
        assert_eq!(log_filter("warning"), Ok("warn".to_string()));
        assert_eq!(log_filter("INFO"), Ok("info".to_string()));
        assert_eq!(
            log_filter("info, c2tap=debug"),
            Ok("info,c2tap=debug".to_string())
        );
        for bad in ["verbose", "", "c2tap=loud", "=info", "info,"] {
            assert!(log_filter(bad).is_err(), "{bad}");
        }
        let got = problems("[capture]\ninterfaces=[\"eth0\"]\n[logging]\nlevel = \"warnings\"\n");
        assert_eq!(got.len(), 1);
        assert!(
            got[0].starts_with("logging.level: `warnings` is not a level"),
            "{got:?}"
        );
    }

    #[test]
    fn each_bad_output_option_is_reported_under_its_key() {
        let got = problems(
            "[capture]\ninterfaces=[\"eth0\"]\n[outputs.options]\nqueue_records = \"x\"\n\
             facility = \"bogus\"\nframing = \"lf\"\n",
        );
        assert_eq!(got.len(), 2, "{got:?}");
        assert!(
            got[0].starts_with("outputs.options.facility: unknown variant `bogus`"),
            "{got:?}"
        );
        assert_eq!(
            got[1],
            "outputs.options.queue_records: invalid type: string \"x\", expected usize"
        );
    }

    #[test]
    fn allow_broad_names_configured_feeds() {
        let text = "[capture]\ninterfaces=[\"eth0\"]\n[iocs]\nfeeds = [\"a.txt\", \"b.txt\"]\n\
                    [iocs.allow_broad]\n\"b.txt\" = true\n\"c.txt\" = true\n";
        assert_eq!(
            problems(text),
            vec!["iocs.allow_broad.\"c.txt\": not one of iocs.feeds"]
        );
        let ok = text.replace("\"c.txt\" = true\n", "");
        let s = RawConfig::parse(&ok).ok().and_then(|r| r.validate().ok());
        assert_eq!(s.map(|s| s.iocs.allow_broad), Some(vec![false, true]));
    }

    #[test]
    fn feed_malware_names_configured_feeds_and_a_family() {
        let text = "[capture]\ninterfaces=[\"eth0\"]\n[iocs]\nfeeds = [\"a.txt\", \"b.txt\"]\n\
                    [iocs.feed_malware]\n\"b.txt\" = \" Remcos \"\n\"c.txt\" = \"X\"\n\"a.txt\" = \"\"\n";
        assert_eq!(
            problems(text),
            vec![
                "iocs.feed_malware.\"a.txt\": must name a malware family",
                "iocs.feed_malware.\"c.txt\": not one of iocs.feeds"
            ]
        );
        let ok = "[capture]\ninterfaces=[\"eth0\"]\n[iocs]\nfeeds = [\"a.txt\", \"b.txt\"]\n\
                  [iocs.feed_malware]\n\"b.txt\" = \"Remcos\"\n";
        let s = RawConfig::parse(ok).ok().and_then(|r| r.validate().ok());
        assert_eq!(
            s.map(|s| s.iocs.feed_malware),
            Some(vec![None, Some("Remcos".to_string())])
        );
    }

    #[test]
    fn bad_bpf_is_reported() {
        let got = problems("[capture]\ninterfaces=[\"eth0\"]\nbpf = \"host and and\"\n");
        assert_eq!(got.len(), 1);
        assert!(got[0].starts_with("capture.bpf: "), "{got:?}");
    }

    #[test]
    fn max_flows_is_shared_by_workers() {
        let raw = RawConfig::parse(
            "[capture]\ninterfaces=[\"eth0\"]\nworkers=4\n[flow]\nmax_flows=1000\n",
        );
        let s = raw.ok().and_then(|r| r.validate().ok());
        assert_eq!(s.map(|s| s.worker.flow.max_flows), Some(250));
    }

    #[test]
    fn flow_numbers_share_the_command_lines_ranges() {
        let got = problems(
            "[capture]\ninterfaces=[\"eth0\"]\n[flow]\nmax_flows=0\nstorm_flows=1000001\nstorm_window=\"500ms\"\n",
        );
        assert_eq!(
            got,
            vec![
                "flow.max_flows: must be between 1 and 100000000",
                "flow.storm_flows: must be between 0 and 1000000",
                "flow.storm_window: must be between 1s and 3600s",
            ]
        );
    }
}
