//! IOC feeds of a running sensor: the first load, reloads on SIGHUP or when a feed file
//! changes, and the kernel prefilter that goes with each set. Beside the data path: a new set
//! is built by [`build`] on a reload thread (never on the control loop or a capture thread)
//! and swapped in whole by [`Feeds::install`]; a failed or empty load keeps the last good set.

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

/// A set built aside, ready to be swapped in: built off the control loop (a reload thread),
/// installed on it in a moment.
pub struct Built {
    pub settings: IocSettings,
    loaded: Loaded,
    expr: Option<String>,
    stamps: Vec<Option<SystemTime>>,
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
    let loaded = timed_load(&settings, metrics)?;
    let expr = prefilter_expr(&loaded.set, prefilter_max);
    Ok(Built {
        settings,
        loaded,
        expr,
        stamps,
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
            loaded_at: epoch_secs(),
            size,
        })
    }

    /// True when a feed file's modification time changed since the last load.
    pub fn changed(&self) -> bool {
        stamps(&self.settings) != self.stamps
    }

    /// What a reload thread needs to rebuild the set as configured now.
    pub fn recipe(&self) -> (IocSettings, Option<usize>, Metrics) {
        (self.settings.clone(), self.prefilter, self.metrics.clone())
    }

    /// Swaps a built set in. Quick: everything slow happened in [`build`].
    pub fn install(&mut self, built: Built, why: &str) {
        log_loaded(&built.loaded, why);
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
        self.loaded_at = epoch_secs();
    }

    /// A rebuild that failed: the current set stays. The stamps are remembered anyway, so a
    /// broken file is not retried every poll, only when it changes again (or on SIGHUP).
    pub fn keep(&mut self, why: &str, error: &str) {
        self.stamps = stamps(&self.settings);
        tracing::error!(
            error = %error,
            iocs = self.size,
            "IOC reload ({why}) failed; keeping the last good set"
        );
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
