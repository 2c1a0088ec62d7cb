//! Per-feed minimum confidence: a trusted internal list and a noisy public feed rarely deserve
//! the same threshold. Beside the data path, at load and reload: each feed with a minimum of
//! its own is loaded alone with it, and the sets are merged as one load would merge them (same
//! endpoint: one IOC, metadata joined). Without per-feed minimums this is exactly `ioc::load`.

use crate::config::IocSettings;
use crate::ioc::{self, Endpoint, Filters, IocSetBuilder, LoadError, LoadStats, Loaded};

/// Loads `settings.feeds` (none → the built-in set) through the filters, each feed with its
/// own minimum confidence where `[iocs.feed_min_confidence]` names one.
pub fn load_feeds(settings: &IocSettings, now_epoch_secs: u64) -> Result<Loaded, LoadError> {
    if settings.feed_min_confidence.iter().all(Option::is_none) {
        return ioc::load(&settings.feeds, &settings.filters, now_epoch_secs);
    }
    let mut builder = IocSetBuilder::default();
    let mut stats = LoadStats::default();
    let mut filtered_away = 0u64;
    for (i, source) in settings.feeds.iter().enumerate() {
        let own = settings.feed_min_confidence.get(i).copied().flatten();
        let filters = Filters {
            min_confidence: own.or(settings.filters.min_confidence),
            ..settings.filters.clone()
        };
        let loaded = match ioc::load(std::slice::from_ref(source), &filters, now_epoch_secs) {
            Ok(loaded) => loaded,
            // This feed keeps nothing; the others may.
            Err(LoadError::AllFiltered { filtered }) => {
                filtered_away = filtered_away.saturating_add(filtered);
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
        let kept: u64 = stats.files.iter().map(|f| f.filtered.total()).sum();
        return Err(LoadError::AllFiltered {
            filtered: filtered_away.saturating_add(kept),
        });
    }
    let set = builder.build();
    stats.iocs = set.len();
    Ok(Loaded { set, stats })
}
