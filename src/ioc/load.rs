//! Feed loading: the `--iocs` sources (files in any supported format, or the built-in set)
//! become one [`IocSet`] plus the statistics that `c2tap iocs` prints. Runs beside the data
//! path, at start and on reload; the packet path only ever sees the finished set.
//!
//! Input is bounded: a feed file (or ZIP entry) above [`MAX_FEED_BYTES`] and a line above
//! [`MAX_LINE_BYTES`](super::text::MAX_LINE_BYTES) are errors, checked before allocating.

use std::borrow::Cow;
use std::fmt;
use std::io::{Cursor, Read};
use std::path::{Path, PathBuf};

use super::address_csv::{self, Layout};
use super::builder::{Inserted, IocSetBuilder, MAX_SET_IOCS};
use super::defang::{refang, strip_url};
use super::detect_format::{detect, FeedFormat};
use super::endpoint::{Endpoint, RejectReason};
use super::filter::Filters;
use super::row::{FeedRow, Location, RowSink};
use super::stats::{FileStats, FilterCounts, LoadStats};
use super::text::{decode, FormatError};
use super::{
    builtin_entries, feodo_json, markdown, plain, stix, threatfox_csv, threatfox_json, Ioc, IocSet,
};

/// Largest feed file, or ZIP entry once unpacked. The full ThreatFox export is well below it.
pub const MAX_FEED_BYTES: u64 = 512 * 1024 * 1024;

/// One `--iocs` argument.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum FeedSource {
    /// The embedded default set; named explicitly to keep it alongside given feeds.
    Builtin,
    File(PathBuf),
}

impl FeedSource {
    /// `builtin` names the embedded set; anything else is a path (write `./builtin` for a file
    /// of that name).
    pub fn parse(arg: &str) -> FeedSource {
        match arg {
            "builtin" => FeedSource::Builtin,
            path => FeedSource::File(PathBuf::from(path)),
        }
    }
}

impl std::str::FromStr for FeedSource {
    type Err = std::convert::Infallible;
    fn from_str(arg: &str) -> Result<Self, Self::Err> {
        Ok(FeedSource::parse(arg))
    }
}

impl fmt::Display for FeedSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FeedSource::Builtin => f.write_str("builtin"),
            FeedSource::File(path) => write!(f, "{}", path.display()),
        }
    }
}

/// The effective set and how it came to be.
#[derive(Debug)]
pub struct Loaded {
    pub set: IocSet,
    pub stats: LoadStats,
}

/// Why a load failed. Every variant names the file; a failed load never yields a set, so the
/// caller keeps the previous one on reload.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    #[error("{file}: cannot read: {source}")]
    Io {
        file: String,
        source: std::io::Error,
    },
    #[error("{file}: larger than the {MAX_FEED_BYTES}-byte feed limit")]
    TooLarge { file: String },
    #[error("{file}: {source}")]
    Format { file: String, source: FormatError },
    #[error("{file}: not a readable ZIP archive (truncated download?): {reason}")]
    Zip { file: String, reason: String },
    #[error("{file}: the ZIP archive holds no feed file")]
    EmptyZip { file: String },
    #[error(
        "{file}: no usable IOC in this {format} feed ({rows} rows: {other_types} of other IOC types, \
         {rejected} rejected{first_reject})"
    )]
    NoIocs {
        file: String,
        format: &'static str,
        rows: u64,
        other_types: u64,
        rejected: u64,
        first_reject: String,
    },
    /// Names each filter that dropped IOCs and its key, so the operator knows what to change.
    #[error("every IOC was filtered out ({}); refusing an empty set", filtered_by(.counts))]
    AllFiltered { counts: FilterCounts },
    #[error("more than {MAX_SET_IOCS} IOCs")]
    TooManyIocs,
    /// A feed anyone but its owner may rewrite could plant or hide IOCs.
    #[error(transparent)]
    Untrusted(#[from] crate::privilege::PrivilegeError),
}

/// `2 by max_age_days (...)`, per filter that dropped something.
fn filtered_by(counts: &FilterCounts) -> String {
    let parts: Vec<String> = [
        (
            counts.stale,
            "last seen longer ago than iocs.filters.max_age_days / --max-age-days",
        ),
        (
            counts.low_confidence,
            "confidence below iocs.filters.min_confidence (or iocs.feed_min_confidence) / \
             --min-confidence",
        ),
        (
            counts.malware,
            "family not in iocs.filters.malware / --malware",
        ),
    ]
    .iter()
    .filter(|(n, _)| *n > 0)
    .map(|(n, why)| format!("{n} {why}"))
    .collect();
    match parts.is_empty() {
        true => "nothing loaded".into(),
        false => parts.join("; "),
    }
}

/// Loads `sources` (none → the built-in set) through `filters`. `now_epoch_secs` is the
/// reference time for `max_age_days`; callers pass the wall clock, tests a fixed instant.
pub fn load(
    sources: &[FeedSource],
    filters: &Filters,
    now_epoch_secs: u64,
) -> Result<Loaded, LoadError> {
    let builtin = [FeedSource::Builtin];
    let sources = if sources.is_empty() {
        &builtin[..]
    } else {
        sources
    };
    let mut builder = IocSetBuilder::default();
    let mut stats = LoadStats::default();
    // The built-in set's dates are fixed at build time: an age filter would empty it a few
    // months after a release, so it is exempt (documented with `max_age_days`).
    let builtin_filters = Filters {
        max_age_days: None,
        ..filters.clone()
    };
    for source in sources {
        let mut collector = Collector {
            builder: &mut builder,
            filters: match source {
                FeedSource::Builtin => &builtin_filters,
                FeedSource::File(_) => filters,
            },
            now_epoch_secs,
            source_name: "",
            full: false,
            stats: FileStats::new(&source.to_string(), FeedFormat::Builtin),
        };
        match source {
            FeedSource::Builtin => collector.load_builtin(),
            FeedSource::File(path) => collector.load_file(path)?,
        }
        if collector.full {
            return Err(LoadError::TooManyIocs);
        }
        let file = collector.stats;
        if file.valid() == 0 {
            return Err(no_iocs(file));
        }
        stats.files.push(file);
    }
    if builder.is_empty() {
        let mut counts = FilterCounts::default();
        for f in &stats.files {
            counts.merge(&f.filtered);
        }
        return Err(LoadError::AllFiltered { counts });
    }
    let set = builder.build();
    stats.iocs = set.len();
    Ok(Loaded { set, stats })
}

fn no_iocs(file: FileStats) -> LoadError {
    let first_reject = file
        .reject_details
        .first()
        .map(|d| format!("; first: {} {} `{}`", d.at, d.reason, log_prefix(&d.text)))
        .unwrap_or_default();
    LoadError::NoIocs {
        format: file.format.label(),
        rows: file.rows,
        other_types: file.other_types,
        rejected: file.rejected.total(),
        first_reject,
        file: file.file,
    }
}

/// Longest part of a rejected row an error (and so the log) quotes: enough to recognise a
/// mistyped address, too little to leak a line of a file that was never a feed.
const LOG_PREFIX_CHARS: usize = 16;

fn log_prefix(text: &str) -> String {
    let mut prefix: String = text.chars().take(LOG_PREFIX_CHARS).collect();
    if text.chars().nth(LOG_PREFIX_CHARS).is_some() {
        prefix.push('…');
    }
    prefix
}

/// Validates, filters and merges one source's rows into the shared builder.
struct Collector<'b> {
    builder: &'b mut IocSetBuilder,
    filters: &'b Filters,
    now_epoch_secs: u64,
    /// Recorded as each IOC's `source`.
    source_name: &'b str,
    full: bool,
    stats: FileStats,
}

impl Collector<'_> {
    fn load_builtin(&mut self) {
        self.stats.format = FeedFormat::Builtin;
        for (number, (_, ioc)) in (1u64..).zip(builtin_entries()) {
            self.source_name = "ThreatFox";
            self.row(
                Location::Record(number),
                FeedRow {
                    value: Cow::Borrowed(&ioc.value),
                    malware: Some(Cow::Borrowed(&ioc.malware)),
                    threat_type: Some(Cow::Borrowed(&ioc.threat_type)),
                    confidence: ioc.confidence,
                    first_seen: ioc.first_seen,
                    last_seen: ioc.last_seen,
                    reference: ioc.reference.as_deref().map(Cow::Borrowed),
                },
            );
        }
    }

    fn load_file(&mut self, path: &Path) -> Result<(), LoadError> {
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

    fn ioc(&self, endpoint: Endpoint, row: &FeedRow<'_>) -> Ioc {
        let text =
            |t: &Option<Cow<'_, str>>| t.as_deref().map(str::trim).unwrap_or_default().to_string();
        Ioc {
            value: endpoint.to_string(),
            port: endpoint.port(),
            malware: text(&row.malware),
            threat_type: text(&row.threat_type),
            confidence: row.confidence,
            first_seen: row.first_seen,
            last_seen: row.last_seen,
            source: self.source_name.to_string(),
            reference: row
                .reference
                .as_deref()
                .map(str::trim)
                .filter(|r| !r.is_empty())
                .map(str::to_string),
        }
    }
}

impl RowSink for Collector<'_> {
    fn row(&mut self, at: Location, row: FeedRow<'_>) {
        self.stats.rows += 1;
        let refanged = refang(&row.value);
        let endpoint = match Endpoint::parse(strip_url(&refanged)) {
            Ok(endpoint) => endpoint,
            Err(reason) => return self.stats.reject(at, reason, &row.value),
        };
        if let Some(reason) = endpoint.breadth() {
            if !self.filters.allow_broad {
                return self.stats.reject(at, reason, &row.value);
            }
            self.stats.accept_broad(endpoint, reason);
        }
        let mut row = row;
        if row.malware.is_none() {
            row.malware = self.filters.feed_malware.clone().map(Cow::Owned);
        }
        if let Some(reason) = self.filters.check(&row, self.now_epoch_secs) {
            return self.stats.filtered.add(reason);
        }
        let ioc = self.ioc(endpoint, &row);
        match self.builder.insert(endpoint, ioc) {
            Inserted::New => self.stats.loaded += 1,
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

/// Reads at most [`MAX_FEED_BYTES`]; the size check before the read avoids allocating for an
/// oversized file, the bounded read covers a file growing meanwhile.
fn read_bounded(reader: std::io::Result<impl Read>, label: &str) -> Result<Vec<u8>, LoadError> {
    let io = |source| LoadError::Io {
        file: label.to_string(),
        source,
    };
    let reader = reader.map_err(io)?;
    let mut bytes = Vec::new();
    reader
        .take(MAX_FEED_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(io)?;
    match bytes.len() as u64 > MAX_FEED_BYTES {
        true => Err(LoadError::TooLarge {
            file: label.to_string(),
        }),
        false => Ok(bytes),
    }
}

/// The archive's feed entry: the first file named like a feed (`.csv`, `.json`, `.txt`,
/// `.md`), else its first file. ThreatFox's full export holds just `full.csv`.
fn unzip(bytes: Vec<u8>, label: &str) -> Result<(String, Vec<u8>), LoadError> {
    let zip_err = |e: zip::result::ZipError| LoadError::Zip {
        file: label.to_string(),
        reason: e.to_string(),
    };
    let mut archive = zip::ZipArchive::new(Cursor::new(bytes)).map_err(zip_err)?;
    let names: Vec<(usize, String)> = (0..archive.len())
        .filter_map(|i| archive.name_for_index(i).map(|n| (i, n.to_string())))
        .filter(|(_, n)| !n.ends_with('/') && !n.starts_with("__MACOSX"))
        .collect();
    let is_feed = |n: &str| {
        [".csv", ".json", ".txt", ".md"]
            .iter()
            .any(|e| n.to_ascii_lowercase().ends_with(e))
    };
    let (index, name) = names
        .iter()
        .find(|(_, n)| is_feed(n))
        .or(names.first())
        .cloned()
        .ok_or_else(|| LoadError::EmptyZip {
            file: label.to_string(),
        })?;
    let entry = archive.by_index(index).map_err(zip_err)?;
    if entry.size() > MAX_FEED_BYTES {
        return Err(LoadError::TooLarge {
            file: format!("{label}!{name}"),
        });
    }
    let content = read_bounded(Ok(entry), &format!("{label}!{name}"))?;
    Ok((name, content))
}
