//! IOC feeds of a running sensor: the first load, reloads on SIGHUP or when a feed file
//! changes, and the kernel prefilter that goes with each set. Beside the data path: a new set
//! is built here, off the capture threads, and swapped in whole; a failed or empty load keeps
//! the last good set.

use std::path::PathBuf;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use crate::capture::prefilter;
use crate::config::IocSettings;
use crate::detect::IocHandle;
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
}

pub fn epoch_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
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

impl Feeds {
    /// The first load; failing it fails the start (there is no last good set yet).
    /// `prefilter_max`: `Some(max IOCs)` when the kernel prefilter is on.
    pub fn load(
        settings: IocSettings,
        prefilter_max: Option<usize>,
        metrics: Metrics,
    ) -> Result<Feeds, LoadError> {
        let stamps = stamps(&settings);
        let loaded = timed_load(&settings, &metrics)?;
        log_loaded(&loaded, "loaded");
        let size = loaded.set.len();
        let expr = prefilter_expr(&loaded.set, prefilter_max);
        let handle = Arc::new(IocHandle::new(loaded.set));
        let state = PrefilterState {
            generation: handle.generation(),
            expr,
        };
        Ok(Feeds {
            settings,
            prefilter: prefilter_max,
            prefilter_state: Arc::new(Mutex::new(state)),
            handle,
            metrics,
            stamps,
            loaded_at: epoch_secs(),
            size,
        })
    }

    /// True when a feed file's modification time changed since the last load.
    pub fn changed(&self) -> bool {
        stamps(&self.settings) != self.stamps
    }

    /// Builds a new set aside and swaps it in; on failure the current set stays.
    pub fn reload(&mut self, why: &str) -> bool {
        let stamps = stamps(&self.settings);
        match timed_load(&self.settings, &self.metrics) {
            Ok(loaded) => {
                log_loaded(&loaded, why);
                self.size = loaded.set.len();
                let expr = prefilter_expr(&loaded.set, self.prefilter);
                // The filter is published before the set so a worker that sees the new
                // generation finds the matching filter.
                let mut state = self
                    .prefilter_state
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner);
                state.expr = expr;
                self.handle.replace(loaded.set);
                state.generation = self.handle.generation();
                drop(state);
                self.stamps = stamps;
                self.loaded_at = epoch_secs();
                true
            }
            Err(e) => {
                // Remember the stamps anyway: a broken file is not retried every poll, only
                // when it changes again (or on SIGHUP).
                self.stamps = stamps;
                tracing::error!(
                    error = %e,
                    iocs = self.size,
                    "IOC reload ({why}) failed; keeping the last good set"
                );
                false
            }
        }
    }
}

fn timed_load(settings: &IocSettings, metrics: &Metrics) -> Result<Loaded, LoadError> {
    let started = Instant::now();
    let now = epoch_secs();
    match crate::exclude::load_feeds(settings, now) {
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
