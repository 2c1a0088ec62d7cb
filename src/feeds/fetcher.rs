//! Every configured source with its last good set: the cached copy read at start, each fetch
//! judged before it may replace that set. A fetch whose body the IOC loader refuses (HTML, an
//! error JSON, no IOCs, a truncated document), or that shrinks the set by more than
//! `max_shrink`, changes nothing but the failure counters; the last good copy keeps being used
//! and its age keeps growing where everyone can see it.

use std::sync::Arc;

use crate::ioc::{self, FeedSource, FileStats, Filters, LoadError, Loaded};

use super::cache::{self, Cached};
use super::settings::{FetchSettings, Source};
use super::source::{self, Fetch, Fetched, Reason};

/// A source's set as it stands, and how it got there.
#[derive(Clone, Debug)]
pub struct SourceStatus {
    pub name: String,
    pub kind: &'static str,
    pub interval_secs: u64,
    /// Epoch seconds of the last successful fetch (from the cache at start).
    pub last_success: Option<u64>,
    pub last_attempt: Option<u64>,
    /// The last attempt's failure; `None` after a success.
    pub last_error: Option<(Reason, String)>,
    /// IOCs of the set in use (0 when there is none).
    pub iocs: usize,
    /// What the last good body loaded to: rows by outcome.
    pub stats: Option<FileStats>,
    /// The last attempt's HTTP status and body bytes.
    pub http_status: Option<u16>,
    pub bytes: u64,
    /// Whether the set in use came from the cache (no fetch has succeeded since start).
    pub from_cache: bool,
}

impl SourceStatus {
    pub fn age(&self, now: u64) -> Option<u64> {
        self.last_success.map(|t| now.saturating_sub(t))
    }

    /// No success for more than twice the interval (or never).
    pub fn stale(&self, now: u64) -> bool {
        self.age(now)
            .is_none_or(|age| age > self.interval_secs.saturating_mul(2))
    }
}

/// One attempt, as logged, counted and printed.
#[derive(Debug)]
pub struct Report {
    pub name: String,
    pub http_status: Option<u16>,
    pub bytes: u64,
    /// HTTP requests this attempt made (TAXII: discovery, collections, one per page).
    pub requests: u32,
    /// `Ok(true)`: a new set; `Ok(false)`: unchanged (304, nothing new); `Err`: kept the old.
    pub outcome: Result<bool, (Reason, String)>,
    /// The new set is a shrink beyond `max_shrink` that enough fetches confirmed: the size of
    /// the set it replaced (logged at warn level).
    pub confirmed_shrink: Option<usize>,
}

/// Fetches in a row, spanning at least one interval, that must return the same smaller set
/// before a shrink beyond `max_shrink` is accepted: one odd reply is a publisher's accident,
/// the same answer for an interval is the feed (IOCs retired in bulk).
pub const SHRINK_CONFIRMATIONS: u32 = 3;

impl Report {
    /// What reading the cached copy at start did (no request made).
    fn from_cache(name: String, outcome: Result<bool, (Reason, String)>) -> Report {
        Report {
            name,
            http_status: None,
            bytes: 0,
            requests: 0,
            outcome,
            confirmed_shrink: None,
        }
    }
}

struct Slot {
    source: Source,
    good: Option<(Cached, Arc<Loaded>)>,
    status: SourceStatus,
    next_due: u64,
    /// A refused shrink: its IOC count, when it was first seen, and how many fetches in a
    /// row returned that count.
    shrink: Option<Shrink>,
    confirmed_shrink: Option<usize>,
}

#[derive(Clone, Copy, Debug)]
struct Shrink {
    iocs: usize,
    since: u64,
    times: u32,
}

/// The sources and their sets. Owned by one thread (the fetch thread, or `c2tap feeds`).
pub struct Fetcher {
    settings: FetchSettings,
    filters: Filters,
    slots: Vec<Slot>,
    /// Whether fetched sets are written to the state directory.
    write_cache: bool,
    /// Where bodies are staged for the loader: the state directory, or (for `c2tap feeds`
    /// run by another user) a private one, so the sensor's directory gets no foreign files.
    staging: std::path::PathBuf,
}

impl Fetcher {
    /// `filters`: `[iocs.filters]`; a source's `min_confidence` replaces the global one.
    pub fn new(settings: FetchSettings, filters: Filters, write_cache: bool) -> Fetcher {
        let slots = settings
            .sources
            .iter()
            .map(|s| Slot {
                source: s.clone(),
                good: None,
                status: SourceStatus {
                    name: s.name.clone(),
                    kind: s.kind.label(),
                    interval_secs: s.interval.as_secs(),
                    last_success: None,
                    last_attempt: None,
                    last_error: None,
                    iocs: 0,
                    stats: None,
                    http_status: None,
                    bytes: 0,
                    from_cache: false,
                },
                next_due: 0,
                shrink: None,
                confirmed_shrink: None,
            })
            .collect();
        Fetcher {
            staging: settings.state_dir.clone(),
            settings,
            filters,
            slots,
            write_cache,
        }
    }

    /// Stages bodies in `dir` instead of the state directory.
    pub fn stage_in(&mut self, dir: &std::path::Path) {
        self.staging = dir.to_path_buf();
    }

    pub fn names(&self) -> Vec<String> {
        self.slots.iter().map(|s| s.source.name.clone()).collect()
    }

    /// Reads every source's cached copy (at start). A corrupt copy marks its source failed
    /// (reason `cache`) and gives it no set: never an empty one.
    pub fn load_cache(&mut self, now: u64) -> Vec<Report> {
        let dir = self.settings.state_dir.clone();
        let mut reports = Vec::new();
        for slot in &mut self.slots {
            let name = slot.source.name.clone();
            let cached = match cache::read(&dir, &name, slot.source.max_bytes) {
                Ok(Some(c)) => c,
                Ok(None) => continue,
                Err(e) => {
                    slot.status.last_error = Some((Reason::Cache, e.to_string()));
                    reports.push(Report::from_cache(
                        name,
                        Err((Reason::Cache, e.to_string())),
                    ));
                    continue;
                }
            };
            match load_body(
                &self.staging,
                &slot.source,
                &self.filters,
                &cached.body,
                now,
            ) {
                Ok(loaded) => {
                    slot.status.last_success = Some(cached.meta.success_at);
                    slot.status.from_cache = true;
                    slot.next_due = cached
                        .meta
                        .success_at
                        .saturating_add(slot.source.interval.as_secs());
                    slot.set_good(cached, loaded);
                    reports.push(Report::from_cache(name, Ok(true)));
                }
                Err((_, why)) => {
                    let why = format!("the cached copy does not load: {why}");
                    slot.status.last_error = Some((Reason::Cache, why.clone()));
                    reports.push(Report::from_cache(name, Err((Reason::Cache, why))));
                }
            }
        }
        reports
    }

    /// Fetches the source at `index` now.
    pub fn fetch(&mut self, index: usize, now: u64) -> Option<Report> {
        let dirs = (self.settings.state_dir.clone(), self.staging.clone());
        let filters = self.filters.clone();
        let write_cache = self.write_cache;
        let slot = self.slots.get_mut(index)?;
        let mut counters = Fetch::default();
        let prev = slot.good.as_ref().map(|(c, _)| c);
        let result = source::fetch(&slot.source, prev, now, &mut counters)
            .map_err(|e| (e.reason, e.detail))
            .and_then(|fetched| slot.apply(fetched, &dirs, &filters, now, write_cache));
        let confirmed_shrink = slot.confirmed_shrink.take().filter(|_| result.is_ok());
        slot.status.last_attempt = Some(now);
        slot.status.http_status = counters.status;
        slot.status.bytes = counters.bytes;
        let interval = slot.source.interval.as_secs();
        match &result {
            Ok(_) => {
                slot.status.last_success = Some(now);
                slot.status.last_error = None;
                slot.status.from_cache = false;
                slot.next_due = now.saturating_add(interval);
            }
            Err(e) => {
                slot.status.last_error = Some(e.clone());
                // Retry sooner than the interval, but not in a tight loop.
                slot.next_due = now.saturating_add(interval.clamp(1, 300));
            }
        }
        if write_cache {
            let attempt = cache::Attempt {
                at: now,
                http_status: counters.status,
                failure: result
                    .as_ref()
                    .err()
                    .map(|(r, why)| (r.label().to_string(), why.clone())),
            };
            // Only a note for `c2tap feeds status`; the metrics and the log have it too.
            let _ = cache::write_attempt(&dirs.0, &slot.source.name, &attempt);
        }
        Some(Report {
            name: slot.source.name.clone(),
            http_status: counters.status,
            bytes: counters.bytes,
            requests: counters.requests,
            outcome: result,
            confirmed_shrink,
        })
    }

    /// Indices of the sources due at `now`, and the next due time of the others.
    pub fn due(&self, now: u64) -> (Vec<usize>, Option<u64>) {
        let due = (0..self.slots.len())
            .filter(|&i| self.slots.get(i).is_some_and(|s| s.next_due <= now))
            .collect();
        let next = self
            .slots
            .iter()
            .map(|s| s.next_due)
            .filter(|&t| t > now)
            .min();
        (due, next)
    }

    /// The sets in use, by source name.
    pub fn sets(&self) -> Vec<(String, Arc<Loaded>)> {
        self.slots
            .iter()
            .filter_map(|s| {
                s.good
                    .as_ref()
                    .map(|(_, l)| (s.source.name.clone(), Arc::clone(l)))
            })
            .collect()
    }

    pub fn status(&self) -> Vec<SourceStatus> {
        self.slots.iter().map(|s| s.status.clone()).collect()
    }
}

impl Slot {
    fn set_good(&mut self, cached: Cached, loaded: Loaded) {
        self.status.iocs = loaded.set.len();
        self.status.stats = loaded.stats.files.first().cloned();
        self.good = Some((cached, Arc::new(loaded)));
    }

    fn apply(
        &mut self,
        fetched: Fetched,
        (dir, staging): &(std::path::PathBuf, std::path::PathBuf),
        filters: &Filters,
        now: u64,
        write_cache: bool,
    ) -> Result<bool, (Reason, String)> {
        let (body, mut meta, full) = match fetched {
            Fetched::Unchanged => {
                let Some((cached, _)) = self.good.as_mut() else {
                    return Err((Reason::Empty, "nothing new and no earlier set".into()));
                };
                self.shrink = None;
                cached.meta.success_at = now;
                if write_cache {
                    cache::write(dir, &self.source.name, cached)
                        .map_err(|e| (Reason::Cache, format!("cannot write the cache: {e}")))?;
                }
                return Ok(false);
            }
            Fetched::Body { body, meta, full } => (body, meta, full),
        };
        let loaded = load_body(staging, &self.source, filters, &body, now)?;
        let before = self.good.as_ref().map_or(0, |(_, l)| l.set.len());
        let after = loaded.set.len();
        let keep = 1000 - u64::from(self.source.max_shrink_permille.min(999));
        let permille = u64::from(self.source.max_shrink_permille);
        if permille > 0 && (after as u64) * 1000 < (before as u64) * keep {
            let shrink = match self.shrink {
                Some(s) if s.iocs == after => Shrink {
                    times: s.times + 1,
                    ..s
                },
                _ => Shrink {
                    iocs: after,
                    since: now,
                    times: 1,
                },
            };
            let interval = self.source.interval.as_secs();
            if shrink.times < SHRINK_CONFIRMATIONS || now < shrink.since.saturating_add(interval) {
                self.shrink = Some(shrink);
                return Err((
                    Reason::Shrink,
                    format!(
                        "{after} IOCs where the last good set had {before} (more than max_shrink \
                         = {:.3} fewer{}); refused ({} of {SHRINK_CONFIRMATIONS} fetches in a \
                         row over at least an interval accept it)",
                        permille as f64 / 1000.0,
                        if full { "" } else { " after the merge" },
                        shrink.times,
                    ),
                ));
            }
            self.confirmed_shrink = Some(before);
        }
        self.shrink = None;
        meta.success_at = now;
        meta.iocs = after as u64;
        let cached = Cached { meta, body };
        if write_cache {
            cache::write(dir, &self.source.name, &cached)
                .map_err(|e| (Reason::Cache, format!("cannot write the cache: {e}")))?;
        }
        self.status.from_cache = false;
        self.set_good(cached, loaded);
        Ok(true)
    }
}

/// Loads a body through the IOC loader (format detected from content, as for files): the
/// judge of whether it is a feed.
fn load_body(
    dir: &std::path::Path,
    source: &Source,
    filters: &Filters,
    body: &[u8],
    now: u64,
) -> Result<Loaded, (Reason, String)> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Err((Reason::Empty, "an empty body".into()));
    }
    let path = cache::stage(dir, &source.name, body).map_err(|e| {
        (
            Reason::Cache,
            format!("cannot stage the body in {}: {e}", dir.display()),
        )
    })?;
    let filters = Filters {
        min_confidence: source.min_confidence.or(filters.min_confidence),
        ..filters.clone()
    };
    let result = ioc::load(&[FeedSource::File(path.clone())], &filters, now).map(|mut loaded| {
        // Logs and reports name the source, not the staging path.
        for f in &mut loaded.stats.files {
            f.file.clone_from(&source.name);
        }
        loaded
    });
    let _ = std::fs::remove_file(&path);
    result.map_err(|e| {
        let reason = match &e {
            LoadError::Format {
                source: ioc::FormatError::Json(_),
                ..
            }
            | LoadError::Zip { .. } => Reason::Truncated,
            LoadError::Format { .. } | LoadError::EmptyZip { .. } => Reason::NotAFeed,
            LoadError::NoIocs { rows: 0, .. } | LoadError::AllFiltered { .. } => Reason::Empty,
            LoadError::NoIocs { .. } => Reason::NotAFeed,
            LoadError::TooLarge { .. } | LoadError::TooManyIocs => Reason::TooLarge,
            LoadError::Io { .. } | LoadError::Untrusted(_) => Reason::Cache,
        };
        // The staging path means nothing to the operator; the source's name does.
        let text = e
            .to_string()
            .replace(&path.display().to_string(), &source.name);
        (reason, text)
    })
}
