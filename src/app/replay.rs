//! `c2tap replay`: pcap/pcapng files through the very same per-packet path as live capture,
//! one record per line on stdout, a summary on stderr. Several files are one continuous
//! capture in the order given. Deterministic: all time is packet time.

use std::io::Write;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};

use crate::capture::file::{CaptureFile, FileError};
use crate::decode::{DecodeError, LinkType};
use crate::detect::IocHandle;
use crate::exclude::severity::SeverityTable;
use crate::exclude::ExclusionSet;
use crate::ioc::IocSet;
use crate::metrics::Metrics;
use crate::output::format::{Format, LineWriter};
use crate::output::{Dispatcher, OutputOptions, OutputSpec, OutputStats};
use crate::pipeline::{Worker, WorkerConfig, WorkerStats};
use crate::record::{Record, SensorContext, Tee};
use crate::transform::chain::ChainTables;
use crate::transform::{MatchCounter, RuleCounters};

use super::summary::Summary;

/// Everything `replay` needs, already validated.
pub struct ReplaySettings {
    pub pcaps: Vec<PathBuf>,
    pub iocs: IocSet,
    pub format: Format,
    pub worker: WorkerConfig,
    pub hostname: String,
    /// Show a progress line on stderr (a terminal and a large input).
    pub progress: bool,
    /// `[[exclude]]` rules from `--config` (empty: nothing suppressed).
    pub exclusions: ExclusionSet,
    /// `[severity]` from `--config` (default: the record format's table).
    pub severity: SeverityTable,
    /// `--syslog` outputs that get the records too (empty: stdout only).
    pub syslog: Vec<OutputSpec>,
    pub output_options: OutputOptions,
}

/// How long replay waits at the end for `--syslog` outputs to deliver what is queued.
const DELIVERY_DEADLINE: Duration = Duration::from_secs(30);
/// When no output has connected this long after the replay, replay stops waiting.
const UNREACHABLE_AFTER: Duration = Duration::from_secs(5);

/// What a replay did; also printed as the summary.
pub struct ReplayOutcome {
    pub stats: WorkerStats,
    pub warnings: Vec<String>,
    /// Records that `--syslog` outputs did not deliver (each output's reason is a warning).
    pub undelivered: u64,
    /// Packets on a link type the decoder does not know: not inspected at all.
    pub unsupported_link: u64,
}

/// The link types of the replayed packets, for naming the unsupported ones. Captures have one
/// or a few, so a short list checked only when the link type changes is enough.
#[derive(Default)]
struct LinksSeen {
    last: Option<LinkType>,
    all: Vec<LinkType>,
}

impl LinksSeen {
    #[inline]
    fn note(&mut self, link: LinkType) {
        if self.last != Some(link) {
            self.last = Some(link);
            if !self.all.contains(&link) && self.all.len() < 32 {
                self.all.push(link);
            }
        }
    }

    fn list(&self) -> String {
        let names: Vec<String> = self.all.iter().map(|l| l.0.to_string()).collect();
        names.join(", ")
    }
}

/// Replay the files, writing records to `out` and the summary to `err`.
pub fn replay(
    settings: ReplaySettings,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> Result<ReplayOutcome> {
    replay_with_metrics(settings, None, out, err)
}

/// Interface label of replayed traffic in the metrics.
pub const METRICS_INTERFACE: &str = "replay";
/// Packets between two publications of the replay's counters to the metrics.
const PUBLISH_EVERY: u32 = 4096;

/// [`replay`], also publishing the counters to `metrics` as it goes (`--metrics`).
pub fn replay_with_metrics(
    settings: ReplaySettings,
    metrics: Option<&Metrics>,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> Result<ReplayOutcome> {
    // Open every file first: a file that is not a capture fails before any output.
    let mut files = Vec::with_capacity(settings.pcaps.len());
    for path in &settings.pcaps {
        files.push(CaptureFile::open(path)?);
    }
    let ctx = SensorContext {
        hostname: settings.hostname.clone(),
        replay: true,
    };
    let rule_counters = metrics.map(|m| m as &dyn RuleCounters);
    let tables = ChainTables::new(
        &settings.exclusions,
        settings.severity.clone(),
        rule_counters,
    );
    let dispatcher = if settings.syslog.is_empty() {
        None
    } else {
        let specs = settings.syslog.clone();
        Some(Dispatcher::start_with_severity(
            specs,
            settings.output_options.clone(),
            ctx.clone(),
            tables.severity.clone(),
        )?)
    };
    let lines = Tee(
        LineWriter::with_severity(out, settings.format, ctx, tables.severity.clone()),
        dispatcher.as_ref().map(Dispatcher::sink),
    );
    let suppressed = tables.suppression_counts();
    let counters = metrics.map(|m| m.worker(METRICS_INTERFACE, 0));
    let matches = counters.clone().map(|c| c as Arc<dyn MatchCounter>);
    let sink = tables.chain(lines, matches);
    if let Some(m) = metrics {
        m.set_capture_running(true);
    }
    let mut since_publish = 0u32;
    let iocs = Arc::new(IocHandle::new(settings.iocs));
    let mut worker = Worker::new(0, settings.worker, iocs, sink);
    let started = Instant::now();
    let mut warnings = Vec::new();
    let total: u64 = files.iter().filter_map(CaptureFile::size).sum();
    let mut progress = Progress::new(settings.progress && total > 64 << 20, total);
    let mut done_before = 0u64;
    let n_files = files.len();
    let mut links = LinksSeen::default();
    for mut file in files {
        worker.set_interface(&interface_name(file.path()));
        loop {
            match file.next_packet() {
                Ok(Some(p)) => {
                    links.note(p.link);
                    worker.packet_ahead(p.ts, p.link, p.data, p.wire_len);
                    progress.tick(err, done_before + file.bytes_read());
                    if let Some(c) = &counters {
                        since_publish += 1;
                        if since_publish == PUBLISH_EVERY {
                            since_publish = 0;
                            c.publish(&worker.stats());
                        }
                    }
                }
                Ok(None) => break,
                Err(e @ FileError::Truncated { .. }) => {
                    warnings.push(e.to_string());
                    break;
                }
                Err(e) => {
                    warnings.push(e.to_string());
                    break;
                }
            }
        }
        done_before += file.size().unwrap_or(0);
    }
    worker.finish();
    let elapsed = started.elapsed();
    progress.clear(err);
    let stats = worker.stats();
    if let (Some(m), Some(c)) = (metrics, &counters) {
        c.publish(&stats);
        m.set_capture_running(false);
    }
    let written = worker.sink_mut().inner_mut().inner_mut().0.flush();
    match written {
        // The reader of stdout left (`c2tap replay ... | head`): its choice, not a failure;
        // the outputs and the summary still get everything.
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => {}
        other => other.context("writing records")?,
    }
    drop(worker);
    let mut delivered = Vec::new();
    let mut undelivered = 0;
    if let Some(d) = dispatcher {
        let deadline = delivery_deadline(&d);
        let report = d.shutdown(deadline);
        for o in &report.outputs {
            let line = format!(
                "{}: sent={} dropped={} oversize={} aggregated={}",
                o.name, o.sent, o.dropped, o.oversize, o.aggregated
            );
            let lost = o.dropped + o.queued + o.spool_records;
            if lost > 0 || !report.complete {
                undelivered += lost;
                warnings.push(format!(
                    "delivery incomplete: {line}: {}",
                    why_undelivered(o)
                ));
            } else {
                delivered.push(line);
            }
        }
    }
    let unsupported_link = stats
        .decode_errors
        .iter()
        .zip(DecodeError::ALL)
        .find(|(_, kind)| *kind == DecodeError::UnsupportedLinkType)
        .map_or(0, |(n, _)| *n);
    if unsupported_link > 0 {
        warnings.push(format!(
            "{unsupported_link} packet(s) were not inspected: their link type is not one c2tap \
             decodes (link types in this input: {}; c2tap decodes Ethernet 1, Linux cooked \
             113 and 276, raw IP 101, 228 and 229, loopback 0 and 108)",
            links.list()
        ));
    }
    Summary {
        files: n_files,
        stats: &stats,
        elapsed,
        warnings: &warnings,
    }
    .write(err)
    .context("writing the summary")?;
    for line in delivered {
        writeln!(err, "  delivered {line}").context("writing the summary")?;
    }
    suppressed
        .write_summary(err)
        .context("writing the summary")?;
    Ok(ReplayOutcome {
        stats,
        warnings,
        undelivered,
        unsupported_link,
    })
}

/// How long shutdown may take to deliver: [`DELIVERY_DEADLINE`], unless within
/// [`UNREACHABLE_AFTER`] nothing drained and no output held a connection for a second (every
/// receiver is down, refuses TLS, or answers UDP with "port unreachable"): then waiting longer
/// would only delay the same failure.
fn delivery_deadline(d: &Dispatcher) -> Duration {
    let started = Instant::now();
    // Per output: reconnects when last seen, and since when it has been connected without one.
    let mut stable_since: Vec<Option<(u64, Instant)>> = Vec::new();
    loop {
        let stats = d.stats();
        if stats.iter().all(|o| o.queued == 0 && o.spool_records == 0) {
            return DELIVERY_DEADLINE.saturating_sub(started.elapsed());
        }
        stable_since.resize(stats.len(), None);
        for (o, since) in stats.iter().zip(stable_since.iter_mut()) {
            *since = match *since {
                Some((n, at)) if o.connected && n == o.reconnects => Some((n, at)),
                _ if o.connected => Some((o.reconnects, Instant::now())),
                _ => None,
            };
        }
        let held = stable_since
            .iter()
            .flatten()
            .any(|(_, at)| at.elapsed() >= Duration::from_secs(1));
        if held {
            return DELIVERY_DEADLINE.saturating_sub(started.elapsed());
        }
        if started.elapsed() >= UNREACHABLE_AFTER {
            return Duration::from_millis(200);
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// The reason an output kept records, in the operator's words.
fn why_undelivered(o: &OutputStats) -> String {
    match (&o.last_error, o.sent > 0) {
        (Some(e), false) => format!("receiver never reached: {e}"),
        (Some(e), true) => format!("not all sent before the deadline; last error: {e}"),
        (None, true) => "records dropped on a full queue, or not sent before the deadline".into(),
        (None, false) => "no connection before the deadline".into(),
    }
}

/// Replays into memory: the records themselves, for tests and tools.
pub fn replay_records(
    pcaps: &[PathBuf],
    iocs: IocSet,
    cfg: WorkerConfig,
) -> Result<(Vec<Record>, WorkerStats, Vec<String>)> {
    let iocs = Arc::new(IocHandle::new(iocs));
    let mut worker = Worker::new(0, cfg, iocs, Vec::<Record>::new());
    let mut warnings = Vec::new();
    for path in pcaps {
        let mut file = CaptureFile::open(path)?;
        worker.set_interface(&interface_name(path));
        loop {
            match file.next_packet() {
                Ok(Some(p)) => worker.packet_ahead(p.ts, p.link, p.data, p.wire_len),
                Ok(None) => break,
                Err(e) => {
                    warnings.push(e.to_string());
                    break;
                }
            }
        }
    }
    worker.finish();
    let stats = worker.stats();
    let records = std::mem::take(worker.sink_mut());
    Ok((records, stats, warnings))
}

/// Replayed records name the file they came from (CEF `deviceInboundInterface`); the base
/// name is enough to find it and does not leak the operator's directory layout.
fn interface_name(path: &std::path::Path) -> String {
    match path.file_name() {
        Some(name) => name.to_string_lossy().into_owned(),
        None => path.display().to_string(),
    }
}

/// A one-line progress indicator, redrawn at most every 2^18 packets.
struct Progress {
    on: bool,
    total: u64,
    count: u32,
}

impl Progress {
    fn new(on: bool, total: u64) -> Progress {
        Progress {
            on,
            total,
            count: 0,
        }
    }

    #[inline]
    fn tick(&mut self, err: &mut dyn Write, done: u64) {
        if !self.on {
            return;
        }
        self.count = self.count.wrapping_add(1);
        if self.count & ((1 << 18) - 1) == 0 {
            let pct = done.saturating_mul(100) / self.total.max(1);
            let _ = write!(err, "\rreplaying: {pct:3}% ({} MiB)", done >> 20);
            let _ = err.flush();
        }
    }

    fn clear(&self, err: &mut dyn Write) {
        if self.on {
            let _ = write!(err, "\r{:40}\r", "");
        }
    }
}
