//! IOC feeds of a running sensor: the first load, reloads on SIGHUP or when a feed file
//! changes, and the kernel prefilter that goes with each set. Beside the data path: a new set
//! is built by [`build`] on a reload thread (never on the control loop or a capture thread)
//! and swapped in whole by [`Feeds::install`]; a failed or empty load keeps the last good set.
//!
//! Fetched feeds (`[[iocs.source]]`) join here: the fetch thread (`crate::feeds`) starts with
//! the first load, after the privilege drop; each set it publishes moves a generation that
//! [`Feeds::changed`] reports, so the control loop rebuilds and swaps the set exactly as for a
//! changed feed file (retro-match of open flows included). [`build`] adds the fetched sets to
//! the file feeds' set.

use std::path::PathBuf;
use std::sync::mpsc::Sender;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Instant, SystemTime};

use crate::capture::prefilter;
use crate::config::IocSettings;
use crate::detect::IocHandle;
use crate::feeds::{self as fetch, Fetcher, Report, SourceStatus};
use crate::ioc::{FeedSource, IocSet, LoadError, Loaded};
use crate::metrics::Metrics;

/// The prefilter expression for the current set, tagged with the set's generation so workers
/// know when to re-apply it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PrefilterState {
    pub generation: u64,
    /// `None`: no prefilter (off, or the set is too large).
    pub expr: Option<String>,
}

/// Owns the IOC handle the workers read and everything needed to rebuild it.
pub struct Feeds {
    settings: IocSettings,
    prefilter: Option<usize>,
    pub handle: Arc<IocHandle>,
    pub prefilter_state: Arc<Mutex<PrefilterState>>,
    metrics: Metrics,
    /// Modification times seen at the last load, to notice changed files.
    stamps: Vec<Option<SystemTime>>,
    /// Epoch seconds of the last successful load (health record: IOC age).
    pub loaded_at: u64,
    pub size: usize,
    /// The fetched sets' generation in the set in force.
    generation: u64,
    /// The fetched sets in force, to name the sources whose set moved.
    fetched_sets: Vec<(String, Arc<Loaded>)>,
    /// Stops the fetch thread when the sensor stops (dropping it is enough).
    _fetching: Option<Sender<fetch::Command>>,
}

/// The running fetch thread's output. One sensor per process: kept here rather than threaded
/// through every reload path, which rebuild the set from `IocSettings` alone.
static FETCHED: Mutex<Option<Arc<fetch::Shared>>> = Mutex::new(None);

fn fetched() -> Option<Arc<fetch::Shared>> {
    FETCHED
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .clone()
}

/// Fetched sources with no success for more than twice their interval (or never), for the
/// 1004 health record; `None` when every source is fresh.
pub fn stale_feeds(now: u64) -> Option<String> {
    let status = fetched().map(|f| f.snapshot().status).unwrap_or_default();
    let stale: Vec<String> = status
        .iter()
        .filter(|s| s.stale(now))
        .map(|s| s.name.clone())
        .collect();
    (!stale.is_empty()).then(|| stale.join(","))
}

/// Starts fetching `settings.fetch`'s sources: reads their cached copies now (so the first
/// set holds them), then runs the fetch thread. Runs as the service user.
fn start_fetching(
    settings: &IocSettings,
    metrics: &Metrics,
) -> Result<Option<Sender<fetch::Command>>, LoadError> {
    let fetch_settings = &settings.fetch;
    if fetch_settings.sources.is_empty() {
        *FETCHED.lock().unwrap_or_else(PoisonError::into_inner) = None;
        return Ok(None);
    }
    let dir = &fetch_settings.state_dir;
    fetch::prepare_dir(dir).map_err(|source| LoadError::Io {
        file: format!(
            "{} (iocs.state_dir, the fetched feeds' cache)",
            dir.display()
        ),
        source,
    })?;
    let mut fetcher = Fetcher::new(fetch_settings.clone(), settings.filters.clone(), true);
    let sources: Vec<(String, u64)> = fetcher
        .status()
        .into_iter()
        .map(|s| (s.name, s.interval_secs))
        .collect();
    metrics.feed_sources(&sources);
    let shared = Arc::new(fetch::Shared::default());
    let now = crate::time::wall_secs();
    for report in fetch::start(&mut fetcher, &shared) {
        let status = fetcher.status().into_iter().find(|s| s.name == report.name);
        match (&report.outcome, &status) {
            (Ok(_), Some(s)) => tracing::info!(
                source = %report.name,
                iocs = s.iocs,
                age_secs = s.age(now).unwrap_or(0),
                "fetched feed: starting on the cached copy"
            ),
            (Err((reason, why)), _) => tracing::error!(
                source = %report.name,
                reason = reason.label(),
                "fetched feed: {why}; the source has no set until a fetch succeeds"
            ),
            _ => {}
        }
    }
    for status in fetcher.status() {
        let failed = status.last_error.as_ref().map(|(r, _)| *r);
        metrics.feed_status(&status, failed);
    }
    *FETCHED.lock().unwrap_or_else(PoisonError::into_inner) = Some(Arc::clone(&shared));
    let (tx, rx) = std::sync::mpsc::channel();
    let m = metrics.clone();
    let on_report = move |report: &Report, status: &SourceStatus| log_report(&m, report, status);
    if let Err(e) = fetch::spawn(fetcher, shared, rx, Box::new(on_report)) {
        tracing::error!(error = %e, "cannot start the feed fetch thread; fetched feeds stay as cached");
    }
    Ok(Some(tx))
}

/// Logs and counts one fetch. A source that never succeeded since start logs at error level.
fn log_report(metrics: &Metrics, report: &Report, status: &SourceStatus) {
    let failed = report.outcome.as_ref().err().map(|(r, _)| *r);
    metrics.feed_status(status, failed);
    let now = crate::time::wall_secs();
    match &report.outcome {
        Ok(true) if report.confirmed_shrink.is_some() => tracing::warn!(
            source = %report.name,
            before = report.confirmed_shrink.unwrap_or(0),
            iocs = status.iocs,
            "fetched feed: a shrink beyond max_shrink, confirmed by {} fetches in a row, \
             replaces the set",
            crate::feeds::SHRINK_CONFIRMATIONS
        ),
        Ok(true) => tracing::info!(
            source = %report.name,
            http_status = report.http_status,
            bytes = report.bytes,
            iocs = status.iocs,
            "fetched feed: new set"
        ),
        Ok(false) => tracing::debug!(source = %report.name, "fetched feed: unchanged"),
        Err((reason, why)) if status.last_success.is_none() => tracing::error!(
            source = %report.name,
            reason = reason.label(),
            "fetched feed has never succeeded since start: {why}"
        ),
        Err((reason, why)) => tracing::warn!(
            source = %report.name,
            reason = reason.label(),
            age_secs = status.age(now).unwrap_or(0),
            iocs = status.iocs,
            "fetched feed: {why}; keeping the last good set"
        ),
    }
}

fn paths(settings: &IocSettings) -> Vec<PathBuf> {
    settings
        .feeds
        .iter()
        .filter_map(|f| match f {
            FeedSource::File(p) => Some(p.clone()),
            FeedSource::Builtin => None,
        })
        .collect()
}

fn stamps(settings: &IocSettings) -> Vec<Option<SystemTime>> {
    paths(settings)
        .iter()
        .map(|p| std::fs::metadata(p).and_then(|m| m.modified()).ok())
        .collect()
}

/// A set built aside, ready to be swapped in: built off the control loop (a reload thread),
/// installed on it in a moment.
pub struct Built {
    pub settings: IocSettings,
    loaded: Loaded,
    expr: Option<String>,
    stamps: Vec<Option<SystemTime>>,
    generation: u64,
    fetched_sets: Vec<(String, Arc<Loaded>)>,
}

impl Built {
    pub fn size(&self) -> usize {
        self.loaded.set.len()
    }
}

/// Reads, parses and compiles `settings`' feeds (and the prefilter for them). The slow part of
/// a reload: it runs on a thread of its own, never on the control loop.
pub fn build(
    settings: IocSettings,
    prefilter_max: Option<usize>,
    metrics: &Metrics,
) -> Result<Built, LoadError> {
    let stamps = stamps(&settings);
    let published = fetched().map(|f| f.snapshot()).unwrap_or_default();
    let loaded = timed_load(&settings, &published.sets, metrics)?;
    let expr = prefilter_expr(&loaded.set, prefilter_max);
    Ok(Built {
        settings,
        loaded,
        expr,
        stamps,
        generation: published.generation,
        fetched_sets: published.sets,
    })
}

impl Feeds {
    /// The first load; failing it fails the start (there is no last good set yet).
    /// `prefilter_max`: `Some(max IOCs)` when the kernel prefilter is on.
    pub fn load(
        settings: IocSettings,
        prefilter_max: Option<usize>,
        metrics: Metrics,
    ) -> Result<Feeds, LoadError> {
        let fetching = start_fetching(&settings, &metrics)?;
        let built = build(settings, prefilter_max, &metrics)?;
        log_loaded(&built.loaded, "loaded");
        let size = built.size();
        let handle = Arc::new(IocHandle::new(built.loaded.set));
        let state = PrefilterState {
            generation: handle.generation(),
            expr: built.expr,
        };
        Ok(Feeds {
            settings: built.settings,
            prefilter: prefilter_max,
            prefilter_state: Arc::new(Mutex::new(state)),
            handle,
            metrics,
            stamps: built.stamps,
            loaded_at: crate::time::wall_secs(),
            size,
            generation: built.generation,
            fetched_sets: built.fetched_sets,
            _fetching: fetching,
        })
    }

    /// True when a feed file's modification time changed since the last load.
    pub fn changed(&self) -> bool {
        stamps(&self.settings) != self.stamps
    }

    /// True when a fetched source published a new set since the last load (checked on every
    /// control-loop wake-up: a mutex and a compare).
    pub fn fetched_changed(&self) -> bool {
        fetched().is_some_and(|f| f.generation() != self.generation)
    }

    /// Why a feed reload is due, for its log lines: a changed feed file, or the fetched
    /// sources whose set moved since the set in force was built.
    pub fn reload_cause(&self) -> String {
        match self.changed() {
            true => "a feed file changed".to_string(),
            false => {
                let now = fetched().map(|f| f.snapshot().sets).unwrap_or_default();
                fetched_cause(&self.fetched_sets, &now)
            }
        }
    }

    /// What a reload thread needs to rebuild the set as configured now.
    pub fn recipe(&self) -> (IocSettings, Option<usize>, Metrics) {
        (self.settings.clone(), self.prefilter, self.metrics.clone())
    }

    /// Swaps a built set in. Quick: everything slow happened in [`build`].
    pub fn install(&mut self, built: Built, why: &str) {
        let why = match built.generation != self.generation && !self.changed() {
            true => format!(
                "reloaded: {}",
                fetched_cause(&self.fetched_sets, &built.fetched_sets)
            ),
            false => why.to_string(),
        };
        log_loaded(&built.loaded, &why);
        self.size = built.size();
        // The filter is published before the set so a worker that sees the new generation
        // finds the matching filter.
        let mut state = self
            .prefilter_state
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        state.expr = built.expr;
        self.handle.replace(built.loaded.set);
        state.generation = self.handle.generation();
        drop(state);
        self.settings = built.settings;
        self.stamps = built.stamps;
        self.generation = built.generation;
        self.fetched_sets = built.fetched_sets;
        self.loaded_at = crate::time::wall_secs();
    }

    /// A rebuild that failed: the current set stays. The stamps are remembered anyway, so a
    /// broken file is not retried every poll, only when it changes again (or on SIGHUP).
    pub fn keep(&mut self, why: &str, error: &str) {
        self.stamps = stamps(&self.settings);
        self.generation = fetched().map_or(0, |f| f.generation());
        tracing::error!(
            error = %error,
            iocs = self.size,
            "IOC reload ({why}) failed; keeping the last good set"
        );
    }
}

/// "a fetched feed changed (a, b)": the sources whose set is new, replaced or gone between
/// `before` and `after` (the same `Arc` is the same set).
fn fetched_cause(before: &[(String, Arc<Loaded>)], after: &[(String, Arc<Loaded>)]) -> String {
    let same = |a: &[(String, Arc<Loaded>)], name: &str, set: &Arc<Loaded>| {
        a.iter().any(|(n, s)| n == name && Arc::ptr_eq(s, set))
    };
    let mut names: Vec<&str> = after
        .iter()
        .filter(|(n, s)| !same(before, n, s))
        .chain(before.iter().filter(|(n, s)| !same(after, n, s)))
        .map(|(n, _)| n.as_str())
        .collect();
    names.sort_unstable();
    names.dedup();
    match names.is_empty() {
        true => "a fetched feed changed".to_string(),
        false => format!("a fetched feed changed ({})", names.join(", ")),
    }
}

/// The file feeds (none → the built-in set, unless a fetched source has a set) plus the
/// fetched sets.
fn timed_load(
    settings: &IocSettings,
    fetched: &[(String, Arc<Loaded>)],
    metrics: &Metrics,
) -> Result<Loaded, LoadError> {
    let started = Instant::now();
    let now = crate::time::wall_secs();
    let files = match settings.feeds.is_empty() && !fetched.is_empty() {
        true => Ok(None),
        false => crate::feeds::load_feeds(settings, now).map(Some),
    };
    if settings.feeds.is_empty() && fetched.is_empty() && !settings.fetch.sources.is_empty() {
        tracing::error!(
            "no fetched feed has a set yet (no cached copy) and iocs.feeds is empty: matching \
             the built-in set until a fetch succeeds"
        );
    }
    match files.map(|files| fetch::combine(files, fetched)) {
        Ok(loaded) => {
            metrics.iocs_loaded(&loaded, started.elapsed().as_secs_f64(), now);
            Ok(loaded)
        }
        Err(e) => {
            metrics.feed_load_failed();
            Err(e)
        }
    }
}

fn log_loaded(loaded: &Loaded, why: &str) {
    let files: Vec<String> = loaded.stats.files.iter().map(|f| f.file.clone()).collect();
    tracing::info!(iocs = loaded.set.len(), feeds = ?files, "IOC set {why}");
}

fn prefilter_expr(set: &IocSet, max: Option<usize>) -> Option<String> {
    let max = max?;
    match prefilter::expression(set, max).and_then(|e| {
        prefilter::check_expression(&e)?;
        Ok(e)
    }) {
        Ok(expr) => Some(expr),
        Err(e) => {
            tracing::warn!(error = %e, "kernel prefilter off: matching every packet in userspace");
            None
        }
    }
}

#[cfg(test)]
#[path = "feeds_tests.rs"]
mod tests;
