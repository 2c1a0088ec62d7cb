//! Load statistics: for every feed, where each row went — loaded, merged into a duplicate,
//! skipped as another IOC type, filtered (per reason) or rejected (per reason, with the first
//! few offending lines). Every row lands in exactly one bucket, so the counts add up to the
//! rows read and a report can be checked at a glance.

use super::detect_format::FeedFormat;
use super::filter::FilterReason;
use super::names::{NameKind, NameSet};
use super::reject::RejectReason;
use super::row::Location;

/// Most rejected rows listed per file; the counts stay exact beyond it.
pub const MAX_REJECT_DETAILS: usize = 50;

/// Longest excerpt of a rejected row kept for the report.
/// Short on purpose: a file named as a feed by mistake (or by someone steering a config) must
/// not have its lines copied into reports and logs; an IOC value is at most 47 characters.
const MAX_EXCERPT_CHARS: usize = 48;

/// One rejected row, for the analyst to fix the feed.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct RejectDetail {
    pub file: String,
    pub at: Location,
    pub reason: RejectReason,
    /// The row (or value) as read, cut to a bounded length.
    pub text: String,
}

/// Rows left out by the filters, per reason.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct FilterCounts {
    pub low_confidence: u64,
    pub stale: u64,
    pub malware: u64,
}

impl FilterCounts {
    pub fn add(&mut self, reason: FilterReason) {
        *match reason {
            FilterReason::LowConfidence => &mut self.low_confidence,
            FilterReason::Stale => &mut self.stale,
            FilterReason::Malware => &mut self.malware,
        } += 1;
    }

    pub fn total(&self) -> u64 {
        self.low_confidence + self.stale + self.malware
    }

    pub fn merge(&mut self, other: &FilterCounts) {
        self.low_confidence += other.low_confidence;
        self.stale += other.stale;
        self.malware += other.malware;
    }
}

/// Rejected rows, per reason.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct RejectCounts {
    pub bad_address: u64,
    pub bad_port: u64,
    pub unspecified: u64,
    pub broadcast: u64,
    pub multicast: u64,
    pub loopback: u64,
    pub link_local: u64,
    pub too_broad: u64,
    pub private: u64,
    pub shared: u64,
    pub documentation: u64,
    pub reserved: u64,
    pub unparsable: u64,
    pub extra_columns: u64,
    pub empty_label: u64,
    pub label_too_long: u64,
    pub name_too_long: u64,
    pub bad_name_char: u64,
    pub single_label: u64,
    pub bad_url: u64,
}

impl RejectCounts {
    pub fn get(&self, reason: RejectReason) -> u64 {
        match reason {
            RejectReason::BadAddress => self.bad_address,
            RejectReason::BadPort => self.bad_port,
            RejectReason::Unspecified => self.unspecified,
            RejectReason::Broadcast => self.broadcast,
            RejectReason::Multicast => self.multicast,
            RejectReason::Loopback => self.loopback,
            RejectReason::LinkLocal => self.link_local,
            RejectReason::TooBroad => self.too_broad,
            RejectReason::Private => self.private,
            RejectReason::Shared => self.shared,
            RejectReason::Documentation => self.documentation,
            RejectReason::Reserved => self.reserved,
            RejectReason::Unparsable => self.unparsable,
            RejectReason::ExtraColumns => self.extra_columns,
            RejectReason::EmptyLabel => self.empty_label,
            RejectReason::LabelTooLong => self.label_too_long,
            RejectReason::NameTooLong => self.name_too_long,
            RejectReason::BadNameChar => self.bad_name_char,
            RejectReason::SingleLabel => self.single_label,
            RejectReason::BadUrl => self.bad_url,
        }
    }

    fn add(&mut self, reason: RejectReason) {
        *match reason {
            RejectReason::BadAddress => &mut self.bad_address,
            RejectReason::BadPort => &mut self.bad_port,
            RejectReason::Unspecified => &mut self.unspecified,
            RejectReason::Broadcast => &mut self.broadcast,
            RejectReason::Multicast => &mut self.multicast,
            RejectReason::Loopback => &mut self.loopback,
            RejectReason::LinkLocal => &mut self.link_local,
            RejectReason::TooBroad => &mut self.too_broad,
            RejectReason::Private => &mut self.private,
            RejectReason::Shared => &mut self.shared,
            RejectReason::Documentation => &mut self.documentation,
            RejectReason::Reserved => &mut self.reserved,
            RejectReason::Unparsable => &mut self.unparsable,
            RejectReason::ExtraColumns => &mut self.extra_columns,
            RejectReason::EmptyLabel => &mut self.empty_label,
            RejectReason::LabelTooLong => &mut self.label_too_long,
            RejectReason::NameTooLong => &mut self.name_too_long,
            RejectReason::BadNameChar => &mut self.bad_name_char,
            RejectReason::SingleLabel => &mut self.single_label,
            RejectReason::BadUrl => &mut self.bad_url,
        } += 1;
    }

    pub fn total(&self) -> u64 {
        RejectReason::ALL.iter().map(|r| self.get(*r)).sum()
    }
}

/// What one source contributed.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct FileStats {
    /// The path as given, or `builtin`.
    pub file: String,
    pub format: FeedFormat,
    /// For a ZIP: the archive entry that was read.
    pub archive_entry: Option<String>,
    /// Data rows read (comments, blank lines and headers are not rows).
    pub rows: u64,
    /// New IOCs this source added to the set.
    pub loaded: u64,
    /// Rows naming an IOC already in the set (from this or an earlier source): merged.
    pub duplicates: u64,
    /// Domain, URL, hash and other non-IP indicators: skipped, not errors.
    pub other_types: u64,
    pub filtered: FilterCounts,
    pub rejected: RejectCounts,
    /// The first [`MAX_REJECT_DETAILS`] rejected rows.
    pub reject_details: Vec<RejectDetail>,
    /// Rows loaded only because the feed allows broad IOCs (`allow_broad`): each one a
    /// network or host the default rules refuse. Reports warn about them.
    pub broad: u64,
    /// The first [`MAX_BROAD_EXAMPLES`] of them, with the rule they would break.
    pub broad_examples: Vec<(String, RejectReason)>,
    /// Of `loaded`, the name IOCs by kind.
    pub names: NameCounts,
}

/// Name IOCs by kind.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct NameCounts {
    pub domain: u64,
    pub suffix: u64,
    pub url: u64,
}

impl NameCounts {
    pub fn add(&mut self, kind: NameKind) {
        *match kind {
            NameKind::Domain => &mut self.domain,
            NameKind::Suffix => &mut self.suffix,
            NameKind::Url => &mut self.url,
        } += 1;
    }

    /// What a finished set holds.
    pub fn of(set: &NameSet) -> NameCounts {
        let n = |kind| set.count(kind) as u64;
        NameCounts {
            domain: n(NameKind::Domain),
            suffix: n(NameKind::Suffix),
            url: n(NameKind::Url),
        }
    }

    pub fn total(&self) -> u64 {
        self.domain + self.suffix + self.url
    }
}

/// Broad IOCs named per file in a warning; the count stays exact beyond it.
pub const MAX_BROAD_EXAMPLES: usize = 5;

impl FileStats {
    pub fn new(file: &str, format: FeedFormat) -> FileStats {
        FileStats {
            file: file.to_string(),
            format,
            archive_entry: None,
            rows: 0,
            loaded: 0,
            duplicates: 0,
            other_types: 0,
            filtered: FilterCounts::default(),
            rejected: RejectCounts::default(),
            reject_details: Vec::new(),
            broad: 0,
            broad_examples: Vec::new(),
            names: NameCounts::default(),
        }
    }

    /// Notes a broad IOC that `allow_broad` let in.
    pub fn accept_broad(&mut self, endpoint: super::Endpoint, rule: RejectReason) {
        self.broad += 1;
        if self.broad_examples.len() < MAX_BROAD_EXAMPLES {
            self.broad_examples.push((endpoint.to_string(), rule));
        }
    }

    /// One loud line when broad IOCs were loaded, for `c2tap iocs`, `check-config` and the log.
    pub fn broad_warning(&self) -> Option<String> {
        if self.broad == 0 {
            return None;
        }
        let examples: Vec<String> = self
            .broad_examples
            .iter()
            .map(|(ioc, rule)| format!("{ioc} ({rule})"))
            .collect();
        let more = self.broad - self.broad_examples.len() as u64;
        let more = match more {
            0 => String::new(),
            n => format!(" and {n} more"),
        };
        Some(format!(
            "WARNING: {}: allow_broad loaded {} broad IOC(s) the default rules refuse: {}{more}; \
             every flow touching them alerts",
            self.file,
            self.broad,
            examples.join(", ")
        ))
    }

    /// Rows that named a usable IOC, whether or not a filter then dropped it.
    pub fn valid(&self) -> u64 {
        self.loaded + self.duplicates + self.filtered.total()
    }

    pub fn reject(&mut self, at: Location, reason: RejectReason, text: &str) {
        self.rejected.add(reason);
        if self.reject_details.len() < MAX_REJECT_DETAILS {
            let mut excerpt: String = text.trim().chars().take(MAX_EXCERPT_CHARS).collect();
            if text.trim().chars().nth(MAX_EXCERPT_CHARS).is_some() {
                excerpt.push('…');
            }
            self.reject_details.push(RejectDetail {
                file: self.file.clone(),
                at,
                reason,
                text: excerpt,
            });
        }
    }
}

/// Statistics of a whole load.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct LoadStats {
    pub files: Vec<FileStats>,
    /// Address IOCs in the effective set.
    pub iocs: usize,
    /// Name IOCs in the effective set, by kind.
    pub names: NameCounts,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reject_details_are_bounded_and_counts_exact() {
        let mut stats = FileStats::new("f.txt", FeedFormat::Plain);
        for n in 0..(MAX_REJECT_DETAILS as u64 + 10) {
            stats.reject(Location::Line(n), RejectReason::Loopback, &"x".repeat(500));
        }
        stats.reject(Location::Line(999), RejectReason::BadPort, "1.2.3.4:0");
        assert_eq!(stats.rejected.loopback, MAX_REJECT_DETAILS as u64 + 10);
        assert_eq!(stats.rejected.get(RejectReason::BadPort), 1);
        assert_eq!(stats.rejected.total(), MAX_REJECT_DETAILS as u64 + 11);
        assert_eq!(stats.reject_details.len(), MAX_REJECT_DETAILS);
        assert_eq!(
            stats.reject_details[0].text.chars().count(),
            MAX_EXCERPT_CHARS + 1
        );
        let mut filtered = FilterCounts::default();
        filtered.add(FilterReason::Stale);
        filtered.add(FilterReason::Malware);
        assert_eq!((filtered.stale, filtered.total()), (1, 2));
    }
}
