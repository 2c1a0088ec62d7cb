//! Metrics: beside the data path, never on it. Workers count into plain integers
//! ([`crate::pipeline::WorkerStats`], which lists the counters to publish) and publish a copy
//! into their [`WorkerCounters`] once per batch; alert records are tallied by
//! [`crate::transform::CountingSink`] through [`WorkerCounters::count_match`]; IOC loads and the outputs report here
//! too. A scrape ([`Metrics::render`], or the HTTP endpoint in [`server`]) sums it all into the
//! `prometheus` registry's text format. Metric names live in [`names`], the one catalogue.

mod collect;
mod feeds;
mod matches;
pub mod names;
pub mod server;
mod tally;
mod worker;

use std::fmt;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex, PoisonError, RwLock, RwLockReadGuard};

use prometheus::{Encoder, Registry, TextEncoder};

use crate::ioc::{LoadStats, Loaded, RejectReason};

pub use server::{serve, MetricsServer};
pub use tally::{MAX_MALWARE_LABELS, OTHER_MALWARE, UNKNOWN_MALWARE};
pub use worker::{KernelStats, WorkerCounters};

/// Per-IOC match labels are kept while the IOC set has at most this many IOCs.
pub const DEFAULT_IOC_LABEL_LIMIT: usize = 100;

/// Content type of [`Metrics::render`]'s output.
pub const CONTENT_TYPE: &str = prometheus::TEXT_FORMAT;

/// One output's delivery counters, as the run wiring reads them from the dispatcher.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct OutputSample {
    /// Configured output name: a closed set from the config file.
    pub name: String,
    pub queued: u64,
    pub sent: u64,
    /// Sends of records already counted in `sent` (duplicates after a connection loss).
    pub resent: u64,
    pub spooled: u64,
    /// Records lost, by reason label (a closed set: `DropReason::label`).
    pub dropped: Vec<(&'static str, u64)>,
    pub spool_bytes: u64,
    pub connected: bool,
    /// The receiver stopped confirming for `stall_timeout`.
    pub down: bool,
}

/// Reads the outputs' counters at scrape time.
pub type OutputSource = Box<dyn Fn() -> Vec<OutputSample> + Send + Sync>;

/// The sensor's metrics: cheap to clone, shared by the capture, the loader, the outputs and
/// the HTTP endpoint.
#[derive(Clone)]
pub struct Metrics {
    shared: Arc<Shared>,
    registry: Registry,
}

/// State the scrape reads.
pub(crate) struct Shared {
    workers: RwLock<Vec<Arc<WorkerCounters>>>,
    gate: Arc<tally::IocLabelGate>,
    feed: Mutex<FeedState>,
    outputs: RwLock<Option<OutputSource>>,
    capture_running: AtomicBool,
    /// Per configured interface: open with every worker reading (`c2tap_capture_up`).
    capture_up: RwLock<Vec<(String, bool)>>,
    /// What is wrong with capture, for `/readyz` (`None` while every interface captures).
    capture_problem: RwLock<Option<Arc<str>>>,
    pub(crate) reload_failures: AtomicU64,
    outputs_ok: AtomicBool,
    /// `c2tap_suppressed_total` by rule name (a closed set from the config file).
    suppressed: RwLock<Vec<(String, Arc<AtomicU64>)>>,
    /// Fetched feeds (`feeds.rs`).
    fetched: feeds::FeedState,
}

/// IOC loads so far.
#[derive(Clone, Debug, Default)]
struct FeedState {
    last: Option<LastLoad>,
    load_failures: u64,
    /// Summed over every load, in [`RejectReason::ALL`] order.
    rejected: [u64; RejectReason::ALL.len()],
    /// Summed over every load, in [`collect::FILTER_REASONS`] order.
    filtered: [u64; 3],
}

#[derive(Clone, Copy, Debug)]
struct LastLoad {
    iocs: usize,
    seconds: f64,
    epoch_secs: u64,
}

/// What `/readyz` checks.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Readiness {
    pub capture_running: bool,
    /// Which interfaces are not capturing and why, when the run wiring said so.
    pub capture_problem: Option<Arc<str>>,
    pub iocs_loaded: bool,
    /// Every output delivering (connected and not down), as the run wiring last reported.
    pub outputs_ok: bool,
}

impl Readiness {
    pub fn is_ready(&self) -> bool {
        self.capture_running && self.iocs_loaded && self.outputs_ok
    }
}

/// `ready`, or what is missing.
impl fmt::Display for Readiness {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.is_ready() {
            return f.write_str("ready");
        }
        let missing = [
            (self.capture_running, "capture not running"),
            (self.iocs_loaded, "no IOC set loaded"),
            (
                self.outputs_ok,
                "an output is not delivering (not connected or down)",
            ),
        ];
        let reasons: Vec<String> = missing
            .iter()
            .filter(|(ok, _)| !ok)
            .map(|(_, why)| match (*why, &self.capture_problem) {
                ("capture not running", Some(p)) => format!("capture not running ({p})"),
                (why, _) => why.to_string(),
            })
            .collect();
        write!(f, "not ready: {}", reasons.join(", "))
    }
}

impl Shared {
    fn capture_up(&self) -> RwLockReadGuard<'_, Vec<(String, bool)>> {
        self.capture_up
            .read()
            .unwrap_or_else(PoisonError::into_inner)
    }

    fn workers(&self) -> RwLockReadGuard<'_, Vec<Arc<WorkerCounters>>> {
        self.workers.read().unwrap_or_else(PoisonError::into_inner)
    }

    fn readiness(&self) -> Readiness {
        let iocs_loaded = self
            .feed
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .last
            .is_some();
        Readiness {
            capture_running: self.capture_running.load(Relaxed),
            capture_problem: self
                .capture_problem
                .read()
                .unwrap_or_else(PoisonError::into_inner)
                .clone(),
            iocs_loaded,
            outputs_ok: self.outputs_ok.load(Relaxed),
        }
    }
}

impl Metrics {
    /// `per_ioc_label_limit`: per-IOC match series exist only while the IOC set has at most
    /// this many IOCs ([`DEFAULT_IOC_LABEL_LIMIT`]), so a 100k-IOC feed cannot explode the
    /// series count.
    pub fn new(per_ioc_label_limit: usize) -> Metrics {
        let shared = Arc::new(Shared {
            workers: RwLock::new(Vec::new()),
            gate: Arc::new(tally::IocLabelGate::new(per_ioc_label_limit)),
            feed: Mutex::new(FeedState::default()),
            outputs: RwLock::new(None),
            capture_running: AtomicBool::new(false),
            capture_up: RwLock::new(Vec::new()),
            capture_problem: RwLock::new(None),
            reload_failures: AtomicU64::new(0),
            outputs_ok: AtomicBool::new(true),
            suppressed: RwLock::new(Vec::new()),
            fetched: feeds::FeedState::default(),
        });
        let registry = Registry::new();
        // The catalogue's names are static and valid and registered once into a fresh
        // registry, so this cannot fail; if it ever did, the endpoint would serve no c2tap
        // families rather than take the sensor down.
        if let Ok(scrape) = collect::Scrape::new(Arc::clone(&shared)) {
            let _ = registry.register(Box::new(scrape));
        }
        Metrics { shared, registry }
    }

    /// The underlying registry, for callers that want to add their own collectors.
    pub fn registry(&self) -> &Registry {
        &self.registry
    }

    /// Counters for one capture worker. Registering the same interface and worker again
    /// returns the same counters, so a restarted capture does not count twice.
    pub fn worker(&self, interface: &str, worker: usize) -> Arc<WorkerCounters> {
        let mut workers = self
            .shared
            .workers
            .write()
            .unwrap_or_else(PoisonError::into_inner);
        if let Some(w) = workers
            .iter()
            .find(|w| w.interface() == interface && w.worker() == worker)
        {
            return Arc::clone(w);
        }
        let w = Arc::new(WorkerCounters::new(
            interface,
            worker,
            Arc::clone(&self.shared.gate),
        ));
        workers.push(Arc::clone(&w));
        w
    }

    /// A successful IOC load or reload.
    pub fn iocs_loaded(&self, loaded: &Loaded, load_seconds: f64, now_epoch_secs: u64) {
        self.shared.gate.set_size(loaded.set.len());
        let mut feed = self
            .shared
            .feed
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        feed.last = Some(LastLoad {
            iocs: loaded.set.len(),
            seconds: load_seconds,
            epoch_secs: now_epoch_secs,
        });
        feed.add_counts(&loaded.stats);
    }

    /// An IOC load or reload that failed (the previous set, if any, stays in use).
    pub fn feed_load_failed(&self) {
        let mut feed = self
            .shared
            .feed
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        feed.load_failures = feed.load_failures.saturating_add(1);
    }

    /// Where the scrape reads the outputs' counters; replaces any earlier source.
    pub fn outputs(&self, source: OutputSource) {
        *self
            .shared
            .outputs
            .write()
            .unwrap_or_else(PoisonError::into_inner) = Some(source);
    }

    /// The counter of exclusion rule `rule`; the same counter for the same name, so every
    /// worker's suppressor adds into one series.
    pub fn suppression_counter(&self, rule: &str) -> Arc<AtomicU64> {
        let mut rules = self
            .shared
            .suppressed
            .write()
            .unwrap_or_else(PoisonError::into_inner);
        if let Some((_, c)) = rules.iter().find(|(name, _)| name == rule) {
            return Arc::clone(c);
        }
        let c = Arc::new(AtomicU64::new(0));
        rules.push((rule.to_string(), Arc::clone(&c)));
        c
    }

    pub fn set_capture_running(&self, running: bool) {
        self.shared.capture_running.store(running, Relaxed);
    }

    /// The live sensor's capture state: per interface whether it is up, and (when not all
    /// are) what is wrong, in words for `/readyz`. `c2tap_capture_running` follows: 1 only
    /// when every interface is up.
    pub fn set_capture_state(&self, up: Vec<(String, bool)>, problem: Option<Arc<str>>) {
        let all_up = !up.is_empty() && up.iter().all(|(_, ok)| *ok);
        *self
            .shared
            .capture_up
            .write()
            .unwrap_or_else(PoisonError::into_inner) = up;
        *self
            .shared
            .capture_problem
            .write()
            .unwrap_or_else(PoisonError::into_inner) = problem;
        self.shared.capture_running.store(all_up, Relaxed);
    }

    /// A config reload was refused (`c2tap_config_reload_failures_total`).
    pub fn config_reload_failed(&self) {
        self.shared.reload_failures.fetch_add(1, Relaxed);
    }

    /// Every output is connected or able to spool (true until told otherwise: a replay has no
    /// network outputs).
    pub fn set_outputs_ok(&self, ok: bool) {
        self.shared.outputs_ok.store(ok, Relaxed);
    }

    pub fn readiness(&self) -> Readiness {
        self.shared.readiness()
    }

    /// Every family in the Prometheus text format 0.0.4 ([`CONTENT_TYPE`]).
    pub fn render(&self) -> String {
        let mut buf = Vec::new();
        // Encoding only fails for an empty family, which the registry prunes beforehand.
        let _ = TextEncoder::new().encode(&self.registry.gather(), &mut buf);
        String::from_utf8(buf).unwrap_or_default()
    }
}

impl FeedState {
    fn add_counts(&mut self, stats: &LoadStats) {
        for file in &stats.files {
            for (sum, reason) in self.rejected.iter_mut().zip(RejectReason::ALL) {
                *sum = sum.saturating_add(file.rejected.get(reason));
            }
            let f = &file.filtered;
            for (sum, n) in self
                .filtered
                .iter_mut()
                .zip([f.low_confidence, f.stale, f.malware])
            {
                *sum = sum.saturating_add(n);
            }
        }
    }
}

#[cfg(test)]
mod tests;
