//! Staleness of fetched feeds (`[[iocs.source]]`): when each source last succeeded, why its
//! fetches fail, how many IOCs it holds, and which sources never succeeded since start (for
//! `/readyz`'s detail; readiness itself stays capture-based). Labels come from closed sets:
//! source names from the config file, reasons from `feeds::Reason::ALL`.

use std::sync::{PoisonError, RwLock};

use prometheus::{IntCounterVec, IntGaugeVec, Opts};

use crate::feeds::{Reason, SourceStatus};

use super::Metrics;

pub const LAST_SUCCESS: &str = "c2tap_feed_last_success_timestamp_seconds";
pub const FAILURES: &str = "c2tap_feed_fetch_failures_total";
pub const IOCS: &str = "c2tap_feed_iocs";
pub const INTERVAL: &str = "c2tap_feed_interval_seconds";

/// The families, created when the run wiring names its sources.
#[derive(Default)]
pub(crate) struct FeedState {
    families: RwLock<Option<Families>>,
    never: RwLock<Vec<String>>,
}

struct Families {
    last_success: IntGaugeVec,
    failures: IntCounterVec,
    iocs: IntGaugeVec,
    interval: IntGaugeVec,
}

impl Families {
    fn new() -> Result<Families, prometheus::Error> {
        Ok(Families {
            last_success: IntGaugeVec::new(
                Opts::new(
                    LAST_SUCCESS,
                    "Epoch seconds of the source's last successful fetch (a 304 or nothing new \
                     counts; at start, the cached copy's); absent until one succeeded.",
                ),
                &["source"],
            )?,
            failures: IntCounterVec::new(
                Opts::new(
                    FAILURES,
                    "Fetches of the source that failed or were refused (the last good set stays), \
                     by reason.",
                ),
                &["source", "reason"],
            )?,
            iocs: IntGaugeVec::new(
                Opts::new(IOCS, "IOCs of the source's set in use (0 without one)."),
                &["source"],
            )?,
            interval: IntGaugeVec::new(
                Opts::new(
                    INTERVAL,
                    "The source's configured fetch interval: stale = no success for 2 x this.",
                ),
                &["source"],
            )?,
        })
    }
}

impl Metrics {
    /// Registers the feed families with a zero series per source and reason, so a rule sees
    /// a failure counter before the first failure.
    pub fn feed_sources(&self, sources: &[(String, u64)]) {
        let state = &self.shared.fetched;
        let mut families = state
            .families
            .write()
            .unwrap_or_else(PoisonError::into_inner);
        if families.is_none() {
            let Ok(f) = Families::new() else { return };
            let _ = self.registry.register(Box::new(f.last_success.clone()));
            let _ = self.registry.register(Box::new(f.failures.clone()));
            let _ = self.registry.register(Box::new(f.iocs.clone()));
            let _ = self.registry.register(Box::new(f.interval.clone()));
            *families = Some(f);
        }
        if let Some(f) = families.as_ref() {
            for (name, interval) in sources {
                for reason in Reason::ALL {
                    f.failures
                        .with_label_values(&[name.as_str(), reason.label()]);
                }
                f.iocs.with_label_values(&[name.as_str()]);
                f.interval
                    .with_label_values(&[name.as_str()])
                    .set(i64::try_from(*interval).unwrap_or(i64::MAX));
            }
        }
        *state.never.write().unwrap_or_else(PoisonError::into_inner) =
            sources.iter().map(|(n, _)| n.clone()).collect();
    }

    /// One source's state after an attempt; `failed` is the attempt's reason when it failed.
    pub fn feed_status(&self, status: &SourceStatus, failed: Option<Reason>) {
        let state = &self.shared.fetched;
        let families = state
            .families
            .read()
            .unwrap_or_else(PoisonError::into_inner);
        let Some(f) = families.as_ref() else { return };
        let name = status.name.as_str();
        if let Some(t) = status.last_success {
            f.last_success
                .with_label_values(&[name])
                .set(i64::try_from(t).unwrap_or(i64::MAX));
            state
                .never
                .write()
                .unwrap_or_else(PoisonError::into_inner)
                .retain(|n| n != name);
        }
        if let Some(reason) = failed {
            f.failures.with_label_values(&[name, reason.label()]).inc();
        }
        f.iocs
            .with_label_values(&[name])
            .set(i64::try_from(status.iocs).unwrap_or(i64::MAX));
    }

    /// Sources that never succeeded since start (no cached copy either): `/readyz` names them.
    pub fn feeds_never_succeeded(&self) -> Vec<String> {
        self.shared
            .fetched
            .never
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }
}

/// `/readyz` detail: sources that never succeeded (readiness itself stays capture-based).
pub(crate) fn readiness_detail(metrics: &Metrics) -> String {
    let never = metrics.feeds_never_succeeded();
    match never.is_empty() {
        true => String::new(),
        false => format!("feeds never fetched since start: {}\n", never.join(", ")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_source_is_visible_before_and_after_its_first_success() {
        let m = Metrics::new(10);
        m.feed_sources(&[("tf".to_string(), 3600)]);
        let text = m.render();
        assert!(
            text.contains("c2tap_feed_fetch_failures_total{reason=\"auth\",source=\"tf\"} 0"),
            "{text}"
        );
        assert!(text.contains("c2tap_feed_iocs{source=\"tf\"} 0"), "{text}");
        assert!(
            text.contains("c2tap_feed_interval_seconds{source=\"tf\"} 3600"),
            "{text}"
        );
        assert!(
            !text.contains("c2tap_feed_last_success_timestamp_seconds{"),
            "{text}"
        );
        assert_eq!(m.feeds_never_succeeded(), ["tf"]);
        let mut status = SourceStatus {
            name: "tf".into(),
            kind: "https",
            interval_secs: 60,
            last_success: None,
            last_attempt: Some(5),
            last_error: Some((Reason::Auth, "x".into())),
            iocs: 0,
            stats: None,
            http_status: Some(401),
            bytes: 0,
            from_cache: false,
        };
        m.feed_status(&status, Some(Reason::Auth));
        status.last_success = Some(1_700_000_000);
        status.iocs = 3;
        m.feed_status(&status, None);
        let text = m.render();
        assert!(
            text.contains("c2tap_feed_fetch_failures_total{reason=\"auth\",source=\"tf\"} 1"),
            "{text}"
        );
        assert!(
            text.contains("c2tap_feed_last_success_timestamp_seconds{source=\"tf\"} 1700000000"),
            "{text}"
        );
        assert!(text.contains("c2tap_feed_iocs{source=\"tf\"} 3"), "{text}");
        assert!(m.feeds_never_succeeded().is_empty());
    }
}
