//! Feed loading: the `--iocs` sources (files in any supported format, or the built-in set)
//! become one [`IocSet`] plus the statistics that `c2tap iocs` prints. Runs beside the data
//! path, at start and on reload; the packet path only ever sees the finished set.
//!
//! Input is bounded: a feed file (or ZIP entry) above [`MAX_FEED_BYTES`] and a line above
//! [`MAX_LINE_BYTES`](super::text::MAX_LINE_BYTES) are errors, checked before allocating.

use std::fmt;
use std::path::PathBuf;

use super::builder::{IocSetBuilder, MAX_SET_IOCS};
use super::collect::Collector;
use super::filter::Filters;
use super::stats::{FileStats, FilterCounts, LoadStats};
use super::text::FormatError;
use super::IocSet;

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
        let filters = match source {
            FeedSource::Builtin => &builtin_filters,
            FeedSource::File(_) => filters,
        };
        let mut collector = Collector::new(&mut builder, filters, now_epoch_secs, source);
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
    stats.names = super::stats::NameCounts::of(set.names());
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
