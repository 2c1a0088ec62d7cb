//! One source's rows into the shared builder: reads the file (or the built-in set), detects
//! its format, runs the parser and, as the parser's [`RowSink`], validates, filters and merges
//! every address and name row. Each rule about what enters the set exists here once.

use std::borrow::Cow;
use std::path::Path;

use super::address_csv::{self, Layout};
use super::archive::{read_bounded, unzip};
use super::builder::{Inserted, IocSetBuilder};
use super::defang::{refang, strip_url, trim_noise};
use super::detect_format::{detect, FeedFormat};
use super::endpoint::Endpoint;
use super::filter::Filters;
use super::load::{FeedSource, LoadError, MAX_FEED_BYTES};
use super::names::{normalize_name, normalize_url, NameKind};
use super::reject::RejectReason;
use super::row::{FeedRow, Location, RowSink, ValueKind};
use super::stats::FileStats;
use super::text::{decode, FormatError};
use super::timestamp::Timestamp;
use super::{
    builtin_entries, feodo_json, markdown, plain, stix, threatfox_csv, threatfox_json, Ioc,
};

/// Validates, filters and merges one source's rows into the shared builder.
pub(super) struct Collector<'b> {
    builder: &'b mut IocSetBuilder,
    filters: &'b Filters,
    now_epoch_secs: u64,
    /// Recorded as each IOC's `source`.
    source_name: &'b str,
    pub(super) full: bool,
    pub(super) stats: FileStats,
}

impl<'b> Collector<'b> {
    pub(super) fn new(
        builder: &'b mut IocSetBuilder,
        filters: &'b Filters,
        now_epoch_secs: u64,
        source: &FeedSource,
    ) -> Collector<'b> {
        Collector {
            builder,
            filters,
            now_epoch_secs,
            source_name: "",
            full: false,
            stats: FileStats::new(&source.to_string(), FeedFormat::Builtin),
        }
    }

    pub(super) fn load_builtin(&mut self) {
        self.stats.format = FeedFormat::Builtin;
        for (number, (_, ioc)) in (1u64..).zip(builtin_entries()) {
            self.source_name = "ThreatFox";
            self.row(
                Location::Record(number),
                FeedRow {
                    kind: ValueKind::Address,
                    value: Cow::Borrowed(&ioc.value),
                    malware: Some(Cow::Borrowed(&ioc.malware)),
                    threat_type: Some(Cow::Borrowed(&ioc.threat_type)),
                    confidence: ioc.confidence,
                    first_seen: ioc.first_seen.as_deref().and_then(Timestamp::parse),
                    last_seen: ioc.last_seen.as_deref().and_then(Timestamp::parse),
                    reference: ioc.reference.as_deref().map(Cow::Borrowed),
                },
            );
        }
    }

    pub(super) fn load_file(&mut self, path: &Path) -> Result<(), LoadError> {
        let label = self.stats.file.clone();
        crate::privilege::check_file_trust(path)?;
        // Refuse by size before reading a byte: a sparse or huge file costs nothing this way.
        if std::fs::metadata(path).is_ok_and(|m| m.len() > MAX_FEED_BYTES) {
            return Err(LoadError::TooLarge { file: label });
        }
        let mut bytes = read_bounded(crate::privilege::open_regular(path), &label)?;
        let mut format = detect(&bytes).map_err(|source| LoadError::Format {
            file: label.clone(),
            source,
        })?;
        if format == FeedFormat::Zip {
            let (entry, content) = unzip(bytes, &label)?;
            let inner = format!("{label}!{entry}");
            format = detect(&content).map_err(|source| LoadError::Format {
                file: inner.clone(),
                source,
            })?;
            if format == FeedFormat::Zip {
                let source = FormatError::NotAFeed("a ZIP inside the ZIP");
                return Err(LoadError::Format {
                    file: inner,
                    source,
                });
            }
            self.stats.archive_entry = Some(entry);
            bytes = content;
        }
        self.stats.format = format;
        let file_name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| label.clone());
        let text = decode(&bytes);
        let source_name = format.publisher().map(str::to_string).unwrap_or(file_name);
        let mut sink = Collector {
            builder: &mut *self.builder,
            filters: self.filters,
            now_epoch_secs: self.now_epoch_secs,
            source_name: &source_name,
            full: false,
            stats: std::mem::replace(&mut self.stats, FileStats::new(&label, format)),
        };
        let parsed = match format {
            FeedFormat::Plain => plain::parse(&text, &mut sink),
            FeedFormat::Markdown => markdown::parse(&text, &mut sink),
            FeedFormat::ThreatfoxCsv => threatfox_csv::parse(&text, &mut sink),
            FeedFormat::ThreatfoxJson => threatfox_json::parse_export(&text, &mut sink),
            FeedFormat::ThreatfoxApi => threatfox_json::parse_api(&text, &mut sink),
            FeedFormat::Stix => stix::parse(&text, &mut sink),
            FeedFormat::FeodoCsv => address_csv::parse(&text, Layout::Feodo, &mut sink),
            FeedFormat::FeodoJson => feodo_json::parse(&text, &mut sink),
            FeedFormat::AddressCsv => address_csv::parse(&text, Layout::Generic, &mut sink),
            FeedFormat::Builtin | FeedFormat::Zip => Ok(()),
        };
        self.full = sink.full;
        self.stats = sink.stats;
        parsed.map_err(|source| LoadError::Format {
            file: label,
            source,
        })
    }

    fn ioc(&self, value: String, port: Option<u16>, row: &FeedRow<'_>) -> Ioc {
        let text =
            |t: &Option<Cow<'_, str>>| t.as_deref().map(str::trim).unwrap_or_default().to_string();
        Ioc {
            value,
            port,
            malware: text(&row.malware),
            threat_type: text(&row.threat_type),
            confidence: row.confidence,
            first_seen: row.first_seen.map(|t| t.to_string()),
            last_seen: row.last_seen.map(|t| t.to_string()),
            source: self.source_name.to_string(),
            reference: row
                .reference
                .as_deref()
                .map(str::trim)
                .filter(|r| !r.is_empty())
                .map(str::to_string),
        }
    }

    /// A refanged address value, validated; a broad one only with `allow_broad` (counted).
    fn address(&mut self, refanged: &str) -> Result<Target, RejectReason> {
        let endpoint = Endpoint::parse(strip_url(refanged))?;
        if let Some(reason) = endpoint.breadth() {
            if !self.filters.allow_broad {
                return Err(reason);
            }
            self.stats.accept_broad(endpoint, reason);
        }
        Ok(Target::Address(endpoint))
    }
}

/// A validated row value: what the builder is keyed by.
enum Target {
    Address(Endpoint),
    /// Kind, lookup key, display value.
    Name(NameKind, String, String),
}

/// A refanged name or URL value, normalised. `*.example.org` (or any name of a feed that opts
/// in with `suffix`) is a suffix IOC; nothing else is.
fn name_target(kind: ValueKind, refanged: &str, suffix: bool) -> Result<Target, RejectReason> {
    let text = trim_noise(refanged);
    if kind == ValueKind::Url {
        let url = normalize_url(text)?;
        return Ok(Target::Name(NameKind::Url, url.key, url.display));
    }
    let (kind, name) = match text.strip_prefix("*.") {
        Some(name) => (NameKind::Suffix, name),
        None if suffix => (NameKind::Suffix, text),
        None => (NameKind::Domain, text),
    };
    let name = normalize_name(name)?;
    let display = match kind {
        NameKind::Suffix => format!("*.{name}"),
        _ => name.clone(),
    };
    Ok(Target::Name(kind, name, display))
}

impl RowSink for Collector<'_> {
    fn row(&mut self, at: Location, row: FeedRow<'_>) {
        self.stats.rows += 1;
        let refanged = refang(&row.value);
        let target = match row.kind {
            ValueKind::Address => self.address(&refanged),
            kind => name_target(kind, &refanged, self.filters.suffix_names),
        };
        let target = match target {
            Ok(target) => target,
            Err(reason) => return self.stats.reject(at, reason, &row.value),
        };
        let mut row = row;
        if row.malware.is_none() {
            row.malware = self.filters.feed_malware.clone().map(Cow::Owned);
        }
        if let Some(reason) = self.filters.check(&row, self.now_epoch_secs) {
            return self.stats.filtered.add(reason);
        }
        let (inserted, name) = match target {
            Target::Address(endpoint) => {
                let ioc = self.ioc(endpoint.to_string(), endpoint.port(), &row);
                (self.builder.insert(endpoint, ioc), None)
            }
            Target::Name(kind, key, display) => {
                let ioc = self.ioc(display, None, &row);
                (self.builder.insert_name(kind, key, ioc), Some(kind))
            }
        };
        match inserted {
            Inserted::New => {
                self.stats.loaded += 1;
                if let Some(kind) = name {
                    self.stats.names.add(kind);
                }
            }
            Inserted::Merged => self.stats.duplicates += 1,
            Inserted::Full => self.full = true,
        }
    }

    fn other_type(&mut self, _at: Location) {
        self.stats.rows += 1;
        self.stats.other_types += 1;
    }

    fn reject(&mut self, at: Location, reason: RejectReason, text: &str) {
        self.stats.rows += 1;
        self.stats.reject(at, reason, text);
    }
}
