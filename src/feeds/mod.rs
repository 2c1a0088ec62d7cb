//! Fetched feeds (`[[iocs.source]]`): the sensor pulls its own IOCs from the ThreatFox API,
//! any HTTPS export and TAXII 2.1 collections, keeps the last good copy of each on disk and
//! says loudly when one goes stale. Beside the data path: the fetch thread
//! ([`spawn`]) runs after the privilege drop, never on the packet path or the control loop;
//! each new set it publishes is applied by `app` like a SIGHUP feed reload (atomic swap and a
//! retro-match of open flows). Bodies are judged by the existing IOC loader (format detected
//! from content, as for files), so a source is exactly as strict as a feed file.

mod cache;
mod fetcher;
mod files;
mod http;
mod settings;
mod source;
mod taxii;
mod threatfox;

use std::sync::mpsc::{Receiver, RecvTimeoutError};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use crate::ioc::{Endpoint, IocSetBuilder, LoadStats, Loaded};

pub use cache::{prepare_dir, read_attempt, Attempt, CacheError};
pub use fetcher::{Fetcher, Report, SourceStatus, SHRINK_CONFIRMATIONS};
pub use files::{load_feeds, IocSettings};
pub use settings::{
    validate, ByteCount, FetchSettings, Kind, RawSource, Source, TaxiiAuth, Units,
    DEFAULT_STATE_DIR,
};
pub use source::Reason;

/// What the fetch thread publishes after each round: the sets in use and every source's state.
#[derive(Clone, Debug, Default)]
pub struct Published {
    /// Bumped whenever a source's set changed; the app rebuilds the IOC set when it moves.
    pub generation: u64,
    pub sets: Vec<(String, Arc<Loaded>)>,
    pub status: Vec<SourceStatus>,
}

/// The fetch thread's output, read by the control loop, the metrics scrape and the health
/// record. A short lock around a clone of small data; never held across a fetch.
#[derive(Debug, Default)]
pub struct Shared {
    published: Mutex<Published>,
}

impl Shared {
    pub fn snapshot(&self) -> Published {
        self.published
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    pub fn generation(&self) -> u64 {
        self.published
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .generation
    }

    fn publish(&self, fetcher: &Fetcher, changed: bool) {
        let mut p = self
            .published
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if changed {
            p.generation += 1;
        }
        p.sets = fetcher.sets();
        p.status = fetcher.status();
    }
}

/// Reads the caches (so the first IOC set already holds them), publishes, and returns the
/// reports of that first step. Called before [`spawn`], on the thread that builds the sensor.
pub fn start(fetcher: &mut Fetcher, shared: &Shared) -> Vec<Report> {
    let reports = fetcher.load_cache(crate::time::wall_secs());
    shared.publish(fetcher, true);
    reports
}

/// Sees every attempt with its source's state after it (logs, metrics).
pub type OnReport = Box<dyn Fn(&Report, &SourceStatus) + Send>;

/// A message to the fetch thread.
pub enum Command {
    Stop,
}

/// Runs the fetch loop on a thread of its own until [`Command::Stop`] (or the sender is
/// dropped). `on_report` sees every attempt (logs, metrics).
pub fn spawn(
    mut fetcher: Fetcher,
    shared: Arc<Shared>,
    commands: Receiver<Command>,
    on_report: OnReport,
) -> std::io::Result<std::thread::JoinHandle<()>> {
    std::thread::Builder::new()
        .name("c2tap-fetch".into())
        .spawn(move || loop {
            let (due, _) = fetcher.due(crate::time::wall_secs());
            for i in due {
                if let Some(report) = fetcher.fetch(i, crate::time::wall_secs()) {
                    if let Some(status) = fetcher.status().get(i) {
                        on_report(&report, status);
                    }
                    // Published per source, so a slow source does not hold back another's.
                    shared.publish(&fetcher, report.outcome == Ok(true));
                }
            }
            // The next due time once this round's fetches rescheduled their sources.
            let now = crate::time::wall_secs();
            let (_, next) = fetcher.due(now);
            let wait = next.map_or(60, |t| t.saturating_sub(now).clamp(1, 60));
            match commands.recv_timeout(Duration::from_secs(wait)) {
                Ok(Command::Stop) | Err(RecvTimeoutError::Disconnected) => return,
                Err(RecvTimeoutError::Timeout) => {}
            }
        })
}

/// Adds the fetched sets to `files` (the file feeds' set, `None` when there are none): one
/// IOC per endpoint, metadata merged as one load would merge them.
pub fn combine(files: Option<Loaded>, fetched: &[(String, Arc<Loaded>)]) -> Loaded {
    if fetched.is_empty() {
        if let Some(files) = files {
            return files;
        }
    }
    let mut builder = IocSetBuilder::default();
    let mut stats = LoadStats::default();
    let file_sets = files.iter().map(|l| (&l.set, &l.stats));
    let fetched_sets = fetched.iter().map(|(_, l)| (&l.set, &l.stats));
    for (set, s) in file_sets.chain(fetched_sets) {
        for ioc in set.iter() {
            if let Ok(endpoint) = Endpoint::parse(&ioc.value) {
                builder.insert(endpoint, (**ioc).clone());
            }
        }
        stats.files.extend(s.files.iter().cloned());
    }
    let set = builder.build();
    stats.iocs = set.len();
    Loaded { set, stats }
}
