//! Per-feed minimum confidence, `allow_broad`, `suffix_names` and `feed_malware`: a trusted internal list and a noisy public
//! feed rarely deserve the same threshold, nor the same licence to list whole networks. Beside
//! the data path, at load and reload: each feed with a setting of its own is loaded alone with
//! it, and the sets are merged as one load would merge them (same endpoint: one IOC, metadata
//! joined). Without per-feed settings this is exactly `ioc::load`.

use std::time::Duration;

use crate::ioc::{
    self, Endpoint, FeedSource, FilterCounts, Filters, IocSetBuilder, LoadError, LoadStats, Loaded,
};

/// The `[iocs]` settings, validated by config and handed to [`load_feeds`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IocSettings {
    pub feeds: Vec<FeedSource>,
    pub filters: Filters,
    /// How often feed files are checked for changes; `None` = only on SIGHUP.
    pub watch_interval: Option<Duration>,
    /// Per feed, in `feeds` order: its own minimum confidence, if configured
    /// ([`load_feeds`] applies it).
    pub feed_min_confidence: Vec<Option<u8>>,
    /// Per feed, in `feeds` order: whether `[iocs.allow_broad]` lets it hold broad IOCs.
    pub allow_broad: Vec<bool>,
    /// Per feed, in `feeds` order: whether `[iocs.suffix_names]` makes its names zones.
    pub suffix_names: Vec<bool>,
    /// Per feed, in `feeds` order: the family `[iocs.feed_malware]` gives its unnamed rows.
    pub feed_malware: Vec<Option<String>>,
    /// `[[iocs.source]]` and `iocs.state_dir`.
    pub fetch: super::FetchSettings,
}

/// Loads `settings.feeds` (none → the built-in set) through the filters, each feed with its
/// own minimum confidence where `[iocs.feed_min_confidence]` names one.
pub fn load_feeds(settings: &IocSettings, now_epoch_secs: u64) -> Result<Loaded, LoadError> {
    let loaded = load_each(settings, now_epoch_secs)?;
    // Loud in the sensor's log too, at every (re)load, not only in check-config.
    for warning in loaded.stats.files.iter().filter_map(|f| f.broad_warning()) {
        tracing::warn!("{warning}");
    }
    Ok(loaded)
}

fn load_each(settings: &IocSettings, now_epoch_secs: u64) -> Result<Loaded, LoadError> {
    let per_feed = settings.feed_min_confidence.iter().any(Option::is_some)
        || settings.allow_broad.iter().any(|&b| b)
        || settings.suffix_names.iter().any(|&b| b)
        || settings.feed_malware.iter().any(Option::is_some);
    if !per_feed {
        return ioc::load(&settings.feeds, &settings.filters, now_epoch_secs);
    }
    let mut builder = IocSetBuilder::default();
    let mut stats = LoadStats::default();
    let mut filtered_away = FilterCounts::default();
    for (i, source) in settings.feeds.iter().enumerate() {
        let own = settings.feed_min_confidence.get(i).copied().flatten();
        let filters = Filters {
            min_confidence: own.or(settings.filters.min_confidence),
            allow_broad: settings.allow_broad.get(i).copied().unwrap_or(false),
            suffix_names: settings.suffix_names.get(i).copied().unwrap_or(false),
            feed_malware: settings.feed_malware.get(i).cloned().flatten(),
            ..settings.filters.clone()
        };
        let loaded = match ioc::load(std::slice::from_ref(source), &filters, now_epoch_secs) {
            Ok(loaded) => loaded,
            // This feed keeps nothing; the others may.
            Err(LoadError::AllFiltered { counts }) => {
                filtered_away.merge(&counts);
                continue;
            }
            Err(e) => return Err(e),
        };
        for ioc in loaded.set.iter() {
            if let Ok(endpoint) = Endpoint::parse(&ioc.value) {
                builder.insert(endpoint, (**ioc).clone());
            }
        }
        stats.files.extend(loaded.stats.files);
    }
    if builder.is_empty() {
        for f in &stats.files {
            filtered_away.merge(&f.filtered);
        }
        return Err(LoadError::AllFiltered {
            counts: filtered_away,
        });
    }
    let set = builder.build();
    stats.iocs = set.len();
    Ok(Loaded { set, stats })
}
