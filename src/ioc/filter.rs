//! Load-time filters: which valid IOCs enter the set. Stale C2 entries are the main source of
//! false positives, so age counts from last-seen (first-seen when the feed has no last-seen).
//! "Now" is passed in, never read from the clock here, so loads are reproducible.

use serde::Deserialize;

use super::row::FeedRow;

const SECS_PER_DAY: u64 = 86_400;

/// Confidence values a threshold may take (`--min-confidence`, `iocs.filters.min_confidence`,
/// `[iocs.feed_min_confidence]`): the feeds' 0-100 scale.
pub const CONFIDENCE: std::ops::RangeInclusive<u8> = 0..=100;

/// Filters from the CLI or the `[iocs]` part of the config file.
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Filters {
    /// Drop IOCs whose confidence is below this. IOCs without a confidence (plain lists,
    /// hand-made tables) are kept: the analyst who listed them vouches for them.
    pub min_confidence: Option<u8>,
    /// Drop IOCs last seen (else first seen) more than this many days before `now`. IOCs
    /// without any date are kept, and so is the built-in set (its dates are fixed at build
    /// time). 0 = off, as 0 means off for every c2tap setting.
    pub max_age_days: Option<u32>,
    /// Keep only these malware families (case-insensitive, compared with the feed's printable
    /// name); empty keeps all. With a list, IOCs that name no family are dropped.
    #[serde(default)]
    pub malware: Vec<String>,
    /// Load networks too broad for an IOC and networks in private, shared, documentation or
    /// reserved space (see [`super::endpoint`]); counted in the load statistics so reports can
    /// warn. Set per feed (`[iocs.allow_broad]`) or by `--allow-broad`, never in
    /// `[iocs.filters]`.
    #[serde(skip)]
    pub allow_broad: bool,
    /// Family for the feed's rows that name none (`[iocs.feed_malware]`): a plain list of one
    /// family's C2s then says whose they are instead of "Unknown C2". A family the row or a
    /// `# malware:` comment names wins. Per feed, never in `[iocs.filters]`.
    #[serde(skip)]
    pub feed_malware: Option<String>,
    /// Load every host name of the feed as a suffix IOC (the name and all names below it), as
    /// if written `*.name`: for a list of dynamic-DNS zones. Per feed, never implied.
    #[serde(skip)]
    pub suffix_names: bool,
}

/// Why a valid IOC was left out.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum FilterReason {
    LowConfidence,
    Stale,
    Malware,
}

impl Filters {
    /// `None` when the row passes.
    pub fn check(&self, row: &FeedRow<'_>, now_epoch_secs: u64) -> Option<FilterReason> {
        if let (Some(min), Some(conf)) = (self.min_confidence, row.confidence) {
            if conf < min {
                return Some(FilterReason::LowConfidence);
            }
        }
        let max_age_days = self.max_age_days.filter(|&d| d > 0);
        if let (Some(days), Some(seen)) = (max_age_days, row.last_seen.or(row.first_seen)) {
            let oldest = i128::from(now_epoch_secs) - i128::from(days) * i128::from(SECS_PER_DAY);
            if i128::from(seen.epoch_secs()) < oldest {
                return Some(FilterReason::Stale);
            }
        }
        if !self.malware.is_empty() {
            let named = row.malware.as_deref().unwrap_or_default().trim();
            if !self
                .malware
                .iter()
                .any(|m| m.trim().eq_ignore_ascii_case(named))
            {
                return Some(FilterReason::Malware);
            }
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ioc::timestamp::Timestamp;
    use std::borrow::Cow;

    const NOW: u64 = 1_778_284_800; // 2026-05-09 00:00:00 UTC

    fn row(
        conf: Option<u8>,
        first: Option<&str>,
        last: Option<&str>,
        malware: Option<&'static str>,
    ) -> FeedRow<'static> {
        FeedRow {
            value: Cow::Borrowed("1.2.3.4:80"),
            confidence: conf,
            first_seen: first.and_then(Timestamp::parse),
            last_seen: last.and_then(Timestamp::parse),
            malware: malware.map(Cow::Borrowed),
            ..FeedRow::default()
        }
    }

    #[test]
    fn filters_by_confidence_age_and_family() {
        let filters = Filters {
            min_confidence: Some(75),
            max_age_days: Some(30),
            malware: vec!["remcos ".into()],
            allow_broad: false,
            feed_malware: None,
            suffix_names: false,
        };
        let fresh = Some("2026-05-01");
        assert_eq!(
            filters.check(&row(Some(75), fresh, None, Some("Remcos")), NOW),
            None
        );
        assert_eq!(
            filters.check(&row(None, None, None, Some("Remcos")), NOW),
            None
        );
        assert_eq!(
            filters.check(&row(Some(50), fresh, None, Some("Remcos")), NOW),
            Some(FilterReason::LowConfidence)
        );
        assert_eq!(
            filters.check(
                &row(Some(90), Some("2026-04-09"), None, Some("Remcos")),
                NOW
            ),
            None
        );
        assert_eq!(
            filters.check(
                &row(Some(90), Some("2026-04-08 23:59:59"), None, Some("Remcos")),
                NOW
            ),
            Some(FilterReason::Stale)
        );
        assert_eq!(
            filters.check(
                &row(
                    Some(90),
                    Some("2020-01-01"),
                    Some("2026-05-08"),
                    Some("Remcos")
                ),
                NOW
            ),
            None
        );
        assert_eq!(
            filters.check(&row(Some(90), fresh, None, Some("AsyncRAT")), NOW),
            Some(FilterReason::Malware)
        );
        assert_eq!(
            filters.check(&row(Some(90), fresh, None, None), NOW),
            Some(FilterReason::Malware)
        );
        assert_eq!(
            Filters::default().check(&row(Some(0), Some("1999-01-01"), None, None), NOW),
            None
        );
        let age_off = Filters {
            max_age_days: Some(0),
            ..Filters::default()
        };
        assert_eq!(
            age_off.check(&row(Some(90), Some("1999-01-01"), None, None), NOW),
            None
        );
    }

    #[test]
    fn deserializes_from_config_and_refuses_unknown_keys() {
        let filters: Result<Filters, _> =
            toml::from_str("min_confidence = 75\nmax_age_days = 30\nmalware = [\"Remcos\"]");
        assert_eq!(
            filters.ok(),
            Some(Filters {
                min_confidence: Some(75),
                max_age_days: Some(30),
                malware: vec!["Remcos".into()],
                allow_broad: false,
                feed_malware: None,
                suffix_names: false,
            })
        );
        assert!(toml::from_str::<Filters>("min_conf = 75").is_err());
    }
}
